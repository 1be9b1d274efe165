//! Client streaming and bidirectional streaming over a plain HTTP request body,
//! as grpc-gateway's generated handlers do it.
//!
//! The body is a sequence of JSON values, newline-delimited or simply
//! concatenated (whatever Go's `json.Decoder` accepts). Each value is transcoded
//! and sent upstream as soon as its last byte arrives; the body is never read
//! whole. The end of the body half-closes the request stream (grpc-gateway's
//! `CloseSend`), nothing more.
//!
//! - **Client streaming** answers like a unary call (one JSON body, mapped HTTP
//!   status on error, trailers on `TE: trailers`). A value that is not valid
//!   JSON for the request message fails the call with 400 (code 3); one longer
//!   than `limits.max_body_bytes` with 413 (code 8): the limit applies per
//!   message, because the body as a whole is a stream.
//! - **Bidirectional streaming** answers like server streaming
//!   ([`stream::respond`]): `{"result": ...}` lines until the backend ends the
//!   call, whether or not the request body has ended. A bad value half-closes the
//!   request stream and the call ends however the backend ends it, as in
//!   grpc-gateway (whose sending goroutine stops at the first decode error).
//!
//! Cancellation: the request stream is read by hyper's HTTP/2 client task, not
//! by this handler, and hyper resets an upstream stream whose response is
//! dropped only once the request stream has ended. So every call here carries a
//! tonic cancellation handle, fired by a [`CancelOnDrop`] owned by the handler
//! (and, for bidi, by the response body): a client that goes away resets the
//! upstream call at once, even while its request stream is open. A failed read
//! of the client's body fires it too.

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use http::uri::PathAndQuery;
use switchboard_live::{BackendRuntime, Snapshot};
use switchboard_transcode as transcode;
use switchboard_upstream::UnaryReply;
use tonic::{Code, Status};

use super::server_stream::{self as stream, Call, Framing};
use super::{Early, status_response};
use crate::body::Body;
use crate::feed::{CancelOnDrop, Feed, OnBadMessage};
use crate::headers::accepts_trailers;
use crate::upload_drain::UploadBody;

/// Serves a client-streaming or bidi method whose request body is the message
/// stream (path variables and query parameters do not apply, as in grpc-gateway).
pub(super) async fn dispatch(
    call: Call<'_>,
    headers: &HeaderMap,
    body: UploadBody,
) -> Result<http::Response<Body>, Early> {
    // Parsed at table-build time; cloning shares the bytes.
    let path = call.route.grpc_path_and_query.clone();
    if call.plan.method.is_server_streaming() {
        let framing = Framing::for_request(headers);
        Ok(bidi(call, path, framing, body).await)
    } else {
        client_streaming(call, path, accepts_trailers(headers), body).await
    }
}

/// A client-streaming call: the body's values go upstream one by one; the single
/// response is answered like a unary one.
async fn client_streaming(
    call: Call<'_>,
    path: PathAndQuery,
    trailers_ok: bool,
    body: UploadBody,
) -> Result<http::Response<Body>, Early> {
    let (extensions, handle) = switchboard_upstream::cancellable();
    // Dropped when this future is (client gone) or returns (call over).
    let _guard = CancelOnDrop::new(handle.clone());
    let (feed, failure) = Feed::new(body, JsonValues::new(&call), OnBadMessage::Fail, handle);
    let Call {
        backend,
        endpoint,
        plan,
        metadata,
        deadline,
        ..
    } = call;
    let upstream = async {
        let mut reply = backend
            .upstream
            .start_with(endpoint, path, feed, metadata, extensions, deadline)
            .await?;
        // A failure after the response head keeps that head apart from the
        // trailers (see `error_metadata`).
        let head = reply.headers.clone();
        let with_head = |mut status: Status| {
            switchboard_upstream::attach_headers(&mut status, head.clone());
            status
        };
        let message = reply
            .message()
            .await
            .map_err(with_head)?
            .ok_or_else(|| with_head(Status::internal("backend sent no response message")))?;
        let trailers = reply.trailers().await.map_err(with_head)?;
        Ok::<_, Status>(UnaryReply {
            headers: reply.headers,
            message,
            trailers,
        })
    };
    let result = upstream.await;
    // A request the gateway could not transcode explains the upstream failure
    // (the call was reset because of it), so it wins, as in grpc-gateway where
    // decoding happens before the response is read.
    if let Some(early) = failure.take() {
        return Err(early);
    }
    Ok(match result {
        Ok(reply) => single_response(&plan, backend, reply, trailers_ok),
        Err(status) => status_response(backend, &status, trailers_ok),
    })
}

/// A bidirectional call over a POST body: request values go upstream as they
/// arrive, responses stream back as `{"result": ...}` lines (or SSE events).
async fn bidi(
    call: Call<'_>,
    path: PathAndQuery,
    framing: Framing,
    body: UploadBody,
) -> http::Response<Body> {
    let (extensions, handle) = switchboard_upstream::cancellable();
    let guard = CancelOnDrop::new(handle.clone());
    // A bad value half-closes; a failed read cancels, and the call's own
    // error then says so.
    let (feed, _) = Feed::new(
        body,
        JsonValues::new(&call),
        OnBadMessage::HalfClose,
        handle,
    );
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
        .start_with(endpoint, path, feed, metadata, extensions, deadline)
        .await;
    let mut response = stream::respond(
        snapshot,
        route,
        plan,
        backend,
        started,
        framing,
        http_body_delimiter,
        Some(guard),
    )
    .await;
    if response.status().is_success() {
        // The answer streams while the body is still being read.
        response
            .extensions_mut()
            .insert(crate::upload_drain::FullDuplex);
    }
    response
}

/// The single response of a client-streaming call, rendered as a unary one: the
/// JSON message, header metadata as `Grpc-Metadata-*`, trailer metadata as
/// `Grpc-Trailer-*` trailers when the client accepts trailers. (Streamed request
/// bodies are always JSON, so only the JSON codec applies here.)
fn single_response(
    plan: &transcode::MethodPlan,
    backend: &BackendRuntime,
    reply: UnaryReply,
    trailers_ok: bool,
) -> http::Response<Body> {
    let json = match transcode::response_to_json(plan, &backend.json, &reply.message) {
        Ok(json) => json,
        Err(e) => {
            return status_response(
                backend,
                &Status::internal(format!("cannot encode response as JSON: {}", e.0)),
                trailers_ok,
            );
        }
    };
    super::respond::unary_response(&reply, json.into(), "application/json", trailers_ok)
}

/// The JSON framing for the shared [`Feed`]: the body split into JSON values,
/// each encoded as the request message.
struct JsonValues {
    splitter: transcode::JsonSplitter,
    limit: usize,
    snapshot: Arc<Snapshot>,
    plan: Arc<transcode::MethodPlan>,
    backend_index: usize,
}

impl JsonValues {
    fn new(call: &Call<'_>) -> Self {
        JsonValues {
            splitter: transcode::JsonSplitter::new(call.max_message_bytes),
            limit: call.max_message_bytes,
            snapshot: call.snapshot.clone(),
            plan: call.plan.clone(),
            backend_index: call.route.backend,
        }
    }
}

impl crate::feed::Framing for JsonValues {
    type Error = Early;

    fn push(&mut self, data: &[u8]) {
        self.splitter.push(data);
    }

    fn next_message(&mut self, eof: bool) -> Result<Option<Bytes>, Early> {
        let value = if eof {
            self.splitter.finish()
        } else {
            self.splitter.next_value()
        };
        let value = value.map_err(|e| {
            if self.splitter.pending() > self.limit {
                let mut early = Early::new(Code::ResourceExhausted, e.0);
                early.http = 413;
                early
            } else {
                Early::new(Code::InvalidArgument, e.0)
            }
        })?;
        let Some(value) = value else { return Ok(None) };
        let json = &self.snapshot.backends[self.backend_index].json;
        transcode::message_from_json(&self.plan, json, &value)
            .map(Some)
            .map_err(|e| Early::new(Code::InvalidArgument, e.0))
    }

    fn unreadable(message: String) -> Early {
        Early::new(Code::Cancelled, message)
    }

    fn describe(error: &Early) -> &str {
        &error.message
    }
}
