//! End-to-end tests of the mapping details beyond plain JSON, through the real
//! binary against the example tonic backends: HTTP rules given in the YAML for
//! the un-annotated Greeter, PATCH `update_mask` filling (only the sent fields
//! change), binary protobuf bodies in and out (errors included), raw
//! `google.api.HttpBody` downloads, streamed downloads and uploads, and the
//! per-backend print options on unary responses, streams and error details.

mod support;

use base64::Engine as _;
use http::Method;
use prost::Message as _;
use serde_json::{Value, json};
use support::{Backend, Gateway, backend_yaml, get, post, request, request_bytes};
use switchboard_examples::Reflection;
use switchboard_examples::RpcStatus;
use switchboard_examples::pb::example::library::v1::Book;
use switchboard_examples::pb::helloworld::{HelloReply, HelloRequest};

const GREETER_RULES: &str = r#"http_rules:
  - selector: helloworld.Greeter.SayHello
    get: "/v1/hello/{name}"
    additional_bindings:
      - post: /v1/hello
        body: "*"
        response_body: message
  - selector: helloworld.Greeter.Missing
    get: /v1/missing
"#;

const LIBRARY_RULES: &str = r#"http_rules:
  - selector: example.library.v1.LibraryService.GetBook
    get: "/v2/{name=shelves/*/books/*}"
"#;

async fn setup() -> (Backend, Backend, Gateway) {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let library = Backend::library(Reflection::V1AndV1Alpha).await;
    let backends = backend_yaml("greeter", greeter.addr, GREETER_RULES)
        + &backend_yaml("library", library.addr, LIBRARY_RULES);
    let gw = Gateway::start(&backends).await;
    (greeter, library, gw)
}

/// A book's JSON without its server-chosen `createTime`.
fn without_time(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("createTime");
    v
}

#[tokio::test]
async fn yaml_http_rules_route_unannotated_methods() {
    let (_g, _l, gw) = setup().await;

    let r = get(&gw.url("/v1/hello/yaml")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, r#"{"message":"Hello, yaml!"}"#);

    // The additional binding, with response_body.
    let r = post(&gw.url("/v1/hello"), r#"{"name":"post"}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, r#""Hello, post!""#);

    // The default route stays.
    let r = post(&gw.url("/helloworld.Greeter/SayHello"), r#"{"name":"d"}"#)
        .await
        .unwrap();
    assert_eq!(r.body, r#"{"message":"Hello, d!"}"#);

    // A configured rule replaces the method's annotation.
    let r = get(&gw.url("/v2/shelves/2/books/1")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["title"], "Leaves of Grass");
    let r = get(&gw.url("/v1/shelves/2/books/1")).await.unwrap();
    assert_ne!(r.status, 200, "the annotation's route is gone: {}", r.body);
    // Other annotated methods of the backend keep their routes.
    let r = get(&gw.url("/v1/shelves/2/books")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);

    // /routes says where each route came from; /status reports the bad selector.
    let routes = get(&gw.admin_url("/routes")).await.unwrap().json();
    let sources: Vec<(String, String)> = routes
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["source"] == "config")
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_owned(),
                r["template"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        sources,
        [
            ("GET".to_owned(), "/v1/hello/{name}".to_owned()),
            ("POST".to_owned(), "/v1/hello".to_owned()),
            ("GET".to_owned(), "/v2/{name=shelves/*/books/*}".to_owned()),
        ]
    );
    let status = gw.status().await.to_string();
    assert!(
        status.contains(
            "backend greeter: http_rules: selector helloworld.Greeter.Missing names no method"
        ),
        "{status}"
    );
}

#[tokio::test]
async fn patch_fills_update_mask_from_the_body() {
    let (_g, _l, gw) = setup().await;
    let r = post(
        &gw.url("/v1/shelves/9/books"),
        r#"{"title":"T","author":"A","pageCount":100,"genre":"GENRE_POETRY"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let name = r.json()["name"].as_str().unwrap().to_owned();
    let url = gw.url(&format!("/v1/{name}"));
    let patch = |body: &'static str, url: String| async move {
        request(Method::PATCH, &url, &[], Some(body)).await.unwrap()
    };

    // Only the sent field changes (without the mask, the backend would have
    // cleared author, page count and genre).
    let r = patch(r#"{"title":"T2"}"#, url.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        without_time(r.json()),
        json!({"name": name, "title": "T2", "author": "A", "pageCount": "100",
               "genre": "GENRE_POETRY", "archived": false})
    );
    // Proto and JSON names, several fields.
    let r = patch(r#"{"author":"B","page_count":"7"}"#, url.clone()).await;
    assert_eq!(
        without_time(r.json()),
        json!({"name": name, "title": "T2", "author": "B", "pageCount": "7",
               "genre": "GENRE_POETRY", "archived": false})
    );
    // A mask in the query wins over the body's keys.
    let r = patch(
        r#"{"title":"ignored","genre":"GENRE_SCIENCE"}"#,
        format!("{url}?update_mask=genre"),
    )
    .await;
    assert_eq!(
        without_time(r.json()),
        json!({"name": name, "title": "T2", "author": "B", "pageCount": "7",
               "genre": "GENRE_SCIENCE", "archived": false})
    );
    // An unknown key is a 400 from the mask, as in grpc-gateway (the body decode
    // alone would ignore it).
    let r = patch(r#"{"bogus":1}"#, url.clone()).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"code": 3, "message": "could not find field \"bogus\" in \"example.library.v1.Book\"",
               "details": []})
    );
    // `{}` gives grpc-gateway's single empty path, which this backend refuses.
    let r = patch("{}", url.clone()).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with(r#"update_mask: field "" cannot be updated"#),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn protobuf_bodies_in_and_out() {
    let (_g, _l, gw) = setup().await;
    let url = gw.url("/helloworld.Greeter/SayHello");
    let hello = HelloRequest { name: "pb".into() }.encode_to_vec();
    let pb = ("content-type", "application/x-protobuf");

    // Protobuf in, protobuf out (the outbound codec follows the inbound one).
    let (r, bytes) = request_bytes(Method::POST, &url, &[pb], hello.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(
        HelloReply::decode(bytes).unwrap(),
        HelloReply {
            message: "Hello, pb!".into()
        }
    );
    // Protobuf in, JSON out by Accept; JSON in, protobuf out by Accept.
    let accept_json = ("accept", "application/json");
    let (r, _) = request_bytes(Method::POST, &url, &[pb, accept_json], hello.clone())
        .await
        .unwrap();
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, r#"{"message":"Hello, pb!"}"#);
    let accept_pb = ("accept", "text/html, application/x-protobuf;q=0.9");
    let (r, bytes) = request_bytes(
        Method::POST,
        &url,
        &[accept_pb],
        br#"{"name":"j"}"#.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(HelloReply::decode(bytes).unwrap().message, "Hello, j!");
    // A Content-Type no codec claims is read as JSON (grpc-gateway's default).
    for ct in ["application/octet-stream", "text/plain"] {
        let (r, _) = request_bytes(
            Method::POST,
            &url,
            &[("content-type", ct)],
            br#"{"name":"x"}"#.to_vec(),
        )
        .await
        .unwrap();
        assert_eq!(r.body, r#"{"message":"Hello, x!"}"#, "{ct}");
    }

    // Path variables and the query still apply to a protobuf body field.
    let book = Book {
        title: "Proto".into(),
        author: "ignored".into(),
        ..Default::default()
    };
    let (r, bytes) = request_bytes(
        Method::PATCH,
        &gw.url("/v1/shelves/1/books/2?update_mask=title"),
        &[pb],
        book.encode_to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let got = Book::decode(bytes).unwrap();
    assert_eq!(
        (got.name.as_str(), got.title.as_str(), got.author.as_str()),
        ("shelves/1/books/2", "Proto", "Thomas S. Kuhn")
    );

    // Errors come back as a binary google.rpc.Status, details included.
    let fail = switchboard_examples::pb::switchboard::testing::v1::EchoRequest {
        fail_code: 5,
        fail_message: "gone".into(),
        ..Default::default()
    };
    let (r, bytes) = request_bytes(
        Method::POST,
        &gw.url("/v1/echo"),
        &[pb],
        fail.encode_to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    let st = RpcStatus::decode(bytes).unwrap();
    assert_eq!((st.code, st.message.as_str()), (5, "gone"));
    assert_eq!(
        st.details[0].type_url,
        "type.googleapis.com/switchboard.testing.v1.ErrorDetail"
    );
    // A body that is not protobuf: 400, InvalidArgument, still binary.
    let (r, bytes) = request_bytes(Method::POST, &url, &[pb], vec![0xff, 0xff, 0xff])
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    let st = RpcStatus::decode(bytes).unwrap();
    assert_eq!(st.code, 3);
    assert!(st.message.starts_with("invalid protobuf body"), "{st:?}");
}

#[tokio::test]
async fn http_body_downloads_and_uploads_are_raw() {
    let (_g, _l, gw) = setup().await;

    let r = get(&gw.url("/v1/download/report.txt")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.body, "file report.txt");

    let (r, bytes) = request_bytes(
        Method::GET,
        &gw.url("/v1/download/blob?size=300&contentType=application/octet-stream"),
        &[],
        Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    let want: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    assert_eq!(bytes.as_ref(), want.as_slice());

    // Streamed: each HttpBody's data then grpc-gateway's "\n", typed by the
    // first (the raw form is `http.raw_http_body_streams`, crates/switchboard/tests/parity.rs).
    let r = get(&gw.url("/v1/download/f:stream?chunks=3&contentType=text/csv"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/csv"));
    assert_eq!(r.body, "f-0;\nf-1;\nf-2;\n");

    // Upload: the raw body and its Content-Type, whatever they are.
    let data = vec![0u8, 1, 2, 0xff, b'{'];
    let (r, _) = request_bytes(
        Method::POST,
        &gw.url("/v1/upload"),
        &[("content-type", "image/png; q=1")],
        data.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"contentType": "image/png; q=1", "size": "5",
               "data": base64::engine::general_purpose::STANDARD.encode(&data)})
    );
    // Even a JSON-looking body is not parsed.
    let r = post(&gw.url("/v1/upload"), r#"{"contentType":"x"}"#)
        .await
        .unwrap();
    assert_eq!(r.json()["size"], "19");
    assert_eq!(r.json()["contentType"], "");
}

#[tokio::test]
async fn print_options_apply_to_unary_streams_and_errors() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let options =
        "json:\n  emit_unpopulated: false\n  use_proto_names: true\n  enums_as_ints: true\n";
    let gw = Gateway::start(&backend_yaml("greeter", greeter.addr, options)).await;

    let r = post(
        &gw.url("/v1/echo"),
        r#"{"stringValue":"x","color":"COLOR_RED","nestedList":[{"label":"l"}],"int64Value":"0"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["request"],
        json!({"string_value": "x", "color": 1, "nested_list": [{"label": "l"}]})
    );

    let r = post(
        &gw.url("/v1/echo:stream"),
        r#"{"request":{"color":"COLOR_BLUE","boolValue":true},"count":2}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let lines: Vec<Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", r.body);
    for line in lines {
        assert_eq!(
            line["result"]["request"],
            json!({"bool_value": true, "color": 3})
        );
    }

    let r = post(&gw.url("/v1/echo"), r#"{"failCode":3,"failMessage":"bad"}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        concat!(
            r#"{"code":3,"message":"bad","details":[{"@type":"#,
            r#""type.googleapis.com/switchboard.testing.v1.ErrorDetail","#,
            r#""reason":"REQUESTED_FAILURE","field":"fail_code"}]}"#
        )
    );
    // emit_unpopulated: false also drops an empty message from an error.
    let r = post(
        &gw.url("/v1/echo:stream"),
        r#"{"count":1,"failCode":9,"failMessage":"late"}"#,
    )
    .await
    .unwrap();
    let last = r.body.lines().last().unwrap().to_owned();
    let last: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(last["error"]["code"], 9);
    assert_eq!(last["error"]["message"], "late");
}
