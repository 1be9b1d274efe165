//! Unit tests for the grpc-gateway parity rules of the transcoder: nested `body`
//! paths (oneof members included), form bodies bound like the query, the
//! "too many values" message, and query keys that reach into well-known types.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor};

use crate::*;

const PROTO: &str = r#"
syntax = "proto3";
package p;
import "google/protobuf/any.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

message Input { string input_value = 1; int32 n = 2; Input child = 3; }
message Req {
  string name = 1;
  int32 count = 2;
  Input input = 3;
  oneof payload { Input in_oneof = 4; string text = 5; }
  repeated Input list = 6;
  google.protobuf.Any any = 7;
  google.protobuf.Value value = 8;
  google.protobuf.Timestamp ts = 9;
  google.protobuf.StringValue wrapped = 10;
  repeated string tags = 11;
}
service S { rpc Call(Req) returns (Req); }
"#;

struct Files;

impl protox::file::FileResolver for Files {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        match name {
            "p.proto" => protox::file::File::from_source(name, PROTO),
            _ => protox::file::GoogleFileResolver::new().open_file(name),
        }
    }
}

fn method() -> MethodDescriptor {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let mut c = protox::Compiler::with_file_resolver(Files);
        c.include_imports(true);
        c.open_file("p.proto").unwrap();
        DescriptorPool::decode(c.encode_file_descriptor_set().as_slice()).unwrap()
    });
    pool.get_service_by_name("p.S")
        .unwrap()
        .methods()
        .next()
        .unwrap()
}

fn plan(body: &str, vars: &[&str]) -> Result<MethodPlan, PlanError> {
    MethodPlan::for_binding(&method(), "POST", body, vars, "")
}

fn decode(p: &MethodPlan, body: &str, path: &[&str], q: &str) -> Result<String, TranscodeError> {
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    let q = (!q.is_empty()).then_some(q);
    let body = crate::RequestBody {
        bytes: body.as_bytes(),
        content_type: None,
        codec: crate::Codec::Json,
    };
    let bytes = crate::decode_request(p, &JsonOptions::default(), body, &path, q)?;
    let msg = DynamicMessage::decode(p.input.clone(), bytes).unwrap();
    let compact = JsonOptions {
        emit_unpopulated: false,
        ..JsonOptions::default()
    };
    let out = response_to_json(p, &compact, &prost::Message::encode_to_vec(&msg)).unwrap();
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn nested_body_paths_create_parents_and_decode_the_leaf() {
    let p = plan("input.input_value", &[]).unwrap();
    assert_eq!(p.body_parents.len(), 1);
    assert!(matches!(&p.body, BodyPlan::Field(f) if f.name() == "input_value"));
    assert_eq!(
        decode(&p, r#""hello""#, &[], "").unwrap(),
        r#"{"input":{"inputValue":"hello"}}"#
    );
    // Deeper, and a message leaf.
    let p = plan("input.child", &[]).unwrap();
    assert_eq!(
        decode(&p, r#"{"n":3}"#, &[], "").unwrap(),
        r#"{"input":{"child":{"n":3}}}"#
    );
    // Through a oneof member, which the body selects.
    let p = plan("in_oneof.input_value", &[]).unwrap();
    assert_eq!(
        decode(&p, r#""x""#, &[], "").unwrap(),
        r#"{"inOneof":{"inputValue":"x"}}"#
    );
    // An empty body leaves the parents unset, as for a top-level field.
    assert_eq!(decode(&p, "", &[], "").unwrap(), "{}");
}

#[test]
fn nested_body_leaf_is_filtered_from_the_query_but_its_siblings_are_not() {
    let p = plan("input.input_value", &[]).unwrap();
    assert_eq!(
        decode(
            &p,
            r#""body""#,
            &[],
            "input.input_value=q&input.n=7&count=2"
        )
        .unwrap(),
        r#"{"count":2,"input":{"inputValue":"body","n":7}}"#
    );
}

#[test]
fn nested_body_paths_must_go_through_singular_messages() {
    for (body, needle) in [
        ("name.x", "not a singular message"),
        ("list.input_value", "not a singular message"),
        ("input.nope", "no field \"nope\" in p.Input"),
        ("nope.x", "not found in p.Req"),
    ] {
        let e = plan(body, &[]).unwrap_err().0;
        assert!(e.contains(needle), "{body}: {e}");
    }
}

#[test]
fn form_bodies_are_bound_like_the_query_on_routes_without_body() {
    let p = plan("", &["name"]).unwrap();
    let form = Some("application/x-www-form-urlencoded; charset=utf-8");
    let params = form_parameters(&p, "POST", form, b"count=3&tags=a", Some("tags=b"))
        .unwrap()
        .unwrap();
    assert_eq!(params, "count=3&tags=a&tags=b");
    // Path-bound fields are filtered out, as for the query.
    assert_eq!(
        decode(&p, "", &["path"], "name=form&count=3&tags=a&tags=b").unwrap(),
        r#"{"name":"path","count":3,"tags":["a","b"]}"#
    );
    // A singular field given by the form and the query is too many values.
    let params = form_parameters(&p, "PUT", form, b"count=1", Some("count=2")).unwrap();
    let e = decode(&p, "", &["n"], params.as_deref().unwrap()).unwrap_err();
    assert_eq!(e.0, r#"too many values for field "count": 1, 2"#);
    // Not a form, not a body-less route, or not POST/PUT/PATCH: the query only.
    for (plan_body, method, ct) in [
        ("", "POST", Some("application/json")),
        ("", "POST", None),
        ("", "GET", form),
        ("", "DELETE", form),
        ("*", "POST", form),
    ] {
        let p = plan(plan_body, &[]).unwrap();
        let params = form_parameters(&p, method, ct, b"count=3", Some("q=1")).unwrap();
        assert_eq!(
            params.as_deref(),
            Some("q=1"),
            "{plan_body} {method} {ct:?}"
        );
    }
    assert!(form_parameters(&p, "POST", form, b"\xff", None).is_err());
    assert!(is_form(Some("Application/X-WWW-Form-Urlencoded")));
    assert!(!is_form(Some("multipart/form-data")));
}

#[test]
fn too_many_values_lists_them_in_order() {
    let p = plan("", &[]).unwrap();
    let e = decode(&p, "", &[], "name=a&count=1&name=b").unwrap_err();
    assert_eq!(e.0, r#"too many values for field "name": a, b"#);
    let e = decode(&p, "", &[], "name[x]=a").unwrap_err();
    assert_eq!(e.0, r#"too many values for field "name": x, a"#);
}

#[test]
fn query_keys_into_well_known_types_are_errors() {
    let p = plan("", &[]).unwrap();
    for q in [
        "any.type_url=x",
        "any.typeUrl=x",
        "value.null_value=0",
        "ts.seconds=1",
        "wrapped.value=s",
        "any.bogus=1",
    ] {
        let e = decode(&p, "", &[], q).unwrap_err();
        assert!(
            e.0.contains("whose fields cannot be set one by one"),
            "{q}: {e}"
        );
    }
    // The types themselves are still set from one value.
    assert_eq!(
        decode(&p, "", &[], "ts=2024-01-01T00:00:00Z&wrapped=s&value=1").unwrap(),
        r#"{"value":1,"ts":"2024-01-01T00:00:00Z","wrapped":"s"}"#
    );
    assert!(is_json_well_known(
        &method()
            .input()
            .get_field_by_name("any")
            .unwrap()
            .kind()
            .as_message()
            .unwrap()
            .clone()
    ));
    assert!(!is_json_well_known(&method().input()));
}

#[test]
fn standard_error_details_print_decoded_without_the_backends_descriptors() {
    use prost::Message as _;
    let std = crate::status::standard_pool();
    for name in [
        "google.rpc.Status",
        "google.rpc.BadRequest",
        "google.rpc.ErrorInfo",
        "google.rpc.RetryInfo",
        "google.rpc.DebugInfo",
        "google.rpc.QuotaFailure",
        "google.rpc.PreconditionFailure",
        "google.rpc.ResourceInfo",
        "google.rpc.Help",
        "google.rpc.LocalizedMessage",
        "google.rpc.RequestInfo",
    ] {
        assert!(std.get_message_by_name(name).is_some(), "{name}");
    }
    assert!(std.get_enum_by_name("google.rpc.Code").is_some());
    // A BadRequest with one field violation, encoded by hand: field 1
    // (FieldViolation) holding field 1 "id" and field 2 "required".
    let violation = [
        0x0a, 2, b'i', b'd', 0x12, 8, b'r', b'e', b'q', b'u', b'i', b'r', b'e', b'd',
    ];
    let mut bad_request = vec![0x0a, violation.len() as u8];
    bad_request.extend_from_slice(&violation);
    let status = crate::status::RpcStatus {
        code: 3,
        message: "bad".into(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.BadRequest".into(),
            value: bad_request,
        }],
    };
    let json = status_to_json(
        Some(&DescriptorPool::new()),
        &JsonOptions::default(),
        3,
        "bad",
        Some(&status.encode_to_vec()),
    );
    assert_eq!(
        String::from_utf8(json).unwrap(),
        r#"{"code":3,"message":"bad","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"id","description":"required","reason":"","localizedMessage":null}]}]}"#
    );
}
