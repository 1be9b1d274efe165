//! The upstream handle of one backend in one route table, and what every call
//! shape shares: picking an endpoint, and accounting for the attempt (in-flight
//! counts, latency, outlier detection, metrics). The shapes are one file each:
//! [`unary`], [`streaming`] and [`forward`] (native gRPC pass-through).

mod forward;
mod streaming;
mod unary;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde::Serialize;
use tonic::metadata::MetadataMap;
use tonic::{Status, Streaming};
use tracing::warn;

pub use streaming::cancellable;

use crate::deadline::Deadline;
use crate::endpoint::{EndpointReport, EndpointState, InFlight};
use crate::metrics::UpstreamMetrics;
use crate::settings::UpstreamConfig;
use crate::shared::{BackendShared, lock};
use crate::{balance, metrics, retry};

/// The upstream handle of one backend in one route table: that table's settings
/// over the backend's shared, live endpoint set.
#[derive(Debug)]
pub struct Upstream {
    /// The backend's name, for metric labels and logs.
    pub name: Arc<str>,
    config: UpstreamConfig,
    shared: Arc<BackendShared>,
    metrics: UpstreamMetrics,
}

/// A unary call's outcome, with header and trailer metadata kept apart so the
/// serve stage can map them to `Grpc-Metadata-*` and `Grpc-Trailer-*`.
#[derive(Debug)]
pub struct UnaryReply {
    /// The backend's response header metadata.
    pub headers: MetadataMap,
    /// The response message, still encoded.
    pub message: Bytes,
    /// The backend's trailer metadata.
    pub trailers: MetadataMap,
}

/// The endpoint chosen for a call ([`Upstream::pick`]), before its request
/// is encoded. The call shapes take it ([`Upstream::unary`],
/// [`Upstream::start_with`]), so an endpoint is always chosen first.
#[derive(Debug)]
pub struct Picked(Arc<EndpointState>);

impl Picked {
    /// The digest of the endpoint's schema (its schema group), when known:
    /// the request is encoded, and the response decoded, with the route's
    /// plan for it.
    pub fn schema(&self) -> Option<u64> {
        crate::schema_filter::group(&self.0)
    }

    /// The endpoint's address.
    pub fn address(&self) -> &str {
        &self.0.addr
    }
}

/// A streaming call in progress (response headers received). Reads go through
/// it so that the call's deadline applies to each of them, with the same
/// status mapping as every other call shape ([`Deadline::run`]).
pub struct StreamReply {
    /// The backend's response header metadata, written before the first message.
    pub headers: MetadataMap,
    stream: Streaming<Bytes>,
    deadline: Deadline,
    /// Where the stream's final code is recorded (read after the entry's
    /// task-local scope has ended, so held here).
    call: Option<Arc<switchboard_observe::Call>>,
}

impl StreamReply {
    /// The next response message; `None` when the stream ended with OK, `Err`
    /// with the status that ended it otherwise.
    pub async fn message(&mut self) -> Result<Option<Bytes>, Status> {
        let result = self.deadline.run(self.stream.message()).await;
        if let Some(call) = &self.call {
            match &result {
                Ok(None) => call.set_grpc_code(0),
                Err(status) => call.set_grpc_code(status.code() as i32),
                Ok(Some(_)) => {}
            }
        }
        result
    }

    /// The trailer metadata, once the messages have been read.
    pub async fn trailers(&mut self) -> Result<MetadataMap, Status> {
        let trailers = self.deadline.run(self.stream.trailers()).await;
        if let (Some(call), Err(status)) = (&self.call, &trailers) {
            call.set_grpc_code(status.code() as i32);
        }
        let trailers = trailers?;
        Ok(trailers.unwrap_or_default())
    }
}

/// One backend in `/backends`.
#[derive(Debug, Clone, Serialize)]
pub struct BackendReport {
    /// The backend's name.
    pub name: String,
    /// Its balancing policy (`p2c_peak_ewma`, `least_request`, `round_robin`).
    pub balancing: &'static str,
    /// True when fewer endpoints than the panic threshold are available, so
    /// requests are spread over all of them regardless of health.
    pub panic_mode: bool,
    /// Every endpoint, with its state and statistics.
    pub endpoints: Vec<EndpointReport>,
}

/// A call attempt in progress on one endpoint: releases the in-flight counts and
/// records the outcome when finished.
struct Attempt {
    ep: Arc<EndpointState>,
    /// The request's record and the attempt's span (see `switchboard_observe`);
    /// `None` outside a request (health checks, tests).
    trace: Option<switchboard_observe::AttemptTrace>,
    _guard: InFlight,
    metrics: Arc<metrics::EndpointHandles>,
    started: Instant,
}

impl Attempt {
    /// Adds the request ID and trace context to the attempt's request headers.
    fn stamp(&self, headers: &mut http::HeaderMap) {
        if let Some(trace) = &self.trace {
            trace.stamp(headers);
        }
    }

    /// Adds the request ID and trace context to the attempt's metadata.
    fn stamp_metadata(&self, metadata: MetadataMap) -> MetadataMap {
        if self.trace.is_none() {
            return metadata;
        }
        let mut headers = metadata.into_headers();
        self.stamp(&mut headers);
        MetadataMap::from_headers(headers)
    }
}

/// Records the gRPC code a call ended with in the request's record.
pub(crate) fn record_code(code: tonic::Code) {
    if let Some(call) = switchboard_observe::current() {
        call.set_grpc_code(code as i32);
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
    }
}

impl Upstream {
    pub(crate) fn new(
        name: Arc<str>,
        config: UpstreamConfig,
        shared: Arc<BackendShared>,
        metrics: UpstreamMetrics,
    ) -> Self {
        Upstream {
            name,
            config,
            shared,
            metrics,
        }
    }

    /// Chooses the endpoint for the next call of `path`: the first step of
    /// every transcoded call, before its request is encoded, so that it can be
    /// encoded with the schema of the endpoint that receives it
    /// ([`Picked::schema`]). UNAVAILABLE (recorded as the call's code) when
    /// no endpoint can take it.
    pub fn pick(&self, path: &str) -> Result<Picked, Status> {
        self.choose(path, None, None)
            .map(Picked)
            .inspect_err(|status| {
                record_code(status.code());
            })
    }

    /// Chooses the endpoint for the next call of `path`, never `avoid` unless
    /// it is the only one. While the backend's endpoints serve different
    /// schemas, only those whose schema has `path` count (UNAVAILABLE when
    /// none does), and with `group` only those of that schema group (a retry,
    /// whose request was encoded for it); among them only available endpoints
    /// (not ejected, not failing health checks) are considered, unless fewer
    /// than `panic_threshold` of them are.
    pub(crate) fn choose(
        &self,
        path: &str,
        avoid: Option<&Arc<EndpointState>>,
        group: Option<u64>,
    ) -> Result<Arc<EndpointState>, Status> {
        let all = self.shared.members.load();
        let filtered: Vec<&Arc<EndpointState>>;
        let members: Vec<&Arc<EndpointState>> = if crate::schema_filter::skewed(&self.shared) {
            filtered = all
                .iter()
                .filter(|e| crate::schema_filter::serves(e, path, group))
                .collect();
            if filtered.is_empty() && !all.is_empty() {
                return Err(crate::schema_filter::unavailable(&self.name, path));
            }
            filtered
        } else {
            all.iter().collect()
        };
        let now = Instant::now();
        let allowed = |e: &&&Arc<EndpointState>| avoid.is_none_or(|a| !Arc::ptr_eq(a, e));
        let available: Vec<&Arc<EndpointState>> = members
            .iter()
            .filter(allowed)
            .filter(|e| e.is_available(now))
            .copied()
            .collect();
        let panic = available.is_empty()
            || (available.len() as f64) < self.config.panic_threshold * members.len() as f64;
        let candidates: Vec<&Arc<EndpointState>> = if panic {
            let others: Vec<_> = members.iter().filter(allowed).copied().collect();
            if others.is_empty() {
                members.clone()
            } else {
                others
            }
        } else {
            available
        };
        if candidates.is_empty() {
            return Err(crate::status::no_endpoints());
        }
        Ok(balance::choose(self.config.policy, &candidates, &self.shared.rr).clone())
    }

    fn begin(&self, ep: Arc<EndpointState>) -> Attempt {
        let metrics = match ep.handles.load_full() {
            Some(cached) if cached.backend == self.name => cached,
            Some(_) => Arc::new(self.metrics.handles(&self.name, &ep.addr)),
            None => {
                let fresh = Arc::new(self.metrics.handles(&self.name, &ep.addr));
                ep.handles.store(Some(fresh.clone()));
                fresh
            }
        };
        metrics.in_flight.inc();
        let trace = switchboard_observe::current().map(|call| call.attempt(&self.name, &ep.addr));
        Attempt {
            trace,
            _guard: ep.start(),
            ep,
            metrics,
            started: Instant::now(),
        }
    }

    /// Records how an attempt ended, for the balancer, outlier detection and metrics.
    fn finish(&self, attempt: &mut Attempt, result: Result<(), &Status>) {
        if let Some(trace) = attempt.trace.take() {
            match result {
                Ok(()) => trace.end(None, None),
                Err(s) => trace.end(Some(s.code() as i32), Some(s.message())),
            }
        }
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

    /// The smallest header list any of the backend's endpoints advertised
    /// (HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE), if one did: a call may go to any
    /// of them, so the serve stage keeps every call's metadata under it.
    /// Called on every request: the value is cached per backend and the
    /// endpoints are scanned again only after a connection's SETTINGS or the
    /// endpoint set changed.
    pub fn peer_header_list_limit(&self) -> Option<usize> {
        self.shared.header_list_limit.get(|| {
            self.shared
                .members
                .load()
                .iter()
                .filter_map(|e| e.conn.peer_max_header_list_size())
                .min()
        })
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
