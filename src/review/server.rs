//! The review page's HTTP server: axum on a current-thread tokio runtime,
//! listening on 127.0.0.1 and ::1 only. Every request passes [`guard`]
//! first. The page's data and its actions go to one worker thread that
//! owns the [`Control`] (cbctl's route to the daemon or the journal), so
//! requests are made one at a time, as a user at a terminal would.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::guard::{self, Token, TOKEN_HEADER};
use super::view::{Action, Review};
use crate::control::api::ApiError;
use crate::control::Control;
use crate::engine::thumbs::ThumbCache;

/// The thumbnail size in the rows (long side, pixels).
pub const GRID_SIDE: u32 = 320;
/// The large view's size.
pub const LARGE_SIDE: u32 = 1600;

/// What went wrong starting or running the page.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// No loopback port could be opened.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for (0: any).
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the page's server: {0}")]
    Runtime(std::io::Error),
    /// No token could be drawn.
    #[error(transparent)]
    Token(#[from] guard::NoRandomness),
}

/// A request to the worker that owns the control route.
pub enum Work {
    /// The view as it is.
    View(tokio::sync::oneshot::Sender<Answer>),
    /// Do this, reload, and answer with the new view.
    Act(Action, tokio::sync::oneshot::Sender<Answer>),
}

/// The worker's answer: the view as JSON, the files by number, and what
/// an action did (or why it could not).
pub type Answer = Result<(Option<String>, serde_json::Value, Vec<PathBuf>), ApiError>;

/// Serves `review`'s requests over `c` until the server hangs up.
pub fn work(mut review: Review, c: &mut dyn Control, rx: mpsc::Receiver<Work>) {
    let answer = |review: &Review, said: Option<String>| -> Answer {
        let view = serde_json::to_value(&review.view).map_err(|e| ApiError::usage(e.to_string()))?;
        Ok((said, view, review.files.all().to_vec()))
    };
    c.release();
    for w in rx {
        match w {
            Work::View(tx) => {
                let _ = tx.send(answer(&review, None));
            }
            Work::Act(action, tx) => {
                let done = review.act(c, &action);
                // Reload whatever happened: the page shows what is true now.
                let reload = review.load(c, &mut |_| {});
                let out = match (done, reload) {
                    (Ok(said), Ok(())) => answer(&review, Some(said)),
                    (Err(e), _) | (Ok(_), Err(e)) => Err(e),
                };
                // The journal is free again before the page hears back.
                c.release();
                let _ = tx.send(out);
            }
        }
    }
}

/// How the page is served.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The port (0: one the system picks).
    pub port: u16,
    /// Stop after this long with no request.
    pub idle: Duration,
    /// Where thumbnails are cached (the state dir).
    pub state_dir: PathBuf,
}

/// The page, started: where it is. [`Started::run`] serves until Ctrl-C
/// or the idle time-out.
pub struct Started {
    /// The address to open, token included.
    pub url: String,
    /// The port it listens on.
    pub port: u16,
    runtime: tokio::runtime::Runtime,
    listeners: Vec<tokio::net::TcpListener>,
    shared: Arc<Shared>,
}

struct Shared {
    token: Token,
    port: u16,
    files: RwLock<Vec<PathBuf>>,
    work: mpsc::Sender<Work>,
    thumbs: ThumbCache,
    started: Instant,
    last_seen: AtomicU64,
}

impl Shared {
    fn touch(&self) {
        self.last_seen.store(self.started.elapsed().as_secs(), Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        Duration::from_secs(self.started.elapsed().as_secs().saturating_sub(self.last_seen.load(Ordering::Relaxed)))
    }

    async fn ask(&self, w: impl FnOnce(tokio::sync::oneshot::Sender<Answer>) -> Work) -> Answer {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.work.send(w(tx)).map_err(|_| ApiError::usage("the review page's worker stopped"))?;
        let answer = rx.await.map_err(|_| ApiError::usage("the review page's worker stopped"))?;
        if let Ok((_, _, files)) = &answer {
            if let Ok(mut f) = self.files.write() {
                *f = files.clone();
            }
        }
        answer
    }
}

/// Why the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Ctrl-C (or SIGTERM).
    Interrupted,
    /// No request for the idle time.
    Idle,
}

/// Opens the loopback listeners (127.0.0.1, and ::1 on the same port where
/// the machine has IPv6) and draws the token.
/// `files` are the files the page shows at first, by number.
pub fn start(opts: &ServeOptions, work: mpsc::Sender<Work>, files: Vec<PathBuf>) -> Result<Started, ServeError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ServeError::Runtime)?;
    let token = Token::new()?;
    let (listeners, port) = runtime.block_on(async {
        let v4 = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, opts.port)))
            .await
            .map_err(|source| ServeError::Bind { port: opts.port, source })?;
        let port = v4.local_addr().map_err(|source| ServeError::Bind { port: opts.port, source })?.port();
        let mut listeners = vec![v4];
        // No IPv6 loopback (a container without it): 127.0.0.1 alone.
        if let Ok(v6) = tokio::net::TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
            listeners.push(v6);
        }
        Ok::<_, ServeError>((listeners, port))
    })?;
    let url = format!("http://127.0.0.1:{port}/?token={}", token.as_str());
    let shared = Arc::new(Shared {
        token,
        port,
        files: RwLock::new(files),
        work,
        thumbs: ThumbCache::new(&opts.state_dir),
        started: Instant::now(),
        last_seen: AtomicU64::new(0),
    });
    Ok(Started { url, port, runtime, listeners, shared })
}

impl Started {
    /// Serves until Ctrl-C, SIGTERM or `idle` with no request.
    pub fn run(self, idle: Duration) -> Stopped {
        let Started { runtime, listeners, shared, .. } = self;
        runtime.block_on(async move {
            let app = router(shared.clone());
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let mut servers = Vec::new();
            for l in listeners {
                let mut rx = stop_rx.clone();
                let app = app.clone();
                servers.push(tokio::spawn(async move {
                    let _ = axum::serve(l, app)
                        .with_graceful_shutdown(async move {
                            let _ = rx.wait_for(|s| *s).await;
                        })
                        .await;
                }));
            }
            let why = wait_for_stop(&shared, idle).await;
            let _ = stop_tx.send(true);
            for s in servers {
                let _ = tokio::time::timeout(Duration::from_secs(5), s).await;
            }
            why
        })
    }
}

async fn wait_for_stop(shared: &Shared, idle: Duration) -> Stopped {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let idle_watch = async {
        loop {
            let left = idle.saturating_sub(shared.idle_for());
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left.min(Duration::from_secs(5)).max(Duration::from_millis(100))).await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Stopped::Interrupted,
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => Stopped::Interrupted,
        _ = idle_watch => Stopped::Idle,
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(|| async { asset("text/javascript; charset=utf-8", super::html::APP_JS) }))
        .route("/app.css", get(|| async { asset("text/css; charset=utf-8", super::html::APP_CSS) }))
        .route("/api/view", get(view))
        .route("/api/action", post(action))
        .route("/thumb/{id}", get(thumb))
        .layer(middleware::from_fn_with_state(shared.clone(), guarded))
        .with_state(shared)
}

/// Every response says: not to be framed, cached by a proxy, or sent on as a referrer.
fn harden(headers: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
}

async fn guarded(State(shared): State<Arc<Shared>>, req: axum::extract::Request, next: Next) -> Response {
    let headers = req.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let query_token =
        req.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token="))).map(str::to_string);
    let verdict = guard::check(
        &guard::Request {
            method: req.method().as_str(),
            host: text(header::HOST.as_str()),
            origin: text(header::ORIGIN.as_str()),
            query_token: query_token.as_deref(),
            header_token: text(TOKEN_HEADER),
            changes: req.uri().path().starts_with("/api/action"),
        },
        &shared.token,
        shared.port,
    );
    let mut response = match verdict {
        Ok(()) => {
            shared.touch();
            next.run(req).await
        }
        Err(refusal) => {
            let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::FORBIDDEN);
            (status, format!("{refusal}\n")).into_response()
        }
    };
    harden(response.headers_mut());
    response
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-store")], body).into_response()
}

async fn index(State(shared): State<Arc<Shared>>) -> Response {
    let page = super::html::live_page(shared.token.as_str());
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], page).into_response()
}

fn failure(e: &ApiError) -> Response {
    let status = if e.is_usage() { StatusCode::BAD_REQUEST } else { StatusCode::INTERNAL_SERVER_ERROR };
    (status, Json(serde_json::json!({"error": e.message, "hint": e.hint}))).into_response()
}

async fn view(State(shared): State<Arc<Shared>>) -> Response {
    match shared.ask(Work::View).await {
        Ok((_, view, _)) => ([(header::CACHE_CONTROL, "no-store")], Json(view)).into_response(),
        Err(e) => failure(&e),
    }
}

async fn action(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let action: Action = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => return failure(&ApiError::usage(format!("not an action this page knows: {e}"))),
    };
    match shared.ask(|tx| Work::Act(action, tx)).await {
        Ok((said, view, _)) => Json(serde_json::json!({"said": said, "view": view})).into_response(),
        Err(e) => failure(&e),
    }
}

#[derive(Deserialize)]
struct ThumbQuery {
    #[serde(default)]
    size: Option<u32>,
}

async fn thumb(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<usize>,
    Query(q): Query<ThumbQuery>,
) -> Response {
    let path = shared.files.read().ok().and_then(|f| f.get(id).cloned());
    let Some(path) = path else {
        return (StatusCode::NOT_FOUND, "no such file on this page\n").into_response();
    };
    let side = if q.size.unwrap_or(GRID_SIDE) > GRID_SIDE { LARGE_SIDE } else { GRID_SIDE };
    let s = shared.clone();
    match tokio::task::spawn_blocking(move || s.thumbs.get(&path, side)).await {
        Ok(Ok(jpeg)) => ([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "private, max-age=600")], jpeg)
            .into_response(),
        Ok(Err(e)) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{e}\n")).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "thumbnail worker failed\n").into_response(),
    }
}
