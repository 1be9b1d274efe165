//! One owner for how a JSON-side answer is written: a unary-style reply (header
//! metadata as `Grpc-Metadata-*`, trailer metadata as `Grpc-Trailer-*` trailers
//! when the client accepts them), a gRPC error in grpc-gateway's shape, and an
//! error answered before any upstream call.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, TRAILER, WWW_AUTHENTICATE};
use http::{HeaderMap, Response};
use http_body_util::BodyExt;
use hyper::body::Frame;
use switchboard_live::BackendRuntime;
use switchboard_transcode as transcode;
use switchboard_upstream::UnaryReply;
use tonic::{Code, Status};
use tracing::debug;

use super::Early;
use crate::body::{Body, json_response};
use crate::headers;

/// A unary-style reply (unary and client-streaming calls): `body` typed
/// `content_type` (none when empty, as an empty HttpBody has), header metadata
/// as `Grpc-Metadata-*`, and trailer metadata as `Grpc-Trailer-*` HTTP trailers
/// when the client sent `TE: trailers`.
pub(super) fn unary_response(
    reply: &UnaryReply,
    body: Bytes,
    content_type: &str,
    trailers_ok: bool,
) -> Response<Body> {
    let mut response = Response::new(crate::body::full(Bytes::new()));
    let h = response.headers_mut();
    // The metadata, `Content-Type` and `Trailer`.
    h.reserve(reply.headers.len() + 2);
    headers::metadata_to_headers(&reply.headers, "grpc-metadata-", h);
    if let Some(v) = headers::content_type_value(content_type) {
        h.insert(CONTENT_TYPE, v);
    }
    if !trailers_ok {
        *response.body_mut() = crate::body::full(body);
        return response;
    }
    if let Some(names) = headers::trailer_announcement(&reply.trailers) {
        h.insert(TRAILER, names);
    }
    let mut trailers = HeaderMap::new();
    headers::metadata_to_headers(&reply.trailers, "grpc-trailer-", &mut trailers);
    let frames = futures_util::stream::iter([Ok(Frame::data(body)), Ok(Frame::trailers(trailers))]);
    *response.body_mut() = http_body_util::StreamBody::new(frames).boxed_unsync();
    response
}

pub(super) fn early_response(e: Early) -> Response<Body> {
    debug!(code = ?e.code, message = %e.message, "request rejected");
    if let Some(call) = switchboard_observe::current() {
        call.set_grpc_code(e.code as i32);
    }
    if e.codec == transcode::Codec::Protobuf {
        let body = transcode::status_to_proto(e.code as i32, &e.message, None);
        return proto_response(e.http, body);
    }
    let body =
        transcode::status_to_json(None, &Default::default(), e.code as i32, &e.message, None);
    json_response(e.http, body)
}

/// An error body written by the protobuf codec.
pub(super) fn proto_response(status: u16, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, transcode::PROTOBUF_MEDIA_TYPE)
        .body(crate::body::full(body))
        .unwrap_or_else(|_| Response::new(crate::body::full(Bytes::new())))
}

/// A gRPC error from the backend as grpc-gateway renders it: mapped HTTP status,
/// `{code, message, details}` with details decoded through the backend's pool, and
/// the error's header and trailer metadata kept apart (see `error_metadata`).
pub(crate) fn status_response(
    backend: &BackendRuntime,
    status: &Status,
    trailers_ok: bool,
) -> Response<Body> {
    status_response_as(backend, status, transcode::Codec::Json, trailers_ok)
}

/// [`status_response`] in the client's outbound codec: for protobuf, the body is
/// a binary `google.rpc.Status` (as grpc-gateway's error handler writes through
/// its `ProtoMarshaller`), with the details as the backend sent them.
pub(crate) fn status_response_as(
    backend: &BackendRuntime,
    status: &Status,
    codec: transcode::Codec,
    trailers_ok: bool,
) -> Response<Body> {
    let code = status.code() as i32;
    let details = (!status.details().is_empty()).then(|| status.details());
    let http = transcode::http_status_for(code);
    let mut response = match codec {
        transcode::Codec::Protobuf => proto_response(
            http,
            transcode::status_to_proto(code, status.message(), details),
        ),
        transcode::Codec::Json => json_response(
            http,
            transcode::status_to_json(
                Some(&backend.pool),
                &backend.json,
                code,
                status.message(),
                details,
            ),
        ),
    };
    if status.code() == Code::Unauthenticated
        && let Ok(v) = HeaderValue::from_str(status.message())
    {
        response.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    crate::error_metadata::apply(response, status, None, trailers_ok)
}
