//! The public listener's front door: one port for every client.
//!
//! Each request is dispatched by its content type: `application/grpc[+...]` is
//! proxied natively (`grpc`), `application/grpc-web[-text][+proto]` is translated
//! and proxied (`grpc_web`), anything else is HTTP/JSON, transcoded
//! (`Gateway::handle_json`). CORS (`cors`), when configured, answers preflights
//! before any of that and decorates whatever answer comes back. The secure edge
//! (`edge`: authentication, rate and concurrency limits) runs next, before the
//! request is dispatched, so every call shape gets the same policy.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::body::{Body, BoxError, RequestBody};
use crate::grpc::{Protocol, Proxy};
use http::{Request, Response};
use switchboard_live::Live;

use crate::metrics::ServeMetrics;

/// The public listener's handler. Cheap to share: it only holds the live view.
#[derive(Debug)]
pub struct Gateway {
    pub(crate) live: Arc<Live>,
    pub(crate) metrics: ServeMetrics,
    /// Body and metadata limits and CORS (see `cors`), as the last applied
    /// config set them.
    pub(crate) applied: crate::applied::AppliedCache,
    /// grpc-gateway's `ServeMux` options (`http:`; see `route_lookup`).
    pub(crate) http: switchboard_config::HttpOptions,
    /// The access log and tracer (see `observed`).
    pub(crate) observers: crate::observed::Observers,
}

async fn handle(
    gateway: &Gateway,
    req: Request<RequestBody>,
    peer: Option<SocketAddr>,
) -> Response<Body> {
    let applied = gateway.applied.get(&gateway.live);
    // Connect is told apart first: its JSON POSTs share grpc-gateway's paths
    // and content type, and only its own headers and types say which it is.
    let connect = crate::connect::recognise(
        req.method(),
        req.uri().path(),
        req.headers(),
        req.uri().query(),
    );
    // Connect names its method by the gRPC path, so the edge finds the
    // backend as it does for native gRPC (GETs included).
    let protocol = match connect {
        Some(_) => Protocol::Grpc,
        None => Protocol::of(req.headers()),
    };
    // Request ID, access log and trace: opened here, closed when the
    // response body ends, for every answer below.
    let label =
        crate::observed::protocol_label(protocol, connect.is_some(), req.headers(), req.method());
    let opened = crate::observed::open(&gateway.observers, &applied, &req, peer);
    if protocol != Protocol::Http {
        opened.grpc_method(req.uri().path());
    }
    // Response compression: HTTP/JSON only (the other protocols compress per
    // message themselves).
    let accept = (applied.compression.enabled && matches!(label, "json" | "sse"))
        .then(|| accept_encoding(req.headers()));
    let call = opened.call().clone();
    let mut response = call
        .scope(handle_call(gateway, &applied, req, peer, connect, protocol))
        .await;
    if let Some(accept) = accept {
        response = crate::compression::respond(&applied.compression, &accept, response);
    }
    crate::observed::close(&gateway.observers, opened, label, response)
}

/// The request's `Accept-Encoding` values alone (kept past the request).
fn accept_encoding(headers: &http::HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::new();
    for v in headers.get_all(http::header::ACCEPT_ENCODING) {
        out.append(http::header::ACCEPT_ENCODING, v.clone());
    }
    out
}

async fn handle_call(
    gateway: &Gateway,
    applied: &crate::applied::Applied,
    req: Request<RequestBody>,
    peer: Option<SocketAddr>,
    connect: Option<crate::connect::Kind>,
    protocol: Protocol,
) -> Response<Body> {
    let cors = applied.cors.as_ref();
    let origin = cors.and_then(|c| c.allowed_origin(req.headers()));
    if let Some(preflight) = cors.and_then(|c| c.preflight(req.method(), req.headers())) {
        return preflight;
    }
    let proxy = |protocol| Proxy {
        snapshot: gateway.live.snapshot(),
        metrics: gateway.metrics.clone(),
        max_metadata_bytes: applied.max_metadata_bytes,
        peer,
        protocol,
    };
    // Secure edge: authentication and limits, once for every call shape.
    let (req, guard) = match crate::edge::admit(gateway, req, peer, protocol, connect.is_some()) {
        Ok(admitted) => admitted,
        Err(mut refusal) => {
            if let Some(cors) = cors {
                cors.decorate(origin, refusal.headers_mut());
            }
            return refusal;
        }
    };
    let mut response = if let Some(kind) = connect {
        crate::connect::handle(gateway, kind, req, peer).await
    } else {
        match protocol {
            Protocol::Grpc => {
                proxy(Protocol::Grpc)
                    .call(req.map(tonic::body::Body::new))
                    .await
            }
            Protocol::GrpcWeb => crate::grpc::web::handle(proxy(Protocol::GrpcWeb), req).await,
            Protocol::Http => gateway.handle_json(req, peer).await,
        }
    };
    if let Some(cors) = cors {
        cors.decorate(origin, response.headers_mut());
    }
    match guard {
        Some(guard) => crate::edge::hold(response, guard),
        None => response,
    }
}

impl Gateway {
    /// A gateway serving whatever `live` publishes. `max_body_bytes` is the
    /// body limit until the reloader applies a config (whose
    /// `limits.max_body_bytes` then takes over).
    pub fn new(live: Arc<Live>, metrics: ServeMetrics, max_body_bytes: usize) -> Self {
        Gateway {
            live,
            metrics,
            applied: crate::applied::AppliedCache::new(
                max_body_bytes,
                crate::applied::DEFAULT_MAX_METADATA_BYTES,
                None,
            ),
            http: Default::default(),
            observers: Default::default(),
        }
    }

    /// Sets the access log and tracer (`access_log:`, `tracing:`, read at
    /// startup). Request IDs are always on (`request_id:` applies on reload).
    pub fn with_observers(mut self, observers: crate::observed::Observers) -> Self {
        self.observers = observers;
        self
    }

    /// Sets the forwarded-metadata limit (`limits.max_metadata_bytes`; default
    /// 8 KiB). Every call shape is held to it (see `metadata_limit`). Once the
    /// reloader has applied a config, its `limits.max_metadata_bytes` takes over.
    pub fn with_max_metadata_bytes(mut self, limit: usize) -> Self {
        self.applied = self.applied.with_max_metadata_bytes(&self.live, limit);
        self
    }

    /// Handles one request, whatever carried it (the public listener, a tower
    /// stack, an axum router): the body is boxed here, once, so every caller
    /// takes the same path. CORS first, then native gRPC and gRPC-Web are
    /// proxied by content type, everything else is HTTP/JSON. `peer` is the
    /// client's address, appended to `X-Forwarded-For` and used by
    /// `client_ip` rate limits.
    pub fn handle<B>(
        &self,
        req: Request<B>,
        peer: Option<SocketAddr>,
    ) -> impl Future<Output = Response<Body>> + Send + '_
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        // Boxed before the future is built: the future is then one concrete
        // type whatever `B` was.
        handle(self, req.map(crate::body::request_body), peer)
    }

    /// Enables CORS on the public listener (`cors:` in the config); `None`, the
    /// default, sends no CORS headers. Once the reloader has applied a config,
    /// its `cors:` (and `limits.max_body_bytes`) take over.
    pub fn with_cors(mut self, cors: Option<switchboard_config::Cors>) -> Self {
        let current = self.applied.get(&self.live);
        self.applied = crate::applied::AppliedCache::new(
            current.max_body_bytes,
            current.max_metadata_bytes,
            cors,
        );
        self
    }
}
