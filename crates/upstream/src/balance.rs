//! Choosing an endpoint for one request: the peak-EWMA latency estimate and the
//! three policies (`p2c_peak_ewma`, `least_request`, `round_robin`).
//!
//! This is written here rather than taken from `tower::balance::p2c` because
//! tower's balancer owns its endpoints (fed through a `Discover` stream) and needs
//! `&mut self` to become ready, i.e. a `Buffer` task in front of it. Switchboard's
//! endpoint state must instead outlive every route table (a reload must not reset
//! latency estimates, health or ejections), be shared by tables that coexist while
//! old requests finish, be filtered per request (health, ejection, "not the
//! endpoint that just failed" for a retry) and be readable by `/backends`. With
//! the state in [`EndpointState`](crate::endpoint::EndpointState), choosing is a few
//! atomic loads and the estimate math below, which follows tower's `PeakEwma`
//! (itself Finagle's and Linkerd's).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::endpoint::EndpointState;

/// How a backend spreads requests over its endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Power of two random choices, comparing peak-EWMA latency × (in-flight + 1).
    /// Reacts to slow endpoints, not only busy ones.
    #[default]
    P2cPeakEwma,
    /// Power of two random choices, comparing in-flight requests only.
    LeastRequest,
    /// Each endpoint in turn; ignores load.
    RoundRobin,
}

impl Policy {
    /// The policy as the config and `/backends` name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::P2cPeakEwma => "p2c_peak_ewma",
            Policy::LeastRequest => "least_request",
            Policy::RoundRobin => "round_robin",
        }
    }
}

/// The load an endpoint reports to the chooser; lower is better.
pub(crate) fn cost(policy: Policy, ep: &EndpointState, now: Instant) -> f64 {
    let pending = ep.in_flight() as f64;
    match policy {
        Policy::LeastRequest | Policy::RoundRobin => pending,
        // +1µs so an endpoint whose estimate decayed to ~0 still weighs its queue.
        Policy::P2cPeakEwma => (ep.ewma.estimate_ns(now) + 1_000.0) * (pending + 1.0),
    }
}

/// Picks one of `candidates` (non-empty) according to `policy`.
pub(crate) fn choose<'a>(
    policy: Policy,
    candidates: &[&'a Arc<EndpointState>],
    rr: &AtomicUsize,
) -> &'a Arc<EndpointState> {
    let n = candidates.len();
    if n == 1 {
        return candidates[0];
    }
    match policy {
        Policy::RoundRobin => candidates[rr.fetch_add(1, Ordering::Relaxed) % n],
        Policy::P2cPeakEwma | Policy::LeastRequest => {
            let a = random_below(n);
            // A second, distinct index: offset by 1..n.
            let b = (a + 1 + random_below(n - 1)) % n;
            let now = Instant::now();
            let (ca, cb) = (
                cost(policy, candidates[a], now),
                cost(policy, candidates[b], now),
            );
            if cb < ca {
                candidates[b]
            } else {
                candidates[a]
            }
        }
    }
}

/// A uniform index in `0..n` from a per-thread xorshift generator, seeded from the
/// std hasher's random keys. Good enough for choosing endpoints; no crate needed.
fn random_below(n: usize) -> usize {
    use std::cell::Cell;
    use std::hash::{BuildHasher, RandomState};
    thread_local! {
        static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(0u64) | 1);
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (((x >> 32) * n as u64) >> 32) as usize
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: std::time::Duration = std::time::Duration::from_millis(1);

    #[test]
    fn random_below_covers_range() {
        let mut seen = [0usize; 5];
        for _ in 0..5000 {
            seen[random_below(5)] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    }

    fn endpoints(n: usize) -> Vec<Arc<EndpointState>> {
        (0..n)
            .map(|i| Arc::new(EndpointState::for_test(&format!("10.0.0.{i}:1"))))
            .collect()
    }

    #[tokio::test]
    async fn p2c_avoids_the_slow_endpoint() {
        let eps = endpoints(3);
        let now = Instant::now();
        eps[0].ewma.observe(200 * MS, now);
        eps[1].ewma.observe(MS, now);
        eps[2].ewma.observe(MS, now);
        let refs: Vec<_> = eps.iter().collect();
        let rr = AtomicUsize::new(0);
        let mut slow = 0;
        for _ in 0..3000 {
            if Arc::ptr_eq(choose(Policy::P2cPeakEwma, &refs, &rr), &eps[0]) {
                slow += 1;
            }
        }
        // p2c never picks the worse of two: the slow one loses every comparison.
        assert_eq!(slow, 0);
    }

    #[tokio::test]
    async fn least_request_prefers_idle() {
        let eps = endpoints(2);
        let _busy: Vec<_> = (0..5).map(|_| eps[0].start()).collect();
        let refs: Vec<_> = eps.iter().collect();
        let rr = AtomicUsize::new(0);
        for _ in 0..100 {
            assert!(Arc::ptr_eq(
                choose(Policy::LeastRequest, &refs, &rr),
                &eps[1]
            ));
        }
    }

    #[tokio::test]
    async fn round_robin_rotates() {
        let eps = endpoints(3);
        let refs: Vec<_> = eps.iter().collect();
        let rr = AtomicUsize::new(0);
        let picked: Vec<_> = (0..6)
            .map(|_| choose(Policy::RoundRobin, &refs, &rr).addr.to_string())
            .collect();
        assert_eq!(picked[0..3], picked[3..6]);
        assert_ne!(picked[0], picked[1]);
    }
}
