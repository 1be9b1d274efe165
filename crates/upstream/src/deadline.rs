//! One owner for the call's deadline, for every call shape: the `grpc-timeout`
//! header sent to the backend, the slack when telling a backend's CANCELLED at
//! our deadline from its own, and the rule that both an expired deadline and
//! that race are DEADLINE_EXCEEDED.

use std::time::Duration;

use http::HeaderValue;
use tonic::Status;

/// Timer slack when telling "the backend gave up at our deadline" (it got the same
/// deadline as `grpc-timeout`) from a cancellation of its own.
pub const DEADLINE_SLACK: Duration = Duration::from_millis(20);

/// Runs `fut` under an optional deadline, mapping expiry to DEADLINE_EXCEEDED.
///
/// The backend receives the same deadline as `grpc-timeout`, and a server whose
/// timer fires first answers CANCELLED (tonic does). The caller's deadline is what
/// expired, so that race is reported as DEADLINE_EXCEEDED too, as a grpc-go client
/// (and so grpc-gateway) would.
pub(crate) async fn with_deadline<T>(
    timeout: Option<Duration>,
    fut: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    let Some(t) = timeout else {
        return fut.await;
    };
    let started = tokio::time::Instant::now();
    match tokio::time::timeout(t, fut).await {
        Ok(Err(status))
            if status.code() == tonic::Code::Cancelled
                && started.elapsed() + DEADLINE_SLACK >= t =>
        {
            Err(Status::deadline_exceeded("context deadline exceeded"))
        }
        Ok(r) => r,
        Err(_) => Err(Status::deadline_exceeded("context deadline exceeded")),
    }
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
    fn timeouts_use_the_finest_unit_that_fits_eight_digits() {
        assert_eq!(grpc_timeout(Duration::from_millis(5)), "5000000n");
        assert_eq!(grpc_timeout(Duration::from_secs(30)), "30000000u");
        assert_eq!(grpc_timeout(Duration::from_secs(3600)), "3600000m");
        assert_eq!(grpc_timeout(Duration::from_secs(400_000)), "400000S");
    }
}
