//! Validation of the secure-edge keys: top-level `tls:` and `jwt_providers:`,
//! `limits.max_connections` / `header_read_timeout` / `idle_timeout`, and each
//! backend's `tls`, `auth`, `rate_limit` and `max_concurrent_requests`. Same
//! rules as the rest of the loader: every problem is collected and points at
//! its node. Files are not read here (`switchboard check` and the reload do).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::validator::Validator;
use super::values::is_http_token;
use crate::edge::{
    Auth, BackendEdge, BackendTls, JwksSource, JwtProvider, ListenerLimits, ListenerTls, RateLimit,
    RateLimitKey,
};

const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(600);
const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
const DEFAULT_MAX_KEYS: usize = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    cert: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    client_ca: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackendTls {
    ca: Option<Spanned<String>>,
    cert: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    server_name: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJwtProvider {
    name: Option<Spanned<String>>,
    issuer: Option<String>,
    audiences: Option<Vec<String>>,
    jwks: Option<Spanned<RawJwks>>,
    forward_claims: Option<BTreeMap<String, Spanned<String>>>,
    leeway: Option<Spanned<String>>,
    from_header: Option<Spanned<String>>,
    from_query: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJwks {
    file: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    refresh: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    jwt: Option<Spanned<String>>,
    exempt: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRateLimit {
    per_second: Option<Spanned<f64>>,
    burst: Option<Spanned<u64>>,
    key: Option<Spanned<String>>,
    max_keys: Option<Spanned<u64>>,
    methods: Option<Vec<String>>,
}

/// The listener-limit keys of `limits:` (besides `max_body_bytes`).
pub(super) struct RawListenerLimits {
    pub max_connections: Option<Spanned<u64>>,
    pub header_read_timeout: Option<Spanned<String>>,
    pub idle_timeout: Option<Spanned<String>>,
}

/// A backend's edge keys, as read.
pub(super) struct RawBackendEdge {
    pub tls: Option<RawBackendTls>,
    pub auth: Option<Spanned<RawAuth>>,
    pub rate_limit: Option<Spanned<RawRateLimit>>,
    pub max_concurrent_requests: Option<Spanned<u64>>,
}

impl Validator {
    pub(super) fn listener_tls(&mut self, raw: Option<Spanned<RawTls>>) -> Option<ListenerTls> {
        let raw = raw?;
        let (at, raw) = (raw.referenced, raw.value);
        let path = |v: &mut Self, key: &str, p: Option<Spanned<String>>| match p {
            None => {
                v.error(&at, format!("tls is missing required key `{key}`"));
                None
            }
            Some(p) if p.value.trim().is_empty() => {
                v.error(&p.referenced, format!("tls.{key} must not be empty"));
                None
            }
            Some(p) => Some(v.base.join(p.value.trim())),
        };
        let cert = path(self, "cert", raw.cert);
        let key = path(self, "key", raw.key);
        let client_ca = raw.client_ca.map(|p| self.base.join(p.value.trim()));
        Some(ListenerTls {
            cert: cert?,
            key: key?,
            client_ca,
        })
    }

    pub(super) fn listener_limits(&mut self, raw: RawListenerLimits) -> ListenerLimits {
        let d = ListenerLimits::default();
        let max_connections = match raw.max_connections {
            Some(n) if n.value == 0 => {
                self.error(
                    &n.referenced,
                    "limits.max_connections must be greater than 0",
                );
                None
            }
            n => n.map(|n| usize::try_from(n.value).unwrap_or(usize::MAX)),
        };
        ListenerLimits {
            max_connections,
            header_read_timeout: self
                .duration(
                    "limits.header_read_timeout",
                    raw.header_read_timeout.as_ref(),
                    false,
                )
                .unwrap_or(d.header_read_timeout),
            idle_timeout: self
                .duration("limits.idle_timeout", raw.idle_timeout.as_ref(), false)
                .unwrap_or(d.idle_timeout),
        }
    }

    pub(super) fn jwt_providers(
        &mut self,
        raw: Option<Vec<Spanned<RawJwtProvider>>>,
    ) -> Vec<JwtProvider> {
        let mut out: Vec<JwtProvider> = Vec::new();
        // Every declared name, valid entry or not: a backend naming a provider
        // with an error of its own should not get a second, misleading one.
        let mut names: Vec<String> = Vec::new();
        for raw in raw.unwrap_or_default() {
            let (at, raw) = (raw.referenced, raw.value);
            let name = match raw.name {
                None => {
                    self.error(&at, "jwt_providers entry is missing required key `name`");
                    continue;
                }
                Some(n) if n.value.trim().is_empty() => {
                    self.error(&n.referenced, "jwt_providers[].name must not be empty");
                    continue;
                }
                Some(n) => {
                    if names.contains(&n.value) {
                        self.error(
                            &n.referenced,
                            format!("duplicate jwt provider name `{}`", n.value),
                        );
                    } else {
                        names.push(n.value.clone());
                    }
                    n.value
                }
            };
            let who = format!("jwt provider `{name}`");
            let jwks = match raw.jwks {
                None => {
                    self.error(&at, format!("{who} is missing required key `jwks`"));
                    None
                }
                Some(j) => self.jwks(&who, j),
            };
            let mut forward_claims = Vec::new();
            for (claim, key) in raw.forward_claims.unwrap_or_default() {
                let k = key.value.trim().to_ascii_lowercase();
                if let Err(why) = check_metadata_key(&k) {
                    self.error(
                        &key.referenced,
                        format!("{who}: forward_claims.{claim}: `{}` {why}", key.value),
                    );
                }
                forward_claims.push((claim, k));
            }
            let leeway = self
                .duration(&format!("{who}: leeway"), raw.leeway.as_ref(), true)
                .unwrap_or(DEFAULT_LEEWAY);
            let from_header = raw.from_header.map(|h| {
                let name = h.value.trim().to_ascii_lowercase();
                if !is_http_token(&name) {
                    self.error(
                        &h.referenced,
                        format!("{who}: from_header `{}` is not a header name", h.value),
                    );
                }
                name
            });
            let from_query = raw.from_query.map(|q| {
                if q.value.trim().is_empty() {
                    self.error(
                        &q.referenced,
                        format!("{who}: from_query must not be empty"),
                    );
                }
                q.value.trim().to_owned()
            });
            let Some(jwks) = jwks else { continue };
            out.push(JwtProvider {
                name,
                issuer: raw.issuer.filter(|i| !i.is_empty()),
                audiences: raw.audiences.unwrap_or_default(),
                jwks,
                forward_claims,
                leeway,
                from_header,
                from_query,
            });
        }
        self.jwt_names = names;
        out
    }

    fn jwks(&mut self, who: &str, raw: Spanned<RawJwks>) -> Option<JwksSource> {
        let (at, raw) = (raw.referenced, raw.value);
        let refresh = self
            .duration(&format!("{who}: jwks.refresh"), raw.refresh.as_ref(), false)
            .unwrap_or(DEFAULT_JWKS_REFRESH);
        match (raw.file, raw.url) {
            (Some(_), Some(url)) => {
                self.error(
                    &url.referenced,
                    format!("{who}: give exactly one of `jwks.file` and `jwks.url`"),
                );
                None
            }
            (None, None) => {
                self.error(
                    &at,
                    format!("{who}: jwks needs `file` (a JWKS JSON file) or `url`"),
                );
                None
            }
            (Some(file), None) => Some(JwksSource::File {
                path: self.base.join(file.value.trim()),
                refresh,
            }),
            (None, Some(url)) => {
                let u = url.value.trim();
                let ok = u
                    .strip_prefix("https://")
                    .or_else(|| u.strip_prefix("http://"))
                    .is_some_and(|rest| {
                        !rest.is_empty()
                            && !rest.starts_with('/')
                            && !rest
                                .bytes()
                                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
                    });
                if !ok {
                    self.error(
                        &url.referenced,
                        format!("{who}: jwks.url `{u}` is not an http:// or https:// URL"),
                    );
                }
                Some(JwksSource::Url {
                    url: u.to_owned(),
                    refresh,
                })
            }
        }
    }

    pub(super) fn backend_edge(&mut self, who: &str, raw: RawBackendEdge) -> BackendEdge {
        let tls = raw.tls.map(|t| {
            let path =
                |v: &mut Self, p: Option<Spanned<String>>| p.map(|p| v.base.join(p.value.trim()));
            let ca = path(self, t.ca);
            let (cert_at, key_at) = (
                t.cert.as_ref().map(|c| c.referenced),
                t.key.as_ref().map(|k| k.referenced),
            );
            let cert = path(self, t.cert);
            let key = path(self, t.key);
            match (cert_at, key_at) {
                (Some(at), None) => {
                    self.error(&at, format!("{who}: tls.cert needs tls.key"));
                }
                (None, Some(at)) => {
                    self.error(&at, format!("{who}: tls.key needs tls.cert"));
                }
                _ => {}
            }
            let server_name = t.server_name.map(|s| {
                let name = s.value.trim().to_owned();
                if rustls_name_ok(&name).is_err() {
                    self.error(
                        &s.referenced,
                        format!("{who}: tls.server_name `{name}` is not a DNS name or IP address"),
                    );
                }
                name
            });
            BackendTls {
                ca,
                cert,
                key,
                server_name,
            }
        });
        let auth = raw.auth.and_then(|a| {
            let (at, a) = (a.referenced, a.value);
            let Some(jwt) = a.jwt else {
                self.error(&at, format!("{who}: auth is missing required key `jwt`"));
                return None;
            };
            if !self.jwt_names.contains(&jwt.value) {
                let known = if self.jwt_names.is_empty() {
                    "none are configured".to_string()
                } else {
                    format!("known: {}", self.jwt_names.join(", "))
                };
                self.error(
                    &jwt.referenced,
                    format!(
                        "{who}: auth.jwt `{}` names no jwt_providers entry ({known})",
                        jwt.value
                    ),
                );
            }
            Some(Auth {
                jwt: jwt.value,
                exempt: a.exempt.unwrap_or_default(),
            })
        });
        let rate_limit = raw.rate_limit.and_then(|r| {
            let (at, r) = (r.referenced, r.value);
            let per_second = match r.per_second {
                None => {
                    self.error(
                        &at,
                        format!("{who}: rate_limit is missing required key `per_second`"),
                    );
                    return None;
                }
                Some(p) if !(p.value.is_finite() && p.value > 0.0 && p.value <= 1e9) => {
                    self.error(
                        &p.referenced,
                        format!("{who}: rate_limit.per_second must be a number > 0"),
                    );
                    return None;
                }
                Some(p) => p.value,
            };
            let burst = match r.burst {
                Some(b) if b.value == 0 || b.value > u64::from(u32::MAX) => {
                    self.error(
                        &b.referenced,
                        format!("{who}: rate_limit.burst must be 1..=4294967295"),
                    );
                    1
                }
                Some(b) => b.value as u32,
                None => (per_second.ceil() as u32).max(1),
            };
            let key = match r.key {
                None => RateLimitKey::ClientIp,
                Some(k) => match parse_key(&k.value) {
                    Ok(RateLimitKey::Claim(c)) if auth.is_none() => {
                        self.error(
                            &k.referenced,
                            format!(
                                "{who}: rate_limit.key `claim {c}` needs `auth` on the backend"
                            ),
                        );
                        RateLimitKey::Claim(c)
                    }
                    Ok(key) => key,
                    Err(why) => {
                        self.error(
                            &k.referenced,
                            format!("{who}: invalid rate_limit.key `{}`: {why}", k.value),
                        );
                        RateLimitKey::ClientIp
                    }
                },
            };
            let max_keys = match r.max_keys {
                Some(n) if n.value == 0 => {
                    self.error(
                        &n.referenced,
                        format!("{who}: rate_limit.max_keys must be greater than 0"),
                    );
                    DEFAULT_MAX_KEYS
                }
                Some(n) => usize::try_from(n.value).unwrap_or(usize::MAX),
                None => DEFAULT_MAX_KEYS,
            };
            Some(RateLimit {
                per_second,
                burst,
                key,
                max_keys,
                methods: r.methods.unwrap_or_default(),
            })
        });
        let max_concurrent_requests = match raw.max_concurrent_requests {
            Some(n) if n.value == 0 || n.value > u64::from(u32::MAX) => {
                self.error(
                    &n.referenced,
                    format!("{who}: max_concurrent_requests must be 1..=4294967295"),
                );
                None
            }
            n => n.map(|n| n.value as u32),
        };
        BackendEdge {
            tls,
            auth,
            rate_limit,
            max_concurrent_requests,
        }
    }
}

/// `client_ip`, `header NAME` or `claim NAME`.
fn parse_key(text: &str) -> Result<RateLimitKey, String> {
    let text = text.trim();
    if text == "client_ip" {
        return Ok(RateLimitKey::ClientIp);
    }
    let (kind, name) = text
        .split_once(char::is_whitespace)
        .map(|(k, n)| (k, n.trim()))
        .ok_or("expected `client_ip`, `header NAME` or `claim NAME`")?;
    match kind {
        "header" if is_http_token(name) => Ok(RateLimitKey::Header(name.to_ascii_lowercase())),
        "header" => Err(format!("`{name}` is not a header name")),
        "claim" if !name.is_empty() => Ok(RateLimitKey::Claim(name.to_owned())),
        _ => Err("expected `client_ip`, `header NAME` or `claim NAME`".into()),
    }
}

/// A metadata key a claim may be forwarded as: a lower-case header name that
/// is not reserved for gRPC or HTTP/2 and is not binary.
fn check_metadata_key(key: &str) -> Result<(), &'static str> {
    if !is_http_token(key) {
        return Err("is not a header name");
    }
    if key.starts_with("grpc-") || key.starts_with(':') {
        return Err("is reserved for gRPC");
    }
    if key.ends_with("-bin") {
        return Err("is a binary key; claims are text");
    }
    if matches!(
        key,
        "authorization" | "content-type" | "te" | "host" | "connection" | "user-agent"
    ) {
        return Err("is a header the gateway forwards itself");
    }
    Ok(())
}

/// Whether `name` can be a TLS server name: a DNS name or an IP address.
fn rustls_name_ok(name: &str) -> Result<(), ()> {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (!name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok))
        .then_some(())
        .ok_or(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{errors, parse};
    use super::*;

    #[test]
    fn every_edge_key() {
        let c = parse(
            r#"
tls: {cert: certs/gw.pem, key: certs/gw.key, client_ca: certs/ca.pem}
limits: {max_connections: 1000, header_read_timeout: 5s, idle_timeout: 2m}
jwt_providers:
  - name: corp
    issuer: https://issuer.example
    audiences: [api]
    jwks: {url: "https://issuer.example/jwks.json", refresh: 5m}
    forward_claims: {sub: X-User-Id, email: x-user-email}
    leeway: 30s
    from_header: X-Token
    from_query: access_token
  - name: local
    jwks: {file: jwks.json}
backends:
  - name: a
    endpoints: ["a:1"]
    tls: {ca: ca.pem, cert: c.pem, key: c.key, server_name: a.internal}
    auth: {jwt: corp, exempt: ["grpc.health.v1.Health/*"]}
    rate_limit: {per_second: 2.5, burst: 5, key: claim sub, max_keys: 10, methods: ["a.B/*"]}
    max_concurrent_requests: 8
  - name: b
    endpoints: ["b:1"]
    tls: {}
    rate_limit: {per_second: 10, key: header X-Api-Key}
"#,
        )
        .unwrap();
        let tls = c.edge.tls.unwrap();
        assert_eq!(tls.cert, std::path::Path::new("/etc/certs/gw.pem"));
        assert_eq!(
            tls.client_ca.as_deref(),
            Some(std::path::Path::new("/etc/certs/ca.pem"))
        );
        assert_eq!(c.edge.listener.max_connections, Some(1000));
        assert_eq!(c.edge.listener.header_read_timeout, Duration::from_secs(5));
        assert_eq!(c.edge.listener.idle_timeout, Duration::from_secs(120));
        let p = &c.edge.jwt_providers[0];
        assert_eq!(p.issuer.as_deref(), Some("https://issuer.example"));
        assert_eq!(
            p.forward_claims,
            vec![
                ("email".to_string(), "x-user-email".to_string()),
                ("sub".to_string(), "x-user-id".to_string())
            ]
        );
        assert_eq!(p.from_header.as_deref(), Some("x-token"));
        assert_eq!(p.leeway, Duration::from_secs(30));
        assert_eq!(
            c.edge.jwt_providers[1].jwks,
            JwksSource::File {
                path: "/etc/jwks.json".into(),
                refresh: DEFAULT_JWKS_REFRESH
            }
        );
        assert_eq!(c.edge.jwt_providers[1].leeway, DEFAULT_LEEWAY);
        let a = &c.backends[0].edge;
        assert_eq!(
            a.tls.as_ref().unwrap().server_name.as_deref(),
            Some("a.internal")
        );
        assert_eq!(a.auth.as_ref().unwrap().exempt, ["grpc.health.v1.Health/*"]);
        let rl = a.rate_limit.as_ref().unwrap();
        assert_eq!(
            (rl.per_second, rl.burst, &rl.key, rl.max_keys),
            (2.5, 5, &RateLimitKey::Claim("sub".into()), 10)
        );
        assert_eq!(rl.methods, ["a.B/*"]);
        assert_eq!(a.max_concurrent_requests, Some(8));
        let b = &c.backends[1].edge;
        assert_eq!(b.tls, Some(BackendTls::default()));
        let rl = b.rate_limit.as_ref().unwrap();
        assert_eq!(rl.key, RateLimitKey::Header("x-api-key".into()));
        assert_eq!(rl.burst, 10, "burst defaults to per_second");
    }

    #[test]
    fn defaults_without_edge_keys() {
        let c = parse("backends: [{name: a, endpoints: [\"a:1\"]}]").unwrap();
        assert_eq!(c.edge, crate::edge::Edge::default());
        assert_eq!(c.backends[0].edge, BackendEdge::default());
    }

    #[test]
    fn edge_errors_point_at_their_node() {
        let e = errors(
            r#"
tls: {cert: a.pem}
limits: {max_connections: 0}
jwt_providers:
  - name: p
    jwks: {file: a, url: "https://x"}
    forward_claims: {sub: grpc-user}
  - name: p
    jwks: {url: "ftp://x"}
backends:
  - name: a
    endpoints: ["a:1"]
    auth: {jwt: nope}
    rate_limit: {per_second: 0}
    max_concurrent_requests: 0
  - name: b
    endpoints: ["b:1"]
    tls: {cert: c.pem, server_name: "bad name"}
    rate_limit: {per_second: 1, key: claim sub}
  - name: c
    endpoints: ["c:1"]
    rate_limit: {per_second: 1, key: cookie x}
"#,
        );
        let all = e.join("\n");
        for needle in [
            "2:6: tls is missing required key `key`",
            "3:27: limits.max_connections must be greater than 0",
            "6:26: jwt provider `p`: give exactly one of `jwks.file` and `jwks.url`",
            "7:27: jwt provider `p`: forward_claims.sub: `grpc-user` is reserved for gRPC",
            "8:11: duplicate jwt provider name `p`",
            "9:17: jwt provider `p`: jwks.url `ftp://x` is not an http:// or https:// URL",
            "13:17: backend `a`: auth.jwt `nope` names no jwt_providers entry (known: p)",
            "14:30: backend `a`: rate_limit.per_second must be a number > 0",
            "15:30: backend `a`: max_concurrent_requests must be 1..=4294967295",
            "18:17: backend `b`: tls.cert needs tls.key",
            "18:37: backend `b`: tls.server_name `bad name` is not a DNS name or IP address",
            "19:38: backend `b`: rate_limit.key `claim sub` needs `auth` on the backend",
            "22:38: backend `c`: invalid rate_limit.key `cookie x`",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }
}
