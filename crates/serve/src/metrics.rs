//! Prometheus metrics of the request path: requests by backend, route and
//! status, and a latency histogram per backend.

use std::sync::Arc;

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
pub struct LatencyLabels {
    pub backend: Arc<str>,
}

/// Handles to the serve stage's metrics; cloning shares the underlying values.
#[derive(Debug, Clone)]
pub struct ServeMetrics {
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<LatencyLabels, Histogram>,
}

impl Default for ServeMetrics {
    fn default() -> Self {
        ServeMetrics {
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
        self.requests
            .get_or_create(&RequestLabels {
                backend: backend.clone(),
                route,
                status,
            })
            .inc();
        if let Some(started) = started {
            self.latency
                .get_or_create(&LatencyLabels { backend })
                .observe(started.elapsed().as_secs_f64());
        }
    }

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
