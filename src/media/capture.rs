//! Which capture a photo is: the metadata that tells two shots of one
//! camera apart even when their pictures look the same (a burst, an
//! exposure bracket, the two frames of an iPhone HDR), and that a copy of
//! one shot (resized, re-encoded, converted, rotated) keeps.

use serde::{Deserialize, Serialize};

/// What a photo's metadata says about the shot it is. Every field is
/// optional: a re-save that dropped the metadata has none, and then
/// nothing tells it apart from another shot.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    /// Camera make and model ("Apple iPhone 6").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<String>,
    /// DateTimeOriginal as recorded, to the second ("2015:04:10 20:12:23").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// SubSecTimeOriginal: fractions of that second ("550").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subsec: Option<String>,
    /// The file has a maker note (a camera's private metadata).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub maker_note: bool,
    /// A burst's id: Apple's BurstUUID, Google's GCamera:BurstID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<String>,
    /// ExposureBiasValue, as "num/den" (an exposure bracket's steps differ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<String>,
    /// CustomRendered (the two frames of an iPhone HDR differ: 3 and 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered: Option<u16>,
    /// ImageUniqueID, when the camera writes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    /// Apple's ContentIdentifier: the id a Live Photo's still and its video
    /// share (maker note tag 0x0011 in the photo, the
    /// `com.apple.quicktime.content.identifier` key in the MOV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<String>,
}

impl Capture {
    /// A camera original's metadata: a capture time and the camera (make
    /// and model, or a maker note).
    pub fn is_camera_original(&self) -> bool {
        self.time.is_some() && (self.camera.is_some() || self.maker_note)
    }

    /// True when nothing is known.
    pub fn is_empty(&self) -> bool {
        *self == Capture::default()
    }

    /// The compact JSON the index keeps (`None` for an empty one).
    pub fn to_json(&self) -> Option<String> {
        (!self.is_empty()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    /// Reads what [`Capture::to_json`] wrote; anything unreadable is an empty one.
    pub fn from_json(s: Option<&str>) -> Capture {
        s.and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
    }
}

/// Why two photos are different shots of one camera, however alike their
/// pictures look; `None` when their metadata does not say so (one of the
/// two lost it, or it agrees). `a_name` and `b_name` are their file names,
/// for consecutive camera sequence numbers.
pub fn different_captures(a: &Capture, b: &Capture, a_name: &str, b_name: &str) -> Option<String> {
    fn both<'x, T: PartialEq + ?Sized>(x: Option<&'x T>, y: Option<&'x T>) -> Option<(&'x T, &'x T)> {
        x.zip(y).filter(|(x, y)| x != y)
    }
    if let Some((x, y)) = both(a.unique_id.as_deref(), b.unique_id.as_deref()) {
        return Some(format!("their cameras gave them different image ids ({x}, {y})"));
    }
    if let Some((x, y)) = both(a.burst.as_deref(), b.burst.as_deref()) {
        return Some(format!("they belong to different bursts ({x}, {y})"));
    }
    let same_camera = a.camera.is_some() && a.camera == b.camera;
    if same_camera {
        if let Some((x, y)) = both(a.time.as_deref(), b.time.as_deref()) {
            return Some(format!("the camera took them at different times ({x} and {y})"));
        }
        if a.time.is_some() && a.time == b.time {
            if let Some((x, y)) = both(a.subsec.as_deref(), b.subsec.as_deref()) {
                let t = a.time.as_deref().unwrap_or_default();
                let kind = if a.burst.is_some() { "frames of one burst" } else { "shots" };
                return Some(format!("{kind} taken within one second ({t}.{x} and {t}.{y})"));
            }
        }
        if let Some((x, y)) = both(a.rendered.as_ref(), b.rendered.as_ref()) {
            return Some(format!("one is the HDR frame and the other the normal one (rendering {x} and {y})"));
        }
        if let Some((x, y)) = both(a.bias.as_deref(), b.bias.as_deref()) {
            return Some(format!("frames of an exposure bracket (exposure bias {x} and {y} EV)"));
        }
    }
    if let (Some((pa, na)), Some((pb, nb))) = (sequence(a_name), sequence(b_name)) {
        if pa.eq_ignore_ascii_case(pb) && na != nb && na.abs_diff(nb) <= MAX_SEQUENCE_GAP {
            return Some(format!("consecutive camera shots ({a_name}, {b_name})"));
        }
    }
    None
}

/// Sequence numbers this close in one camera's naming are a series of shots.
const MAX_SEQUENCE_GAP: u64 = 20;

/// A camera file name's prefix and sequence number: `IMG_1234.JPG` →
/// (`IMG_`, 1234), `DSCF0042.RAF` → (`DSCF`, 42), a Samsung burst's
/// `20230714_160211_003.jpg` → (`20230714_160211_`, 3). Only the plain names
/// cameras give: a name with anything after the number (`IMG_1234 (1)`,
/// `IMG_1234-edited`) is not one.
fn sequence(name: &str) -> Option<(&str, u64)> {
    const PREFIXES: &[&str] =
        &["IMG_", "IMG", "DSC_", "DSCF", "DSCN", "DSC", "_DSC", "DSC0", "P", "PICT", "SAM_", "GOPR"];
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let digits = stem.len() - stem.bytes().rev().take_while(u8::is_ascii_digit).count();
    let (prefix, number) = stem.split_at(digits);
    // Samsung's burst shots: `20230714_160211_001.jpg`, `..._002.jpg`.
    let samsung = |p: &str| {
        p.len() == 16
            && p.bytes().enumerate().all(|(i, b)| if i == 8 || i == 15 { b == b'_' } else { b.is_ascii_digit() })
    };
    if number.len() < 3 || !(PREFIXES.iter().any(|p| p.eq_ignore_ascii_case(prefix)) || samsung(prefix)) {
        return None;
    }
    Some((prefix, number.parse().ok()?))
}

/// Apple's BurstUUID (tag 0x000b) from an Apple maker note.
pub fn apple_burst_uuid(note: &[u8]) -> Option<String> {
    apple_note_text(note, 0x000b)
}

/// Apple's ContentIdentifier (tag 0x0011, which exiftool calls
/// MediaGroupUUID) from an Apple maker note: a Live Photo's id.
pub fn apple_content_id(note: &[u8]) -> Option<String> {
    apple_note_text(note, 0x0011)
}

/// A text tag of an Apple maker note ("Apple iOS" header, then a
/// big-endian IFD whose offsets count from the note's start).
fn apple_note_text(note: &[u8], tag: u16) -> Option<String> {
    if !note.starts_with(b"Apple iOS\0") || note.get(12..14)? != b"MM" {
        return None;
    }
    let be16 = |at: usize| note.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let be32 = |at: usize| note.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let count = be16(14)? as usize;
    for i in 0..count.min(256) {
        let at = 16 + i * 12;
        if be16(at)? != tag || be16(at + 2)? != 2 {
            continue;
        }
        let len = be32(at + 4)?;
        let bytes =
            if len <= 4 { note.get(at + 8..at + 8 + len)? } else { note.get(be32(at + 8)?..be32(at + 8)? + len)? };
        let s: String = bytes.iter().take_while(|&&b| b != 0).map(|&b| b as char).collect();
        return (!s.trim().is_empty()).then(|| s.trim().to_string());
    }
    None
}

/// A burst id from XMP (Google Camera's `GCamera:BurstID`, also written as
/// an attribute), within the first bytes of a file.
pub fn xmp_burst_id(data: &[u8]) -> Option<String> {
    let key = b"GCamera:BurstID";
    let at = memchr::memmem::find(data, key)? + key.len();
    let rest = data.get(at..at + 200.min(data.len() - at))?;
    let start = rest.iter().position(|&b| b == b'"' || b == b'>')? + 1;
    let len = rest[start..].iter().position(|&b| b == b'"' || b == b'<')?;
    let id = std::str::from_utf8(&rest[start..start + len]).ok()?.trim();
    (!id.is_empty()).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shot(time: &str, subsec: &str) -> Capture {
        Capture {
            camera: Some("Apple iPhone 6".into()),
            time: Some(time.into()),
            subsec: Some(subsec.into()),
            maker_note: true,
            ..Capture::default()
        }
    }

    #[test]
    fn a_copy_of_one_shot_is_the_same_capture() {
        let a = shot("2015:04:10 20:12:23", "550");
        assert_eq!(different_captures(&a, &a.clone(), "IMG_0001.JPG", "IMG_0001 (1).jpg"), None);
        // A re-save without metadata: nothing says it is another shot.
        assert_eq!(different_captures(&a, &Capture::default(), "IMG_0001.JPG", "x.png"), None);
    }

    #[test]
    fn shots_a_moment_apart_or_in_a_bracket_are_different_captures() {
        let a = shot("2015:04:10 20:12:23", "550");
        let b = shot("2015:04:10 20:12:23", "016");
        assert!(different_captures(&a, &b, "a.jpg", "b.jpg").unwrap().contains("within one second"));
        let c = shot("2015:04:10 20:12:24", "550");
        assert!(different_captures(&a, &c, "a.jpg", "b.jpg").unwrap().contains("different times"));
        let (mut d, mut e) = (a.clone(), a.clone());
        d.bias = Some("-2/1".into());
        e.bias = Some("2/1".into());
        assert!(different_captures(&d, &e, "a.jpg", "b.jpg").unwrap().contains("bracket"));
        let (mut f, mut g) = (a.clone(), a.clone());
        f.burst = Some("X".into());
        g.burst = Some("Y".into());
        assert!(different_captures(&f, &g, "a.jpg", "b.jpg").unwrap().contains("bursts"));
        // Another camera's shot at the same second is not told apart by time.
        let mut h = c.clone();
        h.camera = Some("Canon EOS 40D".into());
        assert_eq!(different_captures(&a, &h, "a.jpg", "b.jpg"), None);
    }

    #[test]
    fn consecutive_camera_names_are_different_shots_and_copy_names_are_not() {
        let none = Capture::default();
        assert!(different_captures(&none, &none, "IMG_1234.JPG", "IMG_1235.JPG").is_some());
        assert!(different_captures(&none, &none, "DSCF0042.RAF", "DSCF0040.jpg").is_some());
        assert!(different_captures(&none, &none, "20230714_160211_001.jpg", "20230714_160211_002.jpg").is_some());
        assert_eq!(different_captures(&none, &none, "20230714_160211_001.jpg", "20230714_160212_002.jpg"), None);
        assert_eq!(different_captures(&none, &none, "IMG_1234.JPG", "IMG_1234.HEIC"), None);
        assert_eq!(different_captures(&none, &none, "IMG_1234.JPG", "IMG_1234 (1).JPG"), None);
        assert_eq!(different_captures(&none, &none, "IMG_1234.JPG", "IMG_9999.JPG"), None);
        assert_eq!(different_captures(&none, &none, "holiday1.jpg", "holiday2.jpg"), None);
    }

    #[test]
    fn the_index_form_round_trips_and_an_empty_one_is_not_stored() {
        let a = shot("2015:04:10 20:12:23", "550");
        assert_eq!(Capture::from_json(a.to_json().as_deref()), a);
        assert_eq!(Capture::default().to_json(), None);
        assert_eq!(Capture::from_json(Some("not json")), Capture::default());
        assert!(a.is_camera_original());
        assert!(!Capture { time: Some("x".into()), ..Capture::default() }.is_camera_original());
    }

    #[test]
    fn burst_ids_are_read_from_an_apple_maker_note_and_from_xmp() {
        let uuid = b"1A2B3C4D-0000-1111-2222-333344445555\0";
        let mut note = b"Apple iOS\0\0\x01MM".to_vec();
        note.extend_from_slice(&1u16.to_be_bytes());
        note.extend_from_slice(&0x000bu16.to_be_bytes());
        note.extend_from_slice(&2u16.to_be_bytes());
        note.extend_from_slice(&(uuid.len() as u32).to_be_bytes());
        note.extend_from_slice(&(16u32 + 12 + 4).to_be_bytes());
        note.extend_from_slice(&0u32.to_be_bytes());
        note.extend_from_slice(uuid);
        assert_eq!(apple_burst_uuid(&note).as_deref(), Some("1A2B3C4D-0000-1111-2222-333344445555"));
        assert_eq!(apple_burst_uuid(b"Nikon\0"), None);
        assert_eq!(xmp_burst_id(b"<x GCamera:BurstID=\"abc-1\" />").as_deref(), Some("abc-1"));
        assert_eq!(xmp_burst_id(b"<GCamera:BurstID>k9</GCamera:BurstID>").as_deref(), Some("k9"));
    }
}
