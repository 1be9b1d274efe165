//! One HTTP/2 connection per endpoint, driven with the `h2` crate directly.
//!
//! Why not tonic's `Channel` (or hyper's client): every call through a `Channel`
//! crosses a buffer task, then hyper's dispatch task, then a task hyper spawns
//! per request to wait for the response, before it reaches the connection task
//! that owns the socket. Each hop is a wake-up, often on the other core. Here
//! the calling task writes the request into h2's shared stream state and polls
//! the response itself: the only other task involved is the one that owns the
//! socket. Profiles put the removed hops at a fifth of the gateway's CPU per
//! request (see the README's Performance section).
//!
//! A [`Conn`] connects lazily, on the first call, and once only however many
//! calls arrive together. When the connection ends (peer closed, GOAWAY, I/O
//! error, keepalive PING unanswered) the driver task forgets it and the next call
//! connects again. Refused connections are not retried here: the balancer's
//! outlier detection backs off from a failing endpoint.
//!
//! [`ConnService`] puts the same connection behind tower's `Service`, so tonic's
//! client machinery (streaming calls, health checks) and the native gRPC
//! pass-through share it.
//!
//! In the workers model (`runtime.model: workers`) an endpoint has one
//! connection *slot* per worker thread besides the shared one (see `worker`):
//! a call made on worker `i` uses slot `i + 1`, whose connection was dialled
//! there and whose driver task therefore runs on that worker's single-thread
//! runtime. Calls from any other thread (health checks, discovery, the shared
//! model) use slot 0. Each slot connects, fails and reconnects on its own; what
//! is learned about the endpoint (keepalive interval, the peer's SETTINGS, and
//! the balancer's statistics outside this module) is shared by all.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use http::uri::{Authority, PathAndQuery, Scheme};
use http_body::{Body, Frame};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tracing::debug;

/// Connection settings (from [`crate::ChannelSettings`]).
#[derive(Debug, Clone)]
pub(crate) struct ConnSettings {
    pub connect_timeout: Duration,
    pub keepalive: Duration,
    pub keepalive_without_calls: bool,
    pub keepalive_timeout: Duration,
}

/// HTTP/2 windows as hyper's client sets them: large enough that a fast
/// backend is never throttled by flow control on loopback or in a data centre.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;

/// An error before the backend answered: the connection could not be made, or
/// failed under the request.
#[derive(Debug)]
pub(crate) struct ConnError(pub String);

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnError {}

/// The connection of one endpoint. Cloning shares it.
#[derive(Clone, Debug)]
pub(crate) struct Conn {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    addr: Arc<str>,
    /// TLS to the backend (`backends[].tls`); `None`: plaintext h2c.
    tls: Option<Arc<crate::tls::UpstreamTls>>,
    authority: Authority,
    settings: ConnSettings,
    /// Slot 0 is the shared connection; slot `i + 1` worker `i`'s.
    slots: Box<[Slot]>,
    /// Numbers every connection of the endpoint, whichever slot it is in.
    generation: AtomicU64,
    /// Keepalive PINGs as gRPC A8 has them (see `keepalive`). Shared with the
    /// connections' drivers, which must not keep `Inner` (and so the
    /// connections' senders) alive.
    keepalive: Arc<crate::keepalive::Policy>,
    /// What the backend advertised in its SETTINGS (see `peer_settings`).
    peer: Arc<crate::peer_settings::PeerSettings>,
}

/// One connection of the endpoint and what it takes to open it.
#[derive(Debug, Default)]
struct Slot {
    /// The live connection's sender with its generation number.
    live: Mutex<Option<(u64, SendRequest<Bytes>)>>,
    /// Serialises connection attempts, so a burst of calls opens one connection;
    /// holds when the last attempt failed, and why.
    connecting: tokio::sync::Mutex<Option<(Instant, String)>>,
    /// Calls in flight on this slot's connection (keepalive pings only those).
    calls: crate::keepalive::Calls,
}

impl Conn {
    #[cfg(test)]
    pub(crate) fn new(addr: &str, settings: ConnSettings) -> Result<Self, String> {
        Self::with_tls(addr, settings, None, 0)
    }

    /// A connection that speaks TLS first when `tls` is set, with a slot for
    /// each of `workers` worker threads besides the shared one.
    pub(crate) fn with_tls(
        addr: &str,
        settings: ConnSettings,
        tls: Option<Arc<crate::tls::UpstreamTls>>,
        workers: usize,
    ) -> Result<Self, String> {
        let authority =
            Authority::try_from(addr).map_err(|e| format!("invalid endpoint {addr}: {e}"))?;
        Ok(Conn {
            inner: Arc::new(Inner {
                addr: addr.into(),
                tls,
                authority,
                settings: settings.clone(),
                slots: (0..=workers).map(|_| Slot::default()).collect(),
                generation: AtomicU64::new(0),
                keepalive: Arc::new(crate::keepalive::Policy::new(
                    settings.keepalive,
                    settings.keepalive_without_calls,
                    settings.keepalive_timeout,
                )),
                peer: Arc::default(),
            }),
        })
    }

    /// Counts a call as in flight on the caller's connection of this endpoint
    /// (keepalive pings only connections with calls, see `keepalive`) until
    /// the guard drops.
    pub(crate) fn call(&self) -> crate::keepalive::Active {
        self.inner.slots[self.slot()].calls.call()
    }

    /// The caller's slot: its worker's, or the shared one.
    fn slot(&self) -> usize {
        crate::worker::slot(crate::worker::current(), self.inner.slots.len())
    }

    /// How many of the endpoint's slots hold a connection now.
    #[cfg(test)]
    pub(crate) fn open_connections(&self) -> usize {
        (0..self.inner.slots.len())
            .filter(|&i| self.inner.current(i).is_some())
            .count()
    }

    /// The header list size the backend's connection accepts, when it said
    /// (SETTINGS_MAX_HEADER_LIST_SIZE).
    pub(crate) fn peer_max_header_list_size(&self) -> Option<usize> {
        self.inner.peer.max_header_list_size()
    }

    /// The `:authority` calls carry.
    pub(crate) fn authority(&self) -> &Authority {
        &self.inner.authority
    }

    /// A sender ready for one new stream, connecting first if needed.
    ///
    /// A connection that can take no new stream (the backend sent GOAWAY while
    /// draining, or the connection failed and its driver has not noticed yet) is
    /// forgotten at once and one new connection is tried: in-flight streams
    /// finish on the old one, new calls go to the new one.
    pub(crate) async fn ready(&self) -> Result<SendRequest<Bytes>, ConnError> {
        let slot = self.slot();
        let (generation, sender) = match self.inner.current(slot) {
            Some(live) => live,
            None => self.connect(slot).await?,
        };
        match sender.ready().await {
            Ok(sender) => Ok(sender),
            Err(e) => {
                self.inner.forget(slot, generation);
                let (_, sender) = self.connect(slot).await?;
                sender.ready().await.map_err(|e2| {
                    ConnError(format!(
                        "connection to {} cannot open a stream: {e}; after reconnecting: {e2}",
                        self.inner.addr
                    ))
                })
            }
        }
    }

    async fn connect(&self, slot: usize) -> Result<(u64, SendRequest<Bytes>), ConnError> {
        let asked = Instant::now();
        let mut last_failure = self.inner.slots[slot].connecting.lock().await;
        if let Some(live) = self.inner.current(slot) {
            return Ok(live);
        }
        // An attempt that failed while this call waited for its turn answers for
        // it too: calls queued behind one refused or timed-out connect must not
        // each try again in turn (behind a black-holed address, a connect timeout
        // apiece).
        if let Some((at, why)) = last_failure.as_ref()
            && *at >= asked
        {
            return Err(ConnError(why.clone()));
        }
        let result = self.dial(slot).await;
        *last_failure = match &result {
            Ok(_) => None,
            Err(e) => Some((Instant::now(), e.0.clone())),
        };
        result
    }

    /// Opens the connection of `slot` and starts its driver task, on the
    /// caller's runtime (a worker's own, for a worker's slot).
    async fn dial(&self, slot: usize) -> Result<(u64, SendRequest<Bytes>), ConnError> {
        let inner = &self.inner;
        let addr = &*inner.addr;
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            ConnError(format!("cannot connect to {addr}: {what}{e}"))
        };
        let tcp =
            match tokio::time::timeout(inner.settings.connect_timeout, TcpStream::connect(addr))
                .await
            {
                Err(_) => {
                    return Err(fail(
                        "",
                        &format_args!("timed out after {:?}", inner.settings.connect_timeout),
                    ));
                }
                Ok(Err(e)) => return Err(fail("", &e)),
                Ok(Ok(tcp)) => tcp,
            };
        let _ = tcp.set_nodelay(true);
        let io: Io = match &inner.tls {
            None => Io::Plain(tcp),
            Some(tls) => {
                let handshake = crate::tls::handshake(tls, addr, tcp);
                match tokio::time::timeout(inner.settings.connect_timeout, handshake).await {
                    Err(_) => return Err(fail("TLS handshake ", &"timed out")),
                    Ok(Err(e)) => return Err(fail("", &e)),
                    Ok(Ok(stream)) => Io::Tls(Box::new(stream)),
                }
            }
        };
        let handshake = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .enable_push(false)
            .handshake::<_, Bytes>(crate::peer_settings::Sniffer::new(io, inner.peer.clone()));
        let (sender, connection) =
            match tokio::time::timeout(inner.settings.connect_timeout, handshake).await {
                Err(_) => return Err(fail("HTTP/2 handshake ", &"timed out")),
                Ok(Err(e)) => return Err(fail("HTTP/2 handshake: ", &e)),
                Ok(Ok(pair)) => pair,
            };
        let generation = inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
        *inner.lock(slot) = Some((generation, sender.clone()));
        tokio::spawn(drive(
            connection,
            Arc::downgrade(inner),
            (slot, generation),
            inner.keepalive.clone(),
            inner.slots[slot].calls.clone(),
        ));
        Ok((generation, sender))
    }

    /// The `http://authority/path` URI of a call.
    pub(crate) fn uri(&self, path: PathAndQuery) -> http::Uri {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(if self.inner.tls.is_some() {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        });
        parts.authority = Some(self.inner.authority.clone());
        parts.path_and_query = Some(path);
        http::Uri::from_parts(parts).unwrap_or_default()
    }
}

impl Inner {
    fn lock(&self, slot: usize) -> std::sync::MutexGuard<'_, Option<(u64, SendRequest<Bytes>)>> {
        self.slots[slot]
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn current(&self, slot: usize) -> Option<(u64, SendRequest<Bytes>)> {
        self.lock(slot).clone()
    }

    /// Forgets connection `generation` of `slot`, unless a newer one replaced
    /// it already.
    fn forget(&self, slot: usize, generation: u64) {
        let mut live = self.lock(slot);
        if live.as_ref().is_some_and(|(g, _)| *g == generation) {
            *live = None;
        }
    }
}

/// Runs the connection and its keepalive PINGs until either ends, then forgets
/// the connection (unless a newer one replaced it already).
async fn drive(
    mut connection: h2::client::Connection<crate::peer_settings::Sniffer<Io>, Bytes>,
    owner: std::sync::Weak<Inner>,
    (slot, generation): (usize, u64),
    policy: Arc<crate::keepalive::Policy>,
    calls: crate::keepalive::Calls,
) {
    let pings = connection.ping_pong();
    // The interval this connection pings at, for `connection_ended` too.
    let every = policy.interval();
    let keepalive = async {
        match pings {
            Some(pings) => policy.run(pings, &calls, every).await,
            None => std::future::pending::<String>().await,
        }
    };
    let why = tokio::select! {
        result = &mut connection => match result {
            Ok(()) => "closed".to_string(),
            Err(e) => {
                if let Some(inner) = owner.upgrade() {
                    policy.connection_ended(&inner.addr, &e, every);
                }
                e.to_string()
            }
        },
        why = keepalive => why,
    };
    if let Some(inner) = owner.upgrade() {
        debug!(endpoint = %inner.addr, reason = %why, "upstream connection ended");
        inner.forget(slot, generation);
    }
}

/// The response body of a call: DATA frames, then trailers. Flow-control
/// capacity is given back as soon as a frame is handed on, as hyper does.
/// Dropping it before the end resets the stream (h2 does when the last handle
/// of an open stream goes) and stops the request pump, if one still runs.
pub(crate) struct RecvBody {
    recv: h2::RecvStream,
    data_done: bool,
    _stop_pump: Option<oneshot::Sender<()>>,
    /// The call is in flight until its response body is done with.
    _active: crate::keepalive::Active,
}

impl Body for RecvBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if !self.data_done {
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => self.data_done = true,
            }
        }
        match ready!(self.recv.poll_trailers(cx)) {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }
}

/// Copies a streamed request body into the HTTP/2 stream, waiting for send
/// capacity before taking each frame (backpressure to the body's producer).
/// An error from the body, or the response being dropped, resets the stream
/// with CANCEL: that is how a call abandoned mid-request reaches the backend.
async fn pump<B>(mut body: B, mut send: h2::SendStream<Bytes>, mut stop: oneshot::Receiver<()>)
where
    B: Body<Data = Bytes> + Unpin,
{
    let reset = |send: &mut h2::SendStream<Bytes>| send.send_reset(h2::Reason::CANCEL);
    loop {
        // Wait for at least one byte of window before reading more input.
        send.reserve_capacity(1);
        let ready = poll_fn(|cx| {
            if Pin::new(&mut stop).poll(cx).is_ready() {
                return Poll::Ready(Err(()));
            }
            if send.capacity() > 0 {
                return Poll::Ready(Ok(()));
            }
            match send.poll_capacity(cx) {
                Poll::Ready(Some(Ok(_))) => Poll::Ready(Ok(())),
                Poll::Ready(_) => Poll::Ready(Err(())),
                Poll::Pending => match send.poll_reset(cx) {
                    Poll::Ready(_) => Poll::Ready(Err(())),
                    Poll::Pending => Poll::Pending,
                },
            }
        })
        .await;
        if ready.is_err() {
            return reset(&mut send);
        }
        let frame = poll_fn(|cx| {
            if Pin::new(&mut stop).poll(cx).is_ready() {
                return Poll::Ready(Err(()));
            }
            if send.poll_reset(cx).is_ready() {
                return Poll::Ready(Err(()));
            }
            Pin::new(&mut body).poll_frame(cx).map(Ok)
        })
        .await;
        let frame = match frame {
            Err(()) | Ok(Some(Err(_))) => return reset(&mut send),
            Ok(None) => {
                let _ = send.send_data(Bytes::new(), true);
                return;
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let sent = match frame.into_data() {
            Ok(data) => send.send_data(data, body.is_end_stream()),
            Err(frame) => match frame.into_trailers() {
                Ok(trailers) => {
                    let _ = send.send_trailers(trailers);
                    return;
                }
                Err(_) => Ok(()),
            },
        };
        if sent.is_err() || body.is_end_stream() {
            return;
        }
    }
}

/// Sends `request` on the connection: the head now, the body from a pump task
/// unless it is already complete. Resolves to the response head, with its body
/// still streaming.
pub(crate) async fn send_streaming<B>(
    conn: &Conn,
    request: http::Request<B>,
) -> Result<http::Response<RecvBody>, Box<dyn std::error::Error + Send + Sync>>
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
{
    let active = conn.call();
    let mut sender = conn.ready().await?;
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    parts.uri = conn.uri(path);
    let end = body.is_end_stream();
    let (response, send) = sender.send_request(http::Request::from_parts(parts, ()), end)?;
    let (stop_pump, stop) = oneshot::channel();
    if !end {
        tokio::spawn(pump(body, send, stop));
    }
    let response = response.await?;
    Ok(response.map(|recv| RecvBody {
        recv,
        data_done: false,
        _stop_pump: Some(stop_pump),
        _active: active,
    }))
}

/// [`Conn`] as a tower service, for tonic's client (`tonic::client::Grpc`) and
/// the pass-through. The request URI's scheme and authority are the endpoint's.
#[derive(Clone, Debug)]
pub(crate) struct ConnService(pub Conn);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tonic::codegen::Service<http::Request<tonic::body::Body>> for ConnService {
    type Response = http::Response<RecvBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let conn = self.0.clone();
        Box::pin(async move { send_streaming(&conn, request).await })
    }
}

/// An upstream connection's transport: plaintext (h2c) or TLS.
pub(crate) enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl tokio::io::AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A bare HTTP/2 server on loopback that answers every request 200 and
    /// counts the connections it accepted.
    async fn h2_server() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(mut conn) = h2::server::handshake(tcp).await else {
                        return;
                    };
                    while let Some(Ok((_, mut respond))) = conn.accept().await {
                        let _ = respond.send_response(http::Response::new(()), true);
                    }
                });
            }
        });
        (addr, accepted)
    }

    fn settings() -> ConnSettings {
        ConnSettings {
            connect_timeout: Duration::from_secs(5),
            keepalive: Duration::from_secs(300),
            keepalive_without_calls: false,
            keepalive_timeout: Duration::from_secs(10),
        }
    }

    /// One request on the caller's connection; its status.
    async fn call(conn: &Conn) -> u16 {
        let _active = conn.call();
        let mut sender = conn.ready().await.unwrap();
        let request = http::Request::post(conn.uri(PathAndQuery::from_static("/x")))
            .body(())
            .unwrap();
        let (response, _) = sender.send_request(request, true).unwrap();
        response.await.unwrap().status().as_u16()
    }

    /// Calls from worker `index`'s own thread and single-thread runtime (the
    /// server and the shared connection run on the test's runtime meanwhile).
    async fn call_on_worker(conn: &Conn, index: usize, calls: usize) {
        let conn = conn.clone();
        let thread = std::thread::spawn(move || {
            crate::worker::enter(index);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                for _ in 0..calls {
                    assert_eq!(call(&conn).await, 200);
                }
            });
        });
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_worker_gets_its_own_connection_and_others_share_one() {
        let (addr, accepted) = h2_server().await;
        let conn = Conn::with_tls(&addr, settings(), None, 2).unwrap();
        // Off the workers: the shared slot, one connection however many calls.
        assert_eq!(call(&conn).await, 200);
        assert_eq!(call(&conn).await, 200);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        // Worker 0 dials its own connection, and keeps using it.
        call_on_worker(&conn, 0, 3).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        // A worker's connection died with its runtime (the thread ended): the
        // next call from worker 0 dials again, on its new runtime.
        call_on_worker(&conn, 0, 1).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
        // Worker 1 has a slot of its own too.
        call_on_worker(&conn, 1, 2).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        // A worker index beyond the slots rides the shared connection.
        call_on_worker(&conn, 5, 2).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        // The shared connection was never replaced.
        assert_eq!(call(&conn).await, 200);
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_shared_model_has_one_connection_for_every_thread() {
        let (addr, accepted) = h2_server().await;
        let conn = Conn::with_tls(&addr, settings(), None, 0).unwrap();
        assert_eq!(call(&conn).await, 200);
        // A thread marked as a worker still uses the only slot there is.
        call_on_worker(&conn, 0, 2).await;
        assert_eq!(call(&conn).await, 200);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(conn.open_connections(), 1);
    }
}
