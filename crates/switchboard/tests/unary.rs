//! End-to-end unary transcoding through the real binary against tonic backends
//! discovered by reflection: default routes, google.api.http routes (path
//! variables, query parameters, body field, custom verb), error mapping with
//! details, metadata and deadlines, and malformed input.

mod support;

use http::Method;
use serde_json::json;
use support::{Backend, Gateway, backend_yaml, get, post, request};
use switchboard_examples::Reflection;

async fn setup() -> (Backend, Backend, Gateway) {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let library = Backend::library(Reflection::V1Only).await;
    let backends =
        backend_yaml("greeter", greeter.addr, "") + &backend_yaml("library", library.addr, "");
    let gw = Gateway::start(&backends).await;
    (greeter, library, gw)
}

#[tokio::test]
async fn default_route_and_annotated_routes() {
    let (_g, _l, gw) = setup().await;

    // Default route: POST /package.Service/Method, whole body.
    let r = post(
        &gw.url("/helloworld.Greeter/SayHello"),
        r#"{"name":"world"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({"message": "Hello, world!"}));

    // GET with a multi-segment path variable; int64 printed as a string, enum as name.
    let r = get(&gw.url("/v1/shelves/1/books/1")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let book = r.json();
    assert_eq!(book["name"], "shelves/1/books/1");
    assert_eq!(book["title"], "The Left Hand of Darkness");
    assert_eq!(book["pageCount"], "304");
    assert_eq!(book["genre"], "GENRE_FICTION");
    assert_eq!(book["archived"], false, "unpopulated fields are emitted");

    // additional_bindings with `**`.
    let r = get(&gw.url("/v1/lookup/shelves/2/books/1")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["title"], "Leaves of Grass");

    // Query parameters into non-body fields (json and proto names).
    let r = get(&gw.url("/v1/shelves/1/books?pageSize=1&filter=kuhn"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let books = r.json()["books"].as_array().unwrap().clone();
    assert_eq!(books.len(), 1);
    assert_eq!(books[0]["author"], "Thomas S. Kuhn");
    let r = get(&gw.url("/v1/shelves/1/books?page_size=5"))
        .await
        .unwrap();
    assert_eq!(r.json()["books"].as_array().unwrap().len(), 2);

    // body: "book" plus a path variable.
    let r = post(
        &gw.url("/v1/shelves/3/books"),
        r#"{"title":"Dune","author":"Frank Herbert","pageCount":412,"genre":"GENRE_FICTION"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let created = r.json();
    assert_eq!(created["title"], "Dune");
    assert_eq!(created["pageCount"], "412");
    let name = created["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("shelves/3/books/"), "{name}");

    // PATCH with a nested path variable (book.name) and body field.
    let r = request(
        Method::PATCH,
        &gw.url(&format!("/v1/{name}")),
        &[],
        Some(r#"{"title":"Dune Messiah"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["title"], "Dune Messiah");
    assert_eq!(r.json()["name"], name.as_str());

    // Custom verb.
    let r = post(
        &gw.url(&format!("/v1/{name}:archive")),
        r#"{"reason":"test"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["archived"], true);

    // DELETE returning google.protobuf.Empty.
    let r = request(Method::DELETE, &gw.url(&format!("/v1/{name}")), &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({}));
    let r = get(&gw.url(&format!("/v1/{name}"))).await.unwrap();
    assert_eq!(r.status, 404);

    // The admin listener lists both kinds of routes.
    let routes = get(&gw.admin_url("/routes")).await.unwrap().json();
    let has =
        |method: &str, template: &str, grpc: &str| {
            routes.as_array().unwrap().iter().any(|r| {
                r["method"] == method && r["template"] == template && r["grpc_method"] == grpc
            })
        };
    assert!(has(
        "POST",
        "/helloworld.Greeter/SayHello",
        "/helloworld.Greeter/SayHello"
    ));
    assert!(has(
        "GET",
        "/v1/{name=shelves/*/books/*}",
        "/example.library.v1.LibraryService/GetBook"
    ));
    assert!(
        !routes.as_array().unwrap().iter().any(|r| r["grpc_method"]
            .as_str()
            .unwrap()
            .starts_with("/grpc.reflection")),
        "reflection is never exposed"
    );
}

#[tokio::test]
async fn echo_types_path_variables_and_query() {
    let (_g, _l, gw) = setup().await;
    let r = get(&gw.url(
        "/v1/echo/hello%20there?int64Value=-9007199254740993&uint64Value=18446744073709551615\
         &boolValue=true&color=COLOR_BLUE&repeatedString=a&repeatedString=b\
         &nested.value=7&timestamp=2024-01-02T03:04:05Z&duration=1.5s&wrappedString=w\
         &fieldMask=a.b,c",
    ))
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let req = &r.json()["request"];
    assert_eq!(req["stringValue"], "hello there");
    assert_eq!(req["int64Value"], "-9007199254740993");
    assert_eq!(req["uint64Value"], "18446744073709551615");
    assert_eq!(req["boolValue"], true);
    assert_eq!(req["color"], "COLOR_BLUE");
    assert_eq!(req["repeatedString"], json!(["a", "b"]));
    assert_eq!(req["nested"]["value"], 7);
    assert_eq!(req["timestamp"], "2024-01-02T03:04:05Z");
    assert_eq!(
        req["duration"], "1.500s",
        "protojson prints 0, 3, 6 or 9 digits"
    );
    assert_eq!(req["wrappedString"], "w");
    assert_eq!(req["fieldMask"], "a.b,c");

    // Nested path variable with a custom verb.
    let r = get(&gw.url("/v1/echo/labels/blue:inspect")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["request"]["nested"]["label"], "labels/blue");

    // Body with proto field names and int64 as a JSON number, exactly.
    let r = post(
        &gw.url("/v1/echo"),
        r#"{"string_value":"x","int64_value":9007199254740993,"unknownField":1}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["request"]["int64Value"], "9007199254740993");
    assert_eq!(r.json()["request"]["stringValue"], "x");
}

#[tokio::test]
async fn errors_map_like_grpc_gateway() {
    let (_g, _l, gw) = setup().await;

    // Backend error with details decoded through the backend's pool.
    let r = post(
        &gw.url("/v1/echo"),
        r#"{"failCode":9,"failMessage":"not ready"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400, "FailedPrecondition is 400: {}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({
            "code": 9,
            "message": "not ready",
            "details": [{
                "@type": "type.googleapis.com/switchboard.testing.v1.ErrorDetail",
                "reason": "REQUESTED_FAILURE",
                "field": "fail_code"
            }]
        })
    );
    // The error's metadata is trailer metadata (a trailers-only answer): not a
    // header, and a Grpc-Trailer-* trailer only when TE says trailers.
    assert_eq!(r.header("grpc-metadata-x-echo-trailer"), None);
    assert!(r.trailers.is_none());
    let r = request(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("te", "trailers")],
        Some(r#"{"failCode":9,"failMessage":"not ready"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.header("trailer"), Some("grpc-trailer-x-echo-trailer"));
    let trailers = r.trailers.as_ref().expect("trailers were requested");
    assert_eq!(trailers.get("grpc-trailer-x-echo-trailer").unwrap(), "1");
    assert_eq!(r.json()["code"], 9);

    for (code, http) in [
        (1, 499),
        (3, 400),
        (5, 404),
        (7, 403),
        (8, 429),
        (10, 409),
        (12, 501),
        (13, 500),
        (14, 503),
        (16, 401),
    ] {
        let r = post(&gw.url("/v1/echo"), &format!(r#"{{"failCode":{code}}}"#))
            .await
            .unwrap();
        assert_eq!(r.status, http, "gRPC code {code}: {}", r.body);
        assert_eq!(r.json()["code"], code);
    }

    // Routing errors.
    let r = get(&gw.url("/no/such/route")).await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"code": 5, "message": "Not Found", "details": []})
    );
    let r = request(
        Method::DELETE,
        &gw.url("/helloworld.Greeter/SayHello"),
        &[],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 501, "grpc-gateway answers 501 for a wrong method");
    assert_eq!(r.json()["code"], 12);
    assert_eq!(r.json()["message"], "Method Not Allowed");

    // Malformed input: 400 with a Status body, never a crash.
    for body in ["{", "[1,2]", r#"{"name": 5}"#, "\u{0}"] {
        let r = post(&gw.url("/helloworld.Greeter/SayHello"), body)
            .await
            .unwrap();
        assert_eq!(r.status, 400, "body {body:?}: {}", r.body);
        assert_eq!(r.json()["code"], 3);
        assert!(!r.json()["message"].as_str().unwrap().is_empty());
    }
    let deep = "[".repeat(100_000);
    let r = post(&gw.url("/v1/echo"), &deep).await.unwrap();
    assert_eq!(r.status, 400);
    let r = get(&gw.url("/v1/echo/x?int64Value=abc")).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["code"], 3);
    let r = get(&gw.url("/v1/echo/%zz")).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.body);

    // Body over the limit (4 MiB default): 413 before the backend sees it.
    // Declared too large: answered from the headers alone.
    let head = raw_exchange(
        gw.http,
        "POST /helloworld.Greeter/SayHello HTTP/1.1\r\nHost: x\r\nContent-Length: 5242880\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.contains(r#""code":8"#), "{head}");
    // Chunked (no declared length) and too large: cut off at the limit.
    let huge = format!(r#"{{"name":"{}"}}"#, "x".repeat(5 * 1024 * 1024));
    if let Ok(r) = post(&gw.url("/helloworld.Greeter/SayHello"), &huge).await {
        assert_eq!(r.status, 413);
        assert_eq!(r.json()["code"], 8);
    }

    // The gateway is still healthy after all that.
    let r = post(&gw.url("/helloworld.Greeter/SayHello"), r#"{"name":"ok"}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

/// Writes `request` on a fresh connection and returns what comes back.
async fn raw_exchange(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn metadata_and_deadlines() {
    let (_g, _l, gw) = setup().await;
    let r = request(
        Method::POST,
        &gw.url("/v1/echo"),
        &[
            ("authorization", "Bearer token-1"),
            ("grpc-metadata-tenant", "acme"),
            ("x-not-forwarded", "nope"),
            ("user-agent", "e2e-test"),
            ("te", "trailers"),
        ],
        Some(r#"{"stringValue":"md"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let md = &r.json()["metadata"];
    assert_eq!(md["authorization"], "Bearer token-1");
    assert_eq!(md["grpcgateway-authorization"], "Bearer token-1");
    assert_eq!(md["tenant"], "acme");
    assert_eq!(md["grpcgateway-user-agent"], "e2e-test");
    assert!(md.get("x-not-forwarded").is_none());
    assert_eq!(md["x-forwarded-for"], "127.0.0.1");
    assert_eq!(md["x-forwarded-host"], gw.http.to_string().as_str());
    // Response header metadata as Grpc-Metadata-*, trailers as Grpc-Trailer-* (TE: trailers).
    assert_eq!(r.header("grpc-metadata-x-echo"), Some("1"));
    let trailers = r.trailers.as_ref().expect("trailers were requested");
    assert_eq!(trailers.get("grpc-trailer-x-echo-trailer").unwrap(), "1");

    // Without TE: trailers, no trailers are sent.
    let r = post(&gw.url("/v1/echo"), "{}").await.unwrap();
    assert!(r.trailers.is_none());

    // Grpc-Timeout shorter than the backend's delay: 504 DEADLINE_EXCEEDED.
    let r = request(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("grpc-timeout", "200m")],
        Some(r#"{"delayMs":3000}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 504, "{}", r.body);
    assert_eq!(r.json()["code"], 4);
    let r = request(
        Method::POST,
        &gw.url("/v1/echo"),
        &[("grpc-timeout", "bogus")],
        Some("{}"),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["message"], "invalid grpc-timeout: bogus");
}

#[tokio::test]
async fn backend_default_deadline_and_strict_mode() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let backends = backend_yaml(
        "greeter",
        greeter.addr,
        "timeout: 300ms\njson:\n  strict: true\n  emit_unpopulated: false",
    );
    let gw = Gateway::start(&backends).await;
    let r = post(&gw.url("/v1/echo"), r#"{"delayMs":2000}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 504, "{}", r.body);
    let r = post(&gw.url("/v1/echo"), r#"{"bogus":1}"#).await.unwrap();
    assert_eq!(
        r.status, 400,
        "strict mode rejects unknown fields: {}",
        r.body
    );
    let r = post(&gw.url("/v1/echo"), r#"{"stringValue":"a"}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["request"],
        json!({"stringValue": "a"}),
        "emit_unpopulated off"
    );
}

#[tokio::test]
async fn server_streaming_is_newline_delimited() {
    let (_g, _l, gw) = setup().await;
    let r = post(
        &gw.url("/helloworld.Greeter/SayHelloStream"),
        r#"{"name":"s","count":3}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let lines: Vec<serde_json::Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            json!({"result": {"message": "Hello, s! (1)"}}),
            json!({"result": {"message": "Hello, s! (2)"}}),
            json!({"result": {"message": "Hello, s! (3)"}}),
        ]
    );
}
