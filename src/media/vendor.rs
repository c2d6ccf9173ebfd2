//! Capture dates that only a camera maker's private block holds: Olympus'
//! `[picture info]` APP12 segment, Canon's CIFF heap in APP0 (early
//! PowerShots), and Reconyx HyperFire maker notes. All are the camera's
//! wall-clock time, without an offset.

use chrono::NaiveDateTime;

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Seconds counted as if the camera clock were UTC: its wall-clock time.
fn wall_clock(secs: i64) -> Option<NaiveDateTime> {
    let t = chrono::DateTime::from_timestamp(secs, 0)?.naive_utc();
    super::date::parse_exif_datetime(&t.format("%Y:%m:%d %H:%M:%S").to_string())
}

/// The date in a JPEG's vendor segments (`data`: the file's first bytes).
pub fn jpeg_vendor_date(data: &[u8]) -> Option<NaiveDateTime> {
    olympus_picture_info(data).or_else(|| canon_ciff(data))
}

/// Olympus APP12 `[picture info]` … `TimeDate=909698819`.
fn olympus_picture_info(data: &[u8]) -> Option<NaiveDateTime> {
    let at = find(data, b"[picture info]")?;
    let block = data.get(at..(at + 512).min(data.len()))?;
    let t = find(block, b"TimeDate=")? + "TimeDate=".len();
    let digits: String = block[t..].iter().take_while(|b| b.is_ascii_digit()).map(|&b| b as char).collect();
    wall_clock(digits.parse().ok()?)
}

/// Canon CIFF in APP0 (`II`, header length, `HEAPJPGM`): tag 0x180E TimeStamp, seconds.
fn canon_ciff(data: &[u8]) -> Option<NaiveDateTime> {
    let mut i = 2;
    // Walk the JPEG's segments up to the image data.
    while let (Some(&0xFF), Some(&marker)) = (data.get(i), data.get(i + 1)) {
        let len = usize::from(u16::from_be_bytes([*data.get(i + 2)?, *data.get(i + 3)?]));
        let seg = data.get(i + 4..i + 2 + len)?;
        if marker == 0xE0 && seg.get(..2) == Some(b"II") && seg.get(6..14) == Some(b"HEAPJPGM") {
            let hlen = u32::from_le_bytes(seg.get(2..6)?.try_into().ok()?) as usize;
            return ciff_timestamp(seg.get(hlen..)?, 0).and_then(|s| wall_clock(i64::from(s)));
        }
        if marker == 0xDA || len < 2 {
            return None;
        }
        i += 2 + len;
    }
    None
}

/// Tag 0x180E in a CIFF heap (its directory's offset is the heap's last 4 bytes), sub-heaps searched too.
fn ciff_timestamp(heap: &[u8], depth: u32) -> Option<u32> {
    if depth > 4 || heap.len() < 6 {
        return None;
    }
    let u32_at = |b: &[u8], at: usize| Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?));
    let dir = u32_at(heap, heap.len() - 4)? as usize;
    let count = usize::from(u16::from_le_bytes(heap.get(dir..dir + 2)?.try_into().ok()?));
    for e in 0..count.min(256) {
        let at = dir + 2 + e * 10;
        let tag = u16::from_le_bytes(heap.get(at..at + 2)?.try_into().ok()?);
        if tag & 0xC000 != 0 {
            continue; // value in the record itself
        }
        let (size, off) = (u32_at(heap, at + 2)? as usize, u32_at(heap, at + 6)? as usize);
        let value = heap.get(off..off.checked_add(size)?)?;
        if tag & 0x3FFF == 0x180E {
            return u32_at(value, 0).filter(|&s| s > 0);
        }
        if matches!(tag & 0x3800, 0x2800 | 0x3000) {
            if let Some(t) = ciff_timestamp(value, depth + 1) {
                return Some(t);
            }
        }
    }
    None
}

/// Reconyx HyperFire maker note (version 0xF101): int16u sec, min, hour, month, day, year at byte 22.
pub fn reconyx_date(note: &[u8]) -> Option<NaiveDateTime> {
    if note.get(..2) != Some(&[0x01, 0xF1]) {
        return None;
    }
    let v: Vec<u32> = (0..6)
        .map(|k| note.get(22 + 2 * k..24 + 2 * k).map(|b| u32::from(u16::from_le_bytes([b[0], b[1]]))))
        .collect::<Option<_>>()?;
    let year = i32::try_from(v[5]).ok()?;
    if !(1990..=2200).contains(&year) {
        return None;
    }
    chrono::NaiveDate::from_ymd_opt(year, v[3], v[4])?.and_hms_opt(v[2], v[1], v[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn olympus_time_date_is_the_wall_clock() {
        let d = b"\xff\xd8\xff\xecOLYMPUS OPTICAL CO.,LTD.   [picture info]\r\nTimeDate=909698819\r\nShutter=1";
        assert_eq!(jpeg_vendor_date(d).unwrap().to_string(), "1998-10-29 22:06:59");
    }

    #[test]
    fn reconyx_needs_its_version() {
        let mut n = vec![0x01, 0xF1];
        n.resize(22, 0);
        for v in [0u16, 0, 10, 3, 16, 2020] {
            n.extend(v.to_le_bytes());
        }
        assert_eq!(reconyx_date(&n).unwrap().to_string(), "2020-03-16 10:00:00");
        n[0] = 0;
        assert_eq!(reconyx_date(&n), None);
    }
}
