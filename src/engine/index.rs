//! Refreshing the index of a folder: only files whose size, mtime or inode
//! changed (or that are new) are read and hashed, in parallel; rows of
//! files that are gone are dropped.

use std::collections::HashMap;
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
/// The file is opened once, without following links, and every value comes
/// from that descriptor; the row's size, mtime and inode are the open file's.
pub fn index_file(path: &Path, perceptual: bool) -> Result<Option<FileRow>, MediaError> {
    let mut opened = media::open(path)?;
    match media::probe_opened(&mut opened, path) {
        Ok(info) => index_probed(path, &mut opened, &info, perceptual).map(Some),
        Err(MediaError::NotMedia { .. }) if !media::looks_like_media_name(path) => Ok(None),
        Err(e) => Err(e),
    }
}

/// As [`index_file`], for a file already opened and probed: fingerprint
/// and pHash only, read through the same descriptor (an image once, into
/// memory, for both).
pub fn index_probed(
    path: &Path,
    opened: &mut fsops::Opened,
    info: &media::MediaInfo,
    perceptual: bool,
) -> Result<FileRow, MediaError> {
    let meta = &opened.meta;
    let wants_pixels = perceptual && !info.kind.is_video() && decode::can_decode(info.kind);
    let data = if wants_pixels { Some(media::read_all(&mut opened.file, path)?) } else { None };
    let fp = match &data {
        Some(d) => fsops::Fingerprint::of(d),
        None => fsops::fingerprint_file(&mut opened.file, path)?,
    };
    let (size, mtime_ns, inode) = FileRow::stat_key(meta);
    let mut row = FileRow {
        path: path.to_path_buf(),
        size,
        mtime_ns,
        inode,
        blake3: fp.hex(),
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
        if let Some(data) = &data {
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
    Ok(row)
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
    let meta = std::fs::metadata(root).map_err(|_| EngineError::MissingSource(root.to_path_buf()))?;
    if !meta.is_dir() {
        return Err(EngineError::SourceNotDir(root.to_path_buf()));
    }
    let root = fsops::canonical_lenient(root)?;
    let mut known: HashMap<PathBuf, FileRow> =
        store.files_under(&root)?.into_iter().map(|r| (r.path.clone(), r)).collect();
    let mut report = RefreshReport::default();
    let mut keep = Vec::new();
    let mut to_read = Vec::new();
    let mut refused: Vec<PathBuf> = Vec::new();
    for f in super::scan::scan_as(&root, access) {
        match f {
            Found::File(path) => {
                let meta = match std::fs::symlink_metadata(&path) {
                    // (only compared with the index: the file itself is opened safely if read)
                    Ok(m) => m,
                    Err(e) => {
                        report.errors += 1;
                        on_error(&path, e.to_string());
                        continue;
                    }
                };
                match known.remove(&path) {
                    Some(row)
                        if (row.size, row.mtime_ns, row.inode) == FileRow::stat_key(&meta)
                            && !stale(&row, perceptual) =>
                    {
                        keep.push(row)
                    }
                    Some(_) => to_read.push((path, meta, true)),
                    None => to_read.push((path, meta, false)),
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
    }
    // Rows of files the caller may not see are neither returned nor dropped.
    if !refused.is_empty() {
        known.retain(|p, _| !refused.iter().any(|r| p.starts_with(r)));
    }
    report.unchanged = keep.len() as u64;
    let total = to_read.len() as u64;
    let done = AtomicU64::new(0);
    progress(0, total);
    let read: Vec<(PathBuf, bool, Result<Option<FileRow>, MediaError>)> = to_read
        .into_par_iter()
        .map(|(path, _meta, changed): (PathBuf, std::fs::Metadata, bool)| {
            let r = index_file(&path, perceptual);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            (path, changed, r)
        })
        .collect();
    let mut upsert = Vec::new();
    let mut remove: Vec<PathBuf> = known.into_keys().collect();
    for (path, changed, r) in read {
        match r {
            Ok(Some(row)) => {
                report.bytes_read += row.size;
                if changed {
                    report.changed += 1;
                } else {
                    report.added += 1;
                }
                upsert.push(row);
            }
            Ok(None) => {
                if changed {
                    remove.push(path);
                }
            }
            Err(e) => {
                report.errors += 1;
                on_error(&path, e.to_string());
                if changed {
                    remove.push(path);
                }
            }
        }
    }
    report.removed = remove.len() as u64;
    store.update_files(&upsert, &remove)?;
    keep.extend(upsert);
    keep.sort_by(|a, b| a.path.cmp(&b.path));
    report.files = keep.len() as u64;
    Ok((keep, report))
}

/// A row read with an older index format, or without perceptual hashes
/// that are now wanted.
fn stale(row: &FileRow, perceptual: bool) -> bool {
    row.format < crate::store::INDEX_FORMAT
        || perceptual
            && row.phash.is_none()
            && row.hash_error.is_none()
            && !Kind::from_name(&row.kind).is_some_and(Kind::is_video)
}
