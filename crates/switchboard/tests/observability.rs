//! End-to-end observability: request IDs (generated, kept, forwarded to the
//! backend, echoed on every answer), the access log (JSON lines for a 200, a
//! 404, a server stream and a native gRPC call), and OpenTelemetry traces (an
//! in-test OTLP collector receives the gateway's spans in the client's trace;
//! the backend sees the gateway's span as `traceparent`), plus `traceparent`
//! passed through unchanged when tracing is off.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Method;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::Value;
use support::{Backend, Gateway, backend_yaml, eventually, free_port, get, post, request};
use switchboard_examples::Reflection;
use switchboard_examples::pb::switchboard::testing::v1::EchoRequest;
use switchboard_examples::pb::switchboard::testing::v1::echo_client::EchoClient;
use tonic::transport::Channel;

/// The greeter backend (Greeter + Echo) behind a gateway with `extra`
/// top-level config.
async fn setup(extra: &str) -> (Backend, Gateway) {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let backends = backend_yaml("echo", greeter.addr, "");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.yaml");
    let http = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let extra = extra.replace("$DIR", &dir.path().display().to_string());
    std::fs::write(&config, Gateway::render(http, admin, &backends) + &extra).unwrap();
    let gw = Gateway::start_with(dir, config, http, admin).await;
    (greeter, gw)
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn is_uuid_v4(id: &str) -> bool {
    id.len() == 36
        && id.as_bytes()[14] == b'4'
        && id
            .chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

#[tokio::test]
async fn request_ids_are_kept_or_generated_forwarded_and_echoed() {
    let (_b, gw) = setup("").await;
    // Generated: echoed to the client and seen by the backend.
    let r = post(&gw.url("/v1/echo"), r#"{"stringValue":"a"}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.header("x-request-id").unwrap().to_owned();
    assert!(is_uuid_v4(&id), "{id}");
    assert_eq!(r.json()["metadata"]["x-request-id"], id.as_str());

    // Supplied and valid: kept. traceparent with tracing off: unchanged.
    let r = request(
        Method::POST,
        &gw.url("/v1/echo"),
        &[
            ("x-request-id", "client-id-42"),
            ("traceparent", TRACEPARENT),
            ("tracestate", "vendor=x"),
        ],
        Some(r#"{"stringValue":"b"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.header("x-request-id"), Some("client-id-42"));
    let md = &r.json()["metadata"];
    assert_eq!(md["x-request-id"], "client-id-42");
    assert_eq!(md["traceparent"], TRACEPARENT);
    assert_eq!(md["tracestate"], "vendor=x");

    // Invalid (a space, too long): replaced.
    for bad in ["has space".to_owned(), "x".repeat(129)] {
        let r = request(
            Method::POST,
            &gw.url("/v1/echo"),
            &[("x-request-id", &bad)],
            Some("{}"),
        )
        .await
        .unwrap();
        let id = r.header("x-request-id").unwrap();
        assert!(is_uuid_v4(id), "{id}");
        assert_eq!(r.json()["metadata"]["x-request-id"], id);
    }

    // Errors, streams and native gRPC carry it too.
    let r = get(&gw.url("/no/such/route")).await.unwrap();
    assert_eq!(r.status, 404);
    assert!(is_uuid_v4(r.header("x-request-id").unwrap()));
    let r = post(&gw.url("/v1/echo:stream"), r#"{"count":2}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(is_uuid_v4(r.header("x-request-id").unwrap()));
    assert_eq!(r.body.lines().count(), 2, "{}", r.body);

    let ch = Channel::from_shared(gw.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut echo = EchoClient::new(ch);
    let mut req = tonic::Request::new(EchoRequest::default());
    req.metadata_mut()
        .insert("x-request-id", "grpc-client-7".parse().unwrap());
    let reply = echo.echo(req).await.unwrap();
    assert_eq!(
        reply.metadata().get("x-request-id").unwrap(),
        "grpc-client-7"
    );
    assert_eq!(reply.get_ref().metadata["x-request-id"], "grpc-client-7");
    let reply = echo.echo(EchoRequest::default()).await.unwrap();
    let id = reply
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(is_uuid_v4(id));
    assert_eq!(reply.get_ref().metadata["x-request-id"], id);

    // Connect and gRPC-Web.
    let r = request(
        Method::POST,
        &gw.url("/switchboard.testing.v1.Echo/Echo"),
        &[
            ("content-type", "application/json"),
            ("connect-protocol-version", "1"),
            ("x-request-id", "connect-1"),
        ],
        Some(r#"{"stringValue":"c"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-request-id"), Some("connect-1"));
    assert_eq!(r.json()["metadata"]["x-request-id"], "connect-1");
    let (r, _) = support::request_bytes(
        Method::POST,
        &gw.url("/switchboard.testing.v1.Echo/Echo"),
        &[("content-type", "application/grpc-web+proto")],
        vec![0, 0, 0, 0, 0],
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(
        is_uuid_v4(r.header("x-request-id").unwrap()),
        "{:?}",
        r.headers
    );
}

#[tokio::test]
async fn request_id_header_is_configurable() {
    let (_b, gw) = setup("request_id:\n  header: X-Correlation-ID\n").await;
    let r = request(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("x-correlation-id", "corr-1")],
        Some("{}"),
    )
    .await
    .unwrap();
    assert_eq!(r.header("x-correlation-id"), Some("corr-1"));
    assert_eq!(r.json()["metadata"]["x-correlation-id"], "corr-1");
    assert!(r.header("x-request-id").is_none());
}

fn log_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The documented keys of an access log line (README "Observability").
const KEYS: [&str; 17] = [
    "time",
    "request_id",
    "peer",
    "method",
    "path",
    "route",
    "backend",
    "endpoint",
    "grpc_method",
    "status",
    "grpc_code",
    "duration_ms",
    "bytes_in",
    "bytes_out",
    "protocol",
    "user_agent",
    "trace_id",
];

#[tokio::test]
async fn access_log_lines_are_json_with_the_documented_keys() {
    let (backend, gw) = setup("access_log:\n  format: json\n  to: $DIR/access.log\n").await;
    let path = gw.dir.path().join("access.log");
    let ok = request(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("user-agent", "obs-test/1")],
        Some(r#"{"stringValue":"x"}"#),
    )
    .await
    .unwrap();
    assert_eq!(ok.status, 200);
    let missing = get(&gw.url("/no/such/route")).await.unwrap();
    assert_eq!(missing.status, 404);
    let stream = post(&gw.url("/v1/echo:stream"), r#"{"count":3}"#)
        .await
        .unwrap();
    assert_eq!(stream.body.lines().count(), 3);
    let ch = Channel::from_shared(gw.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let grpc = EchoClient::new(ch)
        .echo(EchoRequest::default())
        .await
        .unwrap();
    let grpc_id = grpc
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();

    assert!(
        eventually(|| async { log_lines(&path).len() >= 4 }).await,
        "access log: {:?}\n{}",
        std::fs::read_to_string(&path),
        gw.log()
    );
    let lines = log_lines(&path);
    for line in &lines {
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        for k in KEYS {
            assert!(keys.contains(&k), "{k} missing in {line}");
        }
        assert_eq!(keys.len(), KEYS.len(), "{line}");
    }
    let by_id = |id: &str| {
        lines
            .iter()
            .find(|l| l["request_id"] == id)
            .unwrap_or_else(|| panic!("no line for {id}: {lines:?}"))
            .clone()
    };
    let endpoint = backend.addr.to_string();

    let l = by_id(ok.header("x-request-id").unwrap());
    assert_eq!(l["method"], "POST");
    assert_eq!(l["path"], "/v1/echo");
    assert_eq!(l["route"], "POST /v1/echo");
    assert_eq!(l["backend"], "echo");
    assert_eq!(l["endpoint"], endpoint.as_str());
    assert_eq!(l["grpc_method"], "switchboard.testing.v1.Echo/Echo");
    assert_eq!(l["status"], 200);
    assert_eq!(l["grpc_code"], 0);
    assert_eq!(l["protocol"], "json");
    assert_eq!(l["user_agent"], "obs-test/1");
    assert_eq!(l["bytes_in"], r#"{"stringValue":"x"}"#.len());
    assert_eq!(l["bytes_out"], ok.body.len());
    assert!(l["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{l}");
    assert!(l["duration_ms"].as_f64().unwrap() > 0.0, "{l}");
    assert!(l["time"].as_str().unwrap().ends_with('Z'), "{l}");
    assert_eq!(l["trace_id"], Value::Null);

    let l = by_id(missing.header("x-request-id").unwrap());
    assert_eq!(l["status"], 404);
    assert_eq!(l["grpc_code"], 5);
    assert_eq!(l["route"], Value::Null);
    assert_eq!(l["backend"], Value::Null);
    assert_eq!(l["endpoint"], Value::Null);
    assert_eq!(l["protocol"], "json");

    let l = by_id(stream.header("x-request-id").unwrap());
    assert_eq!(l["route"], "POST /v1/echo:stream");
    assert_eq!(l["grpc_method"], "switchboard.testing.v1.Echo/EchoStream");
    assert_eq!(l["status"], 200);
    assert_eq!(l["grpc_code"], 0);
    assert_eq!(l["endpoint"], endpoint.as_str());
    assert_eq!(l["bytes_out"], stream.body.len());

    // logrotate: the file moved away, SIGHUP, and the next line goes to a new file.
    let rotated = gw.dir.path().join("access.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        eventually(|| async {
            let _ = get(&gw.url("/after/rotation")).await;
            !log_lines(&path).is_empty()
        })
        .await,
        "no line in the reopened file\n{}",
        gw.log()
    );
    assert!(
        log_lines(&path)
            .iter()
            .all(|l| l["path"] == "/after/rotation")
    );
    // The rotated file keeps every earlier line; requests made before the
    // SIGHUP reached the writer may have added `/after/rotation` lines to it.
    let kept: Vec<Value> = log_lines(&rotated)
        .into_iter()
        .filter(|l| l["path"] != "/after/rotation")
        .collect();
    assert_eq!(kept, lines);

    let l = by_id(&grpc_id);
    assert_eq!(l["protocol"], "grpc");
    // An empty EchoRequest: the 5-byte frame prefix alone.
    assert_eq!(l["bytes_in"], 5);
    assert_eq!(l["grpc_method"], "switchboard.testing.v1.Echo/Echo");
    assert_eq!(l["backend"], "echo");
    assert_eq!(l["endpoint"], endpoint.as_str());
    assert_eq!(l["grpc_code"], 0);
    assert_eq!(l["status"], 200);
}

/// An OTLP/gRPC collector that keeps every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            for ss in rs.scope_spans {
                spans.extend(ss.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn traces_continue_the_client_trace_and_reach_the_backend() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = listener.local_addr().unwrap();
    let service = TraceServiceServer::new(collector.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let (_b, gw) = setup(&format!(
        "tracing:\n  otlp_endpoint: \"http://{otlp}\"\n  sample_ratio: 1.0\n  service_name: sb-test\naccess_log:\n  to: $DIR/access.log\n"
    ))
    .await;
    let r = request(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("traceparent", TRACEPARENT)],
        Some("{}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let seen = r.json()["metadata"]["traceparent"]
        .as_str()
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = seen.split('-').collect();
    assert_eq!(parts.len(), 4, "{seen}");
    assert_eq!(parts[1], TRACE_ID, "the backend joins the client's trace");
    assert_ne!(
        parts[2], "00f067aa0ba902b7",
        "the gateway's own span is the parent"
    );
    assert_eq!(parts[3], "01");

    // An unsampled parent is followed: nothing exported, the decision passed on.
    let unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    let r = request(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("traceparent", unsampled)],
        Some("{}"),
    )
    .await
    .unwrap();
    let seen_unsampled = r.json()["metadata"]["traceparent"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        seen_unsampled.starts_with("00-0af7651916cd43dd8448eb211c80319c-")
            && seen_unsampled.ends_with("-00"),
        "{seen_unsampled}"
    );

    let spans = || collector.spans.lock().unwrap().clone();
    assert!(
        eventually(|| async { spans().len() >= 2 }).await,
        "spans: {:?}\n{}",
        spans(),
        gw.log()
    );
    let spans = spans();
    let server = spans
        .iter()
        .find(|s| hex(&s.trace_id) == TRACE_ID && hex(&s.parent_span_id) == "00f067aa0ba902b7")
        .unwrap_or_else(|| panic!("no server span in the client's trace: {spans:?}"));
    assert_eq!(server.name, "POST /v1/echo");
    let attr = |s: &Span, k: &str| {
        s.attributes
            .iter()
            .find(|a| a.key == k)
            .and_then(|a| a.value.clone())
            .map(|v| format!("{:?}", v.value))
            .unwrap_or_default()
    };
    assert!(
        attr(server, "http.route").contains("POST /v1/echo"),
        "{server:?}"
    );
    assert!(attr(server, "backend").contains("echo"), "{server:?}");
    assert!(
        attr(server, "http.response.status_code").contains("200"),
        "{server:?}"
    );
    let client = spans
        .iter()
        .find(|s| s.parent_span_id == server.span_id)
        .unwrap_or_else(|| panic!("no upstream span: {spans:?}"));
    assert_eq!(client.name, "upstream");
    assert_eq!(hex(&client.trace_id), TRACE_ID);
    assert_eq!(
        hex(&client.span_id),
        parts[2],
        "the backend saw the attempt span"
    );
    assert!(
        attr(client, "endpoint").contains("127.0.0.1:"),
        "{client:?}"
    );

    assert!(
        !spans
            .iter()
            .any(|s| hex(&s.trace_id) == "0af7651916cd43dd8448eb211c80319c"),
        "an unsampled trace was exported"
    );

    // The access log line names the trace.
    let path = gw.dir.path().join("access.log");
    assert!(
        eventually(|| async { log_lines(&path).iter().any(|l| l["trace_id"] == TRACE_ID) }).await,
        "{:?}",
        std::fs::read_to_string(&path)
    );
    let _ = Duration::ZERO;
}

fn decode(coding: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match coding {
        "gzip" => {
            flate2::read::GzDecoder::new(data)
                .read_to_end(&mut out)
                .unwrap();
        }
        "br" => {
            brotli::Decompressor::new(data, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        "zstd" => out = zstd::decode_all(data).unwrap(),
        other => panic!("unexpected coding {other}"),
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn responses_are_compressed_as_accepted_and_requests_decoded() {
    let (_b, gw) = setup("").await;
    let long = "compressible ".repeat(200);
    let body = format!(r#"{{"stringValue":"{long}"}}"#);
    let (plain, _) = support::request_bytes(
        Method::POST,
        &gw.url("/v1/echo"),
        &[],
        body.clone().into_bytes(),
    )
    .await
    .unwrap();
    assert!(plain.header("content-encoding").is_none());
    assert_eq!(plain.header("vary"), Some("accept-encoding"));
    let expected: Value = plain.json();
    assert_eq!(expected["request"]["stringValue"], long.as_str());
    for (accept, coding) in [
        ("gzip", "gzip"),
        ("br", "br"),
        ("zstd", "zstd"),
        ("gzip;q=0.5, br;q=0.9", "br"),
        ("gzip, br, zstd", "zstd"),
    ] {
        let (r, raw) = support::request_bytes(
            Method::POST,
            &gw.url("/v1/echo"),
            &[("accept-encoding", accept)],
            body.clone().into_bytes(),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some(coding), "{accept}");
        assert_eq!(r.header("vary"), Some("accept-encoding"));
        assert!(raw.len() < plain.body.len(), "{accept}: not smaller");
        let decoded: Value = serde_json::from_slice(&decode(coding, &raw)).unwrap();
        // The same JSON, except the per-request ID the backend echoes.
        let strip = |mut v: Value| {
            v["metadata"] = Value::Null;
            v
        };
        assert_eq!(strip(decoded), strip(expected.clone()), "{accept}");
    }
    // Small answers stay as they are.
    let r = request(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("accept-encoding", "gzip")],
        Some("{}"),
    )
    .await
    .unwrap();
    assert!(r.header("content-encoding").is_none());

    // A server stream: compressed, every line there once decoded.
    let (r, raw) = support::request_bytes(
        Method::POST,
        &gw.url("/v1/echo:stream"),
        &[("accept-encoding", "gzip")],
        br#"{"count":3,"request":{"stringValue":"s"}}"#.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let text = String::from_utf8(decode("gzip", &raw)).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[2]["result"]["request"]["stringValue"], "s");

    // Native gRPC is never touched (its frames have their own compression).
    let ch = Channel::from_shared(gw.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let reply = EchoClient::new(ch)
        .echo(EchoRequest {
            string_value: long.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(reply.metadata().get("content-encoding").is_none());
    assert_eq!(reply.get_ref().request.as_ref().unwrap().string_value, long);

    // A gzip request body.
    let (r, _) = support::request_bytes(
        Method::POST,
        &gw.url("/v1/echo"),
        &[
            ("content-encoding", "gzip"),
            ("content-type", "application/json"),
        ],
        gzip(body.as_bytes()),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["request"]["stringValue"], long.as_str());

    // A bomb: 64 MiB of zeros in ~64 KiB, against the 4 MiB default limit.
    let bomb = gzip(&vec![b' '; 64 << 20]);
    assert!(bomb.len() < 1 << 20);
    let (r, _) = support::request_bytes(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("content-encoding", "gzip")],
        bomb,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.json()["code"], 8);
    assert!(
        r.json()["message"].as_str().unwrap().contains("limit"),
        "{}",
        r.body
    );

    // Corrupt data and unknown codings are the request's own error.
    let (r, _) = support::request_bytes(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("content-encoding", "gzip")],
        b"not gzip".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["code"], 3);
    let (r, _) = support::request_bytes(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("content-encoding", "compress")],
        b"{}".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 415, "{}", r.body);
    assert_eq!(r.json()["code"], 12);
}

#[tokio::test]
async fn compression_can_be_switched_off() {
    let (_b, gw) = setup("compression:\n  enabled: false\n").await;
    let body = format!(r#"{{"stringValue":"{}"}}"#, "x".repeat(5000));
    let r = request(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("accept-encoding", "gzip")],
        Some(&body),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.header("content-encoding").is_none());
    assert!(r.header("vary").is_none());
}

#[tokio::test]
async fn compressed_grpc_replies_are_read_and_grpc_compression_sends_gzip() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_stop, mut rx) = tokio::sync::watch::channel(false);
    tokio::spawn(switchboard_examples::serve_echo_gzip(
        listener,
        Default::default(),
        async move {
            let _ = rx.wait_for(|s| *s).await;
        },
    ));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.yaml");
    let http = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let yaml = Gateway::render(http, admin, &backend_yaml("plain", addr, ""));
    std::fs::write(&config, yaml).unwrap();
    let gw = Gateway::start_with(dir, config.clone(), http, admin).await;

    // The backend compresses every reply: unary and stream are understood.
    let r = post(&gw.url("/v1/echo"), r#"{"stringValue":"zipped"}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}\n{}", r.body, gw.log());
    assert_eq!(r.json()["request"]["stringValue"], "zipped");
    assert!(
        r.json()["metadata"]["grpc-accept-encoding"]
            .as_str()
            .unwrap()
            .contains("gzip")
    );
    assert!(r.json()["metadata"].get("grpc-encoding").is_none());
    let r = post(
        &gw.url("/v1/echo:stream"),
        r#"{"count":2,"request":{"stringValue":"z"}}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.lines().count(), 2, "{}", r.body);
    assert!(r.body.contains(r#""stringValue":"z""#), "{}", r.body);

    // `grpc_compression: gzip`: the backend receives gzip messages.
    let before = gw.version().await;
    support::rename_save(
        &config,
        &Gateway::render(
            http,
            admin,
            &backend_yaml("plain", addr, "grpc_compression: gzip"),
        ),
    );
    gw.wait_version_after(before).await;
    let r = post(&gw.url("/v1/echo"), r#"{"stringValue":"sent zipped"}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["metadata"]["grpc-encoding"], "gzip");
    assert_eq!(r.json()["request"]["stringValue"], "sent zipped");
    let r = post(
        &gw.url("/v1/echo:stream"),
        r#"{"count":1,"request":{"stringValue":"y"}}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let line: Value = serde_json::from_str(r.body.lines().next().unwrap()).unwrap();
    assert_eq!(
        line["result"]["metadata"]["grpc-encoding"], "gzip",
        "{}",
        r.body
    );
}
