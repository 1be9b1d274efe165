//! The Connect protocol on the gateway's public port, against the real binary
//! and the tonic example backend: first by hand (raw HTTP, so every header,
//! status and byte of the protocol is asserted), then with the real clients,
//! connect-es (`tests/connect/client.mjs`, Connect JSON and binary, gRPC-Web
//! and gRPC transports), when Node.js and its packages are installed.

mod support;

use std::io::{Read, Write};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::Method;
use prost::Message;
use support::{Backend, Gateway, Reply, backend_yaml, request_bytes};
use switchboard_examples::Reflection;
use switchboard_examples::pb::switchboard::testing::v1::{EchoRequest, EchoResponse, ErrorDetail};

const ECHO: &str = "/switchboard.testing.v1.Echo/Echo";
const STREAM: &str = "/switchboard.testing.v1.Echo/EchoStream";
const COLLECT: &str = "/switchboard.testing.v1.Echo/Collect";

async fn setup() -> (Backend, Gateway) {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let gw = Gateway::start(&backend_yaml("greeter", greeter.addr, "timeout: 5s")).await;
    (greeter, gw)
}

async fn send(
    gw: &Gateway,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (Reply, Bytes) {
    request_bytes(method, &gw.url(path), headers, body)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}\n{}", gw.log()))
}

const CONNECT_JSON: [(&str, &str); 2] = [
    ("content-type", "application/json"),
    ("connect-protocol-version", "1"),
];

/// Splits a Connect streaming body into `(flags, payload)` envelopes.
fn envelopes(mut body: Bytes) -> Vec<(u8, Bytes)> {
    let mut out = Vec::new();
    while body.has_remaining() {
        assert!(body.len() >= 5, "truncated envelope: {body:?}");
        let flags = body.get_u8();
        let len = body.get_u32() as usize;
        out.push((flags, body.split_to(len)));
    }
    out
}

fn envelope(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_u8(flags);
    b.put_u32(payload.len() as u32);
    b.put_slice(payload);
    b.to_vec()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn unary_json_headers_trailers_and_metadata() {
    let (_b, gw) = setup().await;
    let mut headers = CONNECT_JSON.to_vec();
    headers.extend([
        ("x-custom", "v"),
        ("x-blob-bin", "AAEC"),
        ("authorization", "Bearer t"),
    ]);
    let (r, _) = send(
        &gw,
        Method::POST,
        ECHO,
        &headers,
        br#"{"stringValue":"hi","int64Value":"5","color":"COLOR_RED"}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("x-echo"),
        Some("1"),
        "header metadata as a plain header"
    );
    assert_eq!(
        r.header("trailer-x-echo-trailer"),
        Some("1"),
        "trailers as trailer- headers"
    );
    assert!(r.trailers.is_none() || r.trailers.as_ref().unwrap().is_empty());
    let v = r.json();
    assert_eq!(v["request"]["stringValue"], "hi");
    assert_eq!(v["request"]["int64Value"], "5");
    assert_eq!(v["request"]["color"], "COLOR_RED");
    // Connect's JSON is protojson's default: unpopulated fields are left out.
    assert!(v["request"].get("boolValue").is_none(), "{v}");
    let md = &v["metadata"];
    assert_eq!(
        md["x-custom"], "v",
        "plain request headers are metadata: {md}"
    );
    assert_eq!(md["authorization"], "Bearer t");
    assert!(md.get("connect-protocol-version").is_none(), "{md}");
    assert_eq!(
        md["content-type"], "application/grpc",
        "the client's own is not forwarded"
    );
    assert!(md["x-forwarded-for"].as_str().is_some(), "{md}");
}

#[tokio::test]
async fn grpc_gateway_json_on_the_same_path_is_unchanged() {
    let (_b, gw) = setup().await;
    let (r, _) = send(
        &gw,
        Method::POST,
        ECHO,
        &[("content-type", "application/json"), ("x-custom", "v")],
        br#"{"stringValue":"hi"}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("grpc-metadata-x-echo"), Some("1"));
    assert!(r.header("x-echo").is_none());
    let v = r.json();
    assert_eq!(
        v["request"]["boolValue"], false,
        "grpc-gateway emits unpopulated fields"
    );
    assert!(
        v["metadata"].get("x-custom").is_none(),
        "only grpc-gateway's headers are forwarded"
    );
    let (r, _) = send(
        &gw,
        Method::POST,
        ECHO,
        &[("content-type", "application/json")],
        br#"{"failCode":5,"failMessage":"gone"}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, 404);
    let v = r.json();
    assert_eq!(v["code"], 5, "grpc-gateway's numeric code: {v}");
    assert_eq!(
        v["details"][0]["@type"],
        "type.googleapis.com/switchboard.testing.v1.ErrorDetail"
    );
}

#[tokio::test]
async fn errors_are_connect_errors_with_details() {
    let (_b, gw) = setup().await;
    let (r, _) = send(
        &gw,
        Method::POST,
        ECHO,
        &CONNECT_JSON,
        br#"{"failCode":5,"failMessage":"gone"}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("x-echo-trailer"),
        Some("1"),
        "error metadata as headers"
    );
    let v = r.json();
    assert_eq!(v["code"], "not_found");
    assert_eq!(v["message"], "gone");
    let d = &v["details"][0];
    assert_eq!(d["type"], "switchboard.testing.v1.ErrorDetail");
    let value = STANDARD_NO_PAD
        .decode(d["value"].as_str().unwrap())
        .unwrap();
    let detail = ErrorDetail::decode(value.as_slice()).unwrap();
    assert_eq!(detail.reason, "REQUESTED_FAILURE");
    assert_eq!(d["debug"]["reason"], "REQUESTED_FAILURE");
    assert_eq!(d["debug"]["field"], "fail_code");

    // Every code with its HTTP status.
    for (code, name, http) in [
        (3, "invalid_argument", 400),
        (9, "failed_precondition", 400),
        (14, "unavailable", 503),
        (16, "unauthenticated", 401),
        (12, "unimplemented", 501),
    ] {
        let body = format!(r#"{{"failCode":{code}}}"#).into_bytes();
        let (r, _) = send(&gw, Method::POST, ECHO, &CONNECT_JSON, body).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str().unwrap().to_owned()),
            (http, name.to_owned())
        );
    }

    // Bad input is the client's error, in Connect's shape.
    let (r, _) = send(
        &gw,
        Method::POST,
        ECHO,
        &CONNECT_JSON,
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, "invalid_argument".into())
    );
    let mut headers = CONNECT_JSON.to_vec();
    headers.push(("connect-timeout-ms", "soon"));
    let (r, _) = send(&gw, Method::POST, ECHO, &headers, b"{}".to_vec()).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, "invalid_argument".into())
    );
    let (r, _) = send(
        &gw,
        Method::POST,
        "/switchboard.testing.v1.Echo/Nope",
        &CONNECT_JSON,
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (501, "unimplemented".into())
    );
    let (r, _) = send(
        &gw,
        Method::POST,
        ECHO,
        &[
            ("content-type", "application/xml"),
            ("connect-protocol-version", "1"),
        ],
        b"<x/>".to_vec(),
    )
    .await;
    assert_eq!(r.status, 415);
    assert_eq!(
        r.header("accept-post"),
        Some("application/json, application/proto")
    );
    // A streaming content type for a unary method.
    let (r, _) = send(
        &gw,
        Method::POST,
        ECHO,
        &[("content-type", "application/connect+json")],
        envelope(0, b"{}"),
    )
    .await;
    assert_eq!(r.status, 415);
}

#[tokio::test]
async fn deadline_from_connect_timeout_ms() {
    let (_b, gw) = setup().await;
    let mut headers = CONNECT_JSON.to_vec();
    headers.push(("connect-timeout-ms", "200"));
    let (r, _) = send(
        &gw,
        Method::POST,
        ECHO,
        &headers,
        br#"{"delayMs":3000}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, 504, "{r:?}");
    assert_eq!(r.json()["code"], "deadline_exceeded");
}

#[tokio::test]
async fn unary_proto_and_get() {
    let (_b, gw) = setup().await;
    let req = EchoRequest {
        string_value: "bin".into(),
        int64_value: -3,
        ..Default::default()
    };
    let (r, body) = send(
        &gw,
        Method::POST,
        ECHO,
        &[("content-type", "application/proto")],
        req.encode_to_vec(),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/proto"));
    let resp = EchoResponse::decode(body).unwrap();
    assert_eq!(resp.request.unwrap(), req);

    // GET, JSON in the query.
    let message: String = url_escape(br#"{"stringValue":"g e t","int64Value":"7"}"#);
    let (r, _) = send(
        &gw,
        Method::GET,
        &format!("{ECHO}?connect=v1&encoding=json&message={message}"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("vary"), Some("accept-encoding"));
    assert_eq!(r.json()["request"]["stringValue"], "g e t");
    // GET, base64 protobuf.
    let b64 = URL_SAFE_NO_PAD.encode(req.encode_to_vec());
    let (r, body) = send(
        &gw,
        Method::GET,
        &format!("{ECHO}?connect=v1&encoding=proto&base64=1&message={b64}"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(EchoResponse::decode(body).unwrap().request.unwrap(), req);
    // GET, gzip'd message.
    let zipped = URL_SAFE_NO_PAD.encode(gzip(br#"{"stringValue":"zipped"}"#));
    let (r, _) = send(
        &gw,
        Method::GET,
        &format!("{ECHO}?connect=v1&encoding=json&base64=1&compression=gzip&message={zipped}"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.json()["request"]["stringValue"], "zipped", "{r:?}");
    // Only methods free of side effects take a GET.
    let (r, _) = send(
        &gw,
        Method::GET,
        "/helloworld.Greeter/SayHello?connect=v1&encoding=json&message=%7B%7D",
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 405, "{r:?}");
    assert_eq!(r.header("allow"), Some("POST"));
    let (r, _) = send(
        &gw,
        Method::GET,
        &format!("{ECHO}?connect=v1&message=%7B%7D"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, "invalid_argument".into())
    );
}

fn url_escape(s: &[u8]) -> String {
    s.iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn gzip_both_ways() {
    let (_b, gw) = setup().await;
    let big = "z".repeat(5000);
    let body = format!(r#"{{"stringValue":"{big}"}}"#);
    let mut headers = CONNECT_JSON.to_vec();
    headers.extend([("content-encoding", "gzip"), ("accept-encoding", "gzip")]);
    let (r, bytes) = send(&gw, Method::POST, ECHO, &headers, gzip(body.as_bytes())).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let v: serde_json::Value = serde_json::from_slice(&gunzip(&bytes)).unwrap();
    assert_eq!(v["request"]["stringValue"], big.as_str());
    // Small answers are not worth compressing.
    let (r, _) = send(
        &gw,
        Method::POST,
        ECHO,
        &[
            CONNECT_JSON[0],
            CONNECT_JSON[1],
            ("accept-encoding", "gzip"),
        ],
        b"{}".to_vec(),
    )
    .await;
    assert!(r.header("content-encoding").is_none(), "{r:?}");
    // An unknown coding is refused.
    let (r, _) = send(
        &gw,
        Method::POST,
        ECHO,
        &[
            CONNECT_JSON[0],
            CONNECT_JSON[1],
            ("content-encoding", "snappy"),
        ],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(r.json()["code"], "unimplemented");

    // Streams: per-message compression, flagged in the envelope.
    let request = format!(r#"{{"request":{{"stringValue":"{big}"}},"count":2}}"#);
    let (r, bytes) = send(
        &gw,
        Method::POST,
        STREAM,
        &[
            ("content-type", "application/connect+json"),
            ("connect-content-encoding", "gzip"),
            ("connect-accept-encoding", "gzip"),
        ],
        envelope(1, &gzip(request.as_bytes())),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("connect-content-encoding"), Some("gzip"));
    let env = envelopes(bytes);
    assert_eq!(env.len(), 3, "{env:?}");
    for (flags, payload) in &env[..2] {
        assert_eq!(*flags, 1);
        let v: serde_json::Value = serde_json::from_slice(&gunzip(payload)).unwrap();
        assert_eq!(v["request"]["stringValue"], big.as_str());
    }
    assert_eq!(env[2].0, 2, "end of stream, uncompressed");
}

#[tokio::test]
async fn streams_in_envelopes() {
    let (_b, gw) = setup().await;
    let (r, bytes) = send(
        &gw,
        Method::POST,
        STREAM,
        &[
            ("content-type", "application/connect+json"),
            ("connect-protocol-version", "1"),
            ("x-custom", "s"),
        ],
        envelope(0, br#"{"request":{"stringValue":"s"},"count":3}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/connect+json"));
    assert_eq!(r.header("x-echo"), Some("1"));
    let env = envelopes(bytes);
    assert_eq!(env.len(), 4, "{env:?}");
    for (flags, payload) in &env[..3] {
        assert_eq!(*flags, 0);
        let v: serde_json::Value = serde_json::from_slice(payload).unwrap();
        assert_eq!(v["request"]["stringValue"], "s");
        assert_eq!(v["metadata"]["x-custom"], "s");
    }
    assert_eq!(env[3].0, 2);
    let end: serde_json::Value = serde_json::from_slice(&env[3].1).unwrap();
    assert_eq!(
        end,
        serde_json::json!({"metadata": {"x-echo-trailer": ["1"]}})
    );

    // A failure midway: the messages, then the error in the end-of-stream message.
    let (r, bytes) = send(
        &gw,
        Method::POST,
        STREAM,
        &[("content-type", "application/connect+json")],
        envelope(
            0,
            br#"{"request":{"stringValue":"e"},"count":1,"failCode":8,"failMessage":"enough"}"#,
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    let env = envelopes(bytes);
    assert_eq!(env.len(), 2, "{env:?}");
    let end: serde_json::Value = serde_json::from_slice(&env[1].1).unwrap();
    assert_eq!(end["error"]["code"], "resource_exhausted", "{end}");
    assert_eq!(end["error"]["message"], "enough");

    // Client streaming in binary: three messages, one answer, then the end.
    let mut body = Vec::new();
    for s in ["a", "b", "c"] {
        body.extend(envelope(
            0,
            &EchoRequest {
                string_value: s.into(),
                ..Default::default()
            }
            .encode_to_vec(),
        ));
    }
    let (r, bytes) = send(
        &gw,
        Method::POST,
        COLLECT,
        &[("content-type", "application/connect+proto")],
        body,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let env = envelopes(bytes);
    assert_eq!(env.len(), 2, "{env:?}");
    let reply = switchboard_examples::pb::switchboard::testing::v1::CollectResponse::decode(
        env[0].1.clone(),
    )
    .unwrap();
    assert_eq!(reply.string_values, ["a", "b", "c"]);
    assert_eq!(env[1].0, 2);

    // A broken request stream ends the call with a Connect error, still HTTP 200.
    let (r, bytes) = send(
        &gw,
        Method::POST,
        COLLECT,
        &[("content-type", "application/connect+json")],
        envelope(0, b"{oops"),
    )
    .await;
    assert_eq!(r.status, 200);
    let env = envelopes(bytes);
    let end: serde_json::Value = serde_json::from_slice(&env.last().unwrap().1).unwrap();
    assert_eq!(end["error"]["code"], "invalid_argument", "{end}");

    // Metrics count Connect calls under their own route label.
    let metrics = support::get(&gw.admin_url("/metrics")).await.unwrap().body;
    assert!(
        metrics.contains("route=\"connect /switchboard.testing.v1.Echo/EchoStream\""),
        "{metrics}"
    );
}

/// connect-es itself (Connect JSON and binary over HTTP/2 and HTTP/1.1, GET,
/// gzip, gRPC-Web, gRPC): `tests/connect/client.mjs`, installed by
/// `scripts/test.sh` (`npm ci`). Skipped, loudly, without Node.js or the
/// packages, unless `SWITCHBOARD_REQUIRE_NODE=1` (scripts/test.sh), where that
/// is a failure.
#[tokio::test]
async fn connect_es_clients() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/connect");
    let installed = dir.join("node_modules/@connectrpc/connect-node").exists();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node || !installed {
        let message = "connect-es tests need Node.js and `npm ci` in tests/connect (scripts/test.sh does both)";
        if std::env::var("SWITCHBOARD_REQUIRE_NODE").as_deref() == Ok("1") {
            panic!("{message} (SWITCHBOARD_REQUIRE_NODE=1)");
        }
        // Written to the process's stderr directly, past the test harness's
        // capture, so the skip shows in `cargo test` output.
        let _ = writeln!(std::io::stderr(), "SKIPPED connect_es_clients: {message}");
        return;
    }
    let (_b, gw) = setup().await;
    let descriptors = gw.dir.path().join("echo.binpb");
    std::fs::write(&descriptors, switchboard_examples::GREETER_DESCRIPTOR_SET).unwrap();
    // tokio's Command: the backend runs on this test's runtime, which must
    // keep serving while the client runs.
    let run = tokio::process::Command::new("node")
        .arg(dir.join("client.mjs"))
        .arg(gw.url(""))
        .arg(&descriptors)
        .current_dir(&dir)
        .output()
        .await
        .expect("run node");
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "client.mjs failed:\n{out}\n{err}\ngateway log:\n{}",
        gw.log()
    );
    println!("{out}");
    let mut expected = Vec::new();
    for t in [
        "connect-json-h2",
        "connect-proto-h2",
        "connect-json-h1",
        "grpc-web-h1",
        "grpc-h2",
    ] {
        for c in [
            "unary",
            "server-stream",
            "server-stream-error",
            "error-details",
            "timeout",
        ] {
            expected.push(format!("ok {t} {c}"));
        }
    }
    for t in ["connect-json-h2", "connect-proto-h2", "grpc-h2"] {
        expected.push(format!("ok {t} client-stream"));
        expected.push(format!("ok {t} bidi"));
    }
    expected.push("ok connect-get unary-get".into());
    for t in ["connect-gzip-json", "connect-gzip-proto"] {
        for c in ["unary-gzip", "stream-gzip", "client-stream-gzip"] {
            expected.push(format!("ok {t} {c}"));
        }
    }
    for line in &expected {
        assert!(
            out.lines().any(|l| l == line),
            "missing {line:?} in:\n{out}"
        );
    }
}

/// A Connect stream over cleartext HTTP/2 whose request body stays open
/// (`open`) or ends after `first` (a server stream: the backend reads the one
/// request to its end before it answers): `(body sender while open, response
/// body, connection task)`.
async fn open_h2_stream(
    gw: &Gateway,
    path: &str,
    first: Vec<u8>,
    open: bool,
) -> (
    Option<tokio::sync::mpsc::Sender<Bytes>>,
    hyper::body::Incoming,
    tokio::task::JoinHandle<()>,
) {
    use futures_util::StreamExt;
    use http_body_util::StreamBody;
    use hyper::body::Frame;
    let stream = tokio::net::TcpStream::connect(gw.http).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tx.send(Bytes::from(first)).await.unwrap();
    let tx = open.then_some(tx);
    let body = StreamBody::new(
        tokio_stream::wrappers::ReceiverStream::new(rx)
            .map(|b| Ok::<_, std::convert::Infallible>(Frame::data(b))),
    );
    let req = http::Request::post(format!("http://{}{path}", gw.http))
        .header("content-type", "application/connect+json")
        .body(body)
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    assert_eq!(response.status(), 200);
    (tx, response.into_body(), conn)
}

/// Waits for the first non-empty data frame of a response body.
async fn first_data(body: &mut hyper::body::Incoming) -> Bytes {
    use http_body_util::BodyExt;
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame())
            .await
            .expect("a frame in time")
            .expect("a frame")
            .expect("no body error");
        if let Ok(data) = frame.into_data()
            && !data.is_empty()
        {
            return data;
        }
    }
}

#[tokio::test]
async fn client_disconnect_cancels_the_backend_call() {
    let (_b, gw) = setup().await;
    let saw = |tag: &'static str| async move {
        support::eventually(|| async { switchboard_examples::was_cancelled(tag) }).await
    };

    // Bidi with the request stream still open: one echo, then the client is gone.
    let (tx, mut body, conn) = open_h2_stream(
        &gw,
        "/switchboard.testing.v1.Echo/Chat",
        envelope(0, br#"{"stringValue":"connect-cancel-bidi"}"#),
        true,
    )
    .await;
    let data = first_data(&mut body).await;
    assert!(String::from_utf8_lossy(&data).contains("connect-cancel-bidi"));
    conn.abort();
    drop((tx, body));
    assert!(
        saw("connect-cancel-bidi").await,
        "bidi not cancelled; log:\n{}",
        gw.log()
    );

    // Server streaming: a long stream, hung up on after its first message.
    let (tx, mut body, conn) = open_h2_stream(
        &gw,
        STREAM,
        envelope(
            0,
            br#"{"request":{"stringValue":"connect-cancel-server"},"count":1000,"intervalMs":50}"#,
        ),
        false,
    )
    .await;
    assert!(tx.is_none());
    let data = first_data(&mut body).await;
    assert!(
        String::from_utf8_lossy(&data).contains("connect-cancel-server"),
        "{data:?}"
    );
    conn.abort();
    drop(body);
    assert!(
        saw("connect-cancel-server").await,
        "server stream not cancelled; log:\n{}",
        gw.log()
    );
}

/// The third-party backend (Python grpcio, reflection v1alpha only) through
/// Connect: unary with header metadata and a trailer, an error with details
/// decoded through the discovered descriptors, and a server stream.
#[tokio::test]
async fn python_grpcio_backend_over_connect() {
    let py = support::PythonBackend::start();
    let gw = Gateway::start(&backend_yaml("inventory", py.addr, "")).await;
    let mut headers = CONNECT_JSON.to_vec();
    headers.push(("x-tenant", "acme"));
    let (r, _) = send(
        &gw,
        Method::POST,
        "/py.inventory.v1.InventoryService/GetItem",
        &headers,
        br#"{"id":"apple"}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["name"], "Apple");
    assert_eq!(r.json()["category"], "CATEGORY_FRUIT");
    assert_eq!(r.header("x-tenant-echo"), Some("acme"));
    assert!(r.header("trailer-x-item-etag").is_some(), "{r:?}");

    let (r, _) = send(
        &gw,
        Method::POST,
        "/py.inventory.v1.InventoryService/ReserveItem",
        &CONNECT_JSON,
        br#"{"id":"pear","quantity":99}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, 400, "{r:?}");
    let v = r.json();
    assert_eq!(v["code"], "failed_precondition");
    assert_eq!(v["details"][0]["type"], "py.inventory.v1.InventoryError");
    assert_eq!(v["details"][0]["debug"]["reason"], "INSUFFICIENT_STOCK");

    let (r, bytes) = send(
        &gw,
        Method::POST,
        "/py.inventory.v1.InventoryService/WatchItems",
        &[("content-type", "application/connect+json")],
        envelope(0, br#"{"tag":"fruit"}"#),
    )
    .await;
    assert_eq!(r.status, 200);
    let env = envelopes(bytes);
    let names: Vec<String> = env[..env.len() - 1]
        .iter()
        .map(|(_, p)| {
            serde_json::from_slice::<serde_json::Value>(p).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["apple", "pear"]);
    assert_eq!(env.last().unwrap().0, 2);
}
