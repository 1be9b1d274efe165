//! What an operator sees of the traffic (`request_id:`, `access_log:`,
//! `tracing:`, `compression:`): request IDs, the access log, OpenTelemetry
//! traces and response/request compression. Each section's doc says whether a
//! reload applies it or a restart is needed.

/// All four sections.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observability {
    /// `request_id:`. Applies on reload.
    pub request_id: RequestId,
    /// `access_log:`; `None` (the default) writes no access log. Read at
    /// startup: a change needs a restart.
    pub access_log: Option<AccessLog>,
    /// `tracing:`; `None` (the default) exports nothing and passes an incoming
    /// `traceparent` through unchanged. Read at startup: a change needs a
    /// restart (the exporter and the sampler are process-wide).
    pub tracing: Option<Tracing>,
    /// `compression:`. Applies on reload.
    pub compression: Compression,
}

/// `request_id: {header}`: which header carries the request ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId {
    /// Lower-case header name. Default `x-request-id`.
    pub header: String,
}

impl Default for RequestId {
    fn default() -> Self {
        RequestId {
            header: "x-request-id".into(),
        }
    }
}

/// `access_log: {format, to}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLog {
    /// Default [`LogFormat::Json`].
    pub format: LogFormat,
    /// Default [`LogTarget::Stdout`].
    pub to: LogTarget,
}

/// An access log line's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (keys documented in the README).
    Json,
    /// `key=value` pairs, values with spaces quoted (logfmt).
    Text,
}

/// Where access log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// The process's standard output (what container runtimes collect).
    Stdout,
    /// The process's standard error, beside the gateway's own logs.
    Stderr,
    /// A file, appended to and reopened on SIGHUP (for logrotate). Relative
    /// paths resolve against the config file's directory.
    File(std::path::PathBuf),
}

/// `tracing: {otlp_endpoint, sample_ratio, service_name}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracing {
    /// The OTLP/gRPC collector, `http://host:port` (or `https://`).
    pub otlp_endpoint: String,
    /// The share of new traces sampled, 0.0..=1.0 (parent-based: a request
    /// whose `traceparent` says sampled or not follows its parent). Default 1.0.
    pub sample_ratio: f64,
    /// The `service.name` resource attribute. Default `switchboard`.
    pub service_name: String,
}

/// `compression: {enabled, min_bytes}`: HTTP/JSON response compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// Default true: responses are compressed when the client asks.
    pub enabled: bool,
    /// Unary bodies smaller than this are sent as they are. Default 1024.
    pub min_bytes: usize,
}

impl Default for Compression {
    fn default() -> Self {
        Compression {
            enabled: true,
            min_bytes: 1024,
        }
    }
}

/// `backends[].grpc_compression`: how request messages are sent to the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GrpcCompression {
    /// Uncompressed (the default). Compressed replies are accepted anyway.
    #[default]
    Identity,
    /// gzip (`grpc-encoding: gzip`).
    Gzip,
}
