//! One owner for the call's deadline, for every call shape: the `grpc-timeout`
//! header sent to the backend, the slack when telling a backend's CANCELLED at
//! our deadline from its own, and the rule that both an expired deadline and
//! that race are DEADLINE_EXCEEDED.

use std::time::Duration;

use http::HeaderValue;
use tokio::time::Instant;
use tonic::{Code, Status};

use crate::retry;

/// Timer slack when telling "the backend gave up at our deadline" (it got the same
/// deadline as `grpc-timeout`) from a cancellation of its own.
const DEADLINE_SLACK: Duration = Duration::from_millis(20);

/// A call's deadline, fixed when the request arrives: the earlier of the
/// client's `grpc-timeout` and the backend's configured `timeout` (either may be
/// absent). Every call shape asks this one value how much time is left, what to
/// send as `grpc-timeout`, and how a status that ended the call reads to the
/// client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deadline {
    at: Option<Instant>,
}

impl Deadline {
    /// No deadline: the call may take as long as it takes.
    pub const NONE: Deadline = Deadline { at: None };

    /// The deadline of a call starting now: the earlier of `client` (the
    /// request's `grpc-timeout`) and `backend` (the backend's `timeout`).
    pub fn for_call(client: Option<Duration>, backend: Option<Duration>) -> Deadline {
        let timeout = match (client, backend) {
            (Some(c), Some(b)) => Some(c.min(b)),
            (c, b) => c.or(b),
        };
        Deadline::after(timeout)
    }

    /// A deadline `timeout` from now (none for `None`).
    pub fn after(timeout: Option<Duration>) -> Deadline {
        Deadline {
            at: timeout.map(|t| Instant::now() + t),
        }
    }

    /// When the call must be over.
    pub fn at(&self) -> Option<Instant> {
        self.at
    }

    /// The time left (zero once passed), as sent to the backend.
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// The `grpc-timeout` header for the time left, if there is a deadline.
    pub fn header(&self) -> Option<HeaderValue> {
        self.remaining().map(grpc_timeout)
    }

    /// Whether the deadline has passed, or is within [`DEADLINE_SLACK`] of it.
    fn is_due(&self) -> bool {
        self.at
            .is_some_and(|at| Instant::now() + DEADLINE_SLACK >= at)
    }

    /// The status a call that ended with `status` reports to the client.
    ///
    /// The backend receives the same deadline as `grpc-timeout`, and a server
    /// whose timer fires first answers CANCELLED (tonic does); a transport
    /// failure can race the deadline too. The caller's deadline is what expired,
    /// so both read as DEADLINE_EXCEEDED, as a grpc-go client (and so
    /// grpc-gateway, and a grpc-go proxy) reports them. Any other status is
    /// passed on unchanged.
    pub fn map_status(&self, status: Status) -> Status {
        let racing = match status.code() {
            Code::Cancelled => true,
            Code::Unavailable => retry::is_retryable(&status),
            _ => false,
        };
        if racing && self.is_due() {
            return deadline_exceeded();
        }
        status
    }

    /// The status for a `grpc-status` code read from a response head or
    /// trailers (the native pass-through, which does not parse statuses):
    /// `Some(DEADLINE_EXCEEDED)` where [`Self::map_status`] would replace it.
    pub fn map_code(&self, code: Code) -> Option<Status> {
        (code == Code::Cancelled && self.is_due()).then(deadline_exceeded)
    }

    /// Runs `fut` until the deadline: expiry is DEADLINE_EXCEEDED, and the
    /// status it fails with is mapped by [`Self::map_status`].
    pub async fn run<T>(&self, fut: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
        let result = match self.at {
            None => fut.await,
            Some(at) => match tokio::time::timeout_at(at, fut).await {
                Ok(r) => r,
                Err(_) => return Err(deadline_exceeded()),
            },
        };
        result.map_err(|s| self.map_status(s))
    }
}

/// DEADLINE_EXCEEDED with grpc-go's message.
pub fn deadline_exceeded() -> Status {
    Status::deadline_exceeded("context deadline exceeded")
}

/// `grpc-timeout` as the client sent it, per the gRPC spec: up to 8 digits and
/// a unit (H M S m u n); `None` when malformed.
pub fn parse_grpc_timeout(s: &str) -> Option<Duration> {
    if s.len() < 2 || s.len() > 9 {
        return None;
    }
    let (digits, unit) = s.split_at(s.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The `grpc-timeout` header for `t`: at most eight digits, in the finest unit
/// that fits (the gRPC over HTTP/2 spec), rounded up so the backend never gets
/// less time than the gateway allows. The native gRPC pass-through uses it too.
pub fn grpc_timeout(t: Duration) -> HeaderValue {
    const MAX: u128 = 99_999_999;
    let nanos = t.as_nanos();
    let value = [
        (1u128, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ]
    .iter()
    .find_map(|&(unit, c)| {
        let v = nanos.div_ceil(unit);
        (v <= MAX).then(|| format!("{v}{c}"))
    })
    .unwrap_or_else(|| format!("{MAX}H"));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("99999999H"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earlier_of_client_and_backend_timeouts_applies() {
        let left = |c, b| Deadline::for_call(c, b).remaining();
        let s = Duration::from_secs;
        assert!(left(Some(s(1)), Some(s(5))).unwrap() <= s(1));
        assert!(left(Some(s(5)), Some(s(1))).unwrap() <= s(1));
        assert!(left(None, Some(s(3))).unwrap() > s(2));
        assert!(left(Some(s(3)), None).unwrap() > s(2));
        assert_eq!(left(None, None), None);
    }

    #[test]
    fn cancelled_or_unreachable_at_the_deadline_reads_as_deadline_exceeded() {
        let due = Deadline::after(Some(Duration::from_millis(5)));
        let far = Deadline::after(Some(Duration::from_secs(60)));
        let cancelled = || Status::cancelled("Timeout expired");
        let mut unreachable = Status::unavailable("backend unreachable: reset");
        unreachable.set_source(std::sync::Arc::new(std::io::Error::other("reset")));
        assert_eq!(due.map_status(cancelled()).code(), Code::DeadlineExceeded);
        assert_eq!(
            due.map_status(unreachable.clone()).code(),
            Code::DeadlineExceeded
        );
        assert_eq!(far.map_status(cancelled()).code(), Code::Cancelled);
        assert_eq!(far.map_status(unreachable).code(), Code::Unavailable);
        // A backend's own UNAVAILABLE (no transport failure) is its answer.
        assert_eq!(
            due.map_status(Status::unavailable("down")).code(),
            Code::Unavailable
        );
        assert_eq!(
            Deadline::NONE.map_status(cancelled()).code(),
            Code::Cancelled
        );
        assert_eq!(
            due.map_code(Code::Cancelled).map(|s| s.code()),
            Some(Code::DeadlineExceeded)
        );
        assert!(far.map_code(Code::Cancelled).is_none());
    }

    #[test]
    fn grpc_timeouts_parse_as_the_spec_says() {
        assert_eq!(parse_grpc_timeout("1S"), Some(Duration::from_secs(1)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("10u"), Some(Duration::from_micros(10)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("1x"), None);
        assert_eq!(parse_grpc_timeout("-1S"), None);
        assert_eq!(parse_grpc_timeout("+1S"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
    }

    #[test]
    fn timeouts_use_the_finest_unit_that_fits_eight_digits() {
        assert_eq!(grpc_timeout(Duration::from_millis(5)), "5000000n");
        assert_eq!(grpc_timeout(Duration::from_secs(30)), "30000000u");
        assert_eq!(grpc_timeout(Duration::from_secs(3600)), "3600000m");
        assert_eq!(grpc_timeout(Duration::from_secs(400_000)), "400000S");
    }
}
