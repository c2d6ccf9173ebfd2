//! The state-dir lock: one engine per state (and so per library) at a time.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::StoreError;

/// An exclusive `flock` on `state_dir/lock`, released when dropped (or when
/// the process dies, so a `kill -9` never leaves a stale lock).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    path: PathBuf,
}

impl StateLock {
    /// Takes the lock or says who holds it.
    pub fn acquire(state_dir: &Path) -> Result<StateLock, StoreError> {
        super::ensure_private_dir(state_dir)?;
        let path = state_dir.join("lock");
        super::private_file(&path)?;
        let io = |source| StoreError::Io { path: path.clone(), source };
        let mut file = OpenOptions::new().read(true).write(true).open(&path).map_err(io)?;
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            return Err(StoreError::Locked { path, pid: pid.trim().to_string() });
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(StateLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_names_the_holder() {
        let t = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(t.path()).unwrap();
        match StateLock::acquire(t.path()) {
            Err(StoreError::Locked { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        StateLock::acquire(t.path()).unwrap();
    }
}
