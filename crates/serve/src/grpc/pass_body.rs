//! The body of every gRPC response the public port relays (a backend's, or the
//! gateway's own reflection service's): frames pass through untouched, the
//! call always ends with a trailers frame carrying a status, and the deadline
//! ends it early. A leaf, so the pass-through and the reflection service both
//! use it without importing each other.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;
use http::header::HeaderValue;
use http_body::Frame;
use http_body_util::BodyExt;
use tonic::{Code, Status};
use tracing::debug;

use crate::body::Body;
use switchboard_upstream::{Deadline, deadline_exceeded};

/// A locally produced gRPC response body (the reflection service's) as the
/// public port writes it: always ending with a status trailer.
pub(super) fn pass_body(body: tonic::body::Body) -> Body {
    PassBody::new(body, Deadline::NONE).boxed_unsync()
}

/// The status to send instead of the one in `headers` (a response head or
/// trailers), if the deadline's rule replaces it ([`Deadline::map_code`]: a
/// backend's CANCELLED at our deadline is DEADLINE_EXCEEDED).
pub(super) fn cancelled_by_deadline(headers: &HeaderMap, deadline: &Deadline) -> Option<Status> {
    let code = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<i32>()
        .ok()?;
    deadline.map_code(Code::from_i32(code))
}

/// The backend's response body on its way to the client: frames pass through
/// untouched; the call always ends with a trailers frame carrying a status; the
/// deadline ends it early.
pub(super) struct PassBody {
    inner: Option<tonic::body::Body>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    deadline: Deadline,
    /// Set once a trailers frame has gone out (or none must).
    done: bool,
}

impl PassBody {
    pub(super) fn new(inner: tonic::body::Body, deadline: Deadline) -> Self {
        PassBody {
            inner: Some(inner),
            timer: deadline.at().map(|d| Box::pin(tokio::time::sleep_until(d))),
            deadline,
            done: false,
        }
    }

    /// A trailers-only response's (empty) body: nothing to add.
    pub(super) fn trailers_only(inner: tonic::body::Body) -> Self {
        PassBody {
            inner: Some(inner),
            timer: None,
            deadline: Deadline::NONE,
            done: true,
        }
    }

    /// Ends the call with `status` in a trailers frame; dropping the backend's
    /// body resets its stream, which cancels the call there.
    fn finish(
        &mut self,
        status: &Status,
    ) -> Poll<Option<Result<Frame<Bytes>, std::convert::Infallible>>> {
        self.done = true;
        self.inner = None;
        let mut trailers = HeaderMap::new();
        if status.add_header(&mut trailers).is_err() {
            trailers.insert("grpc-status", HeaderValue::from_static("13"));
        }
        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
    }
}

impl http_body::Body for PassBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if this.done {
            // Trailers-only: pass the (empty) body through as it is.
            return match ready!(Pin::new(inner).poll_frame(cx)) {
                Some(Ok(frame)) => Poll::Ready(Some(Ok(frame))),
                _ => Poll::Ready(None),
            };
        }
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    if let Some(status) = cancelled_by_deadline(trailers, &this.deadline) {
                        return this.finish(&status);
                    }
                    this.done = true;
                    this.inner = None;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(status))) => {
                debug!(code = ?status.code(), message = status.message(), "backend stream failed");
                let status = if status.code() == Code::Unknown {
                    Status::unavailable(format!("backend stream failed: {}", status.message()))
                } else {
                    status
                };
                let status = this.deadline.map_status(status);
                this.finish(&status)
            }
            Poll::Ready(None) => this.finish(&Status::internal(
                "backend closed the stream without sending trailers",
            )),
            Poll::Pending => {
                let expired = this
                    .timer
                    .as_mut()
                    .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
                if expired {
                    this.finish(&deadline_exceeded())
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            None => true,
            Some(inner) => self.done && inner.is_end_stream(),
        }
    }
}
