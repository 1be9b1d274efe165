//! The traffic part of the model: how the gateway connects to, balances over,
//! checks and retries a backend's endpoints, and how it shuts down. Defaults
//! here are the documented defaults of `config/switchboard.yaml`.

use std::net::SocketAddr;
use std::time::Duration;

/// Process-wide connection and DNS settings (`upstream:`). Read at startup; a
/// reload that changes them is reported but takes effect on restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSettings {
    /// TCP connect timeout per endpoint. Default 2s.
    pub connect_timeout: Duration,
    /// HTTP/2 PING interval on a connection with calls in flight (gRPC A8's
    /// KEEPALIVE_TIME). Default 5m: gRPC servers' default minimum
    /// (`min_recv_ping_interval_without_data`); more often earns GOAWAY
    /// `too_many_pings`.
    pub keepalive_interval: Duration,
    /// Also ping connections with no call in flight (A8's
    /// KEEPALIVE_WITHOUT_CALLS). Default false: gRPC servers refuse such pings
    /// unless they permit them (`keepalive_permit_without_calls`).
    pub keepalive_without_calls: bool,
    /// A PING unanswered this long closes the connection. Default 10s.
    pub keepalive_timeout: Duration,
    /// Nameservers for `dns:///` endpoints; empty means the system's. Default empty.
    pub dns_nameservers: Vec<SocketAddr>,
    /// Re-resolution interval of `dns:///` endpoints. Default 30s.
    pub dns_refresh: Duration,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        UpstreamSettings {
            connect_timeout: Duration::from_secs(2),
            keepalive_interval: Duration::from_secs(300),
            keepalive_without_calls: false,
            keepalive_timeout: Duration::from_secs(10),
            dns_nameservers: Vec::new(),
            dns_refresh: Duration::from_secs(30),
        }
    }
}

/// Graceful shutdown (`shutdown:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shutdown {
    /// Time between failing `/readyz` and closing the listeners, so load balancers
    /// stop sending new connections first. Default 0s.
    pub delay: Duration,
    /// How long in-flight requests may take to finish after the listeners close.
    /// Default 30s.
    pub drain_timeout: Duration,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            delay: Duration::ZERO,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Per-request endpoint choice (`balancing:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balancing {
    /// Power of two choices over peak-EWMA latency × in-flight requests.
    #[default]
    P2cPeakEwma,
    /// Power of two choices over in-flight requests.
    LeastRequest,
    /// Each endpoint in turn, for backends whose calls cost the same.
    RoundRobin,
}

/// A backend's traffic settings: balancing, health, outliers, retries.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    /// How each call picks an endpoint (`balancing:`).
    pub balancing: Balancing,
    /// Percent of endpoints that must be available (not ejected, not unhealthy)
    /// for unavailable ones to be skipped; below it, all are used. Default 50.
    pub panic_threshold_percent: u8,
    /// Active grpc.health.v1 checks; off unless configured.
    pub health_check: Option<HealthCheck>,
    /// Passive ejection of failing endpoints (`outlier_detection:`).
    pub outlier_detection: OutlierDetection,
    /// The budget for retrying calls that never reached a backend (`retries:`).
    pub retries: Retries,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            balancing: Balancing::default(),
            panic_threshold_percent: 50,
            health_check: None,
            outlier_detection: OutlierDetection::default(),
            retries: Retries::default(),
        }
    }
}

/// `health_check:` of a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// Default 5s.
    pub interval: Duration,
    /// Default 1s.
    pub timeout: Duration,
    /// Passing checks in a row that make an endpoint healthy again. Default 1.
    pub healthy_threshold: u32,
    /// Failing checks in a row that make it unhealthy. Default 2.
    pub unhealthy_threshold: u32,
    /// Service name asked about; "" (default) is the server as a whole.
    pub service: String,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
            healthy_threshold: 1,
            unhealthy_threshold: 2,
            service: String::new(),
        }
    }
}

/// `outlier_detection:` of a backend (passive ejection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutlierDetection {
    /// Transport failures or UNAVAILABLE in a row that eject an endpoint; 0
    /// disables. Default 5.
    pub consecutive_failures: u32,
    /// First ejection time, doubled per ejection in a row. Default 5s.
    pub base_ejection_time: Duration,
    /// Cap of the ejection time. Default 2m.
    pub max_ejection_time: Duration,
}

impl Default for OutlierDetection {
    fn default() -> Self {
        OutlierDetection {
            consecutive_failures: 5,
            base_ejection_time: Duration::from_secs(5),
            max_ejection_time: Duration::from_secs(120),
        }
    }
}

/// `retries:` of a backend (unary calls that failed before reaching a backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries {
    /// Retries allowed as a percentage of requests; 0 disables. Default 20.
    pub budget_percent: u32,
    /// Retries per second allowed regardless of traffic. Default 10.
    pub min_per_second: u32,
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            budget_percent: 20,
            min_per_second: 10,
        }
    }
}
