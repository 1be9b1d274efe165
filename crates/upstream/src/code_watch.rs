//! Pass-through bodies that feed the request's record (see
//! `switchboard_observe`) for native gRPC and gRPC-Web calls: [`CodeWatch`]
//! records the `grpc-status` of a response's trailers (the status arrives
//! after the head), [`Counted`] the request bytes forwarded.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use switchboard_observe::Call;
use tonic::body::Body;

pub(crate) struct CodeWatch {
    inner: Body,
    call: Option<Arc<Call>>,
}

impl CodeWatch {
    pub(crate) fn new(inner: Body, call: Arc<Call>) -> Self {
        CodeWatch {
            inner,
            call: Some(call),
        }
    }
}

impl http_body::Body for CodeWatch {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(trailers) = frame.trailers_ref()
            && let Some(call) = self.call.take()
        {
            let code = trailers
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok());
            // No grpc-status in trailers: clients read that as UNKNOWN.
            call.set_grpc_code(code.unwrap_or(2));
        }
        if let Poll::Ready(Some(Err(_))) = &polled
            && let Some(call) = self.call.take()
        {
            // The backend's stream broke mid-response.
            call.set_grpc_code(tonic::Code::Unavailable as i32);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A forwarded request body, its bytes counted into the request's record.
pub(crate) struct Counted {
    inner: Body,
    call: Arc<Call>,
}

impl Counted {
    pub(crate) fn new(inner: Body, call: Arc<Call>) -> Self {
        Counted { inner, call }
    }
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.call.count_in(data.len());
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
