//! `dedup DIR...`: find exact and perceptual duplicates, report them, and
//! optionally move, copy or trash every copy but the keeper (journaled, so
//! `cbctl undo` puts them back).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::group::{group, why_kept, GroupOptions, Match};
use super::index::{Progress, RefreshReport};
use super::{match_name, record_decisions, EngineError, FileEvent, Outcome};
use crate::fsops::{self, Fingerprint, Slot};
use crate::journal::{BatchItem, Journal, OpOutcome};
use crate::media::DateSource;
use crate::store::{Action, FileRow};

/// Name of the trash folder at the top of a library (or of a folder deduplicated outside it).
pub const TRASH_DIR: &str = ".clean-backup-trash";

/// What to do with the duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DedupAction {
    /// Only report.
    Report,
    /// Move them under `--to`, keeping their paths relative to the folder given.
    Move,
    /// Copy them under `--to`.
    Copy,
    /// Move them to the trash (undoable until `cbctl prune`).
    Delete,
}

/// A dedup job.
#[derive(Debug, Clone)]
pub struct DedupOptions {
    /// Folders to look in (recursively).
    pub dirs: Vec<PathBuf>,
    /// What to do with duplicates.
    pub action: DedupAction,
    /// Where `Move`/`Copy` put them.
    pub to: Option<PathBuf>,
    /// Grouping rules.
    pub group: GroupOptions,
    /// The library root: folders inside it use its trash.
    pub library: Option<PathBuf>,
    /// The rights of the caller the daemon runs this for (`None`: this process's own).
    pub access: Option<crate::access::Access>,
    /// Only the groups these files keep (empty: every group): the review
    /// page trashes one group at a time, the one whose keeper it showed.
    pub keepers: Vec<PathBuf>,
    /// With `keepers`: of their duplicates, act on these only (the ones the
    /// page showed; a file that joined the group since is left alone).
    pub members: Vec<PathBuf>,
    /// Tell of every file dated by its mtime only ([`DedupEvent::Undated`]).
    pub undated: bool,
    /// Exact copies only, found without decoding anything ([`super::exact`]):
    /// by size, then head and tail, then the whole content. Also taken when
    /// neither `group.perceptual` nor `group.names` is on.
    pub exact: bool,
    /// With the exact search: every regular file counts, not only media.
    pub all_files: bool,
}

impl DedupOptions {
    /// The job takes the exact search: nothing it needs is decoded (copy
    /// names still pick keepers, but never join files of other content),
    /// and no file's capture date is asked for.
    pub fn exact_only(&self) -> bool {
        (self.exact || !self.group.perceptual && !self.group.names) && !self.undated
    }
}

/// What the review page shows of a file: its size in pixels, format,
/// capture date and where it came from, and camera.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileFacts {
    /// Pixel width (upright), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Pixel height (upright), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The format (`jpeg`, `heic`, `mp4`, ...).
    #[serde(default)]
    pub kind: String,
    /// Size in bytes (this file alone).
    #[serde(default)]
    pub bytes: u64,
    /// Capture date, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    /// Where the date came from (`exif`, `mtime`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_source: Option<String>,
    /// Camera make and model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<String>,
}

impl From<&FileRow> for FileFacts {
    fn from(r: &FileRow) -> FileFacts {
        FileFacts {
            width: r.width,
            height: r.height,
            kind: r.kind.clone(),
            bytes: r.size,
            taken_at: r.taken_at.clone(),
            taken_source: r.taken_source.clone(),
            camera: r.capture.camera.clone(),
        }
    }
}

/// One duplicate in a report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MemberReport {
    /// The file.
    #[serde(serialize_with = "super::lossy")]
    pub path: PathBuf,
    /// pHash distance to the keeper.
    pub distance: u32,
    /// exact | perceptual | name.
    #[serde(rename = "match")]
    pub how: Match,
    /// Its name is an OS copy name of the keeper's.
    pub copy_name: bool,
    /// Size in bytes.
    pub bytes: u64,
    /// Why the keeper was kept rather than this file.
    #[serde(default)]
    pub why_not_kept: String,
    /// The files that go wherever it goes: its Live Photo video, its RAW's
    /// JPEG, its sidecars (their bytes are counted in `bytes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<String>,
    /// Its pixels, format, date and camera.
    #[serde(default)]
    pub file: FileFacts,
}

/// One group in a report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupReport {
    /// 1-based group number.
    pub group: usize,
    /// The file kept.
    #[serde(serialize_with = "super::lossy")]
    pub keeper: PathBuf,
    /// The duplicates.
    pub members: Vec<MemberReport>,
    /// Bytes the duplicates take (what removing them would recover).
    pub bytes: u64,
    /// The keeper's pixels, format, date and camera.
    #[serde(default)]
    pub keeper_file: FileFacts,
}

/// Progress and results.
#[derive(Debug, Clone)]
pub enum DedupEvent {
    /// Indexing: `done` of `total` files read in the current folder.
    Indexing {
        /// The folder being indexed: one of the folders given, resolved.
        dir: PathBuf,
        /// Files read so far.
        done: u64,
        /// Files to read in it.
        total: u64,
    },
    /// A file could not be indexed.
    Error {
        /// The file.
        path: PathBuf,
        /// Why it could not be indexed.
        reason: String,
    },
    /// A group of duplicates.
    Group(GroupReport),
    /// A duplicate was moved, copied or trashed (or failed to be).
    File(FileEvent),
    /// A file with no capture date of its own (dated by its mtime).
    Undated {
        /// The file.
        path: PathBuf,
        /// Its pixels, format and size.
        file: FileFacts,
    },
}

/// Counts for the end of the job.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DedupSummary {
    /// The journal session, when files were moved, copied or trashed.
    pub session: Option<i64>,
    /// Media files looked at.
    pub files: u64,
    /// Groups of duplicates.
    pub groups: u64,
    /// Files that are duplicates of a keeper.
    pub duplicates: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Duplicates moved, copied or trashed.
    pub handled: u64,
    /// Files that could not be read or handled.
    pub errors: u64,
    /// What the index refresh did, summed over the folders.
    pub index: RefreshReport,
}

/// The sidecar-like files of each folder (by [`super::assets::sidecar_role`]),
/// listed once per job: listing a folder of 10,000 photos once for each of
/// them made a dedup of it quadratic (BENCHMARKS.md, "Review page: first
/// screen"). A file moved away later in the job stays listed; its open then
/// fails and it is passed over, as before.
#[derive(Default)]
struct Sidecars(std::cell::RefCell<HashMap<PathBuf, Vec<(PathBuf, super::assets::Role)>>>);

/// The sidecars beside `path` (a media file of kind `kind`) that belong
/// to it by name: `NAME.EXT.xmp`, `NAME.xmp`, `.aae`, Takeout `.json`.
fn sidecars_of(listed: &Sidecars, path: &Path, kind: &str) -> Vec<(PathBuf, super::assets::Role)> {
    let (Some(folder), Some(name), Some(kind)) = (path.parent(), path.file_name(), crate::media::Kind::from_name(kind))
    else {
        return Vec::new();
    };
    let me = [(0, name.to_string_lossy().into_owned(), kind)];
    let mut listed = listed.0.borrow_mut();
    let candidates = listed.entry(folder.to_path_buf()).or_insert_with(|| {
        crate::fsops::files_in(folder)
            .into_iter()
            .filter_map(|p| super::assets::sidecar_role(&p).map(|role| (p, role)))
            .collect()
    });
    candidates
        .iter()
        .filter_map(|(p, role)| {
            let n = p.file_name()?.to_string_lossy().into_owned();
            (super::assets::primary_of_sidecar(&n, *role, &me) == Some(0)).then(|| (p.clone(), *role))
        })
        .collect()
}

/// What goes wherever `rows[i]` goes: its sidecars beside it and its media
/// members, with their roles and sizes.
fn riders_of(
    listed: &Sidecars,
    rows: &[FileRow],
    members_of: &HashMap<usize, Vec<(usize, super::assets::Role)>>,
    i: usize,
) -> Vec<(PathBuf, super::assets::Role, u64)> {
    let sidecars = sidecars_of(listed, &rows[i].path, &rows[i].kind).into_iter().map(|(p, role)| {
        let size = fsops::fingerprint(&p).map_or(0, |f| f.size);
        (p, role, size)
    });
    let media = members_of.get(&i).into_iter().flatten().map(|&(m, role)| (rows[m].path.clone(), role, rows[m].size));
    sidecars.chain(media).collect()
}

/// The media files of `rows` that belong with another one (a Live Photo's
/// video, a RAW's JPEG, an Apple edit), by the index of their primary.
fn members_of(rows: &[FileRow]) -> HashMap<usize, Vec<(usize, super::assets::Role)>> {
    let paths: Vec<&Path> = rows.iter().map(|r| r.path.as_path()).collect();
    let facts: Vec<super::assets::Facts> = rows
        .iter()
        .map(|r| super::assets::Facts {
            kind: crate::media::Kind::from_name(&r.kind),
            time: r
                .taken_source
                .as_deref()
                .and_then(DateSource::parse)
                .filter(|s| s.is_embedded())
                .and(r.taken_at.as_deref())
                // Local wall-clock time, as organize compares them.
                .and_then(|t| chrono::NaiveDateTime::parse_from_str(t.get(..19)?, "%Y-%m-%dT%H:%M:%S").ok())
                .map(|t| t.and_utc().timestamp()),
            live: r.capture.live.clone(),
        })
        .collect();
    super::assets::assemble(&paths, &facts)
}

fn add(total: &mut RefreshReport, r: &RefreshReport) {
    total.files += r.files;
    total.unchanged += r.unchanged;
    total.added += r.added;
    total.changed += r.changed;
    total.removed += r.removed;
    total.errors += r.errors;
    total.bytes_read += r.bytes_read;
}

/// The trash folder for files under `root`, and the base their paths in it are relative to.
pub fn trash_base(root: &Path, library: Option<&Path>) -> PathBuf {
    match library {
        Some(lib) if root.starts_with(lib) => lib.to_path_buf(),
        _ => root.to_path_buf(),
    }
}

/// Runs a dedup job.
pub fn dedup(
    journal: &mut Journal,
    opts: &DedupOptions,
    on_event: &mut (dyn FnMut(&DedupEvent) + Send),
) -> Result<DedupSummary, EngineError> {
    let mut summary = DedupSummary::default();
    let library = opts.library.as_deref().map(fsops::canonical_lenient).transpose()?;
    let to = opts.to.as_deref().map(fsops::canonical_lenient).transpose()?;
    // Every file with the folder it was found under (first folder wins).
    let mut rows: Vec<FileRow> = Vec::new();
    // (each row's folder, by its index in `resolved`)
    let mut roots: Vec<usize> = Vec::new();
    // A file under two of the folders given is taken once.
    let mut seen: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    let mut resolved: Vec<PathBuf> = Vec::new();
    for dir in &opts.dirs {
        let root = match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => fsops::canonical_lenient(dir)?,
            Ok(_) => return Err(EngineError::SourceNotDir(dir.clone())),
            Err(_) => return Err(EngineError::MissingSource(dir.clone())),
        };
        if let Some(to) = &to {
            if to.starts_with(&root) {
                return Err(EngineError::DestInsideSource { src: root, dest: to.clone() });
            }
        }
        resolved.push(root);
    }
    if opts.exact_only() {
        let mut errors = Vec::new();
        let found = {
            let progress_dir = resolved.first().cloned().unwrap_or_default();
            let on_event_cell = std::sync::Mutex::new(&mut *on_event);
            let progress: Progress<'_> = &|done, total| {
                if let Ok(mut f) = on_event_cell.lock() {
                    (*f)(&DedupEvent::Indexing { dir: progress_dir.clone(), done, total });
                }
            };
            super::exact::find(&resolved, opts.all_files, opts.access.as_ref(), progress, &mut |p, why| {
                errors.push((p.to_path_buf(), why))
            })
        };
        for (path, reason) in errors {
            on_event(&DedupEvent::Error { path, reason });
        }
        summary.index = found.report;
        roots = found.roots;
        rows = found.rows;
    }
    let many = resolved.len() > 1;
    for (root_index, root) in resolved.iter().enumerate().filter(|_| !opts.exact_only()) {
        let root = root.clone();
        let mut errors = Vec::new();
        let (found, report) = {
            let read_phash = opts.group.perceptual || opts.group.names;
            let progress_dir = root.clone();
            let on_event_cell = std::sync::Mutex::new(&mut *on_event);
            let progress: Progress<'_> = &|done, total| {
                if let Ok(mut f) = on_event_cell.lock() {
                    (*f)(&DedupEvent::Indexing { dir: progress_dir.clone(), done, total });
                }
            };
            super::index::refresh_as(
                journal.store_mut(),
                &root,
                read_phash,
                opts.access.as_ref(),
                progress,
                &mut |p, why| {
                    errors.push((p.to_path_buf(), why));
                },
            )?
        };
        for (path, reason) in errors {
            on_event(&DedupEvent::Error { path, reason });
        }
        add(&mut summary.index, &report);
        if !many {
            // One folder: its rows are taken as they are, not copied row by
            // row (at a million files that copy was a third of the peak).
            roots = vec![root_index; found.len()];
            rows = found;
            continue;
        }
        for r in found {
            if seen.insert(r.path.clone()) {
                rows.push(r);
                roots.push(root_index);
            }
        }
    }
    summary.files = if opts.exact_only() { summary.index.files } else { rows.len() as u64 };
    summary.errors = summary.index.errors;
    if opts.undated {
        for r in rows.iter().filter(|r| r.taken_source.as_deref().is_none_or(|s| s == "mtime")) {
            on_event(&DedupEvent::Undated { path: r.path.clone(), file: FileFacts::from(r) });
        }
    }

    // Pairs the user kept apart (`cbctl not-duplicate`) and the keepers they
    // chose (`cbctl prefer`), as the index has them now.
    let rules = super::group::GroupOptions {
        apart: std::sync::Arc::new(journal.store().apart_pairs()?),
        chosen: std::sync::Arc::new(journal.store().chosen_contents()?),
        ..opts.group.clone()
    };
    // Files that belong together are compared by their primary: a Live
    // Photo's video, a RAW's JPEG, an edit ride with it, wherever it goes.
    let members_of = members_of(&rows);
    let listed = Sidecars::default();
    let member: std::collections::HashSet<usize> = members_of.values().flatten().map(|&(m, _)| m).collect();
    let primaries: Vec<usize> = (0..rows.len()).filter(|i| !member.contains(i)).collect();
    let compared: Vec<&FileRow> = primaries.iter().map(|&i| &rows[i]).collect();
    let keepers: std::collections::HashSet<&Path> = opts.keepers.iter().map(PathBuf::as_path).collect();
    let shown: std::collections::HashSet<&Path> = opts.members.iter().map(PathBuf::as_path).collect();
    let groups: Vec<super::group::Group> = group(&compared, &rules)
        .into_iter()
        .map(|mut g| {
            g.keeper = primaries[g.keeper];
            g.members.iter_mut().for_each(|m| m.index = primaries[m.index]);
            g
        })
        .filter(|g| keepers.is_empty() || keepers.contains(rows[g.keeper].path.as_path()))
        .collect();
    // (member, keeper, pHash distance, how it matched)
    let mut doomed: Vec<(usize, usize, u32, Match)> = Vec::new();
    for (n, g) in groups.iter().enumerate() {
        let members: Vec<MemberReport> = g
            .members
            .iter()
            .map(|m| {
                let row = &rows[m.index];
                let riders = riders_of(&listed, &rows, &members_of, m.index);
                MemberReport {
                    path: row.path.clone(),
                    distance: m.distance,
                    how: m.how,
                    copy_name: m.copy_name,
                    bytes: row.size + riders.iter().map(|(_, _, bytes)| bytes).sum::<u64>(),
                    why_not_kept: why_kept(&rows[g.keeper], row, m.copy_name, &rules).to_string(),
                    with: riders.into_iter().map(|(p, _, _)| p.to_string_lossy().into_owned()).collect(),
                    file: FileFacts::from(row),
                }
            })
            .collect();
        let bytes = members.iter().map(|m| m.bytes).sum();
        summary.groups += 1;
        summary.duplicates += members.len() as u64;
        summary.bytes += bytes;
        // A copy under dedup.protect is reported, never moved or trashed.
        doomed.extend(
            g.members
                .iter()
                .filter(|m| !opts.group.protects(&rows[m.index].path))
                .filter(|m| keepers.is_empty() || shown.contains(rows[m.index].path.as_path()))
                .map(|m| (m.index, g.keeper, m.distance, m.how)),
        );
        on_event(&DedupEvent::Group(GroupReport {
            group: n + 1,
            keeper: rows[g.keeper].path.clone(),
            members,
            bytes,
            keeper_file: FileFacts::from(&rows[g.keeper]),
        }));
    }
    if opts.action == DedupAction::Report || doomed.is_empty() {
        return Ok(summary);
    }

    let (action, kind) = match opts.action {
        DedupAction::Copy => (Action::Copy, Outcome::Copied),
        DedupAction::Move => (Action::Move, Outcome::Moved),
        _ => (Action::Trash, Outcome::Trashed),
    };
    let params = serde_json::json!({
        "dirs": opts.dirs.iter().map(|d| d.to_string_lossy()).collect::<Vec<_>>(),
        "action": format!("{:?}", opts.action).to_lowercase(),
        "to": to.as_ref().map(|t| t.to_string_lossy()),
        "threshold": opts.group.threshold,
    });
    let session = journal.begin("dedup", &params)?;
    summary.session = Some(session);
    let mut reserved: HashMap<PathBuf, Fingerprint> = HashMap::new();
    let mut pending: Vec<(BatchItem, FileEvent)> = Vec::new();
    let mut removed_rows: Vec<PathBuf> = Vec::new();
    // Each file's report is also kept as the session's decision (`cbctl why`).
    let decided: std::sync::Mutex<Vec<FileEvent>> = std::sync::Mutex::new(Vec::new());
    let mut on_event = |ev: &DedupEvent| {
        if let (DedupEvent::File(f), Ok(mut d)) = (ev, decided.lock()) {
            d.push(f.clone());
        }
        on_event(ev)
    };
    for (i, keeper, distance, how) in doomed {
        let row = &rows[i];
        let root = &resolved[roots[i]];
        let mut ev = FileEvent {
            path: row.path.clone(),
            outcome: Outcome::Error,
            dest: None,
            duplicate_of: Some(rows[keeper].path.clone()),
            how: Some(match_name(how == Match::Exact)),
            distance: Some(distance),
            taken: row.taken_at.clone(),
            source: row.taken_source.as_deref().and_then(DateSource::parse).map(DateSource::as_str),
            bytes: row.size,
            reason: None,
            no_space: false,
        };
        let fp = match row_fingerprint(row) {
            Some(fp) => fp,
            None => {
                summary.errors += 1;
                ev.reason = Some("bad blake3 in the index; run again".into());
                on_event(&DedupEvent::File(ev));
                continue;
            }
        };
        let (base, top) = match action {
            Action::Trash => {
                let base = trash_base(root, library.as_deref());
                let top = base.join(TRASH_DIR).join(session.to_string());
                (base, top)
            }
            _ => (root.clone(), to.clone().unwrap_or_default()),
        };
        let rel = row.path.strip_prefix(&base).unwrap_or(&row.path);
        let target = top.join(rel);
        let folder = target.parent().unwrap_or(&top).to_path_buf();
        let name = target.file_name().unwrap_or_default().to_os_string();
        let slot = fsops::choose_slot(&folder, &name, &fp, &|p| reserved.get(p).copied());
        match slot {
            Ok(Slot::Free(dst)) => {
                reserved.insert(dst.clone(), fp);
                ev.dest = Some(dst.clone());
                ev.outcome = kind;
                // Its sidecars go where it goes, under its new name.
                let dst_name = dst.file_name().unwrap_or_default().to_os_string();
                let dst_folder = dst.parent().unwrap_or(&top).to_path_buf();
                let mut riders = Vec::new();
                for (side, role, _) in riders_of(&listed, &rows, &members_of, i) {
                    let Ok(mut opened) = crate::media::open(&side) else { continue };
                    let Ok(sfp) = fsops::fingerprint_file(&mut opened.file, &side) else { continue };
                    let to = dst_folder.join(super::assets::member_name(
                        side.file_name().unwrap_or_default(),
                        row.path.file_name().unwrap_or_default(),
                        &dst_name,
                    ));
                    if reserved.contains_key(&to) || fsops::exists(&to).unwrap_or(true) {
                        continue;
                    }
                    reserved.insert(to.clone(), sfp);
                    let sev = FileEvent {
                        path: side.clone(),
                        dest: Some(to.clone()),
                        bytes: sfp.size,
                        reason: Some(format!("with {} ({})", row.path.display(), role.describe())),
                        ..ev.clone()
                    };
                    riders.push((BatchItem { action, src: side, dst: to, fp: sfp, id: Some(opened.id) }, sev));
                }
                pending.push((BatchItem { action, src: row.path.clone(), dst, fp, id: None }, ev));
                pending.extend(riders);
            }
            Ok(Slot::Identical(existing)) => {
                ev.outcome = Outcome::Duplicate;
                ev.dest = Some(existing);
                ev.reason = Some("an identical file is already there; left in place".into());
                on_event(&DedupEvent::File(ev));
            }
            Err(e) => {
                summary.errors += 1;
                ev.reason = Some(e.to_string());
                on_event(&DedupEvent::File(ev));
            }
        }
    }
    for chunk in pending.chunks(128) {
        let items: Vec<BatchItem> = chunk.iter().map(|(it, _)| it.clone()).collect();
        let outcomes = journal.run_batch(session, &items)?;
        for ((item, ev), outcome) in chunk.iter().zip(outcomes) {
            let mut ev = ev.clone();
            match outcome {
                OpOutcome::Done { .. } => {
                    summary.handled += 1;
                    if item.action != Action::Copy {
                        removed_rows.push(item.src.clone());
                    }
                }
                OpOutcome::Failed(e) => {
                    summary.errors += 1;
                    ev.outcome = Outcome::Error;
                    ev.dest = None;
                    ev.reason = Some(e.to_string());
                }
            }
            on_event(&DedupEvent::File(ev));
        }
        record_decisions(journal, Some(session), &decided);
    }
    record_decisions(journal, Some(session), &decided);
    journal.store_mut().update_files(&[], &removed_rows)?;
    let mut s = serde_json::to_value(&summary).unwrap_or_default();
    s["index"] = serde_json::Value::Null;
    journal.finish(session, &s)?;
    Ok(summary)
}

fn row_fingerprint(row: &FileRow) -> Option<Fingerprint> {
    let hash = blake3::Hash::from_hex(&row.blake3).ok()?;
    Some(Fingerprint { size: row.size, hash })
}
