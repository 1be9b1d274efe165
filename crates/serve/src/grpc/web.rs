//! gRPC-Web on the public port, so browsers need no Envoy: a gRPC-Web request is
//! translated to gRPC, proxied like native gRPC (see `grpc`), and the answer
//! translated back.
//!
//! The translation is `tonic-web`'s, the gRPC project's own implementation:
//! `application/grpc-web[+proto]` frames pass as they are, `-text` bodies are
//! base64-decoded on the way in (in 4-character groups, so chunks may split
//! anywhere and padding may appear between messages) and encoded on the way out,
//! and the backend's HTTP/2 trailers become the final length-prefixed frame with
//! flag `0x80` holding `grpc-status: N\r\n...`. A trailers-only answer (an error
//! before any message, including the gateway's own `UNIMPLEMENTED`) keeps its
//! status in the response headers, which gRPC-Web clients read as the status;
//! CORS exposes those headers to scripts (see `cors`).
//!
//! Two things are handled here rather than in tonic-web. The request body's size
//! is hidden from it (see [`UnknownSize`]). And whether the answer is
//! base64. tonic-web looks only for an exact `Accept: application/grpc-web-text`;
//! browsers and hand-written clients often send `*/*` or a list, so the `Accept`
//! header is normalised first: text when it names a `-text` type, or when it names
//! no gRPC-Web type at all and the request itself was `-text` (as Envoy does).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::body::RequestBody;
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Request, Response};
use http_body::Frame;
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt};
use tracing::debug;

use super::passthrough::Proxy;
use crate::body::Body;

/// Translates, proxies and translates back. Never fails.
pub(crate) async fn handle(proxy: Proxy, req: Request<RequestBody>) -> Response<Body> {
    let mut req = req.map(UnknownSize);
    normalize_accept(req.headers_mut());
    let service = tower::service_fn(move |req: Request<tonic::body::Body>| {
        let proxy = proxy.clone();
        async move { Ok::<_, Infallible>(proxy.call(req).await) }
    });
    let service = tonic_web::GrpcWebLayer::new().layer(service);
    match service.oneshot(req).await {
        Ok(response) => response.map(|body| EndOnError(body).boxed_unsync()),
        Err(never) => match never {},
    }
}

/// Sets `Accept` to exactly the gRPC-Web type the response should use.
fn normalize_accept(headers: &mut HeaderMap) {
    let is_text = |v: &str| {
        let v = v.split(';').next().unwrap_or_default().trim();
        v.eq_ignore_ascii_case("application/grpc-web-text")
            || v.eq_ignore_ascii_case("application/grpc-web-text+proto")
    };
    let is_web = |v: &str| {
        let v = v.split(';').next().unwrap_or_default().trim();
        v.eq_ignore_ascii_case("application/grpc-web")
            || v.eq_ignore_ascii_case("application/grpc-web+proto")
    };
    let accepted: Vec<String> = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::to_owned)
        .collect();
    let request_is_text = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_text);
    let text = if accepted.iter().any(|a| is_text(a)) {
        true
    } else if accepted.iter().any(|a| is_web(a)) {
        false
    } else {
        request_is_text
    };
    let value = if text {
        "application/grpc-web-text"
    } else {
        "application/grpc-web"
    };
    headers.insert(ACCEPT, HeaderValue::from_static(value));
}

/// The request body with its size hidden. tonic-web's decoder reports the
/// *encoded* body's exact size for the decoded `-text` stream, and the HTTP/2
/// client would turn that into a wrong `content-length`, which the backend
/// rejects with a protocol error; an unknown size sends no `content-length`.
struct UnknownSize(RequestBody);

impl http_body::Body for UnknownSize {
    type Data = Bytes;
    type Error = crate::body::BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, crate::body::BodyError>>> {
        Pin::new(&mut self.0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }
}

/// tonic-web's response body, whose error type is a `Status`, as this crate's
/// infallible body. Errors cannot occur in practice (the proxied body ends every
/// failure with a trailers frame); if one did, the stream simply ends, which a
/// gRPC-Web client reports as a missing status.
struct EndOnError(tonic::body::Body);

impl http_body::Body for EndOnError {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match Pin::new(&mut self.0).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(Some(Err(status))) => {
                debug!(code = ?status.code(), message = status.message(), "gRPC-Web response failed");
                Poll::Ready(None)
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept_for(content_type: &str, accept: Option<&str>) -> String {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        if let Some(a) = accept {
            h.insert(ACCEPT, HeaderValue::from_str(a).unwrap());
        }
        normalize_accept(&mut h);
        h[ACCEPT].to_str().unwrap().to_owned()
    }

    #[test]
    fn response_encoding_follows_accept_then_the_request() {
        let text = "application/grpc-web-text";
        let binary = "application/grpc-web";
        assert_eq!(accept_for(text, None), text);
        assert_eq!(accept_for(text, Some("*/*")), text);
        assert_eq!(accept_for(text, Some("application/grpc-web-text")), text);
        assert_eq!(accept_for(binary, None), binary);
        assert_eq!(
            accept_for("application/grpc-web+proto", Some("*/*")),
            binary
        );
        // An explicit Accept wins over the request's own encoding.
        assert_eq!(
            accept_for(binary, Some("application/grpc-web-text+proto")),
            text
        );
        assert_eq!(accept_for(text, Some("application/grpc-web, */*")), binary);
    }
}
