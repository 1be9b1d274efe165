//! An early answer waits for the upload, as Go's `net/http` server does for
//! grpc-gateway (server.go, `chunkWriter.writeHeader`).
//!
//! When an HTTP/1.x request is answered before its body has been read to the
//! end (the backend failed a client-streaming call mid-upload, the path has no
//! route, the declared length is over the limit...), the rest of the body is
//! read and discarded before the answer is written, up to [`DRAIN_LIMIT`]
//! (Go's `maxPostHandlerReadBytes`, 256 KiB), so the connection stays usable
//! and a client that is still writing does not get a broken pipe instead of
//! the answer. When more than that remains (or is declared by `Content-Length`),
//! or the client stalls for [`DRAIN_TIME_LIMIT`], the answer says
//! `Connection: close` and the connection is closed after it. So does an
//! unfinished body the client sent with `Expect: 100-continue`: reading it
//! would ask for an upload only to throw it away (Go closes then too). HTTP/2
//! needs none of this: the stream is reset with `NO_ERROR` after the answer.
//!
//! Every HTTP/JSON call shape reads its body through one [`UploadBody`], whose
//! underlying body stays reachable here after the handler has given up on it.
//! A full-duplex answer (bidirectional streaming over a POST, still reading the
//! body while it answers) marks itself with [`FullDuplex`] and is left alone.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::body::RequestBody;
use bytes::Bytes;
use http::header::{CONNECTION, HeaderValue};
use http::{Request, Response, Version};
use http_body::{Body as _, Frame, SizeHint};

use crate::body::Body;

/// How much unread body is read and discarded before an early answer.
pub(crate) const DRAIN_LIMIT: u64 = 256 * 1024;

/// How long the drain waits for a client that has stopped sending.
pub(crate) const DRAIN_TIME_LIMIT: Duration = Duration::from_secs(10);

/// Response extension: the answer streams while the request body is still
/// being read by the call (bidi over POST), so nothing is drained.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FullDuplex;

/// The request body as the handlers read it: the connection's body, shared
/// with the [`Upload`] that drains what they leave.
#[derive(Debug)]
pub(crate) struct UploadBody {
    slot: Arc<Mutex<Option<RequestBody>>>,
    /// Where the bytes read are counted for the access log, when the request
    /// declared no length (see `switchboard_observe::Call::count_in`).
    counted: Option<Arc<switchboard_observe::Call>>,
}

/// The handle that settles a request's unread body once it is answered.
#[derive(Debug)]
pub(crate) struct Upload {
    slot: Arc<Mutex<Option<RequestBody>>>,
    http1: bool,
    expect_continue: bool,
}

fn lock(slot: &Mutex<Option<RequestBody>>) -> MutexGuard<'_, Option<RequestBody>> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

impl Upload {
    /// Splits off the body of `req` so it can be settled after the answer.
    pub(crate) fn wrap(req: Request<RequestBody>) -> (Request<UploadBody>, Upload) {
        let http1 = req.version() < Version::HTTP_2;
        let expect_continue = req
            .headers()
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let (parts, body) = req.into_parts();
        let slot = Arc::new(Mutex::new(Some(body)));
        let upload = Upload {
            slot: slot.clone(),
            http1,
            expect_continue,
        };
        let counted = switchboard_observe::current()
            .filter(|c| c.detailed && !parts.headers.contains_key(http::header::CONTENT_LENGTH));
        (
            Request::from_parts(parts, UploadBody { slot, counted }),
            upload,
        )
    }

    /// Drains what the handler left of the body before `response` is written
    /// (see the module docs), or marks it `Connection: close`.
    pub(crate) async fn settle(self, mut response: Response<Body>) -> Response<Body> {
        if !self.http1 || response.extensions().get::<FullDuplex>().is_some() {
            return response;
        }
        // Taken out: a handler's reader still holding an `UploadBody` now sees
        // the end of the body.
        let Some(mut body) = lock(&self.slot).take() else {
            return response;
        };
        if body.is_end_stream() {
            return response;
        }
        let drained = !self.expect_continue
            && body.size_hint().lower() < DRAIN_LIMIT
            && tokio::time::timeout(DRAIN_TIME_LIMIT, discard(&mut body))
                .await
                .unwrap_or(false);
        if !drained {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Reads and discards up to [`DRAIN_LIMIT`] bytes; true if the body ended
/// within it (more, or a broken body, means the connection must close).
async fn discard(body: &mut RequestBody) -> bool {
    let mut left = DRAIN_LIMIT;
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await {
            None => return true,
            Some(Err(_)) => return false,
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    if n > left {
                        return false;
                    }
                    left -= n;
                }
            }
        }
    }
}

impl http_body::Body for UploadBody {
    type Data = Bytes;
    type Error = crate::body::BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, crate::body::BodyError>>> {
        let polled = match lock(&self.slot).as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        };
        if let (Some(call), Poll::Ready(Some(Ok(frame)))) = (&self.counted, &polled)
            && let Some(data) = frame.data_ref()
        {
            call.count_in(data.len());
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        lock(&self.slot)
            .as_ref()
            .is_none_or(RequestBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        lock(&self.slot)
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), RequestBody::size_hint)
    }
}
