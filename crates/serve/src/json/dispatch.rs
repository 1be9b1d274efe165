//! The HTTP/JSON request path: match, transcode, call, respond.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::body::RequestBody;
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Limited};
use switchboard_live::{BackendRuntime, Snapshot};
use switchboard_routes::{Lookup, Route};
use switchboard_transcode as transcode;
use switchboard_upstream::Deadline;
use tonic::{Code, Status};

use super::respond::{early_response, status_response_as, unary_response};
use crate::body::Body;
use crate::gateway::Gateway;
use crate::headers;
use crate::metrics::RequestLabels;
use crate::upload_drain::UploadBody;

use super::{client_stream, server_stream as stream, websocket};

/// An error answered before any upstream call, in grpc-gateway's shape.
pub(super) struct Early {
    pub(super) code: Code,
    pub(super) message: String,
    pub(super) http: u16,
    /// Written as a binary `google.rpc.Status` (the client's outbound codec is
    /// protobuf) instead of JSON.
    pub(super) codec: transcode::Codec,
}

impl Early {
    pub(super) fn new(code: Code, message: impl Into<String>) -> Self {
        Early {
            code,
            message: message.into(),
            http: transcode::http_status_for(code as i32),
            codec: transcode::Codec::Json,
        }
    }

    pub(super) fn written_as(mut self, codec: transcode::Codec) -> Self {
        self.codec = codec;
        self
    }
}

impl Gateway {
    /// Handles one HTTP/JSON request. Never fails: every problem becomes a JSON Status.
    pub(crate) async fn handle_json(
        &self,
        req: Request<RequestBody>,
        peer: Option<SocketAddr>,
    ) -> Response<Body> {
        // What the answer leaves of the body is drained before it is written.
        let (req, upload) = crate::upload_drain::Upload::wrap(req);
        let response = self.route_and_call(req, peer).await;
        upload.settle(response).await
    }

    async fn route_and_call(
        &self,
        req: Request<UploadBody>,
        peer: Option<SocketAddr>,
    ) -> Response<Body> {
        let started = Instant::now();
        let Some(snapshot) = self.live.snapshot() else {
            return early_response(Early::new(
                Code::Unavailable,
                "no route table is loaded yet",
            ));
        };
        // A WebSocket upgrade is a GET for a (usually POST) streaming route.
        let method = if websocket::is_upgrade(req.method(), req.headers()) {
            websocket::route_method(req.uri().query())
        } else {
            req.method().clone()
        };
        let lookup = crate::route_lookup::find(
            &snapshot.table,
            &self.http,
            &method,
            req.headers(),
            req.uri().path(),
        );
        let lookup = match lookup {
            Ok(lookup) => lookup,
            Err(message) => return self.unmatched(Early::new(Code::InvalidArgument, message)),
        };
        let (route, values) = match lookup {
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
        crate::observed::route(route);
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
        req: Request<UploadBody>,
        peer: Option<SocketAddr>,
    ) -> Result<Response<Body>, Early> {
        let plan = &route.plan;
        let (mut parts, body) = req.into_parts();
        let authority = headers::authority(&parts.uri, &parts.headers);
        let (metadata, client_timeout) = headers::request_metadata(&parts.headers, authority, peer)
            .map_err(|e| Early::new(Code::InvalidArgument, e.0))?;
        // One request's oversized metadata must not reach the shared connection.
        let size = crate::metadata_limit::metadata_size(&metadata);
        let limit = self.applied.get(&self.live).max_metadata_bytes;
        crate::metadata_limit::check(size, limit, backend.upstream.peer_header_list_limit())
            .map_err(|message| {
                let mut e = Early::new(Code::ResourceExhausted, message);
                e.http = crate::metadata_limit::HTTP_STATUS;
                e
            })?;
        let deadline = Deadline::for_call(client_timeout, backend.timeout);
        // Everything a streamed call carries, from this request, with the
        // endpoint chosen first and the plan for its schema.
        let stream_call = |metadata| {
            let (endpoint, plan) = crate::schema_group::choose(backend, route)
                .map_err(|status| Early::new(status.code(), status.message()))?;
            Ok::<_, Early>(stream::Call {
                snapshot: snapshot.clone(),
                route,
                backend,
                endpoint,
                plan: plan.clone(),
                metadata,
                deadline,
                max_message_bytes: self.applied.get(&self.live).max_body_bytes,
                http_body_delimiter: !self.http.raw_http_body_streams,
            })
        };
        let websocket = websocket::is_upgrade(&parts.method, &parts.headers);
        // `Content-Encoding`: whole bodies are decoded (`read_body`); a
        // streamed upload is read message by message and is not.
        let coding = match crate::compression::request_coding(&parts.headers) {
            Ok(Some(_)) if websocket || plan.method.is_client_streaming() => {
                return Err(unsupported_encoding(
                    "a compressed body is not supported for streamed requests",
                ));
            }
            Ok(coding) => coding,
            Err(name) => {
                return Err(unsupported_encoding(&format!(
                    "unsupported Content-Encoding {name:?}: supported are gzip, br, zstd"
                )));
            }
        };
        if websocket || plan.method.is_client_streaming() {
            // The request messages are a stream: WebSocket messages, or the body
            // read as it arrives.
            let call = stream_call(metadata)?;
            if websocket {
                let query = parts.uri.query();
                return websocket::upgrade(
                    call,
                    &parts.headers,
                    &mut parts.extensions,
                    values,
                    query,
                );
            }
            return client_stream::dispatch(call, &parts.headers, body).await;
        }

        // grpc-gateway's MarshalerForRequest: Content-Type picks the inbound
        // codec (JSON unless claimed), Accept the outbound one (else the inbound).
        let codecs = transcode::negotiate(
            parts
                .headers
                .get_all(CONTENT_TYPE)
                .iter()
                .map(HeaderValue::as_bytes),
            parts
                .headers
                .get_all(ACCEPT)
                .iter()
                .map(HeaderValue::as_bytes),
        );
        let body = self
            .read_body(&parts.headers, body, coding)
            .await
            .map_err(|e| e.written_as(codecs.outbound))?;
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let request_body = transcode::RequestBody {
            bytes: &body,
            content_type,
            codec: codecs.inbound,
        };
        let bad_request = |e: transcode::TranscodeError| {
            Early::new(Code::InvalidArgument, e.0).written_as(codecs.outbound)
        };
        let trailers_ok = headers::accepts_trailers(&parts.headers);
        let path = route.grpc_path_and_query.clone();

        if plan.method.is_server_streaming() {
            let call = stream_call(metadata).map_err(|e| e.written_as(codecs.outbound))?;
            let message = request_message(&call.plan, backend, &parts, request_body, &values)
                .map_err(bad_request)?;
            let framing = stream::Framing::for_request(&parts.headers);
            return Ok(stream::server_streaming(call, path, message, framing).await);
        }

        // The endpoint first, then the request encoded for its schema.
        let (endpoint, plan) = match crate::schema_group::choose(backend, route) {
            Ok(chosen) => chosen,
            Err(status) => {
                return Ok(status_response_as(
                    backend,
                    &status,
                    codecs.outbound,
                    trailers_ok,
                ));
            }
        };
        let message =
            request_message(plan, backend, &parts, request_body, &values).map_err(bad_request)?;
        match backend
            .upstream
            .unary(endpoint, path, message, metadata, deadline)
            .await
        {
            Ok(reply) => {
                let encoded = match transcode::encode_response(
                    plan,
                    &backend.json,
                    codecs.outbound,
                    reply.message.clone(),
                ) {
                    Ok(encoded) => encoded,
                    Err(e) => {
                        return Ok(status_response_as(
                            backend,
                            &Status::internal(format!("cannot encode response: {}", e.0)),
                            codecs.outbound,
                            trailers_ok,
                        ));
                    }
                };
                Ok(unary_response(
                    &reply,
                    encoded.body,
                    &encoded.content_type,
                    trailers_ok,
                ))
            }
            Err(status) => Ok(status_response_as(
                backend,
                &status,
                codecs.outbound,
                trailers_ok,
            )),
        }
    }

    /// Reads the whole body, bounded by the configured limit.
    async fn read_body(
        &self,
        headers: &HeaderMap,
        body: UploadBody,
        coding: Option<crate::compression::Coding>,
    ) -> Result<Bytes, Early> {
        let limit = self.applied.get(&self.live).max_body_bytes;
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
        let read = Limited::new(body, limit).collect().await;
        match read {
            Ok(collected) => match coding {
                None => Ok(collected.to_bytes()),
                // The limit holds for the decoded body too.
                Some(coding) => {
                    crate::compression::decompress(coding, &collected.to_bytes(), limit).map_err(
                        |e| match e {
                            crate::compression::DecodeError::TooLarge => too_large(),
                            crate::compression::DecodeError::Corrupt(why) => {
                                Early::new(Code::InvalidArgument, format!("cannot decode {why}"))
                            }
                        },
                    )
                }
            },
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            Err(e) => Err(Early::new(
                Code::InvalidArgument,
                format!("cannot read request body: {e}"),
            )),
        }
    }

    fn unmatched(&self, early: Early) -> Response<Body> {
        self.metrics.count(RequestLabels {
            backend: "".into(),
            route: "unmatched".into(),
            status: early.http,
        });
        early_response(early)
    }

    fn record(&self, route: &Route, backend: &BackendRuntime, status: u16, started: Instant) {
        self.metrics.count(RequestLabels {
            backend: backend.name.clone(),
            route: route.metrics_label.clone(),
            status,
        });
        self.metrics
            .observe(backend.name.clone(), started.elapsed().as_secs_f64());
    }
}

/// The request message of a whole-body call, encoded with `plan` (the plan
/// for the chosen endpoint's schema): the body, path values and query (or a
/// form body on a body-less route, grpc-gateway's `ParseForm` + `Request.Form`).
fn request_message(
    plan: &transcode::MethodPlan,
    backend: &BackendRuntime,
    parts: &http::request::Parts,
    body: transcode::RequestBody<'_>,
    values: &[String],
) -> Result<Bytes, transcode::TranscodeError> {
    let parameters = transcode::form_parameters(
        plan,
        parts.method.as_str(),
        body.content_type,
        body.bytes,
        parts.uri.query(),
    )?;
    transcode::decode_request(plan, &backend.json, body, values, parameters.as_deref())
}

/// 415 with an UNIMPLEMENTED status: a `Content-Encoding` this request cannot
/// be read with (RFC 9110 §15.5.16).
fn unsupported_encoding(message: &str) -> Early {
    let mut e = Early::new(Code::Unimplemented, message);
    e.http = 415;
    e
}
