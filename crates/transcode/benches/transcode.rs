//! Criterion benchmarks of the per-request transcoding functions on
//! `switchboard.testing.v1.Echo/Echo` (examples/protos/echo.proto, compiled with
//! protox): JSON -> protobuf ([`decode_request`]) and protobuf -> JSON
//! ([`response_to_json`]) for the small (~100 B) and medium (~10 KB, nested and
//! repeated) payloads that scripts/bench.sh sends through the gateway.
//!
//! Run: `cargo bench -p switchboard-transcode --bench transcode`.

// `criterion_group!` generates a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost_reflect::{DescriptorPool, DynamicMessage};
use switchboard_transcode::{
    Codec, JsonOptions, MethodPlan, RequestBody, decode_request, response_to_json,
};

/// A JSON request body, as the gateway hands it to the transcoder.
fn json_body(json: &[u8]) -> RequestBody<'_> {
    RequestBody {
        bytes: json,
        content_type: None,
        codec: Codec::Json,
    }
}

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn pool() -> DescriptorPool {
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(protox::file::IncludeFileResolver::new(
        PathBuf::from(ROOT).join("examples/protos"),
    ));
    resolver.add(protox::file::IncludeFileResolver::new(
        PathBuf::from(ROOT).join("crates/discovery/proto"),
    ));
    resolver.add(protox::file::GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler
        .open_files(["echo.proto"])
        .expect("echo.proto compiles");
    DescriptorPool::decode(compiler.encode_file_descriptor_set().as_slice()).expect("pool decodes")
}

fn small_json() -> String {
    r#"{"stringValue":"hello, switchboard","int32Value":42,"int64Value":"1234567890","boolValue":true,"color":"COLOR_GREEN"}"#.to_owned()
}

fn medium_json() -> String {
    let strings: Vec<String> = (0..120)
        .map(|i| format!("\"repeated string value number {i:04} abcdefghij\""))
        .collect();
    let nested: Vec<String> = (0..80)
        .map(|i| {
            format!(
                "{{\"label\":\"labels/item-{i:04}-0123456789\",\"value\":{}}}",
                i * 1000 + 7
            )
        })
        .collect();
    format!(
        r#"{{"stringValue":"hello, switchboard","int32Value":42,"nested":{{"label":"labels/root","value":1}},"repeatedString":[{}],"nestedList":[{}],"stringMap":{{"alpha":"one","beta":"two","gamma":"three"}}}}"#,
        strings.join(","),
        nested.join(",")
    )
}

fn bench(c: &mut Criterion) {
    let pool = pool();
    let method = pool
        .get_service_by_name("switchboard.testing.v1.Echo")
        .and_then(|s| s.methods().find(|m| m.name() == "Echo"))
        .expect("Echo/Echo");
    // The default route's plan (body "*"), as the table builds it.
    let plan = MethodPlan::new(&method, "*", &[], "").expect("plan");
    let opts = JsonOptions::default();
    let response_desc = method.output();

    for (name, json) in [("small", small_json()), ("medium", medium_json())] {
        let proto = decode_request(&plan, &opts, json_body(json.as_bytes()), &[], None)
            .expect("transcodes");
        // The backend's reply: EchoResponse { request, metadata } with a few entries.
        let mut reply = DynamicMessage::new(response_desc.clone());
        let request_msg = DynamicMessage::decode(method.input(), proto.as_ref()).expect("decodes");
        reply.set_field_by_name("request", prost_reflect::Value::Message(request_msg));
        let metadata = [
            ("content-type", "application/grpc"),
            ("grpcgateway-content-type", "application/json"),
            ("grpcgateway-user-agent", "wrk"),
            ("x-forwarded-for", "127.0.0.1"),
            ("x-forwarded-host", "127.0.0.1:18481"),
        ]
        .into_iter()
        .map(|(k, v)| {
            (
                prost_reflect::MapKey::String(k.into()),
                prost_reflect::Value::String(v.into()),
            )
        })
        .collect();
        reply.set_field_by_name("metadata", prost_reflect::Value::Map(metadata));
        let reply = prost::Message::encode_to_vec(&reply);

        let mut g = c.benchmark_group(format!("echo/{name}"));
        g.throughput(Throughput::Bytes(json.len() as u64));
        g.bench_function("decode_request (JSON -> protobuf)", |b| {
            b.iter(|| {
                decode_request(
                    &plan,
                    &opts,
                    json_body(black_box(json.as_bytes())),
                    &[],
                    None,
                )
            })
        });
        g.throughput(Throughput::Bytes(reply.len() as u64));
        g.bench_function("response_to_json (protobuf -> JSON)", |b| {
            b.iter(|| response_to_json(&plan, &opts, black_box(&reply)))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
