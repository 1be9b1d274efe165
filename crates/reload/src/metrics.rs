//! Prometheus metrics of the swap stage: reloads by trigger and outcome,
//! discovery failures by backend, the live version and route count.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    pub trigger: &'static str,
    /// `applied`, `unchanged`, `rejected`.
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    pub backend: String,
}

/// Handles to the swap stage's metrics; cloning shares the underlying values.
#[derive(Debug, Clone, Default)]
pub struct SwapMetrics {
    /// `switchboard_reloads_total{trigger, outcome}`.
    pub reloads: Family<ReloadLabels, Counter>,
    /// `switchboard_discovery_errors_total{backend}`.
    pub discovery_errors: Family<BackendLabels, Counter>,
    /// 1 when the backend's schema is fresh, 0 when stale or missing.
    pub backend_discovered: Family<BackendLabels, Gauge>,
    /// `switchboard_table_version`: the live table's version.
    pub version: Gauge,
    /// `switchboard_routes`: routes in the live table.
    pub routes: Gauge,
    /// Backends whose endpoints serve more than one schema (a rollout in
    /// progress, or one stuck half-way).
    pub schema_skew: Gauge,
}

impl SwapMetrics {
    /// Removes the series of a backend that is no longer configured.
    pub(crate) fn forget_backend(&self, backend: &str) {
        let labels = BackendLabels {
            backend: backend.to_string(),
        };
        self.discovery_errors.remove(&labels);
        self.backend_discovered.remove(&labels);
    }

    /// Adds the reload loop's series to `registry` (once per process).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "switchboard_reloads",
            "Route table reloads by trigger and outcome",
            self.reloads.clone(),
        );
        registry.register(
            "switchboard_discovery_errors",
            "Failed discovery attempts by backend",
            self.discovery_errors.clone(),
        );
        registry.register(
            "switchboard_backend_discovered",
            "1 if the backend's API was discovered by the last attempt, else 0",
            self.backend_discovered.clone(),
        );
        registry.register(
            "switchboard_table_version",
            "Version of the live route table",
            self.version.clone(),
        );
        registry.register(
            "switchboard_backends_schema_skew",
            "Backends whose endpoints serve more than one schema",
            self.schema_skew.clone(),
        );
        registry.register(
            "switchboard_routes",
            "Routes in the live table",
            self.routes.clone(),
        );
    }
}
