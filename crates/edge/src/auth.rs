//! JWT authentication, as Envoy's jwt_authn does it: a provider has an issuer,
//! audiences and a key set (JWKS, from a file or a URL, refreshed; a failed
//! refresh keeps the last good keys). A token is found in `Authorization:
//! Bearer`, the provider's `from_header` or `from_query`, or a WebSocket's
//! `Sec-WebSocket-Protocol: Bearer, <token>`; it must carry a signature by one
//! of the keys (RS*, PS*, ES256/384, EdDSA, HS*; the key's type decides which
//! algorithms it can verify, so an RSA public key is never used as an HMAC
//! secret), an `exp` in the future and an `nbf` in the past (both within the
//! leeway), the issuer and one of the audiences.
//!
//! Errors say what failed ("token expired", "token audience not allowed") and
//! never echo the token.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde::Serialize;
use serde_json::{Map, Value};
use switchboard_config::edge::{JwksSource, JwtProvider};
use tracing::{debug, info, warn};

/// One verification key of a key set.
struct Key {
    kid: Option<String>,
    /// The JWK's `alg`, when it names one: then only that algorithm.
    alg: Option<Algorithm>,
    family: AlgorithmFamily,
    key: DecodingKey,
}

/// A parsed JWKS.
#[derive(Default)]
pub(crate) struct KeySet {
    keys: Vec<Key>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl KeySet {
    /// Parses `{"keys": [...]}`. Keys of unsupported types are skipped (a JWKS
    /// may list encryption keys too); a set with no usable key is an error.
    pub(crate) fn parse(bytes: &[u8]) -> Result<KeySet, String> {
        let doc: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("JWKS is not JSON: {e}"))?;
        let list = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("JWKS has no `keys` array")?;
        let mut keys = Vec::new();
        for (i, raw) in list.iter().enumerate() {
            if raw.get("use").and_then(Value::as_str) == Some("enc") {
                continue;
            }
            let jwk: Jwk = match serde_json::from_value(raw.clone()) {
                Ok(jwk) => jwk,
                Err(e) => {
                    debug!(index = i, error = %e, "JWKS key skipped");
                    continue;
                }
            };
            let family = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
                AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
                AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
                AlgorithmParameters::OctetKey(_) => AlgorithmFamily::Hmac,
                _ => continue,
            };
            let key = match DecodingKey::from_jwk(&jwk) {
                Ok(k) => k,
                Err(e) => {
                    debug!(index = i, error = %e, "JWKS key skipped");
                    continue;
                }
            };
            keys.push(Key {
                kid: jwk.common.key_id.clone(),
                alg: jwk
                    .common
                    .key_algorithm
                    .and_then(|a| Algorithm::try_from(a).ok()),
                family,
                key,
            });
        }
        if keys.is_empty() {
            return Err("JWKS has no usable signing key".into());
        }
        Ok(KeySet { keys })
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Why a request was refused; the message goes into the 401's body and the
/// `error_description` of `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The request carried no token (RFC 6750: no `error` attribute).
    Missing,
    /// A token was presented and failed verification; the reason is said.
    Invalid(String),
}

impl AuthError {
    /// The reason, as the 401's body and `error_description` give it.
    pub fn message(&self) -> &str {
        match self {
            AuthError::Missing => "missing bearer token",
            AuthError::Invalid(m) => m,
        }
    }

    /// RFC 6750 §3: no `error` attribute when the request carried no token.
    pub fn www_authenticate(&self, realm: &str) -> String {
        match self {
            AuthError::Missing => format!("Bearer realm=\"{realm}\""),
            AuthError::Invalid(m) => format!(
                "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{}\"",
                m.replace(['"', '\\'], "'")
            ),
        }
    }
}

/// Verified claims.
pub type Claims = Map<String, Value>;

/// What `/status` shows of a provider.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProviderStatus {
    /// The provider's `name`.
    pub name: String,
    /// Where its keys come from (the JWKS file or URL).
    pub source: String,
    /// How many keys are loaded: 0 means every token is refused.
    pub keys: usize,
    /// When the keys were last loaded (RFC 3339).
    pub last_refresh: Option<String>,
    /// Why the last refresh failed, if it did (the last good keys stay).
    pub last_error: Option<String>,
}

/// One configured provider with its live key set. Shared across reloads while
/// its config is unchanged (keys and refresh schedule kept).
pub struct Provider {
    pub(crate) config: JwtProvider,
    keys: ArcSwap<KeySet>,
    /// The bytes the current keys came from, to skip re-parsing unchanged files.
    source_bytes: Mutex<Option<Vec<u8>>>,
    status: Mutex<ProviderStatus>,
    refresher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.config.name)
            .finish()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some(t) = self.refresher.get_mut().ok().and_then(Option::take) {
            t.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Provider {
    /// Loads a provider's keys for the first time. A JWKS file must load (it
    /// is part of the config); a URL that cannot be fetched yet leaves the
    /// provider without keys (every token refused) until a refresh succeeds.
    pub(crate) async fn load(config: &JwtProvider) -> Result<Arc<Provider>, String> {
        let source = match &config.jwks {
            JwksSource::File { path, .. } => path.display().to_string(),
            JwksSource::Url { url, .. } => url.clone(),
        };
        let provider = Arc::new(Provider {
            config: config.clone(),
            keys: ArcSwap::from_pointee(KeySet::default()),
            source_bytes: Mutex::new(None),
            status: Mutex::new(ProviderStatus {
                name: config.name.clone(),
                source,
                ..Default::default()
            }),
            refresher: Mutex::new(None),
        });
        match provider.refresh().await {
            Ok(_) => {}
            Err(e) if matches!(config.jwks, JwksSource::File { .. }) => {
                return Err(format!("jwt provider `{}`: {e}", config.name));
            }
            Err(e) => {
                warn!(provider = %config.name, error = %e, "JWKS fetch failed; tokens are refused until a refresh succeeds");
            }
        }
        Ok(provider)
    }

    /// Fetches (or re-reads) the key set now. On failure the current keys stay.
    /// `Ok(true)` if the keys changed.
    pub(crate) async fn refresh(&self) -> Result<bool, String> {
        let result = match &self.config.jwks {
            JwksSource::File { path, .. } => tokio::fs::read(path)
                .await
                .map_err(|e| format!("cannot read JWKS {}: {e}", path.display())),
            JwksSource::Url { url, .. } => crate::fetch::get(url).await,
        };
        let now = crate::rfc3339(SystemTime::now());
        let outcome = result.and_then(|bytes| {
            if lock(&self.source_bytes).as_deref() == Some(&bytes[..]) {
                return Ok(false);
            }
            let set = KeySet::parse(&bytes)?;
            let n = set.len();
            self.keys.store(Arc::new(set));
            *lock(&self.source_bytes) = Some(bytes);
            info!(provider = %self.config.name, keys = n, "JWKS loaded");
            Ok(true)
        });
        let mut status = lock(&self.status);
        match &outcome {
            Ok(_) => {
                status.keys = self.keys.load().len();
                status.last_refresh = Some(now);
                status.last_error = None;
            }
            Err(e) => status.last_error = Some(format!("{now}: {e}")),
        }
        outcome
    }

    /// Starts the periodic refresh (once). Failures retry sooner, from 1 s
    /// doubling up to the refresh interval.
    pub(crate) fn start_refresh(self: &Arc<Self>) {
        let mut task = lock(&self.refresher);
        if task.is_some() {
            return;
        }
        let every = match &self.config.jwks {
            JwksSource::File { refresh, .. } | JwksSource::Url { refresh, .. } => *refresh,
        };
        let weak = Arc::downgrade(self);
        *task = Some(tokio::spawn(async move {
            let mut delay = every;
            loop {
                tokio::time::sleep(delay).await;
                let Some(p) = weak.upgrade() else { return };
                delay = match p.refresh().await {
                    Ok(_) => every,
                    Err(e) => {
                        warn!(provider = %p.config.name, error = %e, "JWKS refresh failed; keeping the last good keys");
                        let next = if delay >= every {
                            Duration::from_secs(1)
                        } else {
                            delay * 2
                        };
                        next.min(every)
                    }
                };
            }
        }));
    }

    pub(crate) fn status(&self) -> ProviderStatus {
        lock(&self.status).clone()
    }

    /// The request's token, from the first source that has one.
    pub fn token<'a>(
        &self,
        headers: &'a HeaderMap,
        query: Option<&'a str>,
    ) -> Option<Cow<'a, str>> {
        if let Some(t) = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
        {
            return Some(Cow::Borrowed(t));
        }
        if let Some(name) = &self.config.from_header
            && let Some(v) = headers.get(name.as_str()).and_then(|v| v.to_str().ok())
        {
            let v = bearer(v).unwrap_or(v.trim());
            if !v.is_empty() {
                return Some(Cow::Borrowed(v));
            }
        }
        if let Some(name) = &self.config.from_query
            && let Some(v) = query_param(query, name)
        {
            return Some(v);
        }
        // Browsers cannot set headers on a WebSocket: `Bearer, <token>`.
        headers
            .get(http::header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (first, token) = v.split_once(',')?;
                let token = token.trim();
                (first.trim() == "Bearer" && !token.is_empty()).then_some(Cow::Borrowed(token))
            })
    }

    /// Verifies `token` and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let invalid = |m: &str| AuthError::Invalid(m.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed token"))?;
        let keys = self.keys.load();
        if keys.keys.is_empty() {
            return Err(invalid("no signing keys are loaded for this issuer"));
        }
        let alg = header.alg;
        let candidates: Vec<&Key> = keys
            .keys
            .iter()
            .filter(|k| k.family == alg.family() && k.alg.is_none_or(|a| a == alg))
            .filter(|k| header.kid.is_none() || k.kid == header.kid)
            .collect();
        if candidates.is_empty() {
            return Err(match &header.kid {
                Some(_) => invalid("no key matches the token's kid"),
                None => invalid("no key matches the token's algorithm"),
            });
        }
        let mut validation = Validation::new(alg);
        validation.leeway = self.config.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        if let Some(iss) = &self.config.issuer {
            validation.set_issuer(&[iss]);
        }
        if self.config.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.config.audiences);
        }
        let mut last = invalid("token signature is invalid");
        for key in candidates {
            match jsonwebtoken::decode::<Claims>(token, &key.key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => {
                    last = match e.kind() {
                        ErrorKind::InvalidSignature => invalid("token signature is invalid"),
                        ErrorKind::ExpiredSignature => return Err(invalid("token expired")),
                        ErrorKind::ImmatureSignature => {
                            return Err(invalid("token not yet valid (nbf)"));
                        }
                        ErrorKind::InvalidIssuer => {
                            return Err(invalid("token issuer not allowed"));
                        }
                        ErrorKind::InvalidAudience => {
                            return Err(invalid("token audience not allowed"));
                        }
                        ErrorKind::MissingRequiredClaim(c) => {
                            return Err(AuthError::Invalid(format!("token has no `{c}` claim")));
                        }
                        ErrorKind::InvalidClaimFormat(c) => {
                            return Err(AuthError::Invalid(format!(
                                "token claim `{c}` is malformed"
                            )));
                        }
                        _ => invalid("malformed token"),
                    };
                }
            }
        }
        Err(last)
    }
}

/// The token of `Bearer <token>` (scheme case-insensitive, RFC 6750 §2.1).
fn bearer(v: &str) -> Option<&str> {
    let (scheme, token) = v.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The first value of query parameter `name`, percent-decoded.
fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<Cow<'a, str>> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name && !v.is_empty()).then(|| {
            if v.contains('+') {
                // Form encoding: `+` is a space, decoded before `%XX`.
                let spaced = v.replace('+', " ");
                let decoded = percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy();
                Cow::Owned(decoded.into_owned())
            } else {
                percent_encoding::percent_decode_str(v).decode_utf8_lossy()
            }
        })
    })
}

/// `query` without parameter `name` (the token is not passed on to the
/// backend, nor seen by strict query decoding); `None` if it had none.
pub(crate) fn strip_query_param(query: &str, name: &str) -> Option<String> {
    let mut found = false;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let k = pair.split_once('=').map_or(*pair, |(k, _)| k);
            let drop = k == name;
            found |= drop;
            !drop
        })
        .collect();
    found.then(|| kept.join("&"))
}

/// A claim's value as metadata text: strings as they are, other JSON as JSON.
pub(crate) fn claim_text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

#[cfg(test)]
mod tests;
