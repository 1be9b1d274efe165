//! Validation of the traffic keys: `upstream:`, `shutdown:` and each backend's
//! `balancing`, `panic_threshold`, `health_check`, `outlier_detection` and
//! `retries`. Same rules as the rest of the loader: every problem is collected
//! and points at its node.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::validator::Validator;
use crate::{
    Balancing, HealthCheck, OutlierDetection, Retries, Shutdown, Traffic, UpstreamSettings,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpstream {
    connect_timeout: Option<Spanned<String>>,
    keepalive_interval: Option<Spanned<String>>,
    keepalive_without_calls: Option<bool>,
    keepalive_timeout: Option<Spanned<String>>,
    dns: Option<RawDns>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDns {
    nameservers: Option<Vec<Spanned<String>>>,
    refresh: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawShutdown {
    delay: Option<Spanned<String>>,
    drain_timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealthCheck {
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    healthy_threshold: Option<Spanned<u64>>,
    unhealthy_threshold: Option<Spanned<u64>>,
    service: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutlier {
    consecutive_failures: Option<Spanned<u64>>,
    base_ejection_time: Option<Spanned<String>>,
    max_ejection_time: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetries {
    budget_percent: Option<Spanned<u64>>,
    min_per_second: Option<Spanned<u64>>,
}

/// A backend's traffic keys, gathered from `RawBackend` (serde's `flatten` cannot
/// be combined with `deny_unknown_fields`, so they are separate fields there).
pub(super) struct RawTraffic {
    pub balancing: Option<Spanned<String>>,
    pub panic_threshold: Option<Spanned<u64>>,
    pub health_check: Option<RawHealthCheck>,
    pub outlier_detection: Option<RawOutlier>,
    pub retries: Option<RawRetries>,
}

impl Validator {
    /// A duration that defaults when absent or invalid.
    fn duration_or(
        &mut self,
        key: &str,
        raw: Option<&Spanned<String>>,
        default: Duration,
    ) -> Duration {
        self.duration(key, raw, false).unwrap_or(default)
    }

    /// A whole number in `range`, or `default` (also after reporting a bad one).
    fn number(
        &mut self,
        key: &str,
        raw: Option<&Spanned<u64>>,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> u64 {
        match raw {
            None => default,
            Some(n) if range.contains(&n.value) => n.value,
            Some(n) => {
                let msg = format!(
                    "{key} must be between {} and {}, got {}",
                    range.start(),
                    range.end(),
                    n.value
                );
                self.error(&n.referenced, msg);
                default
            }
        }
    }

    pub(super) fn upstream_settings(&mut self, raw: Option<RawUpstream>) -> UpstreamSettings {
        let d = UpstreamSettings::default();
        let Some(raw) = raw else { return d };
        // In file order, so errors come out in reading order.
        let connect_timeout = self.duration_or(
            "upstream.connect_timeout",
            raw.connect_timeout.as_ref(),
            d.connect_timeout,
        );
        let keepalive_interval = self.duration_or(
            "upstream.keepalive_interval",
            raw.keepalive_interval.as_ref(),
            d.keepalive_interval,
        );
        let keepalive_timeout = self.duration_or(
            "upstream.keepalive_timeout",
            raw.keepalive_timeout.as_ref(),
            d.keepalive_timeout,
        );
        let dns = raw.dns.unwrap_or(RawDns {
            nameservers: None,
            refresh: None,
        });
        let mut dns_nameservers = Vec::new();
        for ns in dns.nameservers.unwrap_or_default() {
            let text = ns.value.trim();
            // A bare IP means the standard port.
            let parsed = text.parse::<SocketAddr>().or_else(|_| {
                text.parse::<std::net::IpAddr>()
                    .map(|ip| SocketAddr::new(ip, 53))
            });
            match parsed {
                Ok(addr) => dns_nameservers.push(addr),
                Err(_) => self.error(
                    &ns.referenced,
                    format!(
                        "invalid upstream.dns.nameservers entry `{}`: expected an IP address, optionally with :port",
                        ns.value
                    ),
                ),
            }
        }
        UpstreamSettings {
            connect_timeout,
            keepalive_interval,
            keepalive_without_calls: raw
                .keepalive_without_calls
                .unwrap_or(d.keepalive_without_calls),
            keepalive_timeout,
            dns_nameservers,
            dns_refresh: self.duration_or(
                "upstream.dns.refresh",
                dns.refresh.as_ref(),
                d.dns_refresh,
            ),
        }
    }

    pub(super) fn shutdown(&mut self, raw: Option<RawShutdown>) -> Shutdown {
        let d = Shutdown::default();
        let Some(raw) = raw else { return d };
        Shutdown {
            delay: self
                .duration("shutdown.delay", raw.delay.as_ref(), true)
                .unwrap_or(d.delay),
            drain_timeout: self
                .duration("shutdown.drain_timeout", raw.drain_timeout.as_ref(), true)
                .unwrap_or(d.drain_timeout),
        }
    }

    pub(super) fn traffic(&mut self, who: &str, raw: RawTraffic) -> Traffic {
        let d = Traffic::default();
        let balancing = match raw.balancing {
            None => d.balancing,
            Some(b) => match b.value.as_str() {
                "p2c_peak_ewma" => Balancing::P2cPeakEwma,
                "least_request" => Balancing::LeastRequest,
                "round_robin" => Balancing::RoundRobin,
                other => {
                    self.error(
                        &b.referenced,
                        format!(
                            "{who}: unknown balancing `{other}`: expected p2c_peak_ewma, least_request or round_robin"
                        ),
                    );
                    d.balancing
                }
            },
        };
        let panic_threshold_percent = self.number(
            &format!("{who}: panic_threshold"),
            raw.panic_threshold.as_ref(),
            0..=100,
            d.panic_threshold_percent.into(),
        ) as u8;

        let health_check = raw.health_check.map(|h| {
            let d = HealthCheck::default();
            HealthCheck {
                interval: self.duration_or(
                    &format!("{who}: health_check.interval"),
                    h.interval.as_ref(),
                    d.interval,
                ),
                timeout: self.duration_or(
                    &format!("{who}: health_check.timeout"),
                    h.timeout.as_ref(),
                    d.timeout,
                ),
                healthy_threshold: self.number(
                    &format!("{who}: health_check.healthy_threshold"),
                    h.healthy_threshold.as_ref(),
                    1..=100,
                    d.healthy_threshold.into(),
                ) as u32,
                unhealthy_threshold: self.number(
                    &format!("{who}: health_check.unhealthy_threshold"),
                    h.unhealthy_threshold.as_ref(),
                    1..=100,
                    d.unhealthy_threshold.into(),
                ) as u32,
                service: h.service.unwrap_or_default(),
            }
        });

        let od = OutlierDetection::default();
        let outlier_detection = match raw.outlier_detection {
            None => od,
            Some(o) => {
                let out = OutlierDetection {
                    consecutive_failures: self.number(
                        &format!("{who}: outlier_detection.consecutive_failures"),
                        o.consecutive_failures.as_ref(),
                        0..=1000,
                        od.consecutive_failures.into(),
                    ) as u32,
                    base_ejection_time: self.duration_or(
                        &format!("{who}: outlier_detection.base_ejection_time"),
                        o.base_ejection_time.as_ref(),
                        od.base_ejection_time,
                    ),
                    max_ejection_time: self.duration_or(
                        &format!("{who}: outlier_detection.max_ejection_time"),
                        o.max_ejection_time.as_ref(),
                        od.max_ejection_time,
                    ),
                };
                if out.max_ejection_time < out.base_ejection_time
                    && let Some(at) = o.max_ejection_time.as_ref()
                {
                    self.error(
                        &at.referenced,
                        format!(
                            "{who}: outlier_detection.max_ejection_time must not be less than base_ejection_time"
                        ),
                    );
                }
                out
            }
        };

        let rd = Retries::default();
        let retries = match raw.retries {
            None => rd,
            Some(r) => Retries {
                budget_percent: self.number(
                    &format!("{who}: retries.budget_percent"),
                    r.budget_percent.as_ref(),
                    0..=100,
                    rd.budget_percent.into(),
                ) as u32,
                min_per_second: self.number(
                    &format!("{who}: retries.min_per_second"),
                    r.min_per_second.as_ref(),
                    0..=10_000,
                    rd.min_per_second.into(),
                ) as u32,
            },
        };

        Traffic {
            balancing,
            panic_threshold_percent,
            health_check,
            outlier_detection,
            retries,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::load::test_support::{errors, parse};

    #[test]
    fn defaults() {
        let c = parse("backends:\n  - name: a\n    endpoints: [h:1]\n").unwrap();
        assert_eq!(c.upstream, UpstreamSettings::default());
        assert_eq!(c.shutdown, Shutdown::default());
        assert_eq!(c.shutdown.drain_timeout, Duration::from_secs(30));
        let t = &c.backends[0].traffic;
        assert_eq!(*t, Traffic::default());
        assert_eq!(t.balancing, Balancing::P2cPeakEwma);
        assert_eq!(t.panic_threshold_percent, 50);
        assert_eq!(t.health_check, None);
    }

    #[test]
    fn every_traffic_key() {
        let c = parse(
            r#"
upstream:
  connect_timeout: 1s
  keepalive_interval: 10s
  keepalive_without_calls: true
  keepalive_timeout: 3s
  dns:
    nameservers: ["127.0.0.1:5353", "10.0.0.10"]
    refresh: 5s
shutdown:
  delay: 2s
  drain_timeout: 45s
backends:
  - name: a
    endpoints: ["dns:///svc.ns.svc.cluster.local:50051", "10.0.0.1:1"]
    balancing: least_request
    panic_threshold: 30
    health_check:
      interval: 2s
      timeout: 500ms
      healthy_threshold: 2
      unhealthy_threshold: 3
      service: acme.Svc
    outlier_detection:
      consecutive_failures: 7
      base_ejection_time: 1s
      max_ejection_time: 1m
    retries:
      budget_percent: 10
      min_per_second: 3
  - name: b
    endpoints: [h:1]
    balancing: round_robin
    health_check: {}
"#,
        )
        .unwrap_or_else(|e| panic!("{e:#?}"));
        assert_eq!(
            c.upstream,
            UpstreamSettings {
                connect_timeout: Duration::from_secs(1),
                keepalive_interval: Duration::from_secs(10),
                keepalive_without_calls: true,
                keepalive_timeout: Duration::from_secs(3),
                dns_nameservers: vec![
                    "127.0.0.1:5353".parse().unwrap(),
                    "10.0.0.10:53".parse().unwrap()
                ],
                dns_refresh: Duration::from_secs(5),
            }
        );
        assert_eq!(
            c.shutdown,
            Shutdown {
                delay: Duration::from_secs(2),
                drain_timeout: Duration::from_secs(45)
            }
        );
        let a = &c.backends[0];
        assert_eq!(a.endpoints[0], "dns:///svc.ns.svc.cluster.local:50051");
        assert_eq!(
            a.traffic,
            Traffic {
                balancing: Balancing::LeastRequest,
                panic_threshold_percent: 30,
                health_check: Some(HealthCheck {
                    interval: Duration::from_secs(2),
                    timeout: Duration::from_millis(500),
                    healthy_threshold: 2,
                    unhealthy_threshold: 3,
                    service: "acme.Svc".into(),
                }),
                outlier_detection: OutlierDetection {
                    consecutive_failures: 7,
                    base_ejection_time: Duration::from_secs(1),
                    max_ejection_time: Duration::from_secs(60),
                },
                retries: Retries {
                    budget_percent: 10,
                    min_per_second: 3
                },
            }
        );
        let b = &c.backends[1].traffic;
        assert_eq!(b.balancing, Balancing::RoundRobin);
        // An empty mapping turns checks on with the defaults.
        assert_eq!(b.health_check, Some(HealthCheck::default()));
    }

    #[test]
    fn bad_values_point_at_their_node() {
        let errs = errors(
            "backends:\n  - name: a\n    endpoints: [h:1]\n    balancing: fastest\n    panic_threshold: 150\n    health_check:\n      unhealthy_threshold: 0\n      interval: 0s\n    outlier_detection:\n      base_ejection_time: 10s\n      max_ejection_time: 1s\n    retries:\n      budget_percent: 101\n",
        );
        let expected = [
            "/etc/sb.yaml:4:16: backend `a`: unknown balancing `fastest`: expected p2c_peak_ewma, least_request or round_robin",
            "/etc/sb.yaml:5:22: backend `a`: panic_threshold must be between 0 and 100, got 150",
            "/etc/sb.yaml:7:28: backend `a`: health_check.unhealthy_threshold must be between 1 and 100, got 0",
            "/etc/sb.yaml:8:17: backend `a`: health_check.interval must be greater than 0",
            "/etc/sb.yaml:11:26: backend `a`: outlier_detection.max_ejection_time must not be less than base_ejection_time",
            "/etc/sb.yaml:13:23: backend `a`: retries.budget_percent must be between 0 and 100, got 101",
        ];
        assert_eq!(errs, expected);
    }

    #[test]
    fn bad_process_settings() {
        let errs = errors(
            "upstream:\n  connect_timeout: fast\n  dns:\n    nameservers: [\"dns.google\"]\nshutdown:\n  drain_timeout: 30\n",
        );
        assert_eq!(errs.len(), 3, "{errs:#?}");
        assert!(
            errs[0].starts_with("/etc/sb.yaml:2:20: invalid upstream.connect_timeout `fast`"),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with(
                "/etc/sb.yaml:4:19: invalid upstream.dns.nameservers entry `dns.google`"
            ),
            "{errs:?}"
        );
        assert!(
            errs[2].starts_with(
                "/etc/sb.yaml:6:18: invalid shutdown.drain_timeout `30`: missing unit"
            ),
            "{errs:?}"
        );
    }

    /// The config embedded in the Kubernetes example's ConfigMap must stay valid.
    #[test]
    fn kubernetes_example_config_parses() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/kubernetes/gateway.yaml");
        let manifest = std::fs::read_to_string(&path).unwrap();
        let block = manifest
            .split("switchboard.yaml: |\n")
            .nth(1)
            .and_then(|rest| rest.split("\n---").next())
            .expect("ConfigMap with switchboard.yaml");
        let yaml: String = block
            .lines()
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let c = parse(&yaml).unwrap_or_else(|e| panic!("{e:#?}"));
        assert_eq!(c.admin, "0.0.0.0:9901".parse().unwrap());
        assert!(
            c.backends
                .iter()
                .all(|b| b.endpoints[0].starts_with("dns:///"))
        );
    }

    #[test]
    fn unknown_traffic_key_suggests() {
        let errs = errors(
            "backends:\n  - name: a\n    endpoints: [h:1]\n    health_check:\n      intervl: 1s\n",
        );
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0]
                .starts_with("/etc/sb.yaml:5:7: unknown key `intervl` (did you mean `interval`?)"),
            "{errs:?}"
        );
    }
}
