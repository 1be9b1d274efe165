//! The body types shared by every handler: one request body type, so that
//! every caller (hyper's listener, a tower stack, axum) reaches the same code
//! path, and one response body type, with small constructors.

use std::convert::Infallible;

use bytes::{Buf, Bytes};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

/// The error a request body can fail with: whatever the caller's body type
/// reported, boxed (hyper's `Incoming` reports `hyper::Error`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a request body failed (the client reset the stream, the connection
/// broke): the caller's body error, as it said it. A concrete type rather than
/// a bare [`BoxError`], so that futures reading a body stay `Send` for every
/// lifetime (a boxed trait object's `From` is not general enough there).
#[derive(Debug)]
pub(crate) struct BodyError(BoxError);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Every request body as the handlers read it. A caller's body is boxed once
/// at the entry ([`request_body`]), so hyper's `Incoming`, axum's `Body` and a
/// test's `Full` all take one code path: no handler is generic over the body,
/// and none is written twice.
pub(crate) type RequestBody = UnsyncBoxBody<Bytes, BodyError>;

/// Every response body: a whole buffer or a stream of frames. Errors are written
/// in-band (grpc-gateway's `{"error": ...}` chunk), so the body itself never fails.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Boxes any request body as [`RequestBody`], its data chunks as [`Bytes`]
/// (free for bodies whose chunks already are `Bytes`, as hyper's and axum's
/// are).
pub(crate) fn request_body<B>(body: B) -> RequestBody
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    AsBytes { inner: body }.boxed_unsync()
}

pin_project_lite::pin_project! {
    /// A body with its chunks as [`Bytes`] and its error as [`BodyError`].
    /// Unlike `map_frame`, it keeps the body's size hint and end-of-stream
    /// flag, which the body limit reads (a declared `Content-Length` over
    /// the limit is answered before any byte is read).
    struct AsBytes<B> {
        #[pin]
        inner: B,
    }
}

impl<B> http_body::Body for AsBytes<B>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BodyError>>> {
        self.project().inner.poll_frame(cx).map(|frame| {
            frame.map(|f| {
                f.map(|f| f.map_data(|mut data| data.copy_to_bytes(data.remaining())))
                    .map_err(|e| BodyError(e.into()))
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// `body`, keeping `keep` alive until the body is dropped (after its end, or
/// when the client goes away): an edge guard until the answer is written, a
/// connection's activity token. Frames, size hint and end of stream are the
/// body's own.
pub(crate) fn holding<T: Send + 'static>(body: Body, keep: T) -> Body {
    Holding {
        inner: body,
        _keep: keep,
    }
    .boxed_unsync()
}

pin_project_lite::pin_project! {
    struct Holding<T> {
        #[pin]
        inner: Body,
        _keep: T,
    }
}

impl<T> http_body::Body for Holding<T> {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A whole-buffer response body (error bodies, unary answers).
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A JSON response with `status`: the shape of every answer the gateway and
/// the admin listener write themselves. Never fails (a status outside
/// 100..=999 gives an empty 200 rather than a panic).
pub fn json_response(status: u16, body: impl Into<Bytes>) -> http::Response<Body> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(full(body))
        .unwrap_or_else(|_| http::Response::new(full(Bytes::new())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;

    #[tokio::test]
    async fn any_body_reads_the_same_once_boxed() {
        // A body whose chunks are not `Bytes`, and one that fails.
        let chunks = http_body_util::StreamBody::new(futures_util::stream::iter([
            Ok::<_, std::io::Error>(http_body::Frame::data(&b"ab"[..])),
            Ok(http_body::Frame::data(&b"cd"[..])),
        ]));
        let collected = request_body(chunks).collect().await.unwrap().to_bytes();
        // What the body limit reads before any byte: kept through the box.
        let sized = request_body(Full::new(Bytes::from_static(b"12345")));
        assert_eq!(sized.size_hint().exact(), Some(5));
        assert!(request_body(http_body_util::Empty::<Bytes>::new()).is_end_stream());
        assert_eq!(&collected[..], b"abcd");
        let broken = http_body_util::StreamBody::new(futures_util::stream::iter([Err::<
            http_body::Frame<Bytes>,
            _,
        >(
            std::io::Error::other("reset"),
        )]));
        let err = request_body(broken).collect().await.unwrap_err();
        assert_eq!(err.to_string(), "reset");
    }
}
