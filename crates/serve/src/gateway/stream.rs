//! Server streaming over HTTP/1.1 and HTTP/2, framed as grpc-gateway does:
//! newline-delimited JSON, one `{"result": message}` per line, each written as
//! its own chunk as soon as it arrives; a failure midway becomes a final
//! `{"error": {code, message, details}}` line. An error before the first message
//! is answered with the mapped HTTP status and that error line.
//!
//! Dropping the response body (client gone) drops the upstream stream, which
//! cancels the call on the backend.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::Response;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::uri::PathAndQuery;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use switchboard_routes::Route;
use switchboard_swap::{BackendRuntime, Snapshot};
use switchboard_transcode as transcode;
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::body::Body;
use crate::headers;

pub(super) async fn server_streaming(
    snapshot: Arc<Snapshot>,
    route: &Route,
    backend: &BackendRuntime,
    path: PathAndQuery,
    message: Bytes,
    metadata: MetadataMap,
    timeout: Option<Duration>,
) -> Response<Body> {
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let reply = match backend
        .upstream
        .server_streaming(path, message, metadata, timeout)
        .await
    {
        Ok(reply) => reply,
        Err(status) => return first_error(backend, &status),
    };
    let mut upstream = reply.stream;
    // Wait for the first message so an immediate failure gets a real HTTP status.
    let first = match next(&mut upstream, deadline).await {
        Ok(first) => first,
        Err(status) => return first_error(backend, &status),
    };

    let plan = route.plan.clone();
    let backend_index = route.backend;
    let frames = async_stream(snapshot, plan, backend_index, first, upstream, deadline);
    let mut response = Response::new(StreamBody::new(frames).boxed_unsync());
    let h = response.headers_mut();
    headers::metadata_to_headers(&reply.headers, "grpc-metadata-", h);
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The next upstream message, or the status that ended the stream (OK ends it cleanly).
async fn next(
    upstream: &mut tonic::Streaming<Bytes>,
    deadline: Option<tokio::time::Instant>,
) -> Result<Option<Bytes>, Status> {
    let fut = upstream.message();
    match deadline {
        None => fut.await,
        Some(d) => match tokio::time::timeout_at(d, fut).await {
            Ok(r) => r,
            Err(_) => Err(Status::deadline_exceeded("context deadline exceeded")),
        },
    }
}

fn async_stream(
    snapshot: Arc<Snapshot>,
    plan: Arc<transcode::MethodPlan>,
    backend_index: usize,
    first: Option<Bytes>,
    upstream: tonic::Streaming<Bytes>,
    deadline: Option<tokio::time::Instant>,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, std::convert::Infallible>> + Send {
    struct State {
        snapshot: Arc<Snapshot>,
        plan: Arc<transcode::MethodPlan>,
        backend_index: usize,
        pending: Option<Bytes>,
        upstream: tonic::Streaming<Bytes>,
        deadline: Option<tokio::time::Instant>,
        done: bool,
    }
    let state = State {
        snapshot,
        plan,
        backend_index,
        pending: first,
        upstream,
        deadline,
        done: false,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        let backend = &s.snapshot.backends[s.backend_index];
        let item = match s.pending.take() {
            Some(m) => Ok(Some(m)),
            None => next(&mut s.upstream, s.deadline).await,
        };
        let chunk = match item {
            Ok(Some(m)) => match transcode::response_to_json(&s.plan, &backend.json, &m) {
                Ok(json) => wrap(b"{\"result\":", &json),
                Err(e) => {
                    s.done = true;
                    error_chunk(
                        backend,
                        &Status::internal(format!("cannot encode response as JSON: {}", e.0)),
                    )
                }
            },
            Ok(None) => return None,
            Err(status) => {
                s.done = true;
                error_chunk(backend, &status)
            }
        };
        Some((Ok(Frame::data(chunk)), s))
    })
}

fn wrap(prefix: &[u8], json: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(prefix.len() + json.len() + 2);
    b.put_slice(prefix);
    b.put_slice(json);
    b.put_slice(b"}\n");
    b.freeze()
}

fn error_chunk(backend: &BackendRuntime, status: &Status) -> Bytes {
    let details = (!status.details().is_empty()).then(|| status.details());
    let body = transcode::status_to_json(
        Some(&backend.pool),
        &backend.json,
        status.code() as i32,
        status.message(),
        details,
    );
    wrap(b"{\"error\":", &body)
}

fn first_error(backend: &BackendRuntime, status: &Status) -> Response<Body> {
    let code = status.code() as i32;
    let mut response = Response::builder()
        .status(transcode::http_status_for(code))
        .header(CONTENT_TYPE, "application/json")
        .body(crate::body::full(error_chunk(backend, status)))
        .unwrap_or_else(|_| Response::new(crate::body::full(Bytes::new())));
    headers::metadata_to_headers(status.metadata(), "grpc-metadata-", response.headers_mut());
    response
}
