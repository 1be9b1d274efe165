//! One owner for turning a failure that is not a backend's gRPC status into
//! one: a transport failure before any answer is UNAVAILABLE, a non-gRPC HTTP
//! answer is mapped as the gRPC spec says, no endpoint is UNAVAILABLE.

use std::sync::Arc;

use tonic::Status;

use crate::retry;

pub(crate) fn no_endpoints() -> Status {
    Status::unavailable("no endpoints available")
}

/// A transport failure before any response (a reset stream, a GOAWAY race with
/// a backend shutting down, a protocol error) means the backend was not reached.
/// tonic reports some of these as INTERNAL; grpc-go clients, and so grpc-gateway,
/// report UNAVAILABLE (HTTP 503), which also tells the client a retry is safe.
/// The status stays marked as a transport failure (retryable, see `retry`).
pub(crate) fn transport_is_unavailable(status: Status) -> Status {
    if !retry::is_retryable(&status) || status.code() == tonic::Code::Unavailable {
        return status;
    }
    let message = format!("backend unreachable: {}", status.message());
    let mut unavailable = Status::unavailable(message.clone());
    unavailable.set_source(Arc::new(std::io::Error::other(message)));
    unavailable
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
