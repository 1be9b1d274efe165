//! The upstream side of the gateway: endpoints, per-request load balancing,
//! health, retries, and raw-bytes gRPC calls.
//!
//! Everything learned about an endpoint lives in the [`ChannelCache`], keyed by
//! address and shared by every route table: its HTTP/2 connection, latency
//! estimate, requests in flight, ejection and health state
//! ([`endpoint::EndpointState`]). Each backend's endpoint *set* lives there too,
//! keyed by backend name, so a reload that keeps an endpoint keeps its connection
//! and what the balancer knows about it, and a `dns:///` refresh can change the
//! set without a reload. A route table holds an `Arc<Upstream>` per backend (that
//! table's settings over the shared set); requests in flight keep theirs alive
//! even after a swap removed the backend.
//!
//! One concern per module: [`balance`] (p2c over peak-EWMA, least request, round
//! robin), [`outlier`] (passive ejection), [`health`] (grpc.health.v1 checks),
//! [`retry`] (what is retried, and the budget), [`dns`] (`dns:///` endpoints) and
//! [`metrics`].
//!
//! Messages cross this layer as already-encoded protobuf bytes ([`RawCodec`]):
//! encoding is the transcoder's job, so one upstream serves every method of every
//! backend with no generated code. Each endpoint has one HTTP/2 connection driven
//! with `h2` directly ([`conn`]); unary calls, the hot path, are framed and read on
//! the stream itself ([`unary`]), other shapes go through tonic's client over the
//! same connection.

pub mod balance;
mod codec;
mod conn;
pub mod dns;
pub mod endpoint;
mod forward;
pub mod health;
pub mod metrics;
pub mod outlier;
pub mod retry;
mod unary;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::uri::PathAndQuery;
use serde::Serialize;
use tonic::metadata::MetadataMap;
use tonic::{Request, Status, Streaming};
use tracing::{info, warn};

pub use balance::Policy;
pub use codec::RawCodec;
pub use dns::DnsSettings;
use endpoint::{EndpointReport, EndpointState, InFlight};
pub use health::HealthCheckConfig;
use metrics::RetryLabels;
pub use metrics::UpstreamMetrics;
pub use outlier::OutlierConfig;
pub use retry::RetryConfig;
pub use unary::grpc_timeout;

/// Connection settings applied to every channel, and DNS settings. Process-wide:
/// they are read once at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSettings {
    pub connect_timeout: Duration,
    /// HTTP/2 keepalive PING interval; dead connections are noticed without traffic.
    pub keepalive: Duration,
    /// How long a PING may go unanswered before the connection is closed (and the
    /// next call reconnects).
    pub keepalive_timeout: Duration,
    pub dns: DnsSettings,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        ChannelSettings {
            connect_timeout: Duration::from_secs(2),
            keepalive: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            dns: DnsSettings::default(),
        }
    }
}

/// A backend's balancing, health and retry settings (from its config entry).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamConfig {
    pub policy: Policy,
    /// Below this fraction of available (not ejected, not unhealthy) endpoints,
    /// balance over all of them: a partial outage must not pile all traffic onto
    /// the few survivors, and a check that wrongly fails everywhere must not take
    /// the backend down. 0 disables.
    pub panic_threshold: f64,
    pub outlier: OutlierConfig,
    /// Active checks; `None` (the default) relies on passive detection alone.
    pub health_check: Option<HealthCheckConfig>,
    pub retry: RetryConfig,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            policy: Policy::default(),
            panic_threshold: 0.5,
            outlier: OutlierConfig::default(),
            health_check: None,
            retry: RetryConfig::default(),
        }
    }
}

/// Endpoint state by address and endpoint sets by backend, shared by every
/// route table version. Cloning shares the cache.
#[derive(Debug, Clone, Default)]
pub struct ChannelCache {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    settings: ChannelSettings,
    /// Weak: an endpoint lives as long as some backend lists it or a call uses it.
    endpoints: Mutex<HashMap<String, Weak<EndpointState>>>,
    backends: Mutex<HashMap<String, Arc<BackendShared>>>,
    dns: OnceLock<Result<dns::Dns, String>>,
    metrics: UpstreamMetrics,
}

/// What one backend keeps across reloads: its current endpoint set, endpoints
/// removed while calls were still running on them, the retry budget and the
/// round-robin cursor.
#[derive(Debug)]
struct BackendShared {
    name: Arc<str>,
    members: ArcSwap<Vec<Arc<EndpointState>>>,
    draining: Mutex<Vec<Arc<EndpointState>>>,
    budget: retry::RetryBudget,
    rr: AtomicUsize,
    /// The configured endpoints and health settings the members come from.
    spec: Mutex<(Vec<String>, Option<HealthCheckConfig>)>,
    /// Re-resolves `dns:///` endpoints; aborted when replaced or dropped.
    refresher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for BackendShared {
    fn drop(&mut self) {
        if let Some(task) = self.refresher.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ChannelCache {
    pub fn new(settings: ChannelSettings) -> Self {
        ChannelCache {
            inner: Arc::new(Inner {
                settings,
                ..Inner::default()
            }),
        }
    }

    pub fn settings(&self) -> &ChannelSettings {
        &self.inner.settings
    }

    /// The upstream metrics, to register once.
    pub fn metrics(&self) -> &UpstreamMetrics {
        &self.inner.metrics
    }

    /// Resolves configured endpoints to addresses: `host:port` as is, every address
    /// of each `dns:///name:port`. Used before discovery and before [`Self::upstream`].
    pub async fn resolve(&self, endpoints: &[String]) -> Result<Vec<String>, String> {
        self.inner.resolve(endpoints).await
    }

    /// Opens the connections of `addrs` that have none yet, concurrently, waiting
    /// at most about a connect timeout (see `health::warm_up` for why). Hold the
    /// returned states until [`Self::upstream`] has used them: the cache keeps
    /// endpoint state only while something references it.
    pub async fn warm(&self, addrs: &[String]) -> Vec<Arc<EndpointState>> {
        self.inner.warm(addrs).await
    }

    /// The upstream handle of one backend for a new route table.
    ///
    /// `resolved` is what [`Self::resolve`] returned; `None` (resolution failed)
    /// keeps the backend's current endpoints if the configured list is unchanged.
    /// Endpoints that stay keep their state; removed ones finish their calls.
    pub fn upstream(
        &self,
        backend: &str,
        endpoints: &[String],
        resolved: Option<&[String]>,
        config: UpstreamConfig,
    ) -> Result<Arc<Upstream>, String> {
        let inner = &self.inner;
        let shared = lock(&inner.backends)
            .entry(backend.to_string())
            .or_insert_with(|| {
                Arc::new(BackendShared {
                    name: backend.into(),
                    members: ArcSwap::default(),
                    draining: Mutex::default(),
                    budget: retry::RetryBudget::default(),
                    rr: AtomicUsize::new(0),
                    spec: Mutex::default(),
                    refresher: Mutex::new(None),
                })
            })
            .clone();
        let spec_changed = lock(&shared.spec).0 != endpoints;
        *lock(&shared.spec) = (endpoints.to_vec(), config.health_check.clone());
        match resolved {
            Some(addrs) => inner.set_members(&shared, addrs)?,
            None if !spec_changed && !shared.members.load().is_empty() => {
                // Keep the endpoints, but apply the (possibly new) health settings.
                for ep in shared.members.load().iter() {
                    health::ensure(ep, config.health_check.as_ref());
                }
            }
            None => {
                return Err(format!(
                    "backend {backend}: no endpoint address resolved yet"
                ));
            }
        }
        let has_dns = endpoints
            .iter()
            .any(|e| matches!(dns::parse(e), Ok(dns::Spec::Dns { .. })));
        let mut refresher = lock(&shared.refresher);
        if spec_changed || (has_dns && refresher.is_none()) {
            if let Some(task) = refresher.take() {
                task.abort();
            }
            if has_dns {
                *refresher = Some(tokio::spawn(refresh_loop(
                    Arc::downgrade(inner),
                    Arc::downgrade(&shared),
                )));
            }
        }
        drop(refresher);
        if shared.members.load().is_empty() {
            return Err(format!("backend {backend} has no endpoints"));
        }
        Ok(Arc::new(Upstream {
            name: backend.into(),
            config,
            shared,
            metrics: inner.metrics.clone(),
        }))
    }

    /// Forgets backends no longer configured (their DNS refresh stops). Requests in
    /// flight keep their own handles, so nothing is cut off mid-call.
    pub fn retain_backends(&self, live: &HashSet<&str>) {
        lock(&self.inner.backends).retain(|name, _| live.contains(name.as_str()));
    }

    /// Number of endpoints with live state (for tests and the admin listener).
    pub fn len(&self) -> usize {
        lock(&self.inner.endpoints)
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    fn dns(&self) -> Result<&dns::Dns, String> {
        self.dns
            .get_or_init(|| dns::Dns::new(&self.settings.dns))
            .as_ref()
            .map_err(Clone::clone)
    }

    async fn resolve(&self, endpoints: &[String]) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for ep in endpoints {
            match dns::parse(ep)? {
                dns::Spec::Static(addr) => out.push(addr.to_string()),
                dns::Spec::Dns { host, port } => out.extend(self.dns()?.resolve(host, port).await?),
            }
        }
        out.dedup();
        Ok(out)
    }

    async fn warm(&self, addrs: &[String]) -> Vec<Arc<EndpointState>> {
        let eps: Vec<Arc<EndpointState>> =
            addrs.iter().filter_map(|a| self.endpoint(a).ok()).collect();
        let timeout = self.settings.connect_timeout + Duration::from_secs(1);
        futures_util::future::join_all(eps.iter().map(|ep| health::warm_up(ep, timeout))).await;
        eps
    }

    /// The state for `addr`, created (with a lazy connection: none until
    /// the first call) if no live one exists.
    fn endpoint(&self, addr: &str) -> Result<Arc<EndpointState>, String> {
        let mut map = lock(&self.endpoints);
        if let Some(ep) = map.get(addr).and_then(Weak::upgrade) {
            return Ok(ep);
        }
        map.retain(|_, w| w.strong_count() > 0);
        let s = &self.settings;
        let conn = conn::Conn::new(
            addr,
            conn::ConnSettings {
                connect_timeout: s.connect_timeout,
                keepalive: s.keepalive,
                keepalive_timeout: s.keepalive_timeout,
            },
        )?;
        let ep = Arc::new(EndpointState::new(addr, conn));
        map.insert(addr.to_string(), Arc::downgrade(&ep));
        Ok(ep)
    }

    /// Replaces a backend's endpoint set with `addrs`. Kept endpoints keep their
    /// state; new ones start at half their siblings' median latency estimate; removed ones with
    /// calls in flight are listed as draining until those finish.
    fn set_members(&self, shared: &BackendShared, addrs: &[String]) -> Result<(), String> {
        let health = lock(&shared.spec).1.clone();
        let mut seen = HashSet::new();
        let new: Vec<Arc<EndpointState>> = addrs
            .iter()
            .filter(|a| seen.insert(a.as_str()))
            .map(|a| self.endpoint(a))
            .collect::<Result<_, _>>()?;
        let now = Instant::now();
        let old = shared.members.load_full();
        // A new endpoint starts at half the median estimate of the endpoints that
        // stay (of all old ones if none stays), so it is probed at once and its
        // first answers replace the guess. Seeded as an equal, it can lose every
        // comparison by a hair to a sibling whose estimate moved down a little,
        // and an endpoint that gets no traffic learns nothing. The median, not the
        // mean: one slow endpoint, often the one being replaced, must not decide.
        let stays = |e: &&Arc<EndpointState>| new.iter().any(|n| Arc::ptr_eq(n, e));
        let mut known: Vec<f64> = old
            .iter()
            .filter(stays)
            .map(|e| e.ewma.estimate_ns(now))
            .collect();
        if known.is_empty() {
            known = old.iter().map(|e| e.ewma.estimate_ns(now)).collect();
        }
        if !known.is_empty() {
            known.sort_by(f64::total_cmp);
            let seed = known[known.len() / 2] / 2.0;
            for ep in &new {
                ep.ewma.seed(seed, now);
            }
        }
        for ep in &new {
            health::ensure(ep, health.as_ref());
        }
        let added: Vec<&str> = new
            .iter()
            .filter(|e| !old.iter().any(|o| Arc::ptr_eq(o, e)))
            .map(|e| &*e.addr)
            .collect();
        let removed: Vec<Arc<EndpointState>> = old
            .iter()
            .filter(|o| !new.iter().any(|e| Arc::ptr_eq(o, e)))
            .cloned()
            .collect();
        if !old.is_empty() && (!added.is_empty() || !removed.is_empty()) {
            let gone: Vec<&str> = removed.iter().map(|e| &*e.addr).collect();
            info!(backend = %shared.name, ?added, removed = ?gone, "endpoint set changed");
        }
        let mut draining = lock(&shared.draining);
        draining.extend(removed);
        draining.retain(|d| d.in_flight() > 0 && !new.iter().any(|e| Arc::ptr_eq(d, e)));
        drop(draining);
        shared.members.store(Arc::new(new));
        Ok(())
    }
}

/// Re-resolves a backend's `dns:///` endpoints every `dns.refresh`. A failed or
/// empty resolution keeps the current set: a DNS hiccup must not empty a backend.
async fn refresh_loop(inner: Weak<Inner>, shared: Weak<BackendShared>) {
    let every = match inner.upgrade() {
        Some(i) => i.settings.dns.refresh,
        None => return,
    };
    loop {
        tokio::time::sleep(every).await;
        let (Some(inner), Some(shared)) = (inner.upgrade(), shared.upgrade()) else {
            return;
        };
        let spec = lock(&shared.spec).0.clone();
        match inner.resolve(&spec).await {
            Ok(addrs) => {
                let _warm = inner.warm(&addrs).await;
                if let Err(e) = inner.set_members(&shared, &addrs) {
                    warn!(backend = %shared.name, error = %e, "cannot apply resolved endpoints");
                }
            }
            Err(e) => {
                warn!(backend = %shared.name, error = %e, "DNS refresh failed; keeping the current endpoints");
            }
        }
    }
}

/// The upstream handle of one backend in one route table: that table's settings
/// over the backend's shared, live endpoint set.
#[derive(Debug)]
pub struct Upstream {
    pub name: Arc<str>,
    config: UpstreamConfig,
    shared: Arc<BackendShared>,
    metrics: UpstreamMetrics,
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

/// One backend in `/backends`.
#[derive(Debug, Clone, Serialize)]
pub struct BackendReport {
    pub name: String,
    pub balancing: &'static str,
    /// True when fewer endpoints than the panic threshold are available, so
    /// requests are spread over all of them regardless of health.
    pub panic_mode: bool,
    pub endpoints: Vec<EndpointReport>,
}

/// A call attempt in progress on one endpoint: releases the in-flight counts and
/// records the outcome when finished.
struct Attempt {
    ep: Arc<EndpointState>,
    _guard: InFlight,
    metrics: Arc<metrics::EndpointHandles>,
    started: Instant,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
    }
}

impl Upstream {
    /// The current endpoint addresses.
    pub fn endpoints(&self) -> Vec<Arc<str>> {
        self.shared
            .members
            .load()
            .iter()
            .map(|e| e.addr.clone())
            .collect()
    }

    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    /// Chooses the endpoint for the next call, never `avoid` unless it is the only
    /// one. Only available endpoints (not ejected, not failing health checks) are
    /// considered, unless fewer than `panic_threshold` of them are.
    pub fn pick(&self, avoid: Option<&Arc<EndpointState>>) -> Option<Arc<EndpointState>> {
        let members = self.shared.members.load();
        let now = Instant::now();
        let allowed = |e: &&Arc<EndpointState>| avoid.is_none_or(|a| !Arc::ptr_eq(a, e));
        let available: Vec<&Arc<EndpointState>> = members
            .iter()
            .filter(allowed)
            .filter(|e| e.is_available(now))
            .collect();
        let panic = available.is_empty()
            || (available.len() as f64) < self.config.panic_threshold * members.len() as f64;
        let candidates: Vec<&Arc<EndpointState>> = if panic {
            let others: Vec<_> = members.iter().filter(allowed).collect();
            if others.is_empty() {
                members.iter().collect()
            } else {
                others
            }
        } else {
            available
        };
        if candidates.is_empty() {
            return None;
        }
        Some(balance::choose(self.config.policy, &candidates, &self.shared.rr).clone())
    }

    fn begin(&self, ep: Arc<EndpointState>) -> Attempt {
        let cached = ep
            .handles
            .get_or_init(|| Arc::new(self.metrics.handles(&self.name, &ep.addr)));
        let metrics = if cached.backend == self.name {
            cached.clone()
        } else {
            Arc::new(self.metrics.handles(&self.name, &ep.addr))
        };
        metrics.in_flight.inc();
        Attempt {
            _guard: ep.start(),
            ep,
            metrics,
            started: Instant::now(),
        }
    }

    /// Records how an attempt ended, for the balancer, outlier detection and metrics.
    fn finish(&self, attempt: &Attempt, result: Result<(), &Status>) {
        let rtt = attempt.started.elapsed();
        let ep = &attempt.ep;
        let failure = match result {
            Err(status) if retry::is_endpoint_failure(status) => Some(status),
            _ => None,
        };
        let m = &attempt.metrics;
        if let Some(status) = failure {
            let message = format!("{:?}: {}", status.code(), status.message());
            if let Some(time) = ep.failed(rtt, &message, &self.config.outlier) {
                warn!(backend = %self.name, endpoint = %ep.addr, ejected_for = ?time, error = %message, "endpoint ejected after consecutive failures");
                m.ejections.inc();
            }
            m.failed.inc();
        } else {
            ep.succeeded(rtt);
            m.ok.inc();
        }
        m.latency_ewma
            .set(ep.ewma.estimate_ns(Instant::now()) / 1e9);
    }

    /// Makes a unary call with an already-encoded request message.
    ///
    /// `timeout` is enforced here (DEADLINE_EXCEEDED when it passes) and sent to
    /// the backend as `grpc-timeout`, so both sides give up at the same time. A
    /// failure before the backend answered anything is retried once on another
    /// endpoint, within the backend's retry budget and the same deadline.
    pub async fn unary(
        &self,
        path: PathAndQuery,
        message: Bytes,
        metadata: MetadataMap,
        timeout: Option<Duration>,
    ) -> Result<UnaryReply, Status> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let call = async {
            let retry = &self.config.retry;
            self.shared.budget.deposit(retry, Instant::now());
            let can_retry = retry.ratio > 0.0 && self.shared.members.load().len() > 1;
            // The request is needed again only if a retry is possible.
            let spare = can_retry.then(|| (path.clone(), message.clone(), metadata.clone()));
            let first = self.pick(None).ok_or_else(no_endpoints)?;
            let status = match self
                .unary_once(first.clone(), path, message, metadata, timeout)
                .await
            {
                Ok(reply) => return Ok(reply),
                Err((status, true)) if spare.is_some() => status,
                Err((status, _)) => return Err(status),
            };
            let (path, message, metadata) = spare.unwrap_or_else(|| unreachable!());
            let outcome = match self.pick(Some(&first)) {
                Some(second) if !Arc::ptr_eq(&second, &first) => {
                    if self.shared.budget.withdraw(retry, Instant::now()) {
                        Some(second)
                    } else {
                        None
                    }
                }
                _ => None,
            };
            let label = |outcome: &'static str| RetryLabels {
                backend: self.name.clone(),
                outcome,
            };
            let Some(second) = outcome else {
                let why = if self.shared.members.load().len() > 1 {
                    "budget_exhausted"
                } else {
                    "no_other_endpoint"
                };
                self.metrics.retries.get_or_create(&label(why)).inc();
                return Err(status);
            };
            self.metrics.retries.get_or_create(&label("retried")).inc();
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            self.unary_once(second, path, message, metadata, remaining)
                .await
                .map_err(|(status, _)| status)
        };
        with_deadline(timeout, call).await
    }

    /// One unary attempt on `ep`. The error says whether it is retryable (the
    /// backend never answered).
    async fn unary_once(
        &self,
        ep: Arc<EndpointState>,
        path: PathAndQuery,
        message: Bytes,
        metadata: MetadataMap,
        timeout: Option<Duration>,
    ) -> Result<UnaryReply, (Status, bool)> {
        let attempt = self.begin(ep);
        let result = unary::call(&attempt.ep.conn, path, message, metadata, timeout).await;
        self.finish(&attempt, result.as_ref().map(|_| ()).map_err(|(s, _)| s));
        result
    }

    /// Starts a server-streaming call. The deadline covers the whole stream; the
    /// caller enforces it while reading the messages. Not retried: the stream may
    /// have been partly consumed before a failure shows.
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
    /// The endpoint's in-flight count and latency cover the call up to the
    /// response headers.
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
        self.start_with(path, messages, metadata, Default::default(), timeout)
            .await
    }

    /// [`start`](Self::start) with request extensions, for a
    /// [`tonic::CancellationHandle`] (see [`cancellable`]): cancelling it ends the
    /// request stream with an error, which resets the call's HTTP/2 stream, so a
    /// client- or bidi-streaming call abandoned mid-request stops at the backend.
    pub async fn start_with<S>(
        &self,
        path: PathAndQuery,
        messages: S,
        metadata: MetadataMap,
        extensions: tonic::Extensions,
        timeout: Option<Duration>,
    ) -> Result<StreamReply, Status>
    where
        S: tokio_stream::Stream<Item = Bytes> + Send + 'static,
    {
        self.shared
            .budget
            .deposit(&self.config.retry, Instant::now());
        let ep = self.pick(None).ok_or_else(no_endpoints)?;
        let attempt = self.begin(ep);
        // Connection failures surface from the call as statuses with a source
        // (transport failures, see `retry`), mapped to UNAVAILABLE below.
        let mut grpc = tonic::client::Grpc::new(conn::ConnService(attempt.ep.conn.clone()));
        let mut request = Request::from_parts(metadata, extensions, messages);
        if let Some(t) = timeout {
            request.set_timeout(t);
        }
        let result = grpc
            .streaming(request, path, RawCodec)
            .await
            .map_err(transport_is_unavailable)
            .map(|response| {
                let (headers, stream, _) = response.into_parts();
                StreamReply { headers, stream }
            });
        self.finish(&attempt, result.as_ref().map(|_| ()));
        result
    }

    /// The backend's endpoints and their state, for `/backends`.
    pub fn report(&self) -> BackendReport {
        let members = self.shared.members.load();
        let now = Instant::now();
        let available = members.iter().filter(|e| e.is_available(now)).count();
        let mut endpoints: Vec<EndpointReport> = members.iter().map(|e| e.report(true)).collect();
        let mut draining = lock(&self.shared.draining);
        draining.retain(|d| d.in_flight() > 0);
        endpoints.extend(draining.iter().map(|e| e.report(false)));
        BackendReport {
            name: self.name.to_string(),
            balancing: self.config.policy.as_str(),
            panic_mode: available == 0
                || (available as f64) < self.config.panic_threshold * members.len() as f64,
            endpoints,
        }
    }
}

/// Request extensions carrying a fresh [`tonic::CancellationHandle`], for
/// [`Upstream::start_with`]; `cancel()` on the handle resets the call with
/// RST_STREAM(CANCEL) unless the request stream has already ended cleanly.
pub fn cancellable() -> (tonic::Extensions, tonic::CancellationHandle) {
    let mut request = Request::new(());
    let handle = request.cancellation_handle();
    (std::mem::take(request.extensions_mut()), handle)
}

fn no_endpoints() -> Status {
    Status::unavailable("no endpoints available")
}

/// A transport failure before any response (a reset stream, a GOAWAY race with
/// a backend shutting down, a protocol error) means the backend was not reached.
/// tonic reports some of these as INTERNAL; grpc-go clients, and so grpc-gateway,
/// report UNAVAILABLE (HTTP 503), which also tells the client a retry is safe.
/// The status stays marked as a transport failure (retryable, see `retry`).
fn transport_is_unavailable(status: Status) -> Status {
    if !retry::is_retryable(&status) || status.code() == tonic::Code::Unavailable {
        return status;
    }
    let message = format!("backend unreachable: {}", status.message());
    let mut unavailable = Status::unavailable(message.clone());
    unavailable.set_source(Arc::new(std::io::Error::other(message)));
    unavailable
}

/// Timer slack when telling "the backend gave up at our deadline" (it got the same
/// deadline as `grpc-timeout`) from a cancellation of its own.
pub const DEADLINE_SLACK: Duration = Duration::from_millis(20);

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
                && started.elapsed() + DEADLINE_SLACK >= t =>
        {
            Err(Status::deadline_exceeded("context deadline exceeded"))
        }
        Ok(r) => r,
        Err(_) => Err(Status::deadline_exceeded("context deadline exceeded")),
    }
}
