//! How cbctl finds the running daemon with no flags: the daemon writes
//! where its socket is to `daemon.json` in the runtime folder
//! (`$XDG_RUNTIME_DIR/clean-backup/` for a user's daemon,
//! `/run/clean-backup/` for the system service), and removes it when it
//! stops. cbctl reads it before it falls back to the config's `state_dir`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name of the advertisement in a runtime folder.
pub const ADVERT_FILE: &str = "daemon.json";

/// What a running daemon says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advert {
    /// Its control socket.
    pub socket: PathBuf,
    /// Its state folder (journal).
    pub state_dir: PathBuf,
    /// Its config file, when it has one.
    #[serde(default)]
    pub config: Option<PathBuf>,
    /// Its process id.
    pub pid: u32,
    /// The user it runs as.
    #[serde(default)]
    pub user: String,
}

/// The folders an advertisement may be in, most personal first: the user's
/// runtime folder, then the system service's.
pub fn runtime_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d).join("clean-backup"));
    }
    dirs.push(PathBuf::from("/run/clean-backup"));
    dirs
}

/// Where this process, as a daemon, advertises itself: the user's runtime
/// folder when there is one, else (root, or the system service's user with
/// systemd's `RuntimeDirectory=`) `/run/clean-backup`.
fn own_runtime_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("clean-backup"));
    }
    let system = PathBuf::from("/run/clean-backup");
    (rustix::process::geteuid().is_root() || crate::fsops::is_dir(&system)).then_some(system)
}

fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The advertisement of a daemon that is running, if one is found.
pub fn find() -> Option<Advert> {
    runtime_dirs().into_iter().find_map(|d| read(&d.join(ADVERT_FILE)).filter(|a| alive(a.pid)))
}

/// The advertisement at `path`, if it can be trusted: the file and its
/// folder belong to root or to this user and nobody else may write them.
/// Otherwise another local user could plant one and have cbctl send its
/// requests (a `config set`, an undo) to a socket of theirs.
fn read(path: &Path) -> Option<Advert> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    let trusted =
        |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| (m.uid() == 0 || m.uid() == me) && m.mode() & 0o022 == 0);
    if !trusted(path) || !path.parent().is_some_and(trusted) {
        return None;
    }
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_advertisement_others_could_write_is_not_trusted() {
        let dir = std::env::temp_dir().join(format!("cb-advert-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.join(ADVERT_FILE);
        let advert = Advert {
            socket: "/x.sock".into(),
            state_dir: "/s".into(),
            config: None,
            pid: std::process::id(),
            user: "me".into(),
        };
        std::fs::write(&path, serde_json::to_vec(&advert).unwrap()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read(&path), Some(advert.clone()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(read(&path), None, "a world-writable file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(read(&path), None, "in a world-writable folder");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The daemon's advertisement, removed when dropped (if it is still ours).
#[derive(Debug)]
pub struct Advertised {
    path: PathBuf,
}

/// Writes this daemon's advertisement. Failing to is not fatal (cbctl then
/// needs `--config`): the reason is returned to be logged.
pub fn advertise(socket: &Path, state_dir: &Path, config: Option<&Path>) -> Result<Advertised, String> {
    let dir = own_runtime_dir().ok_or("no runtime folder ($XDG_RUNTIME_DIR is not set)")?;
    let uid = rustix::process::geteuid().as_raw();
    let advert = Advert {
        socket: socket.to_path_buf(),
        state_dir: state_dir.to_path_buf(),
        config: config.map(Path::to_path_buf),
        pid: std::process::id(),
        user: crate::access::user_name(uid).unwrap_or_else(|| format!("uid {uid}")),
    };
    let path = dir.join(ADVERT_FILE);
    let bytes = serde_json::to_vec_pretty(&advert).map_err(|e| e.to_string())?;
    crate::fsops::write_atomic_mode(&path, &bytes, Some(0o644)).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Advertised { path })
}

impl Advertised {
    /// The advertisement file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Advertised {
    fn drop(&mut self) {
        // Another daemon started since may have taken the file over: leave its own.
        if read(&self.path).is_some_and(|a| a.pid == std::process::id()) {
            let _ = crate::fsops::remove_own_file(&self.path);
        }
    }
}
