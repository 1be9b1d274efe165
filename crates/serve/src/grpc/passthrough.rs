//! Native gRPC on the public port: `application/grpc` requests are proxied to the
//! backend that owns the service, frame for frame, with no transcoding.
//!
//! The owner comes from the route table ([`RouteTable::find_grpc`]), resolved at
//! build time, so the request path does one lookup. The request (headers and
//! streaming body) is forwarded over the endpoint's existing HTTP/2 channel
//! ([`Upstream::forward`]) and the response head, data frames and trailers come
//! back as the backend sent them: `grpc-status`, `grpc-message`,
//! `grpc-status-details-bin` and custom metadata are never rewritten, and since
//! nothing is decoded, unary, server-, client- and bidirectional streaming all
//! work the same way.
//!
//! What the gateway adds, as a gRPC proxy should:
//!
//! - **Errors it detects itself** are gRPC errors, never HTTP ones: an unknown
//!   service or method is a trailers-only `UNIMPLEMENTED` (the wording grpc-go
//!   uses), no table yet or an unreachable backend `UNAVAILABLE`.
//! - **Deadlines.** The client's `grpc-timeout` is forwarded; the backend's
//!   configured `timeout` applies when the client sent none and caps it when it
//!   sent more (the config's meaning of `timeout` for every protocol). The gateway
//!   enforces the same deadline itself, so a hung backend still ends the call
//!   with `DEADLINE_EXCEEDED`, and cancels the backend stream when it does.
//! - **A well-formed end.** If the backend's stream breaks or ends without
//!   trailers, the client still gets a trailers frame with a status, instead of
//!   a reset it would have to interpret.
//! - `x-forwarded-for` (the peer appended), as Envoy adds by default.
//!
//! [`RouteTable::find_grpc`]: switchboard_routes::RouteTable::find_grpc
//! [`Upstream::forward`]: switchboard_upstream::Upstream::forward

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response};
use http_body_util::BodyExt;
use switchboard_live::Snapshot;
use switchboard_routes::GrpcLookup;
use tonic::Status;
use tracing::debug;

use super::pass_body::{PassBody, cancelled_by_deadline};
use crate::body::Body;
use crate::metrics::ServeMetrics;
use switchboard_upstream::{Deadline, parse_grpc_timeout};

const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Which protocol a request on the public port speaks, from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `application/grpc`, `application/grpc+proto`, `application/grpc+json`, ...
    Grpc,
    /// `application/grpc-web`, `-web+proto`, `-web-text`, `-web-text+proto`.
    GrpcWeb,
    /// Anything else: HTTP/JSON, transcoded.
    Http,
}

impl Protocol {
    /// The word used in metric labels (`grpc`, `grpc-web`, `http`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::GrpcWeb => "grpc-web",
            Protocol::Http => "http",
        }
    }

    pub(crate) fn of(headers: &HeaderMap) -> Protocol {
        let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
            return Protocol::Http;
        };
        // Media types are case-insensitive; parameters (`; charset=...`) are ignored.
        let ct = ct.split(';').next().unwrap_or_default().trim();
        let Some(rest) = strip_prefix_ignore_case(ct, "application/grpc") else {
            return Protocol::Http;
        };
        if rest.is_empty() || rest.starts_with('+') {
            Protocol::Grpc
        } else if let Some(web) = strip_prefix_ignore_case(rest, "-web") {
            let web = strip_prefix_ignore_case(web, "-text").unwrap_or(web);
            if web.is_empty() || web.starts_with('+') {
                Protocol::GrpcWeb
            } else {
                Protocol::Http
            }
        } else {
            Protocol::Http
        }
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// What a proxied call needs besides the request; cheap to clone into the
/// `'static` service the gRPC-Web translation wraps.
#[derive(Clone)]
pub(crate) struct Proxy {
    pub snapshot: Option<Arc<Snapshot>>,
    pub metrics: ServeMetrics,
    /// `limits.max_metadata_bytes` (see `metadata_limit`).
    pub max_metadata_bytes: usize,
    pub peer: Option<SocketAddr>,
    /// Which proxied protocol (`Grpc` or `GrpcWeb`): the metrics route label's prefix.
    pub protocol: Protocol,
}

impl Proxy {
    /// Proxies one gRPC request. Never fails: every problem is a gRPC status.
    pub(crate) async fn call(self, req: Request<tonic::body::Body>) -> Response<Body> {
        let started = Instant::now();
        let Some(snapshot) = self.snapshot.clone() else {
            return trailers_only(Status::unavailable("no route table is loaded yet"));
        };
        let path = req.uri().path();
        // The gateway's own reflection service, for everything exposed.
        if super::reflection::is_reflection(path) {
            let route: Arc<str> = format!("{} {path}", self.protocol.as_str()).into();
            let v1 = path == super::reflection::V1;
            let response = match super::reflection::serve(&snapshot, v1, req).await {
                Ok(response) => super::reflection::into_body(response),
                Err(status) => trailers_only(status),
            };
            self.record("", route, response.status().as_u16(), Some(started));
            return response;
        }
        let index = match snapshot.table.find_grpc(path) {
            GrpcLookup::Found { backend, .. } => backend,
            lookup => {
                let status = unknown(path, &lookup);
                self.record("", "unmatched".into(), 200, None);
                return trailers_only(status);
            }
        };
        let backend = &snapshot.backends[index];
        let route: Arc<str> = format!("{} {path}", self.protocol.as_str()).into();
        let response = self.forward(&snapshot, index, req).await;
        self.record(
            &backend.name,
            route,
            response.status().as_u16(),
            Some(started),
        );
        response
    }

    async fn forward(
        &self,
        snapshot: &Snapshot,
        index: usize,
        req: Request<tonic::body::Body>,
    ) -> Response<Body> {
        let backend = &snapshot.backends[index];
        let (mut parts, body) = req.into_parts();

        let client_timeout = match parts.headers.get(GRPC_TIMEOUT) {
            None => None,
            Some(v) => match v.to_str().ok().and_then(parse_grpc_timeout) {
                Some(t) => Some(t),
                // grpc-go's answer to a malformed timeout.
                None => {
                    return trailers_only(Status::internal(format!(
                        "malformed grpc-timeout: {v:?}"
                    )));
                }
            },
        };
        let deadline = Deadline::for_call(client_timeout, backend.timeout);
        if let Some(t) = deadline.header() {
            parts.headers.insert(GRPC_TIMEOUT, t);
        }

        strip_hop_by_hop(&mut parts.headers);
        crate::headers::mark_credentials(&mut parts.headers);
        if let Some(peer) = self.peer {
            append_forwarded_for(&mut parts.headers, peer);
        }
        // One call's oversized metadata must not reach the shared connection.
        let size = crate::metadata_limit::headers_size(&parts.headers);
        let peer = backend.upstream.peer_header_list_limit();
        if let Err(message) = crate::metadata_limit::check(size, self.max_metadata_bytes, peer) {
            return trailers_only(Status::resource_exhausted(message));
        }
        // Only the path travels; the upstream connection sets the endpoint's scheme and authority.
        let Some(path) = parts.uri.path_and_query().cloned() else {
            return trailers_only(Status::internal("request has no path"));
        };
        let mut upstream = Request::new(body);
        *upstream.uri_mut() = path.into();
        *upstream.method_mut() = parts.method;
        *upstream.version_mut() = http::Version::HTTP_2;
        *upstream.headers_mut() = parts.headers;

        let response = match deadline.run(backend.upstream.forward(upstream)).await {
            Ok(r) => r,
            Err(status) => return trailers_only(status),
        };
        let (parts, body) = response.into_parts();
        if let Some(status) = cancelled_by_deadline(&parts.headers, &deadline) {
            return trailers_only(status);
        }
        // Trailers-only: the status is in the head and the body is empty.
        let body = if parts.headers.contains_key("grpc-status") {
            PassBody::trailers_only(body)
        } else {
            PassBody::new(body, deadline)
        };
        Response::from_parts(parts, body.boxed_unsync())
    }

    fn record(&self, backend: &str, route: Arc<str>, status: u16, started: Option<Instant>) {
        self.metrics.record(backend, route, status, started);
    }
}

/// The status for a path no backend serves, worded as grpc-go words it.
pub(crate) fn unknown(path: &str, lookup: &GrpcLookup<'_>) -> Status {
    let (service, method) = switchboard_routes::split_grpc_path(path).unwrap_or((path, ""));
    let message = match lookup {
        GrpcLookup::UnknownMethod => format!("unknown method {method} for service {service}"),
        GrpcLookup::UnknownService => format!("unknown service {service}"),
        _ => format!("malformed method name: {path:?}"),
    };
    debug!(%path, %message, "gRPC request for an unknown method");
    Status::unimplemented(message)
}

/// A trailers-only gRPC response: HTTP 200, the status in the head, no body.
pub(crate) fn trailers_only(status: Status) -> Response<Body> {
    let mut response: Response<Body> = status.into_http();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    response
}

/// Connection-level headers are the hop's, not the call's.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    ] {
        headers.remove(name);
    }
}

fn append_forwarded_for(headers: &mut HeaderMap, peer: SocketAddr) {
    let prior = headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok());
    if let Ok(v) = HeaderValue::from_str(&crate::headers::forwarded_for(prior, peer)) {
        headers.insert(X_FORWARDED_FOR, v);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        h
    }

    #[test]
    fn protocol_from_content_type() {
        for ct in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc+json",
            "Application/GRPC",
            "application/grpc; charset=utf-8",
        ] {
            assert_eq!(Protocol::of(&headers(ct)), Protocol::Grpc, "{ct}");
        }
        for ct in [
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/grpc-web-text",
            "application/grpc-web-text+proto",
        ] {
            assert_eq!(Protocol::of(&headers(ct)), Protocol::GrpcWeb, "{ct}");
        }
        for ct in [
            "application/json",
            "application/grpcx",
            "application/grpc-webx",
            "text/plain",
            "",
        ] {
            assert_eq!(Protocol::of(&headers(ct)), Protocol::Http, "{ct}");
        }
        assert_eq!(Protocol::of(&HeaderMap::new()), Protocol::Http);
    }

    #[test]
    fn grpc_timeout_round_trips() {
        for (t, want) in [
            (Duration::from_millis(1500), "1500000u"),
            (Duration::from_nanos(5), "5n"),
            (Duration::from_secs(10), "10000000u"),
            (Duration::from_secs(1000), "1000000m"),
            (Duration::from_secs(3600 * 24 * 365), "31536000S"),
            (Duration::from_secs(3600 * 24 * 365 * 4), "2102400M"),
        ] {
            let v = switchboard_upstream::grpc_timeout(t);
            assert_eq!(v.to_str().unwrap(), want);
            let back = parse_grpc_timeout(v.to_str().unwrap()).unwrap();
            assert!(back >= t, "{back:?} < {t:?}");
        }
    }

    #[test]
    fn forwarded_for_appends_the_peer() {
        let mut h = HeaderMap::new();
        append_forwarded_for(&mut h, "10.0.0.1:5".parse().unwrap());
        assert_eq!(h[&X_FORWARDED_FOR], "10.0.0.1");
        append_forwarded_for(&mut h, "[::1]:5".parse().unwrap());
        assert_eq!(h[&X_FORWARDED_FOR], "10.0.0.1, ::1");
    }

    #[test]
    fn trailers_only_carries_the_status_in_the_head() {
        let r = trailers_only(Status::unimplemented("unknown service x.Y"));
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["grpc-status"], "12");
        assert_eq!(r.headers()["content-type"], "application/grpc");
        assert!(http_body::Body::is_end_stream(r.body()));
    }
}
