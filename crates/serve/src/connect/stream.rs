//! Streaming Connect calls (server, client and bidirectional): the body is a
//! sequence of envelopes (`application/connect+json` or `+proto`), and so is
//! the response, ended by an end-of-stream envelope holding the trailers as
//! `metadata` and, when the call failed, the `error`. The HTTP status is 200
//! whatever happens once the request is accepted, as the spec requires.
//!
//! Each request message is sent upstream as soon as its envelope is complete,
//! and each response message is written as soon as it arrives, one envelope per
//! body frame. Bidirectional calls are full duplex over HTTP/2 (and over
//! HTTP/1.1 as far as the client allows). As for the JSON streaming shapes, the
//! call carries a cancellation handle fired when the client goes away, so the
//! backend's call is reset even while its request stream is open.

use std::sync::Arc;

use crate::body::RequestBody;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, Response};
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;
use switchboard_live::Snapshot;
use switchboard_transcode as transcode;
use switchboard_upstream::StreamReply;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::codec::{self, Codec, STREAM_ACCEPT_ENCODING, STREAM_CONTENT_ENCODING, json_options};
use super::compress::{self, Encoding};
use super::envelope::{self, Decoder, FLAG_COMPRESSED, FLAG_END_STREAM};
use super::{Call, error, metadata};
use crate::body::{Body, full};
use crate::feed::{CancelOnDrop, Failure, Feed, Framing, OnBadMessage};

/// Serves a streaming call of any shape.
pub(super) async fn handle(
    call: Call<'_>,
    codec: Option<Codec>,
    req: Request<RequestBody>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let codec = match call.codec_for(codec, true, &parts.headers) {
        Ok(codec) => codec,
        Err(unsupported) => return unsupported,
    };
    let backend = call.backend;
    let accept = compress::response_encoding(&parts.headers, STREAM_ACCEPT_ENCODING);
    let setup = || {
        codec::check_version(&parts.headers)?;
        let inbound = compress::request_encoding(&parts.headers, STREAM_CONTENT_ENCODING)?;
        let (deadline, md) = call.deadline_and_metadata(&parts.headers, &parts.uri)?;
        // The endpoint first, then the messages encoded for its schema.
        let (endpoint, plan) = call.choose()?;
        let plan = match codec {
            Codec::Json => Some(plan?.clone()),
            Codec::Proto => None,
        };
        Ok::<_, Status>((deadline, inbound, md, endpoint, plan, call.grpc_path()?))
    };
    let (deadline, inbound, md, endpoint, plan, path) = match setup() {
        Ok(s) => s,
        Err(status) => return error_response(codec, Some(&backend.pool), &status),
    };

    let (extensions, handle) = switchboard_upstream::cancellable();
    let guard = CancelOnDrop::new(handle.clone());
    let json = json_options(backend.json.strict);
    let envelopes = Envelopes {
        decoder: Decoder::new(call.max_message_bytes),
        limit: call.max_message_bytes,
        codec,
        plan: plan.clone(),
        json,
        inbound,
    };
    let (feed, failure) = Feed::new(body, envelopes, OnBadMessage::Fail, handle);
    // The deadline covers starting the call and every read of the reply.
    let started = backend
        .upstream
        .start_with(endpoint, path, feed, md, extensions, deadline)
        .await;
    let mut reply = match started {
        Ok(reply) => reply,
        Err(status) => {
            let status = failure.take().unwrap_or(status);
            return error_response(codec, Some(&backend.pool), &status);
        }
    };
    let headers = std::mem::take(&mut reply.headers);
    let state = State {
        snapshot: call.snapshot.clone(),
        backend_index: call.backend_index,
        plan,
        codec,
        json,
        accept,
        upstream: reply,
        failure,
        done: false,
        _guard: guard,
    };
    let mut response = Response::new(StreamBody::new(body_stream(state)).boxed_unsync());
    let h = response.headers_mut();
    metadata::to_headers(&headers, "", h);
    set_stream_headers(h, codec, accept);
    response
}

fn set_stream_headers(h: &mut http::HeaderMap, codec: Codec, accept: Encoding) {
    h.insert(CONTENT_TYPE, codec.stream_content_type());
    h.insert(
        STREAM_ACCEPT_ENCODING,
        HeaderValue::from_static(compress::SUPPORTED),
    );
    if accept == Encoding::Gzip {
        h.insert(
            STREAM_CONTENT_ENCODING,
            HeaderValue::from_static(Encoding::Gzip.name()),
        );
    }
}

/// A stream that failed before any message: HTTP 200 and an end-of-stream
/// envelope with the error (the error's metadata as the trailers).
pub(super) fn error_response(
    codec: Codec,
    pool: Option<&prost_reflect::DescriptorPool>,
    status: &Status,
) -> Response<Body> {
    let mut response = Response::new(full(end_stream(pool, Some(status), status.metadata())));
    let h = response.headers_mut();
    set_stream_headers(h, codec, Encoding::Identity);
    response
}

/// The end-of-stream envelope: `{"error": {...}, "metadata": {...}}`, each
/// part only when there is one. Never compressed (it is small, and a client
/// that cannot decompress must still read why the call ended).
pub(super) fn end_stream(
    pool: Option<&prost_reflect::DescriptorPool>,
    error: Option<&Status>,
    trailers: &MetadataMap,
) -> Bytes {
    let mut json = b"{".to_vec();
    if let Some(status) = error {
        json.extend_from_slice(b"\"error\":");
        json.extend_from_slice(&error::error_json(pool, status));
    }
    if let Some(md) = metadata::to_json(trailers) {
        if error.is_some() {
            json.push(b',');
        }
        json.extend_from_slice(b"\"metadata\":");
        json.extend_from_slice(&md);
    }
    json.push(b'}');
    envelope::frame(FLAG_END_STREAM, &json)
}

/// Everything the response body needs after the handler returned.
struct State {
    snapshot: Arc<Snapshot>,
    backend_index: usize,
    plan: Option<Arc<transcode::MethodPlan>>,
    codec: Codec,
    json: transcode::JsonOptions,
    accept: Encoding,
    /// The call, whose reads enforce its deadline.
    upstream: StreamReply,
    /// Why the request stream was abandoned, if it was (it explains the
    /// upstream failure that follows).
    failure: Failure<Status>,
    done: bool,
    /// Resets a call whose request stream is still open when the body is dropped.
    _guard: CancelOnDrop,
}

fn body_stream(
    state: State,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, std::convert::Infallible>> + Send {
    futures_util::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        let next = s.upstream.message().await;
        let pool = &s.snapshot.backends[s.backend_index].pool;
        let chunk = match next {
            Ok(Some(message)) => match encode(&s, message) {
                Ok(chunk) => chunk,
                Err(status) => {
                    s.done = true;
                    end_stream(Some(pool), Some(&status), &MetadataMap::new())
                }
            },
            Ok(None) => {
                s.done = true;
                match s.upstream.trailers().await {
                    Ok(t) => end_stream(Some(pool), None, &t),
                    Err(status) => end_stream(Some(pool), Some(&status), status.metadata()),
                }
            }
            Err(status) => {
                s.done = true;
                let status = s.failure.take().unwrap_or(status);
                end_stream(Some(pool), Some(&status), status.metadata())
            }
        };
        Some((Ok(Frame::data(chunk)), s))
    })
}

/// One response message as an envelope in the client's codec, compressed when
/// the client accepts gzip and the message is large enough.
fn encode(s: &State, message: Bytes) -> Result<Bytes, Status> {
    let payload: Bytes = match (s.codec, &s.plan) {
        (Codec::Json, Some(plan)) => transcode::response_to_json(plan, &s.json, &message)
            .map_err(|e| Status::internal(format!("cannot encode response as JSON: {}", e.0)))?
            .into(),
        _ => message,
    };
    if s.accept == Encoding::Gzip && payload.len() >= compress::MIN_BYTES {
        Ok(envelope::frame(FLAG_COMPRESSED, &compress::gzip(&payload)))
    } else {
        Ok(envelope::frame(0, &payload))
    }
}

/// Connect's request framing for the shared [`Feed`]: each envelope's message,
/// decompressed and (for JSON) encoded as protobuf.
struct Envelopes {
    decoder: Decoder,
    limit: usize,
    codec: Codec,
    plan: Option<Arc<transcode::MethodPlan>>,
    json: transcode::JsonOptions,
    inbound: Encoding,
}

impl Framing for Envelopes {
    type Error = Status;

    fn push(&mut self, data: &[u8]) {
        self.decoder.push(data);
    }

    fn next_message(&mut self, eof: bool) -> Result<Option<Bytes>, Status> {
        let Some((flags, payload)) = self.decoder.next()? else {
            if eof {
                self.decoder.finish()?;
            }
            return Ok(None);
        };
        if flags & FLAG_END_STREAM != 0 {
            return Err(Status::invalid_argument(
                "protocol error: a request stream has no end-of-stream message",
            ));
        }
        let payload = if flags & FLAG_COMPRESSED != 0 {
            if self.inbound == Encoding::Identity {
                return Err(Status::invalid_argument(
                    "protocol error: compressed message without connect-content-encoding",
                ));
            }
            compress::decompress(self.inbound, payload, self.limit)?
        } else {
            payload
        };
        match (self.codec, &self.plan) {
            (Codec::Json, Some(plan)) => transcode::message_from_json(plan, &self.json, &payload)
                .map(Some)
                .map_err(|e| Status::invalid_argument(e.0)),
            _ => Ok(Some(payload)),
        }
    }

    fn unreadable(message: String) -> Status {
        Status::cancelled(message)
    }

    fn describe(error: &Status) -> &str {
        error.message()
    }
}
