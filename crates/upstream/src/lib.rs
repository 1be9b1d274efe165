//! The upstream side of the gateway: endpoints, per-request load balancing,
//! health, retries, and raw-bytes gRPC calls.
//!
//! Everything learned about an endpoint lives in the [`ChannelCache`] (the endpoint registry, `registry`), keyed by
//! address and shared by every route table: its HTTP/2 connection, latency
//! estimate, requests in flight, ejection and health state
//! (`endpoint::EndpointState`). Each backend's endpoint *set* lives there too,
//! keyed by backend name, so a reload that keeps an endpoint keeps its connection
//! and what the balancer knows about it, and a `dns:///` refresh can change the
//! set without a reload. A route table holds an `Arc<Upstream>` per backend (that
//! table's settings over the shared set); requests in flight keep theirs alive
//! even after a swap removed the backend.
//!
//! One concern per module: `balance` (p2c over peak-EWMA, least request, round
//! robin), `outlier` (passive ejection), `health` (grpc.health.v1 checks),
//! `retry` (what is retried, and the budget), `dns` (`dns:///` endpoints) and
//! `metrics`.
//!
//! Messages cross this layer as already-encoded protobuf bytes ([`RawCodec`]):
//! encoding is the transcoder's job, so one upstream serves every method of every
//! backend with no generated code. Each endpoint has one HTTP/2 connection driven
//! with `h2` directly (`conn`); unary calls, the hot path, are framed and read on
//! the stream itself (`call::unary`), other shapes go through tonic's client over the
//! same connection.
//!
//! Two rules of the request path have their owner here, for every call shape:
//! `deadline` (the call's deadline, its `grpc-timeout` header, and "expired or
//! cancelled at our deadline" -> DEADLINE_EXCEEDED) and `status` (transport
//! failure -> UNAVAILABLE, a non-gRPC HTTP answer -> the gRPC spec's code).

mod balance;
mod call;
mod checker;
mod code_watch;
mod codec;
mod conn;
mod deadline;
mod dns;
mod endpoint;
mod error_head;
mod ewma;
mod health;
mod keepalive;
mod metrics;
mod outlier;
mod peer_settings;
mod registry;
mod retry;
mod schema_filter;
mod settings;
mod shared;
mod status;
mod tls;
pub mod worker;

pub use balance::Policy;
pub use call::{BackendReport, Picked, StreamReply, UnaryReply, Upstream, cancellable};
pub use checker::HealthCheckConfig;
pub use codec::RawCodec;
pub use deadline::{Deadline, deadline_exceeded, grpc_timeout, parse_grpc_timeout};
pub use dns::DnsSettings;
pub use endpoint::{EndpointReport, Health, RecentError};
pub use error_head::{ResponseHeaders, attach_headers, response_headers};
pub use metrics::UpstreamMetrics;
pub use outlier::OutlierConfig;
pub use registry::{ChannelCache, GrpcService};
pub use retry::RetryConfig;
pub use schema_filter::EndpointServes;
pub use settings::{ChannelSettings, UpstreamConfig};
pub use tls::UpstreamTls;
