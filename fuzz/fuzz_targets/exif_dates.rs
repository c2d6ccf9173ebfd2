//! `cargo +nightly fuzz run exif_dates fuzz/corpus/exif_dates` (from the crate root). EXIF from memory
//! (`exif::read_bytes`) and from a file (`exif::read`, for the kinds only it handles), XMP dates and
//! kind sniffing. None may panic; dates are real (years 1800–2200, offsets within ±14:59),
//! orientation is 1–8, make/model are trimmed and non-empty, and reading a JPEG's EXIF from a
//! file gives what reading the same bytes from memory gives.
#![no_main]


use chrono::{Datelike, FixedOffset, NaiveDateTime};
use clean_backup::media::{exif, sniff, xmp, Kind};
use libfuzzer_sys::fuzz_target;

#[path = "shared/mem_file.rs"]
mod shared;
use shared::mem_file;

fn check_date(what: &str, d: &Option<(NaiveDateTime, Option<FixedOffset>)>) {
    if let Some((t, o)) = d {
        assert!((1800..=2200).contains(&t.year()), "{what}: year of {t}");
        if let Some(o) = o {
            assert!(o.local_minus_utc().abs() <= 14 * 3600 + 59 * 60, "{what}: offset {o}");
        }
    }
}

fn check_fields(kind: Kind, f: &Option<exif::ExifFields>) {
    let Some(f) = f else { return };
    check_date("DateTimeOriginal", &f.original);
    check_date("CreateDate", &f.create);
    if let Some(o) = f.orientation {
        assert!((1..=8).contains(&o), "{kind:?}: orientation {o}");
    }
    for s in [&f.make, &f.model].into_iter().flatten() {
        assert!(!s.is_empty() && s.trim_matches(|c: char| c == '\0' || c.is_whitespace()) == s, "{kind:?}: {s:?}");
    }
    if f.make.is_some() || f.model.is_some() {
        assert!(f.camera().is_some_and(|c| !c.is_empty()));
    }
}

fuzz_target!(|data: &[u8]| {
    let sniffed = sniff::sniff_bytes(data);
    if let Some(k) = sniffed {
        assert_eq!(Kind::from_name(k.name()), Some(k));
    }
    assert!(!sniff::describe(data).is_empty());

    check_date("xmp", &xmp::xmp_date(data));

    let mut in_memory = None;
    for kind in [Kind::Jpeg, Kind::Tiff, Kind::Png, Kind::Webp, Kind::Heif] {
        let f = exif::read_bytes(data, kind);
        check_fields(kind, &f);
        if kind == Kind::Jpeg {
            in_memory = Some(f);
        }
    }

    let mut file = mem_file(data);
    let len = data.len() as u64;
    let mut kinds = vec![Kind::Jpeg, Kind::Heif, Kind::Raf, Kind::Rw2, Kind::Cr3];
    if let Some(k) = sniffed.filter(|k| !kinds.contains(k)) {
        kinds.push(k);
    }
    for kind in kinds {
        let f = exif::read(&mut file, kind, len);
        check_fields(kind, &f);
        if kind == Kind::Jpeg {
            assert_eq!(format!("{f:?}"), format!("{:?}", in_memory.as_ref().unwrap()), "file and memory EXIF differ");
        }
    }
});
