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

use crate::body::{Body, BoxError, RequestBody};
use crate::grpc::{Protocol, Proxy};
use http::{Request, Response};

use crate::gateway::Gateway;

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
    // Boxed: the call future holds every protocol's state (several KB), and
    // each layer that takes it by value (the task-local scope, this future,
    // the connection's service future) would otherwise copy it whole: the
    // largest memcpy in the request path's profile. One allocation instead.
    let mut response = call
        .scope(Box::pin(handle_call(
            gateway, &applied, req, peer, connect, protocol,
        )))
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
    let (req, guard) = match crate::edge::admit(gateway, req, peer, protocol) {
        Ok(admitted) => admitted,
        Err(refused) => {
            // Connect clients read Connect's error form, whatever protocol
            // found the backend.
            let mut refusal = match connect {
                Some(_) => crate::connect::refusal(&refused.rejection),
                None => refused.respond(protocol),
            };
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
}
