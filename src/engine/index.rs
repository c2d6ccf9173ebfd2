//! Refreshing the index of a folder: only files whose size, mtime or inode
//! changed (or that are new) are read and hashed, in parallel; rows of
//! files that are gone are dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::scan::Found;
use super::EngineError;
use crate::fsops;
use crate::media::{self, decode, Kind, MediaError};
use crate::store::{FileRow, Store};

/// What a refresh did.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct RefreshReport {
    /// Media files now indexed under the folder.
    pub files: u64,
    /// Trusted from the index without reading (size, mtime, inode unchanged).
    pub unchanged: u64,
    /// New to the index (with `dedup --exact`, which indexes nothing: files opened).
    pub added: u64,
    /// Re-read because they changed.
    pub changed: u64,
    /// Dropped because they are gone.
    pub removed: u64,
    /// Files that could not be read (each reported through `on_error`).
    pub errors: u64,
    /// Bytes read to hash (with `dedup --exact`: of the files that share a size only).
    pub bytes_read: u64,
}

/// Progress of the hashing phase: `done` of `total` files read.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Reads one file into an index row: kind, date, blake3, and for images
/// the perceptual hash and size. `Ok(None)` for files that are not media.
/// The file is opened once, without following links, read once
/// ([`media::inspect`]), and every value comes from that descriptor; the
/// row's size, mtime and inode are the open file's.
pub fn index_file(path: &Path, perceptual: bool) -> Result<Option<FileRow>, MediaError> {
    let mut opened = media::open(path)?;
    match media::inspect(&mut opened, path, perceptual) {
        Ok(ins) => Ok(Some(index_row(path, &opened.meta, &ins, perceptual))),
        Err(MediaError::NotMedia { .. }) if !media::looks_like_media_name(path) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The index row of a file [`media::inspect`]ed through a descriptor
/// whose metadata is `meta`: the pHash from the bytes it read.
pub fn index_row(path: &Path, meta: &std::fs::Metadata, ins: &media::Inspection, perceptual: bool) -> FileRow {
    let info = &ins.info;
    let (size, mtime_ns, inode) = FileRow::stat_key(meta);
    let mut row = FileRow {
        path: path.to_path_buf(),
        size,
        mtime_ns,
        inode,
        blake3: ins.fingerprint.hex(),
        phash: None,
        width: None,
        height: None,
        taken_at: Some(info.taken.to_rfc3339()),
        taken_source: Some(info.taken.source.as_str().to_string()),
        kind: info.kind.name().to_string(),
        hash_error: None,
        second: None,
        capture: info.capture.clone(),
        format: crate::store::INDEX_FORMAT,
    };
    if perceptual && !info.kind.is_video() {
        if let Some(data) = &ins.data {
            match media::image_hash_bytes(path, data, info.kind) {
                Ok(h) => {
                    row.width = Some(h.width);
                    row.height = Some(h.height);
                    if h.flat {
                        row.hash_error =
                            Some("a nearly uniform (blank) picture: matched by exact content only".to_string());
                    } else {
                        row.phash = Some(h.phash);
                        row.second = Some(h.second);
                    }
                }
                Err(e) => row.hash_error = Some(e.to_string()),
            }
        } else {
            row.hash_error = Some(decode::cannot_decode_reason(info.kind));
        }
    }
    row
}

/// Files read together, in inode order (kind to a spinning disk), while
/// the walk goes on.
const CHUNK: usize = 256;

/// Rows read are written to the index at least this often (and at the
/// end): what a `kill -9` can lose; what was written is not read again.
/// Each write is a transaction and an fsync (37 ms on this machine's disk),
/// so not one per chunk.
const WRITE_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// ... or once this many rows wait.
const WRITE_ROWS: usize = 8192;

/// One chunk as read: each file's path, whether it was indexed before, and
/// its row (`None`: not media).
type ReadChunk = Vec<(PathBuf, bool, Result<Option<FileRow>, MediaError>)>;

/// Rows read and not yet written.
struct Pending {
    upsert: Vec<FileRow>,
    remove: Vec<PathBuf>,
    since: std::time::Instant,
}

impl Pending {
    fn new() -> Pending {
        Pending { upsert: Vec::new(), remove: Vec::new(), since: std::time::Instant::now() }
    }

    /// Takes in a chunk read: rows to write, files to drop from the index.
    fn absorb(&mut self, read: ReadChunk, report: &mut RefreshReport, on_error: &mut dyn FnMut(&Path, String)) {
        for (path, changed, r) in read {
            match r {
                Ok(Some(row)) => {
                    report.bytes_read += row.size;
                    if changed {
                        report.changed += 1;
                    } else {
                        report.added += 1;
                    }
                    self.upsert.push(row);
                }
                Ok(None) => {
                    if changed {
                        self.remove.push(path);
                    }
                }
                Err(e) => {
                    report.errors += 1;
                    on_error(&path, e.to_string());
                    if changed {
                        self.remove.push(path);
                    }
                }
            }
        }
    }

    /// Writes what waits, when it is time (or `now`), in one transaction.
    fn write(&mut self, store: &mut Store, report: &mut RefreshReport, now: bool) -> Result<(), EngineError> {
        let waiting = self.upsert.len() + self.remove.len();
        if waiting == 0 || !now && waiting < WRITE_ROWS && self.since.elapsed() < WRITE_EVERY {
            return Ok(());
        }
        report.removed += self.remove.len() as u64;
        store.update_files(&self.upsert, &self.remove)?;
        self.upsert.clear();
        self.remove.clear();
        self.since = std::time::Instant::now();
        Ok(())
    }
}

/// Brings the index of `root` up to date and returns its rows (by path).
/// Files that cannot be read are passed to `on_error` and left out.
pub fn refresh(
    store: &mut Store,
    root: &Path,
    perceptual: bool,
    progress: Progress<'_>,
    on_error: &mut dyn FnMut(&Path, String),
) -> Result<(Vec<FileRow>, RefreshReport), EngineError> {
    refresh_as(store, root, perceptual, None, progress, on_error)
}

/// [`refresh`] for a caller whose rights are `access`: what it may not
/// read is reported and left out of the rows returned (but stays indexed).
pub fn refresh_as(
    store: &mut Store,
    root: &Path,
    perceptual: bool,
    access: Option<&crate::access::Access>,
    progress: Progress<'_>,
    on_error: &mut dyn FnMut(&Path, String),
) -> Result<(Vec<FileRow>, RefreshReport), EngineError> {
    let (root, seen, mut report) = walk(store, root, perceptual, access, progress, on_error)?;
    let rows = store.files_under_where(&root, &mut |id| seen.has(id))?;
    report.files = rows.len() as u64;
    Ok((rows, report))
}

/// [`refresh`] without the rows: the index is brought up to date, and
/// nothing of it is held in memory (a library of a million files is walked
/// in constant memory; only a bit per row is kept).
pub fn update(
    store: &mut Store,
    root: &Path,
    perceptual: bool,
    progress: Progress<'_>,
    on_error: &mut dyn FnMut(&Path, String),
) -> Result<RefreshReport, EngineError> {
    walk(store, root, perceptual, None, progress, on_error).map(|(_, _, report)| report)
}

/// The rows a walk found on disk, by row id: one bit each. Rows written
/// after the walk began (by it, or by a filing beside it) count as seen.
struct Seen {
    bits: Vec<u64>,
    max: i64,
}

impl Seen {
    fn new(max: i64) -> Seen {
        Seen { bits: vec![0; usize::try_from(max / 64 + 1).unwrap_or(0)], max }
    }

    fn mark(&mut self, id: i64) {
        if let (Ok(i), true) = (usize::try_from(id), id <= self.max) {
            if let Some(w) = self.bits.get_mut(i / 64) {
                *w |= 1 << (i % 64);
            }
        }
    }

    fn has(&self, id: i64) -> bool {
        id > self.max
            || usize::try_from(id).is_ok_and(|i| self.bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0))
    }
}

/// A file to read: its path, inode (the order it is read in), whether it
/// was indexed before, and its size.
type ToRead = (PathBuf, u64, bool, u64);

/// While a file is read and hashed, the disk is already asked for the one
/// this many places further on in the chunk (`fsops::read_ahead`): a photo
/// decodes in about the time the disk takes to read it, and one read at a
/// time leaves the disk's queue empty (this VM's disk reads 250 MB/s one
/// file at a time, 1,200 MB/s four at a time).
const READ_AHEAD: usize = 4;

/// Files smaller than this are not read ahead: the second open would cost
/// more than the read it saves.
const READ_AHEAD_MIN: u64 = 256 * 1024;

fn read_ahead(file: Option<&ToRead>) {
    if let Some((path, _, _, size)) = file {
        if *size >= READ_AHEAD_MIN {
            fsops::read_ahead(path);
        }
    }
}

/// Walks `root` once, in directory order: each file's size, mtime and
/// inode are compared with its index row (looked up by path, one at a
/// time); new and changed files are handed, [`CHUNK`] at a time, to a
/// reader that reads them in parallel (in inode order) while the walk goes
/// on, and their rows are written every [`WRITE_EVERY`]; rows of files
/// that are gone are dropped at the end.
fn walk(
    store: &mut Store,
    root: &Path,
    perceptual: bool,
    access: Option<&crate::access::Access>,
    progress: Progress<'_>,
    on_error: &mut dyn FnMut(&Path, String),
) -> Result<(PathBuf, Seen, RefreshReport), EngineError> {
    let meta = std::fs::metadata(root).map_err(|_| EngineError::MissingSource(root.to_path_buf()))?;
    if !meta.is_dir() {
        return Err(EngineError::SourceNotDir(root.to_path_buf()));
    }
    let root = fsops::canonical_lenient(root)?;
    let mut seen = Seen::new(store.max_file_id()?);
    let mut report = RefreshReport::default();
    let mut refused: Vec<PathBuf> = Vec::new();
    let total = super::scan::count_files(&root);
    let done = AtomicU64::new(0);
    progress(0, total);
    let mut pending = Pending::new();
    std::thread::scope(|scope| -> Result<(), EngineError> {
        // At most two chunks wait for the reader: the walk never runs far ahead.
        let (chunk_tx, chunk_rx) = std::sync::mpsc::sync_channel::<Vec<ToRead>>(2);
        let (read_tx, read_rx) = std::sync::mpsc::channel::<ReadChunk>();
        let done = &done;
        scope.spawn(move || {
            // The chunk after this one, when the walk has it ready: its first
            // files are read ahead while this one's last are hashed, so the
            // disk never waits for a chunk to end.
            let mut next: Option<Vec<ToRead>> = None;
            let sorted = |mut chunk: Vec<ToRead>| {
                chunk.sort_by_key(|&(_, inode, _, _)| inode);
                chunk
            };
            let workers = rayon::current_num_threads().max(1);
            loop {
                let chunk = match next.take() {
                    Some(c) => c,
                    None => match chunk_rx.recv() {
                        Ok(c) => {
                            let c = sorted(c);
                            c.iter().take(READ_AHEAD).for_each(|f| read_ahead(Some(f)));
                            c
                        }
                        Err(_) => break,
                    },
                };
                next = chunk_rx.try_recv().ok().map(sorted);
                let ahead = |i: usize| match chunk.get(i) {
                    Some(f) => Some(f),
                    None => next.as_ref().and_then(|n| n.get(i - chunk.len())),
                };
                // Each worker takes the next file in inode order (not a
                // split of the chunk), so the files read ahead are the next
                // ones hashed and the disk is read front to back.
                let cursor = std::sync::atomic::AtomicUsize::new(0);
                let read: ReadChunk = (0..workers)
                    .into_par_iter()
                    .flat_map_iter(|_| {
                        let mut out = Vec::new();
                        loop {
                            let i = cursor.fetch_add(1, Ordering::Relaxed);
                            let Some((path, _, changed, _)) = chunk.get(i) else { break };
                            read_ahead(ahead(i + READ_AHEAD));
                            let r = index_file(path, perceptual);
                            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                            progress(n, total.max(n));
                            out.push((path.clone(), *changed, r));
                        }
                        out
                    })
                    .collect();
                if read_tx.send(read).is_err() {
                    break;
                }
            }
        });
        let mut chunk: Vec<ToRead> = Vec::new();
        let mut failed: Option<EngineError> = None;
        super::scan::scan_each(&root, access, &mut |f| {
            if failed.is_some() {
                return;
            }
            match f {
                Found::File(path) => {
                    let meta = match fsops::lstat(&path) {
                        // (only compared with the index: the file itself is opened safely if read)
                        Ok(m) => m,
                        Err(e) => {
                            report.errors += 1;
                            on_error(&path, e.to_string());
                            return;
                        }
                    };
                    let stat = FileRow::stat_key(&meta);
                    let key = match store.file_key_at(&path) {
                        Ok(k) => k,
                        Err(e) => {
                            failed = Some(e.into());
                            return;
                        }
                    };
                    match key {
                        Some(k) if (k.size, k.mtime_ns, k.inode) == stat && !stale_key(&k, perceptual) => {
                            seen.mark(k.id);
                            report.unchanged += 1;
                            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                            if n % 1024 == 0 {
                                progress(n, total.max(n));
                            }
                        }
                        Some(k) => {
                            seen.mark(k.id);
                            chunk.push((path, stat.2, true, stat.0));
                        }
                        None => chunk.push((path, stat.2, false, stat.0)),
                    }
                    if chunk.len() >= CHUNK {
                        // The reader is gone only if it panicked; the scope says so.
                        let _ = chunk_tx.send(std::mem::take(&mut chunk));
                    }
                    while let Ok(read) = read_rx.try_recv() {
                        pending.absorb(read, &mut report, on_error);
                    }
                    if let Err(e) = pending.write(store, &mut report, false) {
                        failed = Some(e);
                    }
                }
                Found::Skipped(..) => {}
                Found::Error(path, why) => {
                    report.errors += 1;
                    on_error(&path, why);
                    if access.is_some() {
                        refused.push(path);
                    }
                }
            }
        });
        if !chunk.is_empty() {
            let _ = chunk_tx.send(chunk);
        }
        drop(chunk_tx);
        // The reader ends when the chunks do; what it read is written even after a failure.
        for read in read_rx {
            pending.absorb(read, &mut report, on_error);
            pending.write(store, &mut report, false)?;
        }
        pending.write(store, &mut report, true)?;
        failed.map_or(Ok(()), Err)
    })?;
    // Rows of files the caller may not see are neither returned nor dropped.
    let gone: Vec<PathBuf> = store
        .ids_under(&root, &mut |id| !seen.has(id))?
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| !refused.iter().any(|r| p.starts_with(r)))
        .collect();
    report.removed += gone.len() as u64;
    store.update_files(&[], &gone)?;
    report.files = report.unchanged + report.added + report.changed;
    let n = done.load(Ordering::Relaxed);
    progress(n, total.max(n));
    Ok((root, seen, report))
}

/// A row read with an older index format, or without the perceptual
/// hash that is now wanted.
fn stale_key(k: &crate::store::FileKey, perceptual: bool) -> bool {
    k.format < crate::store::INDEX_FORMAT
        || perceptual && !k.hashed && !Kind::from_name(&k.kind).is_some_and(Kind::is_video)
}
