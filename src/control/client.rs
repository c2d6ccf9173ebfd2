//! cbctl's side of the socket: one request, then its progress lines (if
//! any) and its answer, typed.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use super::api::{ApiError, Control, ErrorKind, OnEvent, Reply, Request};
use super::wire::{request_line, Response};

/// The daemon behind a socket.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The socket.
    pub socket: PathBuf,
}

impl Remote {
    /// The daemon listening on `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Remote {
        Remote { socket: socket.into() }
    }

    fn connect(&self) -> Result<UnixStream, ApiError> {
        UnixStream::connect(&self.socket).map_err(|e| connect_error(&self.socket, &e))
    }
}

/// Why a socket could not be reached, in words: nobody listens (not
/// running), or somebody does but not for this user (permission).
fn connect_error(socket: &Path, e: &std::io::Error) -> ApiError {
    use std::os::unix::fs::MetadataExt;
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        // The socket, or the nearest folder above it this user may look at: the daemon's own.
        let owner = socket
            .ancestors()
            .find_map(|p| std::fs::symlink_metadata(p).ok())
            .map(|m| crate::access::user_name(m.uid()).unwrap_or_else(|| format!("uid {}", m.uid())));
        let me = crate::access::user_name(rustix::process::geteuid().as_raw())
            .unwrap_or_else(|| format!("uid {}", rustix::process::geteuid().as_raw()));
        let owner = owner.map(|o| format!(" (it runs as {o})")).unwrap_or_default();
        return ApiError::denied(format!(
            "permission denied on {}: clean-backupd is running{owner}, but user {me} may not talk to it",
            socket.display()
        ))
        .hint(format!(
            "ask its administrator to add {me} to control.allow_users (or a group of yours to \
             control.allow_groups) in its config, or run the command with sudo"
        ));
    }
    ApiError::new(ErrorKind::Unreachable, format!("clean-backupd is not running (no answer on {})", socket.display()))
}

impl Control for Remote {
    fn call(&mut self, request: Request, on_event: OnEvent<'_>) -> Result<Reply, ApiError> {
        let path = &self.socket;
        let protocol = |reason: String| {
            ApiError::new(ErrorKind::Protocol, format!("talking to clean-backupd on {}: {reason}", path.display()))
        };
        let mut stream = self.connect()?;
        let line = request_line(1, &request).map_err(|e| ApiError::usage(format!("cannot send this request: {e}")))?;
        stream.write_all(&line).map_err(|e| protocol(e.to_string()))?;
        let mut reader = BufReader::new(stream);
        loop {
            let mut answer = String::new();
            let n = reader.read_line(&mut answer).map_err(|e| protocol(e.to_string()))?;
            if n == 0 {
                return Err(protocol("the daemon closed the connection without answering (did it stop?)".into()));
            }
            let mut value: serde_json::Value =
                serde_json::from_str(&answer).map_err(|e| protocol(format!("bad response: {e}")))?;
            if let Some(event) = value.get_mut("event") {
                match serde_json::from_value(event.take()) {
                    Ok(ev) => on_event(ev),
                    // A newer daemon's event this build does not know: not worth failing the job.
                    Err(e) => tracing::debug!("unknown progress event: {e}"),
                }
                continue;
            }
            let response: Response =
                serde_json::from_value(value).map_err(|e| protocol(format!("bad response: {e}")))?;
            return match (response.result, response.error) {
                (_, Some(e)) => Err(e),
                (r, None) => Reply::from_json(&request, r.unwrap_or(serde_json::Value::Null))
                    .map_err(|e| protocol(format!("bad {} result: {e}", request.method()))),
            };
        }
    }
}
