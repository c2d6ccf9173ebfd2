//! Where the daemon's log goes: the systemd journal when systemd started us
//! with stderr connected to it (structured fields, priorities), else stderr.

use std::os::fd::AsRawFd;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Whether stderr is the journal stream systemd gave us: `JOURNAL_STREAM`
/// holds its `device:inode`, and stderr must still be that very stream (a
/// child that redirected stderr to a file logs to the file, as asked).
pub fn stderr_is_journal() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    // SAFETY: fstat on fd 2 into a zeroed stat buffer we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(std::io::stderr().as_raw_fd(), &mut st) } != 0 {
        return false;
    }
    st.st_dev as u64 == dev && st.st_ino as u64 == ino
}

/// Sets up logging once, filtered by `CLEAN_BACKUP_LOG` (default `info`).
/// Returns where the log goes, for the first line.
pub fn init() -> &'static str {
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("CLEAN_BACKUP_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    if stderr_is_journal() {
        match tracing_journald::layer() {
            Ok(layer) => {
                let layer = layer.with_syslog_identifier("clean-backupd".to_string());
                if tracing_subscriber::registry().with(filter()).with(layer).try_init().is_ok() {
                    return "journald";
                }
            }
            Err(e) => eprintln!("clean-backupd: journald not reachable ({e}); logging to stderr"),
        }
    }
    // Colours only on a terminal: a log file gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter()).with_ansi(ansi).with_writer(std::io::stderr).try_init();
    "stderr"
}
