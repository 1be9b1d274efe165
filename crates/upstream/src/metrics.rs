//! Prometheus metrics of the upstream side, per backend and endpoint: attempts
//! by result, requests in flight, the balancer's latency estimate, ejections, and
//! retries by outcome.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub backend: Arc<str>,
    pub endpoint: Arc<str>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    pub backend: Arc<str>,
    pub endpoint: Arc<str>,
    /// `ok` (any answer from the application, errors included), `endpoint_failure`
    /// (transport failure or UNAVAILABLE).
    pub result: &'static str,
}

/// Every `outcome` of [`RetryLabels`].
const RETRY_OUTCOMES: [&str; 3] = ["retried", "budget_exhausted", "no_other_endpoint"];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetryLabels {
    pub backend: Arc<str>,
    /// `retried`, `budget_exhausted` or `no_other_endpoint`.
    pub outcome: &'static str,
}

/// The per-call metric handles of one (backend, endpoint) pair. A `Family`
/// lookup hashes the labels under a lock; resolving the handles once per pair
/// keeps that off the request path. Creating them also makes every series
/// visible (at 0) from the endpoint's first call on.
#[derive(Debug, Clone)]
pub(crate) struct EndpointHandles {
    pub backend: Arc<str>,
    pub in_flight: Gauge,
    pub ok: Counter,
    pub failed: Counter,
    pub latency_ewma: Gauge<f64, AtomicU64>,
    pub ejections: Counter,
}

/// Handles to the upstream metrics; cloning shares the underlying values.
#[derive(Debug, Clone, Default)]
pub struct UpstreamMetrics {
    /// `switchboard_upstream_attempts_total{backend, endpoint, result}`.
    pub attempts: Family<AttemptLabels, Counter>,
    /// `switchboard_upstream_in_flight{backend, endpoint}`.
    pub in_flight: Family<EndpointLabels, Gauge>,
    /// `switchboard_upstream_latency_ewma_seconds{backend, endpoint}`: what the balancer
    /// sees.
    pub latency_ewma: Family<EndpointLabels, Gauge<f64, AtomicU64>>,
    /// `switchboard_upstream_ejections_total{backend, endpoint}`.
    pub ejections: Family<EndpointLabels, Counter>,
    /// `switchboard_upstream_retries_total{backend, outcome}`.
    pub retries: Family<RetryLabels, Counter>,
}

impl UpstreamMetrics {
    pub(crate) fn handles(&self, backend: &Arc<str>, endpoint: &Arc<str>) -> EndpointHandles {
        let labels = EndpointLabels {
            backend: backend.clone(),
            endpoint: endpoint.clone(),
        };
        let attempts = |result| {
            self.attempts
                .get_or_create(&AttemptLabels {
                    backend: backend.clone(),
                    endpoint: endpoint.clone(),
                    result,
                })
                .clone()
        };
        EndpointHandles {
            backend: backend.clone(),
            in_flight: self.in_flight.get_or_create(&labels).clone(),
            ok: attempts("ok"),
            failed: attempts("endpoint_failure"),
            latency_ewma: self.latency_ewma.get_or_create(&labels).clone(),
            ejections: self.ejections.get_or_create(&labels).clone(),
        }
    }

    /// Removes the series of the endpoint at `addr` under `backend` (the backend
    /// no longer lists it), and the endpoint's cached `handles` if they are that
    /// backend's. Calls still running on it count into handles nobody exports
    /// any more. (Given the endpoint's parts, not the endpoint: the endpoint
    /// holds metric handles, so metrics stay a leaf below it.)
    pub(crate) fn forget_endpoint(
        &self,
        backend: &Arc<str>,
        addr: &Arc<str>,
        handles: &arc_swap::ArcSwapOption<EndpointHandles>,
    ) {
        let labels = EndpointLabels {
            backend: backend.clone(),
            endpoint: addr.clone(),
        };
        for result in ["ok", "endpoint_failure"] {
            self.attempts.remove(&AttemptLabels {
                backend: backend.clone(),
                endpoint: addr.clone(),
                result,
            });
        }
        self.in_flight.remove(&labels);
        self.latency_ewma.remove(&labels);
        self.ejections.remove(&labels);
        if handles
            .load()
            .as_ref()
            .is_some_and(|h| h.backend == *backend)
        {
            handles.store(None);
        }
    }

    /// Removes the per-backend series of a backend that is no longer configured.
    pub(crate) fn forget_backend(&self, backend: &Arc<str>) {
        for outcome in RETRY_OUTCOMES {
            self.retries.remove(&RetryLabels {
                backend: backend.clone(),
                outcome,
            });
        }
    }

    /// Adds the upstream series to `registry` (once per process).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "switchboard_upstream_attempts",
            "Calls sent to each endpoint, by result (ok includes gRPC errors from the application)",
            self.attempts.clone(),
        );
        registry.register(
            "switchboard_upstream_in_flight",
            "Calls in flight per endpoint",
            self.in_flight.clone(),
        );
        registry.register(
            "switchboard_upstream_latency_ewma_seconds",
            "The balancer's peak-EWMA latency estimate per endpoint, as of its last call",
            self.latency_ewma.clone(),
        );
        registry.register(
            "switchboard_upstream_ejections",
            "Passive outlier ejections per endpoint",
            self.ejections.clone(),
        );
        registry.register(
            "switchboard_upstream_retries",
            "Retries of calls that failed before reaching a backend, by outcome",
            self.retries.clone(),
        );
    }
}
