//! Everything known about one endpoint address: its HTTP/2 channel, requests in
//! flight, latency estimate, passive-ejection and health-check state, and recent
//! errors.
//!
//! One [`EndpointState`] exists per address in the cache, shared by every backend
//! and every route table that lists the address, so a reload or a DNS refresh
//! that keeps an endpoint keeps its connection *and* what was learned about it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::conn::Conn;
use crate::ewma::PeakEwma;
use crate::metrics::EndpointHandles;
use crate::outlier::{OutlierConfig, OutlierState, Verdict};

/// How many recent errors `/backends` shows per endpoint.
const RECENT_ERRORS: usize = 5;

/// Result of the active health check, if one runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No check configured, or none completed yet: assumed healthy.
    Unknown = 0,
    /// The last check said SERVING.
    Healthy = 1,
    /// The last checks failed or said NOT_SERVING: no traffic unless in panic mode.
    Unhealthy = 2,
}

/// One endpoint address and what is known about it.
#[derive(Debug)]
pub struct EndpointState {
    pub addr: Arc<str>,
    /// The endpoint's HTTP/2 connection (opened on first use).
    pub(crate) conn: Conn,
    in_flight: AtomicUsize,
    pub(crate) ewma: PeakEwma,
    outlier: Mutex<OutlierState>,
    health: AtomicU8,
    /// Health-check task for this endpoint, with the settings it runs with.
    pub(crate) checker: Mutex<Option<crate::checker::Checker>>,
    /// Set once the connection was opened ahead of traffic (see `health::warm_up`).
    pub(crate) warmed: tokio::sync::OnceCell<()>,
    requests: AtomicU64,
    failures: AtomicU64,
    recent: Mutex<VecDeque<RecentError>>,
    /// Metric handles for the first backend that calls this endpoint (nearly
    /// always the only one); others look theirs up per call. Emptied when that
    /// backend stops listing the endpoint, whose series are then removed.
    pub(crate) handles: arc_swap::ArcSwapOption<EndpointHandles>,
    /// Its schema's digest and methods, when known (see `schema_filter`).
    pub(crate) schema: arc_swap::ArcSwapOption<Served>,
}

/// What one endpoint serves, once discovered: its schema's digest (its schema
/// group) and that schema's methods (see `schema_filter`).
#[derive(Debug)]
pub(crate) struct Served {
    pub(crate) digest: u64,
    pub(crate) methods: Arc<std::collections::HashSet<String>>,
}

/// An error kept for `/backends`.
#[derive(Debug, Clone, Serialize)]
pub struct RecentError {
    /// Seconds since the Unix epoch.
    pub at: u64,
    /// What failed, as logged.
    pub message: String,
}

/// Decrements the in-flight count when the call it guards ends (however it ends).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<EndpointState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl EndpointState {
    pub(crate) fn new(addr: &str, conn: Conn) -> Self {
        EndpointState {
            addr: addr.into(),
            conn,
            in_flight: AtomicUsize::new(0),
            ewma: PeakEwma::new(Instant::now()),
            outlier: Mutex::default(),
            health: AtomicU8::new(Health::Unknown as u8),
            checker: Mutex::new(None),
            warmed: tokio::sync::OnceCell::new(),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            recent: Mutex::default(),
            handles: arc_swap::ArcSwapOption::empty(),
            schema: arc_swap::ArcSwapOption::empty(),
        }
    }

    #[cfg(test)]
    pub(crate) fn for_test(addr: &str) -> Self {
        let settings = crate::conn::ConnSettings {
            connect_timeout: Duration::from_secs(1),
            keepalive: Duration::from_secs(300),
            keepalive_without_calls: false,
            keepalive_timeout: Duration::from_secs(10),
        };
        Self::new(addr, Conn::new(addr, settings).expect("valid test address"))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts a call as in flight until the returned guard drops.
    pub(crate) fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    pub fn health(&self) -> Health {
        match self.health.load(Ordering::Relaxed) {
            1 => Health::Healthy,
            2 => Health::Unhealthy,
            _ => Health::Unknown,
        }
    }

    pub(crate) fn set_health(&self, h: Health) {
        self.health.store(h as u8, Ordering::Relaxed);
    }

    fn outlier(&self) -> std::sync::MutexGuard<'_, OutlierState> {
        self.outlier.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_ejected(&self, now: Instant) -> bool {
        self.outlier().is_ejected(now)
    }

    /// Whether the chooser may use this endpoint (outside panic mode).
    pub(crate) fn is_available(&self, now: Instant) -> bool {
        self.health() != Health::Unhealthy && !self.is_ejected(now)
    }

    /// Records a call that got an answer from the backend (any status but
    /// UNAVAILABLE): it clears the failure streak.
    pub(crate) fn succeeded(&self, rtt: Duration) {
        self.ewma.observe(rtt, Instant::now());
        self.outlier().success();
    }

    /// Records a transport failure or UNAVAILABLE. The latency estimate is
    /// penalised (a fast-failing endpoint must not look attractive) and the
    /// failure counts towards ejection. Returns the ejection time if this failure
    /// ejected the endpoint.
    pub(crate) fn failed(
        &self,
        rtt: Duration,
        message: &str,
        cfg: &OutlierConfig,
    ) -> Option<Duration> {
        let now = Instant::now();
        let current = Duration::from_nanos(self.ewma.estimate_ns(now) as u64);
        let penalty = rtt
            .max(current * 10)
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        self.ewma.observe(penalty, now);
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.note_error(message);
        match self.outlier().failure(cfg, now) {
            Verdict::Ejected(t) => Some(t),
            Verdict::Counted => None,
        }
    }

    pub(crate) fn note_error(&self, message: &str) {
        let at = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT_ERRORS {
            recent.pop_front();
        }
        recent.push_back(RecentError {
            at,
            message: message.chars().take(300).collect(),
        });
    }

    /// The state shown by `/backends`. `member` is false for an endpoint that was
    /// removed from its backend but still has requests in flight.
    pub fn report(&self, member: bool) -> EndpointReport {
        let now = Instant::now();
        let ejected_for = self.outlier().ejected_for(now);
        let health = self.health();
        let state = if !member {
            "draining"
        } else if health == Health::Unhealthy {
            "unhealthy"
        } else if ejected_for.is_some() {
            "ejected"
        } else {
            "healthy"
        };
        EndpointReport {
            address: self.addr.to_string(),
            state,
            health_check: health,
            ejected_for_ms: ejected_for.map(|d| d.as_millis() as u64),
            in_flight: self.in_flight(),
            latency_ewma_ms: self.ewma.estimate_ns(now) / 1e6,
            requests: self.requests.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            recent_errors: self
                .recent
                .lock()
                .map(|r| r.iter().rev().cloned().collect())
                .unwrap_or_default(),
        }
    }
}

/// One endpoint in `/backends`.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointReport {
    /// The endpoint's `host:port` (a resolved address for `dns:///`).
    pub address: String,
    /// `healthy`, `ejected` (passive outlier detection), `unhealthy` (active health
    /// check) or `draining` (removed from the backend, requests still in flight).
    pub state: &'static str,
    /// The active health check's last verdict.
    pub health_check: Health,
    /// Time left in an outlier ejection; `None` when not ejected.
    pub ejected_for_ms: Option<u64>,
    /// Calls in flight on the endpoint now.
    pub in_flight: usize,
    /// The peak-EWMA latency estimate the balancer uses, in milliseconds.
    pub latency_ewma_ms: f64,
    /// Attempts sent to this endpoint since it was first configured.
    pub requests: u64,
    /// Transport failures and UNAVAILABLE answers among them.
    pub failures: u64,
    /// Most recent first.
    pub recent_errors: Vec<RecentError>,
}
