//! Exact duplicates without decoding anything (`cbctl dedup --exact`):
//! files are grouped by size, files that share a size by a hash of their
//! head and tail, and only those still alike are read whole, the order
//! fclones uses. A file whose size no other file has is never opened. Only
//! the members of a group get a [`FileRow`], and nothing is written to the
//! index: a row without a capture date or a pHash would mislead filing.
//!
//! As fclones does by default, empty files are not duplicates of each
//! other, and the hard links of one inode are one file (the first path
//! found), not copies: trashing one of them frees nothing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::index::{Progress, RefreshReport};
use super::scan::Found;
use crate::fsops::{self, Identity};
use crate::media;
use crate::store::FileRow;

/// Bytes read from each end of a file to tell same-size files apart; a
/// file no longer than two blocks is read whole at once.
pub const BLOCK: usize = 16 * 1024;

/// What the exact search found: the rows of group members, each with the
/// index (into the roots given) of the folder it was found under.
#[derive(Debug, Default)]
pub struct Exact {
    /// The files that have at least one exact copy, by path.
    pub rows: Vec<FileRow>,
    /// For each row, the index of its root.
    pub roots: Vec<usize>,
    /// Files looked at, bytes read, errors.
    pub report: RefreshReport,
}

/// A file read whole: its fingerprint and the identity of what was read.
type Whole = Result<(fsops::Fingerprint, Identity), fsops::FsError>;

/// A regular file found under a root.
struct Candidate {
    path: PathBuf,
    root: usize,
    id: Identity,
    size: u64,
    mtime_ns: i64,
    /// Named like media (else it counts only with `all_files`, or if its
    /// head sniffs as media).
    media_name: bool,
}

/// Keeps the lists of `groups` (by any key) that have two files or more.
fn shared<K: std::hash::Hash + Eq>(groups: HashMap<K, Vec<usize>>) -> Vec<Vec<usize>> {
    groups.into_values().filter(|g| g.len() > 1).collect()
}

/// The candidates of `groups`, in inode order: the order least hard on a
/// spinning disk, and the cheapest for a file system's inode cache.
fn in_inode_order(groups: &[Vec<usize>], cands: &[Candidate]) -> Vec<usize> {
    let mut work: Vec<usize> = groups.iter().flatten().copied().collect();
    work.sort_by_key(|&i| (cands[i].id.dev, cands[i].id.ino));
    work
}

/// Finds the exact duplicates under `roots` (canonical folders). Without
/// `all_files`, only media files count: by name, or by their head's magic
/// bytes for a file that shares its size with another.
pub fn find(
    roots: &[PathBuf],
    all_files: bool,
    access: Option<&crate::access::Access>,
    progress: Progress<'_>,
    on_error: &mut dyn FnMut(&Path, String),
) -> Exact {
    let mut report = RefreshReport::default();
    let mut cands: Vec<Candidate> = Vec::new();
    let mut paths: HashSet<PathBuf> = HashSet::new();
    let mut inodes: HashSet<Identity> = HashSet::new();
    for (r, root) in roots.iter().enumerate() {
        for f in super::scan::scan_as(root, access) {
            match f {
                Found::File(path) => {
                    if paths.contains(&path) {
                        continue;
                    }
                    let meta = match fsops::lstat(&path) {
                        Ok(m) if m.is_file() => m,
                        Ok(_) => continue,
                        Err(e) => {
                            report.errors += 1;
                            on_error(&path, e.to_string());
                            continue;
                        }
                    };
                    let media_name = media::looks_like_media_name(&path);
                    if all_files || media_name {
                        report.files += 1;
                    }
                    let id = Identity::of(&meta);
                    // Empty files are alike without being copies; a hard link is the same file.
                    if meta.len() == 0 || !inodes.insert(id) {
                        continue;
                    }
                    let (size, mtime_ns, _) = FileRow::stat_key(&meta);
                    paths.insert(path.clone());
                    cands.push(Candidate { path, root: r, id, size, mtime_ns, media_name });
                }
                Found::Skipped(..) => {}
                Found::Error(path, why) => {
                    report.errors += 1;
                    on_error(&path, why);
                }
            }
        }
    }

    // 1. Size: a file no other file matches in size is never opened.
    let mut by_size: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, c) in cands.iter().enumerate() {
        by_size.entry(c.size).or_default().push(i);
    }
    let by_size = shared(by_size);

    // 2. Head and tail (the whole file, for small ones).
    let work = in_inode_order(&by_size, &cands);
    let total = work.len() as u64;
    let done = AtomicU64::new(0);
    progress(0, total);
    let sampled: Vec<(usize, Result<fsops::Sample, fsops::FsError>)> = work
        .into_par_iter()
        .map(|i| {
            let s = fsops::sample(&cands[i].path, BLOCK);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            (i, s)
        })
        .collect();
    let mut kind: HashMap<usize, String> = HashMap::new();
    let mut whole: HashMap<usize, blake3::Hash> = HashMap::new();
    let mut by_sample: HashMap<(u64, blake3::Hash), Vec<usize>> = HashMap::new();
    for (i, s) in sampled {
        let c = &cands[i];
        let s = match s {
            Ok(s) => s,
            Err(e) => {
                report.errors += 1;
                on_error(&c.path, e.to_string());
                continue;
            }
        };
        report.bytes_read += s.read;
        report.added += 1;
        let sniffed = media::sniff::sniff_bytes(&s.head);
        if !all_files && !c.media_name {
            if sniffed.is_none() {
                continue;
            }
            report.files += 1;
        }
        if s.id != c.id || s.size != c.size {
            report.errors += 1;
            on_error(&c.path, "changed while it was read; left out (run again)".to_string());
            continue;
        }
        kind.insert(i, sniffed.map_or("other", media::Kind::name).to_string());
        if s.whole {
            whole.insert(i, s.hash);
        }
        by_sample.entry((c.size, s.hash)).or_default().push(i);
    }
    let by_sample = shared(by_sample);

    // 3. The whole content of files longer than two blocks still alike.
    let (small, large): (Vec<Vec<usize>>, Vec<Vec<usize>>) =
        by_sample.into_iter().partition(|g| g.iter().all(|i| whole.contains_key(i)));
    let work = in_inode_order(&large, &cands);
    let total = work.len() as u64;
    let done = AtomicU64::new(0);
    if total > 0 {
        progress(0, total);
    }
    let hashed: Vec<(usize, Whole)> = work
        .into_par_iter()
        .map(|i| {
            let r = fsops::fingerprint_id(&cands[i].path);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            (i, r)
        })
        .collect();
    let mut by_hash: HashMap<(u64, blake3::Hash), Vec<usize>> = HashMap::new();
    for (i, r) in hashed {
        let c = &cands[i];
        match r {
            Ok((fp, id)) => {
                report.bytes_read += fp.size;
                if id != c.id || fp.size != c.size {
                    report.errors += 1;
                    on_error(&c.path, "changed while it was read; left out (run again)".to_string());
                    continue;
                }
                by_hash.entry((fp.size, fp.hash)).or_default().push(i);
            }
            Err(e) => {
                report.errors += 1;
                on_error(&c.path, e.to_string());
            }
        }
    }
    for g in small {
        for i in g {
            if let Some(h) = whole.get(&i) {
                by_hash.entry((cands[i].size, *h)).or_default().push(i);
            }
        }
    }

    let mut members: Vec<(usize, blake3::Hash)> = by_hash
        .into_iter()
        .filter(|(_, g)| g.len() > 1)
        .flat_map(|((_, h), g)| g.into_iter().map(move |i| (i, h)))
        .collect();
    members.sort_by(|a, b| cands[a.0].path.cmp(&cands[b.0].path));
    let mut out = Exact { report, ..Exact::default() };
    for (i, hash) in members {
        let c = &cands[i];
        out.rows.push(FileRow {
            path: c.path.clone(),
            size: c.size,
            mtime_ns: c.mtime_ns,
            inode: c.id.ino,
            blake3: hash.to_hex().to_string(),
            phash: None,
            width: None,
            height: None,
            taken_at: None,
            taken_source: None,
            kind: kind.remove(&i).unwrap_or_default(),
            hash_error: None,
            second: None,
            capture: Default::default(),
            format: crate::store::INDEX_FORMAT,
        });
        out.roots.push(c.root);
    }
    out
}
