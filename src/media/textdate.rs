//! Dates kept as text by formats without EXIF dates: PNG's `tEXt`/`iTXt`
//! "Creation Time" and AVI's RIFF `IDIT` (DateTimeOriginal) chunk.

use chrono::{FixedOffset, NaiveDateTime};

use super::date::{parse_exif_datetime, parse_iso_datetime};

/// A text date in any of the spellings these chunks use: RFC 1123 / 2822
/// (`Sun, 14 May 2023 12:34:56 +0000`, what the PNG spec suggests), ISO 8601
/// or EXIF style (`2023:05:14 12:34:56`), or C's asctime (`Sun May 14 12:34:56 2023`, AVI).
pub fn parse_text_date(s: &str) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let s = s.trim().trim_end_matches('\0').trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc2822(s) {
        return Some((t.naive_local(), Some(*t.offset())));
    }
    if let Some(t) = parse_iso_datetime(s) {
        return Some(t);
    }
    let squashed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    for f in ["%a %b %d %H:%M:%S %Y", "%b %d %H:%M:%S %Y"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&squashed, f) {
            return Some((t, None));
        }
    }
    // Leading `YYYY:MM:DD HH:MM:SS` with something after it.
    parse_exif_datetime(s.get(..19)?).map(|t| (t, None))
}

/// "Creation Time" from a PNG's `tEXt` or uncompressed `iTXt` chunks (those before the image data).
pub fn png_creation_time(data: &[u8]) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let mut i = 8;
    while let Some(head) = data.get(i..i + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        let body = data.get(i + 8..(i + 8).checked_add(len)?)?;
        let text = match kind {
            b"tEXt" => body.strip_prefix(b"Creation Time\0"),
            b"iTXt" => body.strip_prefix(b"Creation Time\0").and_then(|r| {
                // compression flag 0, method, language\0, translated keyword\0, text
                let (&flag, r) = r.split_first()?;
                let r = r.get(1..)?;
                let lang_end = r.iter().position(|&b| b == 0)?;
                let r = &r[lang_end + 1..];
                let kw_end = r.iter().position(|&b| b == 0)?;
                (flag == 0).then_some(&r[kw_end + 1..])
            }),
            b"IDAT" | b"IEND" => return None,
            _ => None,
        };
        if let Some(t) = text.and_then(|t| parse_text_date(&String::from_utf8_lossy(t))) {
            return Some(t);
        }
        i += 12 + len;
    }
    None
}

/// An AVI's `IDIT` chunk (in its `hdrl` list, so within the first bytes).
pub fn avi_idit(data: &[u8]) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let at = memchr::memmem::find(data, b"IDIT")?;
    let len = u32::from_le_bytes(data.get(at + 4..at + 8)?.try_into().ok()?) as usize;
    let body = data.get(at + 8..(at + 8).checked_add(len.min(64))?)?;
    parse_text_date(&String::from_utf8_lossy(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_dates_in_their_spellings() {
        let want = NaiveDateTime::parse_from_str("2023-05-14 12:34:56", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(parse_text_date("Sun, 14 May 2023 12:34:56 +0200"), Some((want, FixedOffset::east_opt(7200))));
        assert_eq!(parse_text_date("2023:05:14 12:34:56"), Some((want, None)));
        assert_eq!(parse_text_date("Sun May 14 12:34:56 2023\n\0"), Some((want, None)));
        assert_eq!(
            parse_text_date("Thu May  4 12:34:56 2023").map(|t| t.0.to_string()),
            Some("2023-05-04 12:34:56".into())
        );
        assert_eq!(parse_text_date("yesterday"), None);
    }
}
