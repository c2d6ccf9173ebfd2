//! The only code that touches user files.
//!
//! Every function here keeps four promises: a path is reached from `/`
//! without following a symbolic link at any component (each folder is
//! opened with `O_NOFOLLOW` relative to the one before, and every call acts
//! relative to those folder descriptors: `openat`, `renameat2`, `linkat`,
//! `unlinkat`), so a link swapped into an inbox can never redirect an
//! operation outside it; a file is never overwritten (renames use
//! `RENAME_NOREPLACE` or a hard link, never a plain rename over a name); the
//! file moved is the file that was read (same device and inode, checked
//! before and after the rename) and a copy is verified (size + blake3)
//! before it takes its final name; and data and directory entries are
//! fsync'd before the caller is told an operation is done, so the journal
//! never runs ahead of the disk.
//!
//! Paths handed in are canonical (the engine resolves each configured root
//! once, through whatever links the administrator made, when a job or the
//! daemon starts), so any link found later on the way is refused.

use std::ffi::{OsStr, OsString};
use std::fs::{File, FileTimes};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};

/// A file operation failed; every variant names the path and the operation.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// An I/O call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation, in words: "open", "rename", "sync folder", ...
        op: &'static str,
        /// The path it acted on.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The destination name is taken (we never overwrite).
    #[error("{0}: already exists; clean-backup never overwrites a file")]
    Exists(PathBuf),
    /// A file's content is not what the journal says it should be.
    #[error("{path}: content changed (expected blake3 {expected}, found {found})")]
    Changed {
        /// The file whose content was checked.
        path: PathBuf,
        /// The blake3 it should have, hex.
        expected: String,
        /// The blake3 found, hex, or "a different size (N bytes)".
        found: String,
    },
    /// A component of the path is a symbolic link, which is never followed.
    #[error("{path}: {link} is a symbolic link; clean-backup never follows one inside its folders")]
    Symlink {
        /// The path that was being reached.
        path: PathBuf,
        /// The part of `path` up to and including the component that is a link.
        link: PathBuf,
    },
    /// Not a regular file (a FIFO, a device, a socket, a folder).
    #[error("{path}: not a regular file ({what}); only regular files are read")]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is instead, in words: "a folder", "a FIFO", "a symbolic link", ...
        what: &'static str,
    },
    /// The name now holds another file than the one that was read.
    #[error("{path}: replaced by another file (device {found_dev}, inode {found_ino}) since it was read; left as is")]
    Replaced {
        /// The name whose file changed.
        path: PathBuf,
        /// Device number of the file the name holds instead (0 when none was found).
        found_dev: u64,
        /// Inode number of that file (0 when none was found).
        found_ino: u64,
    },
}

impl FsError {
    /// The OS error behind this one, if any (ENOSPC, EACCES, ...).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            FsError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// True when the filesystem is out of space (or quota).
    pub fn is_no_space(&self) -> bool {
        matches!(self.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
    }
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FsError + 'a {
    move |source| FsError::Io { op, path: path.to_path_buf(), source }
}

fn errno<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(rustix::io::Errno) -> FsError + 'a {
    move |e| FsError::Io { op, path: path.to_path_buf(), source: io::Error::from(e) }
}

/// A file's identity: the device and inode it lives at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

impl Identity {
    /// The identity in a std `Metadata`.
    pub fn of(meta: &std::fs::Metadata) -> Identity {
        Identity { dev: meta.dev(), ino: meta.ino() }
    }

    fn of_stat(st: &rustix::fs::Stat) -> Identity {
        #[allow(clippy::unnecessary_cast)]
        Identity { dev: st.st_dev as u64, ino: st.st_ino as u64 }
    }
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

/// A folder reached without following a link, held open: every call on a
/// name in it is made relative to this descriptor.
#[derive(Debug)]
struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
const DIR_FLAGS: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const DIR_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

fn absolute(path: &Path) -> Result<PathBuf, FsError> {
    std::path::absolute(path).map_err(io_err("resolve", path))
}

impl Dir {
    /// Opens `path` as a folder, refusing a link anywhere on the way: in one
    /// `openat2` where the kernel has it, else (and to create, or to name
    /// the link) one component at a time from `/`. `create` makes missing
    /// folders (mode 0777 less the umask) as it goes.
    fn open_with(path: &Path, create: bool) -> Result<Dir, FsError> {
        let abs = absolute(path)?;
        if let Some(fd) = open_without_links(&abs) {
            return Ok(Dir { fd, path: abs });
        }
        // A folder missing (to create), a link on the way (to name), or a
        // kernel without openat2: the walk below, one component at a time.
        let mut fd = rustix::fs::openat(rustix::fs::CWD, "/", DIR_FLAGS, Mode::empty()).map_err(errno("open", &abs))?;
        let mut at = PathBuf::from("/");
        for c in abs.components() {
            let name = match c {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
                // Every folder so far was reached without a link, so `..` is
                // the folder above it both on disk and as written.
                Component::ParentDir => {
                    fd = rustix::fs::openat(&fd, "..", DIR_FLAGS, Mode::empty()).map_err(errno("open folder", &at))?;
                    at.pop();
                    continue;
                }
                Component::Normal(n) => n,
            };
            at.push(name);
            let next = match rustix::fs::openat(&fd, name, DIR_FLAGS, Mode::empty()) {
                Err(rustix::io::Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(&fd, name, Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(errno("create folder", &at)(e)),
                    }
                    rustix::fs::openat(&fd, name, DIR_FLAGS, Mode::empty())
                }
                other => other,
            };
            fd = match next {
                Ok(f) => f,
                Err(e) if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR => {
                    if is_symlink_at(&fd, name) {
                        return Err(FsError::Symlink { path: abs.clone(), link: at });
                    }
                    return Err(errno("open folder", &at)(e));
                }
                Err(e) => return Err(errno("open folder", &at)(e)),
            };
        }
        Ok(Dir { fd, path: abs })
    }

    fn open(path: &Path) -> Result<Dir, FsError> {
        Dir::open_with(path, false)
    }

    /// The folder holding `path`, and `path`'s last component.
    fn parent_of(path: &Path) -> Result<(Dir, &OsStr), FsError> {
        let (parent, name) = split(path)?;
        Ok((Dir::open(parent)?, name))
    }

    fn stat(&self, name: &OsStr) -> rustix::io::Result<rustix::fs::Stat> {
        rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
    }

    fn sync(&self) -> Result<(), FsError> {
        let f = rustix::fs::openat(&self.fd, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(errno("open folder", &self.path))?;
        rustix::fs::fsync(&f).map_err(errno("sync folder", &self.path))
    }

    fn unlink(&self, name: &OsStr) -> Result<(), FsError> {
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()).map_err(errno("remove", &self.path.join(name)))
    }

    /// Creates a new file `name` (never an existing one, never through a link).
    fn create_new(&self, name: &OsStr, mode: u32) -> Result<File, FsError> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(mode)) {
            Ok(fd) => Ok(File::from(fd)),
            Err(rustix::io::Errno::EXIST) => Err(FsError::Exists(self.path.join(name))),
            Err(e) => Err(errno("create", &self.path.join(name))(e)),
        }
    }
}

/// Whether `openat2` may be tried (false once the kernel or a seccomp
/// filter has said it has none).
#[cfg(any(target_os = "linux", target_os = "android"))]
static OPENAT2: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// The folder at the absolute path `abs` in one `openat2` that refuses a
/// link anywhere on the way (`RESOLVE_NO_SYMLINKS`, magic links included):
/// what [`Dir::open_with`]'s walk from `/` checks, in one syscall instead of
/// a descriptor opened and closed per component (a third of `organize`'s
/// time). `None` on any failure, which the walk then reproduces, reports
/// precisely, or mends (a folder to create).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn open_without_links(abs: &Path) -> Option<OwnedFd> {
    use std::sync::atomic::Ordering;
    if !OPENAT2.load(Ordering::Relaxed) {
        return None;
    }
    match rustix::fs::openat2(rustix::fs::CWD, abs, DIR_FLAGS, Mode::empty(), rustix::fs::ResolveFlags::NO_SYMLINKS) {
        Ok(fd) => Some(fd),
        Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
            OPENAT2.store(false, Ordering::Relaxed);
            None
        }
        Err(_) => None,
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn open_without_links(_abs: &Path) -> Option<OwnedFd> {
    None
}

fn is_symlink_at(dir: &impl AsFd, name: &OsStr) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink)
}

/// A path's folder and last component; a path with no name (`/`, `a/..`) is refused.
fn split(path: &Path) -> Result<(&Path, &OsStr), FsError> {
    match (path.parent(), path.file_name()) {
        (Some(p), Some(n)) if !matches!(path.components().next_back(), Some(Component::ParentDir)) => {
            Ok((if p.as_os_str().is_empty() { Path::new(".") } else { p }, n))
        }
        _ => Err(FsError::Io {
            op: "resolve",
            path: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
        }),
    }
}

fn kind_name(ft: rustix::fs::FileType) -> &'static str {
    use rustix::fs::FileType as T;
    match ft {
        T::Directory => "a folder",
        T::Symlink => "a symbolic link",
        T::Fifo => "a FIFO",
        T::Socket => "a socket",
        T::CharacterDevice | T::BlockDevice => "a device",
        _ => "not a regular file",
    }
}

/// A regular file opened for reading without following a link, with its
/// metadata and identity as of the open.
pub struct Opened {
    /// The open file: read through this, never by path again.
    pub file: File,
    /// Its metadata (`fstat` of the descriptor).
    pub meta: std::fs::Metadata,
    /// Its device and inode.
    pub id: Identity,
}

/// Opens `path` for reading: no link at any component, and only a regular
/// file (a FIFO or device is refused without blocking on it).
pub fn open_file(path: &Path) -> Result<Opened, FsError> {
    let (dir, name) = Dir::parent_of(path)?;
    open_in(&dir, name, path)
}

/// [`open_file`] of `name` in a folder already reached (`path` names it in messages).
fn open_in(dir: &Dir, name: &OsStr, path: &Path) -> Result<Opened, FsError> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = match rustix::fs::openat(&dir.fd, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::LOOP) if is_symlink_at(&dir.fd, name) => {
            return Err(FsError::NotRegular { path: path.to_path_buf(), what: "a symbolic link" })
        }
        Err(e) => return Err(errno("open", path)(e)),
    };
    let file = File::from(fd);
    let meta = file.metadata().map_err(io_err("stat", path))?;
    if !meta.is_file() {
        let ft = rustix::fs::FileType::from_raw_mode(meta.mode() as rustix::fs::RawMode);
        return Err(FsError::NotRegular { path: path.to_path_buf(), what: kind_name(ft) });
    }
    // Back to blocking reads (O_NONBLOCK only kept a FIFO from hanging the open).
    let _ = rustix::fs::fcntl_setfl(&file, OFlags::empty());
    Ok(Opened { id: Identity::of(&meta), file, meta })
}

/// Reads a whole file and returns its size and blake3.
pub fn fingerprint(path: &Path) -> Result<Fingerprint, FsError> {
    let mut o = open_file(path)?;
    fingerprint_reader(&mut o.file).map_err(io_err("read", path))
}

/// The fingerprint of an open file, read from its start.
pub fn fingerprint_file(file: &mut File, path: &Path) -> Result<Fingerprint, FsError> {
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(0)).map_err(io_err("read", path))?;
    fingerprint_reader(file).map_err(io_err("read", path))
}

/// The head and tail of a file, read once to tell same-size files apart
/// before reading them whole (as fclones does).
#[derive(Debug, Clone)]
pub struct Sample {
    /// The file's device and inode, as opened.
    pub id: Identity,
    /// Its size as opened.
    pub size: u64,
    /// blake3 of the bytes read: the whole content when `whole`, else the
    /// first and last `block` bytes.
    pub hash: blake3::Hash,
    /// The hash is of the whole file (it is no longer than two blocks).
    pub whole: bool,
    /// Its first bytes (up to 512), to sniff its kind.
    pub head: Vec<u8>,
    /// Bytes read.
    pub read: u64,
}

/// Reads the first and last `block` bytes of `path` (all of it when it is
/// no longer than two blocks), opened as [`open_file`] opens.
pub fn sample(path: &Path, block: usize) -> Result<Sample, FsError> {
    use std::os::unix::fs::FileExt;
    let o = open_file(path)?;
    let size = o.meta.len();
    let block = block.max(1) as u64;
    let read_at = |buf: &mut [u8], at: u64| -> Result<usize, FsError> {
        let mut n = 0;
        while n < buf.len() {
            match o.file.read_at(&mut buf[n..], at + n as u64) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("read", path)(e)),
            }
        }
        Ok(n)
    };
    let (hash, whole, head, read) = if size <= 2 * block {
        let mut buf = vec![0u8; size as usize];
        let n = read_at(&mut buf, 0)?;
        buf.truncate(n);
        // The file grew or shrank while read: its whole hash is not this one.
        let whole = n as u64 == size;
        (blake3::hash(&buf), whole, buf[..n.min(512)].to_vec(), n as u64)
    } else {
        let mut buf = vec![0u8; 2 * block as usize];
        let (h, t) = buf.split_at_mut(block as usize);
        let a = read_at(h, 0)?;
        let b = read_at(t, size - block)?;
        let head = h[..a.min(512)].to_vec();
        (blake3::hash(&buf), false, head, (a + b) as u64)
    };
    Ok(Sample { id: o.id, size, hash, whole, head, read })
}

/// [`fingerprint`], with the identity of the file read.
pub fn fingerprint_id(path: &Path) -> Result<(Fingerprint, Identity), FsError> {
    let mut o = open_file(path)?;
    let fp = fingerprint_reader(&mut o.file).map_err(io_err("read", path))?;
    Ok((fp, o.id))
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

/// The identity of the file at `path` if it exists and has exactly this content.
pub fn content_identity(path: &Path, expected: &Fingerprint) -> Result<Option<Identity>, FsError> {
    let mut o = match open_file(path) {
        Ok(o) => o,
        Err(FsError::Io { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(FsError::NotRegular { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    if o.meta.len() != expected.size {
        return Ok(None);
    }
    let found = fingerprint_reader(&mut o.file).map_err(io_err("read", path))?;
    Ok((found == *expected).then_some(o.id))
}

/// True when `path` exists and has exactly this content.
pub fn has_content(path: &Path, expected: &Fingerprint) -> Result<bool, FsError> {
    Ok(content_identity(path, expected)?.is_some())
}

/// True if anything (file, dir, dangling symlink) has this name.
pub fn exists(path: &Path) -> Result<bool, FsError> {
    let (dir, name) = match Dir::parent_of(path) {
        Ok(d) => d,
        Err(FsError::Io { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => return Ok(false),
        Err(e) => return Err(e),
    };
    match dir.stat(name) {
        Ok(_) => Ok(true),
        Err(rustix::io::Errno::NOENT) => Ok(false),
        Err(e) => Err(errno("stat", path)(e)),
    }
}

/// Asks the kernel to start reading `path` into the page cache now
/// (`posix_fadvise(WILLNEED)`), so that the read that comes next does not
/// wait for the disk. Opened as [`open_file`] opens (no link followed, a
/// regular file only); a hint, so a failure is ignored.
pub fn read_ahead(path: &Path) {
    if let Ok(o) = open_file(path) {
        let _ = rustix::fs::fadvise(&o.file, 0, None, rustix::fs::Advice::WillNeed);
    }
}

/// The metadata of the entry at `path` itself (a link is not followed):
/// what an index compares its size, mtime and inode with. Only compared:
/// a file acted on is opened safely, and checked again, by the other
/// functions here.
pub fn lstat(path: &Path) -> io::Result<std::fs::Metadata> {
    std::fs::symlink_metadata(path)
}

/// True if `path` is a folder reached without following a link.
pub fn is_dir(path: &Path) -> bool {
    Dir::open(path).is_ok()
}

/// The directories that `create_dirs(dir)` would create, outermost first.
pub fn missing_dirs(dir: &Path) -> Result<Vec<PathBuf>, FsError> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || d == Path::new("/") || exists(d)? {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    missing.reverse();
    Ok(missing)
}

/// Creates `dir` and its missing parents, never through a link.
pub fn create_dirs(dir: &Path) -> Result<(), FsError> {
    Dir::open_with(dir, true).map(drop)
}

/// Removes `dir` if it is an empty directory; returns whether it did.
pub fn remove_dir_if_empty(dir: &Path) -> Result<bool, FsError> {
    let (parent, name) = match Dir::parent_of(dir) {
        Ok(d) => d,
        Err(FsError::Io { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => return Ok(false),
        Err(e) => return Err(e),
    };
    match rustix::fs::unlinkat(&parent.fd, name, AtFlags::REMOVEDIR) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTEMPTY | rustix::io::Errno::EXIST) => Ok(false),
        Err(rustix::io::Errno::NOTDIR) => Ok(false),
        Err(e) => Err(errno("remove folder", dir)(e)),
    }
}

/// True when both paths' folders are on one filesystem (so a rename works).
pub fn same_filesystem(a: &Path, b: &Path) -> Result<bool, FsError> {
    let dev = |p: &Path| -> Result<u64, FsError> {
        let (dir, _) = Dir::parent_of(p)?;
        let st = rustix::fs::fstat(&dir.fd).map_err(errno("stat", &dir.path))?;
        Ok(Identity::of_stat(&st).dev)
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
    pick_slot(dir, name, Some(fp), reserved)
}

/// [`choose_slot`] for a file that must get a name of its own even when an
/// identical file already has one (the duplicates folder, where a second
/// copy of a duplicate is moved aside too): the first of `name`,
/// `stem (1).ext`, ... that is neither on disk nor in `reserved`.
pub fn free_slot(
    dir: &Path,
    name: &std::ffi::OsStr,
    reserved: &dyn Fn(&Path) -> Option<Fingerprint>,
) -> Result<PathBuf, FsError> {
    match pick_slot(dir, name, None, reserved)? {
        Slot::Free(p) | Slot::Identical(p) => Ok(p),
    }
}

/// The numbering behind [`choose_slot`] and [`free_slot`]: with `same`, a
/// taken name holding that content is [`Slot::Identical`]; without, every
/// taken name is passed over.
fn pick_slot(
    dir: &Path,
    name: &std::ffi::OsStr,
    same: Option<&Fingerprint>,
    reserved: &dyn Fn(&Path) -> Option<Fingerprint>,
) -> Result<Slot, FsError> {
    for n in 0u32..10_000 {
        let candidate = dir.join(numbered_name(name, n));
        if let Some(promised) = reserved(&candidate) {
            if same == Some(&promised) {
                return Ok(Slot::Identical(candidate));
            }
            continue;
        }
        if !exists(&candidate)? {
            return Ok(Slot::Free(candidate));
        }
        if let Some(fp) = same {
            if has_content(&candidate, fp)? {
                return Ok(Slot::Identical(candidate));
            }
        }
    }
    Err(FsError::Exists(dir.join(name)))
}

/// `IMG_1.jpg` → `IMG_1 (n).jpg` for n > 0; keeps non-UTF-8 bytes intact.
pub fn numbered_name(name: &std::ffi::OsStr, n: u32) -> OsString {
    if n == 0 {
        return name.to_os_string();
    }
    use std::os::unix::ffi::OsStringExt;
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

/// The prefix of every temp file clean-backup writes (and so may sweep).
pub const TEMP_PREFIX: &str = ".clean-backup-";

/// The temp name used while copying to `dst` for journal op `tag`: in the
/// destination's folder, hidden, and known to recovery.
pub fn temp_path_for(dst: &Path, tag: &str) -> PathBuf {
    let dir = dst.parent().unwrap_or(Path::new("."));
    dir.join(format!("{TEMP_PREFIX}{tag}.tmp"))
}

/// Renames `src` to `dst` without ever replacing `dst`, relative to the
/// folders' descriptors. Returns the identity now at `dst`.
fn rename_noreplace(src: &Path, dst: &Path) -> Result<Identity, FsError> {
    let (sdir, sname) = Dir::parent_of(src)?;
    let (ddir, dname) = Dir::parent_of(dst)?;
    rename_in(&sdir, sname, &ddir, dname)
}

fn rename_in(sdir: &Dir, sname: &OsStr, ddir: &Dir, dname: &OsStr) -> Result<Identity, FsError> {
    let (src, dst) = (sdir.path.join(sname), ddir.path.join(dname));
    match rustix::fs::renameat_with(&sdir.fd, sname, &ddir.fd, dname, rustix::fs::RenameFlags::NOREPLACE) {
        Ok(()) => {}
        Err(rustix::io::Errno::EXIST) => return Err(FsError::Exists(dst)),
        // Filesystems without RENAME_NOREPLACE: link + unlink, which never replaces either.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS | rustix::io::Errno::OPNOTSUPP) => {
            match rustix::fs::linkat(&sdir.fd, sname, &ddir.fd, dname, AtFlags::empty()) {
                Ok(()) => sdir.unlink(sname)?,
                Err(rustix::io::Errno::EXIST) => return Err(FsError::Exists(dst)),
                Err(e) => return Err(errno("rename", &src)(e)),
            }
        }
        Err(e) => return Err(errno("rename", &src)(e)),
    }
    let st = ddir.stat(dname).map_err(errno("stat", &dst))?;
    Ok(Identity::of_stat(&st))
}

/// fsyncs a directory so a rename or create in it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), FsError> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    Dir::open(dir)?.sync()
}

fn parent(p: &Path) -> &Path {
    p.parent().unwrap_or(Path::new("."))
}

/// Opens the source of an operation and checks it is the file the caller
/// read: the same device and inode when `expect` is given, else (no read to
/// compare with) the journaled content itself.
fn open_source(src: &Path, fp: &Fingerprint, expect: Option<Identity>) -> Result<Opened, FsError> {
    let (dir, name) = Dir::parent_of(src)?;
    open_source_in(&dir, name, src, fp, expect)
}

fn open_source_in(
    dir: &Dir,
    name: &OsStr,
    src: &Path,
    fp: &Fingerprint,
    expect: Option<Identity>,
) -> Result<Opened, FsError> {
    let mut o = open_in(dir, name, src)?;
    match expect {
        Some(id) if id != o.id => {
            return Err(FsError::Replaced { path: src.to_path_buf(), found_dev: o.id.dev, found_ino: o.id.ino })
        }
        Some(_) if o.meta.len() != fp.size => {
            return Err(FsError::Changed {
                path: src.to_path_buf(),
                expected: fp.hex(),
                found: format!("a different size ({} bytes)", o.meta.len()),
            })
        }
        Some(_) => {}
        None => {
            let found = fingerprint_reader(&mut o.file).map_err(io_err("read", src))?;
            if found != *fp {
                return Err(FsError::Changed { path: src.to_path_buf(), expected: fp.hex(), found: found.hex() });
            }
            use std::io::{Seek, SeekFrom};
            o.file.seek(SeekFrom::Start(0)).map_err(io_err("read", src))?;
        }
    }
    Ok(o)
}

/// Whether copies are read back from disk to be checked (the config's
/// `read_back_copies`); set once at start by the daemon and cbctl.
static READ_BACK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets how copies are checked: `true` reads each copy back in full and
/// hashes it again; `false` (the default) trusts the hash of the bytes as
/// they were written, then synced. A read-back right after the write is
/// served from the page cache, so it proves little more than the hash of
/// the written stream does, for a second read of every byte.
pub fn set_read_back_copies(on: bool) {
    READ_BACK.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Copies the open `input` to the new temp file `tmp` (same folder as
/// `dst`), keeping mode and times, hashing the bytes as they are written
/// (they must be `fp`), fsyncs it, reads it back when
/// [`set_read_back_copies`] asks, then gives it the name `dst`. The temp
/// file never outlives a failure.
fn copy_verified(input: &mut Opened, src: &Path, tmp: &Path, dst: &Path, fp: &Fingerprint) -> Result<(), FsError> {
    let (ddir, dname) = Dir::parent_of(dst)?;
    let (tdir, tname) = Dir::parent_of(tmp)?;
    let mut out = tdir.create_new(tname, 0o600)?;
    let write = |out: &mut File, input: &mut Opened| -> Result<Fingerprint, FsError> {
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = match input.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("read", src)(e)),
            };
            out.write_all(&buf[..n]).map_err(io_err("copy to", tmp))?;
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        let read = Fingerprint { size, hash: hasher.finalize() };
        if read != *fp {
            return Err(FsError::Changed { path: src.to_path_buf(), expected: fp.hex(), found: read.hex() });
        }
        out.flush().map_err(io_err("write", tmp))?;
        out.set_permissions(input.meta.permissions()).map_err(io_err("set permissions on", tmp))?;
        let times = FileTimes::new()
            .set_modified(input.meta.modified().map_err(io_err("stat", src))?)
            .set_accessed(input.meta.accessed().map_err(io_err("stat", src))?);
        out.set_times(times).map_err(io_err("set times on", tmp))?;
        out.sync_all().map_err(io_err("sync", tmp))?;
        Ok(read)
    };
    let result = write(&mut out, input).and_then(|_| {
        if READ_BACK.load(std::sync::atomic::Ordering::Relaxed) {
            // What reached the disk, read back through the temp name we created.
            let got = fingerprint(tmp)?;
            if got != *fp {
                return Err(FsError::Changed { path: tmp.to_path_buf(), expected: fp.hex(), found: got.hex() });
            }
        }
        rename_in(&tdir, tname, &ddir, dname).map(drop)
    });
    if result.is_err() {
        let _ = tdir.unlink(tname);
    }
    result
}

/// Folders whose entries changed and must be fsync'd before the journal may
/// call the operations done. Batching them turns many fsyncs of one folder
/// into one. Each folder is held by the descriptor the change was made
/// through, so the folder synced is the folder changed even when its name
/// was swapped for a link or another folder in between.
#[derive(Debug, Default)]
pub struct PendingSyncs {
    held: std::collections::BTreeMap<(u64, u64), Dir>,
    /// Folders that could not be held when they were named; flushing fails on them.
    unheld: std::collections::BTreeSet<PathBuf>,
}

impl PendingSyncs {
    /// Remembers that the folder at `dir` changed (it is reached now, without following a link).
    pub fn add(&mut self, dir: &Path) {
        match Dir::open(dir) {
            Ok(d) => self.hold(&d),
            Err(_) => {
                self.unheld.insert(dir.to_path_buf());
            }
        }
    }

    /// Remembers that the folder held open as `dir` changed.
    fn hold(&mut self, dir: &Dir) {
        let key = match rustix::fs::fstat(&dir.fd) {
            Ok(st) => {
                let id = Identity::of_stat(&st);
                (id.dev, id.ino)
            }
            Err(_) => {
                self.unheld.insert(dir.path.clone());
                return;
            }
        };
        if self.held.contains_key(&key) {
            return;
        }
        match rustix::io::fcntl_dupfd_cloexec(&dir.fd, 0) {
            Ok(fd) => {
                self.held.insert(key, Dir { fd, path: dir.path.clone() });
            }
            Err(_) => {
                self.unheld.insert(dir.path.clone());
            }
        }
    }

    /// fsyncs every remembered folder.
    pub fn flush(&mut self) -> Result<(), FsError> {
        for dir in std::mem::take(&mut self.held).into_values() {
            dir.sync()?;
        }
        for dir in std::mem::take(&mut self.unheld) {
            sync_dir(&dir)?;
        }
        Ok(())
    }
}

/// Moves `src` to `dst` (which must not exist), on one filesystem by rename,
/// across filesystems by verified copy then removal of the source.
/// `fp` is the content the caller journaled and `expect` the identity of the
/// file it read (`None`: the content is checked instead); a source that is
/// another file is refused, and a rename that took another file (swapped in
/// between the check and the rename) is put back and refused. Returns
/// whether a copy was needed. The folders to fsync before the move counts
/// as durable are added to `syncs`.
pub fn move_file(
    src: &Path,
    dst: &Path,
    tmp: &Path,
    fp: &Fingerprint,
    expect: Option<Identity>,
    syncs: &mut PendingSyncs,
) -> Result<bool, FsError> {
    // Each folder is walked to once; every call below is relative to these.
    let (sdir, sname) = Dir::parent_of(src)?;
    let (ddir, dname) = Dir::parent_of(dst)?;
    let mut input = open_source_in(&sdir, sname, src, fp, expect)?;
    let dev = |d: &Dir| rustix::fs::fstat(&d.fd).map(|st| Identity::of_stat(&st).dev).map_err(errno("stat", &d.path));
    if dev(&sdir)? == dev(&ddir)? {
        let moved = rename_in(&sdir, sname, &ddir, dname)?;
        if moved != input.id {
            // Another file took the name between the open and the rename: put it back.
            let back = rename_in(&ddir, dname, &sdir, sname);
            if let Err(e) = back {
                tracing::error!("{e}: a file swapped in at {} was moved to {}", src.display(), dst.display());
            }
            return Err(FsError::Replaced { path: src.to_path_buf(), found_dev: moved.dev, found_ino: moved.ino });
        }
        syncs.hold(&ddir);
        syncs.hold(&sdir);
        Ok(false)
    } else {
        copy_verified(&mut input, src, tmp, dst, fp)?;
        // The copy's name must be durable before the original goes.
        ddir.sync()?;
        let now = sdir.stat(sname).map(|st| Identity::of_stat(&st));
        if now.as_ref().ok() != Some(&input.id) {
            // The source name holds another file now: keep it, and take back the copy.
            ddir.unlink(dname)?;
            let found = now.unwrap_or(Identity { dev: 0, ino: 0 });
            return Err(FsError::Replaced { path: src.to_path_buf(), found_dev: found.dev, found_ino: found.ino });
        }
        sdir.unlink(sname)?;
        syncs.hold(&sdir);
        Ok(true)
    }
}

/// Copies `src` to `dst` (which must not exist), verified, mode and times
/// kept; `expect` as for [`move_file`].
pub fn copy_file(
    src: &Path,
    dst: &Path,
    tmp: &Path,
    fp: &Fingerprint,
    expect: Option<Identity>,
    syncs: &mut PendingSyncs,
) -> Result<(), FsError> {
    let mut input = open_source(src, fp, expect)?;
    copy_verified(&mut input, src, tmp, dst, fp)?;
    syncs.add(parent(dst));
    Ok(())
}

/// Removes a file after checking it still has content `fp` (used to undo a
/// copy, whose original is known to exist elsewhere).
pub fn remove_verified(path: &Path, fp: &Fingerprint, syncs: &mut PendingSyncs) -> Result<(), FsError> {
    let o = open_source(path, fp, None)?;
    let (dir, name) = Dir::parent_of(path)?;
    match dir.stat(name).map(|st| Identity::of_stat(&st)) {
        Ok(id) if id == o.id => {}
        Ok(id) => return Err(FsError::Replaced { path: path.to_path_buf(), found_dev: id.dev, found_ino: id.ino }),
        Err(e) => return Err(errno("stat", path)(e)),
    }
    dir.unlink(name)?;
    syncs.hold(&dir);
    Ok(())
}

/// Removes a leftover temp file of ours (named by [`temp_path_for`] or
/// [`new_temp_beside`]); a name that is not one of ours is refused.
pub fn remove_temp(tmp: &Path) -> Result<(), FsError> {
    let (dir, name) = match Dir::parent_of(tmp) {
        Ok(d) => d,
        Err(FsError::Io { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    if !name.as_bytes().starts_with(TEMP_PREFIX.as_bytes()) {
        return Err(FsError::Io {
            op: "remove temp file",
            path: tmp.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a clean-backup temp name"),
        });
    }
    match dir.unlink(name) {
        Err(FsError::Io { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        other => other,
    }
}

/// Removes a file of clean-backup's own (an old journal backup), reached
/// without following links; a folder or a missing name is refused.
pub fn remove_own_file(path: &Path) -> Result<(), FsError> {
    let (dir, name) = Dir::parent_of(path)?;
    dir.unlink(name)
}

/// The temp files of ours directly in `dir` (names starting
/// [`TEMP_PREFIX`] and ending `.tmp` or `.tmp.EXT`), for the start-up sweep.
pub fn temp_files_in(dir: &Path) -> Vec<PathBuf> {
    files_in(dir)
        .into_iter()
        .filter(|p| {
            let b = p.file_name().unwrap_or_default().as_bytes();
            b.starts_with(TEMP_PREFIX.as_bytes()) && (b.ends_with(b".tmp") || b.windows(5).any(|w| w == b".tmp."))
        })
        .collect()
}

/// The regular files directly in `dir` (no links, no folders), the folder
/// itself reached without following a link; empty when it cannot be read.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(d) = Dir::open(dir) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(&d.path) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| d.path.join(e.file_name()))
        .collect()
}

/// Gives a file or folder made for another user to that user (a job the
/// daemon ran for its caller), reached without following links; the link
/// itself is never changed through.
pub fn give_to(path: &Path, uid: u32, gid: u32) -> Result<(), FsError> {
    let (dir, name) = Dir::parent_of(path)?;
    let (owner, group) = (rustix::fs::Uid::from_raw(uid), rustix::fs::Gid::from_raw(gid));
    rustix::fs::chownat(&dir.fd, name, Some(owner), Some(group), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(errno("give to its owner", path))
}

/// A fresh hidden temp name beside `dst`, for a new file being produced
/// (a compressed copy; ffmpeg's output) before [`commit_new`] names it.
pub fn new_temp_beside(dst: &Path, ext: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    parent(dst).join(format!("{TEMP_PREFIX}new-{}-{n}.tmp.{ext}", std::process::id()))
}

/// Gives a finished temp file (from [`new_temp_beside`]) the name `dst`,
/// which must not exist: fsync'd, the mode and mtime of `like` (its
/// original) applied, renamed without replacing anything, the folder
/// fsync'd. The temp file is removed on failure.
pub fn commit_new(tmp: &Path, dst: &Path, like: &Path) -> Result<(), FsError> {
    let finish = || -> Result<(), FsError> {
        let like = open_file(like)?;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(tmp)
            .map_err(io_err("open", tmp))?;
        f.set_permissions(like.meta.permissions()).map_err(io_err("set permissions on", tmp))?;
        let times = FileTimes::new().set_modified(like.meta.modified().map_err(io_err("stat", tmp))?);
        f.set_times(times).map_err(io_err("set times on", tmp))?;
        f.sync_all().map_err(io_err("sync", tmp))?;
        rename_noreplace(tmp, dst)?;
        sync_dir(parent(dst))
    };
    let r = finish();
    if r.is_err() {
        let _ = remove_temp(tmp);
    }
    r
}

use std::os::unix::fs::OpenOptionsExt;

/// Writes `data` as the new file `dst` (never replacing one), with the mode
/// and mtime of `like`, durably; creates missing folders.
pub fn write_new(dst: &Path, data: &[u8], like: &Path) -> Result<(), FsError> {
    create_dirs(parent(dst))?;
    if exists(dst)? {
        return Err(FsError::Exists(dst.to_path_buf()));
    }
    let tmp = new_temp_beside(dst, "part");
    let (dir, name) = Dir::parent_of(&tmp)?;
    let mut f = dir.create_new(name, 0o600)?;
    if let Err(e) = f.write_all(data) {
        let _ = dir.unlink(name);
        return Err(io_err("write", &tmp)(e));
    }
    drop(f);
    commit_new(&tmp, dst, like)
}

/// Copies `src` to the new file `dst` (never replacing one), verified,
/// mode and times kept, durably; creates missing folders.
pub fn copy_new(src: &Path, dst: &Path) -> Result<(), FsError> {
    create_dirs(parent(dst))?;
    if exists(dst)? {
        return Err(FsError::Exists(dst.to_path_buf()));
    }
    let mut input = open_file(src)?;
    let fp = fingerprint_reader(&mut input.file).map_err(io_err("read", src))?;
    use std::io::{Seek, SeekFrom};
    input.file.seek(SeekFrom::Start(0)).map_err(io_err("read", src))?;
    copy_verified(&mut input, src, &new_temp_beside(dst, "part"), dst, &fp)?;
    sync_dir(parent(dst))
}

/// Reads a whole regular file reached without links (for small files the
/// engine writes from: a photo to compress).
pub fn read(path: &Path) -> Result<Vec<u8>, FsError> {
    let mut o = open_file(path)?;
    let mut data = Vec::with_capacity(o.meta.len() as usize);
    o.file.read_to_end(&mut data).map_err(io_err("read", path))?;
    Ok(data)
}

/// Replaces a small file (the config) atomically: write a temp file in the
/// same folder, fsync it, rename it over, fsync the folder. Creates the
/// folder if needed. The old content is never half-overwritten.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), FsError> {
    write_atomic_mode(path, data, None)
}

/// [`write_atomic`] with the new file's mode set (else the old file's, else 0600).
pub fn write_atomic_mode(path: &Path, data: &[u8], mode: Option<u32>) -> Result<(), FsError> {
    let dir = parent(path);
    create_dirs(dir)?;
    let (d, name) = Dir::parent_of(path)?;
    let tmp_name = OsString::from(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let tmp = d.path.join(&tmp_name);
    let old_mode = d.stat(name).ok().map(|st| st.st_mode & 0o7777);
    let write = || -> Result<(), FsError> {
        let _ = d.unlink(&tmp_name);
        let mut f = d.create_new(&tmp_name, 0o600)?;
        if let Some(m) = mode.or(old_mode) {
            rustix::fs::fchmod(&f, Mode::from_raw_mode(m as rustix::fs::RawMode))
                .map_err(errno("set permissions on", &tmp))?;
        }
        f.write_all(data).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("sync", &tmp))
    };
    if let Err(e) = write() {
        let _ = d.unlink(&tmp_name);
        return Err(e);
    }
    rustix::fs::renameat(&d.fd, &tmp_name, &d.fd, name).map_err(errno("replace", path))?;
    d.sync()
}

/// A file named on the command line: its folder resolved as the user gave
/// it (their links followed, once), its own name kept, so that opening it
/// refuses a link or a FIFO there rather than reading what it points to.
pub fn resolve_named(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
            canonical_lenient(parent).map(|p| p.join(name)).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

/// Resolves the longest existing prefix of `path` through symlinks and
/// appends the rest: a canonical form for paths that may not exist yet.
/// This is where a configured root's links (the administrator's) are
/// followed, once; everything under it is then reached without links.
pub fn canonical_lenient(path: &Path) -> Result<PathBuf, FsError> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_err(io_err("find current folder for", path))?.join(path)
    };
    let mut tail = Vec::new();
    let mut cur = abs.as_path();
    loop {
        match std::fs::canonicalize(cur) {
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
    use std::fs;

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
        let err = move_file(&a, &b, &temp_path_for(&b, "t"), &fp, None, &mut PendingSyncs::default()).unwrap_err();
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
        copy_file(&a, &b, &temp_path_for(&b, "t"), &fp, None, &mut PendingSyncs::default()).unwrap();
        let m = fs::metadata(&b).unwrap();
        assert_eq!(m.modified().unwrap(), old);
        assert_eq!(m.permissions().mode() & 0o777, 0o640);
        assert_eq!(fingerprint(&b).unwrap(), fp);
        let stale = Fingerprint { size: 7, hash: blake3::hash(b"other!!") };
        let c = t.path().join("c");
        assert!(matches!(
            copy_file(&a, &c, &temp_path_for(&c, "t"), &stale, None, &mut PendingSyncs::default()),
            Err(FsError::Changed { .. })
        ));
        assert!(!c.exists());
        assert!(!temp_path_for(&c, "t").exists());
    }

    #[test]
    fn the_folders_a_move_changed_are_synced_even_after_one_was_swapped_for_a_link() {
        let t = tempfile::tempdir().unwrap();
        let (sub, lib) = (t.path().join("sub"), t.path().join("lib"));
        fs::create_dir(&sub).unwrap();
        fs::create_dir(&lib).unwrap();
        let a = sub.join("a.jpg");
        let fp = write(&a, b"photo");
        let mut syncs = PendingSyncs::default();
        move_file(&a, &lib.join("a.jpg"), &temp_path_for(&lib.join("a.jpg"), "t"), &fp, None, &mut syncs).unwrap();
        // Between the move and the fsync, the source folder's name becomes a link.
        fs::rename(&sub, t.path().join("moved-away")).unwrap();
        std::os::unix::fs::symlink(&lib, &sub).unwrap();
        syncs.flush().unwrap();
        // Each folder is synced once, however many moves went through it.
        let b = t.path().join("moved-away/b.jpg");
        let fp_b = write(&b, b"other");
        let mut syncs = PendingSyncs::default();
        move_file(&b, &lib.join("b.jpg"), &temp_path_for(&lib.join("b.jpg"), "t"), &fp_b, None, &mut syncs).unwrap();
        syncs.add(&lib);
        assert_eq!(syncs.held.len(), 2, "{syncs:?}");
        assert!(syncs.unheld.is_empty());
        syncs.flush().unwrap();
    }

    #[test]
    fn a_file_replaced_after_it_was_read_is_not_moved_under_the_old_identity() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a.jpg"), t.path().join("b.jpg"));
        let fp = write(&a, b"original");
        let read = open_file(&a).unwrap().id;
        // Another file of the same size takes the name between the read and the move.
        let other = t.path().join("other");
        write(&other, b"replaced");
        fs::rename(&other, &a).unwrap();
        let err =
            move_file(&a, &b, &temp_path_for(&b, "t"), &fp, Some(read), &mut PendingSyncs::default()).unwrap_err();
        assert!(matches!(err, FsError::Replaced { .. }), "{err}");
        assert_eq!(fs::read(&a).unwrap(), b"replaced", "left where it is");
        assert!(!b.exists());
        // And with no identity to compare, the journaled content is checked instead.
        let err = move_file(&a, &b, &temp_path_for(&b, "t"), &fp, None, &mut PendingSyncs::default()).unwrap_err();
        assert!(matches!(err, FsError::Changed { .. }), "{err}");
        assert!(!b.exists());
    }

    #[test]
    fn a_link_anywhere_on_the_way_is_refused_and_never_followed() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let fp = write(&outside.join("secret.jpg"), b"secret");
        let inbox = t.path().join("inbox");
        fs::create_dir(&inbox).unwrap();
        std::os::unix::fs::symlink(&outside, inbox.join("sub")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret.jpg"), inbox.join("file.jpg")).unwrap();
        let lib = t.path().join("lib");
        fs::create_dir(&lib).unwrap();
        let via_dir = inbox.join("sub/secret.jpg");
        let err = move_file(
            &via_dir,
            &lib.join("x.jpg"),
            &temp_path_for(&lib.join("x.jpg"), "t"),
            &fp,
            None,
            &mut PendingSyncs::default(),
        )
        .unwrap_err();
        assert!(matches!(&err, FsError::Symlink { link, .. } if link.ends_with("inbox/sub")), "{err}");
        assert!(matches!(open_file(&inbox.join("file.jpg")), Err(FsError::NotRegular { what: "a symbolic link", .. })));
        assert!(matches!(fingerprint(&via_dir), Err(FsError::Symlink { .. })));
        assert!(matches!(create_dirs(&inbox.join("sub/new")), Err(FsError::Symlink { .. })));
        assert!(!outside.join("new").exists());
        assert_eq!(fs::read(outside.join("secret.jpg")).unwrap(), b"secret");
        assert!(fs::read_dir(&lib).unwrap().next().is_none());
    }

    #[test]
    fn the_one_call_open_refuses_what_the_walk_refuses_and_opens_what_it_opens() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("a/b");
        fs::create_dir_all(&real).unwrap();
        std::os::unix::fs::symlink(t.path().join("a"), t.path().join("link")).unwrap();
        let same = |x: &OwnedFd, y: &Path| {
            let (id, md) = (Identity::of_stat(&rustix::fs::fstat(x).unwrap()), fs::symlink_metadata(y).unwrap());
            (id.dev, id.ino) == (md.dev(), md.ino())
        };
        // An ordinary folder, also through `.` and `..`: the folder the walk reaches.
        let fd = open_without_links(&real).expect("openat2 is there on the kernels we ship for");
        assert!(same(&fd, &real));
        let dotted = t.path().join("a/./b/../b");
        assert!(same(&open_without_links(&dotted).unwrap(), &real));
        assert!(same(&Dir::open(&dotted).unwrap().fd, &real));
        // A link as the last component, in the middle, or a magic link: refused,
        // and the walk then names the link.
        for via in [t.path().join("link"), t.path().join("link/b"), PathBuf::from("/proc/self/cwd")] {
            assert!(open_without_links(&via).is_none(), "{} was followed", via.display());
        }
        let err = Dir::open(&t.path().join("link/b")).unwrap_err();
        assert!(matches!(&err, FsError::Symlink { link, .. } if link.ends_with("link")), "{err}");
        // Missing: none, and the walk creates it.
        let new = t.path().join("a/b/c/d");
        assert!(open_without_links(&new).is_none());
        assert!(same(&Dir::open_with(&new, true).unwrap().fd, &new));
        // A file is not a folder.
        fs::write(real.join("f"), b"x").unwrap();
        assert!(open_without_links(&real.join("f")).is_none());
    }

    #[test]
    fn a_fifo_is_refused_at_once_not_waited_on() {
        let t = tempfile::tempdir().unwrap();
        let fifo = t.path().join("pipe");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(open_file(&fifo), Err(FsError::NotRegular { what: "a FIFO", .. })));
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
