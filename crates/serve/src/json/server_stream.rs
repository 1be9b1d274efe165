//! Server streaming over HTTP/1.1 and HTTP/2, framed as grpc-gateway does:
//! newline-delimited JSON, one `{"result": message}` per line, each written as
//! its own chunk as soon as it arrives; a failure midway becomes a final
//! `{"error": {code, message, details}}` line. An error before the first message
//! is answered with the mapped HTTP status and that error line.
//!
//! With `Accept: text/event-stream` the same lines are sent as Server-Sent Events
//! instead (see [`sse`](super::sse)); bidirectional calls over a POST body reuse
//! this response side unchanged (see [`client_stream`](super::client_stream)).
//!
//! Dropping the response body (client gone) drops the upstream stream, which
//! cancels the call on the backend; for a call whose request stream may still be
//! open, the body also owns a [`CancelOnDrop`] that resets it.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use http::Response;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::uri::PathAndQuery;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use switchboard_live::{BackendRuntime, Snapshot};
use switchboard_routes::Route;
use switchboard_transcode as transcode;
use switchboard_upstream::Deadline;
use switchboard_upstream::StreamReply;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::sse;
use crate::body::Body;
use crate::feed::CancelOnDrop;
use crate::headers;

/// How a streamed response is written: each variant turns one message, or the
/// final error, into exactly one body frame (one HTTP/1.1 chunk, one HTTP/2
/// DATA write), so a message is never split or merged with the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// grpc-gateway's default: `{"result": ...}\n` lines, `{"error": ...}\n` last.
    Ndjson,
    /// The same envelopes as Server-Sent Events, for `Accept: text/event-stream`.
    Sse,
    /// The same envelopes, one per WebSocket text message (no newline).
    WebSocket,
}

impl Framing {
    /// SSE when the client asks for it, grpc-gateway's NDJSON otherwise.
    pub(super) fn for_request(headers: &http::HeaderMap) -> Framing {
        if sse::accepts_event_stream(headers) {
            Framing::Sse
        } else {
            Framing::Ndjson
        }
    }

    fn content_type(self) -> HeaderValue {
        match self {
            Framing::Ndjson | Framing::WebSocket => HeaderValue::from_static("application/json"),
            Framing::Sse => HeaderValue::from_static(sse::CONTENT_TYPE),
        }
    }

    /// One response message (`json`, already printed) in this framing.
    pub(super) fn result(self, json: &[u8]) -> Bytes {
        let line = wrap(b"{\"result\":", json);
        match self {
            Framing::Ndjson => line,
            Framing::Sse => sse::event(None, &line),
            Framing::WebSocket => line.slice(..line.len() - 1),
        }
    }

    /// The status that ended the stream, as grpc-gateway's `{"error": ...}`
    /// envelope (details decoded through the backend's descriptors).
    pub(super) fn error(self, backend: &BackendRuntime, status: &Status) -> Bytes {
        let line = error_chunk(backend, status);
        match self {
            Framing::Ndjson => line,
            Framing::Sse => sse::event(Some("error"), &line),
            Framing::WebSocket => line.slice(..line.len() - 1),
        }
    }
}

/// A streaming call being set up: what every streaming shape needs from the
/// request handler (the request messages themselves come separately).
pub(super) struct Call<'a> {
    pub snapshot: Arc<Snapshot>,
    pub route: &'a Route,
    pub backend: &'a BackendRuntime,
    /// The endpoint chosen for the call, before any message was encoded.
    pub endpoint: switchboard_upstream::Picked,
    /// The route's plan for the endpoint's schema: every request message is
    /// encoded, and every response decoded, with it (see `schema_group`).
    pub plan: Arc<transcode::MethodPlan>,
    pub metadata: MetadataMap,
    /// The call's deadline, fixed when the request arrived.
    pub deadline: Deadline,
    /// Largest request message (`limits.max_body_bytes`), for streamed requests.
    pub max_message_bytes: usize,
    /// Write grpc-gateway's `\n` after each streamed `google.api.HttpBody`
    /// (`http.raw_http_body_streams: false`, the default).
    pub http_body_delimiter: bool,
}

pub(super) async fn server_streaming(
    call: Call<'_>,
    path: PathAndQuery,
    message: Bytes,
    framing: Framing,
) -> Response<Body> {
    let Call {
        snapshot,
        route,
        backend,
        endpoint,
        plan,
        metadata,
        deadline,
        http_body_delimiter,
        ..
    } = call;
    let started = backend
        .upstream
        .server_streaming(endpoint, path, message, metadata, deadline)
        .await;
    respond(
        snapshot,
        route,
        plan,
        backend,
        started,
        framing,
        http_body_delimiter,
        None,
    )
    .await
}

/// Streams an upstream call back to the client once it has started (headers
/// received), or answers why it did not start: the one writer of every
/// streamed JSON answer (server streaming, bidi over POST). Each message is
/// decoded with `plan`, the plan for the answering endpoint's schema. `guard`,
/// if any, lives as long as the response body; `http_body_delimiter` ends each
/// raw `HttpBody` message with `\n`.
#[allow(clippy::too_many_arguments)] // what the body keeps, from two call shapes
pub(super) async fn respond(
    snapshot: Arc<Snapshot>,
    route: &Route,
    plan: Arc<transcode::MethodPlan>,
    backend: &BackendRuntime,
    started: Result<StreamReply, Status>,
    framing: Framing,
    http_body_delimiter: bool,
    guard: Option<CancelOnDrop>,
) -> Response<Body> {
    let mut reply = match started {
        Ok(reply) => reply,
        Err(status) => return first_error(backend, &status, None, framing),
    };
    // Wait for the first message so an immediate failure gets a real HTTP status.
    let first = match reply.message().await {
        Ok(first) => first,
        Err(status) => return first_error(backend, &status, Some(&reply.headers), framing),
    };
    // A stream of google.api.HttpBody is written raw (grpc-gateway's
    // HTTPBodyMarshaler), typed by the first message's content_type; a failure
    // midway still ends it with an NDJSON error line, as in grpc-gateway. The
    // first message is decoded once, here: its data is the first chunk.
    let (pending, raw_type) = match (first, plan.raw_response) {
        (Some(m), true) => {
            match transcode::encode_response(&plan, &backend.json, transcode::Codec::Json, m) {
                Ok(e) => (
                    Some(Pending::Chunk(delimited(e.body, http_body_delimiter))),
                    Some(e.content_type),
                ),
                Err(e) => (
                    Some(Pending::Failed(Status::internal(e.0))),
                    Some(Default::default()),
                ),
            }
        }
        (None, true) => (None, Some(Default::default())),
        (first, false) => (first.map(Pending::Message), None),
    };
    let framing = if raw_type.is_some() {
        Framing::Ndjson
    } else {
        framing
    };
    let metadata = std::mem::take(&mut reply.headers);
    let state = State {
        snapshot,
        plan,
        backend_index: route.backend,
        pending,
        upstream: reply,
        framing,
        http_body_delimiter,
        done: false,
        _guard: guard,
    };
    let mut response = Response::new(StreamBody::new(async_stream(state)).boxed_unsync());
    let h = response.headers_mut();
    headers::metadata_to_headers(&metadata, "grpc-metadata-", h);
    match raw_type.map(|t| HeaderValue::from_str(&t)) {
        Some(Ok(v)) if !v.is_empty() => {
            h.insert(CONTENT_TYPE, v);
        }
        Some(_) => {}
        None => {
            h.insert(CONTENT_TYPE, framing.content_type());
        }
    }
    if framing == Framing::Sse {
        sse::add_headers(h);
    }
    response
}

/// What the body writes before reading on: the first message, already read
/// (for a raw HttpBody stream already encoded, or failed to encode).
enum Pending {
    Message(Bytes),
    Chunk(Bytes),
    Failed(Status),
}

/// Everything the response body needs after the handler has returned.
struct State {
    snapshot: Arc<Snapshot>,
    plan: Arc<transcode::MethodPlan>,
    backend_index: usize,
    pending: Option<Pending>,
    /// The call; its reads carry the call's deadline.
    upstream: StreamReply,
    framing: Framing,
    /// grpc-gateway's `\n` after each raw `HttpBody` message.
    http_body_delimiter: bool,
    done: bool,
    /// Resets a call whose request stream is still open when the body is dropped.
    _guard: Option<CancelOnDrop>,
}

fn async_stream(
    state: State,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, std::convert::Infallible>> + Send {
    futures_util::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        let backend = &s.snapshot.backends[s.backend_index];
        let item = match s.pending.take() {
            Some(Pending::Message(m)) => Ok(Some(m)),
            Some(Pending::Chunk(chunk)) => return Some((Ok(Frame::data(chunk)), s)),
            Some(Pending::Failed(status)) => Err(status),
            None => s.upstream.message().await,
        };
        let chunk = match item {
            // Raw HttpBody data, then grpc-gateway's delimiter in the same
            // chunk (ForwardResponseStream writes both before flushing),
            // unless `http.raw_http_body_streams` asks for the data alone.
            Ok(Some(m)) if s.plan.raw_response => {
                match transcode::encode_response(&s.plan, &backend.json, transcode::Codec::Json, m)
                {
                    Ok(e) => delimited(e.body, s.http_body_delimiter),
                    Err(e) => {
                        s.done = true;
                        s.framing.error(backend, &Status::internal(e.0))
                    }
                }
            }
            Ok(Some(m)) => match transcode::response_to_json(&s.plan, &backend.json, &m) {
                Ok(json) => s.framing.result(&json),
                Err(e) => {
                    s.done = true;
                    s.framing.error(
                        backend,
                        &Status::internal(format!("cannot encode response as JSON: {}", e.0)),
                    )
                }
            },
            Ok(None) => return None,
            Err(status) => {
                s.done = true;
                s.framing.error(backend, &status)
            }
        };
        Some((Ok(Frame::data(chunk)), s))
    })
}

/// A raw `HttpBody` chunk, with grpc-gateway's `\n` when `delimit`.
fn delimited(data: Bytes, delimit: bool) -> Bytes {
    if !delimit {
        return data;
    }
    let mut chunk = BytesMut::with_capacity(data.len() + 1);
    chunk.put_slice(&data);
    chunk.put_u8(b'\n');
    chunk.freeze()
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

/// A failure before the first message: the mapped HTTP status, and the error in
/// the stream's own framing as the whole body. The response head, when one came
/// before the failure, gives the `Grpc-Metadata-*` headers; a stream's trailer
/// metadata is not sent (grpc-gateway's ForwardResponseStream sends no trailers).
fn first_error(
    backend: &BackendRuntime,
    status: &Status,
    head: Option<&MetadataMap>,
    framing: Framing,
) -> Response<Body> {
    let code = status.code() as i32;
    let mut response = Response::builder()
        .status(transcode::http_status_for(code))
        .header(CONTENT_TYPE, framing.content_type())
        .body(crate::body::full(framing.error(backend, status)))
        .unwrap_or_else(|_| Response::new(crate::body::full(Bytes::new())));
    if let Some(head) = head {
        headers::metadata_to_headers(head, "grpc-metadata-", response.headers_mut());
    }
    response
}
