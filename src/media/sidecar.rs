//! Dates in the files that travel beside a photo: an XMP sidecar
//! (`NAME.EXT.xmp` or `NAME.xmp`) and Google Takeout's JSON
//! (`NAME.EXT.json`, `NAME.EXT.supplemental-metadata.json`, the names
//! Takeout cuts to 51 characters, and the `(1)` forms it writes for
//! `NAME(1).EXT`). Each is opened like any user file ([`super::open`]): no
//! link followed, regular files only.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use super::date::{CaptureDate, DateSource};

/// What a sidecar says: the date, and a GPS position when it has one (Takeout's geoData).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SidecarDate {
    /// The date, its source [`DateSource::XmpSidecar`] or [`DateSource::Takeout`].
    pub date: CaptureDate,
    /// (latitude, longitude) in signed degrees.
    pub gps: Option<(f64, f64)>,
}

/// Sidecars are small; anything bigger is not one.
const MAX_SIDECAR: u64 = 4 << 20;

/// Takeout keeps a JSON file's name to 51 characters, `.json` included.
const TAKEOUT_NAME_MAX: usize = 51;

/// The date in a sidecar of `path`: the XMP sidecar first, then Takeout's JSON.
pub fn sidecar_date(path: &Path) -> Option<SidecarDate> {
    let xmp = xmp_names(path).into_iter().find_map(|p| {
        let (t, o) = super::xmp::xmp_date(&read_small(&p)?)?;
        let utc_only = o.is_some_and(|o| o.local_minus_utc() == 0);
        Some(CaptureDate { utc_only, ..CaptureDate::local(t, o, DateSource::XmpSidecar) })
    });
    let takeout = takeout_names(path).into_iter().find_map(|p| takeout_json(&read_small(&p)?));
    match (xmp, takeout) {
        (Some(date), t) => Some(SidecarDate { date, gps: t.and_then(|t| t.gps) }),
        (None, t) => t,
    }
}

/// A sidecar's bytes, if it is there, a regular file reached without a link, and small.
fn read_small(path: &Path) -> Option<Vec<u8>> {
    let opened = super::open(path).ok()?;
    if opened.meta.len() > MAX_SIDECAR {
        return None;
    }
    let mut data = Vec::new();
    opened.file.take(MAX_SIDECAR).read_to_end(&mut data).ok()?;
    Some(data)
}

fn with_name(path: &Path, name: OsString) -> PathBuf {
    path.with_file_name(name)
}

/// `IMG.JPG.xmp`, `IMG.xmp` and their upper-case spellings.
fn xmp_names(path: &Path) -> Vec<PathBuf> {
    let Some(name) = path.file_name() else { return Vec::new() };
    let mut out = Vec::new();
    for ext in [".xmp", ".XMP"] {
        let mut n = name.to_os_string();
        n.push(ext);
        out.push(with_name(path, n));
    }
    if let Some(stem) = path.file_stem().filter(|s| *s != name) {
        for ext in ["xmp", "XMP"] {
            out.push(path.with_file_name(stem).with_extension(ext));
        }
    }
    out
}

/// The names Takeout gives the JSON of `path`, most likely first.
fn takeout_names(path: &Path) -> Vec<PathBuf> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return Vec::new() };
    let mut bases = vec![(name.to_string(), String::new())];
    // `IMG(1).JPG` → `IMG.JPG(1).json`: the counter goes after the extension.
    if let Some((stem, ext)) = name.rsplit_once('.') {
        if let Some(open) = stem.rfind('(').filter(|_| stem.ends_with(')')) {
            let counter = &stem[open..];
            if counter.len() > 2 && counter[1..counter.len() - 1].bytes().all(|b| b.is_ascii_digit()) {
                bases.push((format!("{}.{ext}", &stem[..open]), counter.to_string()));
            }
        }
        // An edited copy shares the original's JSON.
        if let Some(orig) = stem.strip_suffix("-edited") {
            bases.push((format!("{orig}.{ext}"), String::new()));
        }
    }
    let mut out = Vec::new();
    for (base, counter) in &bases {
        for suffix in ["", ".supplemental-metadata"] {
            let full = format!("{base}{suffix}");
            let keep = TAKEOUT_NAME_MAX - ".json".len() - counter.len();
            let mut cut = full.clone();
            if cut.len() > keep {
                let mut end = keep;
                while !cut.is_char_boundary(end) {
                    end -= 1;
                }
                cut.truncate(end);
            }
            for stem in [&full, &cut] {
                let p = path.with_file_name(format!("{stem}{counter}.json"));
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Takeout's `photoTakenTime.timestamp` (UTC seconds, a string or a number)
/// and `geoData` (0/0 means none; `geoDataExif` as a fallback).
pub fn takeout_json(data: &[u8]) -> Option<SidecarDate> {
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    let ts = &v.get("photoTakenTime")?["timestamp"];
    let secs = ts.as_i64().or_else(|| ts.as_str()?.trim().parse().ok())?;
    if secs <= 0 {
        return None;
    }
    let t: NaiveDateTime = chrono::DateTime::from_timestamp(secs, 0)?.naive_utc();
    let geo = |key: &str| -> Option<(f64, f64)> {
        let g = v.get(key)?;
        let (lat, lon) = (g.get("latitude")?.as_f64()?, g.get("longitude")?.as_f64()?);
        let valid = lat.abs() <= 90.0 && lon.abs() <= 180.0 && (lat != 0.0 || lon != 0.0);
        valid.then_some((lat, lon))
    };
    Some(SidecarDate {
        date: CaptureDate::utc(t, DateSource::Takeout),
        gps: geo("geoData").or_else(|| geo("geoDataExif")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &str) -> Vec<String> {
        takeout_names(Path::new(p)).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn takeout_json_names_cover_the_cut_and_counted_forms() {
        let n = names("/d/IMG.JPG");
        assert_eq!(n[..2], ["IMG.JPG.json".to_string(), "IMG.JPG.supplemental-metadata.json".to_string()]);
        assert!(names("/d/IMG(1).JPG").contains(&"IMG.JPG(1).json".to_string()));
        assert!(names("/d/IMG(1).JPG").contains(&"IMG.JPG.supplemental-metadata(1).json".to_string()));
        let long = "PXL_20230601_033000123.NIGHT.RAW-01.MP.COVER.jpg";
        let n = names(&format!("/d/{long}"));
        assert!(n.iter().all(|n| n.len() <= 51 || n.starts_with(long)), "{n:?}");
        assert!(n.contains(&"PXL_20230601_033000123.NIGHT.RAW-01.MP.COVER.jpg.json".to_string()));
        let cut: Vec<_> = n.iter().filter(|n| n.len() == 51).collect();
        assert!(!cut.is_empty(), "{n:?}");
        assert!(names("/d/IMG-edited.jpg").contains(&"IMG.jpg.json".to_string()));
    }

    #[test]
    fn takeout_timestamps_are_utc_and_geodata_zero_is_none() {
        let j =
            br#"{"photoTakenTime": {"timestamp": "1685590200"}, "geoData": {"latitude": 34.05, "longitude": -118.24}}"#;
        let s = takeout_json(j).unwrap();
        assert_eq!(s.date.to_rfc3339(), "2023-06-01T03:30:00Z");
        assert_eq!(s.gps, Some((34.05, -118.24)));
        let j = br#"{"photoTakenTime": {"timestamp": 1685590200}, "geoData": {"latitude": 0.0, "longitude": 0.0}}"#;
        assert_eq!(takeout_json(j).unwrap().gps, None);
        assert_eq!(takeout_json(br#"{"title": "x"}"#), None);
        assert_eq!(takeout_json(b"not json"), None);
    }
}
