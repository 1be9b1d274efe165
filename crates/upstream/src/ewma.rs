//! The peak-EWMA latency estimate of one endpoint (a leaf: it knows nothing of
//! endpoints or balancing; `balance` reads it, `endpoint` owns one).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How fast an estimate forgets: after `DECAY` without a slower observation an
/// estimate has shrunk by a factor of e. Linkerd's default.
pub(crate) const DECAY: Duration = Duration::from_secs(10);

/// The estimate of an endpoint nothing has been measured on yet, when there is no
/// sibling to copy from (see [`PeakEwma::seed`]).
const DEFAULT_RTT: Duration = Duration::from_millis(1);

/// A latency estimate that jumps up to any slower observation at once ("peak")
/// and otherwise decays exponentially towards recent observations, so one slow
/// response makes an endpoint unattractive immediately while recovery is gradual.
///
/// As in tower, the estimate also decays while *nothing* is observed: an endpoint
/// that was avoided because it was slow becomes attractive again after a while, is
/// probed, and gets traffic back if it answers quickly.
#[derive(Debug)]
pub(crate) struct PeakEwma {
    /// Estimate in nanoseconds and when it was last updated.
    state: std::sync::Mutex<(f64, Instant)>,
    /// Whether anything was ever observed (a seed is only taken before that).
    observed: std::sync::atomic::AtomicBool,
}

impl PeakEwma {
    pub(crate) fn new(now: Instant) -> Self {
        PeakEwma {
            state: std::sync::Mutex::new((DEFAULT_RTT.as_nanos() as f64, now)),
            observed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Starts a never-measured endpoint at its siblings' typical estimate, so a new
    /// endpoint (scale-out, DNS change) is neither flooded nor starved.
    pub(crate) fn seed(&self, estimate_ns: f64, now: Instant) {
        if !self.observed.load(Ordering::Relaxed) && estimate_ns > 0.0 {
            *self.lock() = (estimate_ns, now);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (f64, Instant)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one observed round trip.
    pub(crate) fn observe(&self, rtt: Duration, now: Instant) {
        self.observed.store(true, Ordering::Relaxed);
        let rtt = rtt.as_nanos() as f64;
        let mut s = self.lock();
        s.0 = if rtt > s.0 {
            rtt
        } else {
            let w = decay_weight(now.saturating_duration_since(s.1));
            s.0 * w + rtt * (1.0 - w)
        };
        s.1 = now;
    }

    /// The estimate now (decayed for the time since the last update), in nanoseconds.
    pub(crate) fn estimate_ns(&self, now: Instant) -> f64 {
        let mut s = self.lock();
        let w = decay_weight(now.saturating_duration_since(s.1));
        s.0 *= w;
        s.1 = now;
        s.0
    }
}

fn decay_weight(elapsed: Duration) -> f64 {
    (-elapsed.as_secs_f64() / DECAY.as_secs_f64()).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn peak_jumps_up_and_decays_down() {
        let t0 = Instant::now();
        let e = PeakEwma::new(t0);
        e.observe(5 * MS, t0);
        assert_eq!(e.estimate_ns(t0), 5e6);
        // A slower observation is taken at once.
        e.observe(200 * MS, t0);
        assert_eq!(e.estimate_ns(t0), 200e6);
        // Nothing observed for one decay period: down by e.
        let later = t0 + DECAY;
        let est = e.estimate_ns(later);
        assert!((est - 200e6 / std::f64::consts::E).abs() < 1e3, "{est}");
        // A recovered endpoint's fast answers pull it further down.
        let much_later = later + 5 * DECAY;
        e.observe(MS, much_later);
        assert!(e.estimate_ns(much_later) < 2e6);
    }

    #[test]
    fn seed_only_before_first_observation() {
        let t0 = Instant::now();
        let e = PeakEwma::new(t0);
        e.seed(7e6, t0);
        assert_eq!(e.estimate_ns(t0), 7e6);
        e.observe(MS, t0);
        e.seed(9e6, t0);
        assert!(e.estimate_ns(t0) <= 7e6);
    }
}
