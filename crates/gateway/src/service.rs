//! The tower services a [`Switchboard`] hands out: the gateway itself (every
//! protocol of the public listener) and, optionally, the admin endpoints.
//! Both take any `http_body::Body`; the gateway boxes it once at its entry
//! (`switchboard_serve::body::request_body`), so a request from axum, from a
//! tower stack or from the gateway's own listener takes the same path.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use switchboard_serve::body::{Body, BoxError};

use crate::Switchboard;

/// The client's address, as a request extension the gateway reads: it is
/// appended to `X-Forwarded-For` (as grpc-gateway and Envoy do) and keys
/// `client_ip` rate limits. A server that knows the peer inserts it (with
/// axum: copy `ConnectInfo<SocketAddr>` into it in a `map_request` layer);
/// without it those two features see no peer, as behind a Unix socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The future of one call to a [`Switchboard`] or [`AdminService`]: the
/// response, never an error (every failure is an answer in the request's
/// protocol: a `google.rpc.Status` JSON body, a gRPC status trailer).
pub struct ResponseFuture(Pin<Box<dyn Future<Output = Response<Body>> + Send>>);

impl Future for ResponseFuture {
    type Output = Result<Response<Body>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx).map(Ok)
    }
}

impl std::fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl<B> tower::Service<Request<B>> for Switchboard
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    /// Always ready: limits are the gateway's own (`limits:`, per-backend
    /// concurrency), answered per request rather than by back-pressure.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> ResponseFuture {
        let gateway = self.inner.gateway.clone();
        let peer = req.extensions().get::<PeerAddr>().map(|p| p.0);
        ResponseFuture(Box::pin(async move { gateway.handle(req, peer).await }))
    }
}

/// The admin endpoints (`/healthz`, `/readyz`, `/routes`, `/backends`,
/// `/status`, `/metrics`, `/openapi.json`, `POST /reload`) as a tower
/// service, from [`Switchboard::admin`]: mount it where the operator reaches
/// it and the public does not (it can reload the config).
#[derive(Clone)]
pub struct AdminService {
    pub(crate) admin: Arc<switchboard_admin::Admin>,
}

impl std::fmt::Debug for AdminService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminService")
    }
}

impl<B> tower::Service<Request<B>> for AdminService
where
    B: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> ResponseFuture {
        let admin = self.admin.clone();
        ResponseFuture(Box::pin(async move { admin.handle(req).await }))
    }
}
