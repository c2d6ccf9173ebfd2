//! What the review page shows, and what its buttons do, over a
//! [`Control`]: the same requests as every cbctl command, so each action is
//! journaled and undoable where the commands are, and `cbctl why` tells the
//! same story afterwards.
//!
//! Files are named to the page by a number ([`Files`]), never by a path it
//! sends back: the page can only show and act on the files listed here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::control::api::{ApiError, Reply, Request};
use crate::control::Control;
use crate::engine::dedup::{DedupAction, FileFacts, GroupReport};
use crate::engine::group::GroupOptions;
use crate::engine::job::{JobEvent, JobSpec, JobSummary};

/// The files the page may ask about, each by a number that never changes
/// while the page runs.
#[derive(Debug, Default)]
pub struct Files {
    paths: Vec<PathBuf>,
    ids: HashMap<PathBuf, usize>,
}

impl Files {
    /// The number of `path`, given it one when new.
    pub fn id(&mut self, path: &Path) -> usize {
        if let Some(&i) = self.ids.get(path) {
            return i;
        }
        self.paths.push(path.to_path_buf());
        self.ids.insert(path.to_path_buf(), self.paths.len() - 1);
        self.paths.len() - 1
    }

    /// The file numbered `id`.
    pub fn path(&self, id: usize) -> Option<&Path> {
        self.paths.get(id).map(PathBuf::as_path)
    }

    /// Every file, by number.
    pub fn all(&self) -> &[PathBuf] {
        &self.paths
    }
}

/// One picture on the page.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Shown {
    /// Its number (for its thumbnail and the actions).
    pub id: usize,
    /// Where it is.
    pub path: String,
    /// Pixels, format, bytes, date, camera (as far as known).
    pub file: FileFacts,
    /// pHash distance to the keeper (members only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance: Option<u32>,
    /// `exact`, `perceptual`, `name` (members only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub how: Option<String>,
    /// Why the keeper was kept rather than this one (members only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub why_not_kept: String,
    /// The files that go with it (Live Photo video, RAW's JPEG, sidecars).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<String>,
}

/// One row of thumbnails: a keeper and its duplicates.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    /// `folder` (the dedup of the folder reviewed) or `daemon` (a file the
    /// daemon set aside, beside its library keeper).
    pub source: &'static str,
    /// The group's number in its source.
    pub group: usize,
    /// `exact`, `similar`, `deleted` (daemon rows), or the strongest match
    /// of the members (folder rows).
    pub verdict: String,
    /// The file kept (`None`: a daemon row whose keeper is gone).
    pub keeper: Option<Shown>,
    /// The others.
    pub members: Vec<Shown>,
    /// Bytes removing the others would free.
    pub bytes: u64,
    /// The session that set it aside, and when (daemon rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<i64>,
    /// The reason the daemon gave (daemon rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A file that could not be read, with why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Failed {
    /// The file.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// Everything the page shows.
#[derive(Debug, Clone, Serialize, Default)]
pub struct View {
    /// The folder reviewed, if any.
    pub dir: Option<String>,
    /// Duplicate and similar groups: the folder's first, then the daemon's.
    pub rows: Vec<Row>,
    /// Files dated by their mtime only.
    pub undated: Vec<Shown>,
    /// Files that could not be read.
    pub failed: Vec<Failed>,
    /// Files looked at in the folder.
    pub files: u64,
    /// The daemon could not be asked for its set-aside files (why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daemon_note: Option<String>,
    /// A static report: no buttons.
    pub read_only: bool,
    /// Sessions of this page's own actions that `u` can undo, newest last.
    pub undoable: usize,
    /// What the last action did, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

/// What is reviewed: a folder's duplicates (by these rules) and the
/// daemon's set-aside files.
#[derive(Debug, Clone)]
pub struct Source {
    /// The folder, when one was given.
    pub dir: Option<PathBuf>,
    /// How duplicates are recognised.
    pub group: GroupOptions,
    /// The library root (its trash is used for folders inside it).
    pub library: Option<PathBuf>,
}

/// A button on the page, naming files by number.
#[derive(Debug, Clone, serde::Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Action {
    /// "Keep both": `member` is not a duplicate of `keeper`.
    NotDuplicate {
        /// The keeper.
        keeper: usize,
        /// The member.
        member: usize,
    },
    /// "Keep this one instead": `member` becomes its group's keeper.
    Prefer {
        /// The file to keep.
        member: usize,
    },
    /// "Move duplicates to trash": every member of the group `keeper` keeps.
    Trash {
        /// The group's keeper.
        keeper: usize,
    },
    /// "File it anyway": a file the daemon set aside is filed after all.
    Keep {
        /// The set-aside file.
        member: usize,
    },
    /// "Undo last action": the newest of this page's own sessions.
    Undo {},
}

/// The page's state: what it shows and the sessions its actions made.
#[derive(Debug)]
pub struct Review {
    /// What is reviewed.
    pub source: Source,
    /// The files by number.
    pub files: Files,
    /// What is shown now.
    pub view: View,
    sessions: Vec<i64>,
    /// Facts read from set-aside files and their keepers, by path.
    read: HashMap<PathBuf, FileFacts>,
}

fn lossy(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl Review {
    /// Nothing loaded yet.
    pub fn new(source: Source) -> Review {
        Review { source, files: Files::default(), view: View::default(), sessions: Vec::new(), read: HashMap::new() }
    }

    /// Loads (or reloads) the view: the folder's dedup report (its index is
    /// kept, so only new or changed files are read again) and the daemon's
    /// set-aside files. `progress` gets the dedup job's events.
    pub fn load(&mut self, c: &mut dyn Control, progress: &mut (dyn FnMut(&JobEvent) + Send)) -> Result<(), ApiError> {
        let mut view = View { dir: self.source.dir.as_deref().map(lossy), ..View::default() };
        if let Some(dir) = &self.source.dir {
            let spec = JobSpec::Dedup {
                dirs: vec![dir.clone()],
                action: DedupAction::Report,
                to: None,
                library: self.source.library.clone(),
                group: self.source.group.clone(),
                keepers: Vec::new(),
                members: Vec::new(),
                undated: true,
                exact: false,
                all_files: false,
            };
            let mut events = Vec::new();
            let summary = run_job(c, spec, &mut |ev| {
                progress(&ev);
                events.push(ev);
            })?;
            if let JobSummary::Dedup(s) = summary {
                view.files = s.files;
            }
            self.add_events(&mut view, events);
        }
        match c.call(Request::Skipped {}, &mut |_| {}) {
            Ok(Reply::Skipped(list)) => {
                for (n, s) in list.into_iter().enumerate() {
                    let member = self.shown_from_disk(&s.path);
                    let keeper = s.keeper.as_deref().map(|k| self.shown_from_disk(k));
                    view.rows.push(Row {
                        source: "daemon",
                        group: n + 1,
                        verdict: s.verdict.clone(),
                        bytes: member.file.bytes,
                        keeper,
                        members: vec![Shown { distance: s.distance, ..member }],
                        session: Some(s.session),
                        reason: s.reason,
                    });
                }
            }
            Ok(_) => {}
            Err(e) => view.daemon_note = Some(e.message),
        }
        view.undoable = self.sessions.len();
        view.last = self.view.last.take();
        self.view = view;
        Ok(())
    }

    /// Adds a dedup job's groups, undated files and errors to `view`.
    pub fn add_events(&mut self, view: &mut View, events: Vec<JobEvent>) {
        for ev in events {
            match ev {
                JobEvent::Group(g) => {
                    let row = self.folder_row(&g);
                    view.rows.push(row);
                }
                JobEvent::Undated { path, file } => {
                    let path = PathBuf::from(path);
                    view.undated.push(Shown {
                        id: self.files.id(&path),
                        path: lossy(&path),
                        file,
                        distance: None,
                        how: None,
                        why_not_kept: String::new(),
                        with: Vec::new(),
                    });
                }
                JobEvent::Error { path, reason } => {
                    // The reason often starts with the path again.
                    let reason = reason.strip_prefix(&format!("{path}: ")).map(str::to_string).unwrap_or(reason);
                    view.failed.push(Failed { path, reason })
                }
                _ => {}
            }
        }
    }

    fn folder_row(&mut self, g: &GroupReport) -> Row {
        let keeper = Shown {
            id: self.files.id(&g.keeper),
            path: lossy(&g.keeper),
            file: g.keeper_file.clone(),
            distance: None,
            how: None,
            why_not_kept: String::new(),
            with: Vec::new(),
        };
        let members: Vec<Shown> = g
            .members
            .iter()
            .map(|m| Shown {
                id: self.files.id(&m.path),
                path: lossy(&m.path),
                file: m.file.clone(),
                distance: Some(m.distance),
                how: Some(
                    match m.how {
                        crate::engine::group::Match::Exact => "exact",
                        crate::engine::group::Match::Perceptual => "perceptual",
                        crate::engine::group::Match::Name => "name",
                    }
                    .to_string(),
                ),
                why_not_kept: m.why_not_kept.clone(),
                with: m.with.clone(),
            })
            .collect();
        let exact = g.members.iter().all(|m| m.how == crate::engine::group::Match::Exact);
        Row {
            source: "folder",
            group: g.group,
            verdict: if exact { "exact" } else { "similar" }.to_string(),
            keeper: Some(keeper),
            members,
            bytes: g.bytes,
            session: None,
            reason: None,
        }
    }

    /// A file outside a dedup report (a set-aside file and its keeper):
    /// its facts read from the file itself.
    fn shown_from_disk(&mut self, path: &Path) -> Shown {
        let file = self
            .read
            .entry(path.to_path_buf())
            .or_insert_with(|| match crate::engine::index::index_file(path, true) {
                Ok(Some(row)) => FileFacts::from(&row),
                _ => FileFacts::default(),
            })
            .clone();
        Shown {
            id: self.files.id(path),
            path: lossy(path),
            file,
            distance: None,
            how: None,
            why_not_kept: String::new(),
            with: Vec::new(),
        }
    }

    fn file(&self, id: usize) -> Result<PathBuf, ApiError> {
        self.files
            .path(id)
            .map(Path::to_path_buf)
            .ok_or_else(|| ApiError::usage(format!("no file numbered {id} on this page; reload it")))
    }

    /// Does what a button says, then reloads the view. Returns what was done, in words.
    pub fn act(&mut self, c: &mut dyn Control, action: &Action) -> Result<String, ApiError> {
        if self.view.read_only {
            return Err(ApiError::usage("this report is read-only"));
        }
        let (said, session) = match action {
            Action::NotDuplicate { keeper, member } => {
                let (a, b) = (self.file(*keeper)?, self.file(*member)?);
                let reply = c.call(Request::NotDuplicate { a: a.clone(), b: b.clone() }, &mut |_| {})?;
                (format!("kept both: {} is not a duplicate of {}", b.display(), a.display()), session_of(&reply))
            }
            Action::Prefer { member } => {
                let path = self.file(*member)?;
                let reply = c.call(Request::Prefer { path: path.clone() }, &mut |_| {})?;
                (format!("{} is the keeper of its group now", path.display()), session_of(&reply))
            }
            Action::Keep { member } => {
                let path = self.file(*member)?;
                let reply = c.call(Request::Keep { path: path.clone() }, &mut |_| {})?;
                let to = match &reply {
                    Reply::Corrected(c) => c.filed_to.as_deref().map(|t| format!(" to {}", t.display())),
                    _ => None,
                };
                if let Reply::Corrected(c) = &reply {
                    if let Some(p) = &c.problem {
                        return Err(ApiError::usage(format!("{} was not filed: {p}", path.display())));
                    }
                }
                (format!("filed {}{}", path.display(), to.unwrap_or_default()), session_of(&reply))
            }
            Action::Trash { keeper } => {
                let id = *keeper;
                let keeper = self.file(id)?;
                // Exactly the copies the page shows beside that keeper.
                let shown: Vec<PathBuf> = self
                    .view
                    .rows
                    .iter()
                    .filter(|r| r.source == "folder" && r.keeper.as_ref().is_some_and(|k| k.id == id))
                    .flat_map(|r| r.members.iter().filter_map(|m| self.files.path(m.id).map(Path::to_path_buf)))
                    .collect();
                if shown.is_empty() {
                    return Err(ApiError::usage(format!("{} keeps no group on this page", keeper.display())));
                }
                let Some(dir) = self.source.dir.clone() else {
                    return Err(ApiError::usage("only a folder's groups are moved to the trash here"));
                };
                let spec = JobSpec::Dedup {
                    dirs: vec![dir],
                    action: DedupAction::Delete,
                    to: None,
                    library: self.source.library.clone(),
                    group: self.source.group.clone(),
                    keepers: vec![keeper.clone()],
                    members: shown,
                    undated: false,
                    exact: false,
                    all_files: false,
                };
                let mut trashed = 0usize;
                let mut failed = Vec::new();
                let summary = run_job(c, spec, &mut |ev| {
                    if let JobEvent::File(f) = ev {
                        match f.outcome {
                            crate::engine::Outcome::Trashed => trashed += 1,
                            crate::engine::Outcome::Error => {
                                failed.push(f.reason.unwrap_or_else(|| lossy(&f.path)));
                            }
                            _ => {}
                        }
                    }
                })?;
                let session = match summary {
                    JobSummary::Dedup(s) => s.session,
                    _ => None,
                };
                let mut said = format!("moved {trashed} duplicate(s) of {} to the trash", keeper.display());
                if !failed.is_empty() {
                    said.push_str(&format!("; {} could not be: {}", failed.len(), failed.join("; ")));
                }
                (said, session)
            }
            Action::Undo {} => {
                let Some(session) = self.sessions.pop() else {
                    return Err(ApiError::usage("nothing done on this page to undo"));
                };
                match c.call(Request::Undo { session: Some(session), last: false }, &mut |_| {}) {
                    Ok(_) => (format!("undid session {session}"), None),
                    Err(e) => {
                        self.sessions.push(session);
                        return Err(e);
                    }
                }
            }
        };
        self.sessions.extend(session);
        self.view.last = Some(said.clone());
        Ok(said)
    }
}

/// The journal session a correction made, if any.
fn session_of(reply: &Reply) -> Option<i64> {
    match reply {
        Reply::Corrected(c) => c.session.or(c.filed.as_ref().and_then(|f| f.session)),
        _ => None,
    }
}

/// Runs a job through `c`, streaming its events to `on_event`.
pub fn run_job(
    c: &mut dyn Control,
    spec: JobSpec,
    on_event: &mut (dyn FnMut(JobEvent) + Send),
) -> Result<JobSummary, ApiError> {
    match c.call(Request::Submit { spec, stream: true }, on_event)? {
        Reply::Job(s) => Ok(s),
        other => Err(ApiError::usage(format!("the daemon answered a job with {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_keeps_its_number_and_unknown_numbers_name_nothing() {
        let mut f = Files::default();
        let a = f.id(Path::new("/p/a.jpg"));
        let b = f.id(Path::new("/p/b.jpg"));
        assert_ne!(a, b);
        assert_eq!(f.id(Path::new("/p/a.jpg")), a);
        assert_eq!(f.path(b), Some(Path::new("/p/b.jpg")));
        assert_eq!(f.path(99), None);
    }

    #[test]
    fn actions_name_files_by_number_only() {
        let a: Action = serde_json::from_str(r#"{"op":"not_duplicate","keeper":1,"member":2}"#).unwrap();
        assert_eq!(a, Action::NotDuplicate { keeper: 1, member: 2 });
        assert_eq!(serde_json::from_str::<Action>(r#"{"op":"undo"}"#).unwrap(), Action::Undo {});
        assert!(serde_json::from_str::<Action>(r#"{"op":"trash","keeper":"/etc/passwd"}"#).is_err());
        assert!(serde_json::from_str::<Action>(r#"{"op":"rm","path":"/"}"#).is_err());
    }
}
