//! Dates from video containers other than ISO-BMFF: Matroska/WebM `DateUTC`
//! and AVCHD's MDPM metadata in an MPEG transport stream.

use chrono::{FixedOffset, NaiveDateTime};

/// Reads an EBML variable-length integer (ID when `keep_marker`, else a size).
fn vint(data: &[u8], pos: usize, keep_marker: bool) -> Option<(u64, usize)> {
    let first = *data.get(pos)?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return None;
    }
    let mut v = if keep_marker { first as u64 } else { (first as u64) & ((1u64 << (8 - len)) - 1) };
    for i in 1..len {
        v = (v << 8) | *data.get(pos + i)? as u64;
    }
    Some((v, len))
}

/// Matroska `Segment/Info/DateUTC`: nanoseconds since 2001-01-01T00:00:00Z.
pub fn matroska_date(head: &[u8]) -> Option<NaiveDateTime> {
    const SEGMENT: u64 = 0x1853_8067;
    const INFO: u64 = 0x1549_A966;
    const DATE_UTC: u64 = 0x4461;
    const CLUSTER: u64 = 0x1F43_B675;
    let mut pos = 0usize;
    let mut end = head.len();
    while pos < end {
        let (id, id_len) = vint(head, pos, true)?;
        let (size, size_len) = vint(head, pos + id_len, false)?;
        let body = pos + id_len + size_len;
        let unknown = size == (1u64 << (7 * size_len)) - 1;
        match id {
            SEGMENT | INFO => {
                // Descend into the element.
                if id == INFO && !unknown {
                    end = end.min(body.saturating_add(usize::try_from(size).ok()?));
                }
                pos = body;
            }
            DATE_UTC => {
                let bytes = head.get(body..body + usize::try_from(size).ok()?)?;
                if bytes.len() != 8 {
                    return None;
                }
                let ns = i64::from_be_bytes(bytes.try_into().ok()?);
                let base = chrono::NaiveDate::from_ymd_opt(2001, 1, 1)?.and_hms_opt(0, 0, 0)?;
                return base.checked_add_signed(chrono::Duration::nanoseconds(ns));
            }
            CLUSTER => return None,
            _ => {
                if unknown {
                    return None;
                }
                pos = body.checked_add(usize::try_from(size).ok()?)?;
            }
        }
    }
    None
}

fn bcd(b: u8) -> Option<u32> {
    let (hi, lo) = ((b >> 4) as u32, (b & 0x0F) as u32);
    (hi < 10 && lo < 10).then_some(hi * 10 + lo)
}

/// AVCHD camcorders record the capture time in an "MDPM" block of the H.264
/// stream's user data: tag 0x18 holds a time-zone byte and the BCD year and
/// month, tag 0x19 the BCD day, hour, minute and second.
pub fn avchd_date(data: &[u8]) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let start = data.windows(4).position(|w| w == b"MDPM")? + 4;
    let count = *data.get(start)? as usize;
    let mut tags = std::collections::HashMap::new();
    for i in 0..count {
        let entry = data.get(start + 1 + i * 5..start + 6 + i * 5)?;
        tags.insert(entry[0], [entry[1], entry[2], entry[3], entry[4]]);
    }
    let a = tags.get(&0x18)?;
    let b = tags.get(&0x19)?;
    let year = bcd(a[1])? * 100 + bcd(a[2])?;
    let date = chrono::NaiveDate::from_ymd_opt(year as i32, bcd(a[3])?, bcd(b[0])?)?;
    let local = date.and_hms_opt(bcd(b[1])?, bcd(b[2])?, bcd(b[3])?)?;
    // Time-zone byte: 0x20 = west of UTC, bits 1-4 hours, bit 0 half an hour (as exiftool reads it).
    let tz = a[0];
    let offset = (tz != 0xFF).then(|| {
        let secs = ((tz >> 1) & 0x0F) as i32 * 3600 + if tz & 1 == 1 { 1800 } else { 0 };
        FixedOffset::east_opt(if tz & 0x20 != 0 { -secs } else { secs })
    });
    Some((local, offset.flatten()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdpm_block_gives_date_and_offset() {
        let mut d = b"junkMDPM\x02".to_vec();
        d.extend_from_slice(&[0x18, 0x02, 0x20, 0x08, 0x12, 0x19, 0x31, 0x23, 0x16, 0x24]);
        let (t, o) = avchd_date(&d).unwrap();
        assert_eq!(t.to_string(), "2008-12-31 23:16:24");
        assert_eq!(o, FixedOffset::east_opt(3600));
        assert_eq!(avchd_date(&d[..d.len() - 2]), None);
    }

    #[test]
    fn truncated_ebml_gives_none() {
        assert_eq!(matroska_date(&[0x1A, 0x45, 0xDF]), None);
        assert_eq!(matroska_date(&[0x18, 0x53, 0x80, 0x67, 0x01]), None);
    }
}
