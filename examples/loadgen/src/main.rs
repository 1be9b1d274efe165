//! `switchboard-loadgen`: the Rust half of `scripts/bench.sh`.
//!
//! ```text
//! switchboard-loadgen payload --kind small|medium|stream --format json|proto --out FILE
//! switchboard-loadgen grpc        --addr HOST:PORT --path /pkg.Svc/Method --body FILE [-c N] [-d SECS]
//! switchboard-loadgen http        --url http://HOST:PORT/path            --body FILE [-c N] [-d SECS]
//! switchboard-loadgen grpc-stream --addr HOST:PORT --path /pkg.Svc/Method --body FILE [-c N] [-d SECS]
//! switchboard-loadgen http-stream --url http://HOST:PORT/path            --body FILE [-c N] [-d SECS]
//! switchboard-loadgen floor --listen HOST:PORT --backend HOST:PORT --path /pkg.Svc/Method --body FILE
//! switchboard-loadgen synth --backends 100 --methods 2000 --out DIR
//! switchboard-loadgen table --dir DIR [--iters 10]
//! switchboard-loadgen otlp-sink --listen HOST:PORT
//! switchboard-loadgen fleet --backends 100 --methods 20 --out DIR [--generation N]
//! ```
//!
//! - `grpc` calls a backend directly over one tonic channel (one HTTP/2
//!   connection, like the gateway's), sending a pre-encoded protobuf request
//!   through switchboard-upstream's raw-bytes codec, so no encoding cost is
//!   measured on the client side.
//! - `http` drives HTTP/1.1 keep-alive connections (one per worker) against the
//!   gateway, for an apples-to-apples comparison with `grpc` (same client
//!   runtime, same histogram).
//! - `*-stream` read a server-streaming call (gRPC messages, or the gateway's
//!   NDJSON lines) and count messages per second.
//! - `floor` is not a client but the cheapest HTTP/1.1 -> gRPC proxy: every
//!   request becomes one unary call with a fixed protobuf body, answered with
//!   `{"len":N}` (see [`floor`]). It runs until killed.
//! - `otlp-sink` is an OTLP/gRPC trace collector that counts and drops spans
//!   (see [`otlp_sink`]), for the gateway's tracing-on figures.
//! - `synth` writes one encoded `FileDescriptorSet` per synthetic backend
//!   (`bN.pb`, protox-compiled from generated proto text with `google.api.http`
//!   rules); `table` decodes them, times `RouteTable::build` and prints VmRSS.
//! - `fleet` writes descriptor sets shaped like real services' (each with its
//!   google/api and google/protobuf imports, as `protoc --include_imports`
//!   writes them): the memory figures' fleet (see [`fleet`]).
//!
//! Every load subcommand prints one line of `key=value` pairs (requests,
//! errors, secs, rps, p50_us, p99_us; or msgs and msgs_per_s) for the script
//! to parse. Workers run on a current-thread runtime by default (`--threads`),
//! comparable to `wrk -t1`.

mod fleet;
mod otlp_sink;

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::{BufMut, Bytes, BytesMut};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use prost::Message;
use switchboard_examples::pb::helloworld::HelloStreamRequest;
use switchboard_examples::pb::switchboard::testing::v1::{EchoRequest, Nested};
use switchboard_upstream::RawCodec;

const USAGE: &str = "see the //! docs of examples/loadgen/src/main.rs";

/// Parsed `--flag value` pairs after the subcommand.
struct Flags(HashMap<String, String>);

impl Flags {
    fn parse(args: &[String]) -> Result<Flags> {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let key = match flag.as_str() {
                "-c" => "concurrency",
                "-d" => "duration",
                f => f
                    .strip_prefix("--")
                    .with_context(|| format!("unexpected {f}"))?,
            };
            let value = it.next().with_context(|| format!("{flag} needs a value"))?;
            map.insert(key.to_owned(), value.clone());
        }
        Ok(Flags(map))
    }

    fn str(&self, key: &str) -> Result<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .with_context(|| format!("--{key} is required ({USAGE})"))
    }

    fn num<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| anyhow::anyhow!("--{key}: bad number {v:?}")),
        }
    }
}

/// Load settings shared by the load subcommands.
#[derive(Clone)]
struct Load {
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
    body: Bytes,
}

impl Load {
    fn from(flags: &Flags) -> Result<Load> {
        let body = std::fs::read(flags.str("body")?).context("reading --body")?;
        Ok(Load {
            concurrency: flags.num("concurrency", 1usize)?.max(1),
            duration: Duration::from_secs_f64(flags.num("duration", 5.0f64)?),
            warmup: Duration::from_secs_f64(flags.num("warmup", 0.5f64)?),
            body: body.into(),
        })
    }
}

/// What one worker measured.
struct Tally {
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
    msgs: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            hist: Histogram::new_with_bounds(1, 120_000_000_000, 3).expect("valid bounds"),
            ok: 0,
            errors: 0,
            msgs: 0,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.hist.add(&other.hist).expect("same bounds");
        self.ok += other.ok;
        self.errors += other.errors;
        self.msgs += other.msgs;
    }

    fn print(&self, secs: f64, streaming: bool) {
        let q = |p: f64| self.hist.value_at_quantile(p) as f64 / 1000.0;
        if streaming {
            println!(
                "msgs={} errors={} secs={secs:.3} msgs_per_s={:.0}",
                self.msgs,
                self.errors,
                self.msgs as f64 / secs
            );
        } else {
            println!(
                "requests={} errors={} secs={secs:.3} rps={:.1} p50_us={:.1} p99_us={:.1} mean_us={:.1}",
                self.ok,
                self.errors,
                self.ok as f64 / secs,
                q(0.50),
                q(0.99),
                self.hist.mean() / 1000.0
            );
        }
    }
}

/// Runs `concurrency` copies of `worker` after a warm-up, until the deadline,
/// and prints the merged tally.
async fn drive<W, F>(load: &Load, streaming: bool, worker: W) -> Result<()>
where
    W: Fn(Instant, Instant) -> F,
    F: std::future::Future<Output = Result<Tally>> + Send + 'static,
{
    let start = Instant::now() + load.warmup;
    let end = start + load.duration;
    let handles: Vec<_> = (0..load.concurrency)
        .map(|_| tokio::spawn(worker(start, end)))
        .collect();
    let mut total = Tally::new();
    for h in handles {
        total.merge(h.await??);
    }
    let secs = load.duration.as_secs_f64();
    total.print(secs, streaming);
    Ok(())
}

fn grpc_path(flags: &Flags) -> Result<http::uri::PathAndQuery> {
    http::uri::PathAndQuery::from_maybe_shared(Bytes::copy_from_slice(
        flags.str("path")?.as_bytes(),
    ))
    .context("--path")
}

async fn grpc_channel(flags: &Flags) -> Result<tonic::transport::Channel> {
    let addr = flags.str("addr")?;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    Ok(channel)
}

async fn grpc_unary(flags: &Flags) -> Result<()> {
    let load = Load::from(flags)?;
    let path = grpc_path(flags)?;
    let channel = grpc_channel(flags).await?;
    drive(&load, false, |start, end| {
        let channel = channel.clone();
        let path = path.clone();
        let body = load.body.clone();
        async move {
            let mut grpc = tonic::client::Grpc::new(channel);
            let mut tally = Tally::new();
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                grpc.ready().await?;
                let result = grpc
                    .unary(tonic::Request::new(body.clone()), path.clone(), RawCodec)
                    .await;
                if t0 < start {
                    continue;
                }
                match result {
                    Ok(_) => {
                        tally.ok += 1;
                        tally.hist.record(t0.elapsed().as_nanos() as u64).ok();
                    }
                    Err(_) => tally.errors += 1,
                }
            }
            Ok(tally)
        }
    })
    .await
}

async fn grpc_stream(flags: &Flags) -> Result<()> {
    let load = Load::from(flags)?;
    let path = grpc_path(flags)?;
    let channel = grpc_channel(flags).await?;
    drive(&load, true, |start, end| {
        let channel = channel.clone();
        let path = path.clone();
        let body = load.body.clone();
        async move {
            let mut grpc = tonic::client::Grpc::new(channel);
            let mut tally = Tally::new();
            'calls: while Instant::now() < end {
                grpc.ready().await?;
                let response = grpc
                    .server_streaming(tonic::Request::new(body.clone()), path.clone(), RawCodec)
                    .await;
                let mut stream = match response {
                    Ok(r) => r.into_inner(),
                    Err(_) => {
                        tally.errors += 1;
                        continue;
                    }
                };
                loop {
                    match stream.message().await {
                        Ok(Some(_)) => {
                            let now = Instant::now();
                            if now >= end {
                                break 'calls;
                            }
                            if now >= start {
                                tally.msgs += 1;
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            tally.errors += 1;
                            break;
                        }
                    }
                }
            }
            Ok(tally)
        }
    })
    .await
}

/// One HTTP/1.1 keep-alive connection.
async fn http1_connect(
    url: &http::Uri,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let authority = url.authority().context("--url needs host:port")?.as_str();
    let stream = tokio::net::TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

fn http_request(url: &http::Uri, body: &Bytes) -> http::Request<Full<Bytes>> {
    http::Request::post(url.path())
        .header(
            http::header::HOST,
            url.authority().map(|a| a.as_str()).unwrap_or(""),
        )
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body.clone()))
        .expect("valid request")
}

async fn http_unary(flags: &Flags) -> Result<()> {
    let load = Load::from(flags)?;
    let url: http::Uri = flags.str("url")?.parse().context("--url")?;
    drive(&load, false, |start, end| {
        let url = url.clone();
        let body = load.body.clone();
        async move {
            let mut sender = http1_connect(&url).await?;
            let mut tally = Tally::new();
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                sender.ready().await?;
                let response = sender.send_request(http_request(&url, &body)).await?;
                let ok = response.status().is_success();
                response.into_body().collect().await?;
                if t0 < start {
                    continue;
                }
                if ok {
                    tally.ok += 1;
                    tally.hist.record(t0.elapsed().as_nanos() as u64).ok();
                } else {
                    tally.errors += 1;
                }
            }
            Ok(tally)
        }
    })
    .await
}

async fn http_stream(flags: &Flags) -> Result<()> {
    let load = Load::from(flags)?;
    let url: http::Uri = flags.str("url")?.parse().context("--url")?;
    drive(&load, true, |start, end| {
        let url = url.clone();
        let body = load.body.clone();
        async move {
            let mut tally = Tally::new();
            'calls: while Instant::now() < end {
                // A fresh connection per call: dropping a half-read body closes it.
                let mut sender = http1_connect(&url).await?;
                let response = sender.send_request(http_request(&url, &body)).await?;
                if !response.status().is_success() {
                    tally.errors += 1;
                    continue;
                }
                let mut body = response.into_body();
                while let Some(frame) = body.frame().await {
                    let Ok(data) = frame?.into_data() else {
                        continue;
                    };
                    let now = Instant::now();
                    if now >= end {
                        break 'calls;
                    }
                    if now >= start {
                        let lines = data.iter().filter(|&&b| b == b'\n').count() as u64;
                        tally.msgs += lines;
                        if data.windows(8).any(|w| w == b"{\"error\"") {
                            tally.errors += 1;
                        }
                    }
                }
            }
            Ok(tally)
        }
    })
    .await
}

/// The *floor* of `scripts/bench.sh`: the cheapest HTTP/1.1 -> HTTP/2 gRPC
/// proxy we can write on this machine (no JSON transcoding, routing,
/// balancing or metrics), so the bench can tell which part of the gateway's
/// CPU per request and added latency is inherent in two loopback hops and
/// which part is ours. Every request (any method/path, body discarded) becomes
/// one unary call of `--path` with the pre-encoded `--body` over one shared
/// `h2` connection to `--backend`; the answer is 200 `{"len":N}` (N = bytes of
/// the response message) if grpc-status is 0, else 500.
async fn floor(flags: &Flags) -> Result<()> {
    let backend = flags.str("backend")?;
    let uri: http::Uri = format!("http://{backend}{}", flags.str("path")?)
        .parse()
        .context("--backend/--path")?;
    let message = std::fs::read(flags.str("body")?).context("reading --body")?;
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(u32::try_from(message.len())?);
    frame.extend_from_slice(&message);
    let frame = frame.freeze();

    let tcp = tokio::net::TcpStream::connect(backend)
        .await
        .with_context(|| format!("connecting to {backend}"))?;
    tcp.set_nodelay(true)?;
    let (h2, connection) = h2::client::handshake(tcp).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("backend connection: {e}");
        }
    });

    let listener = tokio::net::TcpListener::bind(flags.str("listen")?).await?;
    eprintln!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (h2, uri, frame) = (h2.clone(), uri.clone(), frame.clone());
        let service =
            hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let (h2, uri, frame) = (h2.clone(), uri.clone(), frame.clone());
                async move {
                    // Read and discard the request body.
                    request.into_body().collect().await.ok();
                    let (status, body) = match floor_call(h2, uri, frame).await {
                        Ok(len) => (http::StatusCode::OK, format!("{{\"len\":{len}}}")),
                        Err(e) => (
                            http::StatusCode::INTERNAL_SERVER_ERROR,
                            serde_json::json!({ "error": e.to_string() }).to_string(),
                        ),
                    };
                    let response = http::Response::builder()
                        .status(status)
                        .header(http::header::CONTENT_TYPE, "application/json")
                        .body(Full::new(Bytes::from(body)))
                        .expect("valid response");
                    Ok::<_, Infallible>(response)
                }
            });
        tokio::spawn(async move {
            hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await
                .ok();
        });
    }
}

/// One unary gRPC call of the floor proxy: the length of the response message.
async fn floor_call(
    h2: h2::client::SendRequest<Bytes>,
    uri: http::Uri,
    frame: Bytes,
) -> Result<usize> {
    let mut h2 = h2.ready().await?;
    let request = http::Request::post(uri)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers")
        .body(())?;
    let (response, mut send) = h2.send_request(request, false)?;
    send.send_data(frame, true)?;
    let (head, mut body) = response.await?.into_parts();
    let mut len = 0;
    while let Some(data) = body.data().await {
        let data = data?;
        len += data.len();
        body.flow_control().release_capacity(data.len())?;
    }
    // A trailers-only response carries grpc-status in the headers.
    let trailers = body.trailers().await?;
    let status = trailers
        .as_ref()
        .unwrap_or(&head.headers)
        .get("grpc-status")
        .and_then(|v| v.to_str().ok());
    if head.status != http::StatusCode::OK || status != Some("0") {
        bail!("HTTP {} grpc-status {status:?}", head.status);
    }
    Ok(len.saturating_sub(5))
}

/// The request payloads, as JSON for the gateway and protobuf for the backend.
fn payload(flags: &Flags) -> Result<()> {
    let kind = flags.str("kind")?;
    let format = flags.str("format")?;
    let (json, proto) = match kind {
        // ~100 bytes of JSON.
        "small" => {
            let json = serde_json::json!({
                "stringValue": "hello, switchboard",
                "int32Value": 42,
                "int64Value": "1234567890",
                "boolValue": true,
                "color": "COLOR_GREEN",
            });
            let proto = EchoRequest {
                string_value: "hello, switchboard".into(),
                int32_value: 42,
                int64_value: 1_234_567_890,
                bool_value: true,
                color: 2,
                ..Default::default()
            };
            (json, proto.encode_to_vec())
        }
        // ~10 KB of JSON: a nested message, 120 repeated strings, 80 nested entries.
        "medium" => {
            let strings: Vec<String> = (0..120)
                .map(|i| format!("repeated string value number {i:04} abcdefghij"))
                .collect();
            let nested: Vec<Nested> = (0..80)
                .map(|i| Nested {
                    label: format!("labels/item-{i:04}-0123456789"),
                    value: i * 1000 + 7,
                })
                .collect();
            let json = serde_json::json!({
                "stringValue": "hello, switchboard",
                "int32Value": 42,
                "nested": {"label": "labels/root", "value": 1},
                "repeatedString": strings,
                "nestedList": nested.iter().map(|n| serde_json::json!({"label": n.label, "value": n.value})).collect::<Vec<_>>(),
                "stringMap": {"alpha": "one", "beta": "two", "gamma": "three"},
            });
            let proto = EchoRequest {
                string_value: "hello, switchboard".into(),
                int32_value: 42,
                nested: Some(Nested {
                    label: "labels/root".into(),
                    value: 1,
                }),
                repeated_string: strings,
                nested_list: nested,
                string_map: [("alpha", "one"), ("beta", "two"), ("gamma", "three")]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                ..Default::default()
            };
            (json, proto.encode_to_vec())
        }
        // helloworld.Greeter/SayHelloStream with the backend's maximum count.
        "stream" => {
            let json = serde_json::json!({"name": "bench", "count": 10000});
            let proto = HelloStreamRequest {
                name: "bench".into(),
                count: 10_000,
                interval_ms: 0,
            };
            (json, proto.encode_to_vec())
        }
        other => bail!("--kind: unknown {other:?}"),
    };
    let bytes = match format {
        "json" => serde_json::to_vec(&json)?,
        "proto" => proto,
        other => bail!("--format: unknown {other:?}"),
    };
    std::fs::write(flags.str("out")?, bytes)?;
    Ok(())
}

const GOOGLE_API: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crates/discovery/proto");

/// Writes `bN.pb` for N in 0..backends, `methods` methods in total, each with
/// its own request/response messages and a `google.api.http` rule.
fn synth(flags: &Flags) -> Result<()> {
    let backends: usize = flags.num("backends", 100)?;
    let methods: usize = flags.num("methods", 2000)?;
    let out = PathBuf::from(flags.str("out")?);
    std::fs::create_dir_all(&out)?;
    let per = methods.div_ceil(backends);
    for b in 0..backends {
        let mut src = format!(
            "syntax = \"proto3\";\npackage bench.b{b}.v1;\nimport \"google/api/annotations.proto\";\n\
             message Item {{ string name = 1; int64 id = 2; repeated string tags = 3; \
             map<string, string> labels = 4; double score = 5; bool active = 6; }}\n\
             service Service{b} {{\n"
        );
        for m in 0..per {
            let rule = if m % 2 == 0 {
                format!("get: \"/v1/b{b}/r{m}/{{name=items/*}}\"")
            } else {
                format!(
                    "post: \"/v1/b{b}/{{parent=shelves/*}}/r{m}:run\" body: \"*\" \
                     additional_bindings {{ put: \"/v1/b{b}/r{m}/{{name}}\" body: \"item\" }}"
                )
            };
            src.push_str(&format!(
                "  rpc Method{m} (Req{m}) returns (Res{m}) {{ option (google.api.http) = {{ {rule} }}; }}\n"
            ));
        }
        src.push_str("}\n");
        for m in 0..per {
            src.push_str(&format!(
                "message Req{m} {{ string name = 1; string parent = 2; int32 page_size = 3; \
                 string page_token = 4; string filter = 5; Item item = 6; }}\n\
                 message Res{m} {{ repeated Item items = 1; string next_page_token = 2; int32 total = 3; }}\n"
            ));
        }
        let file = format!("bench/b{b}.proto");
        let dir = out.join("src");
        std::fs::create_dir_all(dir.join("bench"))?;
        std::fs::write(dir.join(&file), &src)?;
        let mut resolver = protox::file::ChainFileResolver::new();
        resolver.add(protox::file::IncludeFileResolver::new(dir.clone()));
        resolver.add(protox::file::IncludeFileResolver::new(GOOGLE_API.into()));
        resolver.add(protox::file::GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true);
        compiler
            .open_file(&file)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        std::fs::write(
            out.join(format!("b{b}.pb")),
            compiler.encode_file_descriptor_set(),
        )?;
    }
    println!("backends={backends} methods={}", per * backends);
    Ok(())
}

/// `VmRSS` (or another `/proc/self/status` field) in KiB.
fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn table(flags: &Flags) -> Result<()> {
    let dir = PathBuf::from(flags.str("dir")?);
    let iters: usize = flags.num("iters", 10)?;
    let rss_before = proc_status_kib("VmRSS:");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pb"))
        .collect();
    files.sort_by_key(|p| index_of(p));
    let decode_started = Instant::now();
    let inputs: Vec<switchboard_routes::BackendInput> = files
        .iter()
        .enumerate()
        .map(|(index, path)| {
            let bytes = std::fs::read(path)?;
            let pool = prost_reflect::DescriptorPool::decode(bytes.as_slice())?;
            let services = pool.services().map(|s| s.full_name().to_owned()).collect();
            Ok(switchboard_routes::BackendInput {
                index,
                name: format!("b{index}"),
                pool,
                services,
                http_rules: Vec::new(),
                schema_groups: Vec::new(),
            })
        })
        .collect::<Result<_>>()?;
    let decode_ms = decode_started.elapsed().as_secs_f64() * 1000.0;
    let rss_pools = proc_status_kib("VmRSS:");
    let methods: usize = inputs
        .iter()
        .flat_map(|b| b.pool.services())
        .map(|s| s.methods().len())
        .sum();

    let mut times = Vec::new();
    let mut kept = None;
    for _ in 0..iters.max(1) {
        let started = Instant::now();
        let (table, report) = switchboard_routes::RouteTable::build(&inputs);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if !report.errors.is_empty() || !report.conflicts.is_empty() {
            bail!("unexpected build report: {report:?}");
        }
        kept = Some(table);
    }
    let table = kept.expect("at least one build");
    times.sort_by(f64::total_cmp);
    let rss_after = proc_status_kib("VmRSS:");
    println!(
        "backends={} methods={methods} routes={} decode_ms={decode_ms:.2} build_ms_median={:.2} \
         build_ms_min={:.2} rss_before_kib={rss_before} rss_pools_kib={rss_pools} rss_kib={rss_after} hwm_kib={}",
        inputs.len(),
        table.routes().len(),
        times[times.len() / 2],
        times[0],
        proc_status_kib("VmHWM:")
    );
    Ok(())
}

fn index_of(path: &Path) -> usize {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.trim_start_matches('b').parse().ok())
        .unwrap_or(usize::MAX)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        bail!("usage: {USAGE}");
    };
    let flags = Flags::parse(rest)?;
    let threads: usize = flags.num("threads", 1)?;
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    match command.as_str() {
        "payload" => payload(&flags),
        "synth" => synth(&flags),
        "table" => table(&flags),
        "fleet" => fleet::fleet(&flags),
        "grpc" => runtime.block_on(grpc_unary(&flags)),
        "grpc-stream" => runtime.block_on(grpc_stream(&flags)),
        "http" => runtime.block_on(http_unary(&flags)),
        "http-stream" => runtime.block_on(http_stream(&flags)),
        "floor" => runtime.block_on(floor(&flags)),
        "otlp-sink" => runtime.block_on(otlp_sink::run(flags.str("listen")?)),
        other => bail!("unknown command {other:?}: {USAGE}"),
    }
}
