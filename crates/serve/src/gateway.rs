//! The gateway's handler value: what every request reads (the live table, the
//! metrics, the applied settings, the observers) and how it is built. A leaf:
//! the entry (`entry.rs`, `Gateway::handle`), the edge, Connect and the
//! HTTP/JSON shapes all take it without importing each other.

use std::sync::Arc;

use switchboard_live::Live;

use crate::metrics::ServeMetrics;

/// The public listener's handler. Cheap to share: it only holds the live view.
#[derive(Debug)]
pub struct Gateway {
    pub(crate) live: Arc<Live>,
    pub(crate) metrics: ServeMetrics,
    /// Body and metadata limits and CORS (see `cors`), as the last applied
    /// config set them.
    pub(crate) applied: crate::applied::AppliedCache,
    /// grpc-gateway's `ServeMux` options (`http:`; see `route_lookup`).
    pub(crate) http: switchboard_config::HttpOptions,
    /// The access log and tracer (see `observed`).
    pub(crate) observers: crate::observed::Observers,
}

impl Gateway {
    /// A gateway serving whatever `live` publishes. `max_body_bytes` is the
    /// body limit until the reloader applies a config (whose
    /// `limits.max_body_bytes` then takes over).
    pub fn new(live: Arc<Live>, metrics: ServeMetrics, max_body_bytes: usize) -> Self {
        Gateway {
            live,
            metrics,
            applied: crate::applied::AppliedCache::new(
                max_body_bytes,
                crate::applied::DEFAULT_MAX_METADATA_BYTES,
                None,
            ),
            http: Default::default(),
            observers: Default::default(),
        }
    }

    /// Sets the access log and tracer (`access_log:`, `tracing:`, read at
    /// startup). Request IDs are always on (`request_id:` applies on reload).
    pub fn with_observers(mut self, observers: crate::observed::Observers) -> Self {
        self.observers = observers;
        self
    }

    /// Sets the forwarded-metadata limit (`limits.max_metadata_bytes`; default
    /// 8 KiB). Every call shape is held to it (see `metadata_limit`). Once the
    /// reloader has applied a config, its `limits.max_metadata_bytes` takes over.
    pub fn with_max_metadata_bytes(mut self, limit: usize) -> Self {
        self.applied = self.applied.with_max_metadata_bytes(&self.live, limit);
        self
    }

    /// Enables CORS on the public listener (`cors:` in the config); `None`, the
    /// default, sends no CORS headers. Once the reloader has applied a config,
    /// its `cors:` (and `limits.max_body_bytes`) take over.
    pub fn with_cors(mut self, cors: Option<switchboard_config::Cors>) -> Self {
        let current = self.applied.get(&self.live);
        self.applied = crate::applied::AppliedCache::new(
            current.max_body_bytes,
            current.max_metadata_bytes,
            cors,
        );
        self
    }
}
