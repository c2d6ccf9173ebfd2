//! The daemon's side: a listener thread, one thread per connection, and
//! calls handed to the daemon's main loop (which alone owns the journal).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use super::{EventLine, Request, Response, MAX_REQUEST, VERSION};

/// What the daemon sends back for a call: progress events, then one response.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A progress event of a streamed call.
    Event(serde_json::Value),
    /// The answer; nothing follows it.
    Done(Response),
}

/// A request for the main loop, with where to send the answer (a socket
/// connection or a D-Bus method call waiting for it).
pub struct Call {
    /// The request.
    pub request: Request,
    /// Takes the replies; sending after the caller has gone is harmless.
    pub reply: Box<dyn FnMut(Reply) + Send>,
}

impl Call {
    /// A call whose replies go to a channel.
    pub fn new(request: Request, reply: mpsc::Sender<Reply>) -> Call {
        Call {
            request,
            reply: Box::new(move |r| {
                let _ = reply.send(r);
            }),
        }
    }

    /// Answers the call.
    pub fn respond(mut self, response: Response) {
        (self.reply)(Reply::Done(response));
    }
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
    send_line(stream, r)
}

fn send_line(stream: &mut UnixStream, r: &impl serde::Serialize) -> bool {
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
        if calls.send(Call::new(request, tx)).is_err() {
            send(&mut out, &Response::err(id, "the daemon is stopping"));
            return;
        }
        // Progress events of a streamed call, then its response.
        loop {
            match rx.recv() {
                Ok(Reply::Event(event)) => {
                    if !send_line(&mut out, &EventLine { v: VERSION, id, event }) {
                        return;
                    }
                }
                Ok(Reply::Done(response)) => {
                    if !send(&mut out, &response) {
                        return;
                    }
                    break;
                }
                Err(_) => {
                    send(&mut out, &Response::err(id, "the daemon is stopping"));
                    return;
                }
            }
        }
    }
}
