//! The worker model (`runtime: {model: workers, workers: 2}`) against the real
//! binary: HTTP/JSON unary and server streaming, native gRPC pass-through, TLS
//! on the listener, reloads under a running client, graceful drain.
//!
//! What makes it the worker model is checked where the backend sees it: a TCP
//! forwarder in front of the backend counts the gateway's connections. Each
//! worker opens one HTTP/2 connection of its own to the endpoint, besides the
//! shared one that discovery uses from the main runtime: three in all, however
//! many requests and client connections. Requests come on many client
//! connections, which the kernel spreads over both workers' `SO_REUSEPORT`
//! sockets (all of 40 connections landing on one worker has odds of 2^-39).
//!
//! Workers is the default model; `model: shared` stays available, and one test
//! here runs it explicitly (unary calls and reloads on its one connection per
//! endpoint) so that both models stay covered.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use support::balance::Replica;
use support::pki::{self, Ca, Https};
use support::{Backend, Gateway, backend_yaml, eventually, free_port, get, post, request};
use switchboard_examples::Reflection;
use switchboard_examples::pb::helloworld::greeter_client::GreeterClient;
use switchboard_examples::pb::helloworld::{HelloRequest, HelloStreamRequest};

const WORKERS: &str = "runtime:\n  model: workers\n  workers: 2\n";
const SHARED: &str = "runtime:\n  model: shared\n";
const HELLO: &str = "/helloworld.Greeter/SayHello";

/// A gateway over `backends` in the worker model, with `extra` top-level keys.
async fn gateway(backends: &str, extra: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    gateway_in(dir, backends, extra).await
}

async fn gateway_in(dir: tempfile::TempDir, backends: &str, extra: &str) -> Gateway {
    gateway_model(dir, backends, WORKERS, extra).await
}

/// A gateway over `backends` with the `runtime:` section `model`.
async fn gateway_model(
    dir: tempfile::TempDir,
    backends: &str,
    model: &str,
    extra: &str,
) -> Gateway {
    let config = dir.path().join("switchboard.yaml");
    let http = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let text = Gateway::render(http, admin, backends) + model + extra;
    std::fs::write(&config, text).unwrap();
    Gateway::start_with(dir, config, http, admin).await
}

/// A TCP forwarder to `target` counting the connections it accepted and those
/// still open: what the backend sees of the gateway's connections.
struct Counted {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
}

async fn counting_proxy(target: SocketAddr) -> Counted {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let open = Arc::new(AtomicUsize::new(0));
    let (a, o) = (accepted.clone(), open.clone());
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            o.fetch_add(1, Ordering::SeqCst);
            let o = o.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
                o.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Counted {
        addr,
        accepted,
        open,
    }
}

/// `n` unary JSON calls, each on a new client connection; panics on any failure.
async fn hellos(gw: &Gateway, n: usize) {
    for i in 0..n {
        let r = post(&gw.url(HELLO), &format!(r#"{{"name":"w{i}"}}"#))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["message"], format!("Hello, w{i}!"));
    }
}

/// Rewrites the gateway's config to `text`, waits for the reload it causes
/// and checks the settings it reports as needing a restart.
async fn reload_expecting(gw: &Gateway, text: String, restart_required: Value) {
    let v = gw.version().await;
    std::fs::write(&gw.config, text).unwrap();
    let status = gw.wait_version_after(v).await;
    assert_eq!(status["restart_required"], restart_required, "{status}");
}

/// The library backend a reload added answers, and the greeter still does.
async fn added_backend_served(gw: &Gateway) {
    let r = get(&gw.url("/v1/shelves/1/books/1")).await.unwrap();
    assert_eq!(r.status, 200, "the added backend is served: {}", r.body);
    hellos(gw, 20).await;
}

/// The names of the gateway process's threads.
fn thread_names(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect()
}

#[tokio::test]
async fn unary_streams_and_native_grpc_each_worker_on_its_own_connection() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let proxy = counting_proxy(greeter.addr).await;
    let gw = gateway(&backend_yaml("greeter", proxy.addr, ""), "").await;

    if cfg!(target_os = "linux") {
        let names = thread_names(gw.pid());
        for worker in ["sb-worker-0", "sb-worker-1"] {
            assert!(names.iter().any(|n| n == worker), "{names:?}");
        }
        assert!(!names.iter().any(|n| n == "sb-worker-2"), "{names:?}");
    }

    hellos(&gw, 40).await;

    // Server streaming, HTTP/JSON (NDJSON).
    let r = post(
        &gw.url("/v1/echo:stream"),
        r#"{"request":{"stringValue":"s"},"count":3}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let lines: Vec<Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{}", r.body);
    for line in &lines {
        assert_eq!(line["result"]["request"]["stringValue"], "s", "{line}");
    }

    // Native gRPC pass-through: unary and server streaming.
    let channel = tonic::transport::Channel::from_shared(gw.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = GreeterClient::new(channel);
    let reply = client
        .say_hello(HelloRequest {
            name: "grpc".into(),
        })
        .await
        .unwrap();
    assert_eq!(reply.get_ref().message, "Hello, grpc!");
    let mut stream = client
        .say_hello_stream(HelloStreamRequest {
            name: "s".into(),
            count: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut messages = Vec::new();
    while let Some(m) = stream.message().await.unwrap() {
        messages.push(m.message);
    }
    assert_eq!(messages.len(), 3, "{messages:?}");

    // The shared connection (discovery) and one per worker; no more.
    assert_eq!(
        proxy.accepted.load(Ordering::SeqCst),
        3,
        "log:\n{}",
        gw.log()
    );
    let backends = get(&gw.admin_url("/backends")).await.unwrap().json();
    let requests = backends[0]["endpoints"][0]["requests"].as_u64();
    assert!(
        requests.is_some_and(|n| n >= 43),
        "the endpoint's statistics see every worker's calls: {backends}"
    );
}

#[tokio::test]
async fn reloads_under_a_running_client_keep_the_workers_connections() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let library = Backend::library(Reflection::V1AndV1Alpha).await;
    let proxy = counting_proxy(greeter.addr).await;
    let only_greeter = backend_yaml("greeter", proxy.addr, "");
    let both = only_greeter.clone() + &backend_yaml("library", library.addr, "");
    let gw = gateway(&only_greeter, "").await;
    hellos(&gw, 40).await;
    assert_eq!(proxy.accepted.load(Ordering::SeqCst), 3, "{}", gw.log());

    // A client calling all along, each call on a new connection.
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (url, stop) = (gw.url(HELLO), stop.clone());
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0usize, Vec::new());
            while !stop.load(Ordering::SeqCst) {
                match post(&url, r#"{"name":"r"}"#).await {
                    Ok(r) if r.status == 200 => ok += 1,
                    other => failed.push(format!("{other:?}")),
                }
            }
            (ok, failed)
        })
    };

    let write = |text: String| std::fs::write(&gw.config, text + WORKERS).unwrap();
    reload_expecting(&gw, gw.config_text(&both) + WORKERS, serde_json::json!([])).await;
    added_backend_served(&gw).await;

    // A changed model is a restart key: the running workers stay as they are.
    let three = gw.config_text(&both) + "runtime:\n  model: workers\n  workers: 3\n";
    reload_expecting(&gw, three, serde_json::json!(["runtime"])).await;
    hellos(&gw, 20).await;

    stop.store(true, Ordering::SeqCst);
    let (ok, failed) = client.await.unwrap();
    assert!(failed.is_empty(), "{} ok, failed: {failed:?}", ok);
    assert!(ok > 0);
    // Every connection survived both reloads: none was opened again.
    assert_eq!(proxy.accepted.load(Ordering::SeqCst), 3, "{}", gw.log());
    assert_eq!(proxy.open.load(Ordering::SeqCst), 3);

    // Removing the endpoint closes its connections, the workers' included.
    let v = gw.version().await;
    write(gw.config_text(&backend_yaml("library", library.addr, "")));
    gw.wait_version_after(v).await;
    let closed = eventually(|| async { proxy.open.load(Ordering::SeqCst) == 0 }).await;
    assert!(
        closed,
        "{} connection(s) to the removed endpoint still open; log:\n{}",
        proxy.open.load(Ordering::SeqCst),
        gw.log()
    );
    let r = post(&gw.url(HELLO), r#"{"name":"gone"}"#).await.unwrap();
    assert_eq!(r.status, 404, "{}", r.body);
}

/// `model: shared`, opted into explicitly: no worker threads, and every
/// call, the workers' and discovery's alike, goes on the endpoint's one
/// connection, which survives reloads; switching to workers by reload is a
/// restart key and starts no worker.
#[tokio::test]
async fn the_shared_model_serves_and_reloads_on_one_connection() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let library = Backend::library(Reflection::V1AndV1Alpha).await;
    let proxy = counting_proxy(greeter.addr).await;
    let only_greeter = backend_yaml("greeter", proxy.addr, "");
    let both = only_greeter.clone() + &backend_yaml("library", library.addr, "");
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway_model(dir, &only_greeter, SHARED, "").await;
    let no_workers = |gw: &Gateway| {
        if cfg!(target_os = "linux") {
            let names = thread_names(gw.pid());
            assert!(!names.is_empty(), "no threads read for {}", gw.pid());
            assert!(
                !names.iter().any(|n| n.starts_with("sb-worker")),
                "{names:?}"
            );
        }
    };
    no_workers(&gw);

    hellos(&gw, 40).await;
    assert_eq!(
        proxy.accepted.load(Ordering::SeqCst),
        1,
        "log:\n{}",
        gw.log()
    );

    // A reload that adds a backend applies at once; the connection stays.
    reload_expecting(&gw, gw.config_text(&both) + SHARED, serde_json::json!([])).await;
    added_backend_served(&gw).await;

    // Leaving `runtime` out means the default, workers: a restart key.
    reload_expecting(&gw, gw.config_text(&both), serde_json::json!(["runtime"])).await;
    hellos(&gw, 20).await;
    no_workers(&gw);
    assert_eq!(proxy.accepted.load(Ordering::SeqCst), 1, "{}", gw.log());
    assert_eq!(proxy.open.load(Ordering::SeqCst), 1);
    let backends = get(&gw.admin_url("/backends")).await.unwrap().json();
    let greeter_stats = backends
        .as_array()
        .and_then(|b| b.iter().find(|b| b["name"] == "greeter"))
        .unwrap_or_else(|| panic!("no greeter in {backends}"));
    let requests = greeter_stats["endpoints"][0]["requests"].as_u64();
    assert!(requests.is_some_and(|n| n >= 80), "{backends}");
}

/// Without a `runtime:` section the gateway runs the workers model, one
/// worker per core, each with its own connection to the endpoint.
#[tokio::test]
async fn workers_are_the_default_one_per_core() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let proxy = counting_proxy(greeter.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway_model(dir, &backend_yaml("greeter", proxy.addr, ""), "", "").await;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if cfg!(target_os = "linux") {
        let names = thread_names(gw.pid());
        for i in 0..cores {
            let worker = format!("sb-worker-{i}");
            assert!(names.contains(&worker), "{worker} in {names:?}");
        }
        let extra = format!("sb-worker-{cores}");
        assert!(!names.contains(&extra), "{names:?}");
    }
    // Enough new client connections that every worker gets one (the kernel
    // spreads them; 40 landing on fewer workers is vanishingly unlikely for a
    // few cores), then one connection per worker plus the shared one.
    hellos(&gw, 40 * cores).await;
    assert_eq!(
        proxy.accepted.load(Ordering::SeqCst),
        cores + 1,
        "log:\n{}",
        gw.log()
    );
}

#[tokio::test]
async fn tls_on_every_worker() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let proxy = counting_proxy(greeter.addr).await;
    let ca = Ca::new("test ca");
    let pair = ca.leaf(&["localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let cert = pki::write(dir.path(), "gw.pem", &pair.cert);
    let key = pki::write(dir.path(), "gw.key", &pair.key);
    let tls = format!(
        "tls:\n  cert: {}\n  key: {}\n",
        cert.display(),
        key.display()
    );
    let gw = gateway_in(dir, &backend_yaml("greeter", proxy.addr, ""), &tls).await;

    // HTTPS (ALPN http/1.1), each request on a new connection and handshake.
    for i in 0..40 {
        let config = pki::client_config(&ca.pem, None, &[b"http/1.1"]);
        let mut https = Https::open(gw.http, config).await.unwrap();
        let r = https
            .post(
                HELLO,
                &[("content-type", "application/json")],
                &format!(r#"{{"name":"t{i}"}}"#),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["message"], format!("Hello, t{i}!"));
    }
    // Native gRPC over TLS (ALPN h2).
    let channel = pki::grpc_channel(gw.http, pki::client_config(&ca.pem, None, &[b"h2"]))
        .await
        .unwrap();
    let reply = GreeterClient::new(channel)
        .say_hello(HelloRequest { name: "h2".into() })
        .await
        .unwrap();
    assert_eq!(reply.get_ref().message, "Hello, h2!");
    // Plaintext on the TLS port is served by no worker.
    for _ in 0..4 {
        let plain = request(http::Method::POST, &gw.url(HELLO), &[], Some("{}")).await;
        assert!(plain.is_err(), "{plain:?}");
    }
    assert_eq!(proxy.accepted.load(Ordering::SeqCst), 3, "{}", gw.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_requests_in_flight_on_every_worker() {
    let replica = Replica::start("a");
    let top = "shutdown:\n  delay: 1s\n  drain_timeout: 20s\n";
    let mut gw = gateway(&backend_yaml("greeter", replica.addr, ""), top).await;

    // Slow calls on several connections, so both workers have some in flight.
    let slow: Vec<_> = (0..8)
        .map(|i| {
            let url = gw.url("/v1/echo");
            tokio::spawn(async move {
                post(
                    &url,
                    &format!(r#"{{"delayMs":2500,"stringValue":"slow{i}"}}"#),
                )
                .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.terminate();

    let unready = eventually(|| async {
        matches!(get(&gw.admin_url("/readyz")).await, Ok(r) if r.status == 503)
    })
    .await;
    assert!(unready, "/readyz never failed; log:\n{}", gw.log());

    for (i, call) in slow.into_iter().enumerate() {
        let reply = call.await.unwrap().expect("the slow request completes");
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["request"]["stringValue"], format!("slow{i}"));
    }
    let status = gw.wait_exit(Duration::from_secs(20)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "gateway did not exit cleanly: {status:?}; log:\n{}",
        gw.log()
    );
    let log = gw.log();
    assert!(log.contains("serving with the worker model"), "{log}");
    assert!(log.contains("drained; exiting"), "{log}");
}
