//! Passive outlier detection: an endpoint whose calls keep failing at the
//! transport level (connect refused, reset, UNAVAILABLE) is ejected for a while,
//! without waiting for an active health check to notice.
//!
//! Ejection time doubles with each consecutive ejection (capped), so a dead
//! endpoint is probed rarely while a briefly restarting one comes back fast. The
//! panic threshold that stops ejection from removing too much of a backend lives
//! in the chooser (`Upstream::eligible`), not here: this module only judges one
//! endpoint.

use std::time::{Duration, Instant};

/// Outlier-detection settings of one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutlierConfig {
    /// Consecutive transport failures (or UNAVAILABLE answers) that eject an endpoint.
    /// 0 disables passive ejection.
    pub consecutive_failures: u32,
    /// Ejection time of a first ejection; doubled for each further one in a row.
    pub base_ejection: Duration,
    /// Upper bound of the ejection time.
    pub max_ejection: Duration,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        OutlierConfig {
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(5),
            max_ejection: Duration::from_secs(120),
        }
    }
}

/// One endpoint's failure streak and ejection.
#[derive(Debug, Default)]
pub(crate) struct OutlierState {
    consecutive: u32,
    /// Ejections in a row without a success between them (drives the backoff).
    ejections: u32,
    ejected_until: Option<Instant>,
}

/// What a recorded failure did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Counted,
    /// The endpoint was ejected for this long.
    Ejected(Duration),
}

impl OutlierState {
    pub(crate) fn is_ejected(&self, now: Instant) -> bool {
        self.ejected_until.is_some_and(|t| now < t)
    }

    /// Remaining ejection time, if ejected.
    pub(crate) fn ejected_for(&self, now: Instant) -> Option<Duration> {
        self.ejected_until.filter(|t| now < *t).map(|t| t - now)
    }

    pub(crate) fn success(&mut self) {
        self.consecutive = 0;
        // A success after an ejection expired proves recovery: reset the backoff.
        if self.ejected_until.is_some_and(|t| Instant::now() >= t) {
            self.ejected_until = None;
            self.ejections = 0;
        }
    }

    pub(crate) fn failure(&mut self, cfg: &OutlierConfig, now: Instant) -> Verdict {
        if cfg.consecutive_failures == 0 || self.is_ejected(now) {
            return Verdict::Counted;
        }
        self.consecutive += 1;
        if self.consecutive < cfg.consecutive_failures {
            return Verdict::Counted;
        }
        let factor = 1u32 << self.ejections.min(16);
        let time = cfg
            .base_ejection
            .saturating_mul(factor)
            .min(cfg.max_ejection);
        self.ejections += 1;
        self.consecutive = 0;
        self.ejected_until = Some(now + time);
        Verdict::Ejected(time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ejects_after_streak_with_backoff() {
        let cfg = OutlierConfig {
            consecutive_failures: 3,
            base_ejection: Duration::from_secs(1),
            max_ejection: Duration::from_secs(3),
        };
        let mut s = OutlierState::default();
        let t0 = Instant::now();
        assert_eq!(s.failure(&cfg, t0), Verdict::Counted);
        assert_eq!(s.failure(&cfg, t0), Verdict::Counted);
        assert_eq!(
            s.failure(&cfg, t0),
            Verdict::Ejected(Duration::from_secs(1))
        );
        assert!(s.is_ejected(t0));
        // Failures while ejected (requests already in flight) do not extend it.
        assert_eq!(s.failure(&cfg, t0), Verdict::Counted);
        let t1 = t0 + Duration::from_secs(2);
        assert!(!s.is_ejected(t1));
        for _ in 0..2 {
            s.failure(&cfg, t1);
        }
        assert_eq!(
            s.failure(&cfg, t1),
            Verdict::Ejected(Duration::from_secs(2))
        );
        let t2 = t1 + Duration::from_secs(3);
        for _ in 0..2 {
            s.failure(&cfg, t2);
        }
        // Capped at max_ejection.
        assert_eq!(
            s.failure(&cfg, t2),
            Verdict::Ejected(Duration::from_secs(3))
        );
    }

    #[test]
    fn success_breaks_the_streak() {
        let cfg = OutlierConfig {
            consecutive_failures: 2,
            ..OutlierConfig::default()
        };
        let mut s = OutlierState::default();
        let t0 = Instant::now();
        s.failure(&cfg, t0);
        s.success();
        assert_eq!(s.failure(&cfg, t0), Verdict::Counted);
    }

    #[test]
    fn zero_disables() {
        let cfg = OutlierConfig {
            consecutive_failures: 0,
            ..OutlierConfig::default()
        };
        let mut s = OutlierState::default();
        for _ in 0..100 {
            assert_eq!(s.failure(&cfg, Instant::now()), Verdict::Counted);
        }
    }
}
