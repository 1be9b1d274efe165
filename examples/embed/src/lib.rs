//! An axum application that embeds the Switchboard gateway: the gateway
//! answers under `/api` (every protocol it speaks: HTTP/JSON with streams,
//! gRPC-Web, Connect), behind the application's own tower layer (an API-key
//! check), beside the application's own routes. `main.rs` runs it; the test
//! in `tests/` drives all three against a real gRPC backend.
//!
//! The gateway is an ordinary `tower::Service`, so nothing here is specific
//! to Switchboard but the builder call in `main.rs`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use switchboard_gateway::{PeerAddr, Switchboard};

/// The header the application's layer requires on `/api` requests.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The application: its own `/hello` route, and the gateway under `/api`
/// behind the API-key check. axum strips the `/api` prefix, so the gateway
/// routes `/api/v1/echo` as `/v1/echo`.
pub fn app(gateway: Switchboard, api_key: &'static str) -> Router {
    let api = tower::ServiceBuilder::new()
        // The client's address, for the gateway's X-Forwarded-For and
        // `client_ip` rate limits (present when served with connect info).
        .map_request(|mut req: Request| {
            if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
                let peer = PeerAddr(*peer);
                req.extensions_mut().insert(peer);
            }
            req
        })
        .service(gateway);
    Router::new()
        .route("/hello", get(|| async { "hello from the app\n" }))
        .nest_service("/api", api)
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            require_key(api_key, req, next)
        }))
}

/// The application's own policy, applied before the gateway sees a request:
/// `/api` needs the API key; the app's other routes are open. A refusal is
/// a `google.rpc.Status` JSON body, the form the gateway's own errors take,
/// so clients read one error shape.
async fn require_key(api_key: &'static str, req: Request, next: Next) -> Response {
    let guarded = req.uri().path().starts_with("/api");
    let presented = req.headers().get(API_KEY_HEADER).map(HeaderValue::as_bytes);
    if guarded && presented != Some(api_key.as_bytes()) {
        let body = r#"{"code":16,"message":"missing or wrong x-api-key","details":[]}"#;
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
    }
    next.run(req).await
}
