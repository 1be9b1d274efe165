//! One port for every client: native gRPC (tonic clients, every call shape),
//! gRPC-Web (hand-framed per the gRPC-Web protocol spec, binary and `-text`) and
//! CORS, all on the gateway's public HTTP port, against the real binary.

mod support;

use std::time::{Duration, Instant};
use switchboard_examples::RpcStatus;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use support::{Backend, Gateway, backend_yaml, free_port};
use switchboard_examples::Reflection;
use switchboard_examples::pb::helloworld::greeter_client::GreeterClient;
use switchboard_examples::pb::helloworld::{HelloReply, HelloRequest, HelloStreamRequest};
use switchboard_examples::pb::switchboard::testing::v1::echo_client::EchoClient;
use switchboard_examples::pb::switchboard::testing::v1::{
    EchoRequest, EchoResponse, EchoStreamRequest, ErrorDetail,
};
use tonic::transport::Channel;
use tonic::{Code, Request as GrpcRequest};

const CORS: &str = "cors:\n  allowed_origins: [\"https://app.example\"]\n  max_age: 10m\n";

/// The greeter backend (Greeter + Echo) behind a gateway whose config gives it a
/// 1 s default deadline, plus `extra` top-level config.
async fn setup(extra: &str) -> (Backend, Gateway) {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let backends = backend_yaml("greeter", greeter.addr, "timeout: 1s");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.yaml");
    let http = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    std::fs::write(&config, Gateway::render(http, admin, &backends) + extra).unwrap();
    let gw = Gateway::start_with(dir, config, http, admin).await;
    (greeter, gw)
}

async fn channel(gw: &Gateway) -> Channel {
    Channel::from_shared(gw.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn echo(s: &str) -> EchoRequest {
    EchoRequest {
        string_value: s.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn native_grpc_every_call_shape() {
    let (_b, gw) = setup("").await;
    let ch = channel(&gw).await;
    let mut greeter = GreeterClient::new(ch.clone());
    let mut echo_client = EchoClient::new(ch);

    // Unary.
    let r = greeter
        .say_hello(HelloRequest {
            name: "grpc".into(),
        })
        .await
        .unwrap();
    assert_eq!(r.get_ref().message, "Hello, grpc!");

    // Unary with header metadata both ways and a custom trailer (tonic merges
    // trailers into the unary response's metadata).
    let mut req = GrpcRequest::new(echo("hi"));
    req.metadata_mut()
        .insert("x-client-note", "through".parse().unwrap());
    let r = echo_client.echo(req).await.unwrap();
    assert_eq!(r.metadata().get("x-echo").unwrap(), "1");
    assert_eq!(r.metadata().get("x-echo-trailer").unwrap(), "1");
    let body = r.into_inner();
    assert_eq!(body.request.unwrap().string_value, "hi");
    assert_eq!(body.metadata["x-client-note"], "through");
    assert!(
        body.metadata.contains_key("x-forwarded-for"),
        "{:?}",
        body.metadata
    );

    // Server streaming.
    let mut stream = greeter
        .say_hello_stream(HelloStreamRequest {
            name: "s".into(),
            count: 3,
            interval_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(m) = stream.message().await.unwrap() {
        got.push(m.message);
    }
    assert_eq!(got, ["Hello, s! (1)", "Hello, s! (2)", "Hello, s! (3)"]);
    let trailers = stream.trailers().await.unwrap();
    assert!(trailers.is_some());

    // Client streaming.
    let r = echo_client
        .collect(tokio_stream::iter(["a", "b", "c"].map(echo)))
        .await
        .unwrap();
    assert_eq!(r.get_ref().count, 3);
    assert_eq!(r.get_ref().string_values, ["a", "b", "c"]);

    // Bidirectional, interleaved: each reply arrives before the next request is sent.
    let (tx, rx) = tokio::sync::mpsc::channel::<EchoRequest>(1);
    let mut replies = echo_client
        .chat(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    for word in ["one", "two", "three"] {
        tx.send(echo(word)).await.unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(5), replies.message())
            .await
            .expect("bidi reply in time")
            .unwrap()
            .unwrap();
        assert_eq!(reply.request.unwrap().string_value, word);
    }
    drop(tx);
    assert!(replies.message().await.unwrap().is_none());
    let trailers = replies.trailers().await.unwrap().unwrap();
    assert_eq!(trailers.get("x-echo-trailer").unwrap(), "1");
}

#[tokio::test]
async fn native_grpc_errors_keep_status_details_and_trailers() {
    let (_b, gw) = setup("").await;
    let ch = channel(&gw).await;
    let mut echo_client = EchoClient::new(ch.clone());

    let status = echo_client
        .echo(EchoRequest {
            fail_code: Code::NotFound as i32,
            fail_message: "no such thing".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), "no such thing");
    assert_eq!(status.metadata().get("x-echo-trailer").unwrap(), "1");
    let details = RpcStatus::decode(status.details()).expect("details are a google.rpc.Status");
    assert_eq!(details.code, Code::NotFound as i32);
    assert_eq!(
        details.details[0].type_url,
        "type.googleapis.com/switchboard.testing.v1.ErrorDetail"
    );
    let detail = ErrorDetail::decode(details.details[0].value.as_slice()).unwrap();
    assert_eq!(detail.reason, "REQUESTED_FAILURE");

    // A failure midway through a bidi stream: the messages before it arrive,
    // then the status with its details.
    let mut replies = echo_client
        .chat(tokio_stream::iter([
            echo("fine"),
            EchoRequest {
                fail_code: Code::Aborted as i32,
                ..Default::default()
            },
        ]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        replies
            .message()
            .await
            .unwrap()
            .unwrap()
            .request
            .unwrap()
            .string_value,
        "fine"
    );
    let status = replies.message().await.unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert!(!status.details().is_empty());

    // A service no backend exposes: UNIMPLEMENTED, as from a gRPC server.
    let mut library = switchboard_examples::pb::example::library::v1::library_service_client::LibraryServiceClient::new(ch);
    let status = library
        .get_book(
            switchboard_examples::pb::example::library::v1::GetBookRequest {
                name: "shelves/1/books/1".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert_eq!(
        status.message(),
        "unknown service example.library.v1.LibraryService"
    );
}

#[tokio::test]
async fn native_grpc_unknown_method_is_a_trailers_only_unimplemented() {
    let (_b, gw) = setup("").await;
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let req = Request::post(gw.url("/helloworld.Greeter/Nope"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(grpc_frame(
            0,
            &HelloRequest::default().encode_to_vec(),
        )))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 200, "gRPC errors are never HTTP errors");
    assert_eq!(resp.headers()["grpc-status"], "12");
    assert_eq!(
        percent_decode(resp.headers()["grpc-message"].to_str().unwrap()),
        "unknown method Nope for service helloworld.Greeter"
    );
    let body = resp.into_body().collect().await.unwrap();
    assert!(body.trailers().is_none());
    assert!(body.to_bytes().is_empty());
}

#[tokio::test]
async fn native_grpc_deadlines() {
    let (_b, gw) = setup("").await;
    let mut echo_client = EchoClient::new(channel(&gw).await);
    let slow = || EchoRequest {
        delay_ms: 5_000,
        ..Default::default()
    };

    // The client's own deadline, sent as grpc-timeout by a client that does not
    // enforce it itself: the gateway does, with a DEADLINE_EXCEEDED trailer.
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let req = Request::post(gw.url("/switchboard.testing.v1.Echo/Echo"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-timeout", "200m")
        .body(Full::new(grpc_frame(0, &slow().encode_to_vec())))
        .unwrap();
    let started = Instant::now();
    let resp = client.request(req).await.unwrap();
    let head_status = resp.headers().get("grpc-status").cloned();
    let body = resp.into_body().collect().await.unwrap();
    let status = head_status
        .or_else(|| body.trailers().and_then(|t| t.get("grpc-status").cloned()))
        .expect("a grpc-status");
    assert_eq!(status, "4");
    assert!(started.elapsed() < Duration::from_secs(2));

    // No client deadline: the backend's configured 1 s applies.
    let started = Instant::now();
    let status = echo_client.echo(slow()).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );

    // A longer client deadline is capped by it too.
    let mut req = GrpcRequest::new(slow());
    req.set_timeout(Duration::from_secs(30));
    let started = Instant::now();
    let status = echo_client.echo(req).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

// ---------------------------------------------------------------------------------
// gRPC-Web, framed by hand from the protocol spec (PROTOCOL-WEB.md).
// ---------------------------------------------------------------------------------

/// One length-prefixed message: flag byte, 4-byte big-endian length, payload.
fn grpc_frame(flag: u8, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + payload.len());
    b.put_u8(flag);
    b.put_u32(payload.len() as u32);
    b.put_slice(payload);
    b.freeze()
}

/// `grpc-message` is percent-encoded on the wire (gRPC's HTTP/2 spec).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A parsed gRPC-Web response body: the messages, then the trailers frame.
#[derive(Debug, Default)]
struct WebBody {
    messages: Vec<Bytes>,
    trailers: Option<Vec<(String, String)>>,
}

impl WebBody {
    fn parse(mut body: Bytes) -> WebBody {
        let mut out = WebBody::default();
        while body.has_remaining() {
            assert!(body.len() >= 5, "truncated frame header");
            let flag = body.get_u8();
            let len = body.get_u32() as usize;
            assert!(body.len() >= len, "truncated frame");
            let payload = body.split_to(len);
            if flag & 0x80 != 0 {
                assert!(out.trailers.is_none(), "two trailers frames");
                let text = std::str::from_utf8(&payload).expect("trailers are text");
                let lines = text
                    .split("\r\n")
                    .filter(|l| !l.is_empty())
                    .map(|l| {
                        let (k, v) = l.split_once(':').expect("name: value");
                        (k.to_string(), v.trim().to_string())
                    })
                    .collect();
                out.trailers = Some(lines);
            } else {
                assert!(out.trailers.is_none(), "message after the trailers frame");
                assert_eq!(flag, 0, "uncompressed message");
                out.messages.push(payload);
            }
        }
        out
    }

    fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .as_ref()?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes a `-text` body: base64 that may be several padded chunks in a row,
/// so it is decoded in 4-character groups, as the spec allows.
fn decode_text(body: &[u8]) -> Bytes {
    let clean: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    assert_eq!(clean.len() % 4, 0, "base64 length");
    let mut out = Vec::new();
    for group in clean.chunks(4) {
        out.extend(B64.decode(group).expect("valid base64"));
    }
    out.into()
}

struct WebReply {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl WebReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One HTTP/1.1 request, as a browser's fetch would send it.
async fn web_request(method: Method, url: &str, headers: &[(&str, &str)], body: Bytes) -> WebReply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut builder = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let resp = tokio::time::timeout(
        Duration::from_secs(20),
        client.request(builder.body(Full::new(body)).unwrap()),
    )
    .await
    .expect("in time")
    .unwrap();
    let (parts, body) = resp.into_parts();
    WebReply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

async fn grpc_web(gw: &Gateway, path: &str, message: &[u8], text: bool) -> WebReply {
    let frame = grpc_frame(0, message);
    let (ct, body) = if text {
        ("application/grpc-web-text", Bytes::from(B64.encode(&frame)))
    } else {
        ("application/grpc-web+proto", frame)
    };
    web_request(
        Method::POST,
        &gw.url(path),
        &[
            ("content-type", ct),
            ("accept", if text { ct } else { "application/grpc-web" }),
            ("x-grpc-web", "1"),
            ("x-user-agent", "grpc-web-javascript/0.1"),
        ],
        body,
    )
    .await
}

#[tokio::test]
async fn grpc_web_binary_unary_with_trailers_frame() {
    let (_b, gw) = setup("").await;
    let r = grpc_web(
        &gw,
        "/switchboard.testing.v1.Echo/Echo",
        &echo("web").encode_to_vec(),
        false,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/grpc-web+proto"));
    assert_eq!(r.header("x-echo"), Some("1"), "header metadata as headers");
    let body = WebBody::parse(r.body);
    assert_eq!(body.messages.len(), 1);
    let reply = EchoResponse::decode(body.messages[0].clone()).unwrap();
    assert_eq!(reply.request.unwrap().string_value, "web");
    assert_eq!(body.trailer("grpc-status"), Some("0"));
    assert_eq!(body.trailer("x-echo-trailer"), Some("1"));

    let r = grpc_web(
        &gw,
        "/helloworld.Greeter/SayHello",
        &HelloRequest { name: "b".into() }.encode_to_vec(),
        false,
    )
    .await;
    let body = WebBody::parse(r.body);
    assert_eq!(
        HelloReply::decode(body.messages[0].clone())
            .unwrap()
            .message,
        "Hello, b!"
    );
    assert_eq!(body.trailer("grpc-status"), Some("0"));
}

#[tokio::test]
async fn grpc_web_text_server_streaming() {
    let (_b, gw) = setup("").await;
    let req = EchoStreamRequest {
        request: Some(echo("t")),
        count: 3,
        ..Default::default()
    };
    let r = grpc_web(
        &gw,
        "/switchboard.testing.v1.Echo/EchoStream",
        &req.encode_to_vec(),
        true,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/grpc-web-text+proto")
    );
    let body = WebBody::parse(decode_text(&r.body));
    assert_eq!(body.messages.len(), 3);
    for m in &body.messages {
        let reply = EchoResponse::decode(m.clone()).unwrap();
        assert_eq!(reply.request.unwrap().string_value, "t");
    }
    assert_eq!(body.trailer("grpc-status"), Some("0"));

    // A failure after the messages: status in the trailers frame.
    let req = EchoStreamRequest {
        request: Some(echo("t")),
        count: 1,
        fail_code: Code::ResourceExhausted as i32,
        fail_message: "enough".into(),
        ..Default::default()
    };
    let r = grpc_web(
        &gw,
        "/switchboard.testing.v1.Echo/EchoStream",
        &req.encode_to_vec(),
        true,
    )
    .await;
    let body = WebBody::parse(decode_text(&r.body));
    assert_eq!(body.messages.len(), 1);
    assert_eq!(body.trailer("grpc-status"), Some("8"));
    assert_eq!(body.trailer("grpc-message"), Some("enough"));
    assert!(body.trailer("grpc-status-details-bin").is_some());
}

#[tokio::test]
async fn grpc_web_errors_as_trailers_only() {
    let (_b, gw) = setup("").await;
    let req = EchoRequest {
        fail_code: Code::PermissionDenied as i32,
        fail_message: "not you".into(),
        ..Default::default()
    };
    for text in [false, true] {
        let r = grpc_web(
            &gw,
            "/switchboard.testing.v1.Echo/Echo",
            &req.encode_to_vec(),
            text,
        )
        .await;
        // Trailers-only: HTTP 200, the status in the headers, no frames.
        assert_eq!(r.status, 200);
        assert_eq!(r.header("grpc-status"), Some("7"));
        assert_eq!(percent_decode(r.header("grpc-message").unwrap()), "not you");
        assert_eq!(r.header("x-echo-trailer"), Some("1"));
        let details = B64
            .decode(r.header("grpc-status-details-bin").unwrap())
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(r.header("grpc-status-details-bin").unwrap())
            })
            .unwrap();
        assert_eq!(
            RpcStatus::decode(details.as_slice()).unwrap().code,
            Code::PermissionDenied as i32
        );
        assert!(r.body.is_empty(), "{:?}", r.body);
    }

    // The gateway's own error, the same way.
    let r = grpc_web(&gw, "/no.Such/Service", &[], false).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("grpc-status"), Some("12"));
    assert_eq!(
        percent_decode(r.header("grpc-message").unwrap()),
        "unknown service no.Such"
    );
}

// ---------------------------------------------------------------------------------
// CORS
// ---------------------------------------------------------------------------------

/// A browser's preflight for a gRPC-Web call.
async fn preflight(gw: &Gateway, origin: &str) -> WebReply {
    web_request(
        Method::OPTIONS,
        &gw.url("/switchboard.testing.v1.Echo/Echo"),
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,x-grpc-web,x-user-agent,grpc-timeout",
            ),
        ],
        Bytes::new(),
    )
    .await
}

#[tokio::test]
async fn cors_preflight_and_exposed_headers() {
    let (_b, gw) = setup(CORS).await;

    let r = preflight(&gw, "https://app.example").await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type,x-grpc-web,x-user-agent,grpc-timeout")
    );
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert!(r.header("access-control-allow-credentials").is_none());

    let r = preflight(&gw, "https://evil.example").await;
    assert_eq!(r.status, 403);
    assert!(r.header("access-control-allow-origin").is_none());

    // The actual gRPC-Web call from the page.
    let r = web_request(
        Method::POST,
        &gw.url("/switchboard.testing.v1.Echo/Echo"),
        &[
            ("origin", "https://app.example"),
            ("content-type", "application/grpc-web+proto"),
            ("x-grpc-web", "1"),
        ],
        grpc_frame(0, &echo("cors").encode_to_vec()),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let exposed = r.header("access-control-expose-headers").unwrap();
    for name in [
        "grpc-status",
        "grpc-message",
        "grpc-status-details-bin",
        "x-echo",
    ] {
        assert!(
            exposed.split(", ").any(|n| n == name),
            "{name} in {exposed}"
        );
    }
    assert!(r.header("vary").unwrap().contains("origin"));
    let body = WebBody::parse(r.body);
    assert_eq!(body.trailer("grpc-status"), Some("0"));

    // HTTP/JSON gets the same treatment.
    let r = web_request(
        Method::POST,
        &gw.url("/helloworld.Greeter/SayHello"),
        &[
            ("origin", "https://app.example"),
            ("content-type", "application/json"),
        ],
        Bytes::from_static(br#"{"name":"json"}"#),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );

    // Another origin is served, but not readable by its scripts.
    let r = web_request(
        Method::POST,
        &gw.url("/helloworld.Greeter/SayHello"),
        &[
            ("origin", "https://evil.example"),
            ("content-type", "application/json"),
        ],
        Bytes::from_static(br#"{"name":"json"}"#),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn no_cors_config_means_no_cors_headers() {
    let (_b, gw) = setup("").await;
    let r = web_request(
        Method::OPTIONS,
        &gw.url("/helloworld.Greeter/SayHello"),
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
        ],
        Bytes::new(),
    )
    .await;
    // Routed like any request: POST-only path, so grpc-gateway's 501.
    assert_eq!(r.status, 501);
    assert!(r.header("access-control-allow-origin").is_none());
}
