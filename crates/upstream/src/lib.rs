//! The upstream side of the gateway: one HTTP/2 channel per backend endpoint,
//! and raw-bytes gRPC calls on top of it.
//!
//! Channels are owned by a [`ChannelCache`] keyed by endpoint address, not by a
//! route table, so a reload that leaves an endpoint in the config keeps its
//! connection (and, later, its balancer state). A route table holds an
//! `Arc<Upstream>` per backend; requests in flight keep theirs alive even after a
//! swap removed the backend.
//!
//! Messages cross this layer as already-encoded protobuf bytes ([`RawCodec`]):
//! encoding is the transcoder's job, so one upstream serves every method of every
//! backend with no generated code.
//!
//! Endpoint choice is behind [`Upstream::pick`]; today it rotates (round robin).

mod codec;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint as TonicEndpoint};
use tonic::{Request, Status, Streaming};

pub use codec::RawCodec;

/// Connection settings applied to every channel.
#[derive(Debug, Clone, Copy)]
pub struct ChannelSettings {
    pub connect_timeout: Duration,
    /// HTTP/2 keepalive ping interval; dead connections are noticed without traffic.
    pub keepalive: Duration,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        ChannelSettings {
            connect_timeout: Duration::from_secs(2),
            keepalive: Duration::from_secs(30),
        }
    }
}

/// Channels by endpoint address, shared by every route table version.
#[derive(Debug, Default)]
pub struct ChannelCache {
    settings: ChannelSettings,
    channels: Mutex<HashMap<String, Channel>>,
}

impl ChannelCache {
    pub fn new(settings: ChannelSettings) -> Self {
        ChannelCache {
            settings,
            channels: Mutex::default(),
        }
    }

    /// The channel for `addr` (`host:port`), created lazily (no connection is made
    /// until the first call) and reused afterwards.
    pub fn channel(&self, addr: &str) -> Result<Channel, String> {
        let mut map = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ch) = map.get(addr) {
            return Ok(ch.clone());
        }
        let endpoint = TonicEndpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| format!("invalid endpoint {addr}: {e}"))?
            .connect_timeout(self.settings.connect_timeout)
            .http2_keep_alive_interval(self.settings.keepalive)
            .keep_alive_while_idle(true)
            .tcp_nodelay(true);
        let channel = endpoint.connect_lazy();
        map.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }

    /// Builds the upstream handle for one backend.
    pub fn upstream(&self, backend: &str, endpoints: &[String]) -> Result<Arc<Upstream>, String> {
        let endpoints = endpoints
            .iter()
            .map(|addr| {
                Ok(Endpoint {
                    addr: addr.as_str().into(),
                    channel: self.channel(addr)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        if endpoints.is_empty() {
            return Err(format!("backend {backend} has no endpoints"));
        }
        Ok(Arc::new(Upstream {
            name: backend.into(),
            endpoints,
            next: AtomicUsize::new(0),
        }))
    }

    /// Forgets channels whose address is no longer configured. Requests in flight
    /// keep their own clones, so nothing is cut off mid-call.
    pub fn retain(&self, live: &HashSet<&str>) {
        let mut map = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|addr, _| live.contains(addr.as_str()));
    }

    /// Number of cached channels (for tests and the admin listener).
    pub fn len(&self) -> usize {
        self.channels.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One endpoint of a backend.
#[derive(Debug)]
pub struct Endpoint {
    pub addr: Arc<str>,
    channel: Channel,
}

/// The upstream handle of one backend: its endpoints and the policy choosing between them.
#[derive(Debug)]
pub struct Upstream {
    pub name: Arc<str>,
    endpoints: Vec<Endpoint>,
    next: AtomicUsize,
}

/// A unary call's outcome, with header and trailer metadata kept apart so the
/// serve stage can map them to `Grpc-Metadata-*` and `Grpc-Trailer-*`.
#[derive(Debug)]
pub struct UnaryReply {
    pub headers: MetadataMap,
    pub message: Bytes,
    pub trailers: MetadataMap,
}

/// A server-streaming call in progress.
pub struct StreamReply {
    pub headers: MetadataMap,
    pub stream: Streaming<Bytes>,
}

impl Upstream {
    /// The endpoints, in config order.
    pub fn endpoints(&self) -> impl Iterator<Item = &str> {
        self.endpoints.iter().map(|e| &*e.addr)
    }

    /// Chooses the endpoint for the next call (round robin for now).
    pub fn pick(&self) -> &Endpoint {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.endpoints.len();
        &self.endpoints[i]
    }

    /// Makes a unary call with an already-encoded request message.
    ///
    /// `timeout` is enforced here (DEADLINE_EXCEEDED when it passes) and sent to
    /// the backend as `grpc-timeout`, so both sides give up at the same time.
    pub async fn unary(
        &self,
        path: PathAndQuery,
        message: Bytes,
        metadata: MetadataMap,
        timeout: Option<Duration>,
    ) -> Result<UnaryReply, Status> {
        let call = async {
            let StreamReply {
                headers,
                mut stream,
            } = self
                .start(path, tokio_stream::once(message), metadata, timeout)
                .await?;
            let message = match stream.message().await {
                Ok(Some(m)) => m,
                Ok(None) => return Err(Status::internal("backend sent no response message")),
                Err(mut status) => {
                    merge_into(status.metadata_mut(), &headers);
                    return Err(status);
                }
            };
            let trailers = stream.trailers().await?.unwrap_or_default();
            Ok(UnaryReply {
                headers,
                message,
                trailers,
            })
        };
        with_deadline(timeout, call).await
    }

    /// Starts a server-streaming call. The deadline covers the whole stream; the
    /// caller enforces it while reading the messages.
    pub async fn server_streaming(
        &self,
        path: PathAndQuery,
        message: Bytes,
        metadata: MetadataMap,
        timeout: Option<Duration>,
    ) -> Result<StreamReply, Status> {
        with_deadline(
            timeout,
            self.start(path, tokio_stream::once(message), metadata, timeout),
        )
        .await
    }

    /// Starts a call of any shape: the request is a stream of encoded messages.
    pub async fn start<S>(
        &self,
        path: PathAndQuery,
        messages: S,
        metadata: MetadataMap,
        timeout: Option<Duration>,
    ) -> Result<StreamReply, Status>
    where
        S: tokio_stream::Stream<Item = Bytes> + Send + 'static,
    {
        let endpoint = self.pick();
        let mut grpc = tonic::client::Grpc::new(endpoint.channel.clone());
        grpc.ready().await.map_err(|e| {
            Status::unavailable(format!(
                "backend {} endpoint {} unavailable: {e}",
                self.name, endpoint.addr
            ))
        })?;
        let mut request = Request::from_parts(metadata, Default::default(), messages);
        if let Some(t) = timeout {
            request.set_timeout(t);
        }
        let response = grpc.streaming(request, path, RawCodec).await?;
        let (headers, stream, _) = response.into_parts();
        Ok(StreamReply { headers, stream })
    }
}

/// Runs `fut` under an optional deadline, mapping expiry to DEADLINE_EXCEEDED.
///
/// The backend receives the same deadline as `grpc-timeout`, and a server whose
/// timer fires first answers CANCELLED (tonic does). The caller's deadline is what
/// expired, so that race is reported as DEADLINE_EXCEEDED too, as a grpc-go client
/// (and so grpc-gateway) would.
async fn with_deadline<T>(
    timeout: Option<Duration>,
    fut: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    let Some(t) = timeout else {
        return fut.await;
    };
    let started = tokio::time::Instant::now();
    match tokio::time::timeout(t, fut).await {
        Ok(Err(status))
            if status.code() == tonic::Code::Cancelled
                && started.elapsed() + Duration::from_millis(20) >= t =>
        {
            Err(Status::deadline_exceeded("context deadline exceeded"))
        }
        Ok(r) => r,
        Err(_) => Err(Status::deadline_exceeded("context deadline exceeded")),
    }
}

/// Adds the entries of `from` to `into` (header metadata onto an error status).
fn merge_into(into: &mut MetadataMap, from: &MetadataMap) {
    let mut headers = into.clone().into_headers();
    for (k, v) in from.clone().into_headers().iter() {
        headers.append(k.clone(), v.clone());
    }
    *into = MetadataMap::from_headers(headers);
}
