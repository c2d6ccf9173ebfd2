//! Capture date extraction.

use chrono::{FixedOffset, NaiveDateTime};

/// Which source gave a capture date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DateSource {
    /// EXIF DateTimeOriginal (with OffsetTimeOriginal when present).
    Exif,
    /// XMP exif:DateTimeOriginal / photoshop:DateCreated (an editor's copy of the date).
    Xmp,
    /// EXIF CreateDate (DateTimeDigitized) or DateTime.
    ExifCreate,
    /// EXIF GPSDateStamp + GPSTimeStamp (UTC).
    GpsDatetime,
    /// IPTC DateCreated + TimeCreated.
    Iptc,
    /// A PNG `tEXt`/`iTXt` "Creation Time".
    PngText,
    /// A camera maker's private block (Olympus APP12, Canon CIFF, Reconyx maker note).
    MakerNote,
    /// QuickTime `com.apple.quicktime.creationdate` (local time with offset).
    Quicktime,
    /// QuickTime/MP4 `mvhd` creation_time (UTC).
    Mvhd,
    /// Another container's own date (Matroska DateUTC, AVCHD MDPM, ...).
    Container,
    /// An XMP sidecar beside the file (`NAME.EXT.xmp`, `NAME.xmp`).
    XmpSidecar,
    /// A Google Takeout JSON beside the file (`photoTakenTime`, UTC).
    Takeout,
    /// A date in the file name.
    Filename,
    /// The file's modification time.
    Mtime,
}

impl DateSource {
    /// The source named by [`DateSource::as_str`] (as stored in the index).
    pub fn parse(name: &str) -> Option<DateSource> {
        [
            DateSource::Exif,
            DateSource::Xmp,
            DateSource::ExifCreate,
            DateSource::GpsDatetime,
            DateSource::Iptc,
            DateSource::PngText,
            DateSource::MakerNote,
            DateSource::Quicktime,
            DateSource::Mvhd,
            DateSource::Container,
            DateSource::XmpSidecar,
            DateSource::Takeout,
            DateSource::Filename,
            DateSource::Mtime,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// The source as `cbctl date` shows it to a person: its name, and for
    /// mtime that the file has no date of its own (so it is filed by `layout_undated`).
    pub fn describe(self) -> &'static str {
        match self {
            DateSource::Mtime => "mtime (no date in the file or its name)",
            DateSource::XmpSidecar => "xmp-sidecar (the .xmp file beside it)",
            DateSource::Takeout => "takeout (the Google Takeout .json beside it)",
            other => other.as_str(),
        }
    }

    /// The date was written into the file by whatever made it (EXIF, XMP,
    /// a container's own field), not guessed from its name or mtime: the
    /// mark of a camera original, which a re-save without metadata loses.
    /// Sidecars are other files: not embedded.
    pub fn is_embedded(self) -> bool {
        !matches!(self, DateSource::Filename | DateSource::Mtime | DateSource::XmpSidecar | DateSource::Takeout)
    }

    /// The name in `cbctl --json date` and the index ("exif", "quicktime", "mvhd", "filename", "mtime", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DateSource::Exif => "exif",
            DateSource::Xmp => "xmp",
            DateSource::ExifCreate => "exif-create",
            DateSource::GpsDatetime => "gps-datetime",
            DateSource::Iptc => "iptc",
            DateSource::PngText => "png-text",
            DateSource::MakerNote => "maker-note",
            DateSource::XmpSidecar => "xmp-sidecar",
            DateSource::Takeout => "takeout",
            DateSource::Quicktime => "quicktime",
            DateSource::Mvhd => "mvhd",
            DateSource::Container => "container",
            DateSource::Filename => "filename",
            DateSource::Mtime => "mtime",
        }
    }
}

/// A capture date: wall-clock time where the photo was taken, plus its UTC
/// offset when known. UTC-only container times carry offset +00:00 and
/// `utc_only = true` (printed with `Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureDate {
    /// Wall-clock time as recorded.
    pub local: NaiveDateTime,
    /// UTC offset, when known.
    pub offset: Option<FixedOffset>,
    /// True when the time is a UTC instant with no local offset (mvhd, Matroska).
    pub utc_only: bool,
    /// Which source won.
    pub source: DateSource,
    /// Where the offset came from when the date's own source had none
    /// (`"gps"`: the zone at the GPS position), else `None`.
    pub offset_from: Option<&'static str>,
}

impl CaptureDate {
    /// RFC 3339: `2021-04-11T15:47:53-05:00`, `...Z` for UTC-only, no suffix when the offset is unknown.
    pub fn to_rfc3339(&self) -> String {
        let base = self.local.format("%Y-%m-%dT%H:%M:%S").to_string();
        if self.utc_only {
            format!("{base}Z")
        } else if let Some(off) = self.offset {
            format!("{base}{off}")
        } else {
            base
        }
    }

    /// A date with neither offset nor zone: `utc_only` false, `offset_from` none.
    pub fn local(local: NaiveDateTime, offset: Option<FixedOffset>, source: DateSource) -> CaptureDate {
        CaptureDate { local, offset, utc_only: false, source, offset_from: None }
    }

    /// A UTC instant with no local offset (printed with `Z`).
    pub fn utc(t: NaiveDateTime, source: DateSource) -> CaptureDate {
        CaptureDate { local: t, offset: FixedOffset::east_opt(0), utc_only: true, source, offset_from: None }
    }

    /// This UTC-only time seen at another offset (a Live Photo's sibling photo).
    pub fn at_offset(&self, offset: FixedOffset) -> CaptureDate {
        let utc = self.local
            - self.offset.map(|o| chrono::Duration::seconds(i64::from(o.local_minus_utc()))).unwrap_or_default();
        CaptureDate {
            local: utc + chrono::Duration::seconds(i64::from(offset.local_minus_utc())),
            offset: Some(offset),
            utc_only: false,
            source: self.source,
            offset_from: self.offset_from,
        }
    }
}

/// Parses an EXIF-style date-time: `2021:04:11 15:47:53`, also with `-`
/// separators or a `T`, trailing sub-seconds or an offset ignored. All-zero
/// or blank dates and impossible values give `None`.
pub fn parse_exif_datetime(s: &str) -> Option<NaiveDateTime> {
    let nums: Vec<u32> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .take(6)
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [y, mo, d, h, mi, se] = nums.as_slice() else {
        return None;
    };
    let year = i32::try_from(*y).ok()?;
    if !(1800..=2200).contains(&year) {
        return None;
    }
    chrono::NaiveDate::from_ymd_opt(year, *mo, *d)?.and_hms_opt(*h, *mi, (*se).min(59))
}

/// Parses a UTC offset: `+01:00`, `-0500`, `+02`, `Z`.
pub fn parse_offset(s: &str) -> Option<FixedOffset> {
    let s = s.trim().trim_end_matches('\0');
    if s == "Z" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (digits[..2].parse::<i32>().ok()?, digits[2..].parse::<i32>().ok()?),
        _ => return None,
    };
    if h > 14 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// Parses an ISO 8601 date-time with an optional offset, as QuickTime
/// writes them (`2019-07-24T11:25:40+0300`). A bare year or date is refused:
/// it is not precise enough to file by.
pub fn parse_iso_datetime(s: &str) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let s = s.trim().trim_end_matches('\0');
    if s.len() < 19 {
        return None;
    }
    let local = parse_exif_datetime(s.get(..19)?)?;
    let mut rest = s.get(19..)?;
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = if rest.is_empty() { None } else { Some(parse_offset(rest)?) };
    Some((local, offset))
}

/// A date in a file name: `IMG_20230514_123456`, `PXL_20230514_123456789`,
/// `IMG-20230514-WA0001` (date only), `VID_…`, `Screenshot_2023-05-14-12-34-56`,
/// `2023-05-14 12.34.56`. Years 1990–2100 and real dates only.
pub fn date_from_name(name: &str) -> Option<NaiveDateTime> {
    let b = name.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let num = |i: usize, n: usize| -> Option<u32> {
        (0..n).all(|k| digit(i + k)).then(|| std::str::from_utf8(&b[i..i + n]).ok()?.parse().ok())?
    };
    let is_sep = |i: usize, seps: &[u8]| b.get(i).is_some_and(|c| seps.contains(c));
    for start in 0..b.len() {
        if !digit(start) || (start > 0 && digit(start - 1)) {
            continue;
        }
        let Some(year) = num(start, 4) else { continue };
        if !(1990..=2100).contains(&year) {
            continue;
        }
        let mut i = start + 4;
        let date_sep = is_sep(i, b"-_.");
        if date_sep {
            i += 1;
        }
        let Some(month) = num(i, 2) else { continue };
        i += 2;
        if date_sep {
            if !is_sep(i, b"-_.") {
                continue;
            }
            i += 1;
        }
        let Some(day) = num(i, 2) else { continue };
        i += 2;
        let Some(date) = chrono::NaiveDate::from_ymd_opt(year as i32, month, day) else {
            continue;
        };
        // An optional time: separator, HH, MM, SS with optional separators.
        let mut t = i;
        if is_sep(t, b"-_. T") {
            t += 1;
            if b.get(t..t + 3) == Some(b"at ") {
                t += 3; // "Screenshot 2023-05-14 at 12.34.56"
            }
            if let Some(h) = num(t, 2) {
                let mut k = t + 2;
                let time_sep = is_sep(k, b"-_.:");
                if time_sep {
                    k += 1;
                }
                if let Some(mi) = num(k, 2) {
                    k += 2;
                    if time_sep {
                        k += usize::from(is_sep(k, b"-_.:"));
                    }
                    if let Some(se) = num(k, 2) {
                        if let Some(time) = chrono::NaiveTime::from_hms_opt(h, mi, se) {
                            return Some(date.and_time(time));
                        }
                    }
                }
            }
        }
        // Date only: must not run on into more digits (IMG_20230514123 is not a date).
        if digit(i) {
            continue;
        }
        return date.and_hms_opt(0, 0, 0);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn exif_dates_parse_and_blank_or_zero_dates_do_not() {
        assert_eq!(parse_exif_datetime("2021:04:11 15:47:53"), Some(dt("2021-04-11 15:47:53")));
        assert_eq!(parse_exif_datetime("2021-04-11T15:47:53.123"), Some(dt("2021-04-11 15:47:53")));
        assert_eq!(parse_exif_datetime("0000:00:00 00:00:00"), None);
        assert_eq!(parse_exif_datetime("    :  :     :  :  "), None);
        assert_eq!(parse_exif_datetime("2021:02:30 10:00:00"), None);
    }

    #[test]
    fn offsets_parse_in_every_spelling() {
        assert_eq!(parse_offset("-05:00"), FixedOffset::west_opt(5 * 3600));
        assert_eq!(parse_offset("+0300"), FixedOffset::east_opt(3 * 3600));
        assert_eq!(parse_offset("+02"), FixedOffset::east_opt(2 * 3600));
        assert_eq!(parse_offset("Z"), FixedOffset::east_opt(0));
        assert_eq!(parse_offset("   :  "), None);
    }

    #[test]
    fn quicktime_iso_dates_need_a_time() {
        let (t, o) = parse_iso_datetime("2019-07-24T11:25:40+0300").unwrap();
        assert_eq!((t, o), (dt("2019-07-24 11:25:40"), FixedOffset::east_opt(3 * 3600)));
        assert_eq!(parse_iso_datetime("2010"), None);
        assert_eq!(parse_iso_datetime("2020-11-20T15:04:02").unwrap().1, None);
    }

    #[test]
    fn phone_file_names_give_dates() {
        let cases = [
            ("IMG_20230514_123456.jpg", "2023-05-14 12:34:56"),
            ("PXL_20230514_123456789.jpg", "2023-05-14 12:34:56"),
            ("IMG-20230514-WA0001.jpg", "2023-05-14 00:00:00"),
            ("VID_20230514_123456.mp4", "2023-05-14 12:34:56"),
            ("Screenshot_2023-05-14-12-34-56.png", "2023-05-14 12:34:56"),
            ("Screenshot 2023-05-14 at 12.34.56.png", "2023-05-14 12:34:56"),
            ("2023-05-14 12.34.56.jpg", "2023-05-14 12:34:56"),
            ("20230514_123456.jpg", "2023-05-14 12:34:56"),
            ("signal-2023-05-14-123456.jpg", "2023-05-14 12:34:56"),
        ];
        for (name, want) in cases {
            assert_eq!(date_from_name(name), Some(dt(want)), "{name}");
        }
        for name in [
            "IMG_1234.jpg",
            "DSC_20001.jpg",
            "IMG_20231345_120000.jpg",
            "photo_18000101.jpg",
            "12345678901234.jpg",
            "IMG_20230230.jpg",
        ] {
            assert_eq!(date_from_name(name), None, "{name}");
        }
    }
}
