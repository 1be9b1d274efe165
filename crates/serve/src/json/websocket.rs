//! Streaming calls over WebSocket (HTTP/1.1 `Upgrade: websocket`).
//!
//! grpc-gateway has no WebSocket support of its own; its users put
//! `tmc/grpc-websocket-proxy` in front of it, which turns each WebSocket message
//! into one line of a streaming POST body and each line of the NDJSON response
//! into one WebSocket message. Switchboard speaks that dialect natively:
//!
//! - **Route.** The upgrade is a `GET`, but the route is looked up as `POST`
//!   (what streaming rules and default routes use) unless the query says
//!   otherwise with `?method=GET` (the proxy's `method` override parameter).
//!   Path variables and query parameters are bound into each request message
//!   exactly as the same route binds them over POST: for a unary or
//!   server-streaming method, each message is the route's `body` and the path
//!   and query (but the `method` parameter) fill the rest; for a client- or
//!   bidi-streaming method each message is the whole request, as in a
//!   streamed POST body. Headers become metadata as for any call. As in the proxy,
//!   `Sec-WebSocket-Protocol: Bearer, <token>` supplies
//!   `authorization: Bearer <token>` (and is answered with protocol `Bearer`)
//!   when there is no `Authorization` header.
//! - **Client to server.** Each text (or binary) message holds one request
//!   message as JSON (several concatenated values are accepted, as the proxy's
//!   line-based body would). An **empty** message half-closes the request stream
//!   (no more requests; responses keep coming), as the end of a POST body does.
//!   A method that takes one request (unary, server streaming) is half-closed
//!   after the first; another one is then an error (code 3).
//! - **Server to client.** Each response message is one text message
//!   `{"result": ...}`, exactly an NDJSON line without its newline.
//! - **End.** When the backend ends the call, a failure is first sent as a text
//!   message `{"error": {code, message, details}}`, then the connection is closed
//!   with code **1000** for OK or **4000 + the gRPC code** otherwise (4005 for
//!   NOT_FOUND, 4013 for INTERNAL...), the status message as the reason (cut to
//!   the 123 bytes a close frame allows). A request message that cannot be
//!   transcoded ends the call the same way with code 3 (4003).
//! - **Cancellation.** A close from the client, or a dropped connection, cancels
//!   the upstream call at once (after a close frame the client cannot receive
//!   responses anymore; use the empty message to half-close).
//!
//! HTTP/2 WebSockets (RFC 8441 extended CONNECT) are not supported.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::header::{
    AUTHORIZATION, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use switchboard_live::Snapshot;
use switchboard_transcode as transcode;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};
use tracing::debug;

use super::Early;
use super::server_stream::{Call, Framing};
use crate::body::Body;
use crate::feed::CancelOnDrop;
use switchboard_upstream::Deadline;

/// How long to wait for the client's close frame after sending ours.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Whether the request asks for a WebSocket upgrade (RFC 6455 §4.2.1).
pub(crate) fn is_upgrade(method: &Method, headers: &HeaderMap) -> bool {
    let has_token = |name, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    method == Method::GET && has_token(CONNECTION, "upgrade") && has_token(UPGRADE, "websocket")
}

/// The method a WebSocket upgrade's route is looked up with: `?method=X`
/// (grpc-websocket-proxy's override parameter), else POST.
pub(crate) fn route_method(query: Option<&str>) -> Method {
    query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.strip_prefix("method="))
        .find_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
        .unwrap_or(Method::POST)
}

/// Answers the upgrade (101) and spawns the session, which runs once hyper hands
/// over the connection. Everything the session needs is owned, so the request
/// handler returns at once.
pub(super) fn upgrade(
    call: Call<'_>,
    headers: &HeaderMap,
    extensions: &mut http::Extensions,
    path_values: Vec<String>,
    query: Option<&str>,
) -> Result<Response<Body>, Early> {
    let bad = |message: &str| Early::new(Code::InvalidArgument, message);
    if headers
        .get(SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(bad("unsupported WebSocket version (13 required)"));
    }
    let key = headers
        .get(SEC_WEBSOCKET_KEY)
        .ok_or_else(|| bad("missing Sec-WebSocket-Key"))?;
    let on_upgrade = extensions
        .remove::<OnUpgrade>()
        .ok_or_else(|| bad("connection cannot be upgraded"))?;
    // Parsed at table-build time; cloning shares the bytes.
    let path = call.route.grpc_path_and_query.clone();

    let mut metadata = call.metadata;
    let bearer = bearer_protocol(headers);
    if let Some(token) = &bearer
        && !headers.contains_key(AUTHORIZATION)
        && let Ok(v) = MetadataValue::try_from(format!("Bearer {token}"))
    {
        metadata.insert("authorization", v);
    }

    let session = Session {
        snapshot: call.snapshot,
        endpoint: Some(call.endpoint),
        plan: call.plan,
        backend: call.route.backend,
        path,
        metadata,
        deadline: call.deadline,
        max_message_bytes: call.max_message_bytes,
        path_values,
        query: query
            .map(without_method_parameter)
            .filter(|q| !q.is_empty()),
    };
    // Secure edge: a concurrency slot (if any) lasts as long as the session.
    let edge_guard = extensions.remove::<switchboard_edge::Guard>();
    // The session is the request's: its upstream call is recorded in the
    // request's record, whose access log line is written when it ends.
    let observed = switchboard_observe::current();
    tokio::spawn(async move {
        let _edge_guard = edge_guard;
        let session = async {
            match on_upgrade.await {
                Ok(upgraded) => session.run(upgraded).await,
                Err(e) => debug!(error = %e, "WebSocket upgrade failed"),
            }
        };
        match observed {
            Some(call) => call.scope(session).await,
            None => session.await,
        }
    });

    let mut response = Response::new(crate::body::full(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        h.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    if bearer.is_some() {
        h.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("Bearer"));
    }
    Ok(response)
}

/// The token of `Sec-WebSocket-Protocol: Bearer, <token>` (browsers cannot set
/// an Authorization header on a WebSocket; grpc-websocket-proxy's convention).
fn bearer_protocol(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(SEC_WEBSOCKET_PROTOCOL)?.to_str().ok()?;
    let (first, token) = value.split_once(',')?;
    (first.trim() == "Bearer" && !token.trim().is_empty()).then(|| token.trim().to_string())
}

/// One WebSocket call, owned by its task.
struct Session {
    snapshot: Arc<Snapshot>,
    /// The endpoint chosen at the upgrade; `run` takes it to start the call.
    endpoint: Option<switchboard_upstream::Picked>,
    /// The route's plan for the endpoint's schema (see `schema_group`).
    plan: Arc<transcode::MethodPlan>,
    backend: usize,
    path: PathAndQuery,
    metadata: MetadataMap,
    deadline: Deadline,
    max_message_bytes: usize,
    /// The route's path variable values, bound into every request message.
    path_values: Vec<String>,
    /// The query without the `method` parameter that chose the route.
    query: Option<String>,
}

impl Session {
    /// One request message from one JSON value: bound like the same route's
    /// POST (see the module docs).
    fn request_message(&self, json: &[u8]) -> Result<Bytes, Status> {
        let opts = &self.snapshot.backends[self.backend].json;
        let encoded = if self.plan.method.is_client_streaming() {
            transcode::message_from_json(&self.plan, opts, json)
        } else {
            let body = transcode::RequestBody {
                bytes: json,
                content_type: None,
                codec: transcode::Codec::Json,
            };
            transcode::decode_request(
                &self.plan,
                opts,
                body,
                &self.path_values,
                self.query.as_deref(),
            )
        };
        encoded.map_err(|e| Status::invalid_argument(e.0))
    }
}

/// The query minus grpc-websocket-proxy's `method` parameter, which names the
/// route's method and is no field of the request.
fn without_method_parameter(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| pair.split('=').next() != Some("method"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Why the client side of a session stopped.
enum ClientEnd {
    /// Close frame, dropped connection or read error: cancel the call.
    Gone,
    /// A request message that cannot be sent: end the call with this status.
    Bad(Status),
}

type Ws = WebSocketStream<TokioIo<Upgraded>>;

impl Session {
    async fn run(mut self, upgraded: Upgraded) {
        let Some(endpoint) = self.endpoint.take() else {
            return;
        };
        let config = WebSocketConfig::default()
            .max_message_size(Some(self.max_message_bytes))
            .max_frame_size(Some(self.max_message_bytes));
        let ws = Ws::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
        let (mut sink, mut source) = ws.split();
        let backend = &self.snapshot.backends[self.backend];

        let (tx, rx) = mpsc::channel::<Bytes>(16);
        let (extensions, handle) = switchboard_upstream::cancellable();
        // Dropped when this function returns, however it ends: a call still
        // sending requests is reset rather than left open on the backend.
        let _guard = CancelOnDrop::new(handle);

        let reader = read_requests(&mut source, tx, &self);
        let responder = async {
            let started = backend.upstream.start_with(
                endpoint,
                self.path.clone(),
                ReceiverStream::new(rx),
                self.metadata.clone(),
                extensions,
                self.deadline,
            );
            let mut reply = started.await?;
            while let Some(message) = reply.message().await? {
                let json = transcode::response_to_json(&self.plan, &backend.json, &message)
                    .map_err(|e| {
                        Status::internal(format!("cannot encode response as JSON: {}", e.0))
                    })?;
                let text = Framing::WebSocket.result(&json);
                if sink.send(text_message(text)).await.is_err() {
                    // The client is gone; the reader notices too.
                    return Err(Status::cancelled("client disconnected"));
                }
            }
            Ok(())
        };

        let outcome = tokio::select! {
            end = reader => match end {
                ClientEnd::Gone => {
                    debug!("WebSocket client went away; cancelling the call");
                    let _ = sink.close().await;
                    return;
                }
                ClientEnd::Bad(status) => Err(status),
            },
            done = responder => done,
        };
        // The reader and the upstream call are dropped here (the guard resets the
        // call if it is still open); say how it ended, then close.
        let close = match outcome {
            Ok(()) => CloseFrame {
                code: CloseCode::Normal,
                reason: Utf8Bytes::from_static(""),
            },
            Err(status) => {
                let text = Framing::WebSocket.error(backend, &status);
                let _ = sink.send(text_message(text)).await;
                close_frame(&status)
            }
        };
        let _ = sink.send(Message::Close(Some(close))).await;
        // Wait (briefly) for the client's close frame, as RFC 6455 asks.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(m)) = source.next().await {
                if m.is_close() {
                    break;
                }
            }
        })
        .await;
    }
}

/// Reads request messages until the client goes away or sends a bad one. An
/// empty message ends the request stream (drops `tx`); reading continues, so a
/// close or a dropped connection is still noticed.
async fn read_requests(
    source: &mut futures_util::stream::SplitStream<Ws>,
    tx: mpsc::Sender<Bytes>,
    session: &Session,
) -> ClientEnd {
    let mut tx = Some(tx);
    while let Some(frame) = source.next().await {
        let payload = match frame {
            Ok(Message::Text(text)) => Bytes::from(text),
            Ok(Message::Binary(bytes)) => bytes,
            Ok(Message::Close(_)) | Err(_) => return ClientEnd::Gone,
            Ok(_) => continue, // ping, pong: tungstenite answers pings itself
        };
        let mut splitter = transcode::JsonSplitter::new(session.max_message_bytes);
        splitter.push(&payload);
        let mut values = Vec::new();
        loop {
            match splitter.finish() {
                Ok(Some(v)) => values.push(v),
                Ok(None) => break,
                Err(e) => return ClientEnd::Bad(Status::invalid_argument(e.0)),
            }
        }
        if values.is_empty() {
            if tx.take().is_some() {
                debug!("WebSocket client half-closed the request stream");
            }
            continue;
        }
        let Some(sender) = &tx else {
            return ClientEnd::Bad(Status::invalid_argument(
                "request message after the request stream was half-closed",
            ));
        };
        for value in values {
            let message = match session.request_message(&value) {
                Ok(m) => m,
                Err(status) => return ClientEnd::Bad(status),
            };
            if sender.send(message).await.is_err() {
                // The call no longer reads requests (it ended); the responder
                // reports how. Keep reading for the close.
                tx = None;
                break;
            }
            if !session.plan.method.is_client_streaming() {
                // A unary or server-streaming method takes exactly one request:
                // half-close after it, as grpc-gateway's handler decodes one
                // value and calls the method (the backend waits for the end of
                // the request stream before answering).
                tx = None;
                break;
            }
        }
    }
    ClientEnd::Gone
}

fn text_message(json: Bytes) -> Message {
    // Compact JSON printed by serde_json is always UTF-8.
    match Utf8Bytes::try_from(json.clone()) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Binary(json),
    }
}

/// 1000 for OK, 4000 + code otherwise; the reason is the status message cut to
/// the 123 bytes a close frame allows (at a character boundary).
fn close_frame(status: &Status) -> CloseFrame {
    let code = status.code() as u16;
    let mut reason = status.message();
    if reason.len() > 123 {
        let mut end = 123;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason = &reason[..end];
    }
    CloseFrame {
        code: if code == 0 {
            CloseCode::Normal
        } else {
            CloseCode::from(4000 + code)
        },
        reason: Utf8Bytes::from(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_detection_and_method_override() {
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        h.insert(UPGRADE, HeaderValue::from_static("WebSocket"));
        assert!(is_upgrade(&Method::GET, &h));
        assert!(!is_upgrade(&Method::POST, &h));
        h.remove(UPGRADE);
        assert!(!is_upgrade(&Method::GET, &h));
        assert_eq!(route_method(None), Method::POST);
        assert_eq!(route_method(Some("a=1&method=get")), Method::GET);
        assert_eq!(route_method(Some("method=PUT")), Method::PUT);
    }

    #[test]
    fn close_codes_carry_the_status() {
        let c = close_frame(&Status::not_found("no such thing"));
        assert_eq!(u16::from(c.code), 4005);
        assert_eq!(c.reason.as_str(), "no such thing");
        let long = "é".repeat(100);
        let c = close_frame(&Status::internal(long));
        assert_eq!(u16::from(c.code), 4013);
        assert!(c.reason.len() <= 123 && c.reason.len() >= 122);
        assert_eq!(u16::from(close_frame(&Status::ok("")).code), 1000);
    }

    #[test]
    fn method_parameter_is_not_bound() {
        assert_eq!(
            without_method_parameter("method=GET&int32Value=7&methods=1"),
            "int32Value=7&methods=1"
        );
        assert_eq!(without_method_parameter("method=GET"), "");
    }

    #[test]
    fn bearer_subprotocol() {
        let mut h = HeaderMap::new();
        h.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("Bearer, abc"),
        );
        assert_eq!(bearer_protocol(&h).as_deref(), Some("abc"));
        h.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("chat"));
        assert_eq!(bearer_protocol(&h), None);
    }
}
