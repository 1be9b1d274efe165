//! End-to-end tests of grpc-gateway v2 runtime parity (issue 13), through the
//! real binary against the example tonic backends and the Python grpcio
//! backend: path percent-decoding modes, the POST form fallback and
//! `X-HTTP-Method-Override`, form bodies on body-less routes, nested `body`
//! paths, WebSocket binding, error metadata kept apart, the HttpBody stream
//! delimiter, the upload drain of early answers, standard error details and
//! query keys into well-known types.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::Method;
use serde_json::{Value, json};
use support::{Backend, Gateway, PythonBackend, backend_yaml, free_port, get, request};
use switchboard_examples::Reflection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const FORM: &str = "application/x-www-form-urlencoded";

/// Rules on the echo backend (they replace the methods' annotations).
const ECHO_RULES: &str = r#"http_rules:
  - selector: switchboard.testing.v1.Echo.Echo
    get: "/v1/echo/{string_value}"
    additional_bindings:
      - get: "/v1/prefixed/{string_value=strprefix/*}"
      - put: "/v1/form/{string_value}"
      - post: "/v1/nested"
        body: "nested.label"
      - post: "/v1/choice"
        body: "choice_nested.label"
  - selector: switchboard.testing.v1.Echo.EchoStream
    post: "/v1/streams/{request.string_value}"
    body: "*"
    additional_bindings:
      - post: "/v1/streams/{request.string_value}:query"
        body: "request"
"#;

/// A gateway over `backends` with `top` top-level config keys added.
async fn gateway(backends: &str, top: &str) -> Gateway {
    gateway_with_files(backends, top, &[]).await
}

/// [`gateway`] with extra files written next to the config.
async fn gateway_with_files(backends: &str, top: &str, files: &[(&str, &str)]) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let config = dir.path().join("switchboard.yaml");
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let text = format!("{top}{}", Gateway::render(http, admin, backends));
    std::fs::write(&config, text).unwrap();
    Gateway::start_with(dir, config, http, admin).await
}

async fn echo_gateway(top: &str) -> (Backend, Gateway) {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let gw = gateway(&backend_yaml("echo", greeter.addr, ECHO_RULES), top).await;
    (greeter, gw)
}

/// The echoed `stringValue` of a GET, or the HTTP status when it fails.
async fn echoed(gw: &Gateway, path: &str) -> Result<String, u16> {
    let r = get(&gw.url(path)).await.unwrap();
    if r.status != 200 {
        return Err(r.status);
    }
    Ok(r.json()["request"]["stringValue"]
        .as_str()
        .unwrap()
        .to_owned())
}

#[tokio::test]
async fn path_percent_decoding_modes() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let backends = backend_yaml("echo", greeter.addr, ECHO_RULES);

    // Default (grpc-gateway's UnescapingModeLegacy): the whole path is decoded
    // before routing, so an escaped slash splits segments.
    let gw = gateway(&backends, "").await;
    assert_eq!(
        echoed(&gw, "/v1/prefixed/strprefix%2Fabc").await,
        Ok("strprefix/abc".into())
    );
    assert_eq!(echoed(&gw, "/v1/echo/a%20b").await, Ok("a b".into()));
    assert_eq!(echoed(&gw, "/v1/echo/a%2Fb").await, Err(404));
    assert_eq!(echoed(&gw, "/v1/echo/100%2525").await, Ok("100%25".into()));
    let r = get(&gw.url("/v1/nothing/%zz")).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("invalid URL escape \"%zz\""),
        "{}",
        r.body
    );
    drop(gw);

    let gw = gateway(&backends, "http:\n  unescaping_mode: all_except_reserved\n").await;
    assert_eq!(echoed(&gw, "/v1/prefixed/strprefix%2Fabc").await, Err(404));
    assert_eq!(
        echoed(&gw, "/v1/prefixed/strprefix/a%3Ab%20c%2Fd").await,
        Ok("strprefix/a%3Ab c%2Fd".into())
    );
    assert_eq!(echoed(&gw, "/v1/echo/a%2Fb%3A").await, Ok("a/b:".into()));
    drop(gw);

    let gw = gateway(&backends, "http:\n  unescaping_mode: all_except_slash\n").await;
    assert_eq!(
        echoed(&gw, "/v1/prefixed/strprefix/a%3Ab%2Fc").await,
        Ok("strprefix/a:b%2Fc".into())
    );
    drop(gw);

    let gw = gateway(&backends, "http:\n  unescaping_mode: all_characters\n").await;
    assert_eq!(
        echoed(&gw, "/v1/prefixed/strprefix%2Fa%3Ab").await,
        Ok("strprefix/a:b".into())
    );
    assert_eq!(echoed(&gw, "/v1/echo/a%2Fb").await, Err(404));
    // grpc-gateway's splitter is case-sensitive: `%2f` is decoded, not split.
    assert_eq!(echoed(&gw, "/v1/echo/a%2fb").await, Ok("a/b".into()));
}

#[tokio::test]
async fn post_form_fallback_and_method_override() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let library = Backend::library(Reflection::V1AndV1Alpha).await;
    let backends =
        backend_yaml("echo", greeter.addr, ECHO_RULES) + &backend_yaml("library", library.addr, "");
    let gw = gateway(&backends, "").await;

    // A form POST to a GET-only path is served as the GET, fields bound.
    let form = |ct: &'static str| [("content-type", ct)];
    let r = request(
        Method::POST,
        &gw.url("/v1/echo/hello?int64Value=8"),
        &form(FORM),
        Some("int32Value=7&repeatedString=a&repeatedString=b"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let req = &r.json()["request"];
    assert_eq!(req["stringValue"], "hello");
    assert_eq!(req["int32Value"], 7);
    assert_eq!(req["int64Value"], "8");
    assert_eq!(req["repeatedString"], json!(["a", "b"]));
    // Only exactly that Content-Type; anything else is 501, as in grpc-gateway.
    for ct in [&format!("{FORM}; charset=utf-8")[..], "application/json"] {
        let r = request(
            Method::POST,
            &gw.url("/v1/echo/hello"),
            &[("content-type", ct)],
            Some("int32Value=7"),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 501, "{ct}: {}", r.body);
        assert_eq!(r.json()["code"], 12);
    }

    // X-HTTP-Method-Override re-routes such a POST.
    let book = "/v1/shelves/1/books/2";
    let override_to = |m: &'static str| [("content-type", FORM), ("x-http-method-override", m)];
    let r = request(Method::POST, &gw.url(book), &override_to("get"), Some(""))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["name"], "shelves/1/books/2");
    // Ignored without the form Content-Type: still a POST, still 501.
    let r = request(
        Method::POST,
        &gw.url(book),
        &[
            ("content-type", "application/json"),
            ("x-http-method-override", "DELETE"),
        ],
        Some("{}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 501, "{}", r.body);
    let r = request(
        Method::POST,
        &gw.url(book),
        &override_to("DELETE"),
        Some(""),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "{}");
    assert_eq!(get(&gw.url(book)).await.unwrap().status, 404, "deleted");
    drop(gw);

    // method_override: false ignores the header (the fallback still applies).
    let gw = gateway(&backends, "http:\n  method_override: false\n").await;
    let other = "/v1/shelves/1/books/1";
    let r = request(
        Method::POST,
        &gw.url(other),
        &override_to("DELETE"),
        Some(""),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["name"], "shelves/1/books/1", "served as the GET");
    assert_eq!(
        get(&gw.url(other)).await.unwrap().status,
        200,
        "not deleted"
    );
    drop(gw);

    // path_length_fallback: false turns both off.
    let gw = gateway(&backends, "http:\n  path_length_fallback: false\n").await;
    for headers in [&form(FORM)[..], &override_to("GET")[..]] {
        let r = request(Method::POST, &gw.url(other), headers, Some(""))
            .await
            .unwrap();
        assert_eq!(r.status, 501, "{}", r.body);
    }
}

#[tokio::test]
async fn form_bodies_bind_like_the_query_on_routes_without_body() {
    let (_b, gw) = echo_gateway("").await;
    let r = request(
        Method::PUT,
        &gw.url("/v1/form/path?repeatedString=q"),
        &[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        Some("int32Value=5&repeatedString=f&stringValue=ignored&nested.label=n"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let req = &r.json()["request"];
    assert_eq!(req["stringValue"], "path", "path-bound fields are filtered");
    assert_eq!(req["int32Value"], 5);
    assert_eq!(
        req["repeatedString"],
        json!(["f", "q"]),
        "form first, then query"
    );
    assert_eq!(req["nested"]["label"], "n");

    // A singular field in the form and the query: grpc-gateway's error.
    let r = request(
        Method::PUT,
        &gw.url("/v1/form/path?int32Value=2"),
        &[("content-type", FORM)],
        Some("int32Value=1"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"code": 3, "message": "too many values for field \"int32_value\": 1, 2", "details": []})
    );
    // A JSON body on a body-less route is not read.
    let r = request(
        Method::PUT,
        &gw.url("/v1/form/path"),
        &[("content-type", "application/json")],
        Some(r#"{"int32Value":9}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["request"]["int32Value"], 0);
}

#[tokio::test]
async fn nested_body_paths() {
    let (_b, gw) = echo_gateway("").await;
    let status = gw.status().await;
    assert!(
        !status.to_string().contains("nested.label"),
        "no route was skipped: {status}"
    );
    let r = request(
        Method::POST,
        &gw.url("/v1/nested?nested.label=query&nested.value=3&int32Value=4"),
        &[],
        Some(r#""from the body""#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let req = &r.json()["request"];
    assert_eq!(
        req["nested"],
        json!({"label": "from the body", "value": 3}),
        "the leaf comes from the body only"
    );
    assert_eq!(req["int32Value"], 4);

    // Through a oneof member: the body selects it.
    let r = request(
        Method::POST,
        &gw.url("/v1/choice"),
        &[],
        Some(r#""in the oneof""#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["request"]["choiceNested"],
        json!({"label": "in the oneof", "value": 0})
    );
    let r = request(Method::POST, &gw.url("/v1/choice"), &[], Some("7"))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["code"], 3);
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn ws_next(ws: &mut Ws) -> Result<Value, u16> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a WebSocket message in time")
            .expect("a message before the end")
            .unwrap();
        match m {
            Message::Text(t) => return Ok(serde_json::from_str(t.as_str()).unwrap()),
            Message::Close(Some(f)) => return Err(u16::from(f.code)),
            Message::Close(None) => return Err(1005),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn websocket_binds_path_variables_and_query() {
    let (_b, gw) = echo_gateway("").await;

    // body "*": the path variable is bound into each message.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/v1/streams/fromPath", gw.http))
            .await
            .unwrap();
    ws.send(Message::text(r#"{"count":2}"#)).await.unwrap();
    for _ in 0..2 {
        let m = ws_next(&mut ws).await.unwrap();
        assert_eq!(m["result"]["request"]["stringValue"], "fromPath", "{m}");
    }
    assert_eq!(ws_next(&mut ws).await, Err(1000));

    // body "request": the path and the query fill the rest (the `method`
    // parameter that chose the route is not a field).
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/v1/streams/p2:query?method=POST&count=3&request.int32Value=99",
        gw.http
    ))
    .await
    .unwrap();
    ws.send(Message::text(r#"{"int32Value":7,"stringValue":"body"}"#))
        .await
        .unwrap();
    for _ in 0..3 {
        let m = ws_next(&mut ws).await.unwrap();
        let req = &m["result"]["request"];
        assert_eq!(req["stringValue"], "p2", "the path wins: {m}");
        assert_eq!(
            req["int32Value"], 7,
            "the body field is not bound from the query: {m}"
        );
    }
    assert_eq!(ws_next(&mut ws).await, Err(1000));
}

#[tokio::test]
async fn grpcio_errors_keep_metadata_apart_and_decode_standard_details() {
    let py = PythonBackend::start();
    let gw = gateway(&backend_yaml("inventory", py.addr, ""), "").await;
    let port = py.addr.port().to_string();
    let details = json!([{
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{
            "field": "item.id",
            "description": "item.id is required",
            "reason": "REQUIRED",
            "localizedMessage": null,
        }],
    }]);

    // Without TE: trailers: header metadata as Grpc-Metadata-*, trailers dropped.
    let r = request(Method::POST, &gw.url("/v1/items"), &[], Some("{}"))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"code": 3, "message": "item.id is required", "details": details})
    );
    assert_eq!(r.header("grpc-metadata-x-served-by"), Some(port.as_str()));
    assert_eq!(r.header("grpc-metadata-x-violations"), None);
    assert_eq!(r.header("trailer"), None);
    assert!(r.trailers.is_none());

    // With TE: trailers: announced, then sent as Grpc-Trailer-*.
    let r = request(
        Method::POST,
        &gw.url("/v1/items"),
        &[("te", "trailers")],
        Some("{}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["details"], details);
    assert_eq!(r.header("grpc-metadata-x-served-by"), Some(port.as_str()));
    assert_eq!(r.header("trailer"), Some("grpc-trailer-x-violations"));
    let trailers = r.trailers.as_ref().expect("trailers were requested");
    assert_eq!(trailers.get("grpc-trailer-x-violations").unwrap(), "1");
    assert!(trailers.get("grpc-trailer-x-served-by").is_none());
}

/// A raw HTTP/1.1 response read from `s`: status line and headers (lower-cased
/// names), and the body (Content-Length or chunked, the chunks kept apart).
async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> (String, Vec<Vec<u8>>) {
    async fn fill(s: &mut TcpStream, buf: &mut Vec<u8>) {
        let mut chunk = [0u8; 16384];
        let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut chunk))
            .await
            .expect("response in time")
            .unwrap();
        assert!(
            n > 0,
            "connection closed mid-response: {:?}",
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        fill(s, buf).await;
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    buf.drain(..end);
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map(|n| n.trim().parse::<usize>().unwrap());
    let mut chunks = Vec::new();
    if let Some(n) = length {
        while buf.len() < n {
            fill(s, buf).await;
        }
        chunks.push(buf.drain(..n).collect());
        return (head, chunks);
    }
    loop {
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            fill(s, buf).await;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&buf[..line_end]).unwrap(), 16).unwrap();
        while buf.len() < line_end + 2 + size + 2 {
            fill(s, buf).await;
        }
        let data: Vec<u8> = buf[line_end + 2..line_end + 2 + size].to_vec();
        buf.drain(..line_end + 2 + size + 2);
        if size == 0 {
            return (head, chunks);
        }
        chunks.push(data);
    }
}

#[tokio::test]
async fn http_body_streams_are_delimited_unless_raw_is_asked_for() {
    let path = "/v1/download/f:stream?chunks=3&contentType=text/csv";
    for (top, want) in [
        ("", vec!["f-0;\n", "f-1;\n", "f-2;\n"]),
        (
            "http:\n  raw_http_body_streams: true\n",
            vec!["f-0;", "f-1;", "f-2;"],
        ),
    ] {
        let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
        let gw = gateway(&backend_yaml("echo", greeter.addr, ""), top).await;
        let mut s = TcpStream::connect(gw.http).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let (head, chunks) = read_response(&mut s, &mut Vec::new()).await;
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("content-type: text/csv"), "{head}");
        let chunks: Vec<String> = chunks
            .into_iter()
            .map(|c| String::from_utf8(c).unwrap())
            .collect();
        assert_eq!(
            chunks, want,
            "each message and its delimiter in one chunk ({top:?})"
        );
    }

    // A failed HttpBody stream ends with the `{"error"}` line, delimited too.
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let gw = gateway(&backend_yaml("echo", greeter.addr, ""), "").await;
    let mut s = TcpStream::connect(gw.http).await.unwrap();
    let failing = "/v1/download/f:stream?chunks=1&failCode=13";
    s.write_all(format!("GET {failing} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let (head, chunks) = read_response(&mut s, &mut Vec::new()).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let chunks: Vec<String> = chunks
        .into_iter()
        .map(|c| String::from_utf8(c).unwrap())
        .collect();
    assert_eq!(
        chunks,
        [
            "f-0;\n",
            "{\"error\":{\"code\":13,\"message\":\"failed after 1 chunks\",\"details\":[]}}\n"
        ]
    );
}

#[tokio::test]
async fn early_answer_drains_the_upload() {
    let (_b, gw) = echo_gateway("").await;
    let first = br#"{"failCode":5,"failMessage":"early"}"#;

    // 100 KiB still to come when the backend fails: read and discarded, the
    // connection stays usable.
    let rest = 100 * 1024;
    let mut s = TcpStream::connect(gw.http).await.unwrap();
    let head = format!(
        "POST /v1/echo:collect HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        first.len() + rest
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(first).await.unwrap();
    // Give the backend time to fail before the rest is sent (not asserted on:
    // if it has not failed yet, it fails while the rest arrives).
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.write_all(&vec![b' '; rest]).await.unwrap();
    let mut buf = Vec::new();
    let (head, body) = read_response(&mut s, &mut buf).await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    let body: Value = serde_json::from_slice(&body[0]).unwrap();
    assert_eq!(body["message"], "early");
    // The same connection serves the next request.
    let next = "POST /switchboard.testing.v1.Echo/Echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    s.write_all(next.as_bytes()).await.unwrap();
    let (head, _) = read_response(&mut s, &mut buf).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");

    // Beyond 256 KiB: the answer comes with Connection: close, at once (the
    // declared length says more than the drain limit is left). The rest is not
    // sent before the answer: a client that had finished writing and then
    // half-closed would make the connection end before any answer, as Go's
    // server (and hyper's default) treat a read EOF mid-request as the client
    // going away.
    let rest = 1024 * 1024;
    let mut s = TcpStream::connect(gw.http).await.unwrap();
    let head = format!(
        "POST /v1/echo:collect HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        first.len() + rest
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(first).await.unwrap();
    let mut buf = Vec::new();
    let mut head = String::new();
    while !head.contains("\r\n\r\n") {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut chunk))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed without an answer; log:\n{}", gw.log());
        buf.extend_from_slice(&chunk[..n]);
        head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    }
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    // A client still writing gets the end of the connection, not a hang: the
    // write fails or the read sees the close (either is fine).
    let _ = s.write_all(&vec![b' '; rest]).await;
}

#[tokio::test]
async fn query_keys_into_well_known_types_are_400() {
    let (_b, gw) = echo_gateway("").await;
    for query in [
        "anyValue.typeUrl=x",
        "any_value.type_url=x",
        "timestamp.seconds=5",
        "wrappedString.value=s",
    ] {
        let r = get(&gw.url(&format!("/v1/echo/x?{query}"))).await.unwrap();
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert_eq!(r.json()["code"], 3, "{query}");
    }
    // The types themselves are still given as one value.
    let r = get(&gw.url("/v1/echo/x?timestamp=2024-01-01T00:00:00Z&wrappedString=s"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["request"]["timestamp"], "2024-01-01T00:00:00Z");
    assert_eq!(r.json()["request"]["anyValue"], Value::Null);
}

/// A second service over the echo backend's request type, compiled from
/// `.proto` files, so two backends share `switchboard.testing.v1.EchoRequest`.
const MIRROR_PROTO: &str = r#"
syntax = "proto3";
package mirror.v1;
import "echo.proto";
import "google/api/annotations.proto";
service Mirror {
  rpc Reflect(switchboard.testing.v1.EchoRequest) returns (switchboard.testing.v1.EchoResponse) {
    option (google.api.http) = { post: "/v1/mirror" body: "*" };
  }
}
"#;

#[tokio::test]
async fn openapi_describes_each_backend_with_its_print_options() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let protos = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/protos");
    let mirror = format!(
        "protos:\n  files: [mirror.proto]\n  include_paths: [\".\", \"{protos}\"]\njson:\n  use_proto_names: true\n  enums_as_ints: true\n  emit_unpopulated: false\n"
    );
    let backends =
        backend_yaml("plain", greeter.addr, "") + &backend_yaml("snake", greeter.addr, &mirror);
    let gw = gateway_with_files(&backends, "", &[("mirror.proto", MIRROR_PROTO)]).await;
    let doc = get(&gw.admin_url("/openapi.json")).await.unwrap().json();
    let schemas = &doc["components"]["schemas"];
    let body_ref = |path: &str| {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: {doc}"))
            .to_owned()
    };

    // grpc-gateway's defaults: lowerCamelCase, enum names, unset messages null.
    assert_eq!(
        body_ref("/v1/echo"),
        "#/components/schemas/switchboard.testing.v1.EchoRequest"
    );
    let plain = &schemas["switchboard.testing.v1.EchoRequest"];
    assert!(plain["properties"].get("stringValue").is_some(), "{plain}");
    assert_eq!(plain["properties"]["color"]["type"], "string");
    assert_eq!(
        plain["properties"]["nested"]["anyOf"][1],
        json!({"type": "null"})
    );

    // The same message as the other backend prints it.
    let name = "switchboard.testing.v1.EchoRequest-proto_names-enums_as_ints-omit_unpopulated";
    assert_eq!(
        body_ref("/v1/mirror"),
        format!("#/components/schemas/{name}")
    );
    let snake = &schemas[name];
    assert!(snake["properties"].get("string_value").is_some(), "{snake}");
    assert!(snake["properties"].get("stringValue").is_none(), "{snake}");
    assert_eq!(snake["properties"]["color"]["type"], "integer");
    assert!(
        snake["properties"]["nested"].get("$ref").is_some(),
        "{snake}"
    );

    // HttpBody bodies are raw, of any type.
    let upload = &doc["paths"]["/v1/upload"]["post"];
    assert_eq!(
        upload["requestBody"]["content"]["*/*"]["schema"],
        json!({"type": "string", "format": "binary"})
    );
    assert!(
        upload["requestBody"]["content"]
            .get("application/json")
            .is_none()
    );
    let download = &doc["paths"]["/v1/download/{name}"]["get"];
    assert!(download["responses"]["200"]["content"].get("*/*").is_some());

    // Well-known types' internals are no query parameters.
    let names: Vec<&str> = doc["paths"]["/v1/echo/{string_value}"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"timestamp") && names.contains(&"wrapped_string"),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("any_value") || n.contains('.') && n.starts_with("timestamp")),
        "{names:?}"
    );
}
