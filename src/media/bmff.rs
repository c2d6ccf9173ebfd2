//! ISO-BMFF / QuickTime boxes: MP4, MOV, 3GP dates and Canon CR3 metadata.
//!
//! Only the `moov` box is read (it holds every header we need); `mdat`, the
//! media data, is skipped with a seek, so a multi-GB video costs a few reads.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use chrono::{FixedOffset, NaiveDateTime};

use super::date::parse_iso_datetime;

/// Largest `moov` we read into memory.
const MAX_MOOV: u64 = 256 << 20;

/// Dates found in a movie's headers.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MovieDates {
    /// `com.apple.quicktime.creationdate` (moov/meta keys + ilst): local time and offset.
    pub apple_creation: Option<(NaiveDateTime, Option<FixedOffset>)>,
    /// `©day` in moov/udta (QuickTime or iTunes style), when it has a time.
    pub day: Option<(NaiveDateTime, Option<FixedOffset>)>,
    /// `mvhd` creation_time, UTC; `None` when zero (the 1904 epoch) or implausible.
    pub mvhd_utc: Option<NaiveDateTime>,
    /// `com.apple.quicktime.content.identifier`: the Live Photo this video belongs to.
    pub content_id: Option<String>,
    /// Where it was recorded (latitude, longitude), when the file says.
    pub location: Option<(f64, f64)>,
}

/// Iterates the boxes in `data`: (type, payload). Stops at a malformed size.
pub fn boxes(data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let head = data.get(pos..pos + 8)?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
        let kind = [head[4], head[5], head[6], head[7]];
        let (header, size) = match size32 {
            0 => (8u64, (data.len() - pos) as u64),
            1 => {
                let big = data.get(pos + 8..pos + 16)?;
                (16, u64::from_be_bytes(big.try_into().ok()?))
            }
            n => (8, n),
        };
        if size < header {
            return None;
        }
        let end = pos.checked_add(usize::try_from(size).ok()?)?;
        let payload = data.get(pos + header as usize..end)?;
        pos = end;
        Some((kind, payload))
    })
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| k == kind).map(|(_, p)| p)
}

/// Reads the payload of the top-level box `want` from a file, seeking past
/// the others. `Ok(None)` when the file has no such box.
pub fn read_top_box(file: &mut File, file_len: u64, want: &[u8; 4]) -> std::io::Result<Option<Vec<u8>>> {
    let mut pos = 0u64;
    while pos + 8 <= file_len {
        file.seek(SeekFrom::Start(pos))?;
        let mut head = [0u8; 16];
        file.read_exact(&mut head[..8])?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
        let kind = [head[4], head[5], head[6], head[7]];
        let (header, size) = match size32 {
            0 => (8, file_len - pos),
            1 => {
                file.read_exact(&mut head[8..16])?;
                (16, u64::from_be_bytes([head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15]]))
            }
            n => (8, n),
        };
        if size < header || pos.saturating_add(size) > file_len {
            return Ok(None);
        }
        if &kind == want {
            let len = size - header;
            if len > MAX_MOOV {
                return Ok(None);
            }
            let mut buf = vec![0u8; len as usize];
            file.read_exact(&mut buf)?;
            return Ok(Some(buf));
        }
        pos += size;
    }
    Ok(None)
}

/// Seconds from 1904-01-01 (QuickTime's epoch) to 1970-01-01.
const QT_EPOCH_OFFSET: i64 = 2_082_844_800;

fn mvhd_time(p: &[u8]) -> Option<NaiveDateTime> {
    let secs = match p.first()? {
        0 => u32::from_be_bytes(p.get(4..8)?.try_into().ok()?) as i64,
        1 => i64::try_from(u64::from_be_bytes(p.get(4..12)?.try_into().ok()?)).ok()?,
        _ => return None,
    };
    // Zero is the 1904 epoch itself (unset); anything before 1970 is a writer's mistake.
    let unix = secs.checked_sub(QT_EPOCH_OFFSET)?;
    if secs == 0 || unix <= 0 {
        return None;
    }
    chrono::DateTime::from_timestamp(unix, 0).map(|d| d.naive_utc())
}

/// The children of a `meta` box: a full box in MP4 (4 bytes of version and
/// flags first), a plain one in QuickTime.
fn meta_children(meta: &[u8]) -> &[u8] {
    if meta.get(4..8) == Some(b"hdlr") {
        meta
    } else {
        meta.get(4..).unwrap_or_default()
    }
}

/// The value of an iTunes-style `data` box holding UTF-8 text.
fn data_text(item: &[u8]) -> Option<String> {
    let data = child(item, b"data")?;
    let text = data.get(8..)?;
    Some(String::from_utf8_lossy(text).into_owned())
}

/// The text value of an Apple metadata key (`moov/meta` keys + ilst:
/// `com.apple.quicktime.creationdate`, `...content.identifier`, ...).
fn apple_key(meta: &[u8], key: &[u8]) -> Option<String> {
    let children = meta_children(meta);
    let keys = child(children, b"keys")?;
    let ilst = child(children, b"ilst")?;
    let count = u32::from_be_bytes(keys.get(4..8)?.try_into().ok()?);
    let mut pos = 8usize;
    let mut index = None;
    for i in 1..=count {
        let size = u32::from_be_bytes(keys.get(pos..pos + 4)?.try_into().ok()?) as usize;
        let name = keys.get(pos + 8..pos.checked_add(size)?)?;
        if name == key {
            index = Some(i);
            break;
        }
        if size < 8 {
            return None;
        }
        pos += size;
    }
    let index = index?.to_be_bytes();
    let item = boxes(ilst).find(|(k, _)| *k == index).map(|(_, p)| p)?;
    data_text(item)
}

/// A position in ISO 6709 form (`+34.0522-118.2437+089.000/`): latitude
/// and longitude in degrees.
pub fn iso6709(text: &str) -> Option<(f64, f64)> {
    let t = text.trim();
    let split = |s: &str| s.char_indices().skip(1).find(|(_, c)| *c == '+' || *c == '-').map(|(i, _)| i);
    if !t.starts_with(['+', '-']) {
        return None;
    }
    let lat_end = split(t)?;
    let (lat, rest) = t.split_at(lat_end);
    let lon_end = split(rest).unwrap_or(rest.trim_end_matches('/').len());
    let lon = &rest[..lon_end];
    let (lat, lon): (f64, f64) = (lat.parse().ok()?, lon.trim_end_matches('/').parse().ok()?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) && (lat, lon) != (0.0, 0.0)).then_some((lat, lon))
}

const XYZ: [u8; 4] = [0xA9, b'x', b'y', b'z'];

/// The recording position in the user data: `©xyz` (ISO 6709 text, as
/// Android phones and older iPhones write it; newer ones use the
/// `...location.ISO6709` key), or the 3GPP `loci` box (fixed-point degrees).
fn location(udta: Option<&[u8]>) -> Option<(f64, f64)> {
    let udta = udta?;
    if let Some(p) = child(udta, &XYZ) {
        let len = u16::from_be_bytes(p.get(0..2)?.try_into().ok()?) as usize;
        return iso6709(&String::from_utf8_lossy(p.get(4..4 + len)?));
    }
    loci(child(udta, b"loci")?)
}

/// A 3GPP `loci` box: version and flags, language, a NUL-ended place
/// name, a role byte, then longitude, latitude and altitude as 16.16
/// fixed-point numbers.
fn loci(p: &[u8]) -> Option<(f64, f64)> {
    let name_len = p.get(6..)?.iter().position(|&b| b == 0)?;
    let at = 6 + name_len + 1 + 1;
    let fixed = |i: usize| p.get(i..i + 4).map(|b| f64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])) / 65536.0);
    let (lon, lat) = (fixed(at)?, fixed(at + 4)?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) && (lat, lon) != (0.0, 0.0)).then_some((lat, lon))
}

const DAY: [u8; 4] = [0xA9, b'd', b'a', b'y'];

fn udta_day(udta: &[u8]) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    if let Some(p) = child(udta, &DAY) {
        // QuickTime user data text: u16 length, u16 language, text.
        let len = u16::from_be_bytes(p.get(0..2)?.try_into().ok()?) as usize;
        if let Some(text) = p.get(4..4 + len) {
            if let Some(d) = parse_iso_datetime(&String::from_utf8_lossy(text)) {
                return Some(d);
            }
        }
        if let Some(text) = data_text(p) {
            return parse_iso_datetime(&text);
        }
    }
    // Android/Samsung write a plain `date` box holding ISO text.
    if let Some(d) = child(udta, b"date").and_then(|p| parse_iso_datetime(&String::from_utf8_lossy(p))) {
        return Some(d);
    }
    let ilst = child(meta_children(child(udta, b"meta")?), b"ilst")?;
    parse_iso_datetime(&data_text(child(ilst, &DAY)?)?)
}

/// Reads the dates of a QuickTime/MP4 file. `Ok(None)`: no `moov` (an
/// incomplete file, or still being written).
pub fn movie_dates(file: &mut File, file_len: u64) -> std::io::Result<Option<MovieDates>> {
    let Some(moov) = read_top_box(file, file_len, b"moov")? else {
        return Ok(None);
    };
    let mut out = MovieDates::default();
    let (mut meta, mut udta) = (None, None);
    for (kind, payload) in boxes(&moov) {
        match &kind {
            b"mvhd" => out.mvhd_utc = mvhd_time(payload),
            b"meta" => meta = meta.or(Some(payload)),
            b"udta" => udta = udta.or(Some(payload)),
            _ => {}
        }
    }
    // Apple's keys sit in moov/meta, or (older writers) moov/udta/meta.
    let metas = [meta, udta.and_then(|u| child(u, b"meta"))];
    let key = |k: &[u8]| metas.iter().flatten().find_map(|m| apple_key(m, k));
    out.apple_creation = key(b"com.apple.quicktime.creationdate").and_then(|t| parse_iso_datetime(&t));
    out.day = udta.and_then(udta_day);
    out.content_id = key(b"com.apple.quicktime.content.identifier")
        .map(|s| s.trim_matches(char::from(0)).trim().to_string())
        .filter(|s| !s.is_empty());
    out.location = key(b"com.apple.quicktime.location.ISO6709").and_then(|t| iso6709(&t)).or_else(|| location(udta));
    Ok(Some(out))
}

/// Canon's CR3 metadata box: moov/uuid 85c0b687-820f-11e0-8111-f4ce462b6a48.
const CANON_UUID: [u8; 16] =
    [0x85, 0xc0, 0xb6, 0x87, 0x82, 0x0f, 0x11, 0xe0, 0x81, 0x11, 0xf4, 0xce, 0x46, 0x2b, 0x6a, 0x48];

/// The TIFF blocks of a CR3 (CMT1: IFD0, CMT2: Exif IFD), each a complete TIFF.
pub fn canon_cmt_blocks(file: &mut File, file_len: u64) -> Option<Vec<Vec<u8>>> {
    let moov = read_top_box(file, file_len, b"moov").ok()??;
    let canon = boxes(&moov).find(|(k, p)| k == b"uuid" && p.get(..16) == Some(&CANON_UUID[..]))?.1;
    let blocks = boxes(canon.get(16..)?)
        .filter(|(k, _)| k == b"CMT1" || k == b"CMT2")
        .map(|(_, p)| p.to_vec())
        .collect::<Vec<_>>();
    (!blocks.is_empty()).then_some(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(kind: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn mvhd_zero_and_pre_1970_times_are_absent() {
        let mut p = vec![0u8; 12];
        assert_eq!(mvhd_time(&p), None, "zero = the 1904 epoch = unset");
        p[4..8].copy_from_slice(&100u32.to_be_bytes());
        assert_eq!(mvhd_time(&p), None, "1904 + 100 s is not a capture date");
        let secs = (QT_EPOCH_OFFSET + 1_600_000_000) as u32;
        p[4..8].copy_from_slice(&secs.to_be_bytes());
        assert_eq!(mvhd_time(&p).unwrap().to_string(), "2020-09-13 12:26:40");
        let mut v1 = vec![1u8, 0, 0, 0];
        v1.extend_from_slice(&((QT_EPOCH_OFFSET + 1_600_000_000) as u64).to_be_bytes());
        assert_eq!(mvhd_time(&v1).unwrap().to_string(), "2020-09-13 12:26:40");
    }

    #[test]
    fn apple_creation_date_is_found_through_keys_and_ilst() {
        let mut keys = vec![0, 0, 0, 0, 0, 0, 0, 2];
        keys.extend(bx(b"mdta", b"com.apple.quicktime.make"));
        keys.extend(bx(b"mdta", b"com.apple.quicktime.creationdate"));
        let mut data = vec![0, 0, 0, 1, 0, 0, 0, 0];
        data.extend_from_slice(b"2021-04-11T15:47:53-0500");
        let ilst = bx(&2u32.to_be_bytes(), &bx(b"data", &data));
        let meta = [bx(b"hdlr", &[0; 24]), bx(b"keys", &keys), bx(b"ilst", &ilst)].concat();
        let (t, o) = parse_iso_datetime(&apple_key(&meta, b"com.apple.quicktime.creationdate").unwrap()).unwrap();
        assert_eq!(t.to_string(), "2021-04-11 15:47:53");
        assert_eq!(o, FixedOffset::west_opt(5 * 3600));
        assert_eq!(apple_key(&meta, b"com.apple.quicktime.content.identifier"), None);
    }

    #[test]
    fn iso_6709_positions_are_read_and_nonsense_is_not() {
        assert_eq!(iso6709("+34.0522-118.2437+089.000/"), Some((34.0522, -118.2437)));
        assert_eq!(iso6709("+32.0929+034.8620/"), Some((32.0929, 34.862)));
        assert_eq!(iso6709("-33.8688+151.2093"), Some((-33.8688, 151.2093)));
        assert_eq!(iso6709("+0000.0000+00000.0000/"), None);
        assert_eq!(iso6709("+95.0+10.0/"), None);
        assert_eq!(iso6709("garbage"), None);
        assert_eq!(iso6709("+"), None);
        assert_eq!(iso6709(""), None);
        // 3GPP loci as ffmpeg writes it: no name, role 0, -118.2437 and 34.0522 in 16.16.
        let mut l = vec![0, 0, 0, 0, 0x15, 0xc7, 0, 0];
        l.extend_from_slice(&((-118.2437f64 * 65536.0) as i32).to_be_bytes());
        l.extend_from_slice(&((34.0522f64 * 65536.0) as i32).to_be_bytes());
        l.extend_from_slice(&[0, 0, 0, 0]);
        let (lat, lon) = loci(&l).unwrap();
        assert!((lat - 34.0522).abs() < 1e-4 && (lon + 118.2437).abs() < 1e-4, "{lat} {lon}");
        assert_eq!(loci(&l[..10]), None);
        assert_eq!(loci(&[0, 0, 0, 0, 0, 0, 1, 2, 3]), None);
    }

    #[test]
    fn malformed_boxes_end_the_walk_without_panicking() {
        assert_eq!(boxes(&[0, 0, 0, 4, b'a', b'b', b'c', b'd']).count(), 0);
        assert_eq!(boxes(&[0, 0, 1, 0, b'm', b'o', b'o', b'v', 1]).count(), 0);
        assert_eq!(boxes(&[0, 0, 0, 1, b'm', b'o', b'o', b'v', 0, 0]).count(), 0);
    }
}
