//! The secure-edge part of the model: TLS on the listener and to backends, JWT
//! providers, per-backend authentication, rate and concurrency limits, and the
//! listener's connection limits. Validated by `load::edge`; enforced by the
//! `switchboard-edge` crate.

use std::path::PathBuf;
use std::time::Duration;

/// Everything edge-related at the top level of the config.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Edge {
    /// `tls:` on the public listener; `None` keeps it plaintext (HTTP/1.1 + h2c).
    pub tls: Option<ListenerTls>,
    /// `jwt_providers:`, by name (unique).
    pub jwt_providers: Vec<JwtProvider>,
    /// `limits.max_connections`, `limits.header_read_timeout`, `limits.idle_timeout`.
    pub listener: ListenerLimits,
}

/// Listener TLS (`tls: {cert, key, client_ca}`), PEM files. Paths are resolved
/// against the config file's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerTls {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1) of the leaf certificate.
    pub key: PathBuf,
    /// CA certificates that client certificates must chain to. Present means
    /// mTLS: every client must present a valid certificate.
    pub client_ca: Option<PathBuf>,
}

/// Client-facing connection limits of the public listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Open connections accepted at once; beyond it a new connection is closed
    /// at once (and counted). `None`: unlimited.
    pub max_connections: Option<usize>,
    /// Time a client has to send a request's whole head (HTTP/1.1); also bounds
    /// the TLS handshake. An HTTP/1.1 keep-alive connection waiting for its
    /// next request is closed after it too (hyper starts the clock when it
    /// starts reading a head). Default 30s (hyper's).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed
    /// (gracefully: HTTP/2 GOAWAY). Default 1h, as Envoy.
    pub idle_timeout: Duration,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            max_connections: None,
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(3600),
        }
    }
}

/// TLS to a backend's endpoints (`backends[].tls`). `tls: {}` is TLS with the
/// system's roots and the endpoint's host as the verified name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackendTls {
    /// CA certificates to verify the backend with; `None`: the system roots.
    pub ca: Option<PathBuf>,
    /// A client certificate chain for mTLS (with `key`).
    pub cert: Option<PathBuf>,
    /// The private key of `cert`; required with it.
    pub key: Option<PathBuf>,
    /// SNI and the name verified; `None`: the endpoint's host.
    pub server_name: Option<String>,
}

/// One `jwt_providers[]` entry, as Envoy's jwt_authn provider.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtProvider {
    /// Unique; what `backends[].auth.jwt` names.
    pub name: String,
    /// Required `iss`; `None`: not checked.
    pub issuer: Option<String>,
    /// `aud` must contain one of these; empty: not checked.
    pub audiences: Vec<String>,
    /// Where the verification keys come from.
    pub jwks: JwksSource,
    /// Claim name -> metadata key the claim's value is forwarded as. A client's
    /// own metadata with those keys is always removed first.
    pub forward_claims: Vec<(String, String)>,
    /// Allowed clock skew for `exp` and `nbf`. Default 60s (Envoy's).
    pub leeway: Duration,
    /// Also read the token from this request header (raw, or after `Bearer `).
    pub from_header: Option<String>,
    /// Also read the token from this query parameter.
    pub from_query: Option<String>,
}

/// Where a provider's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS JSON file, re-read when it changes (checked every `refresh`).
    File {
        /// The JWKS file.
        path: PathBuf,
        /// How often its modification stamp is checked.
        refresh: Duration,
    },
    /// An `http://` or `https://` URL, fetched at load and every `refresh`; a
    /// failed refresh keeps the last good keys.
    Url {
        /// The JWKS document's URL.
        url: String,
        /// How often it is fetched again (key rotation).
        refresh: Duration,
    },
}

/// `backends[].auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// The provider (a `jwt_providers[].name`) every call must satisfy.
    pub jwt: String,
    /// Methods that stay open, as `package.Service/Method` globs (`*` any run):
    /// `grpc.health.v1.Health/*`, `acme.Login/*`.
    pub exempt: Vec<String>,
}

/// `backends[].rate_limit`: a token bucket per key.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    /// Sustained rate, tokens per second (> 0, fractions allowed).
    pub per_second: f64,
    /// Bucket size: requests allowed at once after a quiet period. Default:
    /// `per_second` rounded up (at least 1).
    pub burst: u32,
    /// Which requests share a bucket.
    pub key: RateLimitKey,
    /// Distinct keys remembered at once (bounded memory); keys beyond it share
    /// one bucket until old ones expire. Default 100000.
    pub max_keys: usize,
    /// Only calls to these methods (`package.Service/Method` globs) take
    /// tokens; empty (the default): every method of the backend.
    pub methods: Vec<String>,
}

/// What a rate-limit bucket is keyed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateLimitKey {
    /// The TCP peer's IP address (not `X-Forwarded-For`, which clients write).
    ClientIp,
    /// A request header's value (lower-case name).
    Header(String),
    /// A claim of the verified JWT (requires `auth`).
    Claim(String),
}

/// The edge keys of one backend.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BackendEdge {
    /// TLS to the backend (`tls:`); `None`: plaintext h2c.
    pub tls: Option<BackendTls>,
    /// JWT authentication of callers (`auth:`); `None`: open.
    pub auth: Option<Auth>,
    /// A token bucket per key (`rate_limit:`); `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Requests (streams included) in flight at once; beyond it 503 at once.
    pub max_concurrent_requests: Option<u32>,
}
