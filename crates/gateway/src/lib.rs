//! Switchboard as a library: the whole gateway (HTTP/JSON transcoding,
//! native gRPC, gRPC-Web and Connect in front of gRPC backends, with
//! discovery by reflection and hot reload) as one `tower::Service`, to mount
//! in axum or hyper and wrap with ordinary tower and tower-http layers.
//!
//! `switchboard serve`, `check` and `demo` are a thin CLI over this crate:
//! an embedded gateway and the binary build, reload and shut down the same
//! way.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use switchboard_gateway::Switchboard;
//!
//! // A config file (watched and hot-reloaded), a `Config` value, or
//! // backends added in code:
//! let gateway = Switchboard::builder()
//!     .backend("greeter", ["127.0.0.1:50051"])
//!     .build()
//!     .await?;
//!
//! // A tower::Service for any http_body::Body, e.g. under axum:
//! // Router::new().nest_service("/api", gateway.clone())
//! # let _ = tower::ServiceExt::<http::Request<String>>::ready(&mut gateway.clone());
//! println!("version {}", gateway.status().version);
//! gateway.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The `examples/embed` crate of the repository is a complete axum app: the
//! gateway under `/api`, behind the app's own layer, beside its own routes.
//!
//! What this crate exposes is deliberately small: the builder, the running
//! gateway, its services and errors, the config model (to build a config in
//! code) and the status types. The stages behind it (discovery, route table,
//! transcoding, upstream balancing) are not part of the API.

mod builder;
mod error;
mod observability;
mod service;
mod switchboard;

pub use builder::Builder;
pub use error::Error;
pub use service::{AdminService, PeerAddr, ResponseFuture};
pub use switchboard::{RouteInfo, Switchboard};
/// The config model, to build a [`Config`] in code: the same types the YAML
/// loader fills (every key is documented in `config/switchboard.yaml`).
pub use switchboard_config as config;
pub use switchboard_config::{Backend, Config, ConfigError};
pub use switchboard_live::{BackendState, BackendStatus, Outcome, ReloadResult, ReloadStatus};
/// The response body of both services: a whole buffer or a stream of frames
/// (streams, SSE, gRPC), which never fails.
pub use switchboard_serve::body::Body;
pub use switchboard_serve::body::BoxError;

// The README's Rust examples (its "Embedding" section) are compiled as doc
// tests of this crate, so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;
