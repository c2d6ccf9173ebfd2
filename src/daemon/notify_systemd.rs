//! systemd's readiness protocol (`Type=notify`) and watchdog, without a
//! library: datagrams to `$NOTIFY_SOCKET` (sd_notify(3)). Outside systemd
//! the variable is unset and every call does nothing.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends `state` (e.g. "READY=1\nSTATUS=watching 2 inboxes") if systemd asked for it.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let bytes = path.as_encoded_bytes();
    let result = UnixDatagram::unbound().and_then(|sock| {
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
