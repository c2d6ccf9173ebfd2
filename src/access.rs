//! Who is asking, and what they may do: the daemon never lends its rights.
//!
//! A control request carries the caller's credentials as the kernel gives
//! them (`SO_PEERCRED` on the socket, `GetConnectionUnixUser` on D-Bus).
//! [`Caller`] holds them with the caller's groups, and answers the question
//! the kernel would if the caller did the work itself: may this uid read
//! this file, list this folder, remove a name from it? Jobs run for another
//! user carry an [`Access`] that the scan applies to every folder and file
//! it meets, so a root daemon never reads, moves or deletes what its caller
//! could not. (POSIX mode bits and ownership; ACLs are not consulted, so a
//! file shared only by an ACL is refused, never the other way round.)

use std::ffi::CStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// A process asking the daemon for something.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Caller {
    /// Its user id.
    pub uid: u32,
    /// Its primary group id.
    pub gid: u32,
    /// Its process id, when known.
    pub pid: Option<u32>,
}

impl Caller {
    /// This process itself (`cbctl --local`, tests).
    pub fn this_process() -> Caller {
        Caller {
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
            pid: Some(std::process::id()),
        }
    }

    /// True for root, or the user the daemon runs as: either can do the work itself.
    pub fn is_daemon_peer(&self) -> bool {
        self.uid == 0 || self.uid == rustix::process::geteuid().as_raw()
    }

    /// The caller's user name, when the system knows it.
    pub fn user_name(&self) -> Option<String> {
        user_name(self.uid)
    }

    /// The rights to check a job's files against: `None` for a caller whose
    /// rights are the daemon's own or wider (the kernel checks those).
    pub fn access(&self, write: bool) -> Option<Access> {
        if self.is_daemon_peer() {
            return None;
        }
        let mut groups = groups_of(self.uid, self.gid);
        groups.sort_unstable();
        groups.dedup();
        Some(Access { uid: self.uid, gid: self.gid, groups, write })
    }

    /// Whether the caller is in group `gid` (primary or supplementary).
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || groups_of(self.uid, self.gid).contains(&gid)
    }
}

/// What a job may touch for a caller who is not the daemon's user.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Access {
    /// The caller's uid.
    pub uid: u32,
    /// The caller's primary gid: what files and folders made for it belong to.
    pub gid: u32,
    /// Every group the caller is in.
    pub groups: Vec<u32>,
    /// The job moves or deletes (so folders must be writable), not only reads.
    pub write: bool,
}

/// The permission asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Open a file for reading.
    Read,
    /// List a folder (read + search).
    List,
    /// Add or remove names in a folder (write + search).
    Change,
}

impl Access {
    fn allows(&self, meta: &std::fs::Metadata, bits: u32) -> bool {
        let mode = meta.permissions().mode();
        let class = if meta.uid() == self.uid {
            mode >> 6
        } else if self.groups.contains(&meta.gid()) {
            mode >> 3
        } else {
            mode
        };
        class & bits == bits
    }

    /// May the caller do `want` to what `meta` describes?
    pub fn may(&self, meta: &std::fs::Metadata, want: Want) -> bool {
        match want {
            Want::Read => self.allows(meta, 0o4),
            Want::List => self.allows(meta, 0o5),
            Want::Change => self.allows(meta, 0o3),
        }
    }

    /// Checks `path` as the kernel would for the caller: search on every
    /// folder on the way, then `want` on the path itself. The error says
    /// which component refused.
    pub fn check(&self, path: &Path, want: Want) -> Result<(), String> {
        let mut at = PathBuf::from("/");
        let comps: Vec<_> = path.components().filter(|c| matches!(c, Component::Normal(_))).collect();
        for c in &comps {
            let meta = std::fs::metadata(&at).map_err(|e| format!("{}: {e}", at.display()))?;
            if !self.allows(&meta, 0o1) {
                return Err(self.denied(&at, "enter"));
            }
            at.push(c);
        }
        let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if !self.may(&meta, want) {
            let what = match want {
                Want::Read => "read",
                Want::List => "list",
                Want::Change => "change",
            };
            return Err(self.denied(path, what));
        }
        Ok(())
    }

    /// May the caller move or delete the file at `path` (it may change its
    /// folder, and the folder's sticky bit does not protect the file from it)?
    pub fn may_remove(&self, path: &Path, file: &std::fs::Metadata) -> bool {
        let Some(dir) = path.parent() else { return false };
        let Ok(dmeta) = std::fs::metadata(dir) else { return false };
        let sticky = dmeta.permissions().mode() & 0o1000 != 0;
        self.may(&dmeta, Want::Change) && (!sticky || file.uid() == self.uid || dmeta.uid() == self.uid)
    }

    /// The refusal for a path, in words.
    pub fn denied(&self, path: &Path, what: &str) -> String {
        let who = user_name(self.uid).unwrap_or_else(|| format!("uid {}", self.uid));
        format!(
            "{}: permission denied: {who} may not {what} it (clean-backupd acts with its caller's rights)",
            path.display()
        )
    }
}

/// The user name of `uid`, when the system knows it.
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut pwd: libc::passwd = unsafe_zeroed_passwd();
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: buffers are ours and large enough; getpwuid_r writes only into them.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut out) };
    if rc != 0 || out.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buf`, NUL-terminated by getpwuid_r.
    Some(unsafe { CStr::from_ptr(pwd.pw_name) }.to_string_lossy().into_owned())
}

/// The uid of a user name (or a number given as text).
pub fn uid_of(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Some(n);
    }
    let c = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut pwd: libc::passwd = unsafe_zeroed_passwd();
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: as in `user_name`.
    let rc = unsafe { libc::getpwnam_r(c.as_ptr(), &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut out) };
    (rc == 0 && !out.is_null()).then_some(pwd.pw_uid)
}

/// The gid of a group name (or a number given as text).
pub fn gid_of(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Some(n);
    }
    let c = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: a zeroed `group` is a valid out-parameter for getgrnam_r.
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: buffers are ours; getgrnam_r writes only into them.
    let rc = unsafe { libc::getgrnam_r(c.as_ptr(), &mut grp, buf.as_mut_ptr().cast(), buf.len(), &mut out) };
    (rc == 0 && !out.is_null()).then_some(grp.gr_gid)
}

fn unsafe_zeroed_passwd() -> libc::passwd {
    // SAFETY: a zeroed `passwd` is a valid out-parameter for getpw*_r.
    unsafe { std::mem::zeroed() }
}

/// Every group of `uid` (its primary `gid` and its supplementary groups).
pub fn groups_of(uid: u32, gid: u32) -> Vec<u32> {
    let Some(name) = user_name(uid).and_then(|n| std::ffi::CString::new(n).ok()) else {
        return vec![gid];
    };
    let mut n: libc::c_int = 64;
    loop {
        let mut groups = vec![0 as libc::gid_t; n as usize];
        // SAFETY: `groups` holds `n` entries; getgrouplist writes at most that many and sets `n`.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            groups.truncate(n as usize);
            return groups;
        }
        if n as usize <= groups.len() {
            return vec![gid];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_bits_are_read_for_owner_group_and_others_in_that_order() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let meta = std::fs::metadata(&f).unwrap();
        let owner = Access { uid: meta.uid(), gid: 0, groups: vec![], write: false };
        let group = Access { uid: meta.uid() + 1, gid: 0, groups: vec![meta.gid()], write: false };
        let other = Access { uid: meta.uid() + 1, gid: 0, groups: vec![], write: false };
        assert!(owner.may(&meta, Want::Read));
        assert!(group.may(&meta, Want::Read));
        assert!(!other.may(&meta, Want::Read));
        assert!(!group.may(&meta, Want::Change));
    }

    #[test]
    fn a_folder_without_search_permission_on_the_way_is_named_in_the_refusal() {
        let t = tempfile::tempdir().unwrap();
        let inner = t.path().join("closed/inner");
        std::fs::create_dir_all(&inner).unwrap();
        std::fs::set_permissions(t.path().join("closed"), std::fs::Permissions::from_mode(0o700)).unwrap();
        let stranger = Access { uid: 65534, gid: 65534, groups: vec![65534], write: false };
        let err = stranger.check(&inner, Want::List).unwrap_err();
        assert!(err.contains("closed") && err.contains("may not enter"), "{err}");
    }

    #[test]
    fn root_and_the_daemon_user_need_no_checks() {
        assert!(Caller { uid: 0, gid: 0, pid: None }.access(true).is_none());
        assert!(Caller::this_process().access(true).is_none());
        assert!(Caller { uid: 65534, gid: 65534, pid: None }.access(true).is_some());
    }
}
