//! The gateway against a backend no one here wrote: Python grpcio with
//! grpcio-reflection (v1alpha only) and protoc-generated descriptors carrying
//! google.api.http annotations from googleapis-common-protos.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::Method;
use prost::Message as _;
use serde_json::{Value, json};
use support::{Gateway, PythonBackend, backend_yaml, free_port, get, post, request, request_bytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use tonic::transport::Channel;

// ------------------------------------------------------------------------------
// py.inventory.v1 messages, hand-written with prost (the wire format is what
// the Python stubs generated from tests/python/inventory.proto speak).
// ------------------------------------------------------------------------------

#[derive(Clone, PartialEq, prost::Message)]
struct Item {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(int32, tag = "3")]
    quantity: i32,
    #[prost(double, tag = "4")]
    price: f64,
    #[prost(string, repeated, tag = "5")]
    tags: Vec<String>,
    #[prost(int32, tag = "6")]
    category: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct GetItemRequest {
    #[prost(string, tag = "1")]
    id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct WatchItemsRequest {
    #[prost(string, tag = "1")]
    tag: String,
    #[prost(int32, tag = "2")]
    interval_ms: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct InventoryError {
    #[prost(string, tag = "1")]
    reason: String,
    #[prost(string, tag = "2")]
    item_id: String,
    #[prost(int32, tag = "3")]
    available: i32,
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

const CATEGORY_TOOL: i32 = 2;
const SERVICE: &str = "/py.inventory.v1.InventoryService";

/// The Python backend behind a fresh gateway (`extra`: backend keys).
async fn setup(extra: &str) -> (PythonBackend, Gateway) {
    let py = PythonBackend::start();
    let gw = Gateway::start(&backend_yaml("inventory", py.addr, extra)).await;
    (py, gw)
}

#[tokio::test]
async fn grpcio_backend_through_the_gateway() {
    let py = PythonBackend::start();
    let gw = Gateway::start(&backend_yaml("inventory", py.addr, "")).await;

    let status = gw.status().await;
    let backend = &status["backends"][0];
    assert_eq!(backend["state"], "ok", "{status}");
    assert_eq!(
        backend["source"], "reflection.v1alpha",
        "v1 is not spoken by grpcio"
    );
    assert_eq!(
        backend["services"],
        json!(["py.inventory.v1.InventoryService"])
    );

    // google.api.http GET with a path variable; double and repeated fields.
    let r = get(&gw.url("/v1/items/apple")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"id": "apple", "name": "Apple", "quantity": 10, "price": 0.5, "tags": ["fruit"],
               "category": "CATEGORY_FRUIT"})
    );

    // Default route for the same method.
    let r = post(
        &gw.url("/py.inventory.v1.InventoryService/GetItem"),
        r#"{"id":"pear"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["name"], "Pear");

    // body: "item".
    let r = post(
        &gw.url("/v1/items"),
        r#"{"id":"saw","name":"Saw","quantity":2}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["id"], "saw");
    assert_eq!(r.json()["price"], 0.0, "unpopulated fields are emitted");
    let r = post(&gw.url("/v1/items"), r#"{"id":"saw"}"#).await.unwrap();
    assert_eq!(r.status, 409, "ALREADY_EXISTS: {}", r.body);

    // Custom verb and an error with details decoded through the discovered pool.
    let r = post(&gw.url("/v1/items/hammer:reserve"), r#"{"quantity":5}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 400, "FAILED_PRECONDITION: {}", r.body);
    assert_eq!(
        r.json(),
        json!({
            "code": 9,
            "message": "only 1 of 'hammer' in stock",
            "details": [{
                "@type": "type.googleapis.com/py.inventory.v1.InventoryError",
                "reason": "INSUFFICIENT_STOCK",
                "itemId": "hammer",
                "available": 1
            }]
        })
    );

    // Not found from grpcio.
    let r = get(&gw.url("/v1/items/nope")).await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], 5);
    assert_eq!(r.json()["message"], "item 'nope' not found");

    // Server streaming from grpcio, newline-delimited.
    let r = request(Method::GET, &gw.url("/v1/items:watch?tag=fruit"), &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let ids: Vec<String> = r
        .body
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["result"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["apple", "pear"]);
}

#[tokio::test]
async fn grpcio_query_parameters_path_variables_and_patch() {
    let (_py, gw) = setup("").await;
    let ids = |r: &support::Reply| -> Vec<String> {
        r.json()["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", r.body))
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };

    // Repeated by repetition, nested field path, enum by name, camelCase.
    let r = get(&gw.url(
        "/v1/items?ids=apple&ids=pear&ids=hammer&filter.category=CATEGORY_FRUIT&filter.minQuantity=5&pageToken=p2",
    ))
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r), ["apple"]);
    assert_eq!(r.json()["nextPageToken"], "p2");
    assert_eq!(r.json()["items"][0]["category"], "CATEGORY_FRUIT");
    // Enum by number, proto field names, an unknown parameter ignored.
    let r = get(&gw.url("/v1/items?filter.category=2&filter.min_quantity=1&page_token=x&bogus=1"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r), ["hammer"]);
    assert_eq!(r.json()["nextPageToken"], "x");
    // No parameters: everything, the unset token printed as "".
    let r = get(&gw.url("/v1/items")).await.unwrap();
    assert_eq!(ids(&r), ["apple", "hammer", "pear"]);
    assert_eq!(r.json()["nextPageToken"], "");
    // A bad enum or number in the query: 400 INVALID_ARGUMENT from the gateway.
    for q in ["filter.category=CATEGORY_NOPE", "filter.minQuantity=many"] {
        let r = get(&gw.url(&format!("/v1/items?{q}"))).await.unwrap();
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        assert_eq!(r.json()["code"], 3, "{q}");
    }

    // Path variable fully percent-decoded (space, colon, UTF-8).
    let r = post(
        &gw.url("/v1/items"),
        r#"{"id":"bolt 5:8","name":"Bolt","quantity":40,"category":"CATEGORY_TOOL"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get(&gw.url("/v1/items/bolt%205%3A8")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["id"], "bolt 5:8");
    assert_eq!(r.json()["category"], "CATEGORY_TOOL");
    // grpc-gateway's default (legacy) decoding splits on an escaped slash: no
    // route has that many segments (crates/switchboard/tests/parity.rs covers the other modes).
    let r = get(&gw.url("/v1/items/bolt%205%2F8")).await.unwrap();
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["message"], "Not Found");
    let r = get(&gw.url("/v1/items/caf%C3%A9")).await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "item 'café' not found");

    // PATCH with body: "item": the mask is filled from the body's keys, so the
    // unsent fields keep their values.
    let r = request(
        Method::PATCH,
        &gw.url("/v1/items/pear"),
        &[],
        Some(r#"{"quantity":7,"tags":["fruit","green"]}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("grpc-metadata-x-update-mask"),
        Some("quantity,tags")
    );
    assert_eq!(
        r.json(),
        json!({"id": "pear", "name": "Pear", "quantity": 7, "price": 0.75,
               "tags": ["fruit", "green"], "category": "CATEGORY_FRUIT"})
    );
    // A mask in the query wins over the body's keys.
    let r = request(
        Method::PATCH,
        &gw.url("/v1/items/pear?updateMask=name"),
        &[],
        Some(r#"{"name":"Pera","quantity":99}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("grpc-metadata-x-update-mask"), Some("name"));
    assert_eq!(
        (r.json()["name"].clone(), r.json()["quantity"].clone()),
        (json!("Pera"), json!(7))
    );
    // A body key naming no field: 400, as grpc-gateway.
    let r = request(
        Method::PATCH,
        &gw.url("/v1/items/pear"),
        &[],
        Some(r#"{"colour":"green"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["code"], 3);
    // Unknown item: grpcio's NOT_FOUND.
    let r = request(
        Method::PATCH,
        &gw.url("/v1/items/plum"),
        &[],
        Some(r#"{"quantity":1}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["message"], "item 'plum' not found");
}

#[tokio::test]
async fn grpcio_metadata_as_headers_and_trailers() {
    let (py, gw) = setup("").await;
    let port = py.addr.port().to_string();

    // Request metadata in (Grpc-Metadata-X-Tenant -> x-tenant), initial metadata
    // out as Grpc-Metadata-*, trailing metadata as Grpc-Trailer-* with TE: trailers.
    let r = request(
        Method::GET,
        &gw.url("/v1/items/apple"),
        &[("grpc-metadata-x-tenant", "acme"), ("te", "trailers")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("grpc-metadata-x-served-by"), Some(port.as_str()));
    assert_eq!(r.header("grpc-metadata-x-tenant-echo"), Some("acme"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let trailers = r.trailers.as_ref().expect("trailers were requested");
    assert_eq!(
        trailers.get("grpc-trailer-x-item-etag").unwrap(),
        "apple-10"
    );
    assert_eq!(r.json()["id"], "apple");

    // Without TE: trailers, none; the headers are still there.
    let r = get(&gw.url("/v1/items/apple")).await.unwrap();
    assert!(r.trailers.is_none(), "{:?}", r.trailers);
    assert_eq!(r.header("grpc-metadata-x-served-by"), Some(port.as_str()));
    assert!(r.header("grpc-metadata-x-tenant-echo").is_none());

    // Initial metadata sent before grpcio aborts still reaches the error response.
    let r = request(
        Method::GET,
        &gw.url("/v1/items/nope"),
        &[("grpc-metadata-x-tenant", "t2")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.header("grpc-metadata-x-tenant-echo"), Some("t2"));
    assert_eq!(
        r.json(),
        json!({"code": 5, "message": "item 'nope' not found", "details": []})
    );
}

#[tokio::test]
async fn grpcio_binary_protobuf_in_and_out() {
    let (_py, gw) = setup("").await;
    let pb = ("content-type", "application/x-protobuf");
    let saw = Item {
        id: "saw".into(),
        name: "Saw".into(),
        quantity: 2,
        price: 9.5,
        tags: vec!["tool".into()],
        category: CATEGORY_TOOL,
    };

    // body: "item" decoded from protobuf; the response in protobuf too.
    let (r, bytes) = request_bytes(
        Method::POST,
        &gw.url("/v1/items"),
        &[pb],
        saw.encode_to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(Item::decode(bytes).unwrap(), saw);

    // GET with Accept: protobuf; path variable still bound.
    let (r, bytes) = request_bytes(
        Method::GET,
        &gw.url("/v1/items/saw"),
        &[("accept", "application/x-protobuf")],
        Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(Item::decode(bytes).unwrap(), saw);

    // Protobuf in, JSON out by Accept.
    let mut other = saw.clone();
    other.id = "saw2".into();
    let (r, _) = request_bytes(
        Method::POST,
        &gw.url("/v1/items"),
        &[pb, ("accept", "application/json")],
        other.encode_to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["id"], "saw2");
    assert_eq!(r.json()["category"], "CATEGORY_TOOL");

    // Errors as a binary google.rpc.Status, grpcio's details kept as sent.
    let (r, bytes) = request_bytes(
        Method::POST,
        &gw.url("/v1/items"),
        &[pb],
        saw.encode_to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 409);
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    let st = RpcStatus::decode(bytes).unwrap();
    assert_eq!(
        (st.code, st.message.as_str()),
        (6, "item 'saw' already exists")
    );
    let reserve = GetItemRequest {
        id: "hammer".into(),
    }
    .encode_to_vec();
    // ReserveItemRequest {id: "hammer", quantity: 5}: field 1 is the same as
    // GetItemRequest's, field 2 appended by hand (varint).
    let mut body = reserve;
    body.extend_from_slice(&[0x10, 5]);
    let (r, bytes) = request_bytes(
        Method::POST,
        &gw.url("/v1/items/hammer:reserve"),
        &[pb],
        body,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    let st = RpcStatus::decode(bytes).unwrap();
    assert_eq!(st.code, 9);
    assert_eq!(
        st.details[0].type_url,
        "type.googleapis.com/py.inventory.v1.InventoryError"
    );
    assert_eq!(
        InventoryError::decode(st.details[0].value.as_slice()).unwrap(),
        InventoryError {
            reason: "INSUFFICIENT_STOCK".into(),
            item_id: "hammer".into(),
            available: 1
        }
    );
}

#[tokio::test]
async fn grpcio_print_options() {
    let (_py, gw) = setup("json:\n  use_proto_names: true\n  emit_unpopulated: false").await;
    // Unset next_page_token omitted; proto names.
    let r = get(&gw.url("/v1/items?ids=hammer")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"items": [{"id": "hammer", "name": "Hammer", "quantity": 1, "price": 12,
                          "tags": ["tool"], "category": "CATEGORY_TOOL"}]})
    );
    let r = get(&gw.url("/v1/items?ids=hammer&page_token=t"))
        .await
        .unwrap();
    assert_eq!(r.json()["next_page_token"], "t");
    // Zero values dropped from an item.
    let r = post(&gw.url("/v1/items"), r#"{"id":"nail"}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"id": "nail"}));
    // Error details printed with the same options.
    let r = post(&gw.url("/v1/items/hammer:reserve"), r#"{"quantity":5}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["details"][0],
        json!({"@type": "type.googleapis.com/py.inventory.v1.InventoryError",
               "reason": "INSUFFICIENT_STOCK", "item_id": "hammer", "available": 1})
    );
    // Streamed messages too.
    let r = get(&gw.url("/v1/items:watch?tag=tool")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let first: Value = serde_json::from_str(r.body.lines().next().unwrap()).unwrap();
    assert_eq!(first["result"]["id"], "hammer");
    assert_eq!(first["result"]["category"], "CATEGORY_TOOL");
}

#[tokio::test]
async fn grpcio_native_grpc_through_the_gateway() {
    let (py, gw) = setup("").await;
    let channel = Channel::from_shared(gw.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    let path = |m: &str| {
        format!("{SERVICE}/{m}")
            .parse::<http::uri::PathAndQuery>()
            .unwrap()
    };

    // Unary: message, initial metadata and (merged by tonic) trailing metadata.
    client.ready().await.unwrap();
    let mut req = tonic::Request::new(GetItemRequest { id: "pear".into() });
    req.metadata_mut()
        .insert("x-tenant", "grpc".parse().unwrap());
    let r = client
        .unary::<_, Item, _>(req, path("GetItem"), tonic_prost::ProstCodec::default())
        .await
        .unwrap();
    assert_eq!(
        r.metadata().get("x-served-by").unwrap(),
        py.addr.port().to_string().as_str()
    );
    assert_eq!(r.metadata().get("x-tenant-echo").unwrap(), "grpc");
    assert_eq!(r.metadata().get("x-item-etag").unwrap(), "pear-3");
    assert_eq!(r.get_ref().name, "Pear");
    assert_eq!(r.get_ref().price, 0.75);

    // grpcio's status, message and details pass through untouched.
    client.ready().await.unwrap();
    let status = client
        .unary::<_, Item, _>(
            tonic::Request::new(GetItemRequest { id: "nope".into() }),
            path("GetItem"),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), "item 'nope' not found");
    client.ready().await.unwrap();
    let mut reserve = GetItemRequest {
        id: "hammer".into(),
    }
    .encode_to_vec();
    reserve.extend_from_slice(&[0x10, 5]);
    let status = client
        .unary::<_, Item, _>(
            tonic::Request::new(RawMessage(reserve)),
            path("ReserveItem"),
            tonic_prost::ProstCodec::<RawMessage, Item>::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    let details = RpcStatus::decode(status.details()).expect("grpc-status-details-bin");
    assert_eq!(
        InventoryError::decode(details.details[0].value.as_slice())
            .unwrap()
            .available,
        1
    );

    // Server streaming.
    client.ready().await.unwrap();
    let mut stream = client
        .server_streaming::<_, Item, _>(
            tonic::Request::new(WatchItemsRequest {
                tag: "fruit".into(),
                interval_ms: 0,
            }),
            path("WatchItems"),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(item) = stream.message().await.unwrap() {
        got.push(item.id);
    }
    assert_eq!(got, ["apple", "pear"]);

    // An unknown method of the service: the gateway's trailers-only UNIMPLEMENTED.
    client.ready().await.unwrap();
    let status = client
        .unary::<_, Item, _>(
            tonic::Request::new(GetItemRequest::default()),
            path("DeleteItem"),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}

/// An already-encoded message (for requests without a hand-written struct).
#[derive(Clone, Debug, PartialEq, Default)]
struct RawMessage(Vec<u8>);

impl prost::Message for RawMessage {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}

/// A hand-framed gRPC-Web call: one length-prefixed message, as a browser sends it.
async fn grpc_web(
    gw: &Gateway,
    method: &str,
    message: &[u8],
    text: bool,
) -> (support::Reply, Bytes) {
    let mut frame = BytesMut::new();
    frame.put_u8(0);
    frame.put_u32(message.len() as u32);
    frame.put_slice(message);
    let (ct, body) = if text {
        ("application/grpc-web-text", B64.encode(&frame).into_bytes())
    } else {
        ("application/grpc-web+proto", frame.to_vec())
    };
    let (r, bytes) = request_bytes(
        Method::POST,
        &gw.url(&format!("{SERVICE}/{method}")),
        &[("content-type", ct), ("accept", ct), ("x-grpc-web", "1")],
        body,
    )
    .await
    .unwrap();
    let bytes = if text {
        // Possibly several padded base64 chunks in a row: decode by 4-char groups.
        let clean: Vec<u8> = bytes
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let mut out = Vec::new();
        for group in clean.chunks(4) {
            out.extend(B64.decode(group).expect("base64"));
        }
        Bytes::from(out)
    } else {
        bytes
    };
    (r, bytes)
}

/// Splits a gRPC-Web body into its messages and its trailers frame.
fn web_frames(mut body: Bytes) -> (Vec<Bytes>, HashMap<String, String>) {
    let (mut messages, mut trailers) = (Vec::new(), HashMap::new());
    while body.has_remaining() {
        let flag = body.get_u8();
        let len = body.get_u32() as usize;
        let payload = body.split_to(len);
        if flag & 0x80 != 0 {
            for line in std::str::from_utf8(&payload).unwrap().split("\r\n") {
                if let Some((k, v)) = line.split_once(':') {
                    trailers.insert(k.to_string(), v.trim().to_string());
                }
            }
        } else {
            assert!(trailers.is_empty(), "message after the trailers frame");
            messages.push(payload);
        }
    }
    (messages, trailers)
}

#[tokio::test]
async fn grpcio_grpc_web() {
    let (py, gw) = setup("").await;
    let port = py.addr.port().to_string();
    let get_apple = GetItemRequest { id: "apple".into() }.encode_to_vec();

    // Binary: header metadata as headers, the trailers frame with grpcio's trailer.
    let (r, body) = grpc_web(&gw, "GetItem", &get_apple, false).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/grpc-web+proto"));
    assert_eq!(r.header("x-served-by"), Some(port.as_str()));
    let (messages, trailers) = web_frames(body);
    assert_eq!(messages.len(), 1);
    assert_eq!(Item::decode(messages[0].clone()).unwrap().name, "Apple");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["x-item-etag"], "apple-10");

    // -text, server streaming: every message, then the trailers frame.
    let watch = WatchItemsRequest {
        tag: "fruit".into(),
        interval_ms: 0,
    }
    .encode_to_vec();
    let (r, body) = grpc_web(&gw, "WatchItems", &watch, true).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/grpc-web-text+proto")
    );
    let (messages, trailers) = web_frames(body);
    let ids: Vec<String> = messages
        .into_iter()
        .map(|m| Item::decode(m).unwrap().id)
        .collect();
    assert_eq!(ids, ["apple", "pear"]);
    assert_eq!(trailers["grpc-status"], "0");

    // An error: grpcio sent initial metadata first, so the status arrives in the
    // trailers frame (not trailers-only); the message is percent-encoded (non-ASCII).
    let (r, body) = grpc_web(
        &gw,
        "GetItem",
        &GetItemRequest { id: "café".into() }.encode_to_vec(),
        false,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-served-by"), Some(port.as_str()));
    assert!(r.header("grpc-status").is_none(), "{:?}", r.headers);
    let (messages, trailers) = web_frames(body);
    assert!(messages.is_empty());
    assert_eq!(trailers["grpc-status"], "5");
    assert_eq!(trailers["grpc-message"], "item 'caf%C3%A9' not found");
}

#[tokio::test]
async fn grpcio_server_sent_events() {
    let (_py, gw) = setup("").await;
    let r = request(
        Method::GET,
        &gw.url("/v1/items:watch?tag=fruit"),
        &[("accept", "text/event-stream")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let events: Vec<&str> = r.body.split_terminator("\n\n").collect();
    assert_eq!(events.len(), 2, "{:?}", r.body);
    let ids: Vec<Value> = events
        .iter()
        .map(|e| {
            let data = e.strip_prefix("data: ").expect(e);
            serde_json::from_str::<Value>(data).unwrap()["result"]["id"].clone()
        })
        .collect();
    assert_eq!(ids, [json!("apple"), json!("pear")]);
    // An empty stream: 200 and no events.
    let r = request(
        Method::GET,
        &gw.url("/v1/items:watch?tag=none"),
        &[("accept", "text/event-stream")],
        None,
    )
    .await
    .unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, ""));
}

#[tokio::test]
async fn grpcio_client_disconnect_mid_stream() {
    let (py, gw) = setup("").await;
    // Three items 2 s apart: read the first, then hang up.
    let mut sock = tokio::net::TcpStream::connect(gw.http).await.unwrap();
    let head = format!(
        "GET /v1/items:watch?intervalMs=2000 HTTP/1.1\r\nHost: {}\r\n\r\n",
        gw.http
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(r#""result""#) {
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf))
            .await
            .expect("first message in time")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    drop(sock);

    // The gateway lets go of the call well before the stream would have ended
    // (~4 s), and keeps serving.
    let started = Instant::now();
    let addr = py.addr.to_string();
    loop {
        let backends = get(&gw.admin_url("/backends")).await.unwrap().json();
        let in_flight = backends[0]["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["address"] == addr.as_str())
            .map(|e| e["in_flight"].clone());
        if in_flight == Some(json!(0)) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "call still in flight: {backends}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = get(&gw.url("/v1/items/apple")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(get(&gw.admin_url("/healthz")).await.unwrap().status, 200);
}

// ------------------------------------------------------------------------------
// Python endpoints in the balancing spread.
// ------------------------------------------------------------------------------

/// Sends `total` GetItem calls through the gateway, `concurrency` at a time, and
/// counts answers per `x-served-by` (the Python server's port).
async fn load(
    gw: &Gateway,
    total: usize,
    concurrency: usize,
) -> (HashMap<String, usize>, Vec<String>) {
    let url = gw.url("/v1/items/apple");
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (url, next) = (url.clone(), next.clone());
            tokio::spawn(async move {
                let (mut served, mut errors) = (HashMap::<String, usize>::new(), Vec::new());
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    match get(&url).await {
                        Ok(r) if r.status == 200 => {
                            let who = r.header("grpc-metadata-x-served-by").unwrap_or("?");
                            *served.entry(who.to_string()).or_default() += 1;
                        }
                        Ok(r) => errors.push(format!("{} {}", r.status, r.body)),
                        Err(e) => errors.push(e),
                    }
                }
                (served, errors)
            })
        })
        .collect();
    let (mut served, mut errors) = (HashMap::new(), Vec::new());
    for w in workers {
        let (s, e) = w.await.unwrap();
        for (k, v) in s {
            *served.entry(k).or_default() += v;
        }
        errors.extend(e);
    }
    (served, errors)
}

#[tokio::test]
async fn grpcio_endpoints_share_the_load() {
    let a = PythonBackend::start();
    let (b, c) = (PythonBackend::start(), PythonBackend::start());
    let pys = [&a, &b, &c];
    let list: Vec<String> = pys.iter().map(|p| format!("\"{}\"", p.addr)).collect();
    for policy in ["p2c_peak_ewma", "round_robin"] {
        let backend = format!(
            "  - name: inventory\n    endpoints: [{}]\n    balancing: {policy}\n",
            list.join(", ")
        );
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("switchboard.yaml");
        std::fs::write(&config, Gateway::render(http, admin, &backend)).unwrap();
        let gw = Gateway::start_with(dir, config, http, admin).await;

        let total = 300;
        let (served, errors) = load(&gw, total, 6).await;
        eprintln!("{policy}: served {served:?}, errors {}", errors.len());
        assert!(errors.is_empty(), "{policy}: {errors:?}");
        assert_eq!(served.values().sum::<usize>(), total);
        assert_eq!(served.len(), 3, "{policy}: {served:?}");
        for py in pys {
            let n = *served.get(&py.addr.port().to_string()).unwrap_or(&0);
            if policy == "round_robin" {
                assert_eq!(n, total / 3, "{policy}: {served:?}");
            } else {
                let share = n as f64 / total as f64;
                assert!(
                    (0.1..=0.6).contains(&share),
                    "{policy}: {} got {:.0}% of {served:?}",
                    py.addr,
                    share * 100.0
                );
            }
        }
        let backends = get(&gw.admin_url("/backends")).await.unwrap().json();
        assert_eq!(backends[0]["balancing"], policy);
        assert_eq!(backends[0]["endpoints"].as_array().unwrap().len(), 3);
    }
}

/// A missing Python environment fails the Python-backed tests instead of
/// letting them pass without having run (they used to return early unless
/// SWITCHBOARD_REQUIRE_PYTHON=1 was set).
#[test]
fn a_missing_python_environment_fails_instead_of_passing() {
    let empty = tempfile::tempdir().unwrap();
    let started = std::panic::catch_unwind(|| PythonBackend::start_in(empty.path()));
    assert!(started.is_err(), "started without a Python environment");
}
