//! The only code that touches user files.
//!
//! Every function here keeps three promises: a file is never overwritten
//! (renames use `RENAME_NOREPLACE` or a hard link, never a plain rename over
//! a name), a copy is verified (size + blake3) before it takes its final
//! name, and data and directory entries are fsync'd before the caller is told
//! an operation is done, so the journal never runs ahead of the disk.

use std::ffi::OsString;
use std::fs::{self, File, FileTimes};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A file operation failed; every variant names the path and the operation.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// An I/O call failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The destination name is taken (we never overwrite).
    #[error("{0}: already exists; clean-backup never overwrites a file")]
    Exists(PathBuf),
    /// A file's content is not what the journal says it should be.
    #[error("{path}: content changed (expected blake3 {expected}, found {found})")]
    Changed { path: PathBuf, expected: String, found: String },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FsError + 'a {
    move |source| FsError::Io { op, path: path.to_path_buf(), source }
}

/// Size and blake3 of a file's content: what the journal records and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// Length in bytes.
    pub size: u64,
    /// blake3 of the content.
    pub hash: blake3::Hash,
}

impl Fingerprint {
    /// The fingerprint of bytes in memory.
    pub fn of(data: &[u8]) -> Fingerprint {
        Fingerprint { size: data.len() as u64, hash: blake3::hash(data) }
    }

    /// The hash as 64 hex digits.
    pub fn hex(&self) -> String {
        self.hash.to_hex().to_string()
    }
}

/// Reads a whole file and returns its size and blake3.
pub fn fingerprint(path: &Path) -> Result<Fingerprint, FsError> {
    let mut file = File::open(path).map_err(io_err("open", path))?;
    fingerprint_reader(&mut file).map_err(io_err("read", path))
}

fn fingerprint_reader(reader: &mut impl Read) -> io::Result<Fingerprint> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(Fingerprint { size, hash: hasher.finalize() })
}

/// True when `path` exists and has exactly this content.
pub fn has_content(path: &Path, expected: &Fingerprint) -> Result<bool, FsError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() == expected.size => Ok(fingerprint(path)?.hash == expected.hash),
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("stat", path)(e)),
    }
}

/// True if anything (file, dir, dangling symlink) has this name.
pub fn exists(path: &Path) -> Result<bool, FsError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("stat", path)(e)),
    }
}

/// The directories that `create_dirs(dir)` would create, outermost first.
pub fn missing_dirs(dir: &Path) -> Result<Vec<PathBuf>, FsError> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || exists(d)? {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    missing.reverse();
    Ok(missing)
}

/// Creates `dir` and its missing parents.
pub fn create_dirs(dir: &Path) -> Result<(), FsError> {
    fs::create_dir_all(dir).map_err(io_err("create folder", dir))
}

/// Removes `dir` if it is an empty directory; returns whether it did.
pub fn remove_dir_if_empty(dir: &Path) -> Result<bool, FsError> {
    match fs::remove_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty || e.raw_os_error() == Some(libc::ENOTEMPTY) => {
            Ok(false)
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(false),
        Err(e) => Err(io_err("remove folder", dir)(e)),
    }
}

/// True when both paths' folders are on one filesystem (so a rename works).
pub fn same_filesystem(a: &Path, b: &Path) -> Result<bool, FsError> {
    let dev = |p: &Path| -> Result<u64, FsError> {
        let probe = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::metadata(probe).map(|m| m.dev()).map_err(io_err("stat", probe))
    };
    Ok(dev(a)? == dev(b)?)
}

/// What is at a candidate destination name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// Nothing: the file can take this name.
    Free(PathBuf),
    /// A file with identical content already has a name tried: an exact duplicate.
    Identical(PathBuf),
}

/// Picks the destination for a file named `name` in `dir`: the name itself,
/// else `stem (1).ext`, `stem (2).ext`, ... A taken name whose content is
/// identical to `fp` is reported as an exact duplicate instead.
/// `reserved` gives the content promised to a name by an operation not yet
/// carried out (a batch, a dry run's plan).
pub fn choose_slot(
    dir: &Path,
    name: &std::ffi::OsStr,
    fp: &Fingerprint,
    reserved: &dyn Fn(&Path) -> Option<Fingerprint>,
) -> Result<Slot, FsError> {
    for n in 0u32..10_000 {
        let candidate = dir.join(numbered_name(name, n));
        if let Some(promised) = reserved(&candidate) {
            if promised == *fp {
                return Ok(Slot::Identical(candidate));
            }
            continue;
        }
        if !exists(&candidate)? {
            return Ok(Slot::Free(candidate));
        }
        if has_content(&candidate, fp)? {
            return Ok(Slot::Identical(candidate));
        }
    }
    Err(FsError::Exists(dir.join(name)))
}

/// `IMG_1.jpg` → `IMG_1 (n).jpg` for n > 0; keeps non-UTF-8 bytes intact.
pub fn numbered_name(name: &std::ffi::OsStr, n: u32) -> OsString {
    if n == 0 {
        return name.to_os_string();
    }
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let bytes = name.as_bytes();
    let dot = bytes.iter().rposition(|&b| b == b'.').filter(|&i| i > 0);
    let (stem, ext) = match dot {
        Some(i) => bytes.split_at(i),
        None => (bytes, &b""[..]),
    };
    let mut out = stem.to_vec();
    out.extend_from_slice(format!(" ({n})").as_bytes());
    out.extend_from_slice(ext);
    OsString::from_vec(out)
}

/// The temp name used while copying to `dst` for journal op `tag`: in the
/// destination's folder, hidden, and known to recovery.
pub fn temp_path_for(dst: &Path, tag: &str) -> PathBuf {
    let dir = dst.parent().unwrap_or(Path::new("."));
    dir.join(format!(".clean-backup-{tag}.tmp"))
}

/// Renames `src` to `dst` without ever replacing `dst`.
fn rename_noreplace(src: &Path, dst: &Path) -> Result<(), FsError> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|e| io_err("rename", p)(e.into()));
        let (csrc, cdst) = (c(src)?, c(dst)?);
        // SAFETY: both are valid NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::renameat2(libc::AT_FDCWD, csrc.as_ptr(), libc::AT_FDCWD, cdst.as_ptr(), libc::RENAME_NOREPLACE)
        };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EEXIST) => return Err(FsError::Exists(dst.to_path_buf())),
            // Filesystems without RENAME_NOREPLACE: fall through to link + unlink.
            Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => {}
            _ => return Err(io_err("rename", src)(err)),
        }
    }
    match fs::hard_link(src, dst) {
        Ok(()) => fs::remove_file(src).map_err(io_err("remove", src)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(FsError::Exists(dst.to_path_buf())),
        Err(_) => {
            // No hard links either (FAT, some network shares): check, then
            // rename. The window is tiny and we are the only writer by lock.
            if exists(dst)? {
                return Err(FsError::Exists(dst.to_path_buf()));
            }
            fs::rename(src, dst).map_err(io_err("rename", src))
        }
    }
}

/// fsyncs a directory so a rename or create in it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), FsError> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    File::open(dir).and_then(|f| f.sync_all()).map_err(io_err("sync folder", dir))
}

fn parent(p: &Path) -> &Path {
    p.parent().unwrap_or(Path::new("."))
}

/// Copies `src` to `tmp` (same folder as `dst`), keeping mode and times,
/// fsyncs it, checks its content is `fp`, then gives it the name `dst`.
fn copy_verified(src: &Path, tmp: &Path, dst: &Path, fp: &Fingerprint) -> Result<(), FsError> {
    let meta = fs::metadata(src).map_err(io_err("stat", src))?;
    {
        let mut input = File::open(src).map_err(io_err("open", src))?;
        let mut out = fs::OpenOptions::new().write(true).create_new(true).open(tmp).map_err(io_err("create", tmp))?;
        io::copy(&mut input, &mut out).map_err(io_err("copy to", tmp))?;
        out.flush().map_err(io_err("write", tmp))?;
        out.set_permissions(meta.permissions()).map_err(io_err("set permissions on", tmp))?;
        let times = FileTimes::new()
            .set_modified(meta.modified().map_err(io_err("stat", src))?)
            .set_accessed(meta.accessed().map_err(io_err("stat", src))?);
        out.set_times(times).map_err(io_err("set times on", tmp))?;
        out.sync_all().map_err(io_err("sync", tmp))?;
    }
    let got = fingerprint(tmp)?;
    if got != *fp {
        let _ = fs::remove_file(tmp);
        return Err(FsError::Changed { path: src.to_path_buf(), expected: fp.hex(), found: got.hex() });
    }
    if let Err(e) = rename_noreplace(tmp, dst) {
        let _ = fs::remove_file(tmp);
        return Err(e);
    }
    Ok(())
}

/// Folders whose entries changed and must be fsync'd before the journal may
/// call the operations done. Batching them turns many fsyncs of one folder
/// into one.
#[derive(Debug, Default)]
pub struct PendingSyncs(std::collections::BTreeSet<PathBuf>);

impl PendingSyncs {
    /// Remembers that `dir` changed.
    pub fn add(&mut self, dir: &Path) {
        self.0.insert(dir.to_path_buf());
    }

    /// fsyncs every remembered folder.
    pub fn flush(&mut self) -> Result<(), FsError> {
        for dir in std::mem::take(&mut self.0) {
            sync_dir(&dir)?;
        }
        Ok(())
    }
}

/// Moves `src` to `dst` (which must not exist), on one filesystem by rename,
/// across filesystems by verified copy then removal of the source.
/// `fp` is the content the caller journaled; a source that no longer has it
/// is refused. Returns whether a copy was needed. The folders to fsync
/// before the move counts as durable are added to `syncs`.
pub fn move_file(
    src: &Path,
    dst: &Path,
    tmp: &Path,
    fp: &Fingerprint,
    syncs: &mut PendingSyncs,
) -> Result<bool, FsError> {
    if same_filesystem(src, dst)? {
        let meta = fs::symlink_metadata(src).map_err(io_err("stat", src))?;
        if meta.len() != fp.size {
            return Err(FsError::Changed {
                path: src.to_path_buf(),
                expected: fp.hex(),
                found: "a different size".into(),
            });
        }
        rename_noreplace(src, dst)?;
        syncs.add(parent(dst));
        syncs.add(parent(src));
        Ok(false)
    } else {
        copy_verified(src, tmp, dst, fp)?;
        // The copy's name must be durable before the original goes.
        sync_dir(parent(dst))?;
        fs::remove_file(src).map_err(io_err("remove", src))?;
        syncs.add(parent(src));
        Ok(true)
    }
}

/// Copies `src` to `dst` (which must not exist), verified, mode and times kept.
pub fn copy_file(
    src: &Path,
    dst: &Path,
    tmp: &Path,
    fp: &Fingerprint,
    syncs: &mut PendingSyncs,
) -> Result<(), FsError> {
    copy_verified(src, tmp, dst, fp)?;
    syncs.add(parent(dst));
    Ok(())
}

/// Removes a file after checking it still has content `fp` (used to undo a
/// copy, whose original is known to exist elsewhere).
pub fn remove_verified(path: &Path, fp: &Fingerprint, syncs: &mut PendingSyncs) -> Result<(), FsError> {
    let found = fingerprint(path)?;
    if found != *fp {
        return Err(FsError::Changed { path: path.to_path_buf(), expected: fp.hex(), found: found.hex() });
    }
    fs::remove_file(path).map_err(io_err("remove", path))?;
    syncs.add(parent(path));
    Ok(())
}

/// Removes a leftover temp file of ours (named by [`temp_path_for`]).
pub fn remove_temp(tmp: &Path) -> Result<(), FsError> {
    match fs::remove_file(tmp) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove", tmp)(e)),
    }
}

/// A fresh hidden temp name beside `dst`, for a new file being produced
/// (a compressed copy; ffmpeg's output) before [`commit_new`] names it.
pub fn new_temp_beside(dst: &Path, ext: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    parent(dst).join(format!(".clean-backup-new-{}-{n}.tmp.{ext}", std::process::id()))
}

/// Gives a finished temp file (from [`new_temp_beside`]) the name `dst`,
/// which must not exist: fsync'd, the mode and mtime of `like` (its
/// original) applied, renamed without replacing anything, the folder
/// fsync'd. The temp file is removed on failure.
pub fn commit_new(tmp: &Path, dst: &Path, like: &Path) -> Result<(), FsError> {
    let finish = || -> Result<(), FsError> {
        let meta = fs::metadata(like).map_err(io_err("stat", like))?;
        let f = fs::OpenOptions::new().write(true).open(tmp).map_err(io_err("open", tmp))?;
        f.set_permissions(meta.permissions()).map_err(io_err("set permissions on", tmp))?;
        let times = FileTimes::new().set_modified(meta.modified().map_err(io_err("stat", like))?);
        f.set_times(times).map_err(io_err("set times on", tmp))?;
        f.sync_all().map_err(io_err("sync", tmp))?;
        rename_noreplace(tmp, dst)?;
        sync_dir(parent(dst))
    };
    let r = finish();
    if r.is_err() {
        let _ = fs::remove_file(tmp);
    }
    r
}

/// Writes `data` as the new file `dst` (never replacing one), with the mode
/// and mtime of `like`, durably; creates missing folders.
pub fn write_new(dst: &Path, data: &[u8], like: &Path) -> Result<(), FsError> {
    fs::create_dir_all(parent(dst)).map_err(io_err("create folder", parent(dst)))?;
    if exists(dst)? {
        return Err(FsError::Exists(dst.to_path_buf()));
    }
    let tmp = new_temp_beside(dst, "part");
    let write = || -> io::Result<()> {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(data)
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(io_err("write", &tmp)(e));
    }
    commit_new(&tmp, dst, like)
}

/// Copies `src` to the new file `dst` (never replacing one), verified,
/// mode and times kept, durably; creates missing folders.
pub fn copy_new(src: &Path, dst: &Path) -> Result<(), FsError> {
    fs::create_dir_all(parent(dst)).map_err(io_err("create folder", parent(dst)))?;
    if exists(dst)? {
        return Err(FsError::Exists(dst.to_path_buf()));
    }
    let fp = fingerprint(src)?;
    copy_verified(src, &new_temp_beside(dst, "part"), dst, &fp)?;
    sync_dir(parent(dst))
}

/// Replaces a small file (the config) atomically: write a temp file in the
/// same folder, fsync it, rename it over, fsync the folder. Creates the
/// folder if needed. The old content is never half-overwritten.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), FsError> {
    let dir = parent(path);
    fs::create_dir_all(dir).map_err(io_err("create folder", dir))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let write = || -> io::Result<()> {
        let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        if let Ok(meta) = fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        f.write_all(data)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(io_err("write", &tmp)(e));
    }
    fs::rename(&tmp, path).map_err(io_err("replace", path))?;
    sync_dir(dir)
}

/// Resolves the longest existing prefix of `path` through symlinks and
/// appends the rest: a canonical form for paths that may not exist yet.
pub fn canonical_lenient(path: &Path) -> Result<PathBuf, FsError> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_err(io_err("find current folder for", path))?.join(path)
    };
    let mut tail = Vec::new();
    let mut cur = abs.as_path();
    loop {
        match fs::canonicalize(cur) {
            Ok(mut c) => {
                for part in tail.iter().rev() {
                    c.push(part);
                }
                return Ok(c);
            }
            Err(_) => match (cur.parent(), cur.file_name()) {
                (Some(p), Some(name)) => {
                    tail.push(name.to_os_string());
                    cur = p;
                }
                _ => return Ok(abs),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn write(p: &Path, data: &[u8]) -> Fingerprint {
        fs::write(p, data).unwrap();
        fingerprint(p).unwrap()
    }

    #[test]
    fn numbered_names_go_before_the_extension() {
        assert_eq!(numbered_name(OsStr::new("IMG_1.jpg"), 0), "IMG_1.jpg");
        assert_eq!(numbered_name(OsStr::new("IMG_1.jpg"), 2), "IMG_1 (2).jpg");
        assert_eq!(numbered_name(OsStr::new("noext"), 1), "noext (1)");
        assert_eq!(numbered_name(OsStr::new(".hidden"), 1), ".hidden (1)");
    }

    #[test]
    fn a_clash_with_other_content_gets_a_number_and_identical_content_is_a_duplicate() {
        let t = tempfile::tempdir().unwrap();
        let fp_a = write(&t.path().join("a.jpg"), b"aaa");
        write(&t.path().join("x.jpg"), b"bbb");
        assert_eq!(
            choose_slot(t.path(), OsStr::new("x.jpg"), &fp_a, &|_| None).unwrap(),
            Slot::Free(t.path().join("x (1).jpg"))
        );
        write(&t.path().join("x (1).jpg"), b"aaa");
        assert_eq!(
            choose_slot(t.path(), OsStr::new("x.jpg"), &fp_a, &|_| None).unwrap(),
            Slot::Identical(t.path().join("x (1).jpg"))
        );
    }

    #[test]
    fn move_never_overwrites_and_keeps_both_files() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        let fp = write(&a, b"one");
        write(&b, b"two");
        let err = move_file(&a, &b, &temp_path_for(&b, "t"), &fp, &mut PendingSyncs::default()).unwrap_err();
        assert!(matches!(err, FsError::Exists(_)), "{err}");
        assert_eq!(fs::read(&a).unwrap(), b"one");
        assert_eq!(fs::read(&b).unwrap(), b"two");
    }

    #[test]
    fn copy_keeps_mtime_and_mode_and_refuses_changed_content() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        let fp = write(&a, b"content");
        fs::set_permissions(&a, fs::Permissions::from_mode(0o640)).unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        File::options().write(true).open(&a).unwrap().set_modified(old).unwrap();
        copy_file(&a, &b, &temp_path_for(&b, "t"), &fp, &mut PendingSyncs::default()).unwrap();
        let m = fs::metadata(&b).unwrap();
        assert_eq!(m.modified().unwrap(), old);
        assert_eq!(m.permissions().mode() & 0o777, 0o640);
        assert_eq!(fingerprint(&b).unwrap(), fp);
        let stale = Fingerprint { size: 7, hash: blake3::hash(b"other!!") };
        let c = t.path().join("c");
        assert!(matches!(
            copy_file(&a, &c, &temp_path_for(&c, "t"), &stale, &mut PendingSyncs::default()),
            Err(FsError::Changed { .. })
        ));
        assert!(!c.exists());
        assert!(!temp_path_for(&c, "t").exists());
    }

    #[test]
    fn missing_dirs_lists_only_what_does_not_exist_outermost_first() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("2021/04");
        assert_eq!(missing_dirs(&d).unwrap(), vec![t.path().join("2021"), d.clone()]);
        create_dirs(&d).unwrap();
        assert!(missing_dirs(&d).unwrap().is_empty());
        fs::write(d.join("f"), b"x").unwrap();
        assert!(!remove_dir_if_empty(&d).unwrap());
    }
}
