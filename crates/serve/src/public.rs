//! The public listener's accept loop, with the secure edge's connection-level
//! policies (the admin listener keeps the plain loop in `listener`):
//!
//! - **TLS** when `tls:` is configured: each new connection is handshaken with
//!   the listener settings live at accept time, so a rotated certificate (or
//!   TLS switched on or off by a reload) applies from the next connection while
//!   established ones keep theirs. ALPN picks h2 or HTTP/1.1; plaintext stays
//!   HTTP/1.1 + h2c on one port.
//! - **`limits.max_connections`**: a connection beyond it is closed at once
//!   (counted as `switchboard_rejected_total{reason="connections"}`), as
//!   Envoy's listener limit does, rather than left in the kernel's backlog.
//! - **`limits.header_read_timeout`**: the TLS handshake and each HTTP/1.1
//!   request head must arrive within it (slowloris).
//! - **`limits.idle_timeout`**: a connection with no request in flight for that
//!   long is closed gracefully (HTTP/2 GOAWAY), as Envoy's idle_timeout.
//!
//! Shutdown is graceful as in `listener`: stop accepting, let connections
//! finish their requests for up to `drain`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use switchboard_edge::{ConnectionSlot, Edge, Listener};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use crate::body::Body;

/// Serves `handler` on `listener` with the edge's connection policies until
/// `shutdown` resolves, then waits up to `drain` for open connections.
pub async fn serve_public<H, F>(
    listener: TcpListener,
    handler: H,
    shutdown: impl Future<Output = ()>,
    drain: impl FnOnce() -> Duration,
    edge: Edge,
) where
    H: Fn(http::Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = http::Response<Body>> + Send + 'static,
{
    let handler = Arc::new(handler);
    let (stop, stopped) = watch::channel(false);
    // Each connection task holds a sender; all gone = drained.
    let (alive, mut drained) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = edge.open_connection() else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = Conn {
            handler: handler.clone(),
            peer,
            settings: edge.listener(),
            stopped: stopped.clone(),
            _alive: alive.clone(),
            _slot: slot,
            edge: edge.clone(),
        };
        tokio::spawn(conn.run(stream));
    }
    drop(listener);
    let _ = stop.send(true);
    drop(alive);
    // Read when the drain starts: a reload may have changed the timings.
    let drain = drain();
    if tokio::time::timeout(drain, drained.recv()).await.is_err() {
        warn!(
            ?drain,
            "drain timeout reached; closing remaining connections"
        );
    }
}

struct Conn<H> {
    handler: Arc<H>,
    peer: SocketAddr,
    settings: Arc<Listener>,
    stopped: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
    _slot: ConnectionSlot,
    edge: Edge,
}

impl<H, F> Conn<H>
where
    H: Fn(http::Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = http::Response<Body>> + Send + 'static,
{
    async fn run(self, stream: TcpStream) {
        let Some(tls) = self.settings.tls.clone() else {
            return self.serve(stream).await;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
        let timeout = self.settings.limits.header_read_timeout;
        match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls_stream)) => self.serve(tls_stream).await,
            Ok(Err(e)) => {
                self.edge.metrics().reject(&Arc::from(""), "tls");
                debug!(peer = %self.peer, error = %e, "TLS handshake failed");
            }
            Err(_) => {
                self.edge.metrics().reject(&Arc::from(""), "tls");
                debug!(peer = %self.peer, ?timeout, "TLS handshake timed out");
            }
        }
    }

    async fn serve<I>(mut self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let limits = self.settings.limits;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .keep_alive(true)
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(1024);
        let activity = Arc::new(Activity::new());
        let handler = self.handler.clone();
        let peer = self.peer;
        let tracked = activity.clone();
        let service = service_fn(move |req| {
            let handler = handler.clone();
            let token = tracked.start();
            async move {
                let response = handler(req, peer).await;
                Ok::<_, Infallible>(response.map(|body| crate::body::holding(body, token)))
            }
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        tokio::pin!(conn);
        let mut closing = false;
        loop {
            let idle_for = activity.idle_for();
            let idle_left = match idle_for {
                Some(d) => limits.idle_timeout.saturating_sub(d),
                None => limits.idle_timeout,
            };
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        debug!(error = %e, %peer, "connection ended with error");
                    }
                    return;
                }
                _ = self.stopped.wait_for(|s| *s), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = tokio::time::sleep(idle_left), if !closing => {
                    if activity.idle_for().is_some_and(|d| d >= limits.idle_timeout) {
                        debug!(%peer, timeout = ?limits.idle_timeout, "closing idle connection");
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

/// Requests in flight on one connection, and when the last one ended.
struct Activity {
    active: AtomicUsize,
    epoch: Instant,
    /// Milliseconds since `epoch` when the connection last became idle.
    idle_since: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            active: AtomicUsize::new(0),
            epoch: Instant::now(),
            idle_since: AtomicU64::new(0),
        }
    }

    fn start(self: &Arc<Self>) -> ActiveToken {
        self.active.fetch_add(1, Ordering::AcqRel);
        ActiveToken(self.clone())
    }

    /// How long the connection has been idle; `None` while requests run.
    fn idle_for(&self) -> Option<Duration> {
        if self.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = Duration::from_millis(self.idle_since.load(Ordering::Acquire));
        Some(self.epoch.elapsed().saturating_sub(since))
    }
}

/// One request in flight, until its response body ends or is dropped.
struct ActiveToken(Arc<Activity>);

impl Drop for ActiveToken {
    fn drop(&mut self) {
        let a = &self.0;
        a.idle_since
            .store(a.epoch.elapsed().as_millis() as u64, Ordering::Release);
        a.active.fetch_sub(1, Ordering::AcqRel);
    }
}
