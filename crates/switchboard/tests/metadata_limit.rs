//! One request's oversized metadata must not break other clients' calls: the
//! gateway answers that request itself (431 with a Status body for HTTP/JSON,
//! RESOURCE_EXHAUSTED for native gRPC and Connect) before anything is sent
//! upstream, while a call in flight on the same backend connection finishes
//! normally.

mod support;

use http::Method;
use support::{Backend, Gateway, backend_yaml, free_port, post, request};
use switchboard_examples::Reflection;
use switchboard_examples::pb::switchboard::testing::v1::EchoRequest;
use switchboard_examples::pb::switchboard::testing::v1::echo_client::EchoClient;
use tonic::Code;
use tonic::transport::Channel;

/// The greeter backend (Greeter + Echo, one endpoint: one shared HTTP/2
/// connection) behind a gateway with `limits` as its `limits:` section.
async fn setup(limits: &str) -> (Backend, Gateway) {
    setup_with(Backend::greeter(Reflection::V1AndV1Alpha).await, limits).await
}

async fn setup_with(greeter: Backend, limits: &str) -> (Backend, Gateway) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.yaml");
    let http = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let text = Gateway::render(http, admin, &backend_yaml("greeter", greeter.addr, "")) + limits;
    std::fs::write(&config, text).unwrap();
    (greeter, Gateway::start_with(dir, config, http, admin).await)
}

#[tokio::test]
async fn oversized_metadata_is_refused_and_the_call_in_flight_succeeds() {
    let (_b, gw) = setup("").await;
    let url = gw.url("/v1/echo");
    let slow = tokio::spawn({
        let url = url.clone();
        async move { post(&url, r#"{"delayMs":1500,"stringValue":"slow"}"#).await }
    });
    // The slow call is on the backend connection before the big one arrives.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let big = "a".repeat(100 * 1024);
    let r = request(
        Method::POST,
        &url,
        &[("grpc-metadata-big", &big)],
        Some(r#"{"stringValue":"big"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 431, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["code"], 8, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("limits.max_metadata_bytes"),
        "{body}"
    );
    assert_eq!(body["details"], serde_json::json!([]), "{body}");

    let slow = slow.await.unwrap().expect("the call in flight completes");
    assert_eq!(slow.status, 200, "{}", slow.body);
    assert_eq!(slow.json()["request"]["stringValue"], "slow");

    // Metadata under the limit is forwarded as before.
    let small = "b".repeat(4 * 1024);
    let r = request(
        Method::POST,
        &url,
        &[("grpc-metadata-small", &small)],
        Some(r#"{"stringValue":"small"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["metadata"]["small"],
        serde_json::Value::String(small),
        "{}",
        &r.body[..200.min(r.body.len())]
    );
}

#[tokio::test]
async fn native_grpc_is_held_to_the_same_limit() {
    let (_b, gw) = setup("limits:\n  max_metadata_bytes: 2048\n").await;
    let ch = Channel::from_shared(gw.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut echo = EchoClient::new(ch);
    let call = |value: String| {
        let mut req = tonic::Request::new(EchoRequest {
            string_value: "grpc".into(),
            ..Default::default()
        });
        req.metadata_mut().insert("x-big", value.parse().unwrap());
        req
    };
    let err = echo.echo(call("c".repeat(3000))).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(
        err.message().contains("limits.max_metadata_bytes"),
        "{err:?}"
    );
    // The same client's next call, under the limit, goes through.
    let ok = echo.echo(call("c".repeat(100))).await.unwrap();
    assert_eq!(ok.get_ref().request.as_ref().unwrap().string_value, "grpc");

    // And the configured limit applies to HTTP/JSON too.
    let r = request(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("grpc-metadata-x-big", &"c".repeat(3000))],
        Some("{}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 431, "{}", r.body);
}

#[tokio::test]
async fn connect_is_held_to_the_same_limit() {
    let (_b, gw) = setup("limits:\n  max_metadata_bytes: 2048\n").await;
    let url = gw.url("/switchboard.testing.v1.Echo/Echo");
    let connect = |value: String| {
        let url = url.clone();
        async move {
            request(
                Method::POST,
                &url,
                &[
                    ("content-type", "application/json"),
                    ("connect-protocol-version", "1"),
                    ("x-big", &value),
                ],
                Some(r#"{"stringValue":"c"}"#),
            )
            .await
            .unwrap()
        }
    };
    // Connect's answer for RESOURCE_EXHAUSTED: 429 with its JSON error body.
    let r = connect("a".repeat(4 * 1024)).await;
    assert_eq!(r.status, 429, "{}", r.body);
    let body = r.json();
    assert_eq!(body["code"], "resource_exhausted", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("limits.max_metadata_bytes"),
        "{body}"
    );
    // Under the limit the header is forwarded as metadata.
    let r = connect("b".repeat(512)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["metadata"]["x-big"], "b".repeat(512), "{}", r.body);
}

#[tokio::test]
async fn a_reload_changes_the_limit_without_a_restart() {
    let (b, gw) = setup("limits:\n  max_metadata_bytes: 2048\n").await;
    let url = gw.url("/v1/echo");
    let echo = |value: String| {
        let url = url.clone();
        async move {
            request(
                Method::POST,
                &url,
                &[("grpc-metadata-big", &value)],
                Some(r#"{"stringValue":"r"}"#),
            )
            .await
            .unwrap()
        }
    };
    let big = "a".repeat(4 * 1024);
    let r = echo(big.clone()).await;
    assert_eq!(r.status, 431, "{}", r.body);

    // `limits.max_metadata_bytes` is a live setting, like the body limit.
    let text = gw.config_text(&backend_yaml("greeter", b.addr, ""))
        + "limits:\n  max_metadata_bytes: 16384\n";
    support::rename_save(&gw.config, &text);
    let applied = support::eventually(|| {
        let big = big.clone();
        let echo = &echo;
        async move { echo(big).await.status == 200 }
    })
    .await;
    assert!(applied, "the raised limit did not apply\n{}", gw.log());
    let r = echo(big.clone()).await;
    assert_eq!(r.json()["metadata"]["big"], serde_json::Value::String(big));
    let status = support::get(&format!("http://{}/status", gw.admin))
        .await
        .unwrap();
    assert_eq!(
        status.json()["restart_required"],
        serde_json::json!([]),
        "{}",
        status.body
    );
}

/// A backend that advertises a header list smaller than the gateway's limit
/// (SETTINGS_MAX_HEADER_LIST_SIZE 2048) is held to its own: 7,900 bytes of
/// metadata are under `limits.max_metadata_bytes` (8 KiB) but over four times
/// the backend's limit, which makes hyper/h2 reset the whole connection. The
/// gateway answers that request itself (431, naming the backend's limit) and
/// the call in flight on the connection finishes; small calls still pass.
#[tokio::test]
async fn a_backends_advertised_header_list_size_is_respected() {
    let greeter = Backend::greeter_with(switchboard_examples::BackendOptions {
        max_header_list_size: Some(2048),
        ..Default::default()
    })
    .await;
    let (_b, gw) = setup_with(greeter, "").await;
    let url = gw.url("/v1/echo");
    // The first call opens (or finds) the connection and so learns its SETTINGS.
    let r = post(&url, r#"{"stringValue":"first"}"#).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);

    let slow = tokio::spawn({
        let url = url.clone();
        async move { post(&url, r#"{"delayMs":1500,"stringValue":"slow"}"#).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let big = "a".repeat(7900);
    let r = request(
        Method::POST,
        &url,
        &[("grpc-metadata-big", &big)],
        Some(r#"{"stringValue":"big"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 431, "{}", r.body);
    let body = r.json();
    assert_eq!(body["code"], 8, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("backend's limit of 1024 bytes")
            && message.contains("SETTINGS_MAX_HEADER_LIST_SIZE of 2048"),
        "{body}"
    );

    // Native gRPC is held to it too.
    let ch = Channel::from_shared(gw.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut req = tonic::Request::new(EchoRequest {
        string_value: "grpc".into(),
        ..Default::default()
    });
    req.metadata_mut()
        .insert("x-big", "c".repeat(7900).parse().unwrap());
    let err = EchoClient::new(ch).echo(req).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("backend's limit"), "{err:?}");

    let slow = slow.await.unwrap().expect("the call in flight completes");
    assert_eq!(slow.status, 200, "{}", slow.body);
    assert_eq!(slow.json()["request"]["stringValue"], "slow");

    // Small metadata still goes through, on the same backend connection.
    let r = request(
        Method::POST,
        &url,
        &[("grpc-metadata-small", "x")],
        Some(r#"{"stringValue":"small"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["metadata"]["small"], "x");
}
