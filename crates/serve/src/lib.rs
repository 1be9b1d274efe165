//! Stage 5 of the data flow: serve. The public listener (the admin
//! listener is its own crate, `switchboard-admin`).
//!
//! Per request the gateway does only what cannot be done earlier: one load of the
//! live [`Snapshot`](switchboard_live::Snapshot), one route match, transcoding
//! driven by the route's prebuilt plan, one upstream call, and the response. It
//! never discovers, never builds routes and never blocks on a reload: it reads
//! whatever table is live when the request arrives and keeps it to the end.
//!
//! Defaults mirror grpc-gateway v2 (status mapping, error body, metadata
//! forwarding, stream framing) so its clients switch without changes.

mod accept;
mod applied;
pub mod body;
mod compression;
mod connect;
mod cors;
mod edge;
mod entry;
mod error_metadata;
mod feed;
mod gateway;
mod grpc;
mod headers;
pub(crate) mod json;
mod metadata_limit;
mod metrics;
mod observed;
mod route_lookup;
mod schema_group;
mod upload_drain;

pub use accept::{serve, serve_public};
pub use gateway::Gateway;
pub use metrics::ServeMetrics;
pub use observed::Observers;
