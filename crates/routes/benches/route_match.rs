//! Criterion benchmarks of route matching ([`RouteTable::find`]) and of table
//! building, on the example protos (Greeter, Echo, Library, compiled with protox
//! from examples/protos) and on a synthetic 2,000-method table.
//!
//! Run: `cargo bench -p switchboard-routes --bench route_match`.

// `criterion_group!` generates a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use http::Method;
use prost_reflect::DescriptorPool;
use switchboard_routes::{BackendInput, Lookup, RouteTable, SchemaGroup};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Compiles `files` (relative to `dir`) with imports and decodes the pool from
/// the raw bytes, so the google.api.http options survive.
fn compile(dir: PathBuf, files: &[&str]) -> DescriptorPool {
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(protox::file::IncludeFileResolver::new(dir));
    resolver.add(protox::file::IncludeFileResolver::new(
        PathBuf::from(ROOT).join("crates/discovery/proto"),
    ));
    resolver.add(protox::file::GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler.open_files(files).expect("protos compile");
    DescriptorPool::decode(compiler.encode_file_descriptor_set().as_slice()).expect("pool decodes")
}

fn backend(index: usize, name: &str, pool: DescriptorPool) -> BackendInput {
    let services = pool.services().map(|s| s.full_name().to_owned()).collect();
    BackendInput {
        index,
        name: name.to_owned(),
        pool,
        services,
        http_rules: Vec::new(),
        schema_groups: Vec::new(),
    }
}

fn examples() -> Vec<BackendInput> {
    let dir = PathBuf::from(ROOT).join("examples/protos");
    vec![
        backend(
            0,
            "greeter",
            compile(dir.clone(), &["greeter.proto", "echo.proto"]),
        ),
        backend(1, "library", compile(dir, &["library.proto"])),
    ]
}

/// 100 backends x 20 methods, each with a google.api.http rule (the same shape
/// as `switchboard-loadgen synth`, which scripts/bench.sh uses).
fn synthetic() -> Vec<BackendInput> {
    let dir = std::env::temp_dir().join(format!("switchboard-route-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut inputs = Vec::new();
    for b in 0..100 {
        let mut src = format!(
            "syntax = \"proto3\";\npackage bench.b{b}.v1;\nimport \"google/api/annotations.proto\";\n\
             message Req {{ string name = 1; string parent = 2; int32 page_size = 3; }}\n\
             service Service{b} {{\n"
        );
        for m in 0..20 {
            let rule = if m % 2 == 0 {
                format!("get: \"/v1/b{b}/r{m}/{{name=items/*}}\"")
            } else {
                format!("post: \"/v1/b{b}/{{parent=shelves/*}}/r{m}:run\" body: \"*\"")
            };
            src.push_str(&format!(
                "  rpc Method{m} (Req) returns (Req) {{ option (google.api.http) = {{ {rule} }}; }}\n"
            ));
        }
        src.push_str("}\n");
        let file = format!("b{b}.proto");
        std::fs::write(dir.join(&file), src).expect("write proto");
        inputs.push(backend(b, &format!("b{b}"), compile(dir.clone(), &[&file])));
    }
    let _ = std::fs::remove_dir_all(&dir);
    inputs
}

fn found(lookup: Lookup<'_>) -> usize {
    match lookup {
        Lookup::Found(route, values) => route.backend + values.len(),
        other => panic!("expected a route, got {other:?}"),
    }
}

fn bench(c: &mut Criterion) {
    let inputs = examples();
    let (table, report) = RouteTable::build(&inputs);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let mut g = c.benchmark_group("find/examples");
    g.bench_function("default route POST /helloworld.Greeter/SayHello", |b| {
        b.iter(|| found(table.find(&Method::POST, black_box("/helloworld.Greeter/SayHello"))))
    });
    g.bench_function("literal POST /v1/echo", |b| {
        b.iter(|| found(table.find(&Method::POST, black_box("/v1/echo"))))
    });
    g.bench_function("variable GET /v1/echo/{string_value}", |b| {
        b.iter(|| found(table.find(&Method::GET, black_box("/v1/echo/hello%20world"))))
    });
    g.bench_function("verb GET /v1/echo/{nested.label=labels/*}:inspect", |b| {
        b.iter(|| found(table.find(&Method::GET, black_box("/v1/echo/labels/x:inspect"))))
    });
    g.bench_function("404", |b| {
        b.iter(|| table.find(&Method::GET, black_box("/v2/nothing/here")))
    });
    g.finish();

    // Choose the endpoint, then encode: the plan for the picked endpoint's
    // schema group. One schema (the common case), and a rollout's two.
    let mut skewed = examples();
    for input in &mut skewed {
        input.schema_groups = vec![SchemaGroup {
            digest: 7,
            pool: input.pool.clone(),
        }];
    }
    let (skewed, _) = RouteTable::build(&skewed);
    let route = |table: &RouteTable| match table.find(&Method::POST, "/v1/echo") {
        Lookup::Found(route, _) => route.clone(),
        other => panic!("expected a route, got {other:?}"),
    };
    let (one, two) = (route(&table), route(&skewed));
    let mut g = c.benchmark_group("plan_for");
    g.bench_function("one schema", |b| {
        b.iter(|| black_box(&one).plan_for(black_box(Some(7))).raw_response)
    });
    g.bench_function("two schema groups", |b| {
        b.iter(|| black_box(&two).plan_for(black_box(Some(7))).raw_response)
    });
    g.finish();

    let big = synthetic();
    let (big_table, report) = RouteTable::build(&big);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let mut g = c.benchmark_group("find/2000-methods");
    g.bench_function("GET /v1/b57/r10/items/x", |b| {
        b.iter(|| found(big_table.find(&Method::GET, black_box("/v1/b57/r10/items/x"))))
    });
    g.bench_function("POST /v1/b57/shelves/s/r11:run", |b| {
        b.iter(|| found(big_table.find(&Method::POST, black_box("/v1/b57/shelves/s/r11:run"))))
    });
    g.bench_function("POST /bench.b57.v1.Service57/Method3", |b| {
        b.iter(|| {
            found(big_table.find(&Method::POST, black_box("/bench.b57.v1.Service57/Method3")))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("build");
    g.sample_size(20);
    g.bench_function("examples", |b| {
        b.iter(|| RouteTable::build(black_box(&inputs)))
    });
    g.bench_function("100 backends / 2000 methods", |b| {
        b.iter(|| RouteTable::build(black_box(&big)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
