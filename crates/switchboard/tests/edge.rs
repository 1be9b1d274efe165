//! The secure edge against the real binary: TLS and mTLS on the listener
//! (HTTPS and native gRPC, certificate rotation on disk), TLS and mTLS to
//! backends, JWT authentication (real ES256 tokens, a JWKS file rotated on
//! disk), rate and concurrency limits. Certificates and keys are made in the
//! test; nothing private is committed.

use std::path::Path;
use std::time::Duration;

use http::Method;
use serde_json::json;
use switchboard_examples::Reflection;
use switchboard_examples::pb::helloworld::HelloRequest;
use switchboard_examples::pb::helloworld::greeter_client::GreeterClient;
use switchboard_examples::pb::switchboard::testing::v1::EchoRequest;
use switchboard_examples::pb::switchboard::testing::v1::echo_client::EchoClient;
mod support;

use support::pki::{self, Ca, Https, Signer, TlsFront};
use support::{Backend, Gateway, backend_yaml, eventually, free_port, get, request};
use tonic::Code;

/// A gateway over `backends` with `extra` top-level config, in `dir`.
async fn gateway_in(dir: tempfile::TempDir, backends: &str, extra: &str) -> Gateway {
    let config = dir.path().join("switchboard.yaml");
    let http = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    std::fs::write(&config, Gateway::render(http, admin, backends) + extra).unwrap();
    Gateway::start_with(dir, config, http, admin).await
}

/// Sum of `switchboard_upstream_attempts_total` (calls sent to backends).
async fn upstream_attempts(gw: &Gateway) -> u64 {
    metric_sum(gw, "switchboard_upstream_attempts_total").await
}

async fn metric_sum(gw: &Gateway, name: &str) -> u64 {
    let text = get(&gw.admin_url("/metrics")).await.unwrap().body;
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

async fn metric_line(gw: &Gateway, needle: &str) -> Option<String> {
    let text = get(&gw.admin_url("/metrics")).await.unwrap().body;
    text.lines()
        .find(|l| l.contains(needle))
        .map(str::to_string)
}

fn tls_yaml(cert: &Path, key: &Path, client_ca: Option<&Path>) -> String {
    let mut s = format!(
        "tls:\n  cert: {}\n  key: {}\n",
        cert.display(),
        key.display()
    );
    if let Some(ca) = client_ca {
        s += &format!("  client_ca: {}\n", ca.display());
    }
    s
}

// ---------------------------------------------------------------------------------
// TLS on the listener
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn https_and_native_grpc_over_tls() {
    let backend = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let ca = Ca::new("test ca");
    let pair = ca.leaf(&["localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let cert = pki::write(dir.path(), "gw.pem", &pair.cert);
    let key = pki::write(dir.path(), "gw.key", &pair.key);
    let gw = gateway_in(
        dir,
        &backend_yaml("greeter", backend.addr, ""),
        &tls_yaml(&cert, &key, None),
    )
    .await;

    // HTTP/JSON over HTTPS (ALPN http/1.1).
    let mut https = Https::open(gw.http, pki::client_config(&ca.pem, None, &[b"http/1.1"]))
        .await
        .unwrap();
    let r = https
        .post(
            "/helloworld.Greeter/SayHello",
            &[("content-type", "application/json")],
            r#"{"name":"tls"}"#,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["message"], "Hello, tls!");

    // Native gRPC over TLS (ALPN h2).
    let channel = pki::grpc_channel(gw.http, pki::client_config(&ca.pem, None, &[b"h2"]))
        .await
        .unwrap();
    let reply = GreeterClient::new(channel)
        .say_hello(HelloRequest { name: "h2".into() })
        .await
        .unwrap();
    assert_eq!(reply.get_ref().message, "Hello, h2!");

    // Plaintext on the TLS port is not served.
    assert!(
        request(
            Method::GET,
            &gw.url("/helloworld.Greeter/SayHello"),
            &[],
            None
        )
        .await
        .is_err()
    );
    let status = gw.status().await;
    assert_eq!(status["edge"]["tls"]["client_auth"], false, "{status}");
    assert!(status["edge"]["tls"]["not_after"].is_string(), "{status}");
}

#[tokio::test]
async fn mtls_requires_a_client_certificate() {
    let backend = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let ca = Ca::new("server ca");
    let clients = Ca::new("client ca");
    let pair = ca.leaf(&["localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let cert = pki::write(dir.path(), "gw.pem", &pair.cert);
    let key = pki::write(dir.path(), "gw.key", &pair.key);
    let client_ca = pki::write(dir.path(), "clients.pem", &clients.pem);
    let gw = gateway_in(
        dir,
        &backend_yaml("greeter", backend.addr, ""),
        &tls_yaml(&cert, &key, Some(&client_ca)),
    )
    .await;
    let call = |config| async move {
        let mut https = Https::open(gw.http, config)
            .await
            .map_err(|e| e.to_string())?;
        https
            .post("/helloworld.Greeter/SayHello", &[], r#"{"name":"m"}"#)
            .await
    };
    // No client certificate: refused (TLS 1.3 reports it on the first read).
    assert!(
        call(pki::client_config(&ca.pem, None, &[b"http/1.1"]))
            .await
            .is_err()
    );
    // A certificate from another CA: refused.
    let stranger = Ca::new("stranger").leaf(&["client"]);
    assert!(
        call(pki::client_config(&ca.pem, Some(&stranger), &[b"http/1.1"]))
            .await
            .is_err()
    );
    // A certificate the client CA signed: served.
    let client = clients.leaf(&["client"]);
    let r = call(pki::client_config(&ca.pem, Some(&client), &[b"http/1.1"]))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        metric_line(&gw, "reason=\"tls\"").await.is_some(),
        "refused handshakes are counted"
    );
}

#[tokio::test]
async fn rotated_certificate_serves_new_connections_and_old_ones_keep_working() {
    let backend = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let ca = Ca::new("rotation ca");
    let first = ca.leaf(&["localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let cert = pki::write(dir.path(), "gw.pem", &first.cert);
    let key = pki::write(dir.path(), "gw.key", &first.key);
    let gw = gateway_in(
        dir,
        &backend_yaml("greeter", backend.addr, ""),
        &tls_yaml(&cert, &key, None),
    )
    .await;
    let config = pki::client_config(&ca.pem, None, &[b"http/1.1"]);
    let mut old = Https::open(gw.http, config.clone()).await.unwrap();
    let old_cert = old.peer_cert.clone();
    assert_eq!(
        old.post("/helloworld.Greeter/SayHello", &[], "{}")
            .await
            .unwrap()
            .status,
        200
    );

    // A bad pair (the key of another certificate) is refused; the old pair stays.
    let other = ca.leaf(&["localhost"]);
    pki::write(gw.dir.path(), "gw.key", &other.key);
    assert!(
        eventually(|| async { metric_line(&gw, "reason=\"tls\"").await.is_some() }).await,
        "the bad pair was not noticed; log:\n{}",
        gw.log()
    );
    let probe = Https::open(gw.http, config.clone()).await.unwrap();
    assert_eq!(probe.peer_cert, old_cert, "the old pair keeps serving");

    // The new pair: new connections get it.
    let second = ca.leaf(&["localhost"]);
    pki::write(gw.dir.path(), "gw.pem", &second.cert);
    pki::write(gw.dir.path(), "gw.key", &second.key);
    let rotated = eventually(|| {
        let config = config.clone();
        let old_cert = old_cert.clone();
        async move {
            let c = Https::open(gw.http, config).await.unwrap();
            c.peer_cert != old_cert
        }
    })
    .await;
    assert!(
        rotated,
        "new connections still see the old certificate; log:\n{}",
        gw.log()
    );
    let mut fresh = Https::open(gw.http, config).await.unwrap();
    assert_eq!(
        fresh
            .post("/helloworld.Greeter/SayHello", &[], "{}")
            .await
            .unwrap()
            .status,
        200
    );
    // The connection opened before the rotation still works.
    let r = old
        .post("/helloworld.Greeter/SayHello", &[], r#"{"name":"old"}"#)
        .await
        .unwrap();
    assert_eq!(r.json()["message"], "Hello, old!");
}

// ---------------------------------------------------------------------------------
// TLS to backends
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn tls_and_mtls_backends_through_discovery_and_calls() {
    let plain = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let ca = Ca::new("backend ca");
    let server = ca.leaf(&["greeter.internal"]);
    let tls_front = TlsFront::start(plain.addr, &server, None).await;
    let clients = Ca::new("gateway clients");
    let mtls_front = TlsFront::start(plain.addr, &server, Some(&clients.pem)).await;
    let gateway_cert = clients.leaf(&["gateway"]);

    let dir = tempfile::tempdir().unwrap();
    let ca_file = pki::write(dir.path(), "backend-ca.pem", &ca.pem);
    let client_cert = pki::write(dir.path(), "client.pem", &gateway_cert.cert);
    let client_key = pki::write(dir.path(), "client.key", &gateway_cert.key);
    let backends = backend_yaml(
        "tls",
        tls_front.addr,
        &format!(
            "tls: {{ca: {}, server_name: greeter.internal}}\nservices: {{include: [helloworld.Greeter]}}",
            ca_file.display()
        ),
    ) + &backend_yaml(
        "mtls",
        mtls_front.addr,
        &format!(
            "tls: {{ca: {}, cert: {}, key: {}, server_name: greeter.internal}}\nservices: {{include: [switchboard.testing.v1.Echo]}}",
            ca_file.display(),
            client_cert.display(),
            client_key.display()
        ),
    );
    let gw = gateway_in(dir, &backends, "").await;
    let status = gw.status().await;
    for b in status["backends"].as_array().unwrap() {
        assert_eq!(b["state"], "ok", "discovery over TLS: {status}");
    }
    let r = request(
        Method::POST,
        &gw.url("/helloworld.Greeter/SayHello"),
        &[],
        Some(r#"{"name":"tls"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["message"], "Hello, tls!");
    let r = request(
        Method::POST,
        &gw.url("/switchboard.testing.v1.Echo/Echo"),
        &[],
        Some(r#"{"stringValue":"mtls"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["request"]["stringValue"], "mtls");
}

// ---------------------------------------------------------------------------------
// JWT authentication
// ---------------------------------------------------------------------------------

const ISSUER: &str = "https://issuer.test";

fn claims(sub: &str, aud: &str, exp_in: i64) -> serde_json::Value {
    json!({"iss": ISSUER, "aud": aud, "sub": sub, "exp": pki::now() + exp_in, "iat": pki::now()})
}

/// A greeter backend requiring provider `corp` (ES256 keys in a JWKS file,
/// refreshed every 200 ms), with `SayHello` exempt.
async fn jwt_setup(signer: &Signer) -> (Backend, Gateway) {
    let backend = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let dir = tempfile::tempdir().unwrap();
    let jwks = pki::write(dir.path(), "jwks.json", &pki::jwks(&[signer]));
    let extra = format!(
        "jwt_providers:\n  - name: corp\n    issuer: {ISSUER}\n    audiences: [api]\n    jwks: {{file: {}, refresh: 200ms}}\n    forward_claims: {{sub: x-user-id}}\n    from_query: access_token\n",
        jwks.display()
    );
    let backends = backend_yaml(
        "greeter",
        backend.addr,
        "auth: {jwt: corp, exempt: [\"helloworld.Greeter/SayHello\"]}",
    );
    let gw = gateway_in(dir, &backends, &extra).await;
    (backend, gw)
}

async fn echo_with(gw: &Gateway, headers: &[(&str, &str)]) -> support::Reply {
    request(
        Method::POST,
        &gw.url("/switchboard.testing.v1.Echo/Echo"),
        headers,
        Some(r#"{"stringValue":"hi"}"#),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn jwt_refusals_never_reach_the_backend() {
    let signer = Signer::es256("k1");
    let (_b, gw) = jwt_setup(&signer).await;
    let before = upstream_attempts(&gw).await;
    let forger = Signer::es256("k1");
    let stranger = Signer::es256("k9");
    let cases = [
        (None, "missing bearer token"),
        (
            Some(forger.sign(claims("u", "api", 600))),
            "token signature is invalid",
        ),
        (Some(signer.sign(claims("u", "api", -600))), "token expired"),
        (
            Some(signer.sign(claims("u", "other", 600))),
            "token audience not allowed",
        ),
        (
            Some(stranger.sign(claims("u", "api", 600))),
            "no key matches the token's kid",
        ),
    ];
    for (token, message) in &cases {
        let auth = token.as_ref().map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        let r = echo_with(&gw, &headers).await;
        assert_eq!(r.status, 401, "{message}: {}", r.body);
        assert_eq!(r.json()["code"], 16);
        assert_eq!(r.json()["message"], *message);
        let www = r.header("www-authenticate").unwrap();
        if token.is_some() {
            assert_eq!(
                www,
                format!(
                    "Bearer realm=\"corp\", error=\"invalid_token\", error_description=\"{message}\""
                )
            );
            assert!(
                !r.body.contains(token.as_deref().unwrap()),
                "the token is not echoed"
            );
        } else {
            assert_eq!(
                www, "Bearer realm=\"corp\"",
                "RFC 6750: no error code without a token"
            );
        }
    }
    // Native gRPC: UNAUTHENTICATED, also never sent on.
    let channel = tonic::transport::Channel::from_shared(gw.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let err = EchoClient::new(channel.clone())
        .echo(EchoRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(err.message(), "missing bearer token");
    assert_eq!(
        upstream_attempts(&gw).await,
        before,
        "no refused call was sent upstream"
    );
    assert!(
        metric_line(&gw, "reason=\"auth\"")
            .await
            .is_some_and(|l| l.ends_with(" 6")),
        "{:?}",
        metric_line(&gw, "switchboard_rejected_total").await
    );

    // An exempt method stays open.
    let r = request(
        Method::POST,
        &gw.url("/helloworld.Greeter/SayHello"),
        &[],
        Some("{}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let r = GreeterClient::new(channel)
        .say_hello(HelloRequest::default())
        .await;
    assert!(r.is_ok(), "{r:?}");
}

#[tokio::test]
async fn valid_token_forwards_claims_and_replaces_client_copies() {
    let signer = Signer::es256("k1");
    let (_b, gw) = jwt_setup(&signer).await;
    let token = signer.sign(claims("user-42", "api", 600));
    let auth = format!("Bearer {token}");
    let r = echo_with(
        &gw,
        &[
            ("authorization", &auth),
            ("x-user-id", "forged"),
            ("grpc-metadata-x-user-id", "forged"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["metadata"]["x-user-id"], "user-42", "{}", r.body);

    // The same from a query parameter, which is not passed on.
    let r = request(
        Method::POST,
        &gw.url(&format!(
            "/switchboard.testing.v1.Echo/Echo?access_token={token}"
        )),
        &[],
        Some("{}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["metadata"]["x-user-id"], "user-42");

    // Native gRPC: a forged x-user-id is replaced too.
    let channel = tonic::transport::Channel::from_shared(gw.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut req = tonic::Request::new(EchoRequest::default());
    req.metadata_mut()
        .insert("authorization", auth.parse().unwrap());
    req.metadata_mut()
        .insert("x-user-id", "forged".parse().unwrap());
    let reply = EchoClient::new(channel).echo(req).await.unwrap();
    assert_eq!(reply.get_ref().metadata["x-user-id"], "user-42");
}

#[tokio::test]
async fn jwks_rotation_through_the_refreshed_file() {
    let old = Signer::es256("old");
    let (_b, gw) = jwt_setup(&old).await;
    let new = Signer::es256("new");
    let new_token = format!("Bearer {}", new.sign(claims("u", "api", 600)));
    assert_eq!(
        echo_with(&gw, &[("authorization", &new_token)])
            .await
            .status,
        401
    );
    pki::write(gw.dir.path(), "jwks.json", &pki::jwks(&[&new]));
    let accepted = eventually(|| {
        let new_token = new_token.clone();
        let gw = &gw;
        async move { echo_with(gw, &[("authorization", &new_token)]).await.status == 200 }
    })
    .await;
    assert!(
        accepted,
        "the rotated key was never accepted; log:\n{}",
        gw.log()
    );
    // A broken file keeps the last good keys.
    pki::write(gw.dir.path(), "jwks.json", "{ not json");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        echo_with(&gw, &[("authorization", &new_token)])
            .await
            .status,
        200
    );
    let old_token = format!("Bearer {}", old.sign(claims("u", "api", 600)));
    assert_eq!(
        echo_with(&gw, &[("authorization", &old_token)])
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn auth_added_by_a_reload_applies_without_restart() {
    let backend = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let signer = Signer::es256("k1");
    let dir = tempfile::tempdir().unwrap();
    let jwks = pki::write(dir.path(), "jwks.json", &pki::jwks(&[&signer]));
    let gw = gateway_in(dir, &backend_yaml("greeter", backend.addr, ""), "").await;
    assert_eq!(echo_with(&gw, &[]).await.status, 200);
    let version = gw.version().await;
    let extra = format!(
        "jwt_providers:\n  - name: corp\n    jwks: {{file: {}}}\n",
        jwks.display()
    );
    support::rename_save(
        &gw.config,
        &(gw.config_text(&backend_yaml("greeter", backend.addr, "auth: {jwt: corp}")) + &extra),
    );
    gw.wait_version_after(version).await;
    assert_eq!(echo_with(&gw, &[]).await.status, 401);
    let token = format!(
        "Bearer {}",
        signer.sign(json!({"sub": "u", "exp": pki::now() + 60}))
    );
    assert_eq!(
        echo_with(&gw, &[("authorization", &token)]).await.status,
        200
    );
}

// ---------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn rate_limit_by_key_with_retry_after() {
    let backend = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let gw = Gateway::start(&backend_yaml(
        "greeter",
        backend.addr,
        "rate_limit: {per_second: 0.01, burst: 2, key: header x-api-key, methods: [\"switchboard.testing.v1.Echo/*\"]}",
    ))
    .await;
    for _ in 0..2 {
        assert_eq!(echo_with(&gw, &[("x-api-key", "a")]).await.status, 200);
    }
    let before = upstream_attempts(&gw).await;
    let r = echo_with(&gw, &[("x-api-key", "a")]).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["code"], 8);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1, "Retry-After {retry}");
    assert_eq!(upstream_attempts(&gw).await, before, "never sent upstream");
    // Another key is unaffected, and so are methods the limit does not name.
    assert_eq!(echo_with(&gw, &[("x-api-key", "b")]).await.status, 200);
    let r = request(
        Method::POST,
        &gw.url("/helloworld.Greeter/SayHello"),
        &[("x-api-key", "a")],
        Some("{}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    // Native gRPC callers get RESOURCE_EXHAUSTED.
    let channel = tonic::transport::Channel::from_shared(gw.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut req = tonic::Request::new(EchoRequest::default());
    req.metadata_mut().insert("x-api-key", "a".parse().unwrap());
    let err = EchoClient::new(channel).echo(req).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(metric_line(&gw, "reason=\"rate_limit\"").await.is_some());
    let status = gw.status().await;
    assert_eq!(
        status["edge"]["backends"][0]["rate_limit"]["key"], "header x-api-key",
        "{status}"
    );
}

#[tokio::test]
async fn concurrency_limit_sheds_at_once_while_the_others_finish() {
    let backend = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let gw = Gateway::start(&backend_yaml(
        "greeter",
        backend.addr,
        "max_concurrent_requests: 1",
    ))
    .await;
    let url = gw.url("/switchboard.testing.v1.Echo/Echo");
    let slow = tokio::spawn({
        let url = url.clone();
        async move { request(Method::POST, &url, &[], Some(r#"{"delayMs":3000}"#)).await }
    });
    // Wait until the slow call is in flight (as /status shows it).
    assert!(
        eventually(|| async { gw.status().await["edge"]["backends"][0]["in_flight"] == 1 }).await,
        "the slow call never started"
    );
    let r = request(Method::POST, &url, &[], Some("{}")).await.unwrap();
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["code"], 14);
    assert!(
        !slow.is_finished(),
        "the refusal did not wait for the call in flight"
    );
    let first = slow.await.unwrap().unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
    // The slot is free again.
    assert_eq!(
        request(Method::POST, &url, &[], Some("{}"))
            .await
            .unwrap()
            .status,
        200
    );
    assert!(metric_line(&gw, "reason=\"concurrency\"").await.is_some());
}

#[tokio::test]
async fn max_connections_closes_the_connection_over_the_limit() {
    let backend = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway_in(
        dir,
        &backend_yaml("greeter", backend.addr, ""),
        "limits:\n  max_connections: 1\n",
    )
    .await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut held = tokio::net::TcpStream::connect(gw.http).await.unwrap();
    held.write_all(b"GET /nope HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    assert!(
        held.read(&mut buf).await.unwrap() > 0,
        "the first connection is served"
    );
    let mut over = tokio::net::TcpStream::connect(gw.http).await.unwrap();
    let _ = over
        .write_all(b"GET /nope HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let n = over.read(&mut buf).await.unwrap_or(0);
    assert_eq!(n, 0, "the connection over the limit is closed unanswered");
    assert!(metric_line(&gw, "reason=\"connections\"").await.is_some());
    drop(held);
}

#[tokio::test]
async fn websocket_and_grpc_web_get_the_same_policy() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let signer = Signer::es256("k1");
    let (_b, gw) = jwt_setup(&signer).await;
    let url = format!("ws://{}/switchboard.testing.v1.Echo/Chat", gw.http);

    // No token: the upgrade is refused with 401.
    match tokio_tungstenite::connect_async(url.clone()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("expected a 401 refusal, got {other:?}"),
    }
    // The `Bearer, <token>` subprotocol authenticates, and the claim is forwarded.
    let token = signer.sign(claims("ws-user", "api", 600));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        format!("Bearer, {token}").parse().unwrap(),
    );
    let (mut ws, response) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(response.status(), 101);
    ws.send(Message::text(r#"{"stringValue":"ws"}"#))
        .await
        .unwrap();
    let reply = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Text(t) => {
                break serde_json::from_str::<serde_json::Value>(t.as_str()).unwrap();
            }
            _ => continue,
        }
    };
    assert_eq!(
        reply["result"]["metadata"]["x-user-id"], "ws-user",
        "{reply}"
    );

    // gRPC-Web without a token: trailers-only UNAUTHENTICATED in its own flavour.
    let r = request(
        Method::POST,
        &gw.url("/switchboard.testing.v1.Echo/Echo"),
        &[
            ("content-type", "application/grpc-web-text"),
            ("x-grpc-web", "1"),
        ],
        Some("AAAAAAA="),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("grpc-status"), Some("16"));
    assert_eq!(r.header("grpc-message"), Some("missing%20bearer%20token"));
    assert_eq!(
        r.header("content-type"),
        Some("application/grpc-web-text+proto")
    );
    assert!(r.header("www-authenticate").is_some());
}

/// Connect calls are admitted by the same policy and refused in Connect's own
/// error form (POST and the cacheable GET alike); a valid token's claim reaches
/// the backend as metadata.
#[tokio::test]
async fn connect_gets_the_same_policy_in_its_error_form() {
    let signer = Signer::es256("k1");
    let (_b, gw) = jwt_setup(&signer).await;
    let path = "/switchboard.testing.v1.Echo/Echo";
    let connect = [
        ("content-type", "application/json"),
        ("connect-protocol-version", "1"),
    ];
    let r = request(
        Method::POST,
        &gw.url(path),
        &connect,
        Some(r#"{"stringValue":"c"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["code"], "unauthenticated", "{v}");
    assert_eq!(v["message"], "missing bearer token", "{v}");

    // The GET form is found by its gRPC path too, so it cannot slip past.
    let get = format!("{path}?connect=v1&encoding=json&message=%7B%22stringValue%22%3A%22g%22%7D");
    let r = request(Method::GET, &gw.url(&get), &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["code"], "unauthenticated", "{v}");

    let token = format!("Bearer {}", signer.sign(claims("connect-user", "api", 600)));
    let mut headers = connect.to_vec();
    headers.push(("authorization", &token));
    headers.push(("x-user-id", "forged"));
    let r = request(
        Method::POST,
        &gw.url(path),
        &headers,
        Some(r#"{"stringValue":"c"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["metadata"]["x-user-id"], "connect-user", "{v}");
}

#[tokio::test]
async fn check_reads_certificates_keys_and_jwks() {
    let ca = Ca::new("check ca");
    let pair = ca.leaf(&["localhost"]);
    let other = ca.leaf(&["localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let cert = pki::write(dir.path(), "gw.pem", &pair.cert);
    let key = pki::write(dir.path(), "gw.key", &pair.key);
    let wrong_key = pki::write(dir.path(), "other.key", &other.key);
    let jwks = pki::write(dir.path(), "jwks.json", &pki::jwks(&[&Signer::es256("k")]));
    let bad_jwks = pki::write(dir.path(), "bad.json", "{\"keys\": []}");
    let config = dir.path().join("sb.yaml");
    let run = |text: String| {
        std::fs::write(&config, text).unwrap();
        let out = std::process::Command::new(support::switchboard_bin())
            .args(["check", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let providers = |file: &Path| {
        format!(
            "jwt_providers:\n  - name: corp\n    jwks: {{file: {}}}\n",
            file.display()
        )
    };
    let (code, out) = run(tls_yaml(&cert, &key, None) + &providers(&jwks));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("gw.pem ok (key matches; expires 4096-01-01T00:00:00Z"),
        "{out}"
    );
    assert!(
        out.contains("jwt provider `corp`:") && out.contains("ok (1 key(s))"),
        "{out}"
    );

    let (code, out) = run(tls_yaml(&cert, &wrong_key, None) + &providers(&bad_jwks));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not match the certificate"), "{out}");
    assert!(
        out.contains("JWKS has no `keys`") || out.contains("no usable signing key"),
        "{out}"
    );
    assert!(out.contains("2 error(s)"), "{out}");
}

#[tokio::test]
async fn idle_connections_are_closed_after_idle_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let backend = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway_in(
        dir,
        &backend_yaml("greeter", backend.addr, ""),
        "limits:\n  idle_timeout: 1s\n  header_read_timeout: 60s\n",
    )
    .await;
    let mut conn = tokio::net::TcpStream::connect(gw.http).await.unwrap();
    conn.write_all(b"GET /nope HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 404"));
    // Nothing in flight: the gateway closes the connection (EOF), well before
    // the 60 s header-read timeout could.
    let closed = tokio::time::timeout(Duration::from_secs(20), conn.read(&mut buf)).await;
    assert!(matches!(closed, Ok(Ok(0))), "{closed:?}");
}

#[tokio::test]
async fn an_open_stream_holds_its_concurrency_slot_until_it_ends() {
    use switchboard_examples::pb::switchboard::testing::v1::EchoStreamRequest;
    let backend = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let gw = Gateway::start(&backend_yaml(
        "greeter",
        backend.addr,
        "max_concurrent_requests: 1",
    ))
    .await;
    let channel = tonic::transport::Channel::from_shared(gw.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = EchoClient::new(channel);
    let mut stream = client
        .echo_stream(EchoStreamRequest {
            request: Some(EchoRequest::default()),
            count: 3,
            interval_ms: 300,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(stream.message().await.unwrap().is_some(), "first message");
    // The stream is still open: one more call is shed with UNAVAILABLE.
    let err = client.echo(EchoRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("max_concurrent_requests"), "{err:?}");
    let mut rest = 0;
    while stream.message().await.unwrap().is_some() {
        rest += 1;
    }
    assert_eq!(rest, 2);
    // Ended: the slot is free again.
    assert!(
        eventually(|| {
            let mut client = client.clone();
            async move { client.echo(EchoRequest::default()).await.is_ok() }
        })
        .await
    );
}
