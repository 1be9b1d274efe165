//! Observability for every call shape: what happened to one request, told once.
//!
//! The entry service opens a [`Call`] per request (its request ID, its trace
//! span) and runs the request inside it ([`Call::scope`]); the upstream stage,
//! which alone knows the endpoint and the gRPC outcome, records them into the
//! current call ([`current`]) where it accounts for each attempt. When the
//! response body ends (streams included) the entry writes one access log line
//! ([`access_log`]) and ends the span ([`trace`]). No shape logs or traces on
//! its own, so every shape gets the same record.
//!
//! Nothing here blocks the request path: access log lines go through a bounded
//! channel to a writer task (dropped and counted when it is full), spans through
//! the OpenTelemetry SDK's batch exporter.

pub mod access_log;
mod record;
pub mod request_id;
mod time;
pub mod trace;

pub use record::{AttemptTrace, Call, Facts, current};
