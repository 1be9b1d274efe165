//! The public listener's front door: one port for every client.
//!
//! Each request is dispatched by its content type: `application/grpc[+...]` is
//! proxied natively (`grpc`), `application/grpc-web[-text][+proto]` is translated
//! and proxied (`grpc_web`), anything else is HTTP/JSON, transcoded
//! ([`Gateway::handle_json`]). CORS (`cors`), when configured, answers preflights
//! before any of that and decorates whatever answer comes back.

use std::net::SocketAddr;

use http::{Request, Response};
use hyper::body::Incoming;

use crate::body::Body;
use crate::grpc::{Protocol, Proxy};
use crate::json::Gateway;

pub(crate) async fn handle(
    gateway: &Gateway,
    req: Request<Incoming>,
    peer: Option<SocketAddr>,
) -> Response<Body> {
    let cors = gateway.cors.as_ref();
    let origin = cors.and_then(|c| c.allowed_origin(req.headers()));
    if let Some(preflight) = cors.and_then(|c| c.preflight(req.method(), req.headers())) {
        return preflight;
    }
    let proxy = |protocol| Proxy {
        snapshot: gateway.live.snapshot(),
        metrics: gateway.metrics.clone(),
        peer,
        protocol,
    };
    let mut response = match Protocol::of(req.headers()) {
        Protocol::Grpc => proxy("grpc").call(req.map(tonic::body::Body::new)).await,
        Protocol::GrpcWeb => crate::grpc::web::handle(proxy("grpc-web"), req).await,
        Protocol::Http => gateway.handle_json(req, peer).await,
    };
    if let Some(cors) = cors {
        cors.decorate(origin, response.headers_mut());
    }
    response
}

impl Gateway {
    /// Enables CORS on the public listener (`cors:` in the config); `None`, the
    /// default, sends no CORS headers.
    pub fn with_cors(mut self, cors: Option<switchboard_config::Cors>) -> Self {
        self.cors = cors.map(crate::cors::Cors::new);
        self
    }
}
