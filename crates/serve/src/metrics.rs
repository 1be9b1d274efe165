//! Prometheus metrics of the request path: requests by backend, route and
//! status, and a latency histogram per backend.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub backend: Arc<str>,
    /// `METHOD template`, or `unmatched`.
    pub route: Arc<str>,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct LatencyLabels {
    pub backend: Arc<str>,
}

/// Handles to the serve stage's metrics; cloning shares the underlying values.
#[derive(Debug, Clone)]
pub struct ServeMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
    /// The request series created so far, by backend: a `Family` cannot list
    /// its label sets, and a removed backend's series must leave `/metrics`.
    known: Arc<Mutex<HashMap<Arc<str>, HashSet<RequestLabels>>>>,
}

impl Default for ServeMetrics {
    fn default() -> Self {
        ServeMetrics {
            known: Arc::default(),
            requests: Family::default(),
            // 100µs .. ~52s
            latency: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0001, 2.0, 20))
            }),
        }
    }
}

impl ServeMetrics {
    /// Counts one request of a proxied protocol (gRPC, gRPC-Web, Connect) and,
    /// when it was routed (`started`), observes its latency.
    pub(crate) fn record(
        &self,
        backend: &str,
        route: Arc<str>,
        status: u16,
        started: Option<std::time::Instant>,
    ) {
        let backend: Arc<str> = backend.into();
        self.count(RequestLabels {
            backend: backend.clone(),
            route,
            status,
        });
        if let Some(started) = started {
            self.observe(backend, started.elapsed().as_secs_f64());
        }
    }

    /// Counts one finished request. Only a series' first request takes the
    /// bookkeeping lock.
    pub fn count(&self, labels: RequestLabels) {
        if let Some(counter) = self.requests.get(&labels) {
            counter.inc();
            return;
        }
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(labels.backend.clone())
            .or_default()
            .insert(labels.clone());
        self.requests.get_or_create(&labels).inc();
    }

    /// Records one request's latency through the gateway.
    pub fn observe(&self, backend: Arc<str>, seconds: f64) {
        self.latency
            .get_or_create(&LatencyLabels { backend })
            .observe(seconds);
    }

    /// Removes every series of `backend` (no longer configured).
    pub fn forget_backend(&self, backend: &str) {
        let known = self
            .known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(backend);
        for labels in known.into_iter().flatten() {
            self.requests.remove(&labels);
        }
        self.latency.remove(&LatencyLabels {
            backend: backend.into(),
        });
    }

    /// Adds the request path's series to `registry` (once per process).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "switchboard_requests",
            "HTTP requests by backend, route and HTTP status",
            self.requests.clone(),
        );
        registry.register(
            "switchboard_request_duration_seconds",
            "Request latency through the gateway, by backend",
            self.latency.clone(),
        );
    }
}
