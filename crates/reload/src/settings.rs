//! Config -> upstream settings: the one place that knows both the YAML model
//! (`switchboard_config`) and the upstream crate's types, so neither depends on
//! the other.

use switchboard_config::{Balancing, Config, Traffic};
use switchboard_upstream::{
    ChannelSettings, DnsSettings, HealthCheckConfig, OutlierConfig, Policy, RetryConfig,
    UpstreamConfig,
};

/// The process-wide channel and DNS settings of `config` (`upstream:`).
pub fn channel_settings(config: &Config) -> ChannelSettings {
    let u = &config.upstream;
    ChannelSettings {
        connect_timeout: u.connect_timeout,
        keepalive: u.keepalive_interval,
        keepalive_without_calls: u.keepalive_without_calls,
        keepalive_timeout: u.keepalive_timeout,
        dns: DnsSettings {
            nameservers: u.dns_nameservers.clone(),
            refresh: u.dns_refresh,
        },
    }
}

/// One backend's balancing, health and retry settings.
pub fn upstream_config(t: &Traffic) -> UpstreamConfig {
    UpstreamConfig {
        policy: match t.balancing {
            Balancing::P2cPeakEwma => Policy::P2cPeakEwma,
            Balancing::LeastRequest => Policy::LeastRequest,
            Balancing::RoundRobin => Policy::RoundRobin,
        },
        panic_threshold: f64::from(t.panic_threshold_percent) / 100.0,
        outlier: OutlierConfig {
            consecutive_failures: t.outlier_detection.consecutive_failures,
            base_ejection: t.outlier_detection.base_ejection_time,
            max_ejection: t.outlier_detection.max_ejection_time,
        },
        health_check: t.health_check.as_ref().map(|h| HealthCheckConfig {
            interval: h.interval,
            timeout: h.timeout,
            healthy_threshold: h.healthy_threshold,
            unhealthy_threshold: h.unhealthy_threshold,
            service: h.service.clone(),
        }),
        retry: RetryConfig {
            ratio: f64::from(t.retries.budget_percent) / 100.0,
            min_per_second: f64::from(t.retries.min_per_second),
            ..RetryConfig::default()
        },
        // Set from the edge's prepared TLS clients when the table is published.
        tls: None,
        // Set from `backends[].grpc_compression` when the table is built.
        gzip_requests: false,
    }
}

/// A backend's TLS client for its upstream connections. Its identity is the
/// `tls:` block itself, so an unchanged block keeps its connections across
/// reloads. The verified name defaults to a `dns:///` endpoint's name.
pub(crate) fn upstream_tls(
    edge: &switchboard_config::edge::BackendEdge,
    client: &switchboard_edge::BackendTlsClient,
) -> std::sync::Arc<switchboard_upstream::UpstreamTls> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    format!("{:?}", edge.tls).hash(&mut h);
    std::sync::Arc::new(switchboard_upstream::UpstreamTls {
        id: h.finish(),
        config: client.config.clone(),
        server_name: client.server_name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_upstream_defaults() {
        let c = upstream_config(&Traffic::default());
        assert_eq!(c, UpstreamConfig::default());
        let config = switchboard_config::parse_str("", std::path::Path::new("x.yaml")).unwrap();
        assert_eq!(channel_settings(&config), ChannelSettings::default());
    }
}
