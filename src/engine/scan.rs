//! Walking a source folder: which entries are candidates, which are skipped.

use std::path::{Path, PathBuf};

use crate::access::{Access, Want};

/// An entry found under the source.
#[derive(Debug, Clone)]
pub enum Found {
    /// A regular file to look at.
    File(PathBuf),
    /// Left alone, with the reason (hidden, sync temp file, symlink).
    Skipped(PathBuf, &'static str),
    /// Could not be read (a folder without permission, ...).
    Error(PathBuf, String),
}

/// Why a file name is never touched, or `None` if it may be.
///
/// Hidden files, and the temp files of sync tools that are still being
/// written: Syncthing `.syncthing.*.tmp`, browsers' and rsync's `*.part`,
/// Chrome's `*.crdownload`, Office's `~$*`, and our own `.clean-backup-*`.
pub fn skip_reason(name: &[u8]) -> Option<&'static str> {
    let ends =
        |suffix: &[u8]| name.len() >= suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix);
    if name.starts_with(b".syncthing.") || name.starts_with(b"~syncthing~") {
        Some("a Syncthing temp file")
    } else if name.starts_with(b".") {
        Some("a hidden file")
    } else if ends(b".part") || ends(b".partial") || ends(b".crdownload") || ends(b".tmp") {
        Some("a partial download or temp file")
    } else if name.starts_with(b"~$") {
        Some("an editor's lock file")
    } else {
        None
    }
}

/// Lists the entries under `root`, never following symlinks and skipping
/// hidden folders. Results are sorted for a stable order.
pub fn scan(root: &Path) -> Vec<Found> {
    scan_as(root, None)
}

/// [`scan`] for a caller who is not the daemon's user: folders it may not
/// list, and files it may not read (or, for a job that moves or deletes,
/// not remove from their folder), are reported as errors and left alone,
/// so the daemon never lends its rights to the caller.
pub fn scan_as(root: &Path, access: Option<&Access>) -> Vec<Found> {
    let mut out = Vec::new();
    scan_each(root, access, &mut |f| out.push(f));
    out
}

/// [`scan_as`], handing each entry to `each` as it is found instead of
/// collecting them: a library of a million files is walked without a
/// million paths in memory.
pub fn scan_each(root: &Path, access: Option<&Access>, each: &mut dyn FnMut(Found)) {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Each(each);
    let mut walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_type().is_dir() || !e.file_name().as_bytes().starts_with(b"."));
    while let Some(entry) = walker.next() {
        match entry {
            Ok(e) => {
                let ft = e.file_type();
                if ft.is_dir() {
                    if let Some(a) = access {
                        let listable = e.metadata().is_ok_and(|m| a.may(&m, Want::List));
                        if !listable {
                            out.push(Found::Error(e.path().to_path_buf(), a.denied(e.path(), "list")));
                            walker.skip_current_dir();
                        }
                    }
                    continue;
                }
                let path = e.into_path();
                let name = path.file_name().map(|n| n.as_bytes()).unwrap_or_default();
                if ft.is_symlink() {
                    out.push(Found::Skipped(path, "a symbolic link (never followed)"));
                } else if !ft.is_file() {
                    out.push(Found::Skipped(path, "not a regular file"));
                } else if let Some(why) = skip_reason(name) {
                    out.push(Found::Skipped(path, why));
                } else if let Some(why) = access.and_then(|a| refusal(a, &path)) {
                    out.push(Found::Error(path, why));
                } else {
                    out.push(Found::File(path));
                }
            }
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf());
                let why = match e.io_error() {
                    Some(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
                        "permission denied; its files were not looked at (fix its permissions and run again)"
                            .to_string()
                    }
                    Some(io) => io.to_string(),
                    None => e.to_string(),
                };
                out.push(Found::Error(path, why));
            }
        }
    }
}

/// Files (not links, not in hidden folders) under `root`, counted from
/// the folder listings alone: the total a progress bar shows before the
/// walk that looks at each of them.
pub fn count_files(root: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_type().is_dir() || !e.file_name().as_bytes().starts_with(b"."))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && skip_reason(e.file_name().as_bytes()).is_none())
        .count() as u64
}

/// Lets the walk `push` to a callback as it did to a `Vec`.
struct Each<'a>(&'a mut dyn FnMut(Found));

impl Each<'_> {
    fn push(&mut self, f: Found) {
        (self.0)(f)
    }
}

/// Why the caller may not have this file handled, if it may not.
fn refusal(a: &Access, path: &Path) -> Option<String> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Some(format!("{}: gone while it was looked at", path.display()));
    };
    if !a.may(&meta, Want::Read) {
        return Some(a.denied(path, "read"));
    }
    if a.write && !a.may_remove(path, &meta) {
        return Some(a.denied(path, "move or delete"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_tool_temp_files_and_hidden_files_are_skipped() {
        for name in
            [".syncthing.IMG_1.jpg.tmp", ".DS_Store", "IMG_1.jpg.part", "v.mp4.crdownload", "~$doc.docx", "x.TMP"]
        {
            assert!(skip_reason(name.as_bytes()).is_some(), "{name}");
        }
        for name in ["IMG_1.jpg", "party.jpg", "tmp.jpg"] {
            assert!(skip_reason(name.as_bytes()).is_none(), "{name}");
        }
    }

    #[test]
    fn symlinks_are_reported_not_followed() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.jpg"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), t.path().join("link")).unwrap();
        std::fs::write(t.path().join("a.jpg"), b"y").unwrap();
        let found = scan(t.path());
        assert_eq!(found.len(), 2);
        assert!(matches!(&found[0], Found::File(p) if p.ends_with("a.jpg")));
        assert!(matches!(&found[1], Found::Skipped(p, _) if p.ends_with("link")));
    }
}
