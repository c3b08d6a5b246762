//! The monitoring HTTP server: its own thread, a current-thread tokio
//! runtime and hyper's HTTP/1 server. GET only; every request is answered
//! from the figures the loop publishes ([`super::Shared`]). Slow or
//! oversized requests are cut off (header deadline, buffer limit, a cap on
//! a connection's life), and past [`MAX_CONNECTIONS`] new connections are
//! closed at once: nothing here can stall the broker loop.

use super::prometheus::HttpFigures;
use super::{want, Shared};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Connections served at once; more are closed unanswered (counted).
pub const MAX_CONNECTIONS: usize = 64;
/// Longest a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest one connection (keep-alive included) is served.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// Largest request head read, bytes (hyper's minimum).
const MAX_HEAD_BYTES: usize = 8192;
/// How long a request waits for the loop's figures before 503.
const LOOP_PATIENCE: Duration = Duration::from_secs(2);
/// Default and largest `limit` of `/subscriptions`.
const SUBSCRIPTIONS_LIMIT: (usize, usize) = (100, 10_000);

/// Why the HTTP server could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The address does not parse as `HOST:PORT`.
    #[error("http {0:?}: expected ADDRESS:PORT (e.g. 127.0.0.1:5559) or off")]
    Address(String),
    /// The address could not be bound.
    #[error("http {address}: {source} (another --http address, or --http off)")]
    Bind {
        /// The address.
        address: String,
        /// The error.
        source: std::io::Error,
    },
}

/// What the HTTP side counts (exported on `/metrics`).
#[derive(Debug, Default)]
pub struct HttpStats {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    busy: AtomicU64,
    timeouts: AtomicU64,
}

impl HttpStats {
    fn answered(&self, endpoint: &str, code: StatusCode) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((endpoint.to_owned(), code.as_u16())).or_default() += 1;
        }
    }

    /// Requests by (endpoint, code), and rejections by reason.
    pub fn snapshot(&self) -> HttpFigures {
        let requests = self
            .requests
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        let rejected = vec![
            ("busy", self.busy.load(Ordering::Relaxed)),
            ("timeout", self.timeouts.load(Ordering::Relaxed)),
        ];
        HttpFigures { requests, rejected }
    }
}

/// The running server; dropping it stops the thread.
pub struct HttpServer {
    address: SocketAddr,
    stop: Arc<tokio::sync::Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("address", &self.address)
            .finish()
    }
}

impl HttpServer {
    /// Binds `address` now (so a busy port is a start-up error) and serves
    /// it from a new thread.
    pub fn start(address: &str, shared: Arc<Shared>, curve: bool) -> Result<Self, HttpError> {
        let addr: SocketAddr = address
            .parse()
            .map_err(|_| HttpError::Address(address.to_owned()))?;
        let bind_error = |source| HttpError::Bind {
            address: address.to_owned(),
            source,
        };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let bound = listener.local_addr().map_err(bind_error)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(bind_error)?;
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("canopy-http".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let served = serve(listener, shared, curve);
                    tokio::select! {
                        result = served => if let Err(e) = result {
                            tracing::error!(error = %e, "monitoring HTTP server stopped");
                        },
                        () = stopped.notified() => {}
                    }
                });
            })
            .map_err(bind_error)?;
        Ok(HttpServer {
            address: bound,
            stop,
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    curve: bool,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let stats = Arc::new(HttpStats::default());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors and the like: wait a little, go on.
            Err(e) => {
                tracing::warn!(error = %e, "monitoring HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            let n = stats.busy.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    times = n,
                    max = MAX_CONNECTIONS,
                    "monitoring HTTP busy: connection closed unanswered"
                );
            }
            continue;
        };
        let (shared, stats) = (Arc::clone(&shared), Arc::clone(&stats));
        tokio::spawn(async move {
            let _slot = slot;
            let service_stats = Arc::clone(&stats);
            let service = hyper::service::service_fn(move |request| {
                let (shared, stats) = (Arc::clone(&shared), Arc::clone(&service_stats));
                async move {
                    Ok::<_, std::convert::Infallible>(answer(request, &shared, &stats, curve).await)
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_LIFETIME, connection).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    if e.is_timeout() {
                        stats.timeouts.fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::debug!(error = %e, "monitoring HTTP connection ended");
                }
                Err(_) => {
                    stats.timeouts.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
}

type Body = Full<Bytes>;

fn reply(code: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json(code: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    match serde_json::to_vec_pretty(value) {
        Ok(mut body) => {
            body.push(b'\n');
            reply(code, "application/json", body)
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn error(code: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": message });
    let mut text = body.to_string();
    text.push('\n');
    reply(code, "application/json", text)
}

/// The endpoints, by path (also the `endpoint` label of the request counter).
pub const ENDPOINTS: &[&str] = &[
    "/metrics",
    "/stats",
    "/nodes",
    "/stores",
    "/links",
    "/subscriptions",
    "/healthz",
    "/readyz",
];

async fn answer(
    request: Request<hyper::body::Incoming>,
    shared: &Shared,
    stats: &HttpStats,
    curve: bool,
) -> Response<Body> {
    let path = request.uri().path();
    let endpoint = ENDPOINTS
        .iter()
        .copied()
        .find(|e| *e == path)
        .unwrap_or("other");
    let response = if request.method() != Method::GET {
        let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "only GET is served");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        r
    } else {
        let query: BTreeMap<String, String> = request
            .uri()
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        route(endpoint, &query, shared, stats, curve).await
    };
    stats.answered(endpoint, response.status());
    response
}

async fn route(
    endpoint: &str,
    query: &BTreeMap<String, String>,
    shared: &Shared,
    stats: &HttpStats,
    curve: bool,
) -> Response<Body> {
    let sections = match endpoint {
        "/nodes" => want::BASE | want::NODES,
        "/subscriptions" => want::BASE | want::SUBSCRIPTIONS,
        "other" => {
            return error(
                StatusCode::NOT_FOUND,
                &format!("no such endpoint; try one of {}", ENDPOINTS.join(", ")),
            )
        }
        _ => want::BASE,
    };
    let Some(figures) = shared.fresh(sections, LOOP_PATIENCE).await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the broker loop did not answer within 2 s (stuck or stopping)",
        );
    };
    match endpoint {
        "/metrics" => match super::prometheus::encode(figures, stats.snapshot(), curve) {
            Ok(text) => reply(StatusCode::OK, super::prometheus::CONTENT_TYPE, text),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        "/stats" => json(StatusCode::OK, &figures.stats),
        "/nodes" => match query
            .get("group")
            .map(|g| canopy_schemas::GroupPath::parse(g))
        {
            None => json(StatusCode::OK, &figures.nodes),
            Some(Err(e)) => error(StatusCode::BAD_REQUEST, &format!("group: {e}")),
            Some(Ok(group)) => {
                let within: Vec<_> = figures
                    .nodes
                    .iter()
                    .filter(|n| {
                        canopy_schemas::GroupPath::parse(&n.group)
                            .is_ok_and(|g| g.is_within(&group))
                    })
                    .collect();
                json(StatusCode::OK, &within)
            }
        },
        "/stores" => json(
            StatusCode::OK,
            &serde_json::json!({ "seq": figures.seq, "stores": figures.stores }),
        ),
        "/links" => json(
            StatusCode::OK,
            &serde_json::json!({ "upstream": figures.upstream, "children": figures.children }),
        ),
        "/subscriptions" => {
            let (default, max) = SUBSCRIPTIONS_LIMIT;
            let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
                None => default,
                Some(Ok(n)) if n <= max => n,
                Some(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        &format!("limit: a number from 0 to {max}"),
                    )
                }
            };
            let s = &figures.subscriptions;
            let top: Vec<_> = s.top.iter().take(limit).collect();
            json(
                StatusCode::OK,
                &serde_json::json!({ "distinct": s.distinct, "top": top }),
            )
        }
        "/healthz" => json(
            StatusCode::OK,
            &serde_json::json!({ "alive": true, "loop_answered_ms_ago": figures.age().as_millis() as u64 }),
        ),
        "/readyz" => {
            let code = if figures.ready.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            json(code, &figures.ready)
        }
        _ => error(StatusCode::NOT_FOUND, "no such endpoint"),
    }
}
