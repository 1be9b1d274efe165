//! HTTP/2 keepalive PINGs as gRPC's keepalive proposal (A8) has clients send them.
//!
//! gRPC servers police pings: by default (grpcio, grpc-go, C-core) a ping on a
//! connection without calls, or one sooner than 5 minutes after the previous
//! (`min_recv_ping_interval_without_data`, `MinTime`), is a strike, and after two
//! strikes the server closes the connection with GOAWAY ENHANCE_YOUR_CALM
//! `too_many_pings`. A gateway that pinged every 30 s with nothing in flight lost
//! every idle connection to a grpcio backend after about two minutes. So, as A8
//! says: a connection is pinged only while it has calls in flight unless
//! `keepalive_without_calls` asks otherwise; the default interval is the
//! servers' default minimum; and a `too_many_pings` GOAWAY doubles the interval
//! for that endpoint's later connections (and is logged: the configuration is
//! more eager than the server allows). Doubled from the interval the closed
//! connection used, not from the endpoint's current one, as gRPC core's
//! subchannels throttle: in the workers model an endpoint has a connection per
//! worker, all opened with the same interval and all closed by the server
//! within a few seconds, and that is one doubling, not one per connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tracing::{debug, warn};

/// One endpoint's keepalive state, shared by its successive connections (and,
/// in the workers model, by its per-worker connections).
#[derive(Debug)]
pub(crate) struct Policy {
    /// The interval for new connections, in milliseconds (doubled on
    /// `too_many_pings`).
    interval_ms: AtomicU64,
    without_calls: bool,
    timeout: Duration,
}

/// Calls in flight on one connection slot of an endpoint. Per slot, not per
/// endpoint: a worker's idle connection must not be pinged because another
/// worker's has calls (the server would count strikes against it).
#[derive(Debug, Default, Clone)]
pub(crate) struct Calls(Arc<AtomicUsize>);

impl Calls {
    /// Marks a call as in flight until the returned guard is dropped.
    pub(crate) fn call(&self) -> Active {
        self.0.fetch_add(1, Ordering::Relaxed);
        Active(self.0.clone())
    }

    fn any(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }
}

/// Counts one call as in flight for as long as it lives.
#[derive(Debug)]
pub(crate) struct Active(Arc<AtomicUsize>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Policy {
    pub(crate) fn new(interval: Duration, without_calls: bool, timeout: Duration) -> Self {
        Policy {
            interval_ms: AtomicU64::new(millis(interval)),
            without_calls,
            timeout,
        }
    }

    pub(crate) fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms.load(Ordering::Relaxed))
    }

    /// Whether a ping is due to be sent now (the interval has passed).
    fn may_ping(&self, calls: &Calls) -> bool {
        self.without_calls || calls.any()
    }

    /// Sends keepalive PINGs on one connection every `every` (the interval in
    /// force when the connection opened: [`interval`](Policy::interval) then)
    /// until one goes unanswered. Resolves with why the connection should be
    /// closed.
    pub(crate) async fn run(
        &self,
        mut pings: h2::PingPong,
        calls: &Calls,
        every: Duration,
    ) -> String {
        loop {
            tokio::time::sleep(every).await;
            if !self.may_ping(calls) {
                continue;
            }
            match tokio::time::timeout(self.timeout, pings.ping(h2::Ping::opaque())).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return format!("keepalive PING failed: {e}"),
                Err(_) => return format!("keepalive PING unanswered for {:?}", self.timeout),
            }
        }
    }

    /// Looks at how a connection that pinged every `used` ended: a GOAWAY
    /// `too_many_pings` raises the interval for the endpoint's next
    /// connections to twice `used` (A8), unless another of its connections
    /// raised it as far already (see the module doc). Logged once per raise.
    pub(crate) fn connection_ended(&self, addr: &str, error: &h2::Error, used: Duration) {
        if !is_too_many_pings(error) {
            return;
        }
        match self.raise_after(used) {
            Ok((from, to)) => warn!(
                endpoint = %addr,
                from = ?from,
                to = ?to,
                "backend closed the connection with GOAWAY too_many_pings; keepalive interval doubled for this endpoint (raise upstream.keepalive_interval, or allow pings on the server)"
            ),
            Err(interval) => debug!(
                endpoint = %addr,
                interval = ?interval,
                "backend closed another connection with GOAWAY too_many_pings; keepalive interval already raised"
            ),
        }
    }

    /// Raises the interval to twice `used`: `Ok((from, to))` if that raised
    /// it, `Err(current)` if it was that long already.
    fn raise_after(&self, used: Duration) -> Result<(Duration, Duration), Duration> {
        let doubled = millis(used).saturating_mul(2);
        let before = self.interval_ms.fetch_max(doubled, Ordering::Relaxed);
        if before >= doubled {
            return Err(Duration::from_millis(before));
        }
        Ok((
            Duration::from_millis(before),
            Duration::from_millis(doubled),
        ))
    }
}

/// A GOAWAY ENHANCE_YOUR_CALM whose debug data is `too_many_pings`, as gRPC
/// servers send it. h2 exposes the debug data only through `Display`.
fn is_too_many_pings(error: &h2::Error) -> bool {
    error.is_go_away()
        && error.is_remote()
        && error.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM)
        && error.to_string().contains("too_many_pings")
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_only_with_calls_in_flight_unless_asked() {
        let p = Policy::new(Duration::from_secs(1), false, Duration::from_secs(1));
        let (mine, other) = (Calls::default(), Calls::default());
        assert!(!p.may_ping(&mine));
        let call = mine.call();
        assert!(p.may_ping(&mine));
        assert!(
            !p.may_ping(&other),
            "another connection's calls do not count"
        );
        drop(call);
        assert!(!p.may_ping(&mine));
        let p = Policy::new(Duration::from_secs(1), true, Duration::from_secs(1));
        assert!(p.may_ping(&mine));
    }

    #[test]
    fn connections_closed_together_double_the_interval_once() {
        let s = Duration::from_secs;
        let p = Policy::new(s(1), false, s(1));
        // Three connections opened at 1s (a shared one and two workers').
        assert_eq!(p.raise_after(s(1)), Ok((s(1), s(2))));
        assert_eq!(p.raise_after(s(1)), Err(s(2)));
        assert_eq!(p.raise_after(s(1)), Err(s(2)));
        assert_eq!(p.interval(), s(2));
        // A connection opened at the raised interval doubles it again.
        assert_eq!(p.raise_after(s(2)), Ok((s(2), s(4))));
        assert_eq!(p.interval(), s(4));
        // Saturates instead of overflowing.
        assert!(p.raise_after(Duration::from_millis(u64::MAX)).is_ok());
        assert!(p.raise_after(Duration::from_millis(u64::MAX)).is_err());
    }

    #[test]
    fn other_errors_keep_the_interval() {
        let p = Policy::new(Duration::from_secs(300), false, Duration::from_secs(1));
        p.connection_ended(
            "a:1",
            &h2::Error::from(h2::Reason::ENHANCE_YOUR_CALM),
            Duration::from_secs(300),
        );
        assert_eq!(p.interval(), Duration::from_secs(300));
    }
}
