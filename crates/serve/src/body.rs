//! The response body type shared by every handler, and small constructors.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

/// Every response body: a whole buffer or a stream of frames. Errors are written
/// in-band (grpc-gateway's `{"error": ...}` chunk), so the body itself never fails.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

pub fn json_response(status: u16, body: impl Into<Bytes>) -> http::Response<Body> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(full(body))
        .unwrap_or_else(|_| http::Response::new(full(Bytes::new())))
}
