//! Stage 1 of the data flow (config -> discovery -> routes -> swap -> serve):
//! the YAML configuration model.
//!
//! This crate turns a YAML file into a validated [`Config`] or into a list of
//! [`ConfigError`]s that each carry `file:line:column`, so that `switchboard check`,
//! the reload loop and the admin listener can all report the same precise message.
//! It performs no network IO and never panics on bad input: unknown keys, wrong
//! types, duplicate backend names and malformed endpoints are errors, not surprises
//! found at request time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod cors;
pub mod edge;
mod http;
mod load;
pub mod observability;
mod runtime;
mod schema_source;
mod traffic;

pub use cors::Cors;
pub use http::{HttpOptions, UnescapingMode};
pub use load::{IN_CODE, load_file, parse_bytes, parse_str, read_file};
pub use observability::{GrpcCompression, Observability};
pub use runtime::{Runtime, RuntimeModel};
pub use schema_source::SchemaSource;
pub use traffic::{
    Balancing, HealthCheck, OutlierDetection, Retries, Shutdown, Traffic, UpstreamSettings,
};

/// The whole gateway configuration, as read from one YAML file.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address of the public HTTP/JSON listener. Default `0.0.0.0:8080`.
    pub listen: SocketAddr,
    /// Address of the admin listener. Default `127.0.0.1:9901` (loopback: it can reload config).
    pub admin: SocketAddr,
    /// Request body size limit in bytes, applied before any decoding. Default 4 MiB.
    pub max_body_bytes: usize,
    /// Forwarded request metadata limit in bytes (`limits.max_metadata_bytes`),
    /// counted as HTTP/2 counts a header list (name + value + 32 per entry).
    /// Default 8 KiB.
    pub max_metadata_bytes: usize,
    /// How long discovery of one backend may take before it counts as failed. Default 5s.
    pub discovery_timeout: Duration,
    /// Debounce window for file-change reloads. Default 200ms.
    pub reload_debounce: Duration,
    /// Connection and DNS settings for every backend (`upstream:`).
    pub upstream: UpstreamSettings,
    /// Graceful shutdown (`shutdown:`).
    pub shutdown: Shutdown,
    /// The backends, in file order. Order matters: on a route conflict the first-listed wins.
    pub backends: Vec<Backend>,
    /// Browser cross-origin access to the public listener (`cors:`); `None` sends
    /// no CORS headers.
    pub cors: Option<Cors>,
    /// Gateway-wide HTTP mapping switches (`http:`), grpc-gateway's `ServeMux`
    /// options. Read at startup.
    pub http: HttpOptions,
    /// TLS, JWT providers and listener connection limits (`tls:`,
    /// `jwt_providers:`, `limits.max_connections` and the listener timeouts).
    pub edge: edge::Edge,
    /// Request IDs, access log, traces and compression (`request_id:`,
    /// `access_log:`, `tracing:`, `compression:`).
    pub observability: Observability,
    /// The threading model (`runtime:`). Read at startup.
    pub runtime: Runtime,
}

/// Default of [`Backend::refresh`].
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(30);

/// One gRPC backend: a named set of endpoints serving the same API.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    /// Unique name, used in logs, metrics and `/routes`.
    pub name: String,
    /// `host:port` or `dns:///host:port` strings (at least one). A `dns:///` entry
    /// stands for every address the name resolves to, re-resolved periodically.
    pub endpoints: Vec<String>,
    /// Where the API's descriptors come from.
    pub descriptors: DescriptorSource,
    /// Which services are exposed over HTTP.
    pub services: ServiceFilter,
    /// Deadline applied to calls that carry no `Grpc-Timeout` (and the cap for those that do).
    /// `None` means no deadline.
    pub timeout: Option<Duration>,
    /// How often the backend's descriptors are re-discovered (`refresh:`, default
    /// 30s) so that a deploy adding a method is served without a config edit;
    /// `None` (`refresh: off`) re-discovers only on reloads and endpoint changes.
    pub refresh: Option<Duration>,
    /// JSON mapping options for this backend.
    pub json: JsonOptions,
    /// HTTP rules given in the config (grpc-gateway's `grpc_api_configuration`
    /// style), for backends whose protos carry no `google.api.http` annotations.
    /// A method with at least one rule here uses these instead of its annotation.
    pub http_rules: Vec<HttpRule>,
    /// Balancing, health checks, outlier detection and retries.
    pub traffic: Traffic,
    /// TLS to the backend, authentication, rate and concurrency limits.
    pub edge: edge::BackendEdge,
    /// How request messages are sent to this backend (`grpc_compression`).
    pub grpc_compression: GrpcCompression,
}

/// One `google.api.HttpRule` written in the config instead of the proto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRule {
    /// The method, `package.Service.Method` (no leading dot, no wildcards).
    pub selector: String,
    /// The rule's own pattern, body and response_body.
    pub binding: HttpBinding,
    /// `additional_bindings`, one level deep (nesting is a config error).
    pub additional_bindings: Vec<HttpBinding>,
}

/// One pattern of an [`HttpRule`]: what `get`/`put`/`post`/`delete`/`patch`/`custom`
/// say, plus `body` and `response_body`, exactly as in `google.api.HttpRule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpBinding {
    /// Upper-case HTTP method (`GET`, ..., or a custom kind such as `HEAD`).
    pub method: String,
    /// The path template, unparsed (the route stage parses and reports it).
    pub path: String,
    /// `""`, `"*"` or a top-level request field name.
    pub body: String,
    /// `""` or a top-level response field name.
    pub response_body: String,
}

/// Where a backend's descriptors come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DescriptorSource {
    /// gRPC server reflection (v1, falling back to v1alpha). The default.
    Reflection,
    /// A serialized `google.protobuf.FileDescriptorSet` (e.g. `protoc --include_imports -o`).
    /// Relative paths are resolved against the config file's directory.
    DescriptorSet(PathBuf),
    /// `.proto` files compiled at load time (protox). Relative paths are resolved against
    /// the config file's directory.
    Protos {
        /// The files to compile; each must lie under an include path.
        files: Vec<PathBuf>,
        /// Import roots (`-I`); default: the config file's directory.
        include_paths: Vec<PathBuf>,
    },
}

/// Which services of a backend are exposed. Patterns are full service names where `*`
/// matches any run of characters (`acme.billing.*`, `*.Internal*`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceFilter {
    /// If non-empty, only services matching one of these are exposed.
    pub include: Vec<String>,
    /// Services matching one of these are never exposed. `grpc.reflection.*` and
    /// `grpc.health.*` are always excluded, whatever the config says.
    pub exclude: Vec<String>,
}

/// Per-backend JSON mapping options. Defaults match grpc-gateway v2's marshaler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonOptions {
    /// Emit fields with default values (grpc-gateway v2: true).
    pub emit_unpopulated: bool,
    /// Reject unknown JSON fields and query parameters with 400 (grpc-gateway: false).
    pub strict: bool,
    /// Print proto field names instead of lowerCamelCase json names.
    pub use_proto_names: bool,
    /// Print enums as numbers instead of names.
    pub enums_as_ints: bool,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions {
            emit_unpopulated: true,
            strict: false,
            use_proto_names: false,
            enums_as_ints: false,
        }
    }
}

/// One problem found in a config file, with its location when one applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The config file (or the in-code label) the problem is in.
    pub file: PathBuf,
    /// 1-based line and column; `None` for problems with no position (e.g. file not found).
    pub line: Option<usize>,
    /// See `line`.
    pub column: Option<usize>,
    /// What is wrong, worded for the person editing the file.
    pub message: String,
}

impl ConfigError {
    /// `file:line:column: message`, the format editors and CI annotate.
    pub fn render(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{}:{}: {}", self.file.display(), l, c, self.message),
            (Some(l), None) => format!("{}:{}: {}", self.file.display(), l, self.message),
            _ => format!("{}: {}", self.file.display(), self.message),
        }
    }
}

impl ServiceFilter {
    /// Whether a fully-qualified service name is exposed.
    pub fn allows(&self, service: &str) -> bool {
        if glob(service, "grpc.reflection.*") || glob(service, "grpc.health.*") {
            return false;
        }
        if !self.include.is_empty() && !self.include.iter().any(|p| glob(service, p)) {
            return false;
        }
        !self.exclude.iter().any(|p| glob(service, p))
    }
}

/// `*`-only glob matching (no other metacharacters), iterative with backtracking.
pub fn glob(text: &str, pattern: &str) -> bool {
    let (t, p) = (text.as_bytes(), pattern.as_bytes());
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

impl Config {
    /// Directory relative paths in the config resolve against.
    pub fn base_dir(file: &Path) -> PathBuf {
        file.parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches() {
        assert!(glob("acme.billing.Invoices", "acme.billing.*"));
        assert!(glob("a.b.InternalAdmin", "*.Internal*"));
        assert!(!glob("acme.billingX", "acme.billing.*"));
        assert!(glob("x", "*"));
        assert!(glob("abc", "abc"));
        assert!(!glob("abcd", "abc"));
    }

    #[test]
    fn filter_always_hides_reflection_and_health() {
        let f = ServiceFilter::default();
        assert!(!f.allows("grpc.reflection.v1.ServerReflection"));
        assert!(!f.allows("grpc.health.v1.Health"));
        assert!(f.allows("helloworld.Greeter"));
        let f = ServiceFilter {
            include: vec!["acme.*".into()],
            exclude: vec!["acme.Secret".into()],
        };
        assert!(f.allows("acme.Public"));
        assert!(!f.allows("acme.Secret"));
        assert!(!f.allows("other.Public"));
    }
}
