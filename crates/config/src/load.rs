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
//! discovery:
//!   timeout: 5s               # per-backend discovery timeout, > 0, default 5s
//! reload:
//!   debounce: 200ms           # file-watch debounce, default 200ms (0 allowed)
//! upstream:                   # read at startup (see the `traffic` submodule)
//!   connect_timeout: 2s       # > 0, default 2s
//!   keepalive_interval: 30s   # HTTP/2 PING interval, > 0, default 30s
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

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::{Location, MessageFormatter, Spanned};

use crate::{
    Backend, Config, ConfigError, DescriptorSource, HttpBinding, HttpRule, JsonOptions,
    ServiceFilter,
};

mod cors;
mod traffic;

const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);
const DEFAULT_ADMIN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9901);
const DEFAULT_MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;
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
    let raw: RawConfig = serde_saphyr::from_str(text).map_err(|e| vec![yaml_error(&e, file)])?;
    let mut v = Validator {
        file: file.to_path_buf(),
        base: Config::base_dir(file),
        errors: Vec::new(),
    };
    let config = v.config(raw);
    if v.errors.is_empty() {
        Ok(config)
    } else {
        Err(v.errors)
    }
}

// ---------------------------------------------------------------------------------
// Raw structs: the YAML shape, with locations. Everything is optional here so that
// missing required keys are reported by the validator, pointing at the enclosing node
// and alongside every other problem, rather than as serde's single first error.
// ---------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<Spanned<String>>,
    admin: Option<Spanned<String>>,
    limits: Option<RawLimits>,
    discovery: Option<RawDiscovery>,
    reload: Option<RawReload>,
    upstream: Option<traffic::RawUpstream>,
    shutdown: Option<traffic::RawShutdown>,
    backends: Option<Vec<Spanned<RawBackend>>>,
    cors: Option<Spanned<cors::RawCors>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_body_bytes: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDiscovery {
    timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReload {
    debounce: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackend {
    name: Option<Spanned<String>>,
    endpoints: Option<Spanned<Vec<Spanned<String>>>>,
    descriptor_set: Option<Spanned<String>>,
    protos: Option<Spanned<RawProtos>>,
    services: Option<RawServices>,
    timeout: Option<Spanned<String>>,
    json: Option<RawJson>,
    http_rules: Option<Vec<Spanned<RawHttpRule>>>,
    balancing: Option<Spanned<String>>,
    panic_threshold: Option<Spanned<u64>>,
    health_check: Option<traffic::RawHealthCheck>,
    outlier_detection: Option<traffic::RawOutlier>,
    retries: Option<traffic::RawRetries>,
}

/// One `google.api.HttpRule`, in the shape of grpc-gateway's
/// `grpc_api_configuration` YAML (`http.rules[]`). The same struct serves the
/// rule and its additional bindings; the validator rejects `selector` and
/// `additional_bindings` inside an additional binding.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpRule {
    selector: Option<Spanned<String>>,
    get: Option<Spanned<String>>,
    put: Option<Spanned<String>>,
    post: Option<Spanned<String>>,
    delete: Option<Spanned<String>>,
    patch: Option<Spanned<String>>,
    custom: Option<Spanned<RawCustomPattern>>,
    body: Option<String>,
    response_body: Option<String>,
    additional_bindings: Option<Spanned<Vec<Spanned<RawHttpRule>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustomPattern {
    kind: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProtos {
    files: Option<Spanned<Vec<Spanned<String>>>>,
    include_paths: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServices {
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJson {
    emit_unpopulated: Option<bool>,
    strict: Option<bool>,
    use_proto_names: Option<bool>,
    enums_as_ints: Option<bool>,
}

// ---------------------------------------------------------------------------------
// Validation: raw tree -> public model, collecting every error.
// ---------------------------------------------------------------------------------

struct Validator {
    file: PathBuf,
    base: PathBuf,
    errors: Vec<ConfigError>,
}

impl Validator {
    fn error(&mut self, at: &Location, message: impl Into<String>) {
        self.errors
            .push(located(&self.file, Some(at), message.into()));
    }

    fn config(&mut self, raw: RawConfig) -> Config {
        let listen = self.socket_addr("listen", raw.listen, DEFAULT_LISTEN);
        let admin = self.socket_addr("admin", raw.admin, DEFAULT_ADMIN);

        let max_body_bytes = match raw.limits.and_then(|l| l.max_body_bytes) {
            None => DEFAULT_MAX_BODY_BYTES as usize,
            Some(n) if n.value == 0 => {
                self.error(
                    &n.referenced,
                    "limits.max_body_bytes must be greater than 0",
                );
                0
            }
            Some(n) => usize::try_from(n.value).unwrap_or(usize::MAX),
        };

        let discovery_timeout = raw.discovery.and_then(|d| d.timeout);
        let discovery_timeout = self
            .duration("discovery.timeout", discovery_timeout.as_ref(), false)
            .unwrap_or(DEFAULT_DISCOVERY_TIMEOUT);
        let reload_debounce = raw.reload.and_then(|r| r.debounce);
        let reload_debounce = self
            .duration("reload.debounce", reload_debounce.as_ref(), true)
            .unwrap_or(DEFAULT_RELOAD_DEBOUNCE);

        let upstream = self.upstream_settings(raw.upstream);
        let shutdown = self.shutdown(raw.shutdown);

        let mut seen: HashMap<String, Location> = HashMap::new();
        let mut backends = Vec::new();
        for raw in raw.backends.unwrap_or_default() {
            // Empty names are reported by `backend`; a second "empty" error adds nothing.
            if let Some(name) = raw.value.name.as_ref().filter(|n| !n.value.is_empty()) {
                if let Some(first) = seen.get(&name.value) {
                    let msg = format!(
                        "duplicate backend name `{}` (first defined at line {})",
                        name.value,
                        first.line()
                    );
                    self.error(&name.referenced, msg);
                } else {
                    seen.insert(name.value.clone(), name.referenced);
                }
            }
            backends.push(self.backend(raw));
        }

        let cors = self.cors(raw.cors);

        Config {
            listen,
            admin,
            max_body_bytes,
            discovery_timeout,
            reload_debounce,
            upstream,
            shutdown,
            backends,
            cors,
        }
    }

    /// Listener addresses must be IP literals: binding happens before any DNS is
    /// available to us, and `localhost` is ambiguous between IPv4 and IPv6.
    fn socket_addr(
        &mut self,
        key: &str,
        raw: Option<Spanned<String>>,
        default: SocketAddr,
    ) -> SocketAddr {
        let Some(raw) = raw else { return default };
        match raw.value.trim().parse::<SocketAddr>() {
            Ok(addr) if addr.port() == 0 => {
                self.error(
                    &raw.referenced,
                    format!(
                        "invalid {key} address `{}`: port must be 1..=65535",
                        raw.value
                    ),
                );
                default
            }
            Ok(addr) => addr,
            Err(_) => {
                let msg = format!(
                    "invalid {key} address `{}`: expected ip:port such as `{default}` (IPv6 as `[::1]:8080`)",
                    raw.value
                );
                self.error(&raw.referenced, msg);
                default
            }
        }
    }

    /// Parses an optional duration, reporting bad ones. `None` if absent or invalid.
    fn duration(
        &mut self,
        key: &str,
        raw: Option<&Spanned<String>>,
        allow_zero: bool,
    ) -> Option<Duration> {
        let raw = raw?;
        match parse_duration(&raw.value) {
            Ok(d) if d.is_zero() && !allow_zero => {
                self.error(&raw.referenced, format!("{key} must be greater than 0"));
                None
            }
            Ok(d) => Some(d),
            Err(why) => {
                self.error(
                    &raw.referenced,
                    format!("invalid {key} `{}`: {why}", raw.value),
                );
                None
            }
        }
    }

    fn backend(&mut self, raw: Spanned<RawBackend>) -> Backend {
        let at = raw.referenced;
        let raw = raw.value;

        let name = match raw.name {
            None => {
                self.error(&at, "backend is missing required key `name`");
                String::new()
            }
            Some(n) => {
                if n.value.is_empty() {
                    self.error(&n.referenced, "backend name must not be empty");
                } else if let Some(c) = n.value.chars().find(|c| !is_name_char(*c)) {
                    let msg = format!(
                        "invalid backend name `{}`: character {c:?} is not allowed (use A-Z a-z 0-9 _ . -)",
                        n.value
                    );
                    self.error(&n.referenced, msg);
                }
                n.value
            }
        };
        // Prefix messages with the backend so errors read well in a long list.
        let who = if name.is_empty() {
            "backend".to_string()
        } else {
            format!("backend `{name}`")
        };

        let mut endpoints = Vec::new();
        match raw.endpoints {
            None => self.error(&at, format!("{who} is missing required key `endpoints`")),
            Some(list) if list.value.is_empty() => {
                self.error(
                    &list.referenced,
                    format!("{who}: endpoints must list at least one host:port"),
                );
            }
            Some(list) => {
                for ep in list.value {
                    if let Err(why) = check_endpoint(&ep.value) {
                        self.error(
                            &ep.referenced,
                            format!("{who}: invalid endpoint `{}`: {why}", ep.value),
                        );
                    }
                    endpoints.push(ep.value);
                }
            }
        }

        let descriptors = match (raw.descriptor_set, raw.protos) {
            (Some(set), Some(protos)) => {
                // Point at whichever comes second: that is the one that conflicts.
                let later = if pos(&protos.referenced) > pos(&set.referenced) {
                    protos.referenced
                } else {
                    set.referenced
                };
                self.error(
                    &later,
                    format!("{who}: give at most one of `descriptor_set` and `protos`"),
                );
                DescriptorSource::Reflection
            }
            (Some(set), None) => {
                if set.value.trim().is_empty() {
                    self.error(
                        &set.referenced,
                        format!("{who}: descriptor_set must not be empty"),
                    );
                }
                DescriptorSource::DescriptorSet(self.base.join(&set.value))
            }
            (None, Some(protos)) => self.protos(&who, protos),
            (None, None) => DescriptorSource::Reflection,
        };

        let services = raw
            .services
            .map_or_else(ServiceFilter::default, |s| ServiceFilter {
                include: s.include.unwrap_or_default(),
                exclude: s.exclude.unwrap_or_default(),
            });

        let timeout = self.duration(&format!("{who}: timeout"), raw.timeout.as_ref(), false);

        let d = JsonOptions::default();
        let json = raw.json.map_or(d, |j| JsonOptions {
            emit_unpopulated: j.emit_unpopulated.unwrap_or(d.emit_unpopulated),
            strict: j.strict.unwrap_or(d.strict),
            use_proto_names: j.use_proto_names.unwrap_or(d.use_proto_names),
            enums_as_ints: j.enums_as_ints.unwrap_or(d.enums_as_ints),
        });

        let mut http_rules = Vec::new();
        for (i, rule) in raw.http_rules.unwrap_or_default().into_iter().enumerate() {
            let what = format!("{who}: http_rules[{i}]");
            if let Some(rule) = self.http_rule(&what, rule) {
                http_rules.push(rule);
            }
        }

        let traffic = self.traffic(
            &who,
            traffic::RawTraffic {
                balancing: raw.balancing,
                panic_threshold: raw.panic_threshold,
                health_check: raw.health_check,
                outlier_detection: raw.outlier_detection,
                retries: raw.retries,
            },
        );

        Backend {
            name,
            endpoints,
            descriptors,
            services,
            timeout,
            json,
            http_rules,
            traffic,
        }
    }

    /// Validates one configured HTTP rule: a well-formed selector, exactly one
    /// pattern per binding, additional bindings one level deep. Templates and field
    /// names are checked later, against the backend's descriptors, by the route
    /// stage (which reports them as route errors). `None` if anything is wrong.
    fn http_rule(&mut self, what: &str, raw: Spanned<RawHttpRule>) -> Option<HttpRule> {
        let at = raw.referenced;
        let mut rule = raw.value;
        let errors_before = self.errors.len();
        let selector = match rule.selector.take() {
            None => {
                self.error(&at, format!("{what} is missing required key `selector`"));
                String::new()
            }
            Some(s) => {
                let name = s.value.trim().strip_prefix('.').unwrap_or(s.value.trim());
                if !is_method_selector(name) {
                    self.error(
                        &s.referenced,
                        format!(
                            "{what}: invalid selector `{}`: expected one method as `package.Service.Method` (no wildcards)",
                            s.value
                        ),
                    );
                }
                name.to_owned()
            }
        };
        let extra = rule.additional_bindings.take();
        let binding = self.http_binding(what, at, rule);
        let mut additional_bindings = Vec::new();
        for (j, extra) in extra
            .map(|e| e.value)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let what = format!("{what}.additional_bindings[{j}]");
            let at = extra.referenced;
            let mut extra = extra.value;
            if let Some(s) = extra.selector.take() {
                self.error(
                    &s.referenced,
                    format!("{what}: `selector` is only allowed on the rule itself"),
                );
            }
            if let Some(nested) = extra.additional_bindings.take() {
                self.error(
                    &nested.referenced,
                    format!("{what}: additional_bindings cannot be nested"),
                );
            }
            if let Some(b) = self.http_binding(&what, at, extra) {
                additional_bindings.push(b);
            }
        }
        let binding = binding?;
        (self.errors.len() == errors_before).then_some(HttpRule {
            selector,
            binding,
            additional_bindings,
        })
    }

    /// One binding's pattern (exactly one of get/put/post/delete/patch/custom),
    /// body and response_body.
    fn http_binding(&mut self, what: &str, at: Location, raw: RawHttpRule) -> Option<HttpBinding> {
        let simple = [
            ("GET", raw.get),
            ("PUT", raw.put),
            ("POST", raw.post),
            ("DELETE", raw.delete),
            ("PATCH", raw.patch),
        ];
        let mut patterns: Vec<(Location, String, Option<Spanned<String>>)> = simple
            .into_iter()
            .filter_map(|(m, p)| p.map(|p| (p.referenced, m.to_owned(), Some(p))))
            .collect();
        if let Some(custom) = raw.custom {
            let kind = match custom.value.kind {
                Some(k) if is_http_token(&k.value) => k.value,
                Some(k) => {
                    self.error(
                        &k.referenced,
                        format!("{what}: custom.kind `{}` is not an HTTP method", k.value),
                    );
                    String::new()
                }
                None => {
                    self.error(
                        &custom.referenced,
                        format!("{what}: custom is missing required key `kind`"),
                    );
                    String::new()
                }
            };
            if custom.value.path.is_none() {
                self.error(
                    &custom.referenced,
                    format!("{what}: custom is missing required key `path`"),
                );
            }
            patterns.push((custom.referenced, kind, custom.value.path));
        }
        patterns.sort_by_key(|(l, _, _)| pos(l));
        if patterns.len() > 1 {
            self.error(
                &patterns[1].0,
                format!(
                    "{what}: give exactly one of `get`, `put`, `post`, `delete`, `patch` and `custom`"
                ),
            );
            return None;
        }
        let Some((_, method, path)) = patterns.pop() else {
            self.error(
                &at,
                format!(
                    "{what} has no pattern: give one of `get`, `put`, `post`, `delete`, `patch` or `custom`"
                ),
            );
            return None;
        };
        let path = path?;
        if !path.value.starts_with('/') {
            self.error(
                &path.referenced,
                format!("{what}: path `{}` must start with `/`", path.value),
            );
            return None;
        }
        Some(HttpBinding {
            method,
            path: path.value,
            body: raw.body.unwrap_or_default(),
            response_body: raw.response_body.unwrap_or_default(),
        })
    }

    fn protos(&mut self, who: &str, protos: Spanned<RawProtos>) -> DescriptorSource {
        let mut files = Vec::new();
        match protos.value.files {
            Some(list) if !list.value.is_empty() => {
                for f in list.value {
                    if f.value.trim().is_empty() {
                        self.error(
                            &f.referenced,
                            format!("{who}: protos.files entries must not be empty"),
                        );
                    }
                    files.push(self.base.join(&f.value));
                }
            }
            Some(list) => self.error(
                &list.referenced,
                format!("{who}: protos.files must list at least one .proto file"),
            ),
            None => self.error(
                &protos.referenced,
                format!("{who}: protos.files must list at least one .proto file"),
            ),
        }
        let include_paths = match protos.value.include_paths {
            Some(list) if !list.is_empty() => {
                list.iter().map(|p| self.base.join(&p.value)).collect()
            }
            _ => vec![self.base.clone()],
        };
        DescriptorSource::Protos {
            files,
            include_paths,
        }
    }
}

/// `package.Service.Method`: at least two dot-separated protobuf identifiers.
fn is_method_selector(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            let b = p.as_bytes();
            !b.is_empty()
                && (b[0].is_ascii_alphabetic() || b[0] == b'_')
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        })
}

/// An RFC 9110 token, what an HTTP method must be.
fn is_http_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

fn pos(l: &Location) -> (u64, u64) {
    (l.line(), l.column())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Checks `host:port`, where host is a DNS name, an IPv4 address or a bracketed IPv6
/// address, or `dns:///host:port` (gRPC's name syntax: every address the name
/// resolves to). Returns why not, phrased to complete "invalid endpoint `x`: ...".
fn check_endpoint(ep: &str) -> Result<(), String> {
    if let Some(rest) = ep.strip_prefix("dns:///") {
        if rest.contains("://") {
            return Err("expected dns:///host:port".into());
        }
        return check_endpoint(rest);
    }
    if ep.starts_with("dns:") {
        return Err(
            "expected dns:///host:port (three slashes: the DNS server part is empty)".into(),
        );
    }
    if ep.contains("://") {
        return Err("expected host:port without a scheme, or dns:///host:port".into());
    }
    let (host, port) = if let Some(rest) = ep.strip_prefix('[') {
        let (v6, rest) = rest
            .split_once(']')
            .ok_or("missing `]` after IPv6 address")?;
        v6.parse::<Ipv6Addr>()
            .map_err(|_| format!("`{v6}` is not an IPv6 address"))?;
        let port = rest.strip_prefix(':').ok_or("missing `:port`")?;
        (None, port)
    } else {
        let (host, port) = ep.rsplit_once(':').ok_or("missing `:port`")?;
        if host.contains(':') {
            return Err("IPv6 addresses must be written in brackets, e.g. `[::1]:50051`".into());
        }
        (Some(host), port)
    };
    if let Some(host) = host {
        check_host(host)?;
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("port `{port}` is not a number in 1..=65535")),
    }
}

fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("empty host".into());
    }
    let labels: Vec<&str> = host.split('.').collect();
    // All-numeric dotted hosts are meant as IPv4, so hold them to that.
    if labels
        .iter()
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return host
            .parse::<Ipv4Addr>()
            .map(|_| ())
            .map_err(|_| format!("`{host}` is not a valid IPv4 address"));
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.len() > 253 || !labels.iter().all(label_ok) {
        return Err(format!("`{host}` is not a valid hostname"));
    }
    Ok(())
}

/// Parses `<number><unit>` with unit `ms`, `s`, `m` or `h` and an optional fraction
/// (`1.5s`). Deliberately strict: a bare number has no obvious unit, so it is an error.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_nanos: u128 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3600 * 1_000_000_000,
        "" => return Err("missing unit (use ms, s, m or h, e.g. `5s`)".into()),
        _ => {
            return Err(format!(
                "unknown unit `{unit}` (use ms, s, m or h, e.g. `5s`)"
            ));
        }
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (number.contains('.') && !digits(frac)) {
        return Err("expected a number followed by a unit, e.g. `250ms` or `1.5s`".into());
    }
    let too_big = || "duration is too large".to_string();
    let whole: u128 = whole.parse().map_err(|_| too_big())?;
    // Nanosecond precision is plenty: ignore fraction digits beyond the ninth.
    let frac = &frac[..frac.len().min(9)];
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| too_big())?
    };
    let frac_nanos = frac_value * unit_nanos / 10u128.pow(frac.len() as u32);
    let nanos = whole
        .checked_mul(unit_nanos)
        .and_then(|n| n.checked_add(frac_nanos))
        .ok_or_else(too_big)?;
    let nanos = u64::try_from(nanos).map_err(|_| too_big())?;
    Ok(Duration::from_nanos(nanos))
}

// ---------------------------------------------------------------------------------
// serde-saphyr errors -> ConfigError
// ---------------------------------------------------------------------------------

fn located(file: &Path, at: Option<&Location>, message: String) -> ConfigError {
    // serde-saphyr uses line 0 for "unknown".
    let at = at.filter(|l| l.line() > 0);
    ConfigError {
        file: file.to_path_buf(),
        line: at.map(|l| l.line() as usize),
        column: at.map(|l| l.column() as usize),
        message,
    }
}

fn yaml_error(err: &serde_saphyr::Error, file: &Path) -> ConfigError {
    located(file, err.location().as_ref(), yaml_message(err))
}

/// Rewords the errors users actually hit; anything else keeps serde-saphyr's wording
/// (without its location suffix and snippet, since we render our own location).
fn yaml_message(err: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    match err.without_snippet() {
        E::AliasError { error, .. } => yaml_message(error),
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            let mut msg = format!("unknown key `{field}`");
            if let Some(near) = did_you_mean(field, expected) {
                msg += &format!(" (did you mean `{near}`?)");
            }
            msg + &format!("; allowed keys here: {}", expected.join(", "))
        }
        E::SerdeMissingField { field, .. } => format!("missing required key `{field}`"),
        E::DuplicateMappingKey { key: Some(k), .. } => format!("duplicate key `{k}`"),
        E::Unexpected { expected, .. } => match *expected {
            "mapping start" => "expected a mapping (`key: value` pairs)".into(),
            "sequence start" => "expected a list".into(),
            "string scalar" => "expected a string".into(),
            other => format!("expected {other}"),
        },
        E::InvalidScalar { ty, .. } => match *ty {
            "u64" | "usize" => "expected a whole number of bytes (0 to 2^64-1)".into(),
            "bool" | "boolean" => "expected `true` or `false`".into(),
            other => format!("invalid value, expected {other}"),
        },
        E::NullIntoString { .. } => "expected a string, found nothing (null)".into(),
        other => serde_saphyr::DefaultMessageFormatter
            .format_message(other)
            .into_owned(),
    }
}

/// The allowed key closest to `typo`, if it is plausibly a typo or a truncation.
fn did_you_mean<'a>(typo: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|&k| {
            let truncated = typo.len() >= 3 && k.starts_with(typo);
            (if truncated { 0 } else { edit_distance(typo, k) }, k)
        })
        .filter(|&(d, k)| d <= 2.max(k.len() / 4))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = (prev + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = cur;
        }
    }
    row[b.len()]
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

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/etc/switchboard/config.yaml";

    fn parse(yaml: &str) -> Result<Config, Vec<ConfigError>> {
        parse_str(yaml, Path::new(FILE))
    }

    fn ok(yaml: &str) -> Config {
        match parse(yaml) {
            Ok(c) => c,
            Err(errs) => panic!("unexpected errors: {errs:#?}"),
        }
    }

    /// Every error as `(line, column, message)`.
    fn errors(yaml: &str) -> Vec<(usize, usize, String)> {
        let errs = parse(yaml).expect_err("config should be rejected");
        errs.into_iter()
            .map(|e| (e.line.unwrap_or(0), e.column.unwrap_or(0), e.message))
            .collect()
    }

    /// The single error, asserting its position and that its message contains `needle`.
    #[track_caller]
    fn assert_error(yaml: &str, line: usize, column: usize, needle: &str) {
        let errs = errors(yaml);
        assert_eq!(errs.len(), 1, "expected exactly one error, got {errs:#?}");
        let (l, c, msg) = &errs[0];
        assert_eq!((*l, *c), (line, column), "wrong position for {msg:?}");
        assert!(msg.contains(needle), "{msg:?} does not contain {needle:?}");
    }

    #[test]
    fn empty_file_gives_defaults() {
        for yaml in ["", "# nothing here\n", "backends: []\n", "backends:\n"] {
            let c = ok(yaml);
            assert_eq!(c.listen, "0.0.0.0:8080".parse().unwrap());
            assert_eq!(c.admin, "127.0.0.1:9901".parse().unwrap());
            assert_eq!(c.max_body_bytes, 4 * 1024 * 1024);
            assert_eq!(c.discovery_timeout, Duration::from_secs(5));
            assert_eq!(c.reload_debounce, Duration::from_millis(200));
            assert!(c.backends.is_empty());
        }
    }

    #[test]
    fn backend_defaults() {
        let c = ok("backends:\n  - name: a\n    endpoints: [\"h:1\"]\n");
        let b = &c.backends[0];
        assert_eq!(b.name, "a");
        assert_eq!(b.endpoints, ["h:1"]);
        assert_eq!(b.descriptors, DescriptorSource::Reflection);
        assert_eq!(b.services, ServiceFilter::default());
        assert_eq!(b.timeout, None);
        assert_eq!(b.json, JsonOptions::default());
    }

    #[test]
    fn every_key() {
        let c = ok(r#"
listen: "[::]:80"
admin: 127.0.0.1:9000
limits:
  max_body_bytes: 1024
discovery:
  timeout: 1.5s
reload:
  debounce: 0ms
backends:
  - name: greeter.v1_x-y
    endpoints: ["a.example.com:1", "10.1.2.3:65535", "[fe80::1]:443"]
    descriptor_set: sets/api.pb
    services:
      include: ["acme.*"]
      exclude: ["acme.Internal"]
    timeout: 2m
    json:
      emit_unpopulated: false
      strict: true
      use_proto_names: true
      enums_as_ints: true
  - name: lib
    endpoints: [lib:50051]
    protos:
      files: [proto/a.proto, /abs/b.proto]
      include_paths: [proto, /usr/include]
"#);
        assert_eq!(c.listen, "[::]:80".parse().unwrap());
        assert_eq!(c.admin, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(c.max_body_bytes, 1024);
        assert_eq!(c.discovery_timeout, Duration::from_millis(1500));
        assert_eq!(c.reload_debounce, Duration::ZERO);
        let b = &c.backends[0];
        assert_eq!(b.name, "greeter.v1_x-y");
        assert_eq!(
            b.endpoints,
            ["a.example.com:1", "10.1.2.3:65535", "[fe80::1]:443"]
        );
        assert_eq!(
            b.descriptors,
            DescriptorSource::DescriptorSet("/etc/switchboard/sets/api.pb".into())
        );
        assert_eq!(b.services.include, ["acme.*"]);
        assert_eq!(b.services.exclude, ["acme.Internal"]);
        assert_eq!(b.timeout, Some(Duration::from_secs(120)));
        assert_eq!(
            b.json,
            JsonOptions {
                emit_unpopulated: false,
                strict: true,
                use_proto_names: true,
                enums_as_ints: true
            }
        );
        assert_eq!(
            c.backends[1].descriptors,
            DescriptorSource::Protos {
                files: vec![
                    "/etc/switchboard/proto/a.proto".into(),
                    "/abs/b.proto".into()
                ],
                include_paths: vec!["/etc/switchboard/proto".into(), "/usr/include".into()],
            }
        );
    }

    #[test]
    fn example_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/switchboard.yaml");
        let c = load_file(&path).unwrap_or_else(|e| panic!("{e:#?}"));
        let names: Vec<_> = c.backends.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["greeter", "billing", "library"]);
        let base = Config::base_dir(&path);
        assert_eq!(
            c.backends[1].descriptors,
            DescriptorSource::DescriptorSet(base.join("./api.pb"))
        );
    }

    #[test]
    fn relative_paths_resolve_against_config_dir() {
        let yaml =
            "backends:\n  - name: a\n    endpoints: [h:1]\n    protos:\n      files: [x.proto]\n";
        let c = parse_str(yaml, Path::new("conf/sb.yaml")).unwrap();
        assert_eq!(
            c.backends[0].descriptors,
            DescriptorSource::Protos {
                files: vec!["conf/x.proto".into()],
                include_paths: vec!["conf".into()],
            }
        );
        // A bare file name lives in the current directory.
        let yaml = "backends:\n  - name: a\n    endpoints: [h:1]\n    descriptor_set: api.pb\n";
        let c = parse_str(yaml, Path::new("sb.yaml")).unwrap();
        assert_eq!(
            c.backends[0].descriptors,
            DescriptorSource::DescriptorSet("./api.pb".into())
        );
    }

    #[test]
    fn yaml_syntax_error() {
        assert_error("listen: \"unterminated\nadmin: x\n", 1, 9, "unclosed quote");
        assert_error(
            "backends:\n  - name: a\n   endpoints: [h:1]\n",
            3,
            4,
            "did not find expected '-' indicator",
        );
        assert_error("limits: {max_body_bytes: 1\n", 1, 9, "unclosed bracket");
    }

    #[test]
    fn unknown_key_top_level_suggests() {
        assert_error(
            "listen: 0.0.0.0:1\nlisen: x\n",
            2,
            1,
            "unknown key `lisen` (did you mean `listen`?); allowed keys here: listen, admin, limits, discovery, reload, upstream, shutdown, backends, cors",
        );
    }

    #[test]
    fn unknown_key_nested() {
        let yaml =
            "backends:\n  - name: a\n    endpoints: [h:1]\n    json:\n      emit_defaults: true\n";
        assert_error(
            yaml,
            5,
            7,
            "unknown key `emit_defaults`; allowed keys here: emit_unpopulated, strict, use_proto_names, enums_as_ints",
        );
        assert_error(
            "limits:\n  max_body: 1\n",
            2,
            3,
            "(did you mean `max_body_bytes`?)",
        );
        assert_error(
            "backends:\n  - name: a\n    endpoint: [h:1]\n",
            3,
            5,
            "(did you mean `endpoints`?)",
        );
    }

    #[test]
    fn wrong_types() {
        assert_error(
            "limits:\n  max_body_bytes: lots\n",
            2,
            19,
            "expected a whole number",
        );
        assert_error(
            "limits:\n  max_body_bytes: 99999999999999999999999\n",
            2,
            19,
            "expected a whole number",
        );
        assert_error("backends: 5\n", 1, 11, "expected a list");
        assert_error("listen: [1, 2]\n", 1, 9, "expected a string");
        assert_error("limits: 5\n", 1, 9, "expected a mapping");
        assert_error(
            "backends:\n  - name: a\n    endpoints: [h:1]\n    json: {strict: maybe}\n",
            4,
            20,
            "expected `true` or `false`",
        );
    }

    #[test]
    fn duplicate_yaml_key() {
        assert_error(
            "listen: 0.0.0.0:1\nlisten: 0.0.0.0:2\n",
            2,
            1,
            "duplicate key `listen`",
        );
    }

    #[test]
    fn missing_required_keys() {
        let errs = errors("backends:\n  - timeout: 1s\n");
        assert_eq!(
            errs,
            [
                (2, 5, "backend is missing required key `name`".to_string()),
                (
                    2,
                    5,
                    "backend is missing required key `endpoints`".to_string()
                ),
            ]
        );
        assert_error(
            "backends:\n  - name: x\n",
            2,
            5,
            "backend `x` is missing required key `endpoints`",
        );
    }

    #[test]
    fn duplicate_backend_name_points_at_second() {
        let yaml =
            "backends:\n  - name: a\n    endpoints: [h:1]\n  - name: a\n    endpoints: [h:2]\n";
        assert_error(
            yaml,
            4,
            11,
            "duplicate backend name `a` (first defined at line 2)",
        );
    }

    #[test]
    fn empty_endpoints() {
        assert_error(
            "backends:\n  - name: a\n    endpoints: []\n",
            3,
            16,
            "backend `a`: endpoints must list at least one host:port",
        );
    }

    #[test]
    fn malformed_endpoints() {
        let cases = [
            ("localhost", "missing `:port`"),
            ("localhost:", "port `` is not a number in 1..=65535"),
            ("localhost:0", "port `0` is not a number"),
            ("localhost:65536", "port `65536` is not a number"),
            ("localhost:http", "port `http` is not a number"),
            (":80", "empty host"),
            ("http://h:80", "without a scheme"),
            ("dns://h:80", "three slashes"),
            ("dns:///h", "missing `:port`"),
            ("dns:///bad_host:80", "not a valid hostname"),
            ("::1:80", "must be written in brackets"),
            ("[::1:80", "missing `]`"),
            ("[nope]:80", "`nope` is not an IPv6 address"),
            ("[::1]", "missing `:port`"),
            ("300.1.1.1:80", "not a valid IPv4 address"),
            ("bad_host:80", "not a valid hostname"),
            ("-bad:80", "not a valid hostname"),
            ("a..b:80", "not a valid hostname"),
        ];
        for (ep, needle) in cases {
            let yaml = format!("backends:\n  - name: a\n    endpoints:\n      - \"{ep}\"\n");
            let errs = errors(&yaml);
            assert_eq!(errs.len(), 1, "{ep}: {errs:?}");
            let (l, c, msg) = &errs[0];
            assert_eq!((*l, *c), (4, 9), "{ep}");
            assert!(
                msg.starts_with(&format!("backend `a`: invalid endpoint `{ep}`: ")),
                "{msg}"
            );
            assert!(msg.contains(needle), "{ep}: {msg:?} lacks {needle:?}");
        }
    }

    #[test]
    fn invalid_listen_and_admin() {
        assert_error(
            "listen: localhost:80\n",
            1,
            9,
            "invalid listen address `localhost:80`: expected ip:port",
        );
        assert_error("listen: 0.0.0.0\n", 1, 9, "invalid listen address");
        assert_error(
            "admin: 127.0.0.1:0\n",
            1,
            8,
            "invalid admin address `127.0.0.1:0`: port must be 1..=65535",
        );
    }

    #[test]
    fn descriptor_set_and_protos_conflict() {
        let yaml = "backends:\n  - name: a\n    endpoints: [h:1]\n    descriptor_set: a.pb\n    protos:\n      files: [a.proto]\n";
        assert_error(
            yaml,
            6,
            7,
            "backend `a`: give at most one of `descriptor_set` and `protos`",
        );
    }

    #[test]
    fn empty_protos_files() {
        let base = "backends:\n  - name: a\n    endpoints: [h:1]\n    protos:\n";
        assert_error(
            &format!("{base}      files: []\n"),
            5,
            14,
            "backend `a`: protos.files must list at least one .proto file",
        );
        assert_error(
            &format!("{base}      include_paths: [p]\n"),
            5,
            7,
            "protos.files must list at least one",
        );
    }

    #[test]
    fn bad_backend_names() {
        assert_error(
            "backends:\n  - name: a/b\n    endpoints: [h:1]\n",
            2,
            11,
            "invalid backend name `a/b`: character '/' is not allowed",
        );
        assert_error(
            "backends:\n  - name: \"\"\n    endpoints: [h:1]\n",
            2,
            11,
            "backend name must not be empty",
        );
    }

    #[test]
    fn bad_durations() {
        assert_error(
            "discovery:\n  timeout: 5\n",
            2,
            12,
            "invalid discovery.timeout `5`: missing unit",
        );
        assert_error(
            "discovery:\n  timeout: 0s\n",
            2,
            12,
            "discovery.timeout must be greater than 0",
        );
        assert_error(
            "reload:\n  debounce: soon\n",
            2,
            13,
            "invalid reload.debounce `soon`",
        );
        assert_error(
            "backends:\n  - name: a\n    endpoints: [h:1]\n    timeout: 0ms\n",
            4,
            14,
            "backend `a`: timeout must be greater than 0",
        );
        assert_error(
            "limits:\n  max_body_bytes: 0\n",
            2,
            19,
            "limits.max_body_bytes must be greater than 0",
        );
    }

    #[test]
    fn duration_parser() {
        let ok = [
            ("250ms", Duration::from_millis(250)),
            ("5s", Duration::from_secs(5)),
            ("1.5s", Duration::from_millis(1500)),
            ("1m", Duration::from_secs(60)),
            ("1h", Duration::from_secs(3600)),
            ("0.25h", Duration::from_secs(900)),
            ("0ms", Duration::ZERO),
            ("1.0000000001s", Duration::from_secs(1)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        for bad in [
            "",
            "s",
            "5",
            "5 s",
            "-1s",
            "1.s",
            ".5s",
            "1.2.3s",
            "5d",
            "5sec",
            "1e3s",
            "99999999999999999999999999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn collects_all_semantic_errors() {
        let yaml = "\
listen: nope
backends:
  - name: a
    endpoints: [h]
    timeout: 3
  - name: a
    endpoints: []
";
        let got: Vec<_> = errors(yaml).into_iter().map(|(l, c, _)| (l, c)).collect();
        assert_eq!(got, [(1, 9), (4, 17), (5, 14), (6, 11), (7, 16)]);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let deep = "[".repeat(10_000);
        let deep_map: String = (0..2_000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect();
        let inputs = [
            "[]",
            "42",
            "just a string",
            "~",
            "---\n---\n",
            "\tlisten: 0.0.0.0:1\n",
            "listen:\t0.0.0.0:1\n",
            "\u{0}\u{1}\u{fffd}garbage: [",
            "limits: {max_body_bytes: 1e999}",
            "limits: {max_body_bytes: -1}",
            "backends: [{name: a, endpoints: [\"h:99999999999999999999999\"]}]",
            "backends: [{name: a, endpoints: [h:1], timeout: 99999999999999999999999999h}]",
            "a: &a [*a]",
            "backends: *nope",
            "? [a]\n: b\n",
            deep.as_str(),
            deep_map.as_str(),
        ];
        for input in inputs {
            // Only the absence of a panic matters; most of these are errors.
            let _ = parse(input);
        }
        assert!(parse("[]").is_err());
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn http_rules_parse() {
        let c = ok(r#"
backends:
  - name: greeter
    endpoints: [h:1]
    http_rules:
      - selector: helloworld.Greeter.SayHello
        get: "/v1/hello/{name}"
        additional_bindings:
          - post: /v1/hello
            body: "*"
            response_body: message
          - custom: {kind: HEAD, path: "/v1/hello/{name}"}
      - selector: .helloworld.Greeter.SayHelloStream
        patch: /v1/stream
        body: name
"#);
        let rules = &c.backends[0].http_rules;
        let binding = |method: &str, path: &str, body: &str, rb: &str| HttpBinding {
            method: method.into(),
            path: path.into(),
            body: body.into(),
            response_body: rb.into(),
        };
        assert_eq!(
            rules,
            &[
                HttpRule {
                    selector: "helloworld.Greeter.SayHello".into(),
                    binding: binding("GET", "/v1/hello/{name}", "", ""),
                    additional_bindings: vec![
                        binding("POST", "/v1/hello", "*", "message"),
                        binding("HEAD", "/v1/hello/{name}", "", ""),
                    ],
                },
                HttpRule {
                    selector: "helloworld.Greeter.SayHelloStream".into(),
                    binding: binding("PATCH", "/v1/stream", "name", ""),
                    additional_bindings: vec![],
                },
            ]
        );
        assert!(
            ok("backends:\n  - name: a\n    endpoints: [h:1]\n").backends[0]
                .http_rules
                .is_empty()
        );
    }

    #[test]
    fn http_rules_errors() {
        let base = "backends:\n  - name: a\n    endpoints: [h:1]\n    http_rules:\n";
        let rule = |body: &str| format!("{base}{body}");
        assert_error(
            &rule("      - get: /x\n"),
            5,
            9,
            "backend `a`: http_rules[0] is missing required key `selector`",
        );
        for bad in ["Greeter", "a.*", "a.b c", "a..b", "a.1b", "a.b,c.d"] {
            assert_error(
                &rule(&format!("      - selector: \"{bad}\"\n        get: /x\n")),
                5,
                19,
                &format!(
                    "http_rules[0]: invalid selector `{bad}`: expected one method as `package.Service.Method`"
                ),
            );
        }
        assert_error(
            &rule("      - selector: a.B.C\n"),
            5,
            9,
            "http_rules[0] has no pattern: give one of `get`",
        );
        assert_error(
            &rule("      - selector: a.B.C\n        get: /x\n        post: /y\n"),
            7,
            15,
            "http_rules[0]: give exactly one of `get`, `put`, `post`, `delete`, `patch` and `custom`",
        );
        assert_error(
            &rule("      - selector: a.B.C\n        get: x\n"),
            6,
            14,
            "http_rules[0]: path `x` must start with `/`",
        );
        assert_error(
            &rule("      - selector: a.B.C\n        custom: {kind: \"GE T\", path: /x}\n"),
            6,
            24,
            "custom.kind `GE T` is not an HTTP method",
        );
        assert_error(
            &rule("      - selector: a.B.C\n        custom: {kind: GET}\n"),
            6,
            17,
            "custom is missing required key `path`",
        );
        assert_error(
            &rule(
                "      - selector: a.B.C\n        get: /x\n        additional_bindings:\n          - get: /y\n            additional_bindings: [{get: /z}]\n",
            ),
            9,
            34,
            "http_rules[0].additional_bindings[0]: additional_bindings cannot be nested",
        );
        assert_error(
            &rule(
                "      - selector: a.B.C\n        get: /x\n        additional_bindings:\n          - selector: a.B.D\n            get: /y\n",
            ),
            8,
            23,
            "`selector` is only allowed on the rule itself",
        );
        assert_error(
            &rule("      - selector: a.B.C\n        get: /x\n        bdy: \"*\"\n"),
            7,
            9,
            "unknown key `bdy` (did you mean `body`?)",
        );
    }

    #[test]
    fn render_format() {
        let errs = parse("lisen: x\n").unwrap_err();
        assert!(
            errs[0]
                .render()
                .starts_with("/etc/switchboard/config.yaml:1:1: unknown key `lisen`")
        );
    }

    #[test]
    fn load_file_errors() {
        let errs = load_file(Path::new("/nonexistent/switchboard.yaml")).unwrap_err();
        assert_eq!((errs[0].line, errs[0].column), (None, None));
        assert!(errs[0].message.starts_with("cannot read config"));

        let path = std::env::temp_dir().join(format!("sb-config-test-{}.yaml", std::process::id()));
        std::fs::write(&path, b"listen: 0.0.0.0:1\nadmin: \xff\n").unwrap();
        let errs = load_file(&path).unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert_eq!((errs[0].line, errs[0].column), (Some(2), Some(8)));
        assert_eq!(errs[0].message, "config is not valid UTF-8");
    }
}
