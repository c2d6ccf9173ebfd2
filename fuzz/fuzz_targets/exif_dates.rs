//! `cargo +nightly fuzz run exif_dates fuzz/corpus/exif_dates` (from the crate root). EXIF from memory
//! (`exif::read_bytes`) and from a file (`exif::read`, for the kinds only it handles), XMP dates and
//! kind sniffing. None may panic; dates are real (years 1800–2200, offsets within ±14:59),
//! orientation is 1–8, make/model are trimmed and non-empty, and reading a JPEG's EXIF from a
//! file gives what reading the same bytes from memory gives.
#![no_main]

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::FromRawFd;
use std::sync::{Mutex, MutexGuard, OnceLock};

use chrono::{Datelike, FixedOffset, NaiveDateTime};
use clean_backup::media::{exif, sniff, xmp, Kind};
use libfuzzer_sys::fuzz_target;

/// One in-memory file per process, rewritten with each input.
fn mem_file(data: &[u8]) -> MutexGuard<'static, File> {
    static FILE: OnceLock<Mutex<File>> = OnceLock::new();
    let file = FILE.get_or_init(|| {
        // SAFETY: a fresh fd that nothing else owns.
        let fd = unsafe { libc::memfd_create(c"exif_dates".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
        Mutex::new(unsafe { File::from_raw_fd(fd) })
    });
    let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
    f.set_len(0).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(data).unwrap();
    f
}

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
