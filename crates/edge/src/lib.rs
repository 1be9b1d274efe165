//! The secure edge: the policies every call passes before it reaches a
//! backend, whatever its shape (JSON, streaming, WebSocket, native gRPC,
//! gRPC-Web), plus the listener's TLS and connection limits.
//!
//! - [`tls`]: listener certificates (hot-swapped), mTLS, backend TLS clients,
//!   file checks for `switchboard check`.
//! - [`auth`]: JWT providers and verification.
//! - [`limits`]: keyed rate limits, per-backend concurrency, connection counts.
//!
//! One [`Edge`] lives for the whole process. On every reload the reloader calls
//! [`Edge::prepare`] (reads and checks every file the config names; an error
//! rejects the reload like a config error, and what is live stays) and then
//! [`Edge::apply`], which makes the new listener settings live for new
//! connections and returns a [`BackendPolicy`] per backend for the new route
//! table. State that must outlive a reload (JWKS keys and their refresh,
//! rate-limit buckets, in-flight counts) is reused while its config is
//! unchanged. The gateway's entry service calls [`BackendPolicy::admit`] once
//! per request, after finding the backend and before any call shape starts.
//!
//! This crate never builds responses: it says why a request is refused
//! ([`Rejection`]) and the serving crate writes that in the request's protocol.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use http::header::{HeaderName, HeaderValue};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use serde::Serialize;
use switchboard_config::Config;
use switchboard_config::edge::{ListenerLimits, RateLimitKey};
use tracing::{debug, warn};

pub mod auth;
mod fetch;
pub mod limits;
pub mod tls;

pub use auth::{AuthError, Provider};
pub use limits::{ConnectionSlot, RateLimiter};
pub use tls::{BackendTlsClient, ListenerTls};

/// gRPC codes the edge answers with.
const UNAUTHENTICATED: i32 = 16;
const RESOURCE_EXHAUSTED: i32 = 8;
const UNAVAILABLE: i32 = 14;

/// `switchboard_rejected_total{backend, reason}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    /// The backend the request was for (empty for connection-level refusals).
    pub backend: Arc<str>,
    /// `auth`, `rate_limit`, `concurrency`, `connections`, `tls`.
    pub reason: &'static str,
}

/// The edge's metrics; cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct EdgeMetrics {
    /// `switchboard_rejected_total`: requests and connections the edge refused.
    pub rejected: Family<RejectLabels, Counter>,
}

impl EdgeMetrics {
    /// Adds the edge's series to `registry` (once per process).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "switchboard_rejected",
            "Requests and connections refused at the edge, by backend and reason (auth, rate_limit, concurrency, connections, tls)",
            self.rejected.clone(),
        );
    }

    /// Counts one rejection (`backend` empty for listener-level ones).
    pub fn reject(&self, backend: &Arc<str>, reason: &'static str) {
        self.rejected
            .get_or_create(&RejectLabels {
                backend: backend.clone(),
                reason,
            })
            .inc();
    }
}

/// What the listener uses for each new connection.
#[derive(Debug, Default)]
pub struct Listener {
    /// `None`: plaintext (HTTP/1.1 and h2c).
    pub tls: Option<Arc<ListenerTls>>,
    /// Connection limits and timeouts (`limits:`).
    pub limits: ListenerLimits,
}

/// The process-wide edge state. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    listener: ArcSwap<Listener>,
    providers: Mutex<HashMap<String, Arc<Provider>>>,
    limiters: Mutex<HashMap<String, Arc<RateLimiter>>>,
    concurrency: Mutex<HashMap<String, Arc<limits::Concurrency>>>,
    /// The live policies, for `/status`.
    policies: ArcSwap<HashMap<String, Arc<BackendPolicy>>>,
    connections: Arc<limits::Connections>,
    metrics: EdgeMetrics,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Everything a config's edge keys need, read and checked, not yet live.
pub struct Prepared {
    listener: Listener,
    providers: HashMap<String, Arc<Provider>>,
    policies: HashMap<String, Arc<BackendPolicy>>,
    /// Backends' TLS clients, by backend name.
    pub backend_tls: HashMap<String, BackendTlsClient>,
}

impl Edge {
    /// The edge's metrics, to register with the admin listener's registry.
    pub fn metrics(&self) -> &EdgeMetrics {
        &self.inner.metrics
    }

    /// The listener settings for a new connection.
    pub fn listener(&self) -> Arc<Listener> {
        self.inner.listener.load_full()
    }

    /// Counts a new connection against `limits.max_connections`; `None` (and
    /// counted as a rejection) when the listener is full.
    pub fn open_connection(&self) -> Option<ConnectionSlot> {
        let max = self.inner.listener.load().limits.max_connections;
        let slot = self.inner.connections.try_open(max);
        if slot.is_none() {
            self.inner.metrics.reject(&Arc::from(""), "connections");
            debug!(?max, "connection refused: limits.max_connections reached");
        }
        slot
    }

    /// Reads and checks every file and provider `config` names. Errors are
    /// reported like config errors; nothing is made live.
    pub async fn prepare(&self, config: &Config) -> Result<Prepared, Vec<String>> {
        let mut errors = Vec::new();
        let current = self.inner.listener.load_full();
        let tls = match &config.edge.tls {
            None => None,
            Some(files) => {
                let previous = current.tls.as_deref().filter(|t| t.files == *files);
                match ListenerTls::load(files, previous) {
                    Ok(t) => Some(Arc::new(t)),
                    Err(e) => {
                        errors.push(format!("tls: {e}"));
                        None
                    }
                }
            }
        };

        let existing = lock(&self.inner.providers).clone();
        let mut providers = HashMap::new();
        for p in &config.edge.jwt_providers {
            let provider = match existing.get(&p.name) {
                Some(old) if old.config == *p => {
                    // A reload (SIGHUP) re-reads a JWKS file now; a failure keeps
                    // the keys. URLs keep their own schedule: reloads also come
                    // from discovery retries, which must not hammer the issuer.
                    if matches!(p.jwks, switchboard_config::edge::JwksSource::File { .. })
                        && let Err(e) = old.refresh().await
                    {
                        warn!(provider = %p.name, error = %e, "JWKS refresh failed; keeping the last good keys");
                    }
                    old.clone()
                }
                _ => match Provider::load(p).await {
                    Ok(new) => new,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                },
            };
            providers.insert(p.name.clone(), provider);
        }

        let limiters = lock(&self.inner.limiters).clone();
        let concurrency = lock(&self.inner.concurrency).clone();
        let mut policies = HashMap::new();
        let mut backend_tls = HashMap::new();
        for b in &config.backends {
            if let Some(t) = &b.edge.tls {
                let mut t = t.clone();
                if t.server_name.is_none() {
                    t.server_name = default_server_name(&b.endpoints);
                }
                match tls::client_config(&t) {
                    Ok(c) => {
                        backend_tls.insert(b.name.clone(), c);
                    }
                    Err(e) => errors.push(format!("backend `{}`: tls: {e}", b.name)),
                }
            }
            let e = &b.edge;
            if e.auth.is_none() && e.rate_limit.is_none() && e.max_concurrent_requests.is_none() {
                continue;
            }
            let auth = e.auth.as_ref().and_then(|a| {
                let provider = providers.get(&a.jwt)?.clone();
                Some(BackendAuth {
                    provider,
                    exempt: a.exempt.clone(),
                })
            });
            let rate_limit = e.rate_limit.as_ref().map(|r| match limiters.get(&b.name) {
                Some(l) if l.config == *r => l.clone(),
                _ => Arc::new(RateLimiter::new(r)),
            });
            let max_concurrent = e.max_concurrent_requests.map(|max| {
                let state = concurrency.get(&b.name).cloned().unwrap_or_default();
                (max as usize, state)
            });
            policies.insert(
                b.name.clone(),
                Arc::new(BackendPolicy {
                    name: b.name.as_str().into(),
                    auth,
                    rate_limit,
                    max_concurrent,
                    metrics: self.inner.metrics.clone(),
                }),
            );
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Prepared {
            listener: Listener {
                tls,
                limits: config.edge.listener,
            },
            providers,
            policies,
            backend_tls,
        })
    }

    /// Makes `prepared` live: new connections get the new listener settings
    /// (a rotated certificate is served from the next handshake), refresh tasks
    /// start, and the returned policies go into the new route table.
    pub fn apply(&self, prepared: Prepared) -> HashMap<String, Arc<BackendPolicy>> {
        if let Some(tls) = &prepared.listener.tls {
            tls.activate();
        }
        self.inner.listener.store(Arc::new(prepared.listener));
        for p in prepared.providers.values() {
            p.start_refresh();
        }
        *lock(&self.inner.providers) = prepared.providers;
        let mut limiters = HashMap::new();
        let mut concurrency = HashMap::new();
        for (name, p) in &prepared.policies {
            if let Some(l) = &p.rate_limit {
                limiters.insert(name.clone(), l.clone());
            }
            if let Some((_, c)) = &p.max_concurrent {
                concurrency.insert(name.clone(), c.clone());
            }
        }
        *lock(&self.inner.limiters) = limiters;
        *lock(&self.inner.concurrency) = concurrency;
        self.inner
            .policies
            .store(Arc::new(prepared.policies.clone()));
        prepared.policies
    }

    /// What `/status` shows under `edge`.
    pub fn status(&self) -> EdgeStatus {
        let listener = self.inner.listener.load();
        let mut providers: Vec<auth::ProviderStatus> = lock(&self.inner.providers)
            .values()
            .map(|p| p.status())
            .collect();
        providers.sort_by(|a, b| a.name.cmp(&b.name));
        let policies = self.inner.policies.load();
        let mut backends: Vec<BackendEdgeStatus> = policies
            .values()
            .map(|p| BackendEdgeStatus {
                name: p.name.to_string(),
                auth: p.auth.as_ref().map(|a| a.provider.config.name.clone()),
                exempt: p
                    .auth
                    .as_ref()
                    .map(|a| a.exempt.clone())
                    .unwrap_or_default(),
                rate_limit: p.rate_limit.as_ref().map(|l| RateLimitStatus {
                    per_second: l.config.per_second,
                    burst: l.config.burst,
                    key: match &l.config.key {
                        RateLimitKey::ClientIp => "client_ip".into(),
                        RateLimitKey::Header(h) => format!("header {h}"),
                        RateLimitKey::Claim(c) => format!("claim {c}"),
                    },
                    keys_tracked: l.keys(),
                }),
                max_concurrent_requests: p.max_concurrent.as_ref().map(|(m, _)| *m),
                in_flight: p.max_concurrent.as_ref().map(|(_, c)| c.in_flight()),
            })
            .collect();
        backends.sort_by(|a, b| a.name.cmp(&b.name));
        EdgeStatus {
            tls: listener.tls.as_ref().map(|t| TlsStatus {
                cert: t.files.cert.display().to_string(),
                client_auth: t.files.client_ca.is_some(),
                not_after: t.not_after.map(rfc3339),
            }),
            max_connections: listener.limits.max_connections,
            open_connections: self.inner.connections.open(),
            header_read_timeout_ms: listener.limits.header_read_timeout.as_millis() as u64,
            idle_timeout_ms: listener.limits.idle_timeout.as_millis() as u64,
            jwt_providers: providers,
            backends,
        }
    }
}

/// `/status` → `edge`.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeStatus {
    /// The listener's certificate; `None`: plaintext.
    pub tls: Option<TlsStatus>,
    /// `limits.max_connections`; `None`: unlimited.
    pub max_connections: Option<usize>,
    /// Client connections open now.
    pub open_connections: usize,
    /// `limits.header_read_timeout`, in milliseconds.
    pub header_read_timeout_ms: u64,
    /// `limits.idle_timeout`, in milliseconds.
    pub idle_timeout_ms: u64,
    /// Each JWT provider and the state of its keys.
    pub jwt_providers: Vec<auth::ProviderStatus>,
    /// Each backend's edge policies and their live counters.
    pub backends: Vec<BackendEdgeStatus>,
}

#[derive(Debug, Clone, Serialize)]
/// The listener certificate in `/status`: what an operator checks before it expires.
pub struct TlsStatus {
    /// The certificate file.
    pub cert: String,
    /// Whether clients must present a certificate (mTLS, `client_ca`).
    pub client_auth: bool,
    /// The leaf's expiry (RFC 3339).
    pub not_after: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
/// One backend's policies in `/status`.
pub struct BackendEdgeStatus {
    /// The backend.
    pub name: String,
    /// The JWT provider its callers must satisfy; `None`: open.
    pub auth: Option<String>,
    /// Methods exempt from authentication.
    pub exempt: Vec<String>,
    /// Its rate limit; `None`: unlimited.
    pub rate_limit: Option<RateLimitStatus>,
    /// `max_concurrent_requests`; `None`: unlimited.
    pub max_concurrent_requests: Option<usize>,
    /// Requests in flight now, when a concurrency limit is set.
    pub in_flight: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
/// One backend's rate limit in `/status`.
pub struct RateLimitStatus {
    /// Sustained tokens per second.
    pub per_second: f64,
    /// Bucket size.
    pub burst: u32,
    /// What buckets are keyed by (`client_ip`, `header NAME`, `claim NAME`).
    pub key: String,
    /// Distinct keys with a bucket now (bounded by `max_keys`).
    pub keys_tracked: usize,
}

#[derive(Debug)]
struct BackendAuth {
    provider: Arc<Provider>,
    exempt: Vec<String>,
}

/// One backend's request policies, in the order they apply: authentication,
/// rate limit, concurrency.
#[derive(Debug)]
pub struct BackendPolicy {
    name: Arc<str>,
    auth: Option<BackendAuth>,
    rate_limit: Option<Arc<RateLimiter>>,
    max_concurrent: Option<(usize, Arc<limits::Concurrency>)>,
    metrics: EdgeMetrics,
}

/// Held for as long as a request is in flight (its response body or its
/// WebSocket session); releases the concurrency slot when the last clone
/// drops. Cloneable so it can ride in request extensions.
#[derive(Debug, Clone)]
pub struct Guard(#[allow(dead_code)] Arc<limits::Slot>);

/// Why the edge refused a request, for the serving crate to write in the
/// request's protocol (JSON Status, or a gRPC trailers-only answer).
#[derive(Debug, Clone)]
pub struct Rejection {
    /// The metrics label: `auth`, `rate_limit`, `concurrency`.
    pub reason: &'static str,
    /// The gRPC code.
    pub code: i32,
    /// The HTTP status for HTTP/JSON clients.
    pub http: u16,
    /// Why, for the client (the Status message, `WWW-Authenticate`'s description).
    pub message: String,
    /// `WWW-Authenticate`, `Retry-After`.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// How the request reaches the backend, which decides how forwarded claims
/// are written: transcoded requests carry metadata as `Grpc-Metadata-<key>`
/// headers, native gRPC and gRPC-Web as `<key>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// HTTP/JSON and Connect: claims go out as `Grpc-Metadata-<key>` headers.
    Transcoded,
    /// Native gRPC and gRPC-Web: claims go out as `<key>` metadata.
    Grpc,
}

impl BackendPolicy {
    /// Checks one request for `method` (`package.Service/Method`), from `peer`.
    /// On success the request has the configured claims as metadata (client
    /// copies removed first) and, with a concurrency limit, holds a [`Guard`]
    /// in its extensions; keep the returned guard until the response ends.
    pub fn admit(
        &self,
        parts: &mut http::request::Parts,
        method: &str,
        peer: Option<IpAddr>,
        carrier: Carrier,
    ) -> Result<Option<Guard>, Rejection> {
        let claims = match &self.auth {
            None => None,
            Some(auth) => {
                // Forged copies go whatever happens next, exempt or not.
                strip_forwarded(&auth.provider, &mut parts.headers);
                if auth
                    .exempt
                    .iter()
                    .any(|p| switchboard_config::glob(method, p))
                {
                    None
                } else {
                    Some(self.authenticate(auth, parts, carrier, method)?)
                }
            }
        };
        if let Some(limiter) = &self.rate_limit
            && (limiter.config.methods.is_empty()
                || limiter
                    .config
                    .methods
                    .iter()
                    .any(|p| switchboard_config::glob(method, p)))
        {
            let key = match &limiter.config.key {
                RateLimitKey::ClientIp => peer.map(|p| p.to_string()).unwrap_or_default(),
                RateLimitKey::Header(h) => parts
                    .headers
                    .get(h.as_str())
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string(),
                RateLimitKey::Claim(c) => claims
                    .as_ref()
                    .and_then(|claims| claims.get(c))
                    .map(|v| auth::claim_text(v).into_owned())
                    .unwrap_or_default(),
            };
            if let Err(wait) = limiter.check(&key) {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                return Err(self.refuse(
                    "rate_limit",
                    RESOURCE_EXHAUSTED,
                    429,
                    "rate limit exceeded".into(),
                    vec![(http::header::RETRY_AFTER, HeaderValue::from(secs.max(1)))],
                    method,
                ));
            }
        }
        let guard = match &self.max_concurrent {
            None => None,
            Some((max, state)) => match state.try_acquire(*max) {
                Some(slot) => {
                    let guard = Guard(Arc::new(slot));
                    parts.extensions.insert(guard.clone());
                    Some(guard)
                }
                None => {
                    return Err(self.refuse(
                        "concurrency",
                        UNAVAILABLE,
                        503,
                        format!(
                            "backend {} has {max} requests in flight (max_concurrent_requests)",
                            self.name
                        ),
                        Vec::new(),
                        method,
                    ));
                }
            },
        };
        Ok(guard)
    }

    fn authenticate(
        &self,
        auth: &BackendAuth,
        parts: &mut http::request::Parts,
        carrier: Carrier,
        method: &str,
    ) -> Result<auth::Claims, Rejection> {
        let provider = &auth.provider;
        let result = match provider.token(&parts.headers, parts.uri.query()) {
            None => Err(AuthError::Missing),
            Some(token) => provider.verify(&token),
        };
        let claims = match result {
            Ok(c) => c,
            Err(e) => {
                let www = HeaderValue::from_str(&e.www_authenticate(&provider.config.name))
                    .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
                return Err(self.refuse(
                    "auth",
                    UNAUTHENTICATED,
                    401,
                    e.message().to_string(),
                    vec![(http::header::WWW_AUTHENTICATE, www)],
                    method,
                ));
            }
        };
        if let Some(param) = &provider.config.from_query
            && let Some(query) = parts.uri.query()
            && let Some(stripped) = auth::strip_query_param(query, param)
        {
            let path = parts.uri.path();
            let pq = if stripped.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{stripped}")
            };
            let mut uri = std::mem::take(&mut parts.uri).into_parts();
            uri.path_and_query = pq.parse().ok();
            parts.uri = http::Uri::from_parts(uri).unwrap_or_default();
        }
        for (claim, key) in &provider.config.forward_claims {
            let Some(value) = claims.get(claim) else {
                continue;
            };
            let Ok(value) = HeaderValue::from_str(&auth::claim_text(value)) else {
                continue;
            };
            let name = match carrier {
                Carrier::Grpc => HeaderName::try_from(key.as_str()),
                Carrier::Transcoded => HeaderName::try_from(format!("grpc-metadata-{key}")),
            };
            if let Ok(name) = name {
                parts.headers.insert(name, value);
            }
        }
        Ok(claims)
    }

    fn refuse(
        &self,
        reason: &'static str,
        code: i32,
        http: u16,
        message: String,
        headers: Vec<(HeaderName, HeaderValue)>,
        method: &str,
    ) -> Rejection {
        self.metrics.reject(&self.name, reason);
        debug!(backend = %self.name, %method, reason, %message, "request rejected at the edge");
        Rejection {
            reason,
            code,
            http,
            message,
            headers,
        }
    }
}

/// Removes every client-sent copy of the provider's forwarded keys, in both
/// the native (`x-user-id`) and the transcoded (`grpc-metadata-x-user-id`) form.
fn strip_forwarded(provider: &Provider, headers: &mut http::HeaderMap) {
    for (_, key) in &provider.config.forward_claims {
        headers.remove(key.as_str());
        if let Ok(name) = HeaderName::try_from(format!("grpc-metadata-{key}")) {
            headers.remove(name);
        }
    }
}

/// RFC 3339 in UTC, seconds precision.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Edge {
    /// Watches the listener's certificate, key and client CA files (by
    /// modification time and size, every second, so Kubernetes secret
    /// symlink swaps are seen too) and reloads the pair when they change. A
    /// bad pair is logged and counted; the old one keeps serving. Config
    /// reloads (file change, SIGHUP, `POST /reload`) re-read them as well.
    pub fn watch_files(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            // The stamp of a change that failed to load: not retried until the
            // files change again (one error per change, not one per second).
            let mut failed: Option<Vec<Option<(SystemTime, u64)>>> = None;
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let Some(inner) = weak.upgrade() else { return };
                let edge = Edge { inner };
                let Some(tls) = edge.listener().tls.clone() else {
                    continue;
                };
                let now = tls::stamp(&tls.files);
                if now != tls.stamp && failed.as_ref() != Some(&now) {
                    if edge.reload_listener_tls() {
                        failed = None;
                    } else {
                        failed = Some(now);
                    }
                }
            }
        });
    }

    /// Re-reads the live listener's TLS files now; keeps the current pair if
    /// the new one is bad. Whether the new one went live.
    pub(crate) fn reload_listener_tls(&self) -> bool {
        let current = self.listener();
        let Some(tls) = current.tls.as_deref() else {
            return false;
        };
        match ListenerTls::load(&tls.files, Some(tls)) {
            Ok(new) => {
                new.activate();
                self.inner.listener.store(Arc::new(Listener {
                    tls: Some(Arc::new(new)),
                    limits: current.limits,
                }));
                tracing::info!(cert = %tls.files.cert.display(), "listener certificate reloaded");
                true
            }
            Err(e) => {
                self.inner.metrics.reject(&Arc::from(""), "tls");
                tracing::error!(error = %e, "listener certificate change rejected; keeping the current one");
                false
            }
        }
    }
}

/// What `switchboard check` found in the files a config names: one line per
/// file (`ok: ...` notes) and the errors that make the check fail.
#[derive(Debug, Default)]
pub struct FileCheck {
    /// One line per file that was read and is fine (`ok: ...`).
    pub notes: Vec<String>,
    /// Problems that make the check fail.
    pub errors: Vec<String>,
}

/// Reads every certificate, key and JWKS file `config` names, as the gateway
/// would: readable, parseable, key matching certificate, expiry (an expired
/// certificate is an error, one expiring within 30 days a note saying so).
pub fn check_files(config: &Config) -> FileCheck {
    let mut out = FileCheck::default();
    let pair = |what: &str, cert: &std::path::Path, key: &std::path::Path, out: &mut FileCheck| {
        match tls::inspect_pair(cert, key) {
            Ok(r) => {
                let when = r.not_after.map(rfc3339).unwrap_or_else(|| "unknown".into());
                match r.expires_in {
                    Some(s) if s <= 0 => out.errors.push(format!(
                        "{what}: certificate {} expired at {when}",
                        cert.display()
                    )),
                    Some(s) => out.notes.push(format!(
                        "{what}: {} ok (key matches; expires {when}, in {} day(s){})",
                        cert.display(),
                        s / 86_400,
                        if s < 30 * 86_400 { ", renew soon" } else { "" }
                    )),
                    None => out.notes.push(format!(
                        "{what}: {} ok (key matches; expiry unknown)",
                        cert.display()
                    )),
                }
            }
            Err(e) => out.errors.push(format!("{what}: {e}")),
        }
    };
    let ca = |what: &str, path: &std::path::Path, out: &mut FileCheck| match tls::inspect_ca(path) {
        Ok(n) => out.notes.push(format!(
            "{what}: {} ok ({n} CA certificate(s))",
            path.display()
        )),
        Err(e) => out.errors.push(format!("{what}: {e}")),
    };
    if let Some(t) = &config.edge.tls {
        pair("tls", &t.cert, &t.key, &mut out);
        if let Some(c) = &t.client_ca {
            ca("tls.client_ca", c, &mut out);
        }
    }
    for b in &config.backends {
        let Some(t) = &b.edge.tls else { continue };
        let what = format!("backend `{}`: tls", b.name);
        if let Some(c) = &t.ca {
            ca(&format!("{what}.ca"), c, &mut out);
        }
        if let (Some(c), Some(k)) = (&t.cert, &t.key) {
            pair(&what, c, k, &mut out);
        }
    }
    for p in &config.edge.jwt_providers {
        if let switchboard_config::edge::JwksSource::File { path, .. } = &p.jwks {
            let what = format!("jwt provider `{}`", p.name);
            match std::fs::read(path)
                .map_err(|e| format!("cannot read JWKS {}: {e}", path.display()))
                .and_then(|b| auth::KeySet::parse(&b))
            {
                Ok(set) => out.notes.push(format!(
                    "{what}: {} ok ({} key(s))",
                    path.display(),
                    set.len()
                )),
                Err(e) => out.errors.push(format!("{what}: {e}")),
            }
        }
    }
    out
}

/// The TLS name a backend's `dns:///NAME:port` endpoint stands for, when the
/// config names none: certificates name the service, not its addresses.
pub(crate) fn default_server_name(endpoints: &[String]) -> Option<String> {
    endpoints.iter().find_map(|e| {
        let rest = e.strip_prefix("dns:///")?;
        let host = rest.rsplit_once(':').map_or(rest, |(h, _)| h);
        Some(
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
        )
    })
}

/// `edge` with its `tls.server_name` defaulted from `endpoints` (see
/// [`default_server_name`]), for a copy of the backend whose endpoints are
/// resolved addresses.
pub fn with_default_server_name(
    edge: &switchboard_config::edge::BackendEdge,
    endpoints: &[String],
) -> switchboard_config::edge::BackendEdge {
    let mut edge = edge.clone();
    if let Some(tls) = &mut edge.tls
        && tls.server_name.is_none()
    {
        tls.server_name = default_server_name(endpoints);
    }
    edge
}
