//! The live-applicable settings (body and metadata limits, CORS) as the request path uses
//! them: compiled once per published [`Settings`], then shared by every request.
//!
//! A reload publishes new [`Settings`] into [`Live`]; the first request after it
//! sees a different `Arc`, compiles the CORS rules and caches the result, so a
//! changed `limits.max_body_bytes`, `limits.max_metadata_bytes` or `cors` applies to the next request without
//! a restart, and an unchanged one costs one pointer comparison per request.

use std::sync::Arc;

use arc_swap::ArcSwap;
use switchboard_live::{Live, Settings};

use crate::cors::Cors;

/// `limits.max_metadata_bytes` until a config is applied (the config's own
/// default).
pub(crate) const DEFAULT_MAX_METADATA_BYTES: usize = 8 * 1024;

/// The settings one request runs with.
#[derive(Debug)]
pub(crate) struct Applied {
    /// What this was compiled from; `None`: the defaults given to
    /// [`Gateway::new`](crate::Gateway::new), used until a config is applied.
    source: Option<Arc<Settings>>,
    pub(crate) max_body_bytes: usize,
    /// `limits.max_metadata_bytes` (see `metadata_limit`).
    pub(crate) max_metadata_bytes: usize,
    pub(crate) cors: Option<Cors>,
    /// `request_id.header`.
    pub(crate) request_id: http::HeaderName,
    /// `compression`.
    pub(crate) compression: switchboard_config::observability::Compression,
}

/// `request_id.header` until a config is applied.
fn default_request_id() -> http::HeaderName {
    http::HeaderName::from_static("x-request-id")
}

/// The compiled form of the live settings, refreshed when they change.
#[derive(Debug)]
pub(crate) struct AppliedCache {
    current: ArcSwap<Applied>,
}

impl AppliedCache {
    /// Starts from fixed settings (before any config is applied, and in tests).
    pub(crate) fn new(
        max_body_bytes: usize,
        max_metadata_bytes: usize,
        cors: Option<switchboard_config::Cors>,
    ) -> Self {
        AppliedCache {
            current: ArcSwap::from_pointee(Applied {
                source: None,
                max_body_bytes,
                max_metadata_bytes,
                cors: cors.map(Cors::new),
                request_id: default_request_id(),
                compression: Default::default(),
            }),
        }
    }

    /// The settings now in effect with another metadata limit (until a config
    /// is applied).
    pub(crate) fn with_max_metadata_bytes(&self, live: &Live, limit: usize) -> Self {
        let current = self.get(live);
        AppliedCache {
            current: ArcSwap::from_pointee(Applied {
                source: current.source.clone(),
                max_body_bytes: current.max_body_bytes,
                max_metadata_bytes: limit,
                cors: current.cors.clone(),
                request_id: current.request_id.clone(),
                compression: current.compression,
            }),
        }
    }

    /// The settings for a request starting now.
    pub(crate) fn get(&self, live: &Live) -> Arc<Applied> {
        let cached = self.current.load_full();
        let Some(settings) = live.settings() else {
            return cached;
        };
        if cached
            .source
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, &settings))
        {
            return cached;
        }
        let fresh = Arc::new(Applied {
            max_body_bytes: settings.max_body_bytes,
            max_metadata_bytes: settings.max_metadata_bytes,
            cors: settings.cors.clone().map(Cors::new),
            // Validated by the config loader.
            request_id: http::HeaderName::try_from(settings.request_id_header.as_str())
                .unwrap_or_else(|_| default_request_id()),
            compression: settings.compression,
            source: Some(settings),
        });
        self.current.store(fresh.clone());
        fresh
    }
}
