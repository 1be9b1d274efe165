//! One deadline rule for every call shape, end to end: a backend that gives up
//! with CANCELLED just before the call's deadline (as a tonic server does when
//! its copy of the `grpc-timeout` fires first) is reported as DEADLINE_EXCEEDED
//! (HTTP 504, code 4), never as CANCELLED (HTTP 499, code 1), whichever shape
//! carried the call.
//!
//! How the race is made deterministic without timing asserts: the backend waits
//! `WAIT_MS` and then fails with CANCELLED; the client's `Grpc-Timeout` is
//! `WAIT_MS + 10` ms. The CANCELLED can only arrive after `WAIT_MS`, that is
//! within the gateway's 20 ms slack of its deadline, or after the deadline
//! (when the gateway's own timer answers DEADLINE_EXCEEDED). Both must read as
//! DEADLINE_EXCEEDED. Before one owner had this rule, every streaming shape
//! answered code 1.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::Method;
use serde_json::Value;
use support::{Backend, Gateway, backend_yaml, request};
use switchboard_examples::Reflection;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const WAIT_MS: u64 = 300;
const TIMEOUT: &str = "310m";

async fn setup() -> (Backend, Gateway) {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let gw = Gateway::start(&backend_yaml("echo", greeter.addr, "")).await;
    (greeter, gw)
}

fn lines(body: &str) -> Vec<Value> {
    body.lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

#[tokio::test]
async fn unary_cancelled_at_the_deadline_is_deadline_exceeded() {
    let (_b, gw) = setup().await;
    let body = format!(r#"{{"delayMs":{WAIT_MS},"failCode":1}}"#);
    let r = request(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("grpc-timeout", TIMEOUT)],
        Some(&body),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 504, "{}", r.body);
    assert_eq!(r.json()["code"], 4, "{}", r.body);
}

#[tokio::test]
async fn server_stream_cancelled_at_the_deadline_is_deadline_exceeded() {
    let (_b, gw) = setup().await;
    let body = format!(r#"{{"count":2,"intervalMs":{WAIT_MS},"failCode":1}}"#);
    let r = request(
        Method::POST,
        &gw.url("/v1/echo:stream"),
        &[("grpc-timeout", TIMEOUT)],
        Some(&body),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let lines = lines(&r.body);
    let last = lines.last().expect("an error line");
    assert_eq!(last["error"]["code"], 4, "{}", r.body);
    assert!(lines.len() <= 3, "{}", r.body);
}

#[tokio::test]
async fn sse_cancelled_at_the_deadline_is_deadline_exceeded() {
    let (_b, gw) = setup().await;
    let body = format!(r#"{{"count":2,"intervalMs":{WAIT_MS},"failCode":1}}"#);
    let r = request(
        Method::POST,
        &gw.url("/v1/echo:stream"),
        &[("grpc-timeout", TIMEOUT), ("accept", "text/event-stream")],
        Some(&body),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let error = r
        .body
        .split("\n\n")
        .find(|e| e.starts_with("event: error\n"))
        .unwrap_or_else(|| panic!("no error event: {}", r.body));
    let data = error.strip_prefix("event: error\ndata: ").unwrap();
    let status: Value = serde_json::from_str(data).unwrap();
    assert_eq!(status["error"]["code"], 4, "{}", r.body);
}

#[tokio::test]
async fn client_stream_cancelled_at_the_deadline_is_deadline_exceeded() {
    let (_b, gw) = setup().await;
    let body = format!(r#"{{"stringValue":"a","delayMs":{WAIT_MS},"failCode":1}}"#);
    let r = request(
        Method::POST,
        &gw.url("/v1/echo:collect"),
        &[("grpc-timeout", TIMEOUT)],
        Some(&body),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 504, "{}", r.body);
    assert_eq!(r.json()["code"], 4, "{}", r.body);
}

#[tokio::test]
async fn websocket_cancelled_at_the_deadline_is_deadline_exceeded() {
    let (_b, gw) = setup().await;
    let mut req = format!("ws://{}/v1/echo:chat", gw.http)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("grpc-timeout", TIMEOUT.parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::connect_async(req)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", gw.log()));
    assert_eq!(response.status(), 101);
    // The failing message goes out at WAIT_MS: the backend answers it at once.
    tokio::time::sleep(Duration::from_millis(WAIT_MS)).await;
    let _ = ws.send(Message::text(r#"{"failCode":1}"#)).await;
    let mut error = None;
    let mut close = None;
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        match m {
            Message::Text(t) => error = Some(serde_json::from_str::<Value>(t.as_str()).unwrap()),
            Message::Close(f) => {
                close = f.map(|f| u16::from(f.code));
                break;
            }
            _ => {}
        }
    }
    let error = error.expect("an error message before the close");
    assert_eq!(error["error"]["code"], 4, "{error}");
    assert_eq!(close, Some(4004));
}
