//! The one accept loop of both listeners: HTTP/1.1 and h2c on one port
//! (hyper-util's auto builder, with the same HTTP/1 and HTTP/2 settings for
//! every connection of either listener, in either runtime model), graceful
//! shutdown that lets in-flight requests finish.
//!
//! The public listener ([`serve_public`]) adds the secure edge's
//! connection-level policies; the admin listener ([`serve`]) has none of them
//! (plaintext, no connection limit) and the default listener timeouts:
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
//! Shutdown is graceful: stop accepting, ask every connection to finish
//! (HTTP/2 GOAWAY, HTTP/1.1 `Connection: close` after the response in flight),
//! let them finish their requests for up to `drain`.
//!
//! In the workers model every worker thread runs this loop on its own
//! `SO_REUSEPORT` socket for the same address, on its own single-thread
//! runtime: the connections it accepts are served there, and the edge's state
//! (connection count, settings) is the one shared `Edge`.

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
    run(listener, handler, shutdown, drain, Some(edge)).await;
}

/// Serves `handler` on `listener` without edge policies (the admin listener)
/// until `shutdown` resolves, then waits up to `drain()` for open connections
/// to finish their requests. `drain` is asked when the drain starts, so a
/// reloaded `shutdown.drain_timeout` applies.
pub async fn serve<H, F>(
    listener: TcpListener,
    handler: H,
    shutdown: impl Future<Output = ()>,
    drain: impl FnOnce() -> Duration,
) where
    H: Fn(http::Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = http::Response<Body>> + Send + 'static,
{
    run(listener, handler, shutdown, drain, None).await;
}

/// The loop itself; `edge`: the public listener's policies.
async fn run<H, F>(
    listener: TcpListener,
    handler: H,
    shutdown: impl Future<Output = ()>,
    drain: impl FnOnce() -> Duration,
    edge: Option<Edge>,
) where
    H: Fn(http::Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = http::Response<Body>> + Send + 'static,
{
    let handler = Arc::new(handler);
    // Without an edge: plaintext, no limit, the default timeouts.
    let plain = Arc::new(Listener::default());
    let (stop, stopped) = watch::channel(false);
    // Each connection task holds a sender; all gone = drained.
    let (alive, mut drained) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (slot, settings) = match &edge {
            None => (None, plain.clone()),
            Some(edge) => match edge.open_connection() {
                Some(slot) => (Some(slot), edge.listener()),
                None => {
                    drop(stream);
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let conn = Conn {
            handler: handler.clone(),
            peer,
            settings,
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
    /// Counted against `limits.max_connections` (public listener only).
    _slot: Option<ConnectionSlot>,
    /// The edge, for the rejection metrics; `None` on the admin listener.
    edge: Option<Edge>,
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
                self.reject_tls();
                debug!(peer = %self.peer, error = %e, "TLS handshake failed");
            }
            Err(_) => {
                self.reject_tls();
                debug!(peer = %self.peer, ?timeout, "TLS handshake timed out");
            }
        }
    }

    fn reject_tls(&self) {
        if let Some(edge) = &self.edge {
            edge.metrics().reject(&Arc::from(""), "tls");
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::path::Path;

    use super::*;

    /// Two accept loops on their own threads and single-thread runtimes, as
    /// the workers model runs them, sharing one edge.
    struct Workers {
        addrs: Vec<SocketAddr>,
        stop: watch::Sender<bool>,
        threads: Vec<std::thread::JoinHandle<()>>,
    }

    fn start(edge: &Edge, n: usize) -> Workers {
        let (stop, _) = watch::channel(false);
        let mut addrs = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..n {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            addrs.push(listener.local_addr().unwrap());
            let (edge, mut stopped) = (edge.clone(), stop.subscribe());
            threads.push(std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener).unwrap();
                    serve_public(
                        listener,
                        |_, _| async { http::Response::new(crate::body::full("ok")) },
                        async move {
                            let _ = stopped.wait_for(|s| *s).await;
                        },
                        || Duration::from_secs(5),
                        edge,
                    )
                    .await;
                });
            }));
        }
        Workers {
            addrs,
            stop,
            threads,
        }
    }

    /// Sends one HTTP/1.1 request on `tcp` and reads the response head and
    /// its 2-byte body; `None` if the server closed the connection instead.
    fn exchange(tcp: &mut std::net::TcpStream) -> Option<String> {
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = tcp.write_all(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n");
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match tcp.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&got).into_owned();
            if text.ends_with("\r\n\r\nok") {
                return Some(text);
            }
        }
    }

    fn edge_with(yaml: &str) -> Edge {
        let config = switchboard_config::parse_str(yaml, Path::new("t.yaml")).unwrap();
        let edge = Edge::default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let prepared = rt.block_on(edge.prepare(&config)).unwrap();
        edge.apply(prepared);
        edge
    }

    #[test]
    fn max_connections_counts_the_connections_of_every_worker() {
        let edge = edge_with("limits:\n  max_connections: 1\n");
        let workers = start(&edge, 2);
        let mut first = std::net::TcpStream::connect(workers.addrs[0]).unwrap();
        let reply = exchange(&mut first).expect("the first connection is served");
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        // The other worker's loop sees the same count: its connection is over
        // the limit and closed at once.
        let mut second = std::net::TcpStream::connect(workers.addrs[1]).unwrap();
        assert_eq!(exchange(&mut second), None);
        assert_eq!(edge.status().open_connections, 1);
        // Once the first one is gone, the other worker accepts one again (the
        // first worker notices the close asynchronously: retry a few times).
        drop(first);
        let mut served = None;
        for _ in 0..100 {
            let mut tcp = std::net::TcpStream::connect(workers.addrs[1]).unwrap();
            served = exchange(&mut tcp);
            if served.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(served.is_some_and(|r| r.starts_with("HTTP/1.1 200")));
        let _ = workers.stop.send(true);
        for t in workers.threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn without_an_edge_nothing_is_counted_or_limited() {
        // The admin listener's loop: `serve`, no edge.
        let (stop, mut stopped) = watch::channel(false);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                serve(
                    TcpListener::from_std(listener).unwrap(),
                    |_, _| async { http::Response::new(crate::body::full("ok")) },
                    async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    },
                    || Duration::from_secs(5),
                )
                .await;
            });
        });
        let mut open: Vec<_> = (0..3)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        for tcp in &mut open {
            assert!(exchange(tcp).is_some_and(|r| r.starts_with("HTTP/1.1 200")));
        }
        let _ = stop.send(true);
        thread.join().unwrap();
    }
}
