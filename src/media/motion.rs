//! Motion photos: a JPEG or HEIC with a short MP4 inside, as Google/Pixel
//! and Samsung phones write them.
//!
//! Recognised forms, each checked by finding an MP4 `ftyp` box exactly
//! where the file says the video starts (a claim that does not hold is
//! not a motion photo):
//!
//! - Samsung's SEF trailer (JPEG): blocks after the image's end, listed by
//!   an `SEFH` directory that ends the file with `SEFT`; the block named
//!   `MotionPhoto_Data` holds the video (exiftool's `EmbeddedVideoFile`).
//! - Google's XMP: `Camera:MotionPhoto="1"` with a `Container:Directory`
//!   whose `MotionPhoto` item gives the video's `Length` (and `Padding`),
//!   the items laid end to end at the end of the file; or the older
//!   `GCamera:MicroVideo="1"` with `MicroVideoOffset`, the video's distance
//!   from the end of the file. JPEG and HEIC alike.
//! - An `mpvd` top-level box in a HEIC (Samsung's HEIC motion photos;
//!   exiftool's `MotionPhotoVideo`).
//! - A bare `MotionPhoto_Data` marker right after a JPEG's end (a Samsung
//!   file whose directory was lost), when the whole file is in memory.
//!
//! XMP is looked for in the first MiB, the SEF directory in the last
//! 64 KiB: [`detect_file`] reads a few blocks, never the whole file.

use std::borrow::Cow;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use super::Kind;

/// A video inside a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Motion {
    /// Who wrote it: "Google" or "Samsung".
    pub vendor: &'static str,
    /// Where the MP4 starts, in bytes from the start of the file.
    pub video_offset: u64,
    /// The MP4's length in bytes.
    pub video_len: u64,
}

impl Motion {
    /// "Google, 1.2 MB video inside".
    pub fn describe(&self) -> String {
        format!("{}, {} video inside", self.vendor, human_bytes(self.video_len))
    }
}

/// Bytes for people: "850 bytes", "12.3 kB", "1.2 MB" (powers of 1000).
pub fn human_bytes(n: u64) -> String {
    match n {
        0..=999 => format!("{n} bytes"),
        1_000..=999_999 => format!("{:.1} kB", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.1} GB", n as f64 / 1e9),
    }
}

/// How much of the start is searched for XMP.
const HEAD: usize = 1 << 20;
/// How much of the end is searched for Samsung's SEF directory.
const TAIL: usize = 64 << 10;
/// How far after a JPEG's end a bare `MotionPhoto_Data` marker is looked for.
const MARKER_WINDOW: usize = 4 << 10;
/// Top-level boxes walked in a HEIC looking for `mpvd`.
const MAX_BOXES: usize = 4096;

const SAMSUNG_NAME: &[u8] = b"MotionPhoto_Data";

/// Random access to the file, or to its bytes in memory.
trait At {
    fn len(&self) -> u64;
    /// `n` bytes at `off`, or `None` when they are not all there.
    fn read_at(&mut self, off: u64, n: usize) -> Option<Cow<'_, [u8]>>;
    /// The whole file, when it is in memory.
    fn all(&self) -> Option<&[u8]> {
        None
    }
}

struct Bytes<'a>(&'a [u8]);

impl At for Bytes<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(&mut self, off: u64, n: usize) -> Option<Cow<'_, [u8]>> {
        let start = usize::try_from(off).ok()?;
        self.0.get(start..start.checked_add(n)?).map(Cow::Borrowed)
    }
    fn all(&self) -> Option<&[u8]> {
        Some(self.0)
    }
}

struct FileAt<'a> {
    file: &'a mut File,
    len: u64,
}

impl At for FileAt<'_> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&mut self, off: u64, n: usize) -> Option<Cow<'_, [u8]>> {
        if off.checked_add(n as u64)? > self.len {
            return None;
        }
        self.file.seek(SeekFrom::Start(off)).ok()?;
        let mut buf = vec![0u8; n];
        self.file.read_exact(&mut buf).ok()?;
        Some(Cow::Owned(buf))
    }
}

/// The motion photo in `data` (a whole JPEG or HEIC file), if it is one.
pub fn detect(data: &[u8], kind: Kind) -> Option<Motion> {
    detect_at(&mut Bytes(data), kind)
}

/// [`detect`] on an open file of `len` bytes, reading only its head, its
/// tail and the few bytes where the video should start. Leaves the file
/// position anywhere.
pub fn detect_file(file: &mut File, len: u64, kind: Kind) -> Option<Motion> {
    detect_at(&mut FileAt { file, len }, kind)
}

fn detect_at(at: &mut dyn At, kind: Kind) -> Option<Motion> {
    if !matches!(kind, Kind::Jpeg | Kind::Heif) {
        return None;
    }
    if let Some(m) = samsung_trailer(at) {
        return Some(m);
    }
    let head_len = usize::try_from(at.len()).map_or(HEAD, |l| l.min(HEAD));
    let packets = xmp_packets(&at.read_at(0, head_len)?);
    if let Some(m) = google_xmp(at, &packets) {
        return Some(m);
    }
    match kind {
        Kind::Heif => mpvd_box(at),
        _ => bare_samsung_marker(at),
    }
}

fn u32_le(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i.checked_add(4)?).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u32_be(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i.checked_add(4)?).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// A motion photo if an MP4 starts at `off` and `len` bytes from there fit in the file.
fn checked(at: &mut dyn At, vendor: &'static str, off: u64, len: u64) -> Option<Motion> {
    if len < 8 || off.checked_add(len)? > at.len() {
        return None;
    }
    let head = at.read_at(off, 8)?;
    let size = u64::from(u32_be(&head, 0)?);
    (&head[4..8] == b"ftyp" && (8..=len).contains(&size)).then_some(Motion {
        vendor,
        video_offset: off,
        video_len: len,
    })
}

/// Samsung's SEF trailer: `... SEFH dir, u32 dir length, "SEFT"` at the end.
fn samsung_trailer(at: &mut dyn At) -> Option<Motion> {
    let len = at.len();
    let end = at.read_at(len.checked_sub(8)?, 8)?;
    if &end[4..8] != b"SEFT" {
        return None;
    }
    let dir_len = u32_le(&end, 0)? as usize;
    if !(12..=TAIL).contains(&dir_len) {
        return None;
    }
    let dir_pos = len.checked_sub(8)?.checked_sub(dir_len as u64)?;
    let dir = at.read_at(dir_pos, dir_len)?.into_owned();
    if !dir.starts_with(b"SEFH") {
        return None;
    }
    let count = u32_le(&dir, 8)? as usize;
    for i in 0..count.min(dir_len / 12) {
        let entry = 12 + 12 * i;
        let (Some(noff), Some(size)) = (u32_le(&dir, entry + 4), u32_le(&dir, entry + 8)) else { break };
        let Some(start) = dir_pos.checked_sub(u64::from(noff)) else { continue };
        let Some(block) = at.read_at(start, 8) else { continue };
        let Some(name_len) = u32_le(&block, 4) else { continue };
        if name_len as usize != SAMSUNG_NAME.len() {
            continue;
        }
        if at.read_at(start + 8, SAMSUNG_NAME.len()).is_none_or(|n| n.as_ref() != SAMSUNG_NAME) {
            continue;
        }
        let header = 8 + SAMSUNG_NAME.len() as u64;
        let Some(video_len) = u64::from(size).checked_sub(header) else { continue };
        if let Some(m) = checked(at, "Samsung", start + header, video_len) {
            return Some(m);
        }
    }
    None
}

/// Google's XMP, in any of the file's first packets.
fn google_xmp(at: &mut dyn At, packets: &[String]) -> Option<Motion> {
    let len = at.len();
    for packet in packets {
        if let Some(from_end) = prop(packet, "MicroVideoOffset").filter(|_| prop(packet, "MicroVideo") == Some("1")) {
            if let Some(n) = from_end.trim().parse::<u64>().ok().filter(|&n| n > 0) {
                if let Some(m) = len.checked_sub(n).and_then(|off| checked(at, "Google", off, n)) {
                    return Some(m);
                }
            }
        }
        if let Some((from_end, video_len)) = container_video(packet) {
            if let Some(m) = len.checked_sub(from_end).and_then(|off| checked(at, "Google", off, video_len)) {
                return Some(m);
            }
        }
    }
    None
}

/// The XMP packets in `data`, as text.
fn xmp_packets(data: &[u8]) -> Vec<String> {
    const OPEN: &[u8] = b"<x:xmpmeta";
    const CLOSE: &[u8] = b"</x:xmpmeta>";
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(start) = find(data.get(pos..).unwrap_or_default(), OPEN).map(|s| s + pos) {
        let rest = data.get(start..).unwrap_or_default();
        let end = find(rest, CLOSE).map_or(rest.len(), |e| e + CLOSE.len());
        out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
        pos = start + end.max(OPEN.len());
        if out.len() >= 16 {
            break;
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// The value of the property with local name `name`, whatever its prefix:
/// an attribute (`p:Name="v"` or `'v'`) or an element (`<p:Name>v</p:Name>`).
fn prop<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    for quote in ['"', '\''] {
        let pat = format!(":{name}={quote}");
        if let Some(i) = text.find(&pat) {
            let rest = &text[i + pat.len()..];
            return rest.find(quote).map(|e| &rest[..e]);
        }
    }
    let pat = format!(":{name}>");
    let i = text.find(&pat)?;
    let rest = &text[i + pat.len()..];
    rest.find('<').map(|e| rest[..e].trim())
}

/// From `Container:Directory`: how far from the end of the file the
/// `MotionPhoto` item starts, and its length. Each item's `Padding`
/// follows it; the items after the video are counted too.
fn container_video(packet: &str) -> Option<(u64, u64)> {
    let start = packet.find(":Directory")?;
    let dir = &packet[start..];
    let dir = dir.get(1..).and_then(|d| d.find(":Directory>")).map_or(dir, |e| &dir[..e + 1]);
    let items: Vec<&str> = dir.split("<rdf:li").skip(1).collect();
    let video = items.iter().position(|i| prop(i, "Semantic") == Some("MotionPhoto"))?;
    let number = |item: &str, name: &str| match prop(item, name) {
        None => Some(0),
        Some(v) => v.trim().parse::<u64>().ok(),
    };
    let video_len = number(items[video], "Length")?;
    let mut from_end = 0u64;
    for item in &items[video..] {
        from_end = from_end.checked_add(number(item, "Length")?)?.checked_add(number(item, "Padding")?)?;
    }
    (video_len > 0).then_some((from_end, video_len))
}

/// A HEIC's top-level `mpvd` box: the MP4 is its payload.
fn mpvd_box(at: &mut dyn At) -> Option<Motion> {
    let len = at.len();
    let mut pos = 0u64;
    for _ in 0..MAX_BOXES {
        let head = at.read_at(pos, 8)?.into_owned();
        let (size, header) = match u32_be(&head, 0)? {
            0 => (len - pos, 8),
            1 => (at.read_at(pos + 8, 8).and_then(|b| b.as_ref().try_into().ok()).map(u64::from_be_bytes)?, 16),
            n => (u64::from(n), 8),
        };
        if size < header {
            return None;
        }
        if &head[4..8] == b"mpvd" {
            return checked(at, "Samsung", pos + header, size - header);
        }
        pos = pos.checked_add(size)?;
    }
    None
}

/// `MotionPhoto_Data` soon after a JPEG's end, the MP4 right after it, as
/// long as its boxes run (whole files in memory only).
fn bare_samsung_marker(at: &mut dyn At) -> Option<Motion> {
    let data = at.all()?;
    // Most JPEGs have no marker at all: found at once, before walking the image to its end.
    find(data, SAMSUNG_NAME)?;
    let end = super::jpeg::image_end(data).ok()?;
    let window = data.get(end..)?;
    let window = &window[..window.len().min(MARKER_WINDOW)];
    let start = end + find(window, SAMSUNG_NAME)? + SAMSUNG_NAME.len();
    let video_len = mp4_extent(data.get(start..)?)?;
    checked(at, "Samsung", start as u64, video_len)
}

/// How many bytes of `data` the MP4 at its start spans: its top-level boxes
/// (the first a `ftyp`), to the first that is not one.
fn mp4_extent(data: &[u8]) -> Option<u64> {
    let mut pos = 0usize;
    let mut first = true;
    while let Some(head) = data.get(pos..pos + 8) {
        let kind = &head[4..8];
        if (first && kind != b"ftyp") || !kind.iter().all(|b| b.is_ascii_alphanumeric() || *b == b' ') {
            break;
        }
        let size = match u32_be(head, 0)? {
            0 => data.len() - pos,
            1 => usize::try_from(u64::from_be_bytes(data.get(pos + 8..pos + 16)?.try_into().ok()?)).ok()?,
            n => n as usize,
        };
        if size < 8 || pos.checked_add(size)? > data.len() {
            break;
        }
        pos += size;
        first = false;
    }
    (pos > 0).then_some(pos as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny JPEG (SOI, APP0, one scan, EOI).
    fn jpeg() -> Vec<u8> {
        vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2, 0xFF, 0xDA, 0, 3, 9, 0x12, 0x34, 0xFF, 0xD9]
    }

    /// A JPEG with an XMP packet in APP1.
    fn jpeg_with_xmp(xmp: &str) -> Vec<u8> {
        let payload = [b"http://ns.adobe.com/xap/1.0/\0".as_slice(), xmp.as_bytes()].concat();
        let len = (payload.len() + 2) as u16;
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&jpeg()[2..]);
        out
    }

    /// An MP4-looking run of boxes: ftyp, free, mdat.
    fn mp4() -> Vec<u8> {
        let mut v = b"\0\0\0\x18ftypisom\0\0\x02\0isommp41".to_vec();
        v.extend_from_slice(b"\0\0\0\x08free");
        v.extend_from_slice(b"\0\0\0\x10mdat01234567");
        v
    }

    fn micro(offset: usize) -> String {
        format!(
            "<x:xmpmeta><rdf:Description GCamera:MicroVideo=\"1\" GCamera:MicroVideoVersion=\"1\" \
             GCamera:MicroVideoOffset=\"{offset}\"/></x:xmpmeta>"
        )
    }

    fn container(len: usize, padding: usize) -> String {
        format!(
            "<x:xmpmeta><rdf:Description Camera:MotionPhoto=\"1\"><Container:Directory><rdf:Seq>\
             <rdf:li rdf:parseType=\"Resource\"><Container:Item Item:Mime=\"image/jpeg\" Item:Semantic=\"Primary\" \
             Item:Length=\"0\" Item:Padding=\"0\"/></rdf:li>\
             <rdf:li rdf:parseType=\"Resource\"><Container:Item Item:Mime=\"video/mp4\" Item:Semantic=\"MotionPhoto\" \
             Item:Length=\"{len}\" Item:Padding=\"{padding}\"/></rdf:li></rdf:Seq></Container:Directory>\
             </rdf:Description></x:xmpmeta>"
        )
    }

    fn sef(image: &[u8], video: &[u8]) -> Vec<u8> {
        let mut block = vec![0, 0, 0x30, 0x0A];
        block.extend_from_slice(&(SAMSUNG_NAME.len() as u32).to_le_bytes());
        block.extend_from_slice(SAMSUNG_NAME);
        block.extend_from_slice(video);
        let mut dir = b"SEFH".to_vec();
        for n in [101u32, 1] {
            dir.extend_from_slice(&n.to_le_bytes());
        }
        dir.extend_from_slice(&[0, 0, 0x30, 0x0A]);
        for n in [block.len() as u32, block.len() as u32] {
            dir.extend_from_slice(&n.to_le_bytes());
        }
        let mut out = [image, &block, &dir].concat();
        out.extend_from_slice(&(dir.len() as u32).to_le_bytes());
        out.extend_from_slice(b"SEFT");
        out
    }

    #[test]
    fn google_micro_video_is_found_from_the_end() {
        let v = mp4();
        let file = [jpeg_with_xmp(&micro(v.len())), v.clone()].concat();
        let m = detect(&file, Kind::Jpeg).unwrap();
        assert_eq!(m, Motion { vendor: "Google", video_offset: (file.len() - v.len()) as u64, video_len: 48 });
        assert_eq!(&file[m.video_offset as usize..][..8], &v[..8]);
        // Not for a kind that cannot be one.
        assert_eq!(detect(&file, Kind::Png), None);
    }

    #[test]
    fn google_container_directory_counts_the_padding() {
        let v = mp4();
        let file = [jpeg_with_xmp(&container(v.len(), 0)), v.clone()].concat();
        let m = detect(&file, Kind::Jpeg).unwrap();
        assert_eq!((m.vendor, m.video_offset, m.video_len), ("Google", (file.len() - 48) as u64, 48));
        // With 4 bytes of padding after the video.
        let file = [jpeg_with_xmp(&container(v.len(), 4)), v.clone(), vec![0; 4]].concat();
        let m = detect(&file, Kind::Jpeg).unwrap();
        assert_eq!(m.video_offset, (file.len() - 52) as u64);
        // Element form of the properties.
        let xmp = "<x:xmpmeta><Camera:MotionPhoto>1</Camera:MotionPhoto><Container:Directory><rdf:Seq>\
                   <rdf:li><Item:Semantic>Primary</Item:Semantic></rdf:li><rdf:li><Item:Semantic>MotionPhoto\
                   </Item:Semantic><Item:Length>48</Item:Length></rdf:li></rdf:Seq></Container:Directory></x:xmpmeta>";
        let file = [jpeg_with_xmp(xmp), v].concat();
        assert_eq!(detect(&file, Kind::Jpeg).map(|m| m.video_len), Some(48));
    }

    #[test]
    fn samsung_sef_trailer_and_bare_marker_and_heic_box() {
        let v = mp4();
        let file = sef(&jpeg(), &v);
        let m = detect(&file, Kind::Jpeg).unwrap();
        assert_eq!(m, Motion { vendor: "Samsung", video_offset: (jpeg().len() + 24) as u64, video_len: 48 });
        // The marker alone, without the directory, and junk after the video.
        let file = [jpeg(), SAMSUNG_NAME.to_vec(), v.clone(), b"\xff\xff junk".to_vec()].concat();
        let m = detect(&file, Kind::Jpeg).unwrap();
        assert_eq!((m.vendor, m.video_offset, m.video_len), ("Samsung", (jpeg().len() + 16) as u64, 48));
        // HEIC: a top-level mpvd box after the others.
        let mut heic = b"\0\0\0\x10ftypheic\0\0\0\0".to_vec();
        heic.extend_from_slice(b"\0\0\0\x0cmeta\0\0\0\0");
        heic.extend_from_slice(&((v.len() + 8) as u32).to_be_bytes());
        heic.extend_from_slice(b"mpvd");
        heic.extend_from_slice(&v);
        let m = detect(&heic, Kind::Heif).unwrap();
        assert_eq!(m, Motion { vendor: "Samsung", video_offset: 36, video_len: 48 });
    }

    #[test]
    fn a_google_heic_is_found_by_its_xmp_whether_the_video_is_bare_or_in_an_mpvd_box() {
        let v = mp4();
        // The primary's Padding of 8 is the mpvd box header before the video.
        let xmp = container(v.len(), 0).replacen(
            "Item:Length=\"0\" Item:Padding=\"0\"",
            "Item:Length=\"0\" Item:Padding=\"8\"",
            1,
        );
        let mut heic = b"\0\0\0\x10ftypheic\0\0\0\0".to_vec();
        heic.extend_from_slice(&((xmp.len() + 8) as u32).to_be_bytes());
        heic.extend_from_slice(b"free");
        heic.extend_from_slice(xmp.as_bytes());
        let boxed = [heic.clone(), ((v.len() + 8) as u32).to_be_bytes().to_vec(), b"mpvd".to_vec(), v.clone()].concat();
        let m = detect(&boxed, Kind::Heif).unwrap();
        assert_eq!((m.vendor, m.video_offset, m.video_len), ("Google", (heic.len() + 8) as u64, 48));
        let bare = [heic.clone(), v.clone()].concat();
        let m = detect(&bare, Kind::Heif).unwrap();
        assert_eq!((m.vendor, m.video_offset, m.video_len), ("Google", heic.len() as u64, 48));
    }

    #[test]
    fn claims_without_a_video_where_they_point_are_not_motion_photos() {
        let v = mp4();
        // No ftyp at the offset, offsets past the start, zero, negative, not numbers.
        for xmp in [micro(v.len() - 1), micro(1 << 40), micro(0), micro(v.len() + 1)] {
            assert_eq!(detect(&[jpeg_with_xmp(&xmp), v.clone()].concat(), Kind::Jpeg), None, "{xmp}");
        }
        let bad = jpeg_with_xmp(&micro(0).replace("\"0\"", "\"-5\""));
        assert_eq!(detect(&[bad, v.clone()].concat(), Kind::Jpeg), None);
        for (len, pad) in [(0, 0), (47, 0), (48, 1), (usize::MAX, 0), (10, usize::MAX)] {
            let file = [jpeg_with_xmp(&container(len, pad)), v.clone()].concat();
            assert_eq!(detect(&file, Kind::Jpeg), None, "{len} {pad}");
        }
        // A video that is not an MP4.
        let mut fake = v.clone();
        fake[4..8].copy_from_slice(b"moov");
        assert_eq!(detect(&[jpeg_with_xmp(&micro(fake.len())), fake.clone()].concat(), Kind::Jpeg), None);
        assert_eq!(detect(&sef(&jpeg(), &fake), Kind::Jpeg), None);
        // Plain photos, empty and tiny inputs, an unterminated packet.
        assert_eq!(detect(&jpeg(), Kind::Jpeg), None);
        for tiny in [&b""[..], b"SEFT", b"\0\0\0\0SEFT", b"<x:xmpmeta GCamera:MicroVideo=\"1"] {
            assert_eq!(detect(tiny, Kind::Jpeg), None);
            assert_eq!(detect(tiny, Kind::Heif), None);
        }
    }

    #[test]
    fn a_broken_sef_trailer_or_box_walk_is_no_panic() {
        let good = sef(&jpeg(), &mp4());
        // Every cut and every single-byte corruption of the trailer.
        for cut in 0..good.len() {
            let _ = detect(&good[..cut], Kind::Jpeg);
            let _ = detect(&good[cut..], Kind::Jpeg);
        }
        for i in jpeg().len()..good.len() {
            for b in [0u8, 0x7F, 0xFF] {
                let mut bad = good.clone();
                bad[i] = b;
                let _ = detect(&bad, Kind::Jpeg);
            }
        }
        // Directory lengths and counts far too big; box sizes 0, 1 (64-bit) and huge.
        let mut huge = good.clone();
        let n = huge.len();
        huge[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
        // (The marker right after the image still tells it, the video as long as its boxes.)
        let m = detect(&huge, Kind::Jpeg).unwrap();
        assert_eq!((m.video_offset, m.video_len), ((jpeg().len() + 24) as u64, 48));
        for size in [0u32, 1, 7, u32::MAX] {
            let mut heic = size.to_be_bytes().to_vec();
            heic.extend_from_slice(b"ftypheic\xff\xff\xff\xff\xff\xff\xff\xff");
            assert_eq!(detect(&heic, Kind::Heif), None, "{size}");
        }
        assert_eq!(mp4_extent(b"\0\0\0\x01ftyp\xff\xff\xff\xff\xff\xff\xff\xff"), None);
    }

    #[test]
    fn the_file_reader_finds_what_the_bytes_do() {
        let v = mp4();
        let dir = tempfile::tempdir().unwrap();
        for (file, kind) in [
            (sef(&jpeg(), &v), Kind::Jpeg),
            ([jpeg_with_xmp(&micro(v.len())), v.clone()].concat(), Kind::Jpeg),
            ([jpeg_with_xmp(&container(v.len(), 0)), v.clone()].concat(), Kind::Jpeg),
        ] {
            let path = dir.path().join("f");
            std::fs::write(&path, &file).unwrap();
            let mut f = File::open(&path).unwrap();
            assert_eq!(detect_file(&mut f, file.len() as u64, kind), detect(&file, kind));
            assert!(detect(&file, kind).is_some());
        }
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(850), "850 bytes");
        assert_eq!(human_bytes(7352), "7.4 kB");
        assert_eq!(human_bytes(1_234_567), "1.2 MB");
        let m = Motion { vendor: "Google", video_offset: 1, video_len: 1_200_000 };
        assert_eq!(m.describe(), "Google, 1.2 MB video inside");
    }
}
