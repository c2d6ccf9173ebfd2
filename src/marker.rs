//! The library's marker: how clean-backup knows a folder is the library it
//! filed into, and not an empty mount point of a disk that is not mounted.
//!
//! `<library>/.clean-backup-library` holds the library's id and the id of
//! the state (journal) that files into it. It is written the first time a
//! folder that exists is used as a library, and never again by itself: a
//! library folder that is missing, or is there without its marker, pauses
//! filing until it is back (clean-backup never creates a library root). The
//! state's id in the marker tells a journal that was deleted or emptied
//! (then made anew, knowing nothing) from the journal of record, so the loss
//! of every undo is never silent. Beside the marker, `.clean-backup-journal/`
//! keeps the last few daily copies of the journal.

use std::path::{Path, PathBuf};

use crate::fsops;
use crate::store::{Store, StoreError};

/// The marker's file name, in the library root (hidden: never indexed).
pub const MARKER_FILE: &str = ".clean-backup-library";
/// The folder of journal backups, in the library root.
pub const BACKUP_DIR: &str = ".clean-backup-journal";
/// How many daily journal backups are kept.
pub const BACKUPS_KEPT: usize = 3;

/// Marker errors.
#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    /// The state database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing the marker.
    #[error(transparent)]
    Fs(#[from] fsops::FsError),
    /// The marker is not ours to read.
    #[error("{path}: not a clean-backup library marker ({reason}); move it away if it is not yours")]
    Bad {
        /// The marker file.
        path: PathBuf,
        /// Why it could not be parsed (the JSON error).
        reason: String,
    },
}

/// What a library marker says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Marker {
    /// The library's id.
    pub library_id: String,
    /// The id of the state that files into it.
    pub state_id: String,
    /// Where that state lived.
    pub state_dir: PathBuf,
    /// When the marker was written (RFC 3339 UTC).
    pub written: String,
}

/// Where a library stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// There, with the marker this state knows: file into it.
    Ready,
    /// Not there, or not recognisable: filing waits; the text says why and what to do.
    Away(String),
    /// There, but its marker names a state that this one is not, and this
    /// state knows nothing of it: the journal that filed it was deleted or
    /// emptied. The daemon refuses to start until told (`--new-state`).
    OtherState(Marker),
}

fn marker_path(library: &Path) -> PathBuf {
    library.join(MARKER_FILE)
}

fn meta_key(library: &Path) -> String {
    format!("library:{}", library.display())
}

/// Reads the marker of `library`, if it has one.
pub fn read(library: &Path) -> Result<Option<Marker>, MarkerError> {
    let path = marker_path(library);
    match fsops::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| MarkerError::Bad { path: path.clone(), reason: e.to_string() }),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn write(library: &Path, marker: &Marker) -> Result<(), MarkerError> {
    let mut text = serde_json::to_vec_pretty(marker).unwrap_or_default();
    text.push(b'\n');
    fsops::write_atomic_mode(&marker_path(library), &text, Some(0o644))?;
    Ok(())
}

fn new_id() -> String {
    let mut bytes = [0u8; 16];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes)).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        bytes[..16].copy_from_slice(&(t.as_nanos() ^ u128::from(std::process::id())).to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where `library` stands for `store` (whose folder is `state_dir`).
///
/// A folder that exists and that this state has never used is adopted: its
/// marker is written (or, when it has one of this state, recorded). With
/// `adopt`, a folder without its marker, or one marked by another state, is
/// taken over too (`cbctl rescan` after the user moved the library on
/// purpose; `clean-backupd --new-state`).
pub fn standing(store: &Store, library: &Path, state_dir: &Path, adopt: bool) -> Result<Standing, MarkerError> {
    if !fsops::is_dir(library) {
        return Ok(Standing::Away(format!(
            "library {} is not there (a disk not mounted?); filing is paused and resumes by itself when it is \
             back. clean-backup never creates the library folder: if it is new, create it (`mkdir -p {}`)",
            library.display(),
            library.display()
        )));
    }
    let state_id = store.state_id()?;
    let known = store.meta(&meta_key(library))?;
    let adopt_here = |library_id: String| -> Result<Standing, MarkerError> {
        let marker = Marker {
            library_id: library_id.clone(),
            state_id: state_id.clone(),
            state_dir: state_dir.to_path_buf(),
            written: crate::store::now_rfc3339(),
        };
        write(library, &marker)?;
        store.set_meta(&meta_key(library), &library_id)?;
        tracing::info!(library = %library.display(), id = %library_id, "library marked");
        Ok(Standing::Ready)
    };
    match (read(library)?, known) {
        (Some(m), Some(id)) if m.library_id == id => Ok(Standing::Ready),
        (Some(m), None) if m.state_id == state_id => {
            store.set_meta(&meta_key(library), &m.library_id)?;
            Ok(Standing::Ready)
        }
        (Some(m), _) if adopt => adopt_here(m.library_id),
        (Some(m), None) => Ok(Standing::OtherState(m)),
        (Some(m), Some(id)) => Ok(Standing::Away(format!(
            "{} holds another library (id {}) than the one this state filed into (id {id}): is the right disk \
             mounted? Filing is paused; if this is the library now, run `cbctl rescan`",
            library.display(),
            m.library_id
        ))),
        (None, None) => adopt_here(new_id()),
        (None, Some(id)) if adopt => adopt_here(id),
        (None, Some(_)) => Ok(Standing::Away(format!(
            "library {} is there but without its marker {MARKER_FILE}: is its disk mounted? Filing is paused \
             and resumes by itself when the marker is back; if this folder really is the library now (you \
             moved it on purpose), run `cbctl rescan`",
            library.display()
        ))),
    }
}

/// Writes today's copy of the journal beside the marker (once a day: a
/// copy already made today is kept) and keeps the newest [`BACKUPS_KEPT`].
/// Returns the copy's path when one was written.
pub fn backup_journal(store: &Store, library: &Path) -> Result<Option<PathBuf>, MarkerError> {
    let dir = library.join(BACKUP_DIR);
    fsops::create_dirs(&dir)?;
    let name = format!("journal-{}.db", chrono::Utc::now().format("%Y-%m-%d"));
    let dest = dir.join(&name);
    let made = if fsops::exists(&dest)? {
        None
    } else {
        store.backup_to(&dest)?;
        Some(dest)
    };
    let mut all: Vec<PathBuf> =
        std::fs::read_dir(&dir).map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    all.retain(|p| {
        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("journal-") && n.ends_with(".db"))
    });
    all.sort();
    for old in all.iter().rev().skip(BACKUPS_KEPT) {
        if let Err(e) = fsops::remove_own_file(old) {
            tracing::warn!(path = %old.display(), "cannot remove an old journal backup: {e}");
        }
    }
    Ok(made)
}

/// The newest journal backup kept in `library`, if any.
pub fn latest_backup(library: &Path) -> Option<PathBuf> {
    let mut all: Vec<PathBuf> =
        std::fs::read_dir(library.join(BACKUP_DIR)).ok()?.filter_map(Result::ok).map(|e| e.path()).collect();
    all.retain(|p| p.extension().is_some_and(|e| e == "db"));
    all.sort();
    all.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_is_marked_on_first_use_and_away_without_its_marker_afterwards() {
        let t = tempfile::tempdir().unwrap();
        let (lib, state) = (t.path().join("lib"), t.path().join("state"));
        let store = Store::open(&state).unwrap();
        assert!(matches!(standing(&store, &lib, &state, false).unwrap(), Standing::Away(m) if m.contains("not there")));
        assert!(!lib.exists(), "never created");
        std::fs::create_dir(&lib).unwrap();
        assert_eq!(standing(&store, &lib, &state, false).unwrap(), Standing::Ready);
        let m = read(&lib).unwrap().unwrap();
        assert_eq!(m.state_id, store.state_id().unwrap());
        std::fs::remove_file(lib.join(MARKER_FILE)).unwrap();
        assert!(
            matches!(standing(&store, &lib, &state, false).unwrap(), Standing::Away(m) if m.contains("without its marker"))
        );
        assert_eq!(standing(&store, &lib, &state, true).unwrap(), Standing::Ready, "rescan adopts it");
        assert_eq!(read(&lib).unwrap().unwrap().library_id, m.library_id, "with the same id");
    }

    #[test]
    fn a_state_made_anew_does_not_silently_take_over_a_marked_library() {
        let t = tempfile::tempdir().unwrap();
        let (lib, state) = (t.path().join("lib"), t.path().join("state"));
        std::fs::create_dir(&lib).unwrap();
        let first = Store::open(&state).unwrap();
        assert_eq!(standing(&first, &lib, &state, false).unwrap(), Standing::Ready);
        drop(first);
        std::fs::remove_dir_all(&state).unwrap();
        let fresh = Store::open(&state).unwrap();
        assert!(matches!(standing(&fresh, &lib, &state, false).unwrap(), Standing::OtherState(_)));
        assert_eq!(standing(&fresh, &lib, &state, true).unwrap(), Standing::Ready, "--new-state accepts the loss");
        assert_eq!(read(&lib).unwrap().unwrap().state_id, fresh.state_id().unwrap());
    }

    #[test]
    fn journal_backups_are_daily_and_only_the_newest_are_kept() {
        let t = tempfile::tempdir().unwrap();
        let (lib, state) = (t.path().join("lib"), t.path().join("state"));
        std::fs::create_dir_all(lib.join(BACKUP_DIR)).unwrap();
        for d in ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"] {
            std::fs::write(lib.join(BACKUP_DIR).join(format!("journal-{d}.db")), b"old").unwrap();
        }
        let store = Store::open(&state).unwrap();
        let made = backup_journal(&store, &lib).unwrap().expect("a copy today");
        assert!(backup_journal(&store, &lib).unwrap().is_none(), "once a day");
        let copy = Store::open_file_for_test(&made);
        assert_eq!(copy, store.state_id().unwrap(), "a whole, readable copy");
        let left: Vec<_> = std::fs::read_dir(lib.join(BACKUP_DIR)).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), BACKUPS_KEPT, "{left:?}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&made).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
