//! One owner for turning a failure that is not a backend's gRPC status into
//! one: a transport failure before any answer is UNAVAILABLE, a non-gRPC HTTP
//! answer is mapped as the gRPC spec says, no endpoint is UNAVAILABLE.

use std::sync::Arc;

use tonic::Status;

use crate::retry;

pub(crate) fn no_endpoints() -> Status {
    Status::unavailable("no endpoints available")
}

/// A failure before the backend answered (connection refused or reset, a
/// GOAWAY race with a backend shutting down, a protocol error): UNAVAILABLE, as
/// grpc-go clients (and so grpc-gateway) report it, which also tells the client
/// a retry is safe. The status keeps `source` and with it the mark of a
/// transport failure (retryable, see `retry::is_retryable`).
pub(crate) fn unreachable(
    message: String,
    source: Arc<dyn std::error::Error + Send + Sync>,
) -> Status {
    let mut status = Status::unavailable(message);
    status.set_source(source);
    status
}

/// tonic's client reports some transport failures as INTERNAL or UNKNOWN (with
/// the transport error as `source`); they read as [`unreachable`].
pub(crate) fn transport_is_unavailable(status: Status) -> Status {
    if !retry::is_retryable(&status) || status.code() == tonic::Code::Unavailable {
        return status;
    }
    let message = format!("backend unreachable: {}", status.message());
    unreachable(message.clone(), Arc::new(std::io::Error::other(message)))
}

/// gRPC's mapping of an HTTP status from a non-gRPC peer (the gRPC spec's
/// "HTTP to gRPC Status Code Mapping").
pub(crate) fn http_to_code(status: http::StatusCode) -> tonic::Code {
    use tonic::Code;
    match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502..=504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_map_as_the_grpc_spec_says() {
        use tonic::Code;
        for (http, code) in [
            (400, Code::Internal),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::Unimplemented),
            (429, Code::Unavailable),
            (502, Code::Unavailable),
            (503, Code::Unavailable),
            (504, Code::Unavailable),
            (500, Code::Unknown),
        ] {
            let status = http::StatusCode::from_u16(http).unwrap();
            assert_eq!(http_to_code(status), code, "{http}");
        }
    }
}
