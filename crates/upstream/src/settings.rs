//! Settings the upstream side is built with: connection settings (process-wide,
//! read at startup) and a backend's balancing, health and retry settings.

use std::time::Duration;

use crate::balance::Policy;
use crate::checker::HealthCheckConfig;
use crate::dns::DnsSettings;
use crate::outlier::OutlierConfig;
use crate::retry::RetryConfig;

/// Connection settings applied to every channel, and DNS settings. Process-wide:
/// they are read once at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSettings {
    /// How long opening a connection may take.
    pub connect_timeout: Duration,
    /// HTTP/2 keepalive PING interval (gRPC A8's KEEPALIVE_TIME), doubled for an
    /// endpoint whose server answers GOAWAY `too_many_pings`.
    pub keepalive: Duration,
    /// Ping connections with no call in flight too (A8's KEEPALIVE_WITHOUT_CALLS).
    pub keepalive_without_calls: bool,
    /// How long a PING may go unanswered before the connection is closed (and the
    /// next call reconnects).
    pub keepalive_timeout: Duration,
    /// Name servers and re-resolution of `dns:///` endpoints.
    pub dns: DnsSettings,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        ChannelSettings {
            connect_timeout: Duration::from_secs(2),
            keepalive: Duration::from_secs(300),
            keepalive_without_calls: false,
            keepalive_timeout: Duration::from_secs(10),
            dns: DnsSettings::default(),
        }
    }
}

/// A backend's balancing, health and retry settings (from its config entry).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamConfig {
    /// How each call picks an endpoint.
    pub policy: Policy,
    /// Below this fraction of available (not ejected, not unhealthy) endpoints,
    /// balance over all of them: a partial outage must not pile all traffic onto
    /// the few survivors, and a check that wrongly fails everywhere must not take
    /// the backend down. 0 disables.
    pub panic_threshold: f64,
    /// When failing endpoints are ejected, and for how long.
    pub outlier: OutlierConfig,
    /// Active checks; `None` (the default) relies on passive detection alone.
    pub health_check: Option<HealthCheckConfig>,
    /// Retries of calls that never reached a backend, and their budget.
    pub retry: RetryConfig,
    /// TLS to the endpoints (`backends[].tls`); `None`: plaintext h2c.
    pub tls: Option<std::sync::Arc<crate::tls::UpstreamTls>>,
    /// `backends[].grpc_compression: gzip`: request messages of transcoded
    /// calls are sent gzip-compressed (`grpc-encoding: gzip`). Replies are
    /// accepted compressed (gzip, zstd) whatever this says.
    pub gzip_requests: bool,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            policy: Policy::default(),
            panic_threshold: 0.5,
            outlier: OutlierConfig::default(),
            health_check: None,
            retry: RetryConfig::default(),
            tls: None,
            gzip_requests: false,
        }
    }
}
