//! Unit tests for the transcoder, over descriptor pools compiled from proto source
//! text with protox. Expected JSON strings are protojson's (grpc-gateway v2's)
//! output, worked out from encoding/protojson's rules.

use std::sync::OnceLock;

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, MethodDescriptor, Value};

use crate::*;

const TEST_PROTO: &str = r#"
syntax = "proto3";
package t;
import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/any.proto";
import "google/protobuf/empty.proto";

enum Color { COLOR_UNSPECIFIED = 0; RED = 1; GREEN = 2; }

message Inner { string name = 1; int32 n = 2; Inner child = 3; }

message Scalars {
  double d = 1; float f = 2; int32 i32 = 3; int64 i64 = 4; uint32 u32 = 5; uint64 u64 = 6;
  sint32 s32 = 7; sint64 s64 = 8; fixed32 fx32 = 9; fixed64 fx64 = 10; sfixed32 sf32 = 11;
  sfixed64 sf64 = 12; bool b = 13; string s = 14; bytes by = 15; Color color = 16;
}

message All {
  Scalars scalars = 1;
  Inner inner = 2;
  repeated string tags = 3;
  repeated int64 nums = 4;
  repeated Color colors = 5;
  repeated Inner items = 6;
  map<string, int32> counts = 7;
  map<int64, Inner> by_id = 8;
  oneof choice { string text = 9; Inner msg = 10; int32 num = 11; }
  optional int32 opt = 12;
  google.protobuf.Timestamp ts = 13;
  google.protobuf.Duration dur = 14;
  google.protobuf.FieldMask mask = 15;
  google.protobuf.Struct st = 16;
  google.protobuf.Value val = 17;
  google.protobuf.ListValue lv = 18;
  google.protobuf.Int64Value w_i64 = 19;
  google.protobuf.StringValue w_str = 20;
  google.protobuf.BoolValue w_bool = 21;
  google.protobuf.BytesValue w_bytes = 22;
  google.protobuf.DoubleValue w_dbl = 23;
  google.protobuf.Any any = 24;
  google.protobuf.Empty empty = 25;
  string display_name = 26 [json_name = "label"];
  map<bool, string> flags = 27;
  google.protobuf.UInt64Value w_u64 = 28;
  google.protobuf.Int32Value w_i32 = 29;
  google.protobuf.UInt32Value w_u32 = 30;
  google.protobuf.FloatValue w_flt = 31;
}

message Small {
  string name = 1;
  int64 id = 2;
  Inner inner = 3;
  repeated string tags = 4;
  repeated int32 ids = 5;
  Color color = 6;
  google.protobuf.Timestamp ts = 7;
  google.protobuf.Duration dur = 8;
  bytes data = 9;
  optional string maybe = 10;
  map<string, string> labels = 11;
}

message Ooo { int32 b = 2; int32 a = 1; }

service Svc {
  rpc Echo(All) returns (All);
  rpc Get(Small) returns (Small);
  rpc Order(Ooo) returns (Ooo);
  rpc Scalar(Scalars) returns (Scalars);
  rpc Upload(stream Small) returns (Small);
  rpc Chat(stream Small) returns (stream Small);
}
"#;

const P2_PROTO: &str = r#"
syntax = "proto2";
package t2;
message P2 { optional int32 a = 1; optional string b = 2 [default = "x"]; repeated int32 c = 3; }
service S2 { rpc Get(P2) returns (P2); }
"#;

struct Files;

impl protox::file::FileResolver for Files {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        match name {
            "test.proto" => protox::file::File::from_source(name, TEST_PROTO),
            "p2.proto" => protox::file::File::from_source(name, P2_PROTO),
            _ => protox::file::GoogleFileResolver::new().open_file(name),
        }
    }
}

pub(crate) fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut c = protox::Compiler::with_file_resolver(Files);
        c.include_imports(true);
        c.open_file("test.proto").unwrap();
        c.open_file("p2.proto").unwrap();
        DescriptorPool::decode(c.encode_file_descriptor_set().as_slice()).unwrap()
    })
}

pub(crate) fn method(name: &str) -> MethodDescriptor {
    let (svc, m) = name.rsplit_once('/').unwrap();
    pool()
        .get_service_by_name(svc)
        .unwrap()
        .methods()
        .find(|x| x.name() == m)
        .unwrap()
}

fn plan(m: &str, body: &str, vars: &[&str], rb: &str) -> MethodPlan {
    MethodPlan::new(&method(m), body, vars, rb).unwrap()
}

fn opts() -> JsonOptions {
    JsonOptions::default()
}

fn strict() -> JsonOptions {
    JsonOptions {
        strict: true,
        ..JsonOptions::default()
    }
}

fn compact() -> JsonOptions {
    JsonOptions {
        emit_unpopulated: false,
        ..JsonOptions::default()
    }
}

/// Request: JSON body, path values, query -> the decoded request message.
fn req(p: &MethodPlan, o: &JsonOptions, body: &str, path: &[&str], q: &str) -> DynamicMessage {
    try_req(p, o, body, path, q).unwrap()
}

fn try_req(
    p: &MethodPlan,
    o: &JsonOptions,
    body: &str,
    path: &[&str],
    q: &str,
) -> Result<DynamicMessage, TranscodeError> {
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    let q = if q.is_empty() { None } else { Some(q) };
    let body = RequestBody {
        bytes: body.as_bytes(),
        content_type: None,
        codec: Codec::Json,
    };
    let bytes = decode_request(p, o, body, &path, q)?;
    Ok(DynamicMessage::decode(p.input.clone(), bytes).unwrap())
}

/// Response JSON of a message (encoded, then printed as the plan's output).
fn resp(p: &MethodPlan, o: &JsonOptions, m: &DynamicMessage) -> String {
    String::from_utf8(response_to_json(p, o, &m.encode_to_vec()).unwrap()).unwrap()
}

/// Body JSON in, response JSON out, through protobuf bytes.
fn echo(o: &JsonOptions, body: &str) -> String {
    let p = plan("t.Svc/Echo", "*", &[], "");
    resp(&p, o, &req(&p, o, body, &[], ""))
}

fn echo_scalars(o: &JsonOptions, body: &str) -> String {
    let p = plan("t.Svc/Scalar", "*", &[], "");
    resp(&p, o, &req(&p, o, body, &[], ""))
}

fn field<'a>(m: &'a DynamicMessage, name: &str) -> std::borrow::Cow<'a, Value> {
    m.get_field_by_name(name).unwrap()
}

const EMPTY_ALL: &str = concat!(
    r#"{"scalars":null,"inner":null,"tags":[],"nums":[],"colors":[],"items":[],"counts":{},"#,
    r#""byId":{},"ts":null,"dur":null,"mask":null,"st":null,"val":null,"lv":null,"#,
    r#""wI64":null,"wStr":null,"wBool":null,"wBytes":null,"wDbl":null,"any":null,"#,
    r#""empty":null,"label":"","flags":{},"wU64":null,"wI32":null,"wU32":null,"wFlt":null}"#
);

const EMPTY_SCALARS: &str = concat!(
    r#"{"d":0,"f":0,"i32":0,"i64":"0","u32":0,"u64":"0","s32":0,"s64":"0","fx32":0,"#,
    r#""fx64":"0","sf32":0,"sf64":"0","b":false,"s":"","by":"","color":"COLOR_UNSPECIFIED"}"#
);

// ---------------------------------------------------------------- plans

#[test]
fn plan_resolves_body_path_and_response_body() {
    let p = plan("t.Svc/Get", "inner", &["name", "inner.child.name"], "tags");
    assert!(matches!(&p.body, BodyPlan::Field(f) if f.name() == "inner"));
    assert_eq!(p.path_fields.len(), 2);
    let names: Vec<&str> = p.path_fields[1].0.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["inner", "child", "name"]);
    assert_eq!(p.response_body.as_ref().unwrap().name(), "tags");
    assert!(matches!(
        plan("t.Svc/Get", "", &[], "").body,
        BodyPlan::None
    ));
    assert!(matches!(
        plan("t.Svc/Get", "*", &[], "").body,
        BodyPlan::Whole
    ));
    assert!(plan("t.Svc/Get", "*", &[], "").response_body.is_none());
}

#[test]
fn plan_accepts_leaf_types() {
    for var in ["ts", "dur", "color", "ids", "data", "maybe", "id"] {
        plan("t.Svc/Get", "", &[var], "");
    }
    for var in ["w_i64", "w_str", "mask", "scalars.u64", "scalars.color"] {
        plan("t.Svc/Echo", "", &[var], "");
    }
}

#[test]
fn plan_errors() {
    let m = method("t.Svc/Get");
    let e = |b: &str, v: &[&str], r: &str| MethodPlan::new(&m, b, v, r).unwrap_err().0;
    assert!(e("nope", &[], "").contains("body field \"nope\""));
    assert!(e("", &["nope"], "").contains("\"nope\" not found"));
    assert!(e("", &["inner.nope"], "").contains("not found in t.Inner"));
    assert!(e("", &["name.x"], "").contains("not a singular message"));
    assert!(e("", &["tags.x"], "").contains("not a singular message"));
    assert!(e("", &["inner"], "").contains("cannot be bound"));
    assert!(e("", &["labels"], "").contains("cannot be bound"));
    assert!(e("", &[""], "").contains("empty"));
    assert!(e("", &[], "nope").contains("response_body"));
    // JSON names are not field paths in google.api.http rules.
    assert!(e("", &["displayName"], "").contains("not found"));
    let echo = method("t.Svc/Echo");
    for bad in ["items", "st", "val", "any", "empty", "by_id"] {
        assert!(MethodPlan::new(&echo, "", &[bad], "").is_err(), "{bad}");
    }
}

// ---------------------------------------------------------------- response JSON

#[test]
fn empty_message_emit_unpopulated() {
    assert_eq!(echo(&opts(), ""), EMPTY_ALL);
    assert_eq!(echo(&opts(), "{}"), EMPTY_ALL);
    assert_eq!(echo_scalars(&opts(), "  \n"), EMPTY_SCALARS);
    assert_eq!(echo(&compact(), "{}"), "{}");
}

#[test]
fn scalars_both_directions() {
    let body = r#"{"d":1.5,"f":-2.25,"i32":-7,"i64":"-9223372036854775808","u32":4294967295,
        "u64":"18446744073709551615","s32":-1,"s64":"-2","fx32":3,"fx64":"4","sf32":-5,
        "sf64":"-6","b":true,"s":"h\u00e9\"\\\n<>","by":"AAEC/w==","color":"GREEN"}"#;
    let out = r#"{"d":1.5,"f":-2.25,"i32":-7,"i64":"-9223372036854775808","u32":4294967295,"u64":"18446744073709551615","s32":-1,"s64":"-2","fx32":3,"fx64":"4","sf32":-5,"sf64":"-6","b":true,"s":"hé\"\\\n<>","by":"AAEC/w==","color":"GREEN"}"#;
    assert_eq!(echo_scalars(&opts(), body), out);
    // Same values with the 64-bit ints as numbers, the enum as a number, and proto names.
    let body2 = r#"{"d":1.5,"f":-2.25,"i32":-7,"i64":-9223372036854775808,"u32":4294967295,
        "u64":18446744073709551615,"s32":-1,"s64":-2,"fx32":3,"fx64":4,"sf32":-5,
        "sf64":-6,"b":true,"s":"h\u00e9\"\\\n<>","by":"AAEC/w==","color":2}"#;
    assert_eq!(echo_scalars(&opts(), body2), out);
}

#[test]
fn u64_max_exact() {
    let p = plan("t.Svc/Scalar", "*", &[], "");
    for body in [
        r#"{"u64":18446744073709551615}"#,
        r#"{"u64":"18446744073709551615"}"#,
    ] {
        let m = req(&p, &opts(), body, &[], "");
        assert_eq!(field(&m, "u64").as_u64(), Some(u64::MAX));
    }
    let m = req(&p, &opts(), r#"{"i64":"9007199254740993"}"#, &[], "");
    assert_eq!(field(&m, "i64").as_i64(), Some(9_007_199_254_740_993));
    assert!(try_req(&p, &opts(), r#"{"u64":"18446744073709551616"}"#, &[], "").is_err());
    assert!(try_req(&p, &opts(), r#"{"i32":2147483648}"#, &[], "").is_err());
}

#[test]
fn control_chars_escaped_like_protojson() {
    let out = echo_scalars(&compact(), r#"{"s":"a\u0001\b\f\t\r\u001f\u007f\u2028"}"#);
    assert_eq!(out, "{\"s\":\"a\\u0001\\b\\f\\t\\r\\u001f\u{7f}\u{2028}\"}");
}

#[test]
fn floats_like_go() {
    let cases = [
        ("1", "1"),
        ("0.1", "0.1"),
        ("1e20", "100000000000000000000"),
        ("1e21", "1e+21"),
        ("1.5e300", "1.5e+300"),
        ("0.000001", "0.000001"),
        ("1e-7", "1e-7"),
        ("1.25e-10", "1.25e-10"),
        ("\"NaN\"", "\"NaN\""),
        ("\"Infinity\"", "\"Infinity\""),
        ("\"-Infinity\"", "\"-Infinity\""),
        ("5e-324", "5e-324"),
    ];
    for (input, want) in cases {
        let out = echo_scalars(&compact(), &format!(r#"{{"d":{input}}}"#));
        assert_eq!(out, format!(r#"{{"d":{want}}}"#), "double {input}");
    }
    // -0.0 is populated for protobuf-go (it compares bits): printed even when
    // unpopulated fields are not.
    let p = plan("t.Svc/Scalar", "*", &[], "");
    let neg_zero = [&[0x09u8][..], &(-0.0f64).to_le_bytes()].concat();
    let out = response_to_json(&p, &compact(), &neg_zero).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), r#"{"d":-0}"#);
    for (input, want) in [
        ("0.1", "0.1"),
        ("3.4028234e38", "3.4028235e+38"),
        ("1e-7", "1e-7"),
    ] {
        let out = echo_scalars(&compact(), &format!(r#"{{"f":{input}}}"#));
        assert_eq!(out, format!(r#"{{"f":{want}}}"#), "float {input}");
    }
}

#[test]
fn enums_by_name_number_and_unknown() {
    let p = plan("t.Svc/Scalar", "*", &[], "");
    let m = req(&p, &opts(), r#"{"color":"RED"}"#, &[], "");
    assert_eq!(field(&m, "color").as_enum_number(), Some(1));
    let m = req(&p, &opts(), r#"{"color":7}"#, &[], "");
    // Unknown numbers print as numbers (protojson).
    assert_eq!(resp(&p, &compact(), &m), r#"{"color":7}"#);
    let ints = JsonOptions {
        enums_as_ints: true,
        emit_unpopulated: false,
        ..opts()
    };
    assert_eq!(
        echo_scalars(&ints, r#"{"color":"GREEN"}"#),
        r#"{"color":2}"#
    );
    // Unknown enum names are dropped like unknown fields (protojson DiscardUnknown),
    // or rejected in strict mode.
    let m = req(&p, &opts(), r#"{"color":"BLUE","i32":1}"#, &[], "");
    assert!(!m.has_field_by_name("color"));
    assert!(try_req(&p, &strict(), r#"{"color":"BLUE"}"#, &[], "").is_err());
}

#[test]
fn nested_repeated_maps_oneof_optional() {
    let body = r#"{"inner":{"name":"a","child":{"n":3}},"tags":["x","y"],"nums":[1,"2"],
        "colors":["RED",2],"items":[{"name":"i"},{}],"counts":{"b":2,"a":1},
        "byId":{"10":{"name":"ten"},"-2":{},"9":{"n":1}},"msg":{"name":"m"},"opt":0,
        "flags":{"true":"t","false":"f"}}"#;
    let want = concat!(
        r#"{"inner":{"name":"a","child":{"n":3}},"tags":["x","y"],"nums":["1","2"],"#,
        r#""colors":["RED","GREEN"],"items":[{"name":"i"},{}],"counts":{"a":1,"b":2},"#,
        r#""byId":{"-2":{},"9":{"n":1},"10":{"name":"ten"}},"msg":{"name":"m"},"opt":0,"#,
        r#""flags":{"false":"f","true":"t"}}"#
    );
    assert_eq!(echo(&compact(), body), want);
    // With EmitUnpopulated: nested defaults are printed, the set oneof member and the
    // set optional are printed, unset oneof members are not.
    let out = echo(&opts(), r#"{"inner":{},"num":0}"#);
    assert!(out.starts_with(r#"{"scalars":null,"inner":{"name":"","n":0,"child":null},"#));
    assert!(out.contains(r#""byId":{},"num":0,"ts":null"#), "{out}");
    assert!(!out.contains("\"text\"") && !out.contains("\"msg\"") && !out.contains("\"opt\""));
}

#[test]
fn proto2_presence_prints_null() {
    let p = plan("t2.S2/Get", "*", &[], "");
    let m = req(&p, &opts(), "{}", &[], "");
    assert_eq!(resp(&p, &opts(), &m), r#"{"a":null,"b":null,"c":[]}"#);
    let m = req(&p, &opts(), r#"{"a":0}"#, &[], "");
    assert_eq!(resp(&p, &opts(), &m), r#"{"a":0,"b":null,"c":[]}"#);
}

#[test]
fn declaration_order_not_number_order() {
    let p = plan("t.Svc/Order", "*", &[], "");
    let m = req(&p, &opts(), r#"{"a":1,"b":2}"#, &[], "");
    assert_eq!(resp(&p, &opts(), &m), r#"{"b":2,"a":1}"#);
}

#[test]
fn json_name_and_proto_names() {
    let p = plan("t.Svc/Echo", "*", &[], "");
    for body in [
        r#"{"label":"x","wI64":"5"}"#,
        r#"{"display_name":"x","w_i64":5}"#,
    ] {
        let m = req(&p, &opts(), body, &[], "");
        assert_eq!(resp(&p, &compact(), &m), r#"{"wI64":"5","label":"x"}"#);
    }
    let proto_names = JsonOptions {
        use_proto_names: true,
        emit_unpopulated: false,
        ..opts()
    };
    assert_eq!(
        echo(&proto_names, r#"{"label":"x","wI64":"5"}"#),
        r#"{"w_i64":"5","display_name":"x"}"#
    );
}

#[test]
fn well_known_types() {
    let p = plan("t.Svc/Echo", "*", &[], "");

    let body = r#"{"ts":"2024-02-29T23:59:59.120+01:00","dur":"-1.5s","mask":"a.bC,d",
        "st":{"k":[1,"s",null,true,{"z":{}}]},"val":"v","lv":[1.5,[]],"wI64":"-3",
        "wStr":"","wBool":false,"wBytes":"AQ==","wDbl":0,"empty":{},"wU64":"18446744073709551615",
        "wI32":-1,"wU32":1,"wFlt":1.5}"#;
    let want = concat!(
        r#"{"ts":"2024-02-29T22:59:59.120Z","dur":"-1.500s","mask":"a.bC,d","#,
        r#""st":{"k":[1,"s",null,true,{"z":{}}]},"val":"v","lv":[1.5,[]],"wI64":"-3","#,
        r#""wStr":"","wBool":false,"wBytes":"AQ==","wDbl":0,"empty":{},"#,
        r#""wU64":"18446744073709551615","wI32":-1,"wU32":1,"wFlt":1.5}"#
    );
    assert_eq!(echo(&compact(), body), want);
    let m = req(&p, &opts(), body, &[], "");
    let mask = field(&m, "mask");
    let paths = mask
        .as_message()
        .unwrap()
        .get_field_by_name("paths")
        .unwrap();
    assert_eq!(
        paths.as_list().unwrap(),
        [Value::String("a.b_c".into()), Value::String("d".into())]
    );
    for (ts, want) in [
        ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        (
            "9999-12-31T23:59:59.999999999Z",
            "9999-12-31T23:59:59.999999999Z",
        ),
        ("2000-01-01T00:00:00.000001Z", "2000-01-01T00:00:00.000001Z"),
        ("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500Z"),
    ] {
        let out = echo(&compact(), &format!(r#"{{"ts":"{ts}"}}"#));
        assert_eq!(out, format!(r#"{{"ts":"{want}"}}"#));
    }
    for (d, want) in [
        ("0s", "0s"),
        ("1s", "1s"),
        ("-0.000000001s", "-0.000000001s"),
        ("3.000100s", "3.000100s"),
    ] {
        let out = echo(&compact(), &format!(r#"{{"dur":"{d}"}}"#));
        assert_eq!(out, format!(r#"{{"dur":"{want}"}}"#));
    }
    // JSON null for a Value field sets it to null_value (protojson), printed as null.
    assert_eq!(echo(&compact(), r#"{"val":null}"#), r#"{"val":null}"#);
    assert_eq!(echo(&compact(), r#"{"ts":null,"inner":null}"#), "{}");
    assert_eq!(
        echo(&compact(), r#"{"st":{"n":null}}"#),
        r#"{"st":{"n":null}}"#
    );
}

#[test]
fn any_resolved_through_pool() {
    let inner = DynamicMessage::decode(
        pool().get_message_by_name("t.Inner").unwrap(),
        &b"\x0a\x01x"[..],
    )
    .unwrap();
    let body = r#"{"any":{"@type":"type.googleapis.com/t.Inner","name":"x"}}"#;
    let p = plan("t.Svc/Echo", "*", &[], "");
    let m = req(&p, &opts(), body, &[], "");
    let any = field(&m, "any");
    let any = any.as_message().unwrap();
    assert_eq!(
        any.get_field_by_name("value")
            .unwrap()
            .as_bytes()
            .unwrap()
            .as_ref(),
        inner.encode_to_vec().as_slice()
    );
    assert_eq!(
        resp(&p, &compact(), &m),
        r#"{"any":{"@type":"type.googleapis.com/t.Inner","name":"x"}}"#
    );
    assert_eq!(
        resp(&p, &opts(), &m)
            .split(r#""any":"#)
            .nth(1)
            .unwrap()
            .split(r#","empty""#)
            .next()
            .unwrap(),
        r#"{"@type":"type.googleapis.com/t.Inner","name":"x","n":0,"child":null}"#
    );
    // Well-known types inside Any nest under "value"; Empty does not.
    for (body, want) in [
        (
            r#"{"@type":"type.googleapis.com/google.protobuf.Duration","value":"2s"}"#,
            r#"{"@type":"type.googleapis.com/google.protobuf.Duration","value":"2s"}"#,
        ),
        (
            r#"{"@type":"type.googleapis.com/google.protobuf.Empty","value":{}}"#,
            r#"{"@type":"type.googleapis.com/google.protobuf.Empty"}"#,
        ),
    ] {
        assert_eq!(
            echo(&compact(), &format!(r#"{{"any":{body}}}"#)),
            format!(r#"{{"any":{want}}}"#)
        );
    }
    // A type missing from the pool degrades to the opaque form.
    let mut m = DynamicMessage::new(p.output.clone());
    let any_desc = pool().get_message_by_name("google.protobuf.Any").unwrap();
    let mut a = DynamicMessage::new(any_desc);
    a.set_field_by_name(
        "type_url",
        Value::String("type.googleapis.com/x.Gone".into()),
    );
    a.set_field_by_name("value", Value::Bytes(vec![1u8, 2].into()));
    m.set_field_by_name("any", Value::Message(a));
    assert_eq!(
        resp(&p, &compact(), &m),
        r#"{"any":{"@type":"type.googleapis.com/x.Gone","value":"AQI="}}"#
    );
}

#[test]
fn invalid_wkt_values_fail_to_print() {
    let p = plan("t.Svc/Echo", "*", &[], "");
    let set = |name: &str, msg: &str, f: &str, v: Value| {
        let mut inner = DynamicMessage::new(pool().get_message_by_name(msg).unwrap());
        if !f.is_empty() {
            inner.set_field_by_name(f, v);
        }
        let mut m = DynamicMessage::new(p.output.clone());
        m.set_field_by_name(name, Value::Message(inner));
        response_to_json(&p, &opts(), &m.encode_to_vec())
    };
    assert!(
        set(
            "ts",
            "google.protobuf.Timestamp",
            "seconds",
            Value::I64(253_402_300_800)
        )
        .is_err()
    );
    assert!(
        set(
            "dur",
            "google.protobuf.Duration",
            "seconds",
            Value::I64(315_576_000_001)
        )
        .is_err()
    );
    assert!(set("val", "google.protobuf.Value", "", Value::Bool(true)).is_err());
    assert!(
        set(
            "val",
            "google.protobuf.Value",
            "number_value",
            Value::F64(f64::NAN)
        )
        .is_err()
    );
    let mask = |p: &str| {
        set(
            "mask",
            "google.protobuf.FieldMask",
            "paths",
            Value::List(vec![Value::String(p.into())]),
        )
    };
    assert!(mask("fooBar").is_err());
    assert!(mask("foo_1").is_err());
    assert!(mask("a..b").is_err());
    assert!(mask("foo_bar.baz").is_ok());
}

#[test]
fn response_body_variants() {
    let p_tags = plan("t.Svc/Get", "*", &[], "tags");
    let m = req(&p_tags, &opts(), r#"{"tags":["a","<b>"]}"#, &[], "");
    // encoding/json escapes HTML characters in non-message values.
    assert_eq!(resp(&p_tags, &opts(), &m), r#"["a","\u003cb\u003e"]"#);
    let empty = req(&p_tags, &opts(), "{}", &[], "");
    assert_eq!(resp(&p_tags, &opts(), &empty), "[]");
    assert_eq!(resp(&p_tags, &compact(), &empty), "null");

    let p_id = plan("t.Svc/Get", "*", &[], "id");
    let m = req(&p_id, &opts(), r#"{"id":"9007199254740993"}"#, &[], "");
    // A scalar response_body goes through encoding/json: int64 as a number.
    assert_eq!(resp(&p_id, &opts(), &m), "9007199254740993");

    let p_inner = plan("t.Svc/Get", "*", &[], "inner");
    let m = req(&p_inner, &opts(), r#"{"inner":{"name":"<n>"}}"#, &[], "");
    assert_eq!(
        resp(&p_inner, &opts(), &m),
        r#"{"name":"<n>","n":0,"child":null}"#
    );
    assert_eq!(
        resp(&p_inner, &opts(), &empty),
        r#"{"name":"","n":0,"child":null}"#
    );

    let p_color = plan("t.Svc/Get", "*", &[], "color");
    assert_eq!(resp(&p_color, &opts(), &empty), r#""COLOR_UNSPECIFIED""#);
    let p_ts = plan("t.Svc/Get", "*", &[], "ts");
    assert_eq!(resp(&p_ts, &opts(), &empty), r#""1970-01-01T00:00:00Z""#);
    let p_maybe = plan("t.Svc/Get", "*", &[], "maybe");
    assert_eq!(resp(&p_maybe, &opts(), &empty), "null");
    let m = req(&p_maybe, &opts(), r#"{"maybe":""}"#, &[], "");
    assert_eq!(resp(&p_maybe, &opts(), &m), r#""""#);
    let p_labels = plan("t.Svc/Get", "*", &[], "labels");
    let m = req(
        &p_labels,
        &opts(),
        r#"{"labels":{"b":"&","a":"1"}}"#,
        &[],
        "",
    );
    assert_eq!(resp(&p_labels, &opts(), &m), r#"{"a":"1","b":"\u0026"}"#);
    let p_items = plan("t.Svc/Echo", "*", &[], "items");
    let m = req(&p_items, &opts(), r#"{"items":[{"n":1}]}"#, &[], "");
    assert_eq!(
        resp(&p_items, &opts(), &m),
        r#"[{"name":"","n":1,"child":null}]"#
    );
}

// ---------------------------------------------------------------- request bodies

#[test]
fn strict_and_unknown_fields() {
    let p = plan("t.Svc/Get", "*", &[], "");
    let m = req(&p, &opts(), r#"{"name":"a","bogus":{"x":[1,2]}}"#, &[], "");
    assert_eq!(field(&m, "name").as_str(), Some("a"));
    let e = try_req(&p, &strict(), r#"{"name":"a","bogus":1}"#, &[], "").unwrap_err();
    assert!(e.0.contains("bogus"), "{e}");
}

#[test]
fn bad_bodies() {
    let p = plan("t.Svc/Get", "*", &[], "");
    for bad in [
        "{",
        r#"{"name":1}"#,
        r#"{"id":"x"}"#,
        r#"{"id":1.5}"#,
        "[]",
        "null",
        r#"{"data":"!!"}"#,
        r#"{"ts":"yesterday"}"#,
        r#"{"name":"a"} trailing"#,
    ] {
        let e = try_req(&p, &opts(), bad, &[], "").unwrap_err();
        assert!(e.0.starts_with("invalid JSON body"), "{bad}: {e}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let p = plan("t.Svc/Echo", "*", &[], "");
    let deep = format!(r#"{{"val":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
    assert!(try_req(&p, &opts(), &deep, &[], "").is_err());
    let deep = format!(
        r#"{{"bogus":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let _ = try_req(&p, &opts(), &deep, &[], "");
    let mut nested = String::new();
    for _ in 0..10_000 {
        nested.push_str(r#"{"child":"#);
    }
    nested.push_str("{}");
    nested.push_str(&"}".repeat(10_000));
    let pi = plan("t.Svc/Get", "inner", &[], "");
    assert!(try_req(&pi, &opts(), &nested, &[], "").is_err());
}

#[test]
fn body_field_plans() {
    let p = plan("t.Svc/Get", "inner", &[], "");
    let m = req(&p, &opts(), r#"{"name":"n","n":2}"#, &[], "");
    let inner = field(&m, "inner");
    assert_eq!(
        inner
            .as_message()
            .unwrap()
            .get_field_by_name("n")
            .unwrap()
            .as_i32(),
        Some(2)
    );
    // Repeated and scalar body fields take the field's JSON value.
    let p = plan("t.Svc/Get", "tags", &[], "");
    let m = req(&p, &opts(), r#"["a","b"]"#, &[], "");
    assert_eq!(field(&m, "tags").as_list().unwrap().len(), 2);
    let p = plan("t.Svc/Get", "id", &[], "");
    let m = req(&p, &opts(), r#""42""#, &[], "");
    assert_eq!(field(&m, "id").as_i64(), Some(42));
    let p = plan("t.Svc/Get", "ts", &[], "");
    let m = req(&p, &opts(), r#""1970-01-01T00:00:01Z""#, &[], "");
    assert!(m.has_field_by_name("ts"));
    let p = plan("t.Svc/Get", "labels", &[], "");
    let m = req(&p, &opts(), r#"{"k":"v"}"#, &[], "");
    assert_eq!(field(&m, "labels").as_map().unwrap().len(), 1);
    assert!(try_req(&p, &opts(), r#"["x"]"#, &[], "").is_err());
    // Empty body: empty message.
    let p = plan("t.Svc/Get", "inner", &[], "");
    assert!(!req(&p, &opts(), "", &[], "").has_field_by_name("inner"));
}

// ---------------------------------------------------------------- path variables

#[test]
fn path_vars_override_body_and_parse_by_type() {
    let p = plan("t.Svc/Get", "*", &["name", "inner.name", "id"], "");
    let m = req(
        &p,
        &opts(),
        r#"{"name":"body","id":"1","inner":{"name":"b","n":5}}"#,
        &["path", "p2", "0x10"],
        "",
    );
    assert_eq!(field(&m, "name").as_str(), Some("path"));
    assert_eq!(field(&m, "id").as_i64(), Some(16));
    let inner = field(&m, "inner");
    let inner = inner.as_message().unwrap();
    assert_eq!(
        inner.get_field_by_name("name").unwrap().as_str(),
        Some("p2")
    );
    assert_eq!(inner.get_field_by_name("n").unwrap().as_i32(), Some(5));

    let p = plan("t.Svc/Get", "", &["color", "ids", "ts", "dur", "data"], "");
    let m = req(
        &p,
        &opts(),
        "",
        &["GREEN", "1,2,3", "2024-01-01T00:00:00Z", "1.5s", "__8"],
        "",
    );
    assert_eq!(field(&m, "color").as_enum_number(), Some(2));
    assert_eq!(
        field(&m, "ids").as_list().unwrap(),
        [Value::I32(1), Value::I32(2), Value::I32(3)]
    );
    assert_eq!(field(&m, "data").as_bytes().unwrap().as_ref(), [0xff, 0xff]);
    assert_eq!(
        resp(&plan("t.Svc/Get", "", &[], ""), &compact(), &m),
        r#"{"ids":[1,2,3],"color":"GREEN","ts":"2024-01-01T00:00:00Z","dur":"1.500s","data":"//8="}"#
    );
    let p = plan("t.Svc/Get", "", &["color"], "");
    assert_eq!(
        field(&req(&p, &opts(), "", &["1"], ""), "color").as_enum_number(),
        Some(1)
    );
    for bad in ["BLUE", "5", ""] {
        assert!(try_req(&p, &opts(), "", &[bad], "").is_err(), "{bad}");
    }
    let p = plan(
        "t.Svc/Echo",
        "",
        &["scalars.u64", "w_i64", "mask", "scalars.b"],
        "",
    );
    let m = req(
        &p,
        &opts(),
        "",
        &["18446744073709551615", "-5", "a,b.c", "t"],
        "",
    );
    assert_eq!(
        resp(&plan("t.Svc/Echo", "", &[], ""), &compact(), &m),
        r#"{"scalars":{"u64":"18446744073709551615","b":true},"mask":"a,b.c","wI64":"-5"}"#
    );
    let p = plan("t.Svc/Get", "", &["id"], "");
    for bad in ["x", "9223372036854775808", "1.0", ""] {
        let e = try_req(&p, &opts(), "", &[bad], "").unwrap_err();
        assert!(e.0.contains("parameter: id"), "{e}");
    }
    let p = plan("t.Svc/Get", "", &["data"], "");
    assert!(try_req(&p, &opts(), "", &["!!!"], "").is_err());
}

// ---------------------------------------------------------------- query parameters

fn query(q: &str) -> Result<DynamicMessage, TranscodeError> {
    let p = plan("t.Svc/Echo", "", &[], "");
    try_req(&p, &opts(), "", &[], q)
}

fn query_json(q: &str) -> String {
    let p = plan("t.Svc/Echo", "", &[], "");
    resp(&p, &compact(), &query(q).unwrap())
}

#[test]
fn query_scalars_and_names() {
    assert_eq!(
        query_json(
            "scalars.i64=-5&scalars.u64=18446744073709551615&scalars.d=1.5&scalars.f=2&scalars.b=true&scalars.s=a+b%20c&scalars.by=AAEC_w&scalars.color=2&scalars.u32=7"
        ),
        r#"{"scalars":{"d":1.5,"f":2,"i64":"-5","u32":7,"u64":"18446744073709551615","b":true,"s":"a b c","by":"AAEC/w==","color":"GREEN"}}"#
    );
    // JSON names and proto names both work, at every level.
    assert_eq!(
        query_json("label=x&display_name=x&inner.child.name=deep&wI64=3"),
        r#"{"inner":{"child":{"name":"deep"}},"wI64":"3","label":"x"}"#
    );
    assert!(query("scalars.u64=-1").is_err());
    assert!(query("scalars.u32=%2B1").is_err());
    assert!(query("scalars.i32=0x10").is_err());
    assert!(query("scalars.b=yes").is_err());
    assert!(query("scalars.color=BLUE").is_err());
}

#[test]
fn query_repeated_maps_wkt() {
    assert_eq!(
        query_json("tags=a&nums=1&tags=b&colors=RED&colors=2&counts[x]=1&counts[y]=2"),
        r#"{"tags":["a","b"],"nums":["1"],"colors":["RED","GREEN"],"counts":{"x":1,"y":2}}"#
    );
    assert!(query("counts[x]=1&counts[x]=2").is_err());
    assert!(query("counts=1").is_err());
    // Message map values cannot be given in a query (grpc-gateway: unsupported type).
    assert!(query("byId[5]=%7B%7D").is_err());
    assert!(query("flags[true]=t").is_ok());
    assert!(query("flags[maybe]=t").is_err());
    assert_eq!(
        query_json(
            "ts=2024-01-01T00:00:00.5Z&dur=1h1m0.5s&mask=a,b_c&wStr=s&wBool=1&wBytes=AQ&wDbl=2.5&st=%7B%22a%22%3A1%7D&val=%5B1%5D"
        ),
        r#"{"ts":"2024-01-01T00:00:00.500Z","dur":"3660.500s","mask":"a,bC","st":{"a":1},"val":[1],"wStr":"s","wBool":true,"wBytes":"AQ==","wDbl":2.5}"#
    );
    assert!(query("dur=1.5").is_err());
    assert!(query("ts=2024-01-01").is_err());
    assert!(query("inner=x").is_err());
    assert!(query("items.name=x").is_err());
}

#[test]
fn query_oneof_and_duplicates() {
    assert!(query("text=a&num=1").is_err());
    assert!(query("msg.name=a&msg.n=1").is_ok());
    assert!(query("label=a&label=b").is_err());
    assert!(query("text=a").is_ok());
    // An enum number must name a declared value.
    assert!(query("colors=9").is_err());
}

#[test]
fn query_unknown_filtered_and_strict() {
    assert_eq!(query_json("bogus=1&inner.bogus=2&a.b.c=3&="), "{}");
    let p = plan("t.Svc/Echo", "", &[], "");
    assert!(try_req(&p, &strict(), "", &[], "bogus=1").is_err());
    assert!(try_req(&p, &strict(), "", &[], "label=ok").is_ok());
    // Body field and path-variable fields are filtered out of the query.
    let p = plan("t.Svc/Get", "inner", &["name"], "");
    let m = req(
        &p,
        &strict(),
        r#"{"n":1}"#,
        &["path"],
        "name=q&inner.n=7&inner.x=1&id=3",
    );
    assert_eq!(field(&m, "name").as_str(), Some("path"));
    assert_eq!(field(&m, "id").as_i64(), Some(3));
    let inner = field(&m, "inner");
    assert_eq!(
        inner
            .as_message()
            .unwrap()
            .get_field_by_name("n")
            .unwrap()
            .as_i32(),
        Some(1)
    );
    // No query parameters at all for body "*".
    let p = plan("t.Svc/Get", "*", &[], "");
    let m = req(&p, &strict(), "{}", &[], "name=q&bogus=1");
    assert_eq!(field(&m, "name").as_str(), Some(""));
}

#[test]
fn query_escapes() {
    assert_eq!(query_json("label=%E2%9C%93+%2B"), r#"{"label":"✓ +"}"#);
    for bad in [
        "label=%zz",
        "label=%4",
        "bogus%=1",
        "label=a;b",
        "label=%FF",
    ] {
        assert!(query(bad).is_err(), "{bad}");
    }
}

// ---------------------------------------------------------------- status

#[test]
fn http_status_table() {
    let want = [
        200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401,
    ];
    for (code, status) in want.iter().enumerate() {
        assert_eq!(http_status_for(code as i32), *status, "code {code}");
    }
    assert_eq!(http_status_for(17), 500);
    assert_eq!(http_status_for(-1), 500);
}

#[test]
fn status_json() {
    assert_eq!(
        String::from_utf8(status_to_json(None, &opts(), 5, "no \"such\" book", None)).unwrap(),
        r#"{"code":5,"message":"no \"such\" book","details":[]}"#
    );
    assert_eq!(
        String::from_utf8(status_to_json(None, &compact(), 5, "", None)).unwrap(),
        r#"{"code":5}"#
    );
    let detail = |url: &str, value: Vec<u8>| prost_types::Any {
        type_url: url.into(),
        value,
    };
    let st = crate::status::RpcStatus {
        code: 13,
        message: "trailer message loses".into(),
        details: vec![
            detail("type.googleapis.com/t.Inner", b"\x0a\x01x".to_vec()),
            detail("type.googleapis.com/x.Unknown", vec![1, 2, 3]),
            detail(
                "type.googleapis.com/google.protobuf.Duration",
                b"\x08\x02".to_vec(),
            ),
            detail("type.googleapis.com/t.Inner", vec![0xff]),
        ],
    };
    let out = status_to_json(
        Some(pool()),
        &compact(),
        3,
        "bad",
        Some(&st.encode_to_vec()),
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        concat!(
            r#"{"code":3,"message":"bad","details":["#,
            r#"{"@type":"type.googleapis.com/t.Inner","name":"x"},"#,
            r#"{"@type":"type.googleapis.com/x.Unknown","value":"AQID"},"#,
            r#"{"@type":"type.googleapis.com/google.protobuf.Duration","value":"2s"},"#,
            r#"{"@type":"type.googleapis.com/t.Inner","value":"/w=="}]}"#
        )
    );
    let out = status_to_json(
        Some(pool()),
        &opts(),
        3,
        "bad",
        Some(&st.encode_to_vec()[..4]),
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"code":3,"message":"bad","details":[]}"#
    );
}

#[test]
fn map_key_order_helper() {
    // Sanity: prost-reflect's MapKey ordering is numeric for integers.
    assert!(MapKey::I64(-2) < MapKey::I64(9) && MapKey::I64(9) < MapKey::I64(10));
}

#[test]
fn go_string_parsers() {
    use crate::parse::*;
    assert_eq!(parse_go_duration("-300ms"), Ok((0, -300_000_000)));
    assert_eq!(parse_go_duration("1h"), Ok((3600, 0)));
    assert_eq!(parse_go_duration("1.5us"), Ok((0, 1500)));
    assert_eq!(parse_go_duration("0"), Ok((0, 0)));
    assert_eq!(parse_go_duration(".5s"), Ok((0, 500_000_000)));
    for bad in ["", "1", "s", "1x", "1.s.", "-", "3000000h"] {
        assert!(parse_go_duration(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_proto_duration("-0.5s"), Ok((0, -500_000_000)));
    assert_eq!(
        parse_proto_duration("315576000000s"),
        Ok((315_576_000_000, 0))
    );
    for bad in [
        "1",
        "1.5",
        "01s",
        "1.0000000001s",
        "315576000001s",
        "s",
        "1m",
    ] {
        assert!(parse_proto_duration(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00"), Ok((0, 0)));
    assert_eq!(
        parse_timestamp("1970-01-01T00:00:00.000000001Z"),
        Ok((0, 1))
    );
    for bad in [
        "1970-01-01 00:00:00Z",
        "1970-01-01T00:00:00",
        "1970-02-30T00:00:00Z",
        "0000-12-31T00:00:00Z",
        "1970-01-01T00:00:00.Z",
        "1970-01-01T00:00:00.0000000001Z",
        "1970-01-01T24:00:00Z",
    ] {
        assert!(parse_timestamp(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_int("0x1F", true, 32), Ok(31));
    assert_eq!(parse_int("-0b101", true, 32), Ok(-5));
    assert_eq!(parse_int("017", true, 32), Ok(15));
    assert_eq!(parse_int("1_000", true, 32), Ok(1000));
    assert_eq!(parse_int("-2147483648", false, 32), Ok(i32::MIN as i64));
    for (bad, base0) in [
        ("1_000", false),
        ("0x", true),
        ("_1", true),
        ("1__0", true),
        ("2147483648", false),
        ("08", true),
    ] {
        assert!(parse_int(bad, base0, 32).is_err(), "{bad}");
    }
    assert_eq!(parse_uint("18446744073709551615", false, 64), Ok(u64::MAX));
    assert!(parse_uint("+1", false, 64).is_err());
    assert!(parse_uint("4294967296", false, 32).is_err());
    assert_eq!(parse_f64("-Inf"), Ok(f64::NEG_INFINITY));
    assert!(parse_f64("1e400").is_err());
    assert!(parse_f32("1e39").is_err());
    for ok in ["AAEC/w==", "AAEC/w", "AAEC_w==", "AAEC_w"] {
        assert_eq!(parse_bytes(ok), Ok(vec![0, 1, 2, 0xff]), "{ok}");
    }
    assert!(parse_bytes("A").is_err());
    assert_eq!(parse_bool("True"), Ok(true));
    assert!(parse_bool("yes").is_err());
}

// ---------------------------------------------------------------- streaming request bodies

/// Splits `chunks` (fed one by one, as a body arrives) into values.
fn split(chunks: &[&str], limit: usize) -> Result<Vec<String>, TranscodeError> {
    let mut s = JsonSplitter::new(limit);
    let mut out = Vec::new();
    for c in chunks {
        s.push(c.as_bytes());
        while let Some(v) = s.next_value()? {
            out.push(String::from_utf8(v.to_vec()).unwrap());
        }
    }
    if let Some(v) = s.finish()? {
        out.push(String::from_utf8(v.to_vec()).unwrap());
    }
    Ok(out)
}

#[test]
fn splitter_accepts_what_go_json_decoder_accepts() {
    // NDJSON, concatenated, whitespace-separated, and mixed.
    let want = [r#"{"name":"a"}"#, r#"{"name":"b"}"#];
    assert_eq!(
        split(&["{\"name\":\"a\"}\n{\"name\":\"b\"}\n"], 100).unwrap(),
        want
    );
    assert_eq!(split(&[r#"{"name":"a"}{"name":"b"}"#], 100).unwrap(), want);
    assert_eq!(
        split(&["\r\n {\"name\":\"a\"} \t{\"name\":\"b\"}  "], 100).unwrap(),
        want
    );
    // Byte by byte: a value is complete exactly when its closing brace arrives.
    let body = r#"{"name":"a}{\"","inner":{"tags":["]"]}} {"n":[1,{"x":"{"}]}"#;
    let bytes: Vec<String> = body.chars().map(|c| c.to_string()).collect();
    let chunks: Vec<&str> = bytes.iter().map(String::as_str).collect();
    assert_eq!(
        split(&chunks, 100).unwrap(),
        [
            r#"{"name":"a}{\"","inner":{"tags":["]"]}}"#,
            r#"{"n":[1,{"x":"{"}]}"#
        ]
    );
    // Strings, arrays and bare scalars are values too (e.g. a Duration request
    // type is a JSON string); a scalar ends at whitespace, a new value or the end.
    assert_eq!(
        split(&[r#""1s" "2s"[1] 12 true{}null"#], 100).unwrap(),
        [r#""1s""#, r#""2s""#, "[1]", "12", "true", "{}", "null"]
    );
    assert_eq!(split(&["1", "2"], 100).unwrap(), ["12"]);
    // Empty and all-whitespace bodies hold no messages.
    assert!(split(&[], 100).unwrap().is_empty());
    assert!(split(&[" \n\n "], 100).unwrap().is_empty());
}

#[test]
fn splitter_errors() {
    let e = split(&[r#"{"name":"a"}{"name""#], 100).unwrap_err();
    assert!(e.0.contains("unexpected end"), "{e}");
    let e = split(&["} {}"], 100).unwrap_err();
    assert!(e.0.contains("beginning of value"), "{e}");
    // The limit is per value, not per body.
    let one = format!(r#"{{"name":"{}"}}"#, "x".repeat(80));
    assert_eq!(split(&[&one, &one, &one], 100).unwrap().len(), 3);
    let e = split(&[&"[".repeat(101)], 100).unwrap_err();
    assert!(e.0.contains("100-byte limit"), "{e}");
    // Hostile nesting is only counted, never recursed into.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(split(&[&deep], 1 << 20).unwrap().len(), 1);
}

#[test]
fn streamed_messages_are_whole_requests() {
    let p = plan("t.Svc/Upload", "*", &[], "");
    let bytes = message_from_json(&p, &opts(), br#"{"name":"a","id":"7","bogus":1}"#).unwrap();
    let m = DynamicMessage::decode(p.input.clone(), bytes).unwrap();
    assert_eq!(field(&m, "name").as_str(), Some("a"));
    assert_eq!(field(&m, "id").as_i64(), Some(7));
    // A rule naming a body field still decodes each value as the whole message.
    let p = plan("t.Svc/Upload", "inner", &[], "");
    let bytes = message_from_json(&p, &opts(), br#"{"name":"b"}"#).unwrap();
    let m = DynamicMessage::decode(p.input.clone(), bytes).unwrap();
    assert_eq!(field(&m, "name").as_str(), Some("b"));
    let e = message_from_json(&p, &strict(), br#"{"bogus":1}"#).unwrap_err();
    assert!(e.0.contains("bogus"), "{e}");
    for bad in ["{", "[]", "null", r#"{"id":"x"}"#] {
        let e = message_from_json(&p, &opts(), bad.as_bytes()).unwrap_err();
        assert!(e.0.starts_with("invalid JSON body"), "{bad}: {e}");
    }
}

#[test]
fn client_streaming_takes_no_path_variables() {
    for m in ["t.Svc/Upload", "t.Svc/Chat"] {
        let e = MethodPlan::new(&method(m), "*", &["name"], "").unwrap_err();
        assert!(
            e.0.contains("cannot use path parameter in client streaming"),
            "{e}"
        );
        plan(m, "*", &[], "");
    }
}
