//! Process-wide settings that a reload applies without a restart: the body
//! and metadata limits, CORS, the watcher's debounce and the shutdown timings.
//!
//! The reloader publishes them with each table it builds from the file
//! ([`Live::set_settings`](crate::Live::set_settings)); readers load them at the
//! moment they need them (each request, each debounce window, the shutdown), so
//! a reload changes them without restarting anything. Settings read only once at
//! startup (the listeners' addresses, the upstream channel settings) are not
//! here: a change to those is reported in `ReloadStatus::restart_required`.

use std::time::Duration;

use switchboard_config::observability::Compression;
use switchboard_config::{Config, Cors, Shutdown};

/// The live-applicable part of a [`Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `limits.max_body_bytes`: the largest request body (or streamed message).
    pub max_body_bytes: usize,
    /// `limits.max_metadata_bytes`: the largest forwarded metadata (HTTP/2
    /// header-list size).
    pub max_metadata_bytes: usize,
    /// `cors`: browser access rules; `None` sends no CORS headers.
    pub cors: Option<Cors>,
    /// `reload.debounce`: how long the file watcher waits for events to settle.
    pub reload_debounce: Duration,
    /// `shutdown`: readiness delay and drain timeout.
    pub shutdown: Shutdown,
    /// `request_id.header`: the request ID's header (lower case).
    pub request_id_header: String,
    /// `compression`: HTTP/JSON response compression.
    pub compression: Compression,
}

impl Settings {
    /// The settings of `config` that apply live.
    pub fn of(config: &Config) -> Self {
        Settings {
            max_body_bytes: config.max_body_bytes,
            max_metadata_bytes: config.max_metadata_bytes,
            cors: config.cors.clone(),
            reload_debounce: config.reload_debounce,
            shutdown: config.shutdown,
            request_id_header: config.observability.request_id.header.clone(),
            compression: config.observability.compression,
        }
    }
}
