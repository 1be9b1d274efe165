//! The HTTP/JSON request path: match, transcode, call, respond.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, TRAILER, WWW_AUTHENTICATE};
use http::uri::PathAndQuery;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Frame, Incoming};
use switchboard_routes::{Lookup, Route};
use switchboard_swap::{BackendRuntime, Live, Snapshot};
use switchboard_transcode as transcode;
use tonic::{Code, Status};
use tracing::debug;

use crate::body::{Body, json_response};
use crate::headers;
use crate::metrics::{LatencyLabels, RequestLabels, ServeMetrics};

mod stream;

/// The public listener's handler. Cheap to share: it only holds the live view.
#[derive(Debug)]
pub struct Gateway {
    live: Arc<Live>,
    metrics: ServeMetrics,
    max_body_bytes: usize,
}

/// An error answered before any upstream call, in grpc-gateway's shape.
struct Early {
    code: Code,
    message: String,
    http: u16,
}

impl Early {
    fn new(code: Code, message: impl Into<String>) -> Self {
        Early {
            code,
            message: message.into(),
            http: transcode::http_status_for(code as i32),
        }
    }
}

impl Gateway {
    pub fn new(live: Arc<Live>, metrics: ServeMetrics, max_body_bytes: usize) -> Self {
        Gateway {
            live,
            metrics,
            max_body_bytes,
        }
    }

    /// Handles one HTTP request. Never fails: every problem becomes a JSON Status.
    pub async fn handle(&self, req: Request<Incoming>, peer: Option<SocketAddr>) -> Response<Body> {
        let started = Instant::now();
        let Some(snapshot) = self.live.snapshot() else {
            return early_response(Early::new(
                Code::Unavailable,
                "no route table is loaded yet",
            ));
        };
        let (route, values) = match snapshot.table.find(req.method(), req.uri().path()) {
            Lookup::Found(route, values) => (route, values),
            Lookup::MethodNotAllowed => {
                // grpc-gateway: Unimplemented "Method Not Allowed", hence HTTP 501.
                return self.unmatched(Early::new(Code::Unimplemented, "Method Not Allowed"));
            }
            Lookup::NotFound => {
                return self.unmatched(Early::new(Code::NotFound, "Not Found"));
            }
            Lookup::BadRequest(message) => {
                // grpc-gateway: a malformed escape is a plain error (code Unknown)
                // answered with HTTP 400.
                let mut e = Early::new(Code::Unknown, message);
                e.http = 400;
                return self.unmatched(e);
            }
        };
        let backend = &snapshot.backends[route.backend];
        let response = match self
            .call(&snapshot, route, backend, values, req, peer)
            .await
        {
            Ok(resp) => resp,
            Err(early) => early_response(early),
        };
        self.record(route, backend, response.status().as_u16(), started);
        response
    }

    async fn call(
        &self,
        snapshot: &Arc<Snapshot>,
        route: &Route,
        backend: &BackendRuntime,
        values: Vec<String>,
        req: Request<Incoming>,
        peer: Option<SocketAddr>,
    ) -> Result<Response<Body>, Early> {
        let plan = &route.plan;
        if plan.method.is_client_streaming() {
            return Err(Early::new(
                Code::Unimplemented,
                "client and bidirectional streaming over HTTP/JSON are not supported yet",
            ));
        }
        let (parts, body) = req.into_parts();
        let authority = parts.uri.authority().map(|a| a.as_str()).or_else(|| {
            parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
        });
        let (metadata, client_timeout) = headers::request_metadata(&parts.headers, authority, peer)
            .map_err(|e| Early::new(Code::InvalidArgument, e.0))?;
        let timeout = min_timeout(client_timeout, backend.timeout);

        let body = self.read_body(&parts.headers, body).await?;
        let message =
            transcode::request_to_proto(plan, &backend.json, &body, &values, parts.uri.query())
                .map_err(|e| Early::new(Code::InvalidArgument, e.0))?;
        let path =
            PathAndQuery::from_maybe_shared(Bytes::copy_from_slice(route.grpc_path.as_bytes()))
                .map_err(|_| Early::new(Code::Internal, "invalid gRPC path"))?;
        let trailers_ok = headers::accepts_trailers(&parts.headers);

        if plan.method.is_server_streaming() {
            return Ok(stream::server_streaming(
                snapshot.clone(),
                route,
                backend,
                path,
                message,
                metadata,
                timeout,
            )
            .await);
        }

        match backend
            .upstream
            .unary(path, message, metadata, timeout)
            .await
        {
            Ok(reply) => {
                let json = match transcode::response_to_json(plan, &backend.json, &reply.message) {
                    Ok(json) => json,
                    Err(e) => {
                        return Ok(status_response(
                            backend,
                            &Status::internal(format!("cannot encode response as JSON: {}", e.0)),
                        ));
                    }
                };
                let mut response = Response::new(crate::body::full(Bytes::new()));
                let h = response.headers_mut();
                headers::metadata_to_headers(&reply.headers, "grpc-metadata-", h);
                h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                if trailers_ok {
                    if let Some(names) = headers::trailer_announcement(&reply.trailers) {
                        h.insert(TRAILER, names);
                    }
                    let mut trailer_map = HeaderMap::new();
                    headers::metadata_to_headers(
                        &reply.trailers,
                        "grpc-trailer-",
                        &mut trailer_map,
                    );
                    let frames = futures_util::stream::iter([
                        Ok(Frame::data(Bytes::from(json))),
                        Ok(Frame::trailers(trailer_map)),
                    ]);
                    *response.body_mut() = http_body_util::StreamBody::new(frames).boxed_unsync();
                } else {
                    *response.body_mut() = crate::body::full(json);
                }
                Ok(response)
            }
            Err(status) => Ok(status_response(backend, &status)),
        }
    }

    /// Reads the whole body, bounded by the configured limit.
    async fn read_body(&self, headers: &HeaderMap, body: Incoming) -> Result<Bytes, Early> {
        let limit = self.max_body_bytes;
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let too_large = || {
            let mut e = Early::new(
                Code::ResourceExhausted,
                format!("request body exceeds the {limit}-byte limit"),
            );
            e.http = 413;
            e
        };
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            Err(e) => Err(Early::new(
                Code::InvalidArgument,
                format!("cannot read request body: {e}"),
            )),
        }
    }

    fn unmatched(&self, early: Early) -> Response<Body> {
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                backend: "".into(),
                route: "unmatched".into(),
                status: early.http,
            })
            .inc();
        early_response(early)
    }

    fn record(&self, route: &Route, backend: &BackendRuntime, status: u16, started: Instant) {
        let label: Arc<str> = format!("{} {}", route.http_method, route.template).into();
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                backend: backend.name.clone(),
                route: label,
                status,
            })
            .inc();
        self.metrics
            .latency
            .get_or_create(&LatencyLabels {
                backend: backend.name.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
    }
}

fn min_timeout(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn early_response(e: Early) -> Response<Body> {
    debug!(code = ?e.code, message = %e.message, "request rejected");
    let body =
        transcode::status_to_json(None, &Default::default(), e.code as i32, &e.message, None);
    json_response(e.http, body)
}

/// A gRPC error from the backend as grpc-gateway renders it: mapped HTTP status,
/// `{code, message, details}` with details decoded through the backend's pool, and
/// the error's metadata as `Grpc-Metadata-*` headers.
pub(crate) fn status_response(backend: &BackendRuntime, status: &Status) -> Response<Body> {
    let code = status.code() as i32;
    let details = (!status.details().is_empty()).then(|| status.details());
    let body = transcode::status_to_json(
        Some(&backend.pool),
        &backend.json,
        code,
        status.message(),
        details,
    );
    let mut response = json_response(transcode::http_status_for(code), body);
    let h = response.headers_mut();
    headers::metadata_to_headers(status.metadata(), "grpc-metadata-", h);
    if status.code() == Code::Unauthenticated
        && let Ok(v) = HeaderValue::from_str(status.message())
    {
        h.insert(WWW_AUTHENTICATE, v);
    }
    response
}
