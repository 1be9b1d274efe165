//! Metadata on error answers, kept apart as grpc-gateway's
//! `DefaultHTTPErrorHandler` keeps it (runtime/errors.go): the error's header
//! metadata (the response head the backend sent before failing) becomes
//! `Grpc-Metadata-*` headers; its trailer metadata (the trailers that carried
//! the status, or a trailers-only answer's metadata) is announced in `Trailer`
//! and sent as `Grpc-Trailer-*` HTTP trailers only when the request's `TE`
//! contains `trailers`, and dropped otherwise (RFC 7230 §4.1.2: trailers the
//! client did not ask for are not generated). Successful answers follow the
//! same split; every error answer built from a backend status goes through
//! [`apply`].

use futures_util::StreamExt as _;
use http::Response;
use http::header::TRAILER;
use http_body_util::BodyExt as _;
use hyper::body::Frame;
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::body::Body;
use crate::headers;

/// Adds `status`'s metadata to its error answer. `head` is the header metadata
/// when the caller holds it (a streaming call's response head); otherwise the
/// head attached to the status by the upstream call, if any.
pub(crate) fn apply(
    response: Response<Body>,
    status: &Status,
    head: Option<&MetadataMap>,
    trailers_ok: bool,
) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    if let Some(head) = head.or_else(|| switchboard_upstream::response_headers(status)) {
        headers::metadata_to_headers(head, "grpc-metadata-", &mut parts.headers);
    }
    let trailers = trailer_metadata(status.metadata());
    let announced = trailers_ok
        .then(|| headers::trailer_announcement(&trailers))
        .flatten();
    let Some(names) = announced else {
        return Response::from_parts(parts, body);
    };
    parts.headers.insert(TRAILER, names);
    // A length would end the message before the trailers: chunked it is.
    parts.headers.remove(http::header::CONTENT_LENGTH);
    let mut map = http::HeaderMap::new();
    headers::metadata_to_headers(&trailers, "grpc-trailer-", &mut map);
    // A stream of frames, so no length is known and HTTP/1.1 goes chunked
    // (a body with an exact size would be sent with Content-Length, which
    // leaves no room for trailers).
    let frames = http_body_util::BodyStream::new(body).chain(futures_util::stream::once(
        std::future::ready(Ok(Frame::trailers(map))),
    ));
    let body = http_body_util::StreamBody::new(frames).boxed_unsync();
    Response::from_parts(parts, body)
}

/// An error status's metadata without the HTTP fields of a trailers-only
/// answer's head (`content-type`, `date`), which are framing, not metadata
/// (grpc-go reserves `content-type`; grpc-go servers send no `date`).
fn trailer_metadata(md: &MetadataMap) -> MetadataMap {
    let mut headers = md.clone().into_headers();
    headers.remove(http::header::CONTENT_TYPE);
    headers.remove(http::header::DATE);
    MetadataMap::from_headers(headers)
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    fn status() -> Status {
        let mut trailers = MetadataMap::new();
        trailers.insert("x-trailer", "t".parse().unwrap());
        trailers.insert("content-type", "application/grpc".parse().unwrap());
        let mut status = Status::with_metadata(tonic::Code::NotFound, "gone", trailers);
        let mut head = MetadataMap::new();
        head.insert("x-head", "h".parse().unwrap());
        switchboard_upstream::attach_headers(&mut status, head);
        status
    }

    #[tokio::test]
    async fn headers_and_trailers_stay_apart() {
        let response = apply(crate::body::json_response(404, "{}"), &status(), None, true);
        assert_eq!(response.headers()["grpc-metadata-x-head"], "h");
        assert!(response.headers().get("grpc-metadata-x-trailer").is_none());
        assert_eq!(response.headers()[TRAILER], "grpc-trailer-x-trailer");
        let collected = response.into_body().collect().await.unwrap();
        assert_eq!(collected.trailers().unwrap()["grpc-trailer-x-trailer"], "t");
        assert_eq!(collected.to_bytes(), "{}");
    }

    #[tokio::test]
    async fn trailers_are_dropped_without_te_trailers() {
        let response = apply(
            crate::body::json_response(404, "{}"),
            &status(),
            None,
            false,
        );
        assert_eq!(response.headers()["grpc-metadata-x-head"], "h");
        assert!(response.headers().get(TRAILER).is_none());
        assert!(response.headers().get("grpc-metadata-x-trailer").is_none());
        let collected = response.into_body().collect().await.unwrap();
        assert!(collected.trailers().is_none());
    }
}
