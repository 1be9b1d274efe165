//! When a failed call may be tried again, and how many retries a backend can
//! afford.
//!
//! Only failures that happened before the backend answered anything are retried
//! (see [`is_retryable`]), only for unary calls (the request bytes are in hand),
//! at most once, on a different endpoint. A [`RetryBudget`] bounds retries to a
//! fraction of recent requests plus a small floor, so in an outage the gateway
//! adds at most that fraction of load instead of doubling it (Finagle's and
//! Linkerd's retry budget).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tonic::{Code, Status};

/// Retry-budget settings of one backend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    /// Retries allowed as a fraction of requests (0.2 = one retry per five requests).
    /// 0 disables retries.
    pub ratio: f64,
    /// Retries per second allowed regardless of traffic, so a quiet backend can
    /// still retry its occasional failure.
    pub min_per_second: f64,
    /// How long deposits count: the budget is "ratio of the requests of about the
    /// last `window`".
    pub window: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            ratio: 0.2,
            min_per_second: 10.0,
            window: Duration::from_secs(10),
        }
    }
}

/// A token bucket: each request deposits `ratio` tokens, each retry withdraws
/// one, and `min_per_second` tokens trickle in over time. The balance decays with
/// time constant `window`, so it holds roughly "ratio × the last window's requests"
/// and an idle hour does not bank a retry storm.
#[derive(Debug)]
pub(crate) struct RetryBudget {
    state: Mutex<(f64, Instant)>,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            state: Mutex::new((0.0, Instant::now())),
        }
    }
}

impl RetryBudget {
    /// Brings the balance to `now`: decay, then the floor's trickle.
    fn settle(cfg: &RetryConfig, s: &mut (f64, Instant), now: Instant) {
        let elapsed = now.saturating_duration_since(s.1).as_secs_f64();
        s.1 = now.max(s.1);
        let window = cfg.window.as_secs_f64().max(1e-3);
        s.0 = s.0 * (-elapsed / window).exp() + cfg.min_per_second * elapsed;
    }

    /// Records one request (first attempts only).
    pub(crate) fn deposit(&self, cfg: &RetryConfig, now: Instant) {
        if cfg.ratio <= 0.0 {
            return;
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Self::settle(cfg, &mut s, now);
        s.0 += cfg.ratio;
    }

    /// Takes one token for a retry; `false` when the budget is exhausted.
    pub(crate) fn withdraw(&self, cfg: &RetryConfig, now: Instant) -> bool {
        if cfg.ratio <= 0.0 {
            return false;
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Self::settle(cfg, &mut s, now);
        // The epsilon forgives float error in sums like 5 × 0.2.
        if s.0 >= 1.0 - 1e-9 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Whether `status`, returned by an attempt before any response header arrived,
/// means the request never reached the application: the connection could not be
/// made, or was reset or refused (`REFUSED_STREAM`, GOAWAY) before the backend
/// answered.
///
/// tonic builds such statuses itself from the transport error and keeps that error
/// as the status's `source`; a status the backend sent has no source. Deadline
/// expiry and cancellation are never retried: they are the caller's decisions.
pub(crate) fn is_retryable(status: &Status) -> bool {
    // A status the backend sent may carry its response head as its source
    // (see `error_head`); that is not a transport error.
    std::error::Error::source(status).is_some_and(|s| !crate::error_head::is_head(s))
        && matches!(
            status.code(),
            Code::Unavailable | Code::Unknown | Code::Internal
        )
}

/// Whether a failure says something about the endpoint's health (for outlier
/// detection and the latency penalty): transport failures, and UNAVAILABLE from
/// the backend itself (overloaded or shutting down).
pub(crate) fn is_endpoint_failure(status: &Status) -> bool {
    is_retryable(status) || status.code() == Code::Unavailable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_a_fraction_of_requests_plus_floor() {
        let cfg = RetryConfig {
            ratio: 0.2,
            min_per_second: 0.0,
            window: Duration::from_secs(10),
        };
        let b = RetryBudget::default();
        let now = Instant::now();
        for _ in 0..100 {
            b.deposit(&cfg, now);
        }
        let granted = (0..100).filter(|_| b.withdraw(&cfg, now)).count();
        assert_eq!(granted, 20);

        let cfg = RetryConfig {
            ratio: 0.2,
            min_per_second: 2.0,
            window: Duration::from_secs(10),
        };
        let b = RetryBudget::default();
        let t = Instant::now() + Duration::from_secs(1);
        // No requests at all: the floor pays for two retries per second.
        let granted = (0..10).filter(|_| b.withdraw(&cfg, t)).count();
        assert_eq!(granted, 2);
    }

    #[test]
    fn zero_ratio_disables() {
        let cfg = RetryConfig {
            ratio: 0.0,
            ..RetryConfig::default()
        };
        let b = RetryBudget::default();
        b.deposit(&cfg, Instant::now());
        assert!(!b.withdraw(&cfg, Instant::now() + Duration::from_secs(5)));
    }

    #[test]
    fn only_transport_failures_are_retryable() {
        let sent_by_backend = Status::unavailable("overloaded");
        assert!(!is_retryable(&sent_by_backend));
        assert!(is_endpoint_failure(&sent_by_backend));
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let transport = Status::from_error(Box::new(io));
        assert_eq!(transport.code(), Code::Unknown);
        assert!(is_retryable(&transport));
        assert!(!is_retryable(&Status::deadline_exceeded("late")));
    }
}
