//! The daemon's side: a listener thread, one thread per connection, and
//! calls handed to the daemon's main loop (which alone owns the journal).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use super::{Request, Response, MAX_REQUEST, VERSION};

/// A request for the main loop, with where to send the answer.
pub struct Call {
    /// The request.
    pub request: Request,
    /// Where the response goes.
    pub reply: mpsc::Sender<Response>,
}

/// The listening socket; removed when dropped.
pub struct Server {
    path: PathBuf,
}

impl Server {
    /// Binds `path` (replacing a stale socket: the caller holds the state
    /// lock, so no other daemon owns it), makes it 0600, and serves in the
    /// background, sending each well-formed request to `calls`.
    pub fn start(path: &Path, calls: mpsc::Sender<Call>) -> std::io::Result<Server> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        std::thread::Builder::new().name("control".into()).spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let calls = calls.clone();
                let _ = std::thread::Builder::new().name("control-conn".into()).spawn(move || serve(stream, &calls));
            }
        })?;
        Ok(Server { path: path.to_path_buf() })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn send(stream: &mut UnixStream, r: &Response) -> bool {
    let Ok(mut line) = serde_json::to_vec(r) else { return false };
    line.push(b'\n');
    stream.write_all(&line).is_ok()
}

/// Answers requests on one connection until it closes or misbehaves.
fn serve(stream: UnixStream, calls: &mpsc::Sender<Call>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(300)));
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = Vec::new();
        match (&mut reader).take(MAX_REQUEST as u64 + 1).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.len() > MAX_REQUEST {
            send(&mut out, &Response::err(0, format!("request longer than {MAX_REQUEST} bytes; closing")));
            return;
        }
        let request: Request = match serde_json::from_slice(&line) {
            Ok(r) => r,
            Err(e) => {
                send(&mut out, &Response::err(0, format!("malformed request: {e}")));
                return;
            }
        };
        if request.v != VERSION {
            let msg = format!("protocol version {} not supported; this daemon speaks {VERSION}", request.v);
            if !send(&mut out, &Response::err(request.id, msg)) {
                return;
            }
            continue;
        }
        let id = request.id;
        let (tx, rx) = mpsc::channel();
        if calls.send(Call { request, reply: tx }).is_err() {
            send(&mut out, &Response::err(id, "the daemon is stopping"));
            return;
        }
        let response = rx.recv().unwrap_or_else(|_| Response::err(id, "the daemon is stopping"));
        if !send(&mut out, &response) {
            return;
        }
    }
}
