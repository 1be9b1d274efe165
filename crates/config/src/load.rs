//! Reading YAML into [`Config`]: parsing, defaults and validation, each problem
//! reported with `file:line:column`.
//!
//! # Format
//!
//! Every key except `backends[].name` and `backends[].endpoints` is optional. Unknown
//! keys are errors at every level (a typo must not silently fall back to a default).
//!
//! ```yaml
//! listen: 0.0.0.0:8080        # public HTTP/JSON listener (ip:port), default 0.0.0.0:8080
//! admin: 127.0.0.1:9901       # admin listener (ip:port), default 127.0.0.1:9901
//! limits:
//!   max_body_bytes: 4194304   # request body limit in bytes, > 0, default 4 MiB
//!   max_metadata_bytes: 8192  # forwarded metadata limit in bytes, > 0, default 8 KiB
//!   max_connections: 10000    # open client connections, > 0; absent: unlimited
//!   header_read_timeout: 30s  # request head / TLS handshake, > 0, default 30s
//!   idle_timeout: 1h          # no request in flight this long: closed, default 1h
//! tls: {cert: gw.pem, key: gw.key, client_ca: ca.pem}  # listener TLS; client_ca: mTLS
//! jwt_providers:              # see the `edge` submodule
//!   - name: corp              # required, unique
//!     issuer: https://login.example.com
//!     audiences: [api]
//!     jwks: {url: https://login.example.com/jwks.json, refresh: 10m}  # or {file: F}
//!     forward_claims: {sub: x-user-id}
//!     leeway: 60s
//!     from_header: x-jwt
//!     from_query: access_token
//! discovery:
//!   timeout: 5s               # per-backend discovery timeout, > 0, default 5s
//! reload:
//!   debounce: 200ms           # file-watch debounce, default 200ms (0 allowed)
//! upstream:                   # read at startup (see the `traffic` submodule)
//!   connect_timeout: 2s       # > 0, default 2s
//!   keepalive_interval: 5m    # HTTP/2 PING interval with calls in flight, > 0, default 5m
//!   keepalive_without_calls: false  # also ping idle connections, default false
//!   keepalive_timeout: 10s    # > 0, default 10s
//!   dns:
//!     nameservers: ["10.0.0.10:53"]  # ip or ip:port; default: the system's
//!     refresh: 30s            # re-resolution of dns:/// endpoints, > 0
//! shutdown:
//!   delay: 0s                 # /readyz fails this long before the listener closes
//!   drain_timeout: 30s        # in-flight requests get this long to finish
//! cors:                       # absent: no CORS headers (see config::Cors)
//!   allowed_origins: ["https://app.example"]  # required, >= 1; exact, `*`-glob or "*"
//!   allow_credentials: false  # not with "*"
//!   max_age: 10m              # preflight cache; absent: not sent
//!   allowed_headers: []       # empty: whatever the preflight asks for
//!   expose_headers: []        # beyond grpc-status/-message/-details-bin and the response's own
//! http:                       # grpc-gateway ServeMux options (see config::HttpOptions)
//!   unescaping_mode: legacy   # or all_except_reserved, all_except_slash, all_characters
//!   path_length_fallback: true  # form POST to a GET-only path is served as the GET
//!   method_override: true     # X-HTTP-Method-Override on such a POST
//!   raw_http_body_streams: false  # true: no "\n" after each streamed HttpBody
//! request_id: {header: x-request-id}  # see config::observability; applies on reload
//! access_log: {format: json, to: stdout}  # or text; stderr or a file path; restart
//! tracing:                    # OTLP/gRPC export; read at startup (restart)
//!   otlp_endpoint: http://127.0.0.1:4317  # required
//!   sample_ratio: 1.0         # 0.0..=1.0, parent-based
//!   service_name: switchboard
//! compression: {enabled: true, min_bytes: 1024}  # HTTP/JSON responses; reload
//! runtime:                    # read at startup (restart)
//!   model: workers            # a single-thread runtime per worker thread; or shared
//!   workers: 0                # workers model: threads, 0..=1024; 0 = one per core
//! backends:                   # may be empty or absent: an empty gateway is valid
//!   - name: greeter           # required, unique, [A-Za-z0-9_.-]+
//!     endpoints: ["127.0.0.1:50051"]  # required, >= 1, host:port; host is a hostname,
//!                                     # IPv4 or [IPv6]; port 1..=65535; or
//!                                     # dns:///host:port (every A/AAAA address)
//!     balancing: p2c_peak_ewma  # or least_request, round_robin
//!     panic_threshold: 50     # percent, 0..=100
//!     health_check:           # absent = no active checks; {} = defaults
//!       interval: 5s
//!       timeout: 1s
//!       healthy_threshold: 1  # 1..=100
//!       unhealthy_threshold: 2  # 1..=100
//!       service: ""
//!     outlier_detection:
//!       consecutive_failures: 5  # 0 disables
//!       base_ejection_time: 5s
//!       max_ejection_time: 2m  # >= base_ejection_time
//!     retries:
//!       budget_percent: 20    # 0..=100, 0 disables
//!       min_per_second: 10
//!     descriptor_set: api.pb  # serialized FileDescriptorSet; OR (not both):
//!     protos:                 # .proto files compiled at load time
//!       files: [proto/library.proto]  # >= 1; must lie under an include path
//!       include_paths: [proto]        # default: the config file's directory
//!     services:
//!       include: ["example.*"]        # only these services are exposed (`*` globs)
//!       exclude: ["example.Internal"] # never exposed
//!     timeout: 10s            # default call deadline, > 0; absent = none
//!     refresh: 30s            # re-discovery interval, > 0, or `off`; default 30s
//!     tls: {ca: ca.pem, cert: c.pem, key: c.key, server_name: x}  # {} = system roots
//!     auth: {jwt: corp, exempt: ["pkg.Svc/Login"]}  # provider name; open method globs
//!     rate_limit: {per_second: 10, burst: 20, key: client_ip}  # | header NAME | claim NAME
//!     max_concurrent_requests: 100  # in flight; beyond it 503 at once
//!     grpc_compression: gzip  # or identity (default): request messages
//!     json:                   # defaults: see JsonOptions::default()
//!       emit_unpopulated: true
//!       strict: false
//!       use_proto_names: false
//!       enums_as_ints: false
//!     http_rules:             # google.api.HttpRule per method, for un-annotated protos
//!       - selector: helloworld.Greeter.SayHello   # package.Service.Method, required
//!         get: /v1/hello/{name}   # exactly one of get/put/post/delete/patch/custom
//!         body: ""                # "", "*" or a request field; default ""
//!         response_body: ""       # "" or a response field; default ""
//!         additional_bindings:    # same keys minus selector; one level only
//!           - post: /v1/hello
//!             body: "*"
//!           - custom: {kind: HEAD, path: /v1/hello/{name}}
//! ```
//!
//! A method with at least one entry in `http_rules` is routed by those entries
//! instead of its `google.api.http` annotation (grpc-gateway would add both).
//!
//! With neither `descriptor_set` nor `protos`, descriptors come from gRPC reflection.
//! Relative paths resolve against [`Config::base_dir`] of the config file; the stored
//! paths are the joined ones (not canonicalized, and not checked for existence here:
//! loading stays free of IO beyond reading the file itself).
//!
//! Durations are one number and a unit: `250ms`, `1.5s`, `1m`, `1h`.
//!
//! # Locations
//!
//! Parsing goes through private `Raw*` structs whose interesting fields are wrapped in
//! [`serde_saphyr::Spanned`], which records the line and column of each YAML node.
//! Syntax and type errors come from serde-saphyr with its own location (serde stops at
//! the first one); semantic checks then run over the raw tree, collecting every problem,
//! each pointing at the node it is about.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use crate::{Config, ConfigError};
use raw::RawConfig;
use report::yaml_error;
use validator::Validator;

mod code;
mod cors;
mod edge;
mod http;
mod observability;
mod raw;
mod recover;
mod report;
mod runtime;
#[cfg(test)]
mod tests;
mod traffic;
mod validate;
mod validator;
mod values;

pub use code::IN_CODE;

const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);
const DEFAULT_ADMIN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9901);
const DEFAULT_MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;
const DEFAULT_MAX_METADATA_BYTES: u64 = 8 * 1024;
const DEFAULT_DISCOVERY_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_RELOAD_DEBOUNCE: Duration = Duration::from_millis(200);

/// Reads and validates a config file. All problems found are returned, not just the first.
pub fn load_file(path: &Path) -> Result<Config, Vec<ConfigError>> {
    parse_bytes(&read_file(path)?, path)
}

/// Reads a config file's bytes, as a [`ConfigError`] on failure. The reload loop
/// reads once and both hashes and parses what it read.
pub fn read_file(path: &Path) -> Result<Vec<u8>, Vec<ConfigError>> {
    std::fs::read(path).map_err(|e| {
        vec![ConfigError {
            file: path.to_path_buf(),
            line: None,
            column: None,
            message: format!("cannot read config: {e}"),
        }]
    })
}

/// Parses and validates a config file's bytes; invalid UTF-8 is reported at the
/// first bad byte.
pub fn parse_bytes(bytes: &[u8], path: &Path) -> Result<Config, Vec<ConfigError>> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_str(text, path),
        Err(e) => {
            // Point at the first bad byte so the user can find it.
            let good = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            let line = good.matches('\n').count() + 1;
            let column = good.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
            Err(vec![ConfigError {
                file: path.to_path_buf(),
                line: Some(line),
                column: Some(column),
                message: "config is not valid UTF-8".into(),
            }])
        }
    }
}

/// Parses and validates YAML text; `file` is only used to label errors and resolve
/// relative paths.
pub fn parse_str(text: &str, file: &Path) -> Result<Config, Vec<ConfigError>> {
    // Every unknown key and mistyped value, not just serde's first (see `recover`).
    let (raw, mut errors) = recover::parse::<RawConfig>(text, file);
    let Some(raw) = raw else { return Err(errors) };
    let mut v = Validator {
        file: file.to_path_buf(),
        base: Config::base_dir(file),
        errors: Vec::new(),
        jwt_names: Vec::new(),
    };
    let config = v.config(raw);
    errors.append(&mut v.errors);
    if errors.is_empty() {
        Ok(config)
    } else {
        // In reading order, whichever pass found them.
        errors.sort_by_key(|e| (e.line.unwrap_or(0), e.column.unwrap_or(0)));
        Err(errors)
    }
}

/// Parsing helpers shared by the unit tests of the `load/*` modules.
#[cfg(test)]
mod test_support {
    use std::path::Path;

    use crate::{Config, ConfigError};

    pub(super) fn parse(yaml: &str) -> Result<Config, Vec<ConfigError>> {
        crate::parse_str(yaml, Path::new("/etc/sb.yaml"))
    }

    /// The rendered errors (`file:line:column: message`).
    pub(super) fn errors(yaml: &str) -> Vec<String> {
        parse(yaml)
            .expect_err("config should be rejected")
            .iter()
            .map(ConfigError::render)
            .collect()
    }
}
