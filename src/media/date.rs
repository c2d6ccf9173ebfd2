//! Capture date extraction.

use chrono::{FixedOffset, NaiveDateTime};

/// Which source gave a capture date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DateSource {
    /// EXIF DateTimeOriginal (with OffsetTimeOriginal when present).
    Exif,
    /// EXIF CreateDate (DateTimeDigitized) or DateTime.
    ExifCreate,
    /// QuickTime `com.apple.quicktime.creationdate` (local time with offset).
    Quicktime,
    /// QuickTime/MP4 `mvhd` creation_time (UTC).
    Mvhd,
    /// Another container's own date (Matroska DateUTC, AVCHD MDPM, ...).
    Container,
    /// A date in the file name.
    Filename,
    /// The file's modification time.
    Mtime,
}

impl DateSource {
    /// The name printed by `cbctl date` ("exif", "quicktime", "mvhd", "filename", "mtime", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DateSource::Exif => "exif",
            DateSource::ExifCreate => "exif-create",
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

    /// This UTC-only time seen at another offset (a Live Photo's sibling photo).
    pub fn at_offset(&self, offset: FixedOffset) -> CaptureDate {
        let utc = self.local - self.offset.map(|o| chrono::Duration::seconds(i64::from(o.local_minus_utc()))).unwrap_or_default();
        CaptureDate {
            local: utc + chrono::Duration::seconds(i64::from(offset.local_minus_utc())),
            offset: Some(offset),
            utc_only: false,
            source: self.source,
        }
    }
}
