//! When each backend is re-discovered between reloads: every `refresh` interval
//! (per backend, default 30s, `off` disables) and whenever its endpoint set
//! changes (a replica added or removed through DNS or the config), so that a
//! deploy adding a method or a field is served with no config edit and no SIGHUP.
//!
//! The reloader records each backend's discovery here ([`Schedule::record`]);
//! one timer task ([`timer`]) sleeps until the earliest backend is due and asks
//! for a `refresh` rebuild, which re-discovers only the backends that are due
//! ([`Schedule::wanted`]). A rebuild that finds the same descriptor digests
//! publishes nothing (see `Reloader::nothing_new`).

use std::collections::HashMap;
use std::time::Duration;

use switchboard_config::{Backend, Config};
use switchboard_live::{ReloadHandle, Trigger};
use tokio::sync::watch;
use tokio::time::Instant;

/// A backend is due this much before its interval is up, so that a timer waking
/// a hair early does not postpone it by a whole interval.
const SLACK: Duration = Duration::from_millis(20);

/// The last discovery of each backend and the next time one is due.
#[derive(Debug)]
pub(crate) struct Schedule {
    /// When each backend was last discovered, and the addresses it had then.
    last: HashMap<String, (Instant, Vec<String>)>,
    next: watch::Sender<Option<Instant>>,
}

impl Schedule {
    /// A schedule and the receiver its [`timer`] waits on.
    pub(crate) fn new() -> (Schedule, watch::Receiver<Option<Instant>>) {
        let (next, rx) = watch::channel(None);
        let schedule = Schedule {
            last: HashMap::new(),
            next,
        };
        (schedule, rx)
    }

    /// Whether a rebuild for `trigger` re-discovers `backend`: every backend
    /// when the rebuild re-reads the config; otherwise one that has no schema
    /// or failed (`needs_retry`), whose endpoints are not the ones discovered
    /// last, or (not for retries) whose `refresh` interval is up.
    pub(crate) fn wanted(
        &self,
        trigger: Trigger,
        backend: &Backend,
        addrs: &Result<Vec<String>, String>,
        needs_retry: bool,
        now: Instant,
    ) -> bool {
        if !trigger.rediscovers_only() || needs_retry {
            return true;
        }
        let Some((at, seen)) = self.last.get(&backend.name) else {
            return true;
        };
        if addrs.as_ref().is_ok_and(|addrs| addrs != seen) {
            return true;
        }
        trigger != Trigger::Retry
            && backend
                .refresh
                .is_some_and(|every| now + SLACK >= *at + every)
    }

    /// Notes that `backend` was discovered now, at `addrs`.
    pub(crate) fn record(&mut self, backend: &str, addrs: &[String], now: Instant) {
        self.last.insert(backend.to_owned(), (now, addrs.to_vec()));
    }

    /// Forgets backends no longer configured and tells the timer when the next
    /// backend is due (`None`: no backend refreshes).
    pub(crate) fn arm(&mut self, config: &Config) {
        self.last
            .retain(|name, _| config.backends.iter().any(|b| b.name == *name));
        let next = config
            .backends
            .iter()
            .filter_map(|b| {
                let every = b.refresh?;
                let at = self.last.get(&b.name).map_or_else(Instant::now, |l| l.0);
                Some(at + every)
            })
            .min();
        // Always sent, even when equal: the timer waits for it after each trigger.
        self.next.send_replace(next);
    }
}

/// Sleeps until the next backend is due, asks for a `refresh` rebuild, then
/// waits for the reloader to re-arm it; returns when the reloader is gone.
pub(crate) async fn timer(mut next: watch::Receiver<Option<Instant>>, handle: ReloadHandle) {
    loop {
        let due = *next.borrow_and_update();
        match due {
            None => {
                if next.changed().await.is_err() {
                    return;
                }
            }
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {
                        if handle.is_closed() {
                            return;
                        }
                        handle.trigger(Trigger::Refresh);
                        // The rebuild re-arms the schedule; never trigger twice for one due time.
                        if next.changed().await.is_err() {
                            return;
                        }
                    }
                    changed = next.changed() => {
                        if changed.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(name: &str, refresh: Option<Duration>) -> Backend {
        let yaml = format!("backends:\n  - name: {name}\n    endpoints: [\"h:1\"]\n");
        let mut config = switchboard_config::parse_str(&yaml, "t.yaml".as_ref()).unwrap();
        let mut b = config.backends.remove(0);
        b.refresh = refresh;
        b
    }

    #[tokio::test]
    async fn due_backends_and_changed_endpoints_are_wanted() {
        let (mut s, _rx) = Schedule::new();
        let a = backend("a", Some(Duration::from_secs(30)));
        let off = backend("off", None);
        let addrs: Result<Vec<String>, String> = Ok(vec!["10.0.0.1:1".into()]);
        let t0 = Instant::now();
        // Never discovered: wanted by every trigger.
        assert!(s.wanted(Trigger::Refresh, &a, &addrs, false, t0));
        s.record("a", addrs.as_ref().unwrap(), t0);
        s.record("off", addrs.as_ref().unwrap(), t0);
        // A config reload re-discovers everything; a refresh only what is due.
        assert!(s.wanted(Trigger::FileChange, &a, &addrs, false, t0));
        assert!(!s.wanted(Trigger::Refresh, &a, &addrs, false, t0));
        let later = t0 + Duration::from_secs(30);
        assert!(s.wanted(Trigger::Refresh, &a, &addrs, false, later));
        assert!(!s.wanted(Trigger::Refresh, &off, &addrs, false, later));
        // Retries are for failures, not for due intervals.
        assert!(!s.wanted(Trigger::Retry, &a, &addrs, false, later));
        assert!(s.wanted(Trigger::Retry, &a, &addrs, true, t0));
        // A new replica is discovered whatever the interval, `off` included.
        let more: Result<Vec<String>, String> = Ok(vec!["10.0.0.1:1".into(), "10.0.0.2:1".into()]);
        assert!(s.wanted(Trigger::Endpoints, &off, &more, false, t0));
        // A failed resolution is not a change.
        assert!(!s.wanted(Trigger::Endpoints, &off, &Err("x".into()), false, t0));
    }

    #[tokio::test]
    async fn arm_points_at_the_earliest_due_backend() {
        let (mut s, rx) = Schedule::new();
        let t0 = Instant::now();
        s.record("a", &[], t0);
        s.record("b", &[], t0);
        s.record("gone", &[], t0);
        let mut config = switchboard_config::parse_str(
            "backends:\n  - name: a\n    endpoints: [\"h:1\"]\n    refresh: 10s\n  - name: b\n    endpoints: [\"h:1\"]\n    refresh: 2s\n",
            "t.yaml".as_ref(),
        )
        .unwrap();
        s.arm(&config);
        assert_eq!(*rx.borrow(), Some(t0 + Duration::from_secs(2)));
        assert!(!s.last.contains_key("gone"));
        for b in &mut config.backends {
            b.refresh = None;
        }
        s.arm(&config);
        assert_eq!(*rx.borrow(), None);
    }
}
