//! Keepalive as gRPC servers expect it (gRPC A8), against the Python grpcio
//! backend, whose default policy counts a PING on a connection without calls as
//! a strike and closes the connection with GOAWAY `too_many_pings` after two.
//! The backend reports each call's peer address (`x-peer`), so a test can tell
//! whether two calls rode the same connection.
//!
//! The gateways run the default workers model with one worker: each worker has
//! its own connection to the endpoint, so with more than one, two calls could
//! ride two connections because the kernel gave their client connections to
//! different workers, not because one was replaced. Discovery's shared
//! connection carries no calls here, so it stays idle too.

mod support;

use std::time::Duration;

use support::{Gateway, PythonBackend, backend_yaml, eventually, free_port, get};

/// A gateway in front of `py` with `upstream` as its `upstream:` section and
/// one worker (see the file's doc).
async fn gateway(py: &PythonBackend, upstream: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.yaml");
    let http = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let text = Gateway::render(http, admin, &backend_yaml("inventory", py.addr, ""))
        + "runtime:\n  model: workers\n  workers: 1\n"
        + upstream;
    std::fs::write(&config, text).unwrap();
    Gateway::start_with(dir, config, http, admin).await
}

/// `log` without terminal colour sequences.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The backend-side address of the connection a call to the gateway rode.
async fn peer(gw: &Gateway) -> String {
    let r = get(&gw.url("/v1/items/apple")).await.unwrap();
    assert_eq!(r.status, 200, "{}\n{}", r.body, gw.log());
    r.header("grpc-metadata-x-peer")
        .unwrap_or_else(|| panic!("no x-peer: {:?}", r.headers))
        .to_string()
}

#[tokio::test]
async fn an_idle_connection_to_grpcio_survives() {
    let py = PythonBackend::start();
    // A short interval, so a gateway that pinged idle connections would have
    // earned its GOAWAY (the third premature ping) within the idle period below.
    let gw = gateway(
        &py,
        "upstream:\n  keepalive_interval: 1s\n  keepalive_timeout: 1s\n",
    )
    .await;
    let first = peer(&gw).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let second = peer(&gw).await;
    assert_eq!(
        first,
        second,
        "the idle connection was replaced\n{}",
        gw.log()
    );
    assert!(!gw.log().contains("too_many_pings"), "{}", gw.log());
}

#[tokio::test]
async fn pings_without_calls_are_opt_in_and_back_off_on_too_many_pings() {
    let py = PythonBackend::start();
    let gw = gateway(
        &py,
        "upstream:\n  keepalive_interval: 1s\n  keepalive_timeout: 1s\n  keepalive_without_calls: true\n",
    )
    .await;
    let first = peer(&gw).await;
    // grpcio refuses pings on an idle connection: GOAWAY too_many_pings on both
    // of the endpoint's connections (discovery's shared one and the worker's,
    // which `first` rode), and the gateway doubles the endpoint's interval once.
    let ended = |log: &str| {
        log.lines()
            .filter(|l| l.contains("upstream connection ended") && l.contains("too_many_pings"))
            .count()
    };
    let backed_off = eventually(|| async { ended(&plain(&gw.log())) >= 2 }).await;
    assert!(backed_off, "{}", gw.log());
    let log = plain(&gw.log());
    let doubled: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("GOAWAY too_many_pings; keepalive interval doubled"))
        .collect();
    assert_eq!(doubled.len(), 1, "{log}");
    assert!(doubled[0].contains("to=2s"), "{log}");
    // The next call connects again and works.
    let second = peer(&gw).await;
    assert_ne!(first, second, "{}", gw.log());
}
