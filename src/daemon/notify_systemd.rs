//! systemd's readiness protocol (`Type=notify`) and watchdog, without a
//! library: datagrams to `$NOTIFY_SOCKET` (sd_notify(3)). Outside systemd
//! the variable is unset and every call does nothing.

use std::os::unix::net::UnixDatagram;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Sends `state` (e.g. "READY=1\nSTATUS=watching 2 inboxes") if systemd asked for it.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let bytes = path.as_encoded_bytes();
    // Non-blocking: should the manager's queue be full, a lost ping beats a daemon stuck in send.
    let result = UnixDatagram::unbound().and_then(|sock| sock.set_nonblocking(true).map(|_| sock)).and_then(|sock| {
        if let Some(name) = bytes.strip_prefix(b"@") {
            // An abstract socket: Linux only.
            #[cfg(target_os = "linux")]
            {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                return sock.send_to_addr(state.as_bytes(), &addr).map(|_| ());
            }
            #[cfg(not(target_os = "linux"))]
            {
                let _ = name;
                return Ok(());
            }
        }
        sock.send_to(state.as_bytes(), &path).map(|_| ())
    });
    if let Err(e) = result {
        tracing::debug!("sd_notify {state:?}: {e}");
    }
}

/// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, when systemd set
/// one for this process.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Some(pid) = std::env::var("WATCHDOG_PID").ok().and_then(|p| p.parse::<u32>().ok()) {
        if pid != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Sends `WATCHDOG=1` (with `status`) when half the watchdog interval has
/// passed since the last ping. Called from the main loop and from a batch's
/// progress (each file indexed or filed), so a long first index of a big
/// library counts as alive while a stuck loop still does not. Cheap to call often.
pub fn keepalive(status: impl FnOnce() -> String) {
    static EVERY: OnceLock<Option<Duration>> = OnceLock::new();
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let Some(every) = *EVERY.get_or_init(watchdog_interval) else { return };
    let Ok(mut last) = LAST.lock() else { return };
    if last.is_some_and(|t| t.elapsed() < every) {
        return;
    }
    *last = Some(Instant::now());
    notify(&format!("WATCHDOG=1\nSTATUS={}", status()));
}
