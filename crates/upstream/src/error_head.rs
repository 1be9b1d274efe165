//! The response head of a call that failed with a status sent in trailers.
//!
//! gRPC keeps header and trailer metadata apart even when a call fails: a
//! backend may send headers (`x-request-id`), then no message, then trailers
//! with the error status and more metadata. grpc-gateway answers the first as
//! `Grpc-Metadata-*` headers and the second as `Grpc-Trailer-*` HTTP trailers,
//! so the error status carries its trailers as its metadata and, attached here,
//! the head that preceded them. A trailers-only answer has no separate head:
//! its metadata is all trailers, as grpc-go reports it.
//!
//! The head travels as the status's `source`, which `tonic::Status` keeps for
//! exactly this kind of context; [`crate::retry`] does not mistake it for a
//! transport failure.

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use tonic::Status;
use tonic::metadata::MetadataMap;

/// The header metadata sent before an error status (see the module docs).
#[derive(Debug)]
pub struct ResponseHeaders(pub MetadataMap);

impl fmt::Display for ResponseHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("response headers sent before the error status")
    }
}

impl std::error::Error for ResponseHeaders {}

/// Attaches `headers` (the response head) to an error status from trailers.
pub fn attach_headers(status: &mut Status, headers: MetadataMap) {
    status.set_source(Arc::new(ResponseHeaders(headers)));
}

/// Attaches a raw response head (see [`attach_headers`]).
pub(crate) fn attach_head(status: &mut Status, head: HeaderMap) {
    attach_headers(status, MetadataMap::from_headers(head));
}

/// The header metadata sent before `status`, if it came in trailers after a
/// response head; `status.metadata()` is then the trailer metadata alone.
pub fn response_headers(status: &Status) -> Option<&MetadataMap> {
    std::error::Error::source(status)?
        .downcast_ref::<ResponseHeaders>()
        .map(|h| &h.0)
}

/// Whether `status`'s source is only its response head (not a transport error).
pub(crate) fn is_head(source: &(dyn std::error::Error + 'static)) -> bool {
    source.is::<ResponseHeaders>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_ride_on_the_status_without_making_it_a_transport_failure() {
        let mut status = Status::internal("boom");
        assert!(response_headers(&status).is_none());
        let mut head = MetadataMap::new();
        head.insert("x-request-id", "7".parse().unwrap());
        attach_headers(&mut status, head);
        assert_eq!(
            response_headers(&status)
                .unwrap()
                .get("x-request-id")
                .unwrap(),
            "7"
        );
        assert!(!crate::retry::is_retryable(&status));
        assert!(!crate::retry::is_endpoint_failure(&status));
    }
}
