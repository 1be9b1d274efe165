//! End-to-end: a reload applies the process-wide settings that can change live
//! (`limits.max_body_bytes`, `cors`) to the next request, and reports the ones
//! that need a restart (`listen`) in `/status` while the running listeners keep
//! serving.

mod support;

use http::Method;
use serde_json::json;
use support::{Backend, Gateway, backend_yaml, free_port, post, request};
use switchboard_examples::Reflection;

const HELLO: &str = "/helloworld.Greeter/SayHello";
const ORIGIN: &str = "https://app.example";

/// Live-applicable settings prepended to the test config (key order is free).
const SETTINGS: &str =
    "limits:\n  max_body_bytes: 64\ncors:\n  allowed_origins: [\"https://app.example\"]\n";

async fn hello_from_origin(gw: &Gateway) -> support::Reply {
    request(
        Method::POST,
        &gw.url(HELLO),
        &[("origin", ORIGIN), ("content-type", "application/json")],
        Some(r#"{"name":"o"}"#),
    )
    .await
    .unwrap()
}

async fn reload(gw: &Gateway) -> serde_json::Value {
    let r = post(&gw.admin_url("/reload"), "").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[tokio::test]
async fn reload_applies_body_limit_and_cors_and_reports_restart_keys() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let backends = backend_yaml("greeter", greeter.addr, "");
    let gw = Gateway::start(&backends).await;
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(200));

    // Started with the defaults: a 200-byte body fits, and no CORS headers.
    let r = post(&gw.url(HELLO), &big).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let r = hello_from_origin(&gw).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(gw.status().await["restart_required"], json!([]));

    // Lower the body limit and allow the origin, then reload.
    std::fs::write(
        &gw.config,
        format!("{SETTINGS}{}", gw.config_text(&backends)),
    )
    .unwrap();
    assert_eq!(reload(&gw).await["result"], "applied");

    let r = post(&gw.url(HELLO), &big).await.unwrap();
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.json()["code"], 8, "{}", r.body);
    let r = hello_from_origin(&gw).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(gw.status().await["restart_required"], json!([]));

    // Move `listen`: applied for everything else, reported as needing a
    // restart, and the running listener keeps serving with the new settings.
    let moved: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let text = format!("{SETTINGS}{}", Gateway::render(moved, gw.admin, &backends));
    std::fs::write(&gw.config, text).unwrap();
    assert_eq!(reload(&gw).await["result"], "applied");
    assert_eq!(gw.status().await["restart_required"], json!(["listen"]));
    let r = hello_from_origin(&gw).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(
        gw.log()
            .contains("take effect only when the gateway restarts"),
        "{}",
        gw.log()
    );

    // Back to the original file: nothing left to restart for, limits lifted.
    std::fs::write(&gw.config, gw.config_text(&backends)).unwrap();
    assert_eq!(reload(&gw).await["result"], "applied");
    assert_eq!(gw.status().await["restart_required"], json!([]));
    let r = post(&gw.url(HELLO), &big).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        hello_from_origin(&gw)
            .await
            .header("access-control-allow-origin"),
        None
    );
}
