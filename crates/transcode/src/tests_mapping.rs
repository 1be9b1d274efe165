//! Unit tests for the mapping details beyond plain JSON: PATCH FieldMask filling
//! (grpc-gateway's `FieldMaskFromRequestBody`), codec negotiation, binary
//! protobuf bodies in and out, and `google.api.HttpBody` requests and responses.
//! Expected masks are worked out from runtime/fieldmask.go.

use std::sync::OnceLock;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, Value};

use crate::*;

const PROTO: &str = r#"
syntax = "proto3";
package m;
import "google/api/httpbody.proto";
import "google/protobuf/any.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

message Author { string name = 1; int32 born = 2; Author mentor = 3; }
message Book {
  string name = 1;
  string title = 2;
  int64 page_count = 3;
  Author author = 4;
  repeated string tags = 5;
  map<string, string> labels = 6;
  google.protobuf.Struct attrs = 7;
  google.protobuf.Any extra = 8;
  google.protobuf.Timestamp create_time = 9;
  google.protobuf.StringValue note = 10;
  repeated Author editors = 11;
}
message UpdateBookRequest { Book book = 1; google.protobuf.FieldMask update_mask = 2; }
message TwoMasks { Book book = 1; google.protobuf.FieldMask a = 2; google.protobuf.FieldMask b = 3; }
message OtherMaskName { Book book = 1; google.protobuf.FieldMask fields = 2; }
message Upload { string name = 1; google.api.HttpBody file = 2; }
message Reply { string name = 1; int64 size = 2; string content_type = 3; Book book = 4; }

service S {
  rpc Update(UpdateBookRequest) returns (Book);
  rpc UpdateTwo(TwoMasks) returns (Book);
  rpc UpdateOther(OtherMaskName) returns (Book);
  rpc Raw(google.api.HttpBody) returns (google.api.HttpBody);
  rpc RawField(Upload) returns (Reply);
  rpc RawStream(Reply) returns (stream google.api.HttpBody);
}
"#;

const GOOGLE_API: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../discovery/proto");

struct Files;

impl protox::file::FileResolver for Files {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        if name == "m.proto" {
            return protox::file::File::from_source(name, PROTO);
        }
        protox::file::IncludeFileResolver::new(GOOGLE_API.into())
            .open_file(name)
            .or_else(|_| protox::file::GoogleFileResolver::new().open_file(name))
    }
}

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut c = protox::Compiler::with_file_resolver(Files);
        c.include_imports(true);
        c.open_file("m.proto").unwrap();
        DescriptorPool::decode(c.encode_file_descriptor_set().as_slice()).unwrap()
    })
}

fn method(name: &str) -> MethodDescriptor {
    pool()
        .get_service_by_name("m.S")
        .unwrap()
        .methods()
        .find(|m| m.name() == name)
        .unwrap()
}

fn plan(m: &str, http: &str, body: &str, vars: &[&str]) -> MethodPlan {
    MethodPlan::for_binding(&method(m), http, body, vars, "").unwrap()
}

fn decode(
    p: &MethodPlan,
    body: &[u8],
    codec: Codec,
    content_type: Option<&str>,
    path: &[&str],
    q: Option<&str>,
) -> Result<DynamicMessage, TranscodeError> {
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    let body = RequestBody {
        bytes: body,
        content_type,
        codec,
    };
    let bytes = decode_request(p, &JsonOptions::default(), body, &path, q)?;
    Ok(DynamicMessage::decode(p.input.clone(), bytes).unwrap())
}

/// The update_mask paths the gateway sends for a PATCH body (and query).
fn mask_of(p: &MethodPlan, mask_field: &str, body: &str, q: Option<&str>) -> Option<Vec<String>> {
    let m = decode(
        p,
        body.as_bytes(),
        Codec::Json,
        None,
        &["shelves/1/books/2"],
        q,
    )
    .unwrap();
    if !m.has_field_by_name(mask_field) {
        return None;
    }
    let mask = m.get_field_by_name(mask_field).unwrap();
    let paths = mask.as_message().unwrap().get_field_by_number(1).unwrap();
    Some(
        paths
            .as_list()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
    )
}

fn patch() -> MethodPlan {
    plan("Update", "PATCH", "book", &["book.name"])
}

#[test]
fn patch_mask_is_planned_only_where_grpc_gateway_fills_it() {
    assert_eq!(patch().patch_mask.unwrap().name(), "update_mask");
    // Any name works, as long as it is the only FieldMask.
    let p = plan("UpdateOther", "PATCH", "book", &[]);
    assert_eq!(p.patch_mask.unwrap().name(), "fields");
    // Not for other methods, `body: "*"`, no body, or two FieldMask fields.
    assert!(plan("Update", "PUT", "book", &[]).patch_mask.is_none());
    assert!(plan("Update", "POST", "book", &[]).patch_mask.is_none());
    assert!(plan("Update", "PATCH", "*", &[]).patch_mask.is_none());
    assert!(plan("Update", "PATCH", "", &[]).patch_mask.is_none());
    assert!(plan("UpdateTwo", "PATCH", "book", &[]).patch_mask.is_none());
    assert!(
        MethodPlan::new(&method("Update"), "book", &[], "")
            .unwrap()
            .patch_mask
            .is_none()
    );
}

#[test]
fn patch_mask_from_body_keys() {
    let p = patch();
    let m = |body: &str| mask_of(&p, "update_mask", body, None).unwrap();
    // JSON names and proto names; sorted; path variables do not add paths.
    assert_eq!(
        m(r#"{"title":"T","pageCount":"3"}"#),
        ["page_count", "title"]
    );
    assert_eq!(m(r#"{"page_count":3}"#), ["page_count"]);
    // Nested messages are descended into; an empty object or null ends the path.
    assert_eq!(
        m(r#"{"author":{"name":"A","mentor":{"born":1}}}"#),
        ["author.mentor.born", "author.name"]
    );
    assert_eq!(m(r#"{"author":{}}"#), ["author"]);
    assert_eq!(m(r#"{"author":null,"title":null}"#), ["author", "title"]);
    // Repeated and map fields end the path.
    assert_eq!(
        m(r#"{"tags":["a"],"labels":{"k":"v"},"editors":[{"name":"e"}]}"#),
        ["editors", "labels", "tags"]
    );
    // Well-known types with scalar JSON forms are leaves.
    assert_eq!(
        m(r#"{"createTime":"2020-01-01T00:00:00Z","note":"n"}"#),
        ["create_time", "note"]
    );
    // Struct: the JSON keys below it, verbatim; an empty Struct adds nothing.
    assert_eq!(
        m(r#"{"attrs":{"a":1,"b":{"c":true,"d_e":null}}}"#),
        ["attrs.a", "attrs.b.c", "attrs.b.d_e"]
    );
    assert!(m(r#"{"attrs":{}}"#).is_empty());
    // Any needs @type, and its path is the raw key (grpc-gateway's quirk).
    assert_eq!(
        m(r#"{"extra":{"@type":"type.googleapis.com/m.Author","name":"x"}}"#),
        ["extra"]
    );
    // `{}` at the top is grpc-gateway's single empty path; no body: an empty mask.
    assert_eq!(m("{}"), [""]);
    assert!(m("").is_empty());
    assert!(m(" \n").is_empty());
}

#[test]
fn patch_mask_given_by_the_client_wins() {
    let p = patch();
    assert_eq!(
        mask_of(
            &p,
            "update_mask",
            r#"{"title":"T"}"#,
            Some("update_mask=author,tags")
        )
        .unwrap(),
        ["author", "tags"]
    );
    assert_eq!(
        mask_of(
            &p,
            "update_mask",
            r#"{"title":"T"}"#,
            Some("updateMask=page_count")
        )
        .unwrap(),
        ["page_count"]
    );
    let p = plan("UpdateOther", "PATCH", "book", &["book.name"]);
    assert_eq!(
        mask_of(&p, "fields", r#"{"title":"T","author":{"born":2}}"#, None).unwrap(),
        ["author.born", "title"]
    );
    // Not PATCH: nothing is filled.
    let p = plan("Update", "PUT", "book", &["book.name"]);
    assert_eq!(mask_of(&p, "update_mask", r#"{"title":"T"}"#, None), None);
}

#[test]
fn patch_mask_errors_like_grpc_gateway() {
    let p = patch();
    let err = |body: &str| {
        decode(
            &p,
            body.as_bytes(),
            Codec::Json,
            None,
            &["shelves/1/books/2"],
            None,
        )
        .unwrap_err()
        .0
    };
    // The body decode ignores unknown fields; the mask does not.
    assert_eq!(
        err(r#"{"bogus":1}"#),
        r#"could not find field "bogus" in "m.Book""#
    );
    assert_eq!(
        err(r#"{"author":{"nope":1}}"#),
        r#"could not find field "nope" in "m.Author""#
    );
    // An Any without @type: the body decoder already refuses it.
    assert!(err(r#"{"extra":{"name":"x"}}"#).starts_with("invalid JSON body"));
    assert!(err(r#"{"title":}"#).starts_with("invalid JSON body"));
}

#[test]
fn negotiation_follows_marshaler_for_request() {
    let n = |ct: &[&str], accept: &[&str]| {
        negotiate(
            ct.iter().map(|s| s.as_bytes()),
            accept.iter().map(|s| s.as_bytes()),
        )
    };
    let nego = |inbound, outbound| Negotiated { inbound, outbound };
    use Codec::{Json, Protobuf};
    assert_eq!(n(&[], &[]), nego(Json, Json));
    assert_eq!(n(&["text/plain"], &["text/html"]), nego(Json, Json));
    assert_eq!(n(&["application/octet-stream"], &[]), nego(Json, Json));
    assert_eq!(
        n(&["application/x-protobuf"], &[]),
        nego(Protobuf, Protobuf)
    );
    assert_eq!(
        n(&["Application/X-Protobuf; charset=binary"], &["*/*"]),
        nego(Protobuf, Protobuf)
    );
    assert_eq!(
        n(&["application/x-protobuf"], &["application/json"]),
        nego(Protobuf, Json)
    );
    assert_eq!(
        n(
            &["application/json"],
            &["text/html, application/x-protobuf;q=0.9"]
        ),
        nego(Json, Protobuf)
    );
    // The first claimed Content-Type value wins.
    assert_eq!(
        n(&["bogus", "application/x-protobuf"], &[]),
        nego(Protobuf, Protobuf)
    );
    assert_eq!(Codec::Protobuf.content_type(), "application/x-protobuf");
}

fn book(title: &str) -> DynamicMessage {
    let desc = pool().get_message_by_name("m.Book").unwrap();
    let mut b = DynamicMessage::new(desc);
    b.set_field_by_name("title", Value::String(title.into()));
    b.set_field_by_name("page_count", Value::I64(7));
    b
}

#[test]
fn protobuf_bodies_in() {
    // body: "field" -> the field's message; path variables still apply.
    let p = plan("Update", "PATCH", "book", &["book.name"]);
    let m = decode(
        &p,
        &book("T").encode_to_vec(),
        Codec::Protobuf,
        Some("application/x-protobuf"),
        &["shelves/1/books/2"],
        Some("update_mask=title"),
    )
    .unwrap();
    let b = m.get_field_by_name("book").unwrap();
    let b = b.as_message().unwrap();
    assert_eq!(b.get_field_by_name("title").unwrap().as_str(), Some("T"));
    assert_eq!(
        b.get_field_by_name("name").unwrap().as_str(),
        Some("shelves/1/books/2")
    );
    assert_eq!(b.get_field_by_name("page_count").unwrap().as_i64(), Some(7));
    // No JSON, so no mask from the body: only the query's.
    let mask = m.get_field_by_name("update_mask").unwrap();
    assert_eq!(
        mask.as_message()
            .unwrap()
            .get_field_by_number(1)
            .unwrap()
            .as_list()
            .unwrap()
            .len(),
        1
    );
    let m = decode(
        &p,
        &book("T").encode_to_vec(),
        Codec::Protobuf,
        None,
        &["n"],
        None,
    )
    .unwrap();
    assert!(!m.has_field_by_name("update_mask"));

    // body: "*" -> the whole message.
    let p = plan("RawField", "POST", "*", &[]);
    let mut up = DynamicMessage::new(p.input.clone());
    up.set_field_by_name("name", Value::String("x".into()));
    let m = decode(&p, &up.encode_to_vec(), Codec::Protobuf, None, &[], None).unwrap();
    assert_eq!(m, up);
    // Garbage is a 400-style error, never a panic.
    let e = decode(&p, b"\xff\xff\xff", Codec::Protobuf, None, &[], None).unwrap_err();
    assert!(e.0.starts_with("invalid protobuf body"), "{e}");
    // A scalar body field cannot be given as protobuf (ProtoMarshaller's error).
    let p = plan("RawField", "POST", "name", &[]);
    let e = decode(&p, b"", Codec::Protobuf, None, &[], None).unwrap_err();
    assert_eq!(e.0, "unable to unmarshal non proto field");
}

#[test]
fn protobuf_and_json_out() {
    let p = plan("Update", "PATCH", "book", &[]);
    let bytes: Bytes = book("T").encode_to_vec().into();
    let e = encode_response(&p, &JsonOptions::default(), Codec::Protobuf, bytes.clone()).unwrap();
    assert_eq!(e.content_type, "application/x-protobuf");
    assert_eq!(e.body, bytes, "upstream bytes pass through untouched");
    let e = encode_response(&p, &JsonOptions::default(), Codec::Json, bytes.clone()).unwrap();
    assert_eq!(e.content_type, "application/json");
    assert!(
        e.body
            .starts_with(br#"{"name":"","title":"T","pageCount":"7""#)
    );

    // response_body: a message field is re-encoded alone; a scalar one cannot be.
    let m = method("RawField");
    let p = MethodPlan::for_binding(&m, "POST", "*", &[], "book").unwrap();
    let mut reply = DynamicMessage::new(p.output.clone());
    reply.set_field_by_name("book", Value::Message(book("B")));
    let e = encode_response(
        &p,
        &JsonOptions::default(),
        Codec::Protobuf,
        reply.encode_to_vec().into(),
    )
    .unwrap();
    assert_eq!(e.body, book("B").encode_to_vec());
    let p = MethodPlan::for_binding(&m, "POST", "*", &[], "size").unwrap();
    let e = encode_response(&p, &JsonOptions::default(), Codec::Protobuf, Bytes::new());
    assert_eq!(e.unwrap_err().0, "unable to marshal non proto field");
}

#[test]
fn status_as_protobuf() {
    let st = crate::status::RpcStatus {
        code: 5,
        message: "ignored".into(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/m.Author".into(),
            value: vec![10, 1, b'x'],
        }],
    };
    let out = status_to_proto(5, "not found", Some(&st.encode_to_vec()));
    let back = crate::status::RpcStatus::decode(out.as_slice()).unwrap();
    assert_eq!(back.code, 5);
    assert_eq!(back.message, "not found");
    assert_eq!(back.details, st.details);
    let back = crate::status::RpcStatus::decode(status_to_proto(3, "", None).as_slice()).unwrap();
    assert_eq!((back.code, back.details.len()), (3, 0));
}

#[test]
fn http_body_requests_take_raw_bytes() {
    let p = plan("Raw", "POST", "*", &[]);
    assert!(p.raw_request && p.raw_response);
    // Raw bytes whatever the codec says; the Content-Type is kept verbatim.
    for codec in [Codec::Json, Codec::Protobuf] {
        let m = decode(
            &p,
            b"\x00not json\xff",
            codec,
            Some("image/png; x=1"),
            &[],
            Some("ignored=1"),
        )
        .unwrap();
        assert_eq!(
            m.get_field_by_number(1).unwrap().as_str(),
            Some("image/png; x=1")
        );
        assert_eq!(
            m.get_field_by_number(2)
                .unwrap()
                .as_bytes()
                .unwrap()
                .as_ref(),
            b"\x00not json\xff"
        );
    }
    // A body field of type HttpBody: the other fields come from path and query.
    let p = plan("RawField", "PUT", "file", &["name"]);
    assert!(p.raw_request && !p.raw_response);
    let m = decode(
        &p,
        b"hello",
        Codec::Json,
        Some("text/plain"),
        &["n1"],
        Some("name=q"),
    )
    .unwrap();
    assert_eq!(m.get_field_by_name("name").unwrap().as_str(), Some("n1"));
    let file = m.get_field_by_name("file").unwrap();
    let file = file.as_message().unwrap();
    assert_eq!(
        file.get_field_by_number(1).unwrap().as_str(),
        Some("text/plain")
    );
    assert_eq!(
        file.get_field_by_number(2)
            .unwrap()
            .as_bytes()
            .unwrap()
            .as_ref(),
        b"hello"
    );
    // Nothing sent: the field stays unset.
    let m = decode(&p, b"", Codec::Json, None, &["n1"], None).unwrap();
    assert!(!m.has_field_by_name("file"));
    // Not the body target: an HttpBody field is ordinary JSON.
    let p = plan("RawField", "POST", "*", &[]);
    assert!(!p.raw_request);
    let m = decode(
        &p,
        br#"{"file":{"contentType":"a/b","data":"aGk="}}"#,
        Codec::Json,
        None,
        &[],
        None,
    )
    .unwrap();
    let file = m.get_field_by_name("file").unwrap();
    assert_eq!(
        file.as_message()
            .unwrap()
            .get_field_by_number(2)
            .unwrap()
            .as_bytes()
            .unwrap()
            .as_ref(),
        b"hi"
    );
}

#[test]
fn http_body_responses_are_written_raw() {
    let p = plan("Raw", "POST", "*", &[]);
    let mut hb = DynamicMessage::new(p.output.clone());
    hb.set_field_by_number(1, Value::String("text/csv".into()));
    hb.set_field_by_number(2, Value::Bytes(Bytes::from_static(b"a,b\n1,2\n")));
    for codec in [Codec::Json, Codec::Protobuf] {
        let e = encode_response(
            &p,
            &JsonOptions::default(),
            codec,
            hb.encode_to_vec().into(),
        )
        .unwrap();
        assert_eq!(e.content_type, "text/csv");
        assert_eq!(e.body.as_ref(), b"a,b\n1,2\n");
    }
    // An empty HttpBody: no content type, no bytes.
    let e = encode_response(&p, &JsonOptions::default(), Codec::Json, Bytes::new()).unwrap();
    assert_eq!((e.content_type.as_ref(), e.body.len()), ("", 0));
    assert!(
        encode_response(
            &p,
            &JsonOptions::default(),
            Codec::Json,
            Bytes::from_static(b"\xff")
        )
        .is_err()
    );
    // Streaming methods returning HttpBody are planned raw too.
    assert!(plan("RawStream", "GET", "", &[]).raw_response);
    // With response_body naming a field, the response is not HttpBody any more.
    let p = MethodPlan::for_binding(&method("RawField"), "POST", "*", &[], "book").unwrap();
    assert!(!p.raw_response);
}
