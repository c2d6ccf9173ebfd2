//! A cache of thumbnails under the state dir, for the review page (issue 16).
//!
//! `STATE/thumbs/ab/abcdef….jpg`, named by the blake3 of the source file's
//! identity and the requested size. The identity is what one `fstat` of the
//! descriptor [`media::open`] returns: device, inode, size, mtime and ctime,
//! both to the nanosecond. That makes a hit cost one `open` + `fstat` of the
//! photo and one read of the small cache file, never a read of the photo
//! (a content hash would read a 30 MB RAW on every hit). Any write to the
//! photo changes its mtime and ctime (ctime cannot be set back, so a tool
//! restoring the mtime is caught too); a rename or chmod changes the ctime
//! and costs one new thumbnail, never a stale one. A copy of the same
//! content elsewhere is another entry.
//!
//! A miss decodes ([`thumb::thumbnail_bytes`] on the bytes read through the
//! same descriptor) and writes with [`fsops::write_atomic`]; when the photo's
//! `fstat` has changed by the end of the read the thumbnail is returned but
//! not stored. A hit is checked to be a whole JPEG (SOI … EOI), else decoded
//! again and rewritten. Failing to store is not an error: the thumbnail is
//! still returned (and logged at `warn`).
//!
//! Size: a 256-pixel thumbnail at quality 80 is about 9 KB (the corpus
//! average, BENCHMARKS.md), so 10,000 photos take about 100 MB at one size. Nothing is removed on its own;
//! [`ThumbCache::prune_to`] removes the oldest-written files down to a byte
//! budget ([`DEFAULT_MAX_BYTES`], 512 MiB).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::fsops::{self, FsError};
use crate::media::{self, thumb, MediaError};

/// The byte budget [`ThumbCache::prune_to`] is meant to be called with.
pub const DEFAULT_MAX_BYTES: u64 = 512 << 20;

/// What can fail getting a thumbnail.
#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    /// The photo could not be read, or has no thumbnail (a video, a RAW
    /// without a preview, a damaged file): the page shows a placeholder.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The cache folder could not be read or cleaned.
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// What [`ThumbCache::prune_to`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Cache files removed.
    pub removed: usize,
    /// Their bytes.
    pub removed_bytes: u64,
    /// Bytes left in the cache.
    pub kept_bytes: u64,
}

/// Thumbnails of photos, kept in `STATE/thumbs`.
#[derive(Debug, Clone)]
pub struct ThumbCache {
    dir: PathBuf,
}

impl ThumbCache {
    /// The cache in `state_dir/thumbs` (made on the first write).
    pub fn new(state_dir: &Path) -> ThumbCache {
        ThumbCache { dir: state_dir.join("thumbs") }
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the thumbnail of a file with this `fstat` at `max_side` lives.
    fn entry(&self, meta: &std::fs::Metadata, max_side: u32) -> PathBuf {
        let mut h = blake3::Hasher::new();
        h.update(b"clean-backup thumb v1\0");
        for n in [meta.dev(), meta.ino(), meta.size()] {
            h.update(&n.to_le_bytes());
        }
        for n in [meta.mtime(), meta.mtime_nsec(), meta.ctime(), meta.ctime_nsec()] {
            h.update(&n.to_le_bytes());
        }
        h.update(&max_side.clamp(1, thumb::MAX_SIDE).to_le_bytes());
        h.update(&thumb::QUALITY.to_le_bytes());
        let hex = h.finalize().to_hex();
        self.dir.join(&hex[..2]).join(format!("{hex}.jpg"))
    }

    /// The cache file that [`ThumbCache::get`] would use for `path` as it is now.
    pub fn entry_path(&self, path: &Path, max_side: u32) -> Result<PathBuf, ThumbError> {
        Ok(self.entry(&media::open(path)?.meta, max_side))
    }

    /// The JPEG thumbnail of `path`, at most `max_side` pixels on its longest
    /// side: from the cache when this version of the file has one, else
    /// decoded and stored.
    pub fn get(&self, path: &Path, max_side: u32) -> Result<Vec<u8>, ThumbError> {
        let mut opened = media::open(path)?;
        let entry = self.entry(&opened.meta, max_side);
        if let Ok(bytes) = fsops::read(&entry) {
            if is_whole_jpeg(&bytes) {
                return Ok(bytes);
            }
        }
        let data = media::read_all(&mut opened.file, path)?;
        let t = thumb::thumbnail_bytes(path, &data, max_side)?;
        let unchanged = opened.file.metadata().is_ok_and(|m| self.entry(&m, max_side) == entry);
        if unchanged {
            if let Err(e) = fsops::write_atomic(&entry, &t.jpeg) {
                tracing::warn!("thumbnail cache: {e}");
            }
        }
        Ok(t.jpeg)
    }

    /// [`ThumbCache::get`] of many files in parallel (rayon), results in the
    /// order given. A path given twice is decoded once.
    pub fn get_many<P: AsRef<Path> + Sync>(&self, paths: &[P], max_side: u32) -> Vec<Result<Vec<u8>, ThumbError>> {
        let mut first = std::collections::HashMap::new();
        let unique: Vec<usize> =
            (0..paths.len()).filter(|&i| *first.entry(paths[i].as_ref()).or_insert(i) == i).collect();
        let mut out: Vec<Option<Result<Vec<u8>, ThumbError>>> = (0..paths.len()).map(|_| None).collect();
        let done: Vec<(usize, Result<Vec<u8>, ThumbError>)> =
            unique.par_iter().map(|&i| (i, self.get(paths[i].as_ref(), max_side))).collect();
        for (i, r) in done {
            out[i] = Some(r);
        }
        out.into_iter().enumerate().map(|(i, r)| r.unwrap_or_else(|| self.get(paths[i].as_ref(), max_side))).collect()
    }

    /// Removes the oldest-written cache files until at most `max_bytes` remain
    /// (a hit does not refresh a file: its mtime is when it was made).
    pub fn prune_to(&self, max_bytes: u64) -> Result<Pruned, ThumbError> {
        let mut files: Vec<(i64, i64, u64, PathBuf)> = Vec::new();
        if !fsops::is_dir(&self.dir) {
            return Ok(Pruned::default());
        }
        for sub in std::fs::read_dir(&self.dir)
            .map_err(|source| FsError::Io { op: "read", path: self.dir.clone(), source })?
            .filter_map(Result::ok)
        {
            if !sub.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            for f in fsops::files_in(&sub.path()) {
                if f.extension().is_some_and(|e| e == "jpg") {
                    if let Ok(m) = std::fs::symlink_metadata(&f) {
                        files.push((m.mtime(), m.mtime_nsec(), m.len(), f));
                    }
                }
            }
        }
        files.sort();
        let mut kept: u64 = files.iter().map(|f| f.2).sum();
        let mut pruned = Pruned::default();
        for (_, _, len, f) in files {
            if kept <= max_bytes {
                break;
            }
            fsops::remove_own_file(&f)?;
            kept -= len;
            pruned.removed += 1;
            pruned.removed_bytes += len;
        }
        pruned.kept_bytes = kept;
        Ok(pruned)
    }
}

/// A whole JPEG: starts with SOI, ends with EOI (a cache file half written
/// by another process racing on the same entry is not one).
fn is_whole_jpeg(b: &[u8]) -> bool {
    b.len() > 4 && b.starts_with(&[0xFF, 0xD8]) && b.ends_with(&[0xFF, 0xD9])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 90]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).expect("encode");
        out
    }

    #[test]
    fn a_hit_is_the_stored_file_and_a_broken_entry_is_made_again() {
        let tmp = tempfile::tempdir().expect("tmp");
        let photo = tmp.path().join("a.jpg");
        std::fs::write(&photo, jpeg(300, 200)).expect("write");
        let cache = ThumbCache::new(&tmp.path().join("state"));
        let first = cache.get(&photo, 64).expect("thumb");
        let entry = cache.entry_path(&photo, 64).expect("entry");
        assert!(entry.starts_with(tmp.path().join("state/thumbs")));
        assert_eq!(std::fs::read(&entry).expect("cached"), first);
        assert_eq!(cache.get(&photo, 64).expect("hit"), first);
        std::fs::write(&entry, &first[..10]).expect("break it");
        assert_eq!(cache.get(&photo, 64).expect("again"), first);
        assert_eq!(std::fs::read(&entry).expect("rewritten"), first);
        assert_ne!(cache.entry_path(&photo, 128).expect("entry"), entry);
    }

    #[test]
    fn get_many_keeps_order_and_errors_in_place() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (a, b, bad) = (tmp.path().join("a.jpg"), tmp.path().join("b.jpg"), tmp.path().join("c.jpg"));
        std::fs::write(&a, jpeg(100, 50)).expect("write");
        std::fs::write(&b, jpeg(50, 100)).expect("write");
        std::fs::write(&bad, b"not a photo").expect("write");
        let cache = ThumbCache::new(tmp.path());
        let got = cache.get_many(&[&a, &bad, &b, &a], 32);
        let size = |r: &Result<Vec<u8>, ThumbError>| {
            let img = image::load_from_memory(r.as_ref().expect("thumb")).expect("decodes");
            (img.width(), img.height())
        };
        assert_eq!(size(&got[0]), (32, 16));
        assert!(got[1].is_err());
        assert_eq!(size(&got[2]), (16, 32));
        assert_eq!(got[3].as_ref().expect("same"), got[0].as_ref().expect("thumb"));
    }

    #[test]
    fn prune_removes_the_oldest_first() {
        let tmp = tempfile::tempdir().expect("tmp");
        let cache = ThumbCache::new(tmp.path());
        assert_eq!(cache.prune_to(0).expect("empty"), Pruned::default());
        let mut names = Vec::new();
        for i in 0..3 {
            let photo = tmp.path().join(format!("{i}.jpg"));
            std::fs::write(&photo, jpeg(40 + i * 10, 40)).expect("write");
            cache.get(&photo, 32).expect("thumb");
            names.push(cache.entry_path(&photo, 32).expect("entry"));
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let newest = std::fs::metadata(&names[2]).expect("meta").len();
        let p = cache.prune_to(newest).expect("prune");
        assert_eq!(p.removed, 2);
        assert_eq!(p.kept_bytes, newest);
        assert!(!names[0].exists() && !names[1].exists() && names[2].exists());
    }
}
