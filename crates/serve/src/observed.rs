//! The entry's observability hook: the one place every call shape starts and
//! ends (HTTP/JSON unary and streams, SSE, WebSocket, native gRPC, gRPC-Web,
//! Connect, and the edge's and CORS's own answers).
//!
//! [`open`] fixes the request ID (the client's if valid, else a UUID v4) and
//! opens the request's [`Call`] (its trace span continuing an incoming
//! `traceparent`); the request then runs inside the call's scope, where the
//! upstream stage records the backend, endpoint and gRPC code of each attempt.
//! [`close`] sets the request ID response header and, when an access log or
//! tracing is configured, wraps the body so that the line is written and the
//! span ended once, when the body ends or is dropped (a stream's end, a
//! client's disconnect).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, USER_AGENT};
use http::{HeaderMap, Method, Request, Response};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use switchboard_observe::access_log::{AccessLog, Entry};
use switchboard_observe::trace::Traces;
use switchboard_observe::{Call, request_id};

use crate::applied::Applied;
use crate::body::Body;

/// What the gateway was started with: `access_log:` and `tracing:` (read at
/// startup; see `switchboard_config::Observability`).
#[derive(Debug, Clone, Default)]
pub struct Observers {
    /// The access log's sending half, when configured.
    pub access_log: Option<AccessLog>,
    /// The tracer, when configured.
    pub traces: Option<Arc<Traces>>,
}

/// What the access log needs from the request, taken before it is consumed.
pub(crate) struct Opened {
    call: Arc<Call>,
    /// `None` when neither an access log nor tracing is on.
    detail: Option<Box<Detail>>,
}

struct Detail {
    time: SystemTime,
    peer: Option<SocketAddr>,
    method: Method,
    path: String,
    user_agent: Option<String>,
    bytes_in: Option<u64>,
}

/// The protocol label of a request (`json`, `sse`, `ws`, `grpc`, `grpc-web`,
/// `connect`).
pub(crate) fn protocol_label(
    protocol: crate::grpc::Protocol,
    connect: bool,
    headers: &HeaderMap,
    method: &Method,
) -> &'static str {
    use crate::grpc::Protocol;
    if connect {
        return "connect";
    }
    match protocol {
        Protocol::Grpc => "grpc",
        Protocol::GrpcWeb => "grpc-web",
        Protocol::Http if crate::json::websocket::is_upgrade(method, headers) => "ws",
        Protocol::Http if crate::json::sse::accepts_event_stream(headers) => "sse",
        Protocol::Http => "json",
    }
}

/// Opens the call for `req`.
pub(crate) fn open(
    observers: &Observers,
    applied: &Applied,
    req: &Request<crate::body::RequestBody>,
    peer: Option<SocketAddr>,
) -> Opened {
    let id = request_id::of(&applied.request_id, req.headers());
    let detailed = observers.access_log.is_some() || observers.traces.is_some();
    // Renamed to the route or gRPC method once known (see `Call::end_span`);
    // a raw path would make one span name per URL.
    let span_name = if observers.traces.is_some() {
        req.method().to_string()
    } else {
        String::new()
    };
    let mut call = Call::new(
        (applied.request_id.clone(), id),
        req.headers(),
        observers.traces.as_ref(),
        span_name,
    );
    call.detailed = detailed;
    let call = Arc::new(call);
    let detail = detailed.then(|| {
        Box::new(Detail {
            time: SystemTime::now(),
            peer,
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
            user_agent: req
                .headers()
                .get(USER_AGENT)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            bytes_in: req
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok()),
        })
    });
    Opened { call, detail }
}

impl Opened {
    /// The request's record, to run the request in ([`Call::scope`]).
    pub(crate) fn call(&self) -> &Arc<Call> {
        &self.call
    }

    /// Records the gRPC method of a proxied call (gRPC, gRPC-Web, Connect),
    /// whose path names it.
    pub(crate) fn grpc_method(&self, path: &str) {
        if self.detail.is_some() {
            self.call.facts().grpc_method = Some(Arc::from(path.trim_start_matches('/')));
        }
    }
}

/// Records the matched HTTP/JSON route in the current call (when observed).
pub(crate) fn route(route: &switchboard_routes::Route) {
    let Some(call) = switchboard_observe::current() else {
        return;
    };
    if !call.detailed {
        return;
    }
    let mut f = call.facts();
    f.route = Some(Arc::from(format!(
        "{} {}",
        route.http_method, route.template
    )));
    f.grpc_method = Some(Arc::from(route.grpc_path.trim_start_matches('/')));
    f.backend = Some(route.backend_name.clone());
}

/// Stamps the request ID on `response` and arranges for the log line and span
/// to be written when its body ends.
pub(crate) fn close(
    observers: &Observers,
    opened: Opened,
    protocol: &'static str,
    mut response: Response<Body>,
) -> Response<Body> {
    let (name, id) = &opened.call.request_id;
    response.headers_mut().insert(name.clone(), id.clone());
    let Some(detail) = opened.detail else {
        return response;
    };
    // An answer the gateway wrote itself in gRPC form carries its code here.
    let head_code = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok());
    let status = response.status().as_u16();
    let finish = Finish {
        detail,
        access_log: observers.access_log.clone(),
        status,
        head_code,
        protocol,
        bytes_out: 0,
    };
    response.map(|inner| {
        Observed {
            inner,
            call: opened.call,
            finish: Some(finish),
        }
        .boxed_unsync()
    })
}

struct Finish {
    detail: Box<Detail>,
    access_log: Option<AccessLog>,
    status: u16,
    head_code: Option<i32>,
    protocol: &'static str,
    bytes_out: u64,
}

impl Finish {
    /// Reports now, or for a WebSocket upgrade when its session ends (the
    /// session holds the call).
    fn report(self, call: &Arc<Call>) {
        if self.status == 101 {
            call.defer(move |call| self.done(call));
        } else {
            self.done(call);
        }
    }

    fn done(self, call: &Call) {
        let facts = {
            let mut f = call.facts().clone();
            if f.grpc_code.is_none() {
                f.grpc_code = self.head_code;
            }
            f
        };
        call.end_span(self.status, &facts);
        let Some(log) = &self.access_log else { return };
        let d = self.detail;
        let id = &call.request_id.1;
        log.record(Entry {
            time: Some(d.time),
            request_id: String::from_utf8_lossy(id.as_bytes()).into_owned(),
            peer: d.peer.map(|p| p.to_string()),
            method: d.method.to_string(),
            path: d.path,
            route: facts.route.map(|r| r.to_string()),
            backend: facts.backend.map(|b| b.to_string()),
            endpoint: facts.endpoint.map(|e| e.to_string()),
            grpc_method: facts.grpc_method.map(|m| m.to_string()),
            status: self.status,
            grpc_code: facts.grpc_code,
            duration: call.started.elapsed(),
            bytes_in: d.bytes_in.unwrap_or(facts.bytes_in),
            bytes_out: self.bytes_out,
            protocol: self.protocol,
            user_agent: d.user_agent,
            trace_id: call.trace_id(),
        });
    }
}

/// The response body, counted, reporting once when it ends or is dropped.
struct Observed {
    inner: Body,
    call: Arc<Call>,
    finish: Option<Finish>,
}

impl http_body::Body for Observed {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(f)) = (frame.data_ref(), self.finish.as_mut()) {
                    f.bytes_out += data.len() as u64;
                }
            }
            Poll::Ready(None) => {
                if let Some(f) = self.finish.take() {
                    f.report(&self.call);
                }
            }
            _ => {}
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

impl Drop for Observed {
    fn drop(&mut self) {
        if let Some(f) = self.finish.take() {
            f.report(&self.call);
        }
    }
}
