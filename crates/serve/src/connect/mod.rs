//! The Connect protocol (connectrpc.com/docs/protocol) on the public port, so
//! connect-es, connect-go, connect-swift and connect-kotlin clients reach every
//! backend with nothing but the gateway's URL and the service's descriptors.
//!
//! A Connect request is recognised before the HTTP/JSON mapping sees it
//! ([`codec::recognise`]): a POST that says `Connect-Protocol-Version: 1` or
//! uses a content type only Connect uses, or a GET with `connect=v1`. Anything
//! else on the same paths (a grpc-gateway client's plain JSON POST above all)
//! keeps the grpc-gateway behaviour.
//!
//! The call is routed like native gRPC: the owner of the service in
//! `/package.Service/Method` ([`RouteTable::find_grpc`]), with the method's
//! default-route plan for the JSON codec; binary (`proto`) messages pass to and
//! from the backend untouched. Unary calls ([`unary`]) use the shared unary
//! upstream call (balancing, retries, deadline); streams ([`stream`]) the
//! shared streaming call with a cancellation handle, as the JSON streaming
//! shapes do. Deadlines are the client's `Connect-Timeout-Ms` capped by the
//! backend's `timeout`, like every protocol; metadata and errors are mapped in
//! [`metadata`] and [`error`]; compression in [`compress`].
//!
//! Requests are counted in the request metrics with the route label
//! `connect /package.Service/Method`, as `grpc` and `grpc-web` calls are.
//!
//! [`RouteTable::find_grpc`]: switchboard_routes::RouteTable::find_grpc

mod codec;
mod compress;
mod envelope;
mod error;
mod metadata;
mod stream;
#[cfg(test)]
mod tests;
mod unary;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::body::RequestBody;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Request, Response};
use switchboard_live::{BackendRuntime, Snapshot};
use switchboard_routes::{GrpcLookup, Lookup, Route, RouteSource};
use switchboard_upstream::Deadline;
use tonic::Status;

pub(crate) use codec::{Kind, recognise};

use crate::body::Body;
use crate::gateway::Gateway;

/// What every Connect call needs once it is routed.
pub(crate) struct Call<'a> {
    pub snapshot: &'a Arc<Snapshot>,
    pub backend: &'a BackendRuntime,
    /// `backend`'s index in the snapshot, for what outlives the handler.
    pub backend_index: usize,
    /// The method's default route (`POST /package.Service/Method`), whose plan
    /// the JSON codec needs; `None` if the table has none for it.
    pub route: Option<&'a Route>,
    pub path: &'a str,
    pub peer: Option<SocketAddr>,
    /// `limits.max_body_bytes`: the whole unary body, or each streamed message.
    pub max_message_bytes: usize,
    /// `limits.max_metadata_bytes` (see `metadata_limit`).
    pub max_metadata_bytes: usize,
}

/// The content types of unary and of streaming Connect calls.
const UNARY_TYPES: &str = "application/json, application/proto";
const STREAM_TYPES: &str = "application/connect+json, application/connect+proto";

impl Call<'_> {
    /// The request's codec when its content type fits the method's shape
    /// (`streaming`: an enveloped `application/connect+*` request); else the
    /// 415 naming the types that do.
    #[allow(clippy::result_large_err)]
    fn codec_for(
        &self,
        codec: Option<codec::Codec>,
        streaming: bool,
        headers: &HeaderMap,
    ) -> Result<codec::Codec, Response<Body>> {
        let (sent, other) = if streaming {
            (STREAM_TYPES, UNARY_TYPES)
        } else {
            (UNARY_TYPES, STREAM_TYPES)
        };
        let Some(codec) = codec else {
            return Err(unsupported_media_type(sent, headers));
        };
        if let Ok(plan) = self.plan()
            && (plan.method.is_client_streaming() || plan.method.is_server_streaming()) != streaming
        {
            return Err(unsupported_media_type(other, headers));
        }
        Ok(codec)
    }

    /// The call's deadline (`Connect-Timeout-Ms` capped by the backend's
    /// `timeout`) and the metadata to forward, held to the metadata limit.
    fn deadline_and_metadata(
        &self,
        headers: &HeaderMap,
        uri: &http::Uri,
    ) -> Result<(Deadline, tonic::metadata::MetadataMap), Status> {
        let deadline = Deadline::for_call(codec::timeout(headers)?, self.backend.timeout);
        let authority = crate::headers::authority(uri, headers);
        let md = metadata::request_metadata(headers, authority, self.peer)?;
        self.check_metadata(&md)?;
        Ok((deadline, md))
    }

    /// RESOURCE_EXHAUSTED when the metadata to forward is over
    /// `limits.max_metadata_bytes`: one request's oversized headers must not
    /// reach the shared connection.
    fn check_metadata(&self, md: &tonic::metadata::MetadataMap) -> Result<(), Status> {
        let size = crate::metadata_limit::metadata_size(md);
        let peer = self.backend.upstream.peer_header_list_limit();
        crate::metadata_limit::check(size, self.max_metadata_bytes, peer)
            .map_err(Status::resource_exhausted)
    }

    /// The plan, for a codec that needs one (JSON) or a shape check.
    fn plan(&self) -> Result<&Arc<switchboard_transcode::MethodPlan>, Status> {
        self.route.map(|r| &r.plan).ok_or_else(|| self.no_plan())
    }

    fn no_plan(&self) -> Status {
        Status::unimplemented(format!(
            "{}: the route table has no plan for this method",
            self.path
        ))
    }

    /// The endpoint for the call, chosen before any message is encoded, and
    /// the plan for its schema (see `schema_group`), or why there is none (a
    /// codec that needs no plan ignores that).
    fn choose(&self) -> Result<(switchboard_upstream::Picked, PlanFor<'_>), Status> {
        let (picked, plan) =
            crate::schema_group::choose_for_path(self.backend, self.path, self.route)?;
        Ok((picked, plan.ok_or_else(|| self.no_plan())))
    }

    /// The upstream path, parsed once at table-build time when there is a route.
    fn grpc_path(&self) -> Result<http::uri::PathAndQuery, Status> {
        match self.route {
            Some(r) => Ok(r.grpc_path_and_query.clone()),
            None => http::uri::PathAndQuery::from_maybe_shared(Bytes::copy_from_slice(
                self.path.as_bytes(),
            ))
            .map_err(|_| Status::internal("invalid gRPC path")),
        }
    }
}

/// The plan for the chosen endpoint's schema, or why the table has none.
type PlanFor<'a> = Result<&'a Arc<switchboard_transcode::MethodPlan>, Status>;

/// Serves one Connect request. Never fails: every problem is a Connect error
/// in the shape the request's kind expects.
pub(crate) async fn handle(
    gateway: &Gateway,
    kind: Kind,
    req: Request<RequestBody>,
    peer: Option<SocketAddr>,
) -> Response<Body> {
    let started = Instant::now();
    let fail = |status: &Status| match &kind {
        Kind::Stream { codec } => {
            stream::error_response(codec.unwrap_or(codec::Codec::Json), None, status)
        }
        _ => unary::error_response(None, status),
    };
    let Some(snapshot) = gateway.live.snapshot() else {
        return fail(&Status::unavailable("no route table is loaded yet"));
    };
    let path = req.uri().path().to_owned();
    let index = match snapshot.table.find_grpc(&path) {
        GrpcLookup::Found { backend, .. } => backend,
        lookup => {
            let response = fail(&crate::grpc::unknown(&path, &lookup));
            gateway
                .metrics
                .record("", "unmatched".into(), response.status().as_u16(), None);
            return response;
        }
    };
    let backend = &snapshot.backends[index];
    let applied = gateway.applied.get(&gateway.live);
    let call = Call {
        snapshot: &snapshot,
        backend,
        backend_index: index,
        route: default_route(&snapshot, &path, index),
        path: &path,
        peer,
        max_message_bytes: applied.max_body_bytes,
        max_metadata_bytes: applied.max_metadata_bytes,
    };
    let response = match kind {
        Kind::Unary { codec } => unary::post(call, codec, req).await,
        Kind::Get => unary::get(call, req).await,
        Kind::Stream { codec } => stream::handle(call, codec, req).await,
    };
    gateway.metrics.record(
        &backend.name,
        format!("connect {path}").into(),
        response.status().as_u16(),
        Some(started),
    );
    response
}

/// The method's `POST /package.Service/Method` route on its owning backend.
fn default_route<'a>(snapshot: &'a Snapshot, path: &str, backend: usize) -> Option<&'a Route> {
    match snapshot.table.find(&http::Method::POST, path) {
        Lookup::Found(route, _)
            if route.source == RouteSource::Default
                && route.backend == backend
                && &*route.grpc_path == path =>
        {
            Some(route)
        }
        _ => None,
    }
}

/// `415 Unsupported Media Type` for a codec the gateway does not speak, with
/// `Accept-Post` listing the ones it does (as connect-go answers), and a
/// Connect error body saying which.
fn unsupported_media_type(accepted: &'static str, headers: &HeaderMap) -> Response<Body> {
    let sent = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut response = unary::error_response(
        None,
        &Status::invalid_argument(format!(
            "unsupported content type {sent:?}: use one of {accepted}"
        )),
    );
    *response.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
    response
        .headers_mut()
        .insert("accept-post", HeaderValue::from_static(accepted));
    response
}

/// The edge's refusal (auth, rate or concurrency limit) as a Connect unary
/// error: the spec's HTTP status and JSON error body, plus the refusal's own
/// headers (`WWW-Authenticate`, `Retry-After`). Streams get the same form,
/// which Connect clients read from any non-200 answer.
pub(crate) fn refusal(rejection: &switchboard_edge::Rejection) -> Response<Body> {
    let status = Status::new(tonic::Code::from(rejection.code), rejection.message.clone());
    let mut response = unary::error_response(None, &status);
    for (name, value) in &rejection.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}
