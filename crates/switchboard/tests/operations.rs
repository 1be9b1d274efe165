//! End-to-end checks of what operators run into on an idle, long-lived gateway:
//! the config watcher must not react to the gateway's own reads (it used to
//! reload itself every debounce period forever), and reloads over unchanged
//! bytes answer `unchanged`, keep the version and settle `/status`'s
//! `last_error`.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{Backend, Gateway, backend_yaml, eventually, free_port, get, post};
use switchboard_examples::Reflection;

/// Every `switchboard_reloads_total` sample of `/metrics`, by label set.
async fn reload_counts(gw: &Gateway) -> Vec<(String, f64)> {
    let body = get(&gw.admin_url("/metrics")).await.unwrap().body;
    body.lines()
        .filter_map(|l| l.strip_prefix("switchboard_reloads_total"))
        .filter_map(|rest| {
            let (labels, value) = rest.rsplit_once(' ')?;
            Some((labels.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// Asks for a reload with `POST /reload` over unchanged bytes, then watches the
/// reload counters for three seconds (30 debounce periods): they must stay flat.
async fn assert_no_reload_loop(gw: &Gateway) {
    let v = gw.version().await;
    let r = post(&gw.admin_url("/reload"), "").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["result"], "unchanged", "{}", r.body);
    assert_eq!(r.json()["version"], v, "{}", r.body);
    // Let the debounce window of any event the reload's own read caused close.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = reload_counts(gw).await;
    assert!(
        before
            .iter()
            .any(|(l, n)| l.contains(r#"trigger="admin""#) && *n == 1.0),
        "{before:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = reload_counts(gw).await;
    assert_eq!(
        before,
        after,
        "the gateway reloaded by itself\nlog:\n{}",
        gw.log()
    );
    assert_eq!(gw.version().await, v);
}

#[tokio::test]
async fn plain_file_post_reload_does_not_start_a_reload_loop() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let gw = Gateway::start(&backend_yaml("greeter", greeter.addr, "")).await;
    assert_no_reload_loop(&gw).await;
}

#[tokio::test]
async fn configmap_layout_post_reload_does_not_start_a_reload_loop() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    // switchboard.yaml -> ..data/switchboard.yaml, ..data -> ..2026_v1
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let http = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    std::fs::create_dir(root.join("..2026_v1")).unwrap();
    std::fs::write(
        root.join("..2026_v1/switchboard.yaml"),
        Gateway::render(http, admin, &backend_yaml("greeter", greeter.addr, "")),
    )
    .unwrap();
    std::os::unix::fs::symlink("..2026_v1", root.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/switchboard.yaml", root.join("switchboard.yaml")).unwrap();
    let gw = Gateway::start_with(dir, root.join("switchboard.yaml"), http, admin).await;
    assert_no_reload_loop(&gw).await;
}

fn sighup(pid: u32) {
    let status = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn metrics_contain(gw: &Gateway, needle: &str) -> bool {
    get(&gw.admin_url("/metrics"))
        .await
        .map(|r| r.body.contains(needle))
        .unwrap_or(false)
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn unchanged_bytes_keep_the_version_and_a_revert_clears_last_error() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let good = backend_yaml("greeter", greeter.addr, "");
    let gw = Gateway::start(&good).await;
    let v = gw.version().await;

    // POST /reload and SIGHUP over the same bytes: `unchanged`, same version.
    let r = post(&gw.admin_url("/reload"), "").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["result"], "unchanged", "{}", r.body);
    assert_eq!(r.json()["version"], v);
    sighup(gw.pid());
    let seen = eventually(|| {
        metrics_contain(
            &gw,
            r#"switchboard_reloads_total{trigger="sighup",outcome="unchanged"} 1"#,
        )
    })
    .await;
    assert!(seen, "{}", gw.log());
    assert_eq!(gw.version().await, v);

    // A broken edit is rejected and reported...
    write(&gw.config, &(gw.config_text(&good) + "bogus: 1\n"));
    let reported = eventually(|| async { !gw.status().await["last_error"].is_null() }).await;
    assert!(reported, "{}", gw.log());
    let status = gw.status().await;
    assert!(
        status["last_error"].as_str().unwrap().contains("bogus"),
        "{status}"
    );
    assert_eq!(status["version"], v);

    // ...and the revert to the live bytes is `unchanged` and clears it.
    write(&gw.config, &gw.config_text(&good));
    let cleared = eventually(|| async { gw.status().await["last_error"].is_null() }).await;
    assert!(cleared, "{}\n{}", gw.status().await, gw.log());
    assert_eq!(gw.version().await, v);
    assert!(
        metrics_contain(
            &gw,
            r#"switchboard_reloads_total{trigger="file",outcome="unchanged"}"#
        )
        .await
    );

    // The same through POST /reload: rejected, then unchanged and clean.
    write(&gw.config, &(gw.config_text(&good) + "bogus: 1\n"));
    let r = post(&gw.admin_url("/reload"), "").await.unwrap();
    assert_eq!(r.status, 422, "{}", r.body);
    write(&gw.config, &gw.config_text(&good));
    let r = post(&gw.admin_url("/reload"), "").await.unwrap();
    assert_eq!(r.json()["result"], "unchanged", "{}", r.body);
    let status = gw.status().await;
    assert!(status["last_error"].is_null(), "{status}");
    assert!(status["last_error_at"].is_null(), "{status}");
    assert_eq!(status["version"], v);
}

/// A TCP forwarder to `target` that counts the connections it accepts: what
/// the backend would see.
async fn counting_proxy(
    target: std::net::SocketAddr,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn rediscovery_rides_the_endpoints_connection() {
    use std::sync::atomic::Ordering;
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let (proxy, accepted) = counting_proxy(greeter.addr).await;
    let gw = Gateway::start(&backend_yaml("greeter", proxy, "")).await;
    let hello = |gw: &Gateway| {
        let url = gw.url("/helloworld.Greeter/SayHello");
        async move { post(&url, r#"{"name":"c"}"#).await.unwrap() }
    };
    assert_eq!(hello(&gw).await.status, 200);
    // The default workers model: the endpoint's shared connection, which
    // startup discovery dialled on the main runtime, and the connection of the
    // worker that served the call.
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "{}", gw.log());
    // Each `POST /reload` re-discovers every backend, as the periodic refresh does.
    for _ in 0..3 {
        let r = post(&gw.admin_url("/reload"), "").await.unwrap();
        assert_eq!(r.json()["result"], "unchanged", "{}", r.body);
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "discovery opened connections of its own\n{}",
        gw.log()
    );
    // A second call may land on another worker, which dials its own; no more.
    assert_eq!(hello(&gw).await.status, 200);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let most = if cores > 1 { 3 } else { 2 };
    let n = accepted.load(Ordering::SeqCst);
    assert!((2..=most).contains(&n), "{n} connections\n{}", gw.log());
}
