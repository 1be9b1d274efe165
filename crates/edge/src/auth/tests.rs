//! JWT verification with real keys made in the test (rcgen for EC and Ed25519,
//! a random HMAC secret) and real signed tokens.

use std::time::UNIX_EPOCH;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use super::*;

struct Signer {
    kid: &'static str,
    alg: Algorithm,
    key: EncodingKey,
    jwk: Value,
}

fn es256(kid: &'static str) -> Signer {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let raw = kp.public_key_raw();
    Signer {
        kid,
        alg: Algorithm::ES256,
        key: EncodingKey::from_ec_der(&kp.serialize_der()),
        jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
                    "x": B64.encode(&raw[1..33]), "y": B64.encode(&raw[33..65])}),
    }
}

fn eddsa(kid: &'static str) -> Signer {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    Signer {
        kid,
        alg: Algorithm::EdDSA,
        key: EncodingKey::from_ed_der(&kp.serialize_der()),
        jwk: json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": B64.encode(kp.public_key_raw())}),
    }
}

fn hs256(kid: &'static str, secret: &[u8]) -> Signer {
    Signer {
        kid,
        alg: Algorithm::HS256,
        key: EncodingKey::from_secret(secret).unwrap(),
        jwk: json!({"kty": "oct", "kid": kid, "alg": "HS256", "k": B64.encode(secret)}),
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Signer {
    fn sign(&self, claims: Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.into());
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }

    fn good(&self) -> String {
        self.sign(
            json!({"iss": "https://issuer.test", "aud": "api", "sub": "user-1",
                         "exp": now() + 600, "nbf": now() - 10}),
        )
    }
}

fn provider(signers: &[&Signer]) -> Provider {
    let jwks = json!({"keys": signers.iter().map(|s| s.jwk.clone()).collect::<Vec<_>>()});
    let set = KeySet::parse(jwks.to_string().as_bytes()).unwrap_or_default();
    Provider {
        config: JwtProvider {
            name: "test".into(),
            issuer: Some("https://issuer.test".into()),
            audiences: vec!["api".into()],
            jwks: JwksSource::File {
                path: "/nonexistent".into(),
                refresh: Duration::from_secs(600),
            },
            forward_claims: vec![("sub".into(), "x-user-id".into())],
            leeway: Duration::from_secs(5),
            from_header: Some("x-token".into()),
            from_query: Some("access_token".into()),
        },
        keys: ArcSwap::from_pointee(set),
        source_bytes: Mutex::new(None),
        status: Mutex::default(),
        refresher: Mutex::new(None),
    }
}

#[test]
fn every_algorithm_verifies() {
    let (e, d, h) = (
        es256("e"),
        eddsa("d"),
        hs256("h", b"0123456789abcdef0123456789abcdef"),
    );
    let p = provider(&[&e, &d, &h]);
    for s in [&e, &d, &h] {
        let claims = p
            .verify(&s.good())
            .unwrap_or_else(|err| panic!("{:?}: {err:?}", s.alg));
        assert_eq!(claims["sub"], "user-1");
    }
}

#[test]
fn failures_say_what_failed() {
    let e = es256("e");
    let p = provider(&[&e]);
    let bad = |token: String| p.verify(&token).unwrap_err().message().to_string();
    assert_eq!(
        bad(e.sign(json!({"iss": "https://issuer.test", "aud": "api", "exp": now() - 60}))),
        "token expired"
    );
    assert_eq!(
        bad(e.sign(json!({"iss": "https://issuer.test", "aud": "api", "exp": now() + 60, "nbf": now() + 60}))),
        "token not yet valid (nbf)"
    );
    assert_eq!(
        bad(e.sign(json!({"iss": "https://issuer.test", "aud": "other", "exp": now() + 60}))),
        "token audience not allowed"
    );
    assert_eq!(
        bad(e.sign(json!({"iss": "https://evil.test", "aud": "api", "exp": now() + 60}))),
        "token issuer not allowed"
    );
    assert_eq!(
        bad(e.sign(json!({"iss": "https://issuer.test", "aud": "api"}))),
        "token has no `exp` claim"
    );
    // Same kid, another key: a forged signature.
    let forger = es256("e");
    assert_eq!(bad(forger.good()), "token signature is invalid");
    let stranger = es256("unknown");
    assert_eq!(bad(stranger.good()), "no key matches the token's kid");
    assert_eq!(bad("not.a.jwt".into()), "malformed token");
    // Within the leeway, an expired token still passes.
    assert!(
        p.verify(&e.sign(json!({"iss": "https://issuer.test", "aud": "api", "exp": now() - 2})))
            .is_ok()
    );
}

#[test]
fn an_hmac_token_cannot_use_a_public_key_as_its_secret() {
    // The classic algorithm confusion: HS256 signed with the EC key's public
    // JWK bytes must not verify against the EC key.
    let e = es256("e");
    let p = provider(&[&e]);
    let confused = hs256("e", e.jwk.to_string().as_bytes());
    assert_eq!(
        p.verify(&confused.good()).unwrap_err().message(),
        "no key matches the token's kid"
    );
}

#[test]
fn token_sources() {
    let e = es256("e");
    let p = provider(&[&e]);
    let mut h = HeaderMap::new();
    assert_eq!(p.token(&h, None), None);
    assert_eq!(
        p.token(&h, Some("access_token=q%2Et")).as_deref(),
        Some("q.t")
    );
    h.insert("sec-websocket-protocol", "Bearer, ws.t".parse().unwrap());
    assert_eq!(p.token(&h, None).as_deref(), Some("ws.t"));
    h.insert("x-token", "Bearer hdr.t".parse().unwrap());
    assert_eq!(p.token(&h, None).as_deref(), Some("hdr.t"));
    h.insert("authorization", "bearer auth.t".parse().unwrap());
    assert_eq!(
        p.token(&h, Some("access_token=q")).as_deref(),
        Some("auth.t")
    );
    h.insert("authorization", "Basic abc".parse().unwrap());
    assert_eq!(p.token(&h, None).as_deref(), Some("hdr.t"));
}

#[test]
fn query_token_is_stripped() {
    assert_eq!(
        strip_query_param("a=1&access_token=x&b=2", "access_token").as_deref(),
        Some("a=1&b=2")
    );
    assert_eq!(
        strip_query_param("access_token=x", "access_token").as_deref(),
        Some("")
    );
    assert_eq!(strip_query_param("a=1", "access_token"), None);
}

#[test]
fn www_authenticate_follows_rfc_6750() {
    assert_eq!(
        AuthError::Missing.www_authenticate("corp"),
        "Bearer realm=\"corp\""
    );
    assert_eq!(
        AuthError::Invalid("token expired".into()).www_authenticate("corp"),
        "Bearer realm=\"corp\", error=\"invalid_token\", error_description=\"token expired\""
    );
}

#[test]
fn jwks_parsing() {
    assert!(KeySet::parse(b"{}").is_err());
    assert!(KeySet::parse(b"{\"keys\": []}").is_err());
    let e = es256("e");
    let doc = json!({"keys": [{"kty": "RSA", "use": "enc", "n": "x", "e": "AQAB"},
                             {"kty": "weird"}, e.jwk]});
    assert_eq!(KeySet::parse(doc.to_string().as_bytes()).unwrap().len(), 1);
}

/// A one-route HTTP server answering every GET with `body()` (status 200) or
/// 500 while `failing` is set.
async fn jwks_server(
    body: Arc<Mutex<String>>,
    failing: Arc<std::sync::atomic::AtomicBool>,
) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let (body, failing) = (body.clone(), failing.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                let (status, text) = if failing.load(std::sync::atomic::Ordering::SeqCst) {
                    ("500 Internal Server Error", String::new())
                } else {
                    ("200 OK", body.lock().unwrap().clone())
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn jwks_from_a_url_refreshes_and_keeps_the_last_good_keys() {
    let first = es256("first");
    let body = Arc::new(Mutex::new(json!({"keys": [first.jwk]}).to_string()));
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let addr = jwks_server(body.clone(), failing.clone()).await;
    let mut config = provider(&[]).config.clone();
    config.jwks = JwksSource::Url {
        url: format!("http://{addr}/jwks.json"),
        refresh: Duration::from_secs(600),
    };
    let p = Provider::load(&config).await.unwrap();
    assert!(p.verify(&first.good()).is_ok());
    assert_eq!(p.status().keys, 1);

    // A failed refresh keeps the keys and says why.
    failing.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(p.refresh().await.is_err());
    assert!(p.verify(&first.good()).is_ok(), "last good keys kept");
    assert!(p.status().last_error.unwrap().contains("HTTP 500"));

    // A rotated set is picked up by the next refresh.
    let second = es256("second");
    *body.lock().unwrap() = json!({"keys": [second.jwk]}).to_string();
    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(p.refresh().await, Ok(true));
    assert!(p.verify(&second.good()).is_ok());
    assert!(p.verify(&first.good()).is_err());
    assert_eq!(p.status().last_error, None);
}

#[tokio::test]
async fn an_unreachable_url_starts_without_keys_a_bad_file_is_an_error() {
    let mut config = provider(&[]).config.clone();
    config.jwks = JwksSource::Url {
        url: "http://127.0.0.1:1/jwks.json".into(),
        refresh: Duration::from_secs(600),
    };
    let p = Provider::load(&config).await.unwrap();
    assert_eq!(
        p.verify(&es256("k").good()).unwrap_err().message(),
        "no signing keys are loaded for this issuer"
    );
    config.jwks = JwksSource::File {
        path: "/nonexistent/jwks.json".into(),
        refresh: Duration::from_secs(600),
    };
    let e = Provider::load(&config).await.unwrap_err();
    assert!(e.contains("cannot read JWKS /nonexistent/jwks.json"), "{e}");
}
