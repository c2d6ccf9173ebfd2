//! `cbctl`'s side: one request, then its progress lines (if any) and its response.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use super::{socket_path, Request, Response, VERSION};

/// Why a call did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Nothing listens on the socket.
    #[error("clean-backupd is not running (no answer on {0}); start it, or use --local")]
    Unreachable(PathBuf),
    /// The connection broke or the answer was not a response.
    #[error("talking to clean-backupd on {path}: {reason}")]
    Protocol { path: PathBuf, reason: String },
    /// The daemon answered with an error; `usage` when the request was at fault.
    #[error("clean-backupd: {message}")]
    Remote { message: String, usage: bool },
}

/// Sends `method` with `params` to the daemon of `state_dir` and returns its result.
pub fn call(state_dir: &Path, method: &str, params: serde_json::Value) -> Result<serde_json::Value, ControlError> {
    call_streaming(state_dir, method, params, &mut |_| {})
}

/// Like [`call`], handing each progress event that comes before the
/// response to `on_event`.
pub fn call_streaming(
    state_dir: &Path,
    method: &str,
    params: serde_json::Value,
    on_event: &mut dyn FnMut(serde_json::Value),
) -> Result<serde_json::Value, ControlError> {
    let path = socket_path(state_dir);
    let mut stream = UnixStream::connect(&path).map_err(|_| ControlError::Unreachable(path.clone()))?;
    let protocol = |reason: String| ControlError::Protocol { path: path.clone(), reason };
    let request = Request { v: VERSION, id: 1, method: method.to_string(), params };
    let mut line = serde_json::to_vec(&request).map_err(|e| protocol(e.to_string()))?;
    line.push(b'\n');
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
            on_event(event.take());
            continue;
        }
        let response: Response = serde_json::from_value(value).map_err(|e| protocol(format!("bad response: {e}")))?;
        return match (response.result, response.error) {
            (_, Some(message)) => Err(ControlError::Remote { message, usage: response.usage }),
            (Some(r), None) => Ok(r),
            (None, None) => Ok(serde_json::Value::Null),
        };
    }
}
