//! The daemon's side: a listener thread, a bounded number of connection
//! threads, and calls handed to the daemon's main loop (which alone owns
//! the journal).
//!
//! Each connection's peer credentials are read from the kernel
//! (`SO_PEERCRED`) when it is accepted and travel with every call, so the
//! main loop knows who asks. At most [`MAX_CLIENTS`] connections are served
//! at once; one more is told so and closed at once. A connection idle for
//! [`IDLE_TIMEOUT`] is closed, and one that does not read its answers within
//! [`WRITE_TIMEOUT`] is dropped: no client can tie up the daemon.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::access::Caller;

/// Connections served at once; more are refused at once.
pub const MAX_CLIENTS: usize = 64;
/// Connections one user other than root and the daemon's own may hold at
/// once: another user cannot take every place and lock the owner out.
pub const MAX_PER_USER: usize = 8;
/// A connection with no request for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// An answer the client does not take within this long drops the connection.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

use super::api::{ApiError, ErrorKind, Reply, Request};
use super::wire::{parse_request, EventLine, Response};
use super::{MAX_REQUEST, VERSION};
use crate::engine::job::JobEvent;

/// What the daemon sends back for a call: progress events, then one answer.
#[derive(Debug, Clone)]
pub enum ToCaller {
    /// A progress event of a streamed call.
    Event(JobEvent),
    /// The answer; nothing follows it.
    Done(Result<Reply, ApiError>),
}

/// A request for the main loop, with where to send the answer (a socket
/// connection or a D-Bus method call waiting for it).
pub struct Call {
    /// The request.
    pub request: Request,
    /// Who sent it, as the kernel or the bus says.
    pub caller: Caller,
    /// Takes the replies; sending after the caller has gone is harmless.
    pub reply: Box<dyn FnMut(ToCaller) + Send>,
}

impl Call {
    /// A call whose replies go to a channel.
    pub fn new(request: Request, caller: Caller, reply: mpsc::Sender<ToCaller>) -> Call {
        Call {
            request,
            caller,
            reply: Box::new(move |r| {
                let _ = reply.send(r);
            }),
        }
    }

    /// Answers the call.
    pub fn respond(mut self, answer: Result<Reply, ApiError>) {
        (self.reply)(ToCaller::Done(answer));
    }
}

/// The listening socket; removed when dropped.
pub struct Server {
    path: PathBuf,
}

impl Server {
    /// Binds `path` (replacing a stale socket: the caller holds the state
    /// lock, so no other daemon owns it) with mode `mode` from the start,
    /// and serves in the background, sending each well-formed request, with
    /// its caller, to `calls`.
    ///
    /// The socket is bound inside a fresh 0700 folder, given its mode there,
    /// and only then renamed into place: whatever the umask, nobody can
    /// connect to it before it has its final mode.
    pub fn start(path: &Path, mode: u32, calls: mpsc::Sender<Call>) -> std::io::Result<Server> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let private = dir.join(format!(".clean-backupd-bind-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&private);
        std::fs::DirBuilder::new().mode(0o700).create(&private)?;
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700))?;
        let staged = private.join("sock");
        let bound = UnixListener::bind(&staged).and_then(|listener| {
            std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))?;
            std::fs::rename(&staged, path)?;
            Ok(listener)
        });
        let _ = std::fs::remove_dir_all(&private);
        let listener = bound?;
        let active = Arc::new(AtomicUsize::new(0));
        let per_user: Arc<std::sync::Mutex<std::collections::HashMap<u32, usize>>> = Arc::default();
        std::thread::Builder::new().name("control".into()).spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else {
                    // EMFILE and friends: do not spin on a listener that cannot accept.
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                };
                let Ok(cred) = rustix::net::sockopt::socket_peercred(&stream) else { continue };
                let caller =
                    Caller { uid: cred.uid.as_raw(), gid: cred.gid.as_raw(), pid: Some(cred.pid.as_raw_pid() as u32) };
                let refuse = |stream: &mut UnixStream, msg: String| {
                    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
                    send(stream, &Response::err(0, ApiError::new(ErrorKind::Failed, msg)));
                };
                if active.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
                    active.fetch_sub(1, Ordering::SeqCst);
                    refuse(
                        &mut stream,
                        format!("clean-backupd is serving {MAX_CLIENTS} connections already; try again shortly"),
                    );
                    continue;
                }
                let counted = !caller.is_daemon_peer();
                if counted {
                    let mut users = per_user.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let n = users.entry(caller.uid).or_insert(0);
                    if *n >= MAX_PER_USER {
                        drop(users);
                        active.fetch_sub(1, Ordering::SeqCst);
                        refuse(
                            &mut stream,
                            format!("uid {} holds {MAX_PER_USER} connections already; close some", caller.uid),
                        );
                        continue;
                    }
                    *n += 1;
                }
                let calls = calls.clone();
                let release = {
                    let (active, per_user, uid) = (Arc::clone(&active), Arc::clone(&per_user), caller.uid);
                    move || {
                        active.fetch_sub(1, Ordering::SeqCst);
                        if counted {
                            let mut users = per_user.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                            if let Some(n) = users.get_mut(&uid) {
                                *n = n.saturating_sub(1);
                            }
                        }
                    }
                };
                let release = Arc::new(std::sync::Mutex::new(Some(release)));
                let release_here = Arc::clone(&release);
                let spawned = std::thread::Builder::new().name("control-conn".into()).spawn(move || {
                    serve(stream, caller, &calls);
                    if let Some(f) = release.lock().ok().and_then(|mut r| r.take()) {
                        f();
                    }
                });
                if spawned.is_err() {
                    if let Some(f) = release_here.lock().ok().and_then(|mut r| r.take()) {
                        f();
                    }
                }
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
fn serve(stream: UnixStream, caller: Caller, calls: &mpsc::Sender<Call>) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = Vec::new();
        match (&mut reader).take(MAX_REQUEST as u64 + 1).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (id, request) = match parse_request(&line) {
            Ok(r) => r,
            Err(mut refused) if refused.close => {
                refused.error.message.push_str("; closing");
                send(&mut out, &Response::err(0, refused.error));
                return;
            }
            Err(refused) => {
                if !send(&mut out, &Response::err(refused.id, refused.error)) {
                    return;
                }
                continue;
            }
        };
        let (tx, rx) = mpsc::channel();
        if calls.send(Call::new(request, caller.clone(), tx)).is_err() {
            send(&mut out, &Response::err(id, stopping()));
            return;
        }
        // Progress events of a streamed call, then its response.
        loop {
            match rx.recv() {
                Ok(ToCaller::Event(event)) => {
                    if !send_line(&mut out, &EventLine { v: VERSION, id, event }) {
                        return;
                    }
                }
                Ok(ToCaller::Done(answer)) => {
                    if !send(&mut out, &Response::new(id, answer)) {
                        return;
                    }
                    break;
                }
                Err(_) => {
                    send(&mut out, &Response::err(id, stopping()));
                    return;
                }
            }
        }
    }
}

fn stopping() -> ApiError {
    ApiError::failed("the daemon is stopping").hint("start it again (systemctl restart clean-backupd) and retry")
}
