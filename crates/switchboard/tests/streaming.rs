//! End-to-end streaming over HTTP: server streaming (NDJSON chunks, one message
//! per HTTP/1.1 chunk read off a raw socket, errors mid-stream, Server-Sent
//! Events), client streaming and bidirectional streaming over a POST body
//! (newline-delimited and concatenated JSON, full duplex), bidirectional
//! streaming over WebSocket with a real client, and client disconnects
//! cancelling the upstream call, as seen by the backend.

mod support;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Method, Request};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use support::{Backend, Gateway, backend_yaml, eventually, post, request};
use switchboard_examples::{Reflection, was_cancelled};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn setup() -> (Backend, Gateway) {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let gw = Gateway::start(&backend_yaml("echo", greeter.addr, "")).await;
    (greeter, gw)
}

const STREAM: &str = "/v1/echo:stream";
const COLLECT: &str = "/switchboard.testing.v1.Echo/Collect";
const CHAT: &str = "/switchboard.testing.v1.Echo/Chat";

fn lines(body: &str) -> Vec<Value> {
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

fn echoed(line: &Value) -> &Value {
    &line["result"]["request"]["stringValue"]
}

/// An HTTP/1.1 exchange whose request body is written while the response is
/// read, on its own connection (so dropping it disconnects).
struct Duplex {
    body: Option<mpsc::Sender<Bytes>>,
    pending: Option<tokio::task::JoinHandle<hyper::Result<http::Response<Incoming>>>>,
    response: Option<Incoming>,
    status: u16,
    headers: http::HeaderMap,
    buf: Vec<u8>,
    conn: tokio::task::JoinHandle<()>,
}

impl Duplex {
    /// Sends the request head and `first` as the first piece of the body; the
    /// response head is awaited by the first read ([`Self::head`]).
    async fn open(gw: &Gateway, path: &str, first: &str) -> Duplex {
        Self::open_on(gw, path, first, false).await
    }

    /// [`Self::open`] over HTTP/1.1, or over cleartext HTTP/2 when `h2`.
    async fn open_on(gw: &Gateway, path: &str, first: &str, h2: bool) -> Duplex {
        let stream = TcpStream::connect(gw.http).await.unwrap();
        let io = TokioIo::new(stream);
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        let body =
            StreamBody::new(ReceiverStream::new(rx).map(|b| Ok::<_, Infallible>(Frame::data(b))));
        if !first.is_empty() {
            tx.send(Bytes::from(first.to_string())).await.unwrap();
        }
        let (conn, pending) = if h2 {
            let req = Request::post(format!("http://{}{path}", gw.http))
                .body(body)
                .unwrap();
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                    .await
                    .unwrap();
            let conn = tokio::spawn(async move {
                let _ = conn.await;
            });
            (
                conn,
                tokio::spawn(async move { sender.send_request(req).await }),
            )
        } else {
            let req = Request::post(path)
                .header("host", gw.http.to_string())
                .body(body)
                .unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            let conn = tokio::spawn(async move {
                let _ = conn.await;
            });
            (
                conn,
                tokio::spawn(async move { sender.send_request(req).await }),
            )
        };
        Duplex {
            body: Some(tx),
            pending: Some(pending),
            response: None,
            status: 0,
            headers: http::HeaderMap::new(),
            buf: Vec::new(),
            conn,
        }
    }

    /// Waits for the response head (once).
    async fn head(&mut self) {
        if let Some(pending) = self.pending.take() {
            let response = tokio::time::timeout(Duration::from_secs(10), pending)
                .await
                .expect("response head in time")
                .unwrap()
                .unwrap();
            let (parts, body) = response.into_parts();
            self.status = parts.status.as_u16();
            self.headers = parts.headers;
            self.response = Some(body);
        }
    }

    async fn send(&self, piece: &str) {
        let tx = self.body.as_ref().expect("body still open");
        tx.send(Bytes::from(piece.to_string())).await.unwrap();
    }

    /// Ends the request body (half-close).
    fn end_body(&mut self) {
        self.body = None;
    }

    /// The next body frame, or None at the end.
    async fn frame(&mut self) -> Option<Bytes> {
        self.head().await;
        let response = self.response.as_mut().unwrap();
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), response.frame())
                .await
                .expect("a frame in time")?
                .unwrap();
            if let Ok(data) = frame.into_data() {
                return Some(data);
            }
        }
    }

    /// The next newline-terminated line of the body, or None at the end.
    async fn line(&mut self) -> Option<Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(serde_json::from_slice(&line).unwrap());
            }
            let data = self.frame().await?;
            self.buf.extend_from_slice(&data);
        }
    }

    /// Drops the connection without finishing anything.
    fn disconnect(self) {
        self.conn.abort();
        if let Some(pending) = self.pending {
            pending.abort();
        }
    }
}

// ---------------------------------------------------------------- server streaming

#[tokio::test]
async fn server_stream_first_message_arrives_before_the_rest_exist() {
    let (_b, gw) = setup().await;
    let body = r#"{"request":{"stringValue":"ttfm"},"count":5,"intervalMs":300}"#;
    let mut d = Duplex::open(&gw, STREAM, body).await;
    d.end_body();
    d.head().await;
    assert_eq!(d.status, 200);
    assert_eq!(d.headers["content-type"], "application/json");
    assert_eq!(d.headers["grpc-metadata-x-echo"], "1");
    // The backend produces a message every 300 ms: the first frame carries the
    // first message alone, so it was flushed before the others existed.
    let first = d.frame().await.unwrap();
    let first = std::str::from_utf8(&first).unwrap();
    assert_eq!(first.matches('\n').count(), 1, "{first:?}");
    assert_eq!(echoed(&lines(first)[0]), "ttfm");
    let mut rest = 0;
    while let Some(line) = d.line().await {
        assert_eq!(echoed(&line), "ttfm");
        rest += 1;
    }
    assert_eq!(rest, 4);
}

/// Reads an HTTP/1.1 response off a raw socket: the head, then every chunk of
/// the chunked body as sent (chunk boundaries preserved).
async fn raw_chunks(gw: &Gateway, path: &str, headers: &str, body: &str) -> (String, Vec<Vec<u8>>) {
    let mut stream = TcpStream::connect(gw.http).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{headers}\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        gw.http,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut r = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    let mut chunks = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size).await.unwrap();
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap(), 16)
            .unwrap_or_else(|e| panic!("bad chunk size {size:?}: {e}"));
        let mut chunk = vec![0; size + 2];
        r.read_exact(&mut chunk).await.unwrap();
        assert_eq!(&chunk[size..], b"\r\n");
        chunk.truncate(size);
        if size == 0 {
            return (head, chunks);
        }
        chunks.push(chunk);
    }
}

#[tokio::test]
async fn server_stream_one_message_per_http1_chunk() {
    let (_b, gw) = setup().await;
    // Large messages (~1 MiB each) produced back to back: each is still exactly
    // one chunk, neither split nor merged with the next.
    let big = "x".repeat(1 << 20);
    let body = format!(r#"{{"request":{{"stringValue":"{big}"}},"count":3}}"#);
    let (head, chunks) = raw_chunks(&gw, STREAM, "", &body).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(chunks.len(), 3);
    for chunk in &chunks {
        assert!(chunk.len() > 1 << 20);
        assert_eq!(chunk.iter().filter(|b| **b == b'\n').count(), 1);
        assert_eq!(chunk.last(), Some(&b'\n'));
        let line: Value = serde_json::from_slice(chunk).unwrap();
        assert_eq!(echoed(&line).as_str().unwrap().len(), 1 << 20);
    }
    // Many small messages with no pause, and the error line: one chunk each.
    let body = r#"{"request":{"stringValue":"s"},"count":50,"failCode":10}"#;
    let (_, chunks) = raw_chunks(&gw, STREAM, "", body).await;
    assert_eq!(chunks.len(), 51);
    for chunk in &chunks[..50] {
        let line: Value = serde_json::from_slice(chunk).unwrap();
        assert_eq!(echoed(&line), "s");
        assert_eq!(chunk.iter().filter(|b| **b == b'\n').count(), 1);
    }
    let last: Value = serde_json::from_slice(&chunks[50]).unwrap();
    assert_eq!(last["error"]["code"], 10);
    // Server-Sent Events: one event per chunk.
    let (head, chunks) = raw_chunks(&gw, STREAM, "Accept: text/event-stream\r\n", body).await;
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/event-stream")
    );
    assert_eq!(chunks.len(), 51);
    for chunk in &chunks {
        assert!(chunk.ends_with(b"\n\n"));
        assert_eq!(chunk.windows(2).filter(|w| w == b"\n\n").count(), 1);
    }
}

#[tokio::test]
async fn server_stream_errors() {
    let (_b, gw) = setup().await;
    // Mid-stream: the messages so far, then the error line (details decoded).
    let r = post(
        &gw.url(STREAM),
        r#"{"request":{"stringValue":"e"},"count":2,"failCode":5,"failMessage":"gone"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let l = lines(&r.body);
    assert_eq!(l.len(), 3, "{}", r.body);
    assert_eq!(echoed(&l[1]), "e");
    assert_eq!(l[2]["error"]["code"], 5);
    assert_eq!(l[2]["error"]["message"], "gone");
    assert_eq!(l[2]["error"]["details"][0]["reason"], "REQUESTED_FAILURE");
    // Before the first message: the mapped HTTP status, the error line as body.
    let r = post(&gw.url(STREAM), r#"{"count":0,"failCode":5}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(lines(&r.body)[0]["error"]["code"], 5);
}

#[tokio::test]
async fn server_stream_as_server_sent_events() {
    let (_b, gw) = setup().await;
    let sse = [("accept", "text/event-stream")];
    let r = request(
        Method::POST,
        &gw.url(STREAM),
        &sse,
        Some(r#"{"request":{"stringValue":"ev"},"count":2,"failCode":9,"failMessage":"no"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let events: Vec<&str> = r.body.split_terminator("\n\n").collect();
    assert_eq!(events.len(), 3, "{:?}", r.body);
    for event in &events[..2] {
        let data = event.strip_prefix("data: ").expect(event);
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(echoed(&v), "ev");
    }
    let data = events[2]
        .strip_prefix("event: error\ndata: ")
        .expect(events[2]);
    let v: Value = serde_json::from_str(data).unwrap();
    assert_eq!(v["error"]["code"], 9);
    assert_eq!(v["error"]["message"], "no");
    // A failure before the first event: mapped status, the error event as body.
    let r = request(
        Method::POST,
        &gw.url(STREAM),
        &sse,
        Some(r#"{"count":0,"failCode":9}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(
        r.body
            .starts_with("event: error\ndata: {\"error\":{\"code\":9"),
        "{}",
        r.body
    );
}

// ---------------------------------------------------------------- client streaming

#[tokio::test]
async fn client_streaming_bodies() {
    let (_b, gw) = setup().await;
    let want = json!({"count": 3, "stringValues": ["a", "b", "c"]});
    for (path, body) in [
        // Newline-delimited, concatenated, whitespace-separated.
        (
            COLLECT,
            "{\"stringValue\":\"a\"}\n{\"stringValue\":\"b\"}\n{\"string_value\":\"c\"}\n",
        ),
        (
            COLLECT,
            r#"{"stringValue":"a"}{"stringValue":"b"}{"stringValue":"c"}"#,
        ),
        (
            "/v1/echo:collect",
            " {\"stringValue\":\"a\"}\r\n\t{\"stringValue\":\"b\"} {\"stringValue\":\"c\"}",
        ),
    ] {
        let r = post(&gw.url(path), body).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json(), want, "{body:?}");
    }
    // No messages at all.
    let r = post(&gw.url(COLLECT), "").await.unwrap();
    assert_eq!(r.json(), json!({"count": 0, "stringValues": []}));
    // A value that is not a request message: 400, code 3.
    for bad in [
        r#"{"stringValue":"a"} {"int32Value":"x"}"#,
        r#"{"stringValue":"a"} {"#,
    ] {
        let r = post(&gw.url(COLLECT), bad).await.unwrap();
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.json()["code"], 3, "{}", r.body);
    }
    // The backend failing: its status, mapped.
    let r = post(&gw.url(COLLECT), r#"{"stringValue":"a"}{"failCode":7}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["code"], 7);
    assert_eq!(r.json()["details"][0]["reason"], "REQUESTED_FAILURE");
}

#[tokio::test]
async fn client_streaming_body_sent_piecemeal() {
    let (_b, gw) = setup().await;
    // Values split across body chunks at awkward places still arrive whole.
    let mut d = Duplex::open(&gw, COLLECT, "{\"stringValue\":\"on").await;
    for piece in [
        "e\"}\n{\"string",
        "Value\":\"t",
        "wo\"}",
        "{\"stringValue\":\"}{\"}",
    ] {
        tokio::time::sleep(Duration::from_millis(20)).await;
        d.send(piece).await;
    }
    d.end_body();
    let body = d.frame().await.unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v, json!({"count": 3, "stringValues": ["one", "two", "}{"]}));
}

// ---------------------------------------------------------------- bidi over POST

#[tokio::test]
async fn bidi_over_post() {
    let (_b, gw) = setup().await;
    // A single-message body.
    let r = post(&gw.url(CHAT), r#"{"stringValue":"solo"}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let l = lines(&r.body);
    assert_eq!(l.len(), 1);
    assert_eq!(echoed(&l[0]), "solo");
    // Several, concatenated and newline-delimited, through the annotated route.
    let r = post(
        &gw.url("/v1/echo:chat"),
        "{\"stringValue\":\"1\"}{\"stringValue\":\"2\"}\n{\"stringValue\":\"3\"}\n",
    )
    .await
    .unwrap();
    let got: Vec<Value> = lines(&r.body).iter().map(|l| echoed(l).clone()).collect();
    assert_eq!(got, [json!("1"), json!("2"), json!("3")]);
    // The backend failing on the second message: one result, then the error line.
    let r = post(
        &gw.url(CHAT),
        r#"{"stringValue":"ok"}{"failCode":8,"failMessage":"full"}{"stringValue":"never"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let l = lines(&r.body);
    assert_eq!(l.len(), 2, "{}", r.body);
    assert_eq!(echoed(&l[0]), "ok");
    assert_eq!(l[1]["error"]["code"], 8);
    assert_eq!(l[1]["error"]["message"], "full");
    // Failing on the first: the mapped status.
    let r = post(&gw.url(CHAT), r#"{"failCode":5}"#).await.unwrap();
    assert_eq!(r.status, 404);
    // An empty body: no messages, and the call ends cleanly.
    let r = post(&gw.url(CHAT), "").await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    // As grpc-gateway: a bad value half-closes the request stream; what came
    // before it is answered.
    let r = post(
        &gw.url(CHAT),
        r#"{"stringValue":"a"} {"int32Value":"x"} {"stringValue":"b"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(lines(&r.body).len(), 1, "{}", r.body);
    // SSE framing applies to bidi responses too.
    let r = request(
        Method::POST,
        &gw.url(CHAT),
        &[("accept", "text/event-stream")],
        Some(r#"{"stringValue":"sse"}"#),
    )
    .await
    .unwrap();
    assert!(r.body.starts_with("data: {\"result\":"), "{}", r.body);
}

#[tokio::test]
async fn bidi_over_post_is_full_duplex() {
    let (_b, gw) = setup().await;
    for h2 in [false, true] {
        // Each request is answered while the request body is still open.
        let first = "{\"stringValue\":\"ping-1\"}\n";
        let mut d = Duplex::open_on(&gw, CHAT, first, h2).await;
        assert_eq!(echoed(&d.line().await.unwrap()), "ping-1");
        assert_eq!(d.status, 200);
        for i in 2..=4 {
            d.send(&format!("{{\"stringValue\":\"ping-{i}\"}}")).await;
            let want = format!("ping-{i}");
            assert_eq!(echoed(&d.line().await.unwrap()), want.as_str());
        }
        // Ending the body half-closes; the backend then ends the call.
        d.end_body();
        assert!(d.line().await.is_none());
    }
}

// ---------------------------------------------------------------- WebSocket

async fn ws_connect(
    gw: &Gateway,
    path: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>> {
    let (ws, response) = tokio_tungstenite::connect_async(format!("ws://{}{path}", gw.http))
        .await
        .unwrap_or_else(|e| panic!("connect {path}: {e}\n{}", gw.log()));
    assert_eq!(response.status(), 101);
    ws
}

/// The next message: JSON text, or the close frame's (code, reason).
async fn ws_next(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
) -> Result<Value, (u16, String)> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a WebSocket message in time")
            .expect("a message before the end")
            .unwrap();
        match m {
            Message::Text(t) => return Ok(serde_json::from_str(t.as_str()).unwrap()),
            Message::Close(Some(f)) => return Err((u16::from(f.code), f.reason.to_string())),
            Message::Close(None) => return Err((1005, String::new())),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn websocket_bidi() {
    let (_b, gw) = setup().await;
    let mut ws = ws_connect(&gw, CHAT).await;
    for i in 1..=3 {
        ws.send(Message::text(format!(r#"{{"stringValue":"ws-{i}"}}"#)))
            .await
            .unwrap();
        let v = ws_next(&mut ws).await.unwrap();
        assert_eq!(echoed(&v), format!("ws-{i}").as_str());
    }
    // An empty message half-closes; the backend ends the call: close 1000.
    ws.send(Message::text("")).await.unwrap();
    assert_eq!(ws_next(&mut ws).await.unwrap_err().0, 1000);

    // A failure: the error message, then close 4000 + code with the message.
    let mut ws = ws_connect(&gw, "/v1/echo:chat").await;
    ws.send(Message::text(r#"{"stringValue":"fine"}"#))
        .await
        .unwrap();
    assert_eq!(echoed(&ws_next(&mut ws).await.unwrap()), "fine");
    ws.send(Message::text(r#"{"failCode":5,"failMessage":"lost"}"#))
        .await
        .unwrap();
    let err = ws_next(&mut ws).await.unwrap();
    assert_eq!(err["error"]["code"], 5);
    assert_eq!(err["error"]["details"][0]["reason"], "REQUESTED_FAILURE");
    assert_eq!(ws_next(&mut ws).await.unwrap_err(), (4005, "lost".into()));

    // A message that is not JSON for the request: close 4003.
    let mut ws = ws_connect(&gw, CHAT).await;
    ws.send(Message::text("{nope")).await.unwrap();
    assert_eq!(ws_next(&mut ws).await.unwrap()["error"]["code"], 3);
    assert_eq!(ws_next(&mut ws).await.unwrap_err().0, 4003);

    // Client streaming over WebSocket: the one response after the half-close.
    let mut ws = ws_connect(&gw, COLLECT).await;
    for v in ["x", "y"] {
        ws.send(Message::text(format!(r#"{{"stringValue":"{v}"}}"#)))
            .await
            .unwrap();
    }
    ws.send(Message::text("")).await.unwrap();
    let v = ws_next(&mut ws).await.unwrap();
    assert_eq!(
        v,
        json!({"result": {"count": 2, "stringValues": ["x", "y"]}})
    );
    assert_eq!(ws_next(&mut ws).await.unwrap_err().0, 1000);
}

// ---------------------------------------------------------------- cancellation

async fn assert_backend_saw_cancel(gw: &Gateway, tag: &str) {
    assert!(
        eventually(|| async { was_cancelled(tag) }).await,
        "the backend never saw {tag} cancelled; log:\n{}",
        gw.log()
    );
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_call() {
    let (_b, gw) = setup().await;

    // Server streaming: read one message, hang up.
    let body = r#"{"request":{"stringValue":"cancel-server"},"count":1000,"intervalMs":50}"#;
    let mut d = Duplex::open(&gw, STREAM, body).await;
    d.end_body();
    assert_eq!(echoed(&d.line().await.unwrap()), "cancel-server");
    d.disconnect();
    assert_backend_saw_cancel(&gw, "cancel-server").await;

    // Bidi over POST with the request body still open.
    let mut d = Duplex::open(&gw, CHAT, r#"{"stringValue":"cancel-bidi"}"#).await;
    assert_eq!(echoed(&d.line().await.unwrap()), "cancel-bidi");
    d.disconnect();
    assert_backend_saw_cancel(&gw, "cancel-bidi").await;

    // Client streaming: one message sent, body still open, client gone. (There
    // is no response to wait for. The backend sleeps after the message, so it
    // sees the reset as a cancellation: tonic reports a reset request stream
    // to the handler as a plain end, and a half-close would finish the sleep.)
    let body = r#"{"stringValue":"cancel-client","delayMs":5000}"#;
    let stream = TcpStream::connect(gw.http).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let (tx, rx) = mpsc::channel::<Bytes>(1);
    tx.send(Bytes::from(body)).await.unwrap();
    let req = Request::post(COLLECT)
        .header("host", gw.http.to_string())
        .body(StreamBody::new(
            ReceiverStream::new(rx).map(|b| Ok::<_, Infallible>(Frame::data(b))),
        ))
        .unwrap();
    let pending = tokio::spawn(async move { sender.send_request(req).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    conn.abort();
    pending.abort();
    drop(tx);
    assert_backend_saw_cancel(&gw, "cancel-client").await;

    // WebSocket: the connection dropped mid-call.
    let mut ws = ws_connect(&gw, CHAT).await;
    ws.send(Message::text(r#"{"stringValue":"cancel-ws"}"#))
        .await
        .unwrap();
    assert_eq!(echoed(&ws_next(&mut ws).await.unwrap()), "cancel-ws");
    drop(ws);
    assert_backend_saw_cancel(&gw, "cancel-ws").await;

    // A WebSocket close frame cancels too (the client can no longer read).
    let mut ws = ws_connect(&gw, CHAT).await;
    ws.send(Message::text(r#"{"stringValue":"cancel-ws-close"}"#))
        .await
        .unwrap();
    assert_eq!(echoed(&ws_next(&mut ws).await.unwrap()), "cancel-ws-close");
    ws.close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: CloseCode::Away,
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    assert_backend_saw_cancel(&gw, "cancel-ws-close").await;
}
