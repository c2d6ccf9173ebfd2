//! `organize SRC DEST`: file every media file under SRC into DEST by capture date.
//!
//! Three phases: scan the tree; probe (kind, date, camera) and fingerprint
//! (blake3) every candidate in parallel; then file them one by one through
//! the journal. Nothing is touched before the third phase, so a dry run is
//! the first two phases plus the naming logic.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::FixedOffset;
use rayon::prelude::*;

use super::group::{group, GroupOptions, Match, SetAside};
use super::index::{index_row, update};
use super::scan::Found;
use super::{match_name, record_decisions, EngineError, Event, FileEvent, Outcome, Summary};
use crate::config::Mode;
use crate::fsops::{self, Fingerprint, Slot};
use crate::journal::{BatchItem, Journal, OpOutcome};
use crate::layout::Layout;
use crate::media::{self, MediaError, MediaInfo};
use crate::phash::PHash;
use crate::store::{Action, FileRow, HashIndex, Store};

/// The folder at the top of a library where the daemon moves duplicates
/// when `dedup.on_duplicate = "quarantine"` (hidden, so never indexed).
pub const QUARANTINE_DIR: &str = ".clean-backup-duplicates";

/// What to organize, where, and how.
#[derive(Debug, Clone)]
pub struct OrganizeOptions {
    /// The folder to take files from (recursively).
    pub src: PathBuf,
    /// The library root to file them into.
    pub dest: PathBuf,
    /// Move (default) or copy.
    pub mode: Mode,
    /// Report what would happen; touch nothing.
    pub dry_run: bool,
    /// Folder templates under `dest` (`layout`, and `layout_undated` for files dated by their mtime).
    pub layout: Layout,
    /// The journal session kind: "organize" for `cbctl organize`, "ingest" for the daemon.
    pub session_kind: &'static str,
    /// How incoming files are checked against the library and each other
    /// (exact copies always; pHash when `perceptual`).
    pub dedup: GroupOptions,
    /// Where duplicates go (`dedup.on_duplicate = "quarantine"`): moved
    /// there, journaled, under their path relative to `src`. `None` leaves
    /// them in place.
    pub quarantine: Option<PathBuf>,
    /// Compress JPEG and PNG photos as they are filed (`[compress] enabled`):
    /// the smaller copy is filed and the original goes to the library trash,
    /// both journaled, so undo brings the original bytes back. `None` files
    /// them as they are.
    pub compress: Option<crate::media::compress::Level>,
    /// The rights of the caller the daemon runs this for (`None`: this
    /// process's own): what it may not read or move is left alone.
    pub access: Option<crate::access::Access>,
    /// File every file, duplicate or not (`cbctl keep`).
    pub keep: bool,
    /// Files that may still wait for a partner (the daemon's
    /// `watch.pair_seconds` has not run out for them): a Live Photo's still
    /// or video whose other half is not in the batch, a sidecar without its
    /// photo. They are reported [`Outcome::Waiting`] and left alone.
    pub wait_for: std::collections::HashSet<PathBuf>,
}

/// A candidate after probing: its info, content hash, index row, and the
/// identity (device, inode) of the file that was read.
struct Probed {
    path: PathBuf,
    result: Result<(MediaInfo, Fingerprint, FileRow, fsops::Identity), MediaError>,
}

/// Reads a candidate: kind, date, blake3 and (for images) pHash, all
/// through one descriptor opened without following links.
fn probe_one(path: PathBuf, perceptual: bool) -> Probed {
    let result = media::open(&path).and_then(|mut opened| {
        let ins = media::inspect(&mut opened, &path, perceptual)?;
        let row = index_row(&path, &opened.meta, &ins, perceptual);
        Ok((ins.info, ins.fingerprint, row, opened.id))
    });
    Probed { path, result }
}

/// What the library already holds. Only the pHashes, by index row id,
/// are kept in memory (16 bytes a file, plus the multi-index tables: about
/// 32 MB for a million photos); exact content, Live Photo stills and names
/// are looked up in the index (SQLite) when a file comes, and every row
/// found is checked against the disk before it counts. Loaded by updating
/// the index from disk; the daemon keeps one between batches
/// ([`organize_found_with`]) and adds what it files, so a batch does not
/// walk the whole library.
pub struct Library {
    dest: PathBuf,
    perceptual: bool,
    loaded: Instant,
    phashes: HashIndex,
    /// The largest index row id when it was read: rows after it were
    /// written since.
    max_id: i64,
    /// What was filed into it since it was read, for a newer read to take over.
    added: Vec<(i64, PHash)>,
}

impl Library {
    /// Updates the index of `dest` (reading new or changed files) and loads it.
    pub fn load(
        journal: &mut Journal,
        dest: &Path,
        perceptual: bool,
        on_event: &mut (dyn FnMut(&Event) + Send),
    ) -> Result<Library, EngineError> {
        let on_event = std::sync::Mutex::new(on_event);
        let progress = |done, total| {
            if let Ok(mut f) = on_event.lock() {
                (*f)(&Event::Indexing { done, total });
            }
        };
        Library::refreshed(journal.store_mut(), dest, perceptual, &progress)
    }

    /// [`Library::load`] through a store of its own: the daemon's check in
    /// the background, while filing goes on with the library it has.
    pub fn refreshed(
        store: &mut Store,
        dest: &Path,
        perceptual: bool,
        progress: super::index::Progress<'_>,
    ) -> Result<Library, EngineError> {
        if dest.is_dir() {
            // Unreadable library files are not ours to report here; they stay unindexed.
            update(store, dest, perceptual, progress, &mut |_, _| {})?;
        }
        Library::from_index(store, dest, perceptual)
    }

    /// The library as the index has it now, without looking at the disk:
    /// after a background check brought the index up to date.
    pub fn from_index(store: &Store, dest: &Path, perceptual: bool) -> Result<Library, EngineError> {
        let dest = fsops::canonical_lenient(dest)?;
        let max_id = store.max_file_id()?;
        let hashes = if perceptual { store.phashes_under(Some(&dest))? } else { Vec::new() };
        Ok(Library {
            dest,
            perceptual,
            loaded: Instant::now(),
            phashes: HashIndex::new(hashes),
            max_id,
            added: Vec::new(),
        })
    }

    /// Takes over what was filed into `older` after this one was read
    /// from the index (a filing while a background read ran).
    pub fn take_over(&mut self, older: &Library) {
        if !older.is_for(&self.dest, self.perceptual) {
            return;
        }
        for &(id, h) in older.added.iter().filter(|&&(id, _)| id > self.max_id) {
            self.phashes.push(id, h);
            self.added.push((id, h));
        }
    }

    /// The files it holds pHashes of.
    pub fn len(&self) -> usize {
        self.phashes.len()
    }

    /// Whether it holds no pHash.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How long ago it was read from disk.
    pub fn age(&self) -> Duration {
        self.loaded.elapsed()
    }

    /// Whether it is the library at `dest`, read for `perceptual` matching.
    pub fn is_for(&self, dest: &Path, perceptual: bool) -> bool {
        self.dest == dest && self.perceptual == perceptual
    }

    /// A file just filed into the library (its row is in the index).
    fn add(&mut self, store: &Store, row: &FileRow) -> Result<(), EngineError> {
        if let Some(h) = row.phash.filter(|_| self.perceptual) {
            if let Some(k) = store.file_key_at(&row.path)? {
                self.phashes.push(k.id, h);
                self.added.push((k.id, h));
            }
        }
        Ok(())
    }

    /// The Live Photo still in the library whose video has this ContentIdentifier.
    fn live_still(&self, store: &Store, id: &str) -> Result<Option<PathBuf>, EngineError> {
        let stills = store.live_stills_under(&self.dest, id)?;
        Ok(stills
            .into_iter()
            .find(|r| !media::Kind::from_name(&r.kind).is_some_and(media::Kind::is_video) && there(r))
            .map(|r| r.path))
    }

    /// The library file this one duplicates, the pHash distance, and whether
    /// the bytes are the same. A file gone or changed since it was indexed
    /// (size, mtime or inode, as the index refresh checks; a kept library
    /// can be stale) is no match. A perceptual match must be a copy of the
    /// same capture ([`GroupOptions::similar`]).
    fn find(
        &self,
        store: &Store,
        row: &FileRow,
        opts: &GroupOptions,
    ) -> Result<Option<(FileRow, u32, bool)>, EngineError> {
        if let Some(r) = self.with_content(store, &row.blake3)? {
            return Ok(Some((r, 0, true)));
        }
        let Some(h) = row.phash.filter(|_| opts.perceptual) else {
            return Ok(None);
        };
        for (id, _) in self.phashes.within(h, opts.threshold) {
            let Some(r) = store.file_by_id(id)? else { continue };
            if !r.path.starts_with(&self.dest) {
                continue;
            }
            if let Some(d) = opts.similar(&r, row) {
                if there(&r) {
                    return Ok(Some((r, d, false)));
                }
            }
        }
        Ok(None)
    }

    /// The one library file a sidecar that came alone belongs with, by
    /// name (`IMG_1234.HEIC.xmp` → a library `IMG_1234.HEIC`); `None` when
    /// no library file, or more than one, has that name. The index is read
    /// for the names that could be it (what every rule below asks of a
    /// name: it starts with the sidecar's, cut at its first `.` or `(`).
    fn primary_for(
        &self,
        store: &Store,
        sidecar: &Path,
        role: super::assets::Role,
    ) -> Result<Option<PathBuf>, EngineError> {
        let Some(name) = sidecar.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            return Ok(None);
        };
        let lower = name.to_lowercase();
        let head: String = lower.chars().take_while(|&c| c != '.' && c != '(').take(8).collect();
        // IMG_O1234.AAE belongs to IMG_1234.*.
        let alt = head.strip_prefix("img_o").map(|n| format!("img_{n}"));
        let rows = store.files_named_under(&self.dest, &|n: &str| {
            n.starts_with(&head) || alt.as_deref().is_some_and(|a| n.starts_with(a))
        })?;
        let media: Vec<(usize, String, media::Kind)> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, (p, kind))| {
                let n = p.file_name()?.to_string_lossy().into_owned();
                Some((i, n, media::Kind::from_name(kind)?))
            })
            .collect();
        let Some(i) = super::assets::primary_of_sidecar(&name, role, &media) else {
            return Ok(None);
        };
        let Some(chosen) = media.iter().find(|(j, _, _)| *j == i).map(|m| m.1.to_lowercase()) else {
            return Ok(None);
        };
        let same = media.iter().filter(|(_, n, _)| n.to_lowercase() == chosen).count();
        if same != 1 {
            return Ok(None);
        }
        let path = &rows[i].0;
        Ok(store.file_at(path)?.filter(there).map(|r| r.path))
    }

    /// The library file with this content, if it is still there as indexed.
    fn with_content(&self, store: &Store, blake3: &str) -> Result<Option<FileRow>, EngineError> {
        Ok(store.files_with_blake3(&self.dest, blake3)?.into_iter().find(there))
    }
}

/// The file of index row `r` is still on disk as indexed.
fn there(r: &FileRow) -> bool {
    fsops::lstat(&r.path).is_ok_and(|m| FileRow::stat_key(&m) == (r.size, r.mtime_ns, r.inode))
}

/// Why an incoming file is set aside rather than filed.
struct Verdict {
    /// The file it duplicates (none for a remembered deletion).
    keeper: Option<PathBuf>,
    /// pHash distance to the keeper.
    distance: u32,
    /// `exact`, `similar` or `deleted` ([`FileEvent::how`]).
    how: &'static str,
    /// In words, for the report and `cbctl why`.
    why: String,
}

/// Exact when the match is the same bytes, or the same picture at
/// distance 0 with the same size and pixels (a lossless re-save); else
/// similar. With the words that say so.
fn exactness(keeper: &FileRow, row: &FileRow, d: u32, exact: bool) -> (&'static str, &'static str) {
    if exact {
        ("exact", "identical to")
    } else if d == 0
        && (keeper.width, keeper.height) == (row.width, row.height)
        && media::same_pixels(&keeper.path, &row.path).unwrap_or(false)
    {
        ("exact", "the same pixels as")
    } else {
        ("similar", "a copy of the same capture as")
    }
}

/// The library's verdict on one incoming file: the same bytes in the
/// library, the original of a library file filed compressed, content
/// deleted before, a copy of the same capture in the library; `None`
/// when the library does not have it.
fn library_verdict(
    store: &crate::store::Store,
    library: &Library,
    row: &FileRow,
    opts: &GroupOptions,
) -> Result<Option<Verdict>, EngineError> {
    if let Some(k) = library.with_content(store, &row.blake3)? {
        let why = format!("identical to {} in the library", k.path.display());
        return Ok(Some(Verdict { keeper: Some(k.path.clone()), distance: 0, how: "exact", why }));
    }
    for r in store.remembered(&row.blake3)? {
        if r.kind == crate::store::COMPRESSED {
            let now = match r.now.as_deref() {
                Some(now) => library.with_content(store, now)?,
                None => None,
            };
            if let Some(k) = now {
                let why = format!(
                    "the original of {} in the library, which session {} filed compressed",
                    k.path.display(),
                    r.session.unwrap_or_default()
                );
                return Ok(Some(Verdict { keeper: Some(k.path.clone()), distance: 0, how: "exact", why }));
            }
        } else if r.kind == crate::store::DELETED {
            let day = r.at.get(..10).unwrap_or(&r.at);
            let why = format!(
                "deleted before on {day}, session {} (was {}); `cbctl forget {}` lets it be filed again",
                r.session.unwrap_or_default(),
                r.path.as_deref().map(|p| p.display().to_string()).unwrap_or_default(),
                super::verdicts::shell_quote(&row.path.to_string_lossy())
            );
            return Ok(Some(Verdict { keeper: None, distance: 0, how: "deleted", why }));
        }
    }
    if let Some((k, d, exact)) = library.find(store, row, opts)? {
        let (how, words) = exactness(&k, row, d, exact);
        let why = format!(
            "{words} {} in the library{}; the library's copy is kept",
            k.path.display(),
            distance_words(how, d)
        );
        return Ok(Some(Verdict { keeper: Some(k.path.clone()), distance: d, how, why }));
    }
    Ok(None)
}

/// The verdict on `row`, a member of the batch group that `keeper` leads.
fn batch_verdict(keeper: &FileRow, row: &FileRow, d: u32, exact: bool, opts: &GroupOptions) -> Verdict {
    let (how, words) = exactness(keeper, row, d, exact);
    let why = format!(
        "{words} {}, a better copy in this batch{}; kept: {}",
        keeper.path.display(),
        distance_words(how, d),
        super::group::why_kept(keeper, row, false, opts)
    );
    Verdict { keeper: Some(keeper.path.clone()), distance: d, how, why }
}

fn distance_words(how: &str, d: u32) -> String {
    if how == "similar" {
        format!(" (pHash distance {d})")
    } else {
        String::new()
    }
}

fn event(path: &Path, outcome: Outcome, reason: Option<String>) -> FileEvent {
    FileEvent {
        path: path.to_path_buf(),
        outcome,
        dest: None,
        duplicate_of: None,
        how: None,
        distance: None,
        taken: None,
        source: None,
        bytes: 0,
        reason,
        no_space: false,
    }
}

/// Checks SRC and DEST before anything is read.
fn check_paths(opts: &OrganizeOptions) -> Result<(PathBuf, PathBuf), EngineError> {
    let meta = std::fs::metadata(&opts.src).map_err(|_| EngineError::MissingSource(opts.src.clone()))?;
    if !meta.is_dir() {
        return Err(EngineError::SourceNotDir(opts.src.clone()));
    }
    let src = fsops::canonical_lenient(&opts.src)?;
    let dest = fsops::canonical_lenient(&opts.dest)?;
    if dest.starts_with(&src) {
        return Err(EngineError::DestInsideSource { src, dest });
    }
    Ok((src, dest))
}

/// Runs an organize job. Per-file problems are reported as events and
/// counted; only usage errors (bad paths) and journal failures return `Err`.
pub fn organize(
    journal: &mut Journal,
    opts: &OrganizeOptions,
    on_event: &mut (dyn FnMut(&Event) + Send),
) -> Result<Summary, EngineError> {
    let (src, _) = check_paths(opts)?;
    let found = super::scan::scan_as(&src, opts.access.as_ref());
    organize_found(journal, opts, found, on_event)
}

/// Files the given scan results (all under `opts.src`): what the daemon
/// calls with the files of an inbox that have settled.
pub fn organize_found(
    journal: &mut Journal,
    opts: &OrganizeOptions,
    found: Vec<Found>,
    on_event: &mut (dyn FnMut(&Event) + Send),
) -> Result<Summary, EngineError> {
    organize_found_with(journal, opts, found, &mut None, on_event)
}

/// [`organize_found`] against a library loaded earlier, when `library`
/// holds one of `opts.dest` (else it is loaded, and kept there for the next
/// call), with what this call files added to it. The daemon's way to file a
/// batch without walking the whole library; the caller drops it (`None`)
/// when something else may have changed the library.
pub fn organize_found_with(
    journal: &mut Journal,
    opts: &OrganizeOptions,
    found: Vec<Found>,
    library_slot: &mut Option<Library>,
    on_event: &mut (dyn FnMut(&Event) + Send),
) -> Result<Summary, EngineError> {
    let (src, dest) = check_paths(opts)?;
    let mut summary = Summary { scanned: found.len() as u64, ..Summary::default() };
    // Each file's report is also kept as the session's decision (`cbctl why`).
    let decided: Mutex<Vec<FileEvent>> = Mutex::new(Vec::new());
    let mut on_event = |ev: &Event| {
        if let (Event::File(f), false) = (ev, opts.dry_run) {
            if let Ok(mut d) = decided.lock() {
                d.push(f.clone());
            }
        }
        on_event(ev)
    };
    let on_event = &mut on_event;
    on_event(&Event::Found { total: found.len() as u64 });

    let mut candidates = Vec::new();
    for f in found {
        match f {
            Found::File(p) => candidates.push(p),
            Found::Skipped(p, why) => {
                summary.skipped += 1;
                on_event(&Event::File(event(&p, Outcome::Skipped, Some(why.to_string()))));
            }
            Found::Error(p, why) => {
                summary.errors += 1;
                on_event(&Event::File(event(&p, Outcome::Error, Some(why))));
            }
        }
    }

    let perceptual = opts.dedup.perceptual;
    let mut library = match library_slot.take() {
        Some(l) if l.is_for(&dest, perceptual) => l,
        _ => Library::load(journal, &dest, perceptual, on_event)?,
    };
    let probed: Vec<Probed> = candidates.into_par_iter().map(|path| probe_one(path, perceptual)).collect();
    // Files that belong together ride with their primary, with its verdict.
    let groups = {
        let paths: Vec<PathBuf> = probed.iter().map(|p| p.path.clone()).collect();
        let facts: Vec<super::assets::Facts> = probed
            .iter()
            .map(|p| match &p.result {
                Ok((info, _, _, _)) => super::assets::Facts {
                    kind: Some(info.kind),
                    time: info.taken.source.is_embedded().then(|| info.taken.local.and_utc().timestamp()),
                    live: info.capture.live.clone(),
                },
                Err(_) => super::assets::Facts::default(),
            })
            .collect();
        super::assets::assemble(&paths, &facts)
    };
    let member_of: HashMap<usize, usize> =
        groups.iter().flat_map(|(&p, ms)| ms.iter().map(move |&(m, _)| (m, p))).collect();
    // Files whose partner may still come: left for a later batch, with what rides with them.
    let mut waiting: Vec<(usize, &'static str)> = Vec::new();
    for (i, p) in probed.iter().enumerate() {
        if member_of.contains_key(&i) || !opts.wait_for.contains(&p.path) {
            continue;
        }
        let has = |role| groups.get(&i).is_some_and(|ms| ms.iter().any(|&(_, r)| r == role));
        let why = match &p.result {
            Ok((info, _, _, _)) => match info.capture.live.as_deref() {
                Some(id) if info.kind.is_video() && library.live_still(journal.store(), id)?.is_none() => {
                    Some("its Live Photo still")
                }
                Some(_) if !info.kind.is_video() && !has(super::assets::Role::LiveVideo) => {
                    Some("its Live Photo video")
                }
                _ => None,
            },
            Err(MediaError::NotMedia { .. }) => super::assets::sidecar_role(&p.path).map(|_| "its photo"),
            Err(_) => None,
        };
        if let Some(why) = why {
            waiting.push((i, why));
        }
    }
    let waits: std::collections::HashSet<usize> = waiting
        .iter()
        .flat_map(|&(i, _)| std::iter::once(i).chain(groups.get(&i).into_iter().flatten().map(|&(m, _)| m)))
        .collect();
    // Within the batch, only the best copy of each picture is filed.
    let incoming: Vec<FileRow> = probed
        .iter()
        .enumerate()
        .filter(|(i, _)| !member_of.contains_key(i) && !waits.contains(i))
        .filter_map(|(_, p)| p.result.as_ref().ok().map(|(_, _, row, _)| row.clone()))
        .collect();
    // Pairs the user kept apart and keepers they chose, as the index has them now.
    let dedup = GroupOptions {
        apart: std::sync::Arc::new(journal.store().apart_pairs()?),
        chosen: std::sync::Arc::new(journal.store().chosen_contents()?),
        ..opts.dedup.clone()
    };
    // The library's verdicts first: a file the library already has is no
    // keeper for the others. Then, among the files new to it, only the
    // best copy of each picture is filed.
    let mut verdicts: HashMap<PathBuf, Verdict> = HashMap::new();
    if !opts.keep {
        for row in &incoming {
            if let Some(v) = library_verdict(journal.store(), &library, row, &dedup)? {
                verdicts.insert(row.path.clone(), v);
            }
        }
        let new: Vec<FileRow> = incoming.iter().filter(|r| !verdicts.contains_key(&r.path)).cloned().collect();
        for g in group(&new, &dedup) {
            for m in g.members {
                let v = batch_verdict(&new[g.keeper], &new[m.index], m.distance, m.how == Match::Exact, &dedup);
                verdicts.insert(new[m.index].path.clone(), v);
            }
        }
    }

    let siblings = live_photo_offsets(&probed);
    // A one-shot organize into a library this state filed into checks its
    // marker as the daemon does (an unmounted NAS is never filled on its
    // mount point), and marks a folder it files into for the first time.
    if !opts.dry_run && opts.session_kind == "organize" && fsops::is_dir(&dest) {
        if let crate::marker::Standing::Away(why) =
            crate::marker::standing(journal.store(), &dest, journal.state_dir(), false)?
        {
            return Err(EngineError::LibraryAway(why));
        }
    }
    let session = if opts.dry_run {
        None
    } else {
        let params = serde_json::json!({
            "src": src.to_string_lossy(),
            "dest": dest.to_string_lossy(),
            "mode": if opts.mode == Mode::Copy { "copy" } else { "move" },
        });
        Some(journal.begin(opts.session_kind, &params)?)
    };
    summary.session = session;
    let action = if opts.mode == Mode::Copy { Action::Copy } else { Action::Move };
    let mut batch = Batch {
        session,
        action,
        reserved: HashMap::new(),
        pending: Vec::new(),
        rows: HashMap::new(),
        remember: Vec::new(),
    };

    let mut probed: Vec<Option<Probed>> = probed.into_iter().map(Some).collect();
    for (i, why) in waiting {
        let Some(p) = probed[i].take() else { continue };
        on_event(&Event::File(event(&p.path, Outcome::Waiting, Some(format!("waiting for {why}")))));
        for &(m, role) in groups.get(&i).map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(mp) = probed[m].take() {
                let why = format!("waits with {} ({})", p.path.display(), role.describe());
                on_event(&Event::File(event(&mp.path, Outcome::Waiting, Some(why))));
            }
        }
    }
    for i in 0..probed.len() {
        if member_of.contains_key(&i) {
            continue;
        }
        let Some(p) = probed[i].take() else { continue };
        // Its members: path, role, content and identity (a member that cannot be read stays behind).
        let mut members: Vec<Member> = Vec::new();
        for &(m, role) in groups.get(&i).map(Vec::as_slice).unwrap_or(&[]) {
            let Some(mp) = probed[m].take() else { continue };
            let read = match mp.result {
                Ok((_, fp, row, id)) => Ok((fp, id, Some(row))),
                Err(_) => read_sidecar(&mp.path).map(|(fp, id)| (fp, id, None)),
            };
            match read {
                Ok((fp, id, row)) => members.push(Member { path: mp.path, role, fp, id, row }),
                Err(e) => {
                    summary.errors += 1;
                    on_event(&Event::File(event(&mp.path, Outcome::Error, Some(e.to_string()))));
                }
            }
        }
        let primary_ok = p.result.is_ok();
        if !primary_ok {
            // The primary is not filed: what belongs to it stays with it.
            for m in &members {
                summary.skipped += 1;
                let why = format!("stays with {} ({}), which is not filed", p.path.display(), m.role.describe());
                on_event(&Event::File(event(&m.path, Outcome::Skipped, Some(why))));
            }
        }
        match p.result {
            Err(MediaError::NotMedia { .. }) if !media::looks_like_media_name(&p.path) => {
                // A sidecar that came without its photo goes beside the library file it names.
                let role = super::assets::sidecar_role(&p.path);
                let beside = match role {
                    Some(r) => library.primary_for(journal.store(), &p.path, r)?,
                    None => None,
                };
                match (role, beside) {
                    (Some(role), Some(primary)) => match read_sidecar(&p.path) {
                        Ok((fp, id)) => {
                            let name = p.path.file_name().unwrap_or_default().to_os_string();
                            let late = Late { path: &p.path, role, fp, id, name, info: None };
                            if let Some(ev) = plan_beside(late, &primary, &mut batch, &mut summary) {
                                on_event(&Event::File(ev));
                            }
                        }
                        Err(e) => {
                            summary.errors += 1;
                            on_event(&Event::File(event(&p.path, Outcome::Error, Some(e.to_string()))));
                        }
                    },
                    (Some(role), None) => {
                        summary.non_media += 1;
                        let why = format!(
                            "{} without its photo: none beside it, and no one library file of that name; left in place",
                            role.describe().trim_start_matches("its ")
                        );
                        on_event(&Event::File(event(&p.path, Outcome::NonMedia, Some(why))));
                    }
                    _ => {
                        summary.non_media += 1;
                        on_event(&Event::File(event(&p.path, Outcome::NonMedia, None)));
                    }
                }
            }
            Err(e) => {
                summary.errors += 1;
                on_event(&Event::File(event(&p.path, Outcome::Error, Some(e.to_string()))));
            }
            Ok((info, fp, row, id)) => {
                let verdict = verdicts.remove(&p.path);
                let action = match verdict.as_ref().map(|v| v.how) {
                    None => SetAside::File,
                    Some("similar") => dedup.on_similar,
                    Some(_) => dedup.on_duplicate,
                };
                if let (Some(v), false) = (verdict, action == SetAside::File) {
                    let mut ev = event(&p.path, Outcome::Duplicate, None);
                    ev.bytes = fp.size;
                    ev.dest = v.keeper.clone();
                    ev.duplicate_of = v.keeper;
                    ev.how = Some(v.how);
                    ev.distance = Some(v.distance);
                    ev.taken = Some(info.taken.to_rfc3339());
                    ev.source = Some(info.taken.source.as_str());
                    if v.how == "similar" {
                        summary.similar += 1;
                    } else {
                        summary.duplicates += 1;
                    }
                    let quarantine = opts.quarantine.as_deref().filter(|_| action == SetAside::Quarantine);
                    match (quarantine, session) {
                        (Some(q), Some(_)) => {
                            ev.reason = Some(v.why);
                            if let Some(ev) = plan_quarantine(q, &src, &p.path, &fp, id, ev, &mut batch, &mut summary) {
                                on_event(&Event::File(ev));
                            }
                        }
                        (Some(_), None) => {
                            ev.reason = Some(format!("{}; would be moved to the duplicates folder", v.why));
                            on_event(&Event::File(ev));
                        }
                        (None, _) => {
                            ev.reason = Some(format!("{}; left in place", v.why));
                            on_event(&Event::File(ev));
                        }
                    }
                    // What belongs to it goes where it goes.
                    for m in members {
                        let mut mev = event(&m.path, Outcome::Duplicate, None);
                        mev.bytes = m.fp.size;
                        let why = format!("belongs with {} ({}), set aside", p.path.display(), m.role.describe());
                        match (quarantine, session) {
                            (Some(q), Some(_)) => {
                                mev.reason = Some(why);
                                let planned =
                                    plan_quarantine(q, &src, &m.path, &m.fp, m.id, mev, &mut batch, &mut summary);
                                if let Some(mev) = planned {
                                    on_event(&Event::File(mev));
                                }
                            }
                            _ => {
                                summary.skipped += 1;
                                mev.outcome = Outcome::Skipped;
                                mev.reason = Some(format!("{why}; left beside it"));
                                on_event(&Event::File(mev));
                            }
                        }
                    }
                    continue;
                }
                // A Live Photo's video that came after its still was filed goes beside it.
                let still = info.capture.live.as_deref().filter(|_| info.kind.is_video() && members.is_empty());
                let still = match still {
                    Some(live) => library.live_still(journal.store(), live)?,
                    None => None,
                };
                if let Some(still) = still {
                    let ext = p.path.extension().unwrap_or_default();
                    let mut name = still.file_stem().unwrap_or_default().to_os_string();
                    name.push(".");
                    name.push(ext);
                    batch.rows.insert(p.path.clone(), row);
                    let late =
                        Late { path: &p.path, role: super::assets::Role::LiveVideo, fp, id, name, info: Some(&info) };
                    if let Some(ev) = plan_beside(late, &still, &mut batch, &mut summary) {
                        batch.rows.remove(&p.path);
                        on_event(&Event::File(ev));
                    }
                    continue;
                }
                batch.rows.insert(p.path.clone(), row);
                let planned =
                    plan_one(opts, &dest, &p.path, &info, &fp, id, &siblings, &members, &mut batch, &mut summary);
                for ev in planned {
                    on_event(&Event::File(ev));
                }
                if batch.pending.len() >= BATCH {
                    batch.run(journal, &mut library, &mut summary, on_event)?;
                    record_decisions(journal, session, &decided);
                }
            }
        }
    }
    batch.run(journal, &mut library, &mut summary, on_event)?;
    record_decisions(journal, session, &decided);
    if let Some(s) = session {
        journal.finish(s, &serde_json::to_value(&summary).unwrap_or_default())?;
    }
    *library_slot = Some(library);
    Ok(summary)
}

/// How many file operations share one journal transaction and one fsync
/// per folder (group commit). Recovery is per op, so the size only trades
/// latency of progress events against fsyncs.
const BATCH: usize = 128;

/// Operations chosen but not yet carried out.
struct Batch {
    session: Option<i64>,
    action: Action,
    /// Destination names promised to pending (or, in a dry run, planned) files.
    reserved: HashMap<PathBuf, Fingerprint>,
    /// Each op with the event to report once it is done (`None`: an op that
    /// is part of another file's filing, as the trashing of a compressed original).
    pending: Vec<(BatchItem, Option<FileEvent>)>,
    /// Index rows of the incoming files, to record at their new place once filed.
    rows: HashMap<PathBuf, FileRow>,
    /// Originals replaced by their compressed copies, to remember by content
    /// once filed: arriving again, each is a duplicate of its copy.
    remember: Vec<crate::store::Remembered>,
}

impl Batch {
    /// Carries out the pending operations through the journal and reports them.
    fn run(
        &mut self,
        journal: &mut Journal,
        library: &mut Library,
        summary: &mut Summary,
        on_event: &mut (dyn FnMut(&Event) + Send),
    ) -> Result<(), EngineError> {
        let pending = std::mem::take(&mut self.pending);
        self.reserved.clear();
        let Some(session) = self.session else {
            return Ok(());
        };
        if pending.is_empty() {
            return Ok(());
        }
        let items: Vec<BatchItem> = pending.iter().map(|(it, _)| it.clone()).collect();
        // Filed files enter the library index in the transaction that journals them done.
        let rows = items.iter().map(|it| self.rows.remove(&it.src)).collect();
        let (outcomes, filed) = journal.run_batch_indexed(session, &items, rows)?;
        for row in &filed {
            library.add(journal.store(), row)?;
        }
        let remember = std::mem::take(&mut self.remember);
        if let Err(e) = journal.store_mut().remember(&remember) {
            // Only a later re-sync's verdict is lost: it would be filed again, never lost.
            tracing::warn!("could not remember {} compressed original(s): {e}", remember.len());
        }
        for ((item, ev), outcome) in pending.into_iter().zip(outcomes) {
            let Some(mut ev) = ev else {
                if let OpOutcome::Failed(e) = outcome {
                    // The compressed copy is filed; the original stays where it was.
                    on_event(&Event::File(FileEvent {
                        reason: Some(format!("original kept in place, not trashed: {e}")),
                        ..event(&item.src, Outcome::Error, None)
                    }));
                    summary.errors += 1;
                }
                continue;
            };
            match outcome {
                OpOutcome::Done { .. } if ev.outcome == Outcome::Quarantined => summary.quarantined += 1,
                OpOutcome::Done { .. } => {
                    summary.filed += 1;
                    summary.bytes += item.fp.size;
                }
                OpOutcome::Failed(e) => {
                    summary.errors += 1;
                    ev.outcome = Outcome::Error;
                    ev.dest = None;
                    ev.no_space = matches!(&e, crate::journal::JournalError::Fs(f) if f.is_no_space());
                    ev.reason = Some(e.to_string());
                }
            }
            on_event(&Event::File(ev));
        }
        Ok(())
    }
}

/// Offsets of photos by (folder, lower-case stem), so a Live Photo's video,
/// whose container only knows UTC, is filed on its photo's local day.
fn live_photo_offsets(probed: &[Probed]) -> HashMap<(PathBuf, OsString), FixedOffset> {
    let mut map = HashMap::new();
    for p in probed {
        if let Ok((info, _, _, _)) = &p.result {
            if let (false, Some(off)) = (info.kind.is_video(), info.taken.offset) {
                if !info.taken.utc_only {
                    map.insert(sibling_key(&p.path), off);
                }
            }
        }
    }
    map
}

fn sibling_key(path: &Path) -> (PathBuf, OsString) {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let stem = path.file_stem().map(|s| s.to_ascii_lowercase()).unwrap_or_default();
    (dir, stem)
}

/// Decides where one file goes. Returns its event now when nothing is to
/// be done (duplicate, error, dry run); otherwise queues the operation.
#[allow(clippy::too_many_arguments)]
fn plan_one(
    opts: &OrganizeOptions,
    dest: &Path,
    path: &Path,
    info: &MediaInfo,
    fp: &Fingerprint,
    id: fsops::Identity,
    siblings: &HashMap<(PathBuf, OsString), FixedOffset>,
    members: &[Member],
    batch: &mut Batch,
    summary: &mut Summary,
) -> Vec<FileEvent> {
    let mut taken = info.taken;
    if taken.utc_only {
        if let Some(off) = siblings.get(&sibling_key(path)) {
            taken = taken.at_offset(*off);
        }
    }
    // A file dated only by its mtime goes by `layout_undated`, apart from the dated ones.
    let folder = dest.join(opts.layout.folder(&taken, info.camera.as_deref()));
    let mut ev = FileEvent {
        path: path.to_path_buf(),
        outcome: Outcome::Error,
        dest: None,
        duplicate_of: None,
        how: None,
        distance: None,
        taken: Some(info.taken.to_rfc3339()),
        source: Some(info.taken.source.as_str()),
        bytes: fp.size,
        reason: None,
        no_space: false,
    };
    let name = path.file_name().unwrap_or_default();
    let target = match group_slot(&folder, path, fp, members, &batch.reserved) {
        Ok(Slot::Free(target)) => target,
        Ok(Slot::Identical(existing)) => {
            summary.duplicates += 1;
            ev.outcome = Outcome::Duplicate;
            ev.reason = Some("an identical file is already there; source kept".into());
            ev.duplicate_of = Some(existing.clone());
            ev.how = Some(match_name(true));
            ev.distance = Some(0);
            ev.dest = Some(existing);
            return std::iter::once(ev).chain(members_left(path, members, summary)).collect();
        }
        Err(e) => {
            summary.errors += 1;
            ev.reason = Some(e.to_string());
            return std::iter::once(ev).chain(members_left(path, members, summary)).collect();
        }
    };
    ev.dest = Some(target.clone());
    batch.reserved.insert(target.clone(), *fp);
    // What belongs to it: beside it, under its new base name.
    let target_name = target.file_name().unwrap_or_default().to_os_string();
    let mut member_items = Vec::new();
    for (m, to) in members.iter().zip(member_names(members, name, &target_name)) {
        let to = folder.join(to);
        batch.reserved.insert(to.clone(), m.fp);
        let mut mev = FileEvent {
            path: m.path.clone(),
            dest: Some(to.clone()),
            bytes: m.fp.size,
            reason: Some(format!("with {} ({})", path.display(), m.role.describe())),
            ..ev.clone()
        };
        mev.outcome = match (batch.session, batch.action) {
            (None, _) => Outcome::Planned,
            (Some(_), Action::Copy) => Outcome::Copied,
            (Some(_), _) => Outcome::Moved,
        };
        if let Some(row) = &m.row {
            batch.rows.insert(m.path.clone(), row.clone());
        }
        let item = BatchItem { action: batch.action, src: m.path.clone(), dst: to, fp: m.fp, id: Some(m.id) };
        member_items.push((item, mev));
    }
    if batch.session.is_none() {
        summary.filed += 1 + member_items.len() as u64;
        summary.bytes += fp.size + member_items.iter().map(|(it, _)| it.fp.size).sum::<u64>();
        ev.outcome = Outcome::Planned;
        return std::iter::once(ev).chain(member_items.into_iter().map(|(_, e)| e)).collect();
    }
    ev.outcome = if batch.action == Action::Copy { Outcome::Copied } else { Outcome::Moved };
    if let (Some(level), Some(session), Action::Move) = (opts.compress, batch.session, batch.action) {
        match compressed(dest, session, path, fp, id, &target, info.kind, level, batch) {
            Ok(Some((file, trash))) => {
                ev.reason = Some("compressed; the original is in the library trash until `cbctl prune`".into());
                // The smaller copy is filed first; the original is trashed only once it is.
                batch.pending.push((file, Some(ev)));
                batch.pending.push((trash, None));
                batch.pending.extend(member_items.into_iter().map(|(it, e)| (it, Some(e))));
                return Vec::new();
            }
            Ok(None) => {}
            // Not compressed (unreadable, a codec refused it): filed as it is.
            Err(why) => ev.reason = Some(format!("filed uncompressed: {why}")),
        }
    }
    let item = BatchItem { action: batch.action, src: path.to_path_buf(), dst: target, fp: *fp, id: Some(id) };
    batch.pending.push((item, Some(ev)));
    batch.pending.extend(member_items.into_iter().map(|(it, e)| (it, Some(e))));
    Vec::new()
}

/// A file that came without the library file it belongs with: a sidecar,
/// or a Live Photo's video that came late.
struct Late<'a> {
    path: &'a Path,
    role: super::assets::Role,
    /// What was read of it.
    fp: Fingerprint,
    id: fsops::Identity,
    /// The name it takes beside the library file (numbered if taken).
    name: OsString,
    /// Its date, for a media file.
    info: Option<&'a MediaInfo>,
}

/// Queues a late member's move beside `primary`, a library file filed
/// earlier. Returns its event now when it cannot be placed.
fn plan_beside(late: Late, primary: &Path, batch: &mut Batch, summary: &mut Summary) -> Option<FileEvent> {
    let Late { path, role, fp, id, name, info } = late;
    let fail = |why: String, summary: &mut Summary| {
        summary.errors += 1;
        Some(event(path, Outcome::Error, Some(why)))
    };
    let folder = primary.parent().unwrap_or(primary);
    let reserved = &batch.reserved;
    let target = match fsops::choose_slot(folder, &name, &fp, &|p| reserved.get(p).copied()) {
        Ok(Slot::Free(t)) => t,
        Ok(Slot::Identical(existing)) => {
            summary.duplicates += 1;
            let mut ev =
                event(path, Outcome::Duplicate, Some("an identical copy is already beside it; left in place".into()));
            ev.duplicate_of = Some(existing);
            return Some(ev);
        }
        Err(e) => return fail(e.to_string(), summary),
    };
    batch.reserved.insert(target.clone(), fp);
    let mut ev = event(
        path,
        Outcome::Planned,
        Some(format!("beside {} ({}), filed earlier", primary.display(), role.describe())),
    );
    ev.dest = Some(target.clone());
    ev.bytes = fp.size;
    if let Some(info) = info {
        ev.taken = Some(info.taken.to_rfc3339());
        ev.source = Some(info.taken.source.as_str());
    }
    if batch.session.is_none() {
        summary.filed += 1;
        return Some(ev);
    }
    ev.outcome = if batch.action == Action::Copy { Outcome::Copied } else { Outcome::Moved };
    let item = BatchItem { action: batch.action, src: path.to_path_buf(), dst: target, fp, id: Some(id) };
    batch.pending.push((item, Some(ev)));
    None
}

/// A file that rides with a primary in this batch.
struct Member {
    path: PathBuf,
    role: super::assets::Role,
    fp: Fingerprint,
    id: fsops::Identity,
    /// Its index row, for a media member (a sidecar is not indexed).
    row: Option<FileRow>,
}

/// Reads a sidecar (not media): its content and identity, through one
/// descriptor opened without following links.
fn read_sidecar(path: &Path) -> Result<(Fingerprint, fsops::Identity), MediaError> {
    let mut opened = media::open(path)?;
    let fp = fsops::fingerprint_file(&mut opened.file, path)?;
    Ok((fp, opened.id))
}

/// The names `members` take beside a primary named `name` filed as `target`.
fn member_names(members: &[Member], name: &OsStr, target: &OsStr) -> Vec<OsString> {
    let of: Vec<(&OsStr, super::assets::Role)> =
        members.iter().map(|m| (m.path.file_name().unwrap_or_default(), m.role)).collect();
    super::assets::member_names(&of, name, target)
}

/// Events for the members of a primary that stays where it is.
fn members_left(primary: &Path, members: &[Member], summary: &mut Summary) -> Vec<FileEvent> {
    members
        .iter()
        .map(|m| {
            summary.skipped += 1;
            let why = format!("stays with {} ({})", primary.display(), m.role.describe());
            event(&m.path, Outcome::Skipped, Some(why))
        })
        .collect()
}

/// The primary's slot in `folder` where every member's name beside it is
/// free too: the first of `name`, `stem (1).ext`, ... that fits the
/// whole group (an identical primary there is a duplicate, as for one file).
fn group_slot(
    folder: &Path,
    path: &Path,
    fp: &Fingerprint,
    members: &[Member],
    reserved: &HashMap<PathBuf, Fingerprint>,
) -> Result<Slot, fsops::FsError> {
    let name = path.file_name().unwrap_or_default();
    let mut blocked: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    // A name that does not fit the group is held by "other content" for the next try.
    let other = Fingerprint { size: u64::MAX, hash: blake3::hash(b"taken by a member's name") };
    for _ in 0..1000 {
        let slot = fsops::choose_slot(folder, name, fp, &|p| {
            if blocked.contains(p) {
                Some(other)
            } else {
                reserved.get(p).copied()
            }
        })?;
        let Slot::Free(target) = &slot else { return Ok(slot) };
        let target_name = target.file_name().unwrap_or_default();
        let fits = member_names(members, name, target_name).into_iter().all(|to| {
            let to = folder.join(to);
            !reserved.contains_key(&to) && !fsops::exists(&to).unwrap_or(true)
        });
        if fits {
            return Ok(slot);
        }
        blocked.insert(target.clone());
    }
    // Never in practice: a thousand names in a row taken.
    fsops::choose_slot(folder, name, fp, &|p| reserved.get(p).copied())
}

pub use crate::journal::STAGING_DIR;

/// For compress-on-ingest: writes the smaller copy of `path` into the
/// library's staging folder and queues two journaled ops: the copy moved to
/// `target`, then the original moved to the library trash. Returns
/// `Ok(None)` when compressing gains nothing (the file is filed as it is).
#[allow(clippy::too_many_arguments)]
fn compressed(
    dest: &Path,
    session: i64,
    path: &Path,
    original: &Fingerprint,
    id: fsops::Identity,
    target: &Path,
    kind: media::Kind,
    level: crate::media::compress::Level,
    batch: &mut Batch,
) -> Result<Option<(BatchItem, BatchItem)>, String> {
    use crate::media::compress::{recompress_jpeg, recompress_png, Recompressed};
    let data = fsops::read(path).map_err(|e| format!("cannot read: {e}"))?;
    if fsops::Fingerprint::of(&data) != *original {
        return Err(format!("{}: changed since it was read; filed as it is", path.display()));
    }
    let result = match kind {
        media::Kind::Jpeg => recompress_jpeg(&data, level.jpeg_quality(), level.progressive(), false),
        media::Kind::Png => recompress_png(&data),
        _ => return Ok(None),
    };
    let bytes = match result.map_err(|e| e.to_string())? {
        Recompressed::Smaller(b) => b,
        Recompressed::Keep(_) => return Ok(None),
    };
    let name = target.file_name().unwrap_or_default();
    let staged = dest.join(STAGING_DIR).join(session.to_string()).join(name);
    let staged =
        match fsops::choose_slot(staged.parent().unwrap_or(dest), name, &fsops::Fingerprint::of(&bytes), &|_| None) {
            Ok(Slot::Free(p)) => p,
            Ok(Slot::Identical(p)) => p,
            Err(e) => return Err(e.to_string()),
        };
    if !staged.exists() {
        fsops::write_new(&staged, &bytes, path).map_err(|e| e.to_string())?;
    }
    let original = *original;
    let small = fsops::Fingerprint::of(&bytes);
    let trash = dest.join(super::dedup::TRASH_DIR).join(session.to_string()).join(name);
    let trash_slot = match fsops::choose_slot(trash.parent().unwrap_or(dest), name, &original, &|p| {
        batch.reserved.get(p).copied()
    }) {
        Ok(Slot::Free(p)) => p,
        Ok(Slot::Identical(_)) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    batch.reserved.insert(trash_slot.clone(), original);
    batch.remember.push(crate::store::Remembered {
        blake3: original.hex(),
        kind: crate::store::COMPRESSED.into(),
        phash: batch.rows.get(path).and_then(|r| r.phash),
        now: Some(small.hex()),
        path: Some(target.to_path_buf()),
        session: Some(session),
        at: String::new(),
    });
    // The library index gets the compressed file's content.
    if let Some(row) = batch.rows.get_mut(path) {
        row.blake3 = small.hex();
        row.size = small.size;
        let row = row.clone();
        batch.rows.remove(path);
        batch.rows.insert(staged.clone(), row);
    }
    Ok(Some((
        BatchItem { action: Action::Move, src: staged, dst: target.to_path_buf(), fp: small, id: None },
        BatchItem { action: Action::Trash, src: path.to_path_buf(), dst: trash_slot, fp: original, id: Some(id) },
    )))
}

/// Queues a duplicate's move into the quarantine folder `q`, under its path
/// relative to `src`; a name already taken there (by an earlier duplicate,
/// even one with the same bytes) gets ` (1)`, ` (2)`, ... as in the library.
/// Returns its event now when it cannot be moved (then it stays in place).
#[allow(clippy::too_many_arguments)]
fn plan_quarantine(
    q: &Path,
    src: &Path,
    path: &Path,
    fp: &Fingerprint,
    id: fsops::Identity,
    mut ev: FileEvent,
    batch: &mut Batch,
    summary: &mut Summary,
) -> Option<FileEvent> {
    let rel = path.strip_prefix(src).unwrap_or(path);
    let folder = rel.parent().map_or_else(|| q.to_path_buf(), |p| q.join(p));
    let name = path.file_name().unwrap_or_default();
    let reserved = &batch.reserved;
    let why = ev.reason.take().unwrap_or_default();
    match fsops::free_slot(&folder, name, &|p| reserved.get(p).copied()) {
        Ok(target) => {
            batch.reserved.insert(target.clone(), *fp);
            ev.outcome = Outcome::Quarantined;
            ev.reason = Some(format!("{why}; moved to the duplicates folder"));
            ev.dest = Some(target.clone());
            let item = BatchItem { action: Action::Move, src: path.to_path_buf(), dst: target, fp: *fp, id: Some(id) };
            batch.pending.push((item, Some(ev)));
            None
        }
        Err(e) => {
            summary.errors += 1;
            ev.outcome = Outcome::Error;
            ev.reason = Some(format!("{why}; cannot be quarantined: {e}"));
            Some(ev)
        }
    }
}
