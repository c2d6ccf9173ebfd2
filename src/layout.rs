//! The `layout` template: capture date (and camera) to a relative folder.
//!
//! Fields: `{year}`, `{month}`, `{month:02}`, `{month_name}` (English whatever
//! the locale), `{day}`, `{day:02}`, `{camera}`. Anything else is an error at
//! load time, so a typo never files a library into a folder named `{yaer}`.
//!
//! A file whose only date is its mtime (nothing in the file or its name)
//! goes by a second template, `layout_undated` (default `undated`), so it
//! does not mix with dated photos under a month it may not belong to.

use std::path::PathBuf;

use chrono::{Datelike, NaiveDateTime};

use crate::media::date::{CaptureDate, DateSource};

/// The default `layout_undated`: one folder for every file with no date of its own.
pub const DEFAULT_UNDATED: &str = "undated";

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A parsed layout template, with the template for undated files
/// ([`DEFAULT_UNDATED`] unless [`Layout::with_undated`] sets another).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    parts: Vec<Part>,
    undated: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Year,
    Month { pad: bool },
    MonthName,
    Day { pad: bool },
    Camera,
}

/// A template that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("layout {template:?}: {reason}")]
pub struct LayoutError {
    /// The template as given.
    pub template: String,
    /// What is wrong with it (an unclosed `{`, an unknown field, an absolute path, ...).
    pub reason: String,
}

impl Layout {
    /// Parses a template such as `{year}/{month:02}`; undated files go to
    /// [`DEFAULT_UNDATED`].
    pub fn parse(template: &str) -> Result<Layout, LayoutError> {
        Ok(Layout { parts: parse_parts(template)?, undated: vec![Part::Lit(DEFAULT_UNDATED.to_string())] })
    }

    /// This layout with `template` (same syntax as [`Layout::parse`]) for the
    /// files whose only date is their mtime: `layout_undated`.
    pub fn with_undated(self, template: &str) -> Result<Layout, LayoutError> {
        Ok(Layout { undated: parse_parts(template)?, ..self })
    }

    /// The relative folder a file goes to: by the undated template when its
    /// only date is the file's mtime, else by the layout ([`Layout::render`]).
    pub fn folder(&self, taken: &CaptureDate, camera: Option<&str>) -> PathBuf {
        let parts = if taken.source == DateSource::Mtime { &self.undated } else { &self.parts };
        render_parts(parts, taken.local, camera)
    }

    /// The relative folder for a date and camera. Camera names are made safe
    /// for a path (no `/`, no leading dot); a missing camera is "Unknown camera".
    pub fn render(&self, taken: NaiveDateTime, camera: Option<&str>) -> PathBuf {
        render_parts(&self.parts, taken, camera)
    }
}

/// The parts of a template, or why it cannot be used.
fn parse_parts(template: &str) -> Result<Vec<Part>, LayoutError> {
    let err = |reason: String| LayoutError { template: template.to_string(), reason };
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Lit(rest[..open].to_string()));
        }
        let close = rest[open..].find('}').ok_or_else(|| err("a `{` is never closed".into()))? + open;
        let field = &rest[open + 1..close];
        parts.push(match field {
            "year" => Part::Year,
            "month" => Part::Month { pad: false },
            "month:02" => Part::Month { pad: true },
            "month_name" => Part::MonthName,
            "day" => Part::Day { pad: false },
            "day:02" => Part::Day { pad: true },
            "camera" => Part::Camera,
            other => return Err(err(unknown_field(other))),
        });
        rest = &rest[close + 1..];
    }
    if rest.contains('}') {
        return Err(err("a `}` has no matching `{`".into()));
    }
    if !rest.is_empty() {
        parts.push(Part::Lit(rest.to_string()));
    }
    let lits: String =
        parts.iter().filter_map(|p| if let Part::Lit(s) = p { Some(s.as_str()) } else { None }).collect();
    if template.starts_with('/') || lits.split('/').any(|c| c == "..") {
        return Err(err("must be a relative path without `..`".into()));
    }
    Ok(parts)
}

/// A template's folder for a date and camera.
fn render_parts(parts: &[Part], taken: NaiveDateTime, camera: Option<&str>) -> PathBuf {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Lit(s) => out.push_str(s),
            Part::Year => out.push_str(&format!("{:04}", taken.year())),
            Part::Month { pad: true } => out.push_str(&format!("{:02}", taken.month())),
            Part::Month { pad: false } => out.push_str(&taken.month().to_string()),
            Part::MonthName => out.push_str(MONTHS[taken.month0() as usize]),
            Part::Day { pad: true } => out.push_str(&format!("{:02}", taken.day())),
            Part::Day { pad: false } => out.push_str(&taken.day().to_string()),
            Part::Camera => out.push_str(&safe_component(camera.unwrap_or("Unknown camera"))),
        }
    }
    // A folder name that is `..` (a camera named ". ." after a literal dot) never climbs out.
    out.split('/').filter(|c| !c.is_empty() && *c != ".").map(|c| if c == ".." { "_" } else { c }).collect()
}

fn unknown_field(name: &str) -> String {
    format!("unknown field `{{{name}}}`; use {{year}}, {{month:02}}, {{month_name}}, {{day:02}} or {{camera}}")
}

fn safe_component(s: &str) -> String {
    let cleaned: String = s.chars().map(|c| if c == '/' || c == '\\' || c.is_control() { '_' } else { c }).collect();
    let trimmed = cleaned.trim_start_matches(|c: char| c == '.' || c.is_whitespace()).trim_end();
    if trimmed.is_empty() {
        "Unknown camera".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn no_camera_name_makes_a_folder_outside_the_library() {
        let l = Layout::parse(".{camera}/x").unwrap();
        for camera in [". .", "..", " . . /..", "./../.."] {
            let p = l.render(at("2023-05-14 12:00:00"), Some(camera));
            assert!(p.components().all(|c| matches!(c, std::path::Component::Normal(_))), "{camera:?} -> {p:?}");
        }
    }

    #[test]
    fn default_layout_gives_year_and_padded_month() {
        let l = Layout::parse("{year}/{month:02}").unwrap();
        assert_eq!(l.render(at("2021-04-11 15:47:53"), None), PathBuf::from("2021/04"));
    }

    #[test]
    fn month_names_are_english_and_camera_is_sanitised() {
        let l = Layout::parse("{camera}/{year}/{month_name}/{day:02}").unwrap();
        assert_eq!(
            l.render(at("2022-02-06 01:00:00"), Some("Canon/EOS 40D")),
            PathBuf::from("Canon_EOS 40D/2022/February/06")
        );
        assert_eq!(l.render(at("2022-12-31 01:00:00"), Some("..")), PathBuf::from("Unknown camera/2022/December/31"));
    }

    #[test]
    fn files_dated_only_by_their_mtime_go_by_the_undated_template() {
        let date = |source| CaptureDate::local(at("2023-05-14 12:00:00"), None, source);
        let l = Layout::parse("{year}/{month:02}").unwrap();
        assert_eq!(l.folder(&date(DateSource::Mtime), None), PathBuf::from("undated"));
        assert_eq!(l.folder(&date(DateSource::Filename), None), PathBuf::from("2023/05"));
        assert_eq!(l.folder(&date(DateSource::Exif), None), PathBuf::from("2023/05"));
        let l = l.with_undated("{year}/no date").unwrap();
        assert_eq!(l.folder(&date(DateSource::Mtime), None), PathBuf::from("2023/no date"));
        assert!(Layout::parse("{year}").unwrap().with_undated("{yaer}").is_err());
    }

    #[test]
    fn unknown_fields_and_escapes_are_refused() {
        assert!(Layout::parse("{yaer}/{month}").unwrap_err().reason.contains("{yaer}"));
        assert!(Layout::parse("/{year}").is_err());
        assert!(Layout::parse("../{year}").is_err());
        assert!(Layout::parse("{year").is_err());
    }
}
