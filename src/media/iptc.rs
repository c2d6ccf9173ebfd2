//! IPTC IIM DateCreated (2:55, `CCYYMMDD`) with TimeCreated (2:60,
//! `HHMMSS±HHMM`), as Photoshop's APP13 block and TIFF's IPTC tag carry
//! them. Only the two together make a date: a lone TimeCreated is ignored,
//! and so is a DateCreated without a time (a day is not precise enough to
//! win over the file name).

use chrono::{FixedOffset, NaiveDateTime};

use super::date::parse_offset;

/// Finds dataset `2:num` (`1C 02 num len_hi len_lo value`) in `data`.
fn dataset(data: &[u8], num: u8) -> Option<&[u8]> {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(data.get(from..)?, &[0x1C, 0x02, num]) {
        let at = from + i + 3;
        if let Some(len) = data.get(at..at + 2).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]]))) {
            if let Some(v) = data.get(at + 2..at + 2 + len) {
                if !v.is_empty() && v.iter().all(|b| b.is_ascii_graphic()) {
                    return Some(v);
                }
            }
        }
        from = at;
    }
    None
}

/// DateCreated + TimeCreated from the IPTC records in `data` (a file's first bytes).
pub fn iptc_date(data: &[u8]) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let date = std::str::from_utf8(dataset(data, 55)?).ok()?;
    let time = std::str::from_utf8(dataset(data, 60)?).ok()?;
    if date.len() != 8 || time.len() < 6 || !time[..6].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let local = NaiveDateTime::parse_from_str(&format!("{date}{}", &time[..6]), "%Y%m%d%H%M%S").ok()?;
    let offset = time.get(6..).filter(|r| !r.is_empty()).and_then(parse_offset);
    Some((local, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(num: u8, v: &[u8]) -> Vec<u8> {
        let mut r = vec![0x1C, 0x02, num, 0, v.len() as u8];
        r.extend_from_slice(v);
        r
    }

    #[test]
    fn date_and_time_together_make_a_date() {
        let mut d = b"8BIM\x04\x04".to_vec();
        d.extend(record(55, b"20190312"));
        d.extend(record(60, b"101530+0100"));
        let (t, o) = iptc_date(&d).unwrap();
        assert_eq!((t.to_string().as_str(), o), ("2019-03-12 10:15:30", FixedOffset::east_opt(3600)));
        assert_eq!(iptc_date(&record(60, b"101530+0100")), None);
        assert_eq!(iptc_date(&record(55, b"20190312")), None);
    }
}
