//! Per-request load balancing, health and graceful shutdown, end to end: the
//! real gateway process in front of several named copies of the greeter
//! backend ([`Replica`]), each stamping `x-served-by` on its responses (seen
//! through the gateway as `Grpc-Metadata-X-Served-By`).
//!
//! Assertions are about counts and shares, never about timings; timeouts are
//! only generous bounds for things to happen at all. Each test prints its
//! figures (`cargo test -p switchboard --test balance -- --nocapture`).

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::balance::{DnsServer, Replica};
use support::{Gateway, eventually, free_port, get, post};

/// The tests here measure shares of traffic, and peak-EWMA reacts to latency
/// noise: running them one at a time keeps a 2-core machine's scheduling noise
/// from one test out of another's figures.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A gateway whose one backend `greeter` has `endpoints`, with `extra` backend
/// keys (indented as backend keys) and `top` top-level keys appended.
async fn gateway(endpoints: &[String], extra: &str, top: &str) -> Gateway {
    let list: Vec<String> = endpoints.iter().map(|e| format!("\"{e}\"")).collect();
    let mut backend = format!("  - name: greeter\n    endpoints: [{}]\n", list.join(", "));
    for line in extra.lines() {
        backend.push_str("    ");
        backend.push_str(line);
        backend.push('\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.yaml");
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let text = format!("{}{top}", Gateway::render(http, admin, &backend));
    std::fs::write(&config, text).unwrap();
    Gateway::start_with(dir, config, http, admin).await
}

fn addrs(replicas: &[&Replica]) -> Vec<String> {
    replicas.iter().map(|r| r.addr.to_string()).collect()
}

/// What a run of requests produced: answers per replica name, and failures.
#[derive(Debug, Default)]
struct Tally {
    served: HashMap<String, usize>,
    errors: Vec<String>,
}

impl Tally {
    fn total(&self) -> usize {
        self.served.values().sum::<usize>() + self.errors.len()
    }

    fn share(&self, name: &str) -> f64 {
        *self.served.get(name).unwrap_or(&0) as f64 / self.total().max(1) as f64
    }
}

/// Sends `total` SayHello calls through the gateway, `concurrency` at a time.
/// `done` counts finished calls (for tests that act mid-run).
async fn load(gw: &Gateway, total: usize, concurrency: usize, done: Arc<AtomicUsize>) -> Tally {
    let url = gw.url("/helloworld.Greeter/SayHello");
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (url, next, done) = (url.clone(), next.clone(), done.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    match post(&url, r#"{"name":"lb"}"#).await {
                        Ok(r) if r.status == 200 => {
                            let who = r.header("grpc-metadata-x-served-by").unwrap_or("?");
                            *tally.served.entry(who.to_string()).or_default() += 1;
                        }
                        Ok(r) => tally.errors.push(format!("{} {}", r.status, r.body)),
                        Err(e) => tally.errors.push(e),
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                tally
            })
        })
        .collect();
    let mut all = Tally::default();
    for w in workers {
        let t = w.await.unwrap();
        for (k, v) in t.served {
            *all.served.entry(k).or_default() += v;
        }
        all.errors.extend(t.errors);
    }
    all
}

/// `/backends` entry of the `greeter` backend's endpoint at `addr`.
async fn endpoint_report(gw: &Gateway, addr: &str) -> serde_json::Value {
    let backends = get(&gw.admin_url("/backends")).await.unwrap().json();
    backends[0]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["address"] == addr)
        .cloned()
        .unwrap_or(serde_json::Value::Null)
}

#[tokio::test]
async fn spread_over_three_endpoints_for_every_policy() {
    let _serial = SERIAL.lock().await;
    let replicas = [
        Replica::start("a"),
        Replica::start("b"),
        Replica::start("c"),
    ];
    let refs: Vec<&Replica> = replicas.iter().collect();
    for policy in ["p2c_peak_ewma", "least_request", "round_robin"] {
        let gw = gateway(&addrs(&refs), &format!("balancing: {policy}"), "").await;
        let tally = load(&gw, 300, 6, Arc::default()).await;
        eprintln!(
            "{policy}: served {:?}, errors {}",
            tally.served,
            tally.errors.len()
        );
        assert!(tally.errors.is_empty(), "{policy}: {:?}", tally.errors);
        // Even is 33%. Peak-EWMA follows latency on purpose, and on a busy test
        // machine one slow response makes an identical replica look slower for a
        // while (the estimate decays over ~10s), so it gets a wider band; the
        // load-blind policies must be close to even.
        let band = if policy == "p2c_peak_ewma" {
            0.1..=0.6
        } else {
            0.25..=0.42
        };
        for r in &replicas {
            let share = tally.share(&r.name);
            assert!(
                band.contains(&share),
                "{policy}: {} got {:.0}% of {:?}",
                r.name,
                share * 100.0,
                tally.served
            );
        }
        let backends = get(&gw.admin_url("/backends")).await.unwrap().json();
        assert_eq!(backends[0]["balancing"], policy);
        assert_eq!(backends[0]["endpoints"].as_array().unwrap().len(), 3);
    }
}

#[tokio::test]
async fn slow_endpoint_gets_a_small_share_under_concurrency() {
    let _serial = SERIAL.lock().await;
    let replicas = [
        Replica::start("a"),
        Replica::start("b"),
        Replica::start("slow"),
    ];
    replicas[2].latency.set(Duration::from_millis(150));
    let refs: Vec<&Replica> = replicas.iter().collect();
    let gw = gateway(&addrs(&refs), "", "").await;
    let tally = load(&gw, 400, 8, Arc::default()).await;
    let share = tally.share("slow");
    eprintln!(
        "slow endpoint: {:.1}% of {} (served {:?})",
        share * 100.0,
        tally.total(),
        tally.served
    );
    assert!(tally.errors.is_empty(), "{:?}", tally.errors);
    // An even split would be 33%.
    assert!(share < 0.1, "slow endpoint got {:.1}%", share * 100.0);
    let report = endpoint_report(&gw, &replicas[2].addr.to_string()).await;
    assert!(
        report["latency_ewma_ms"].as_f64().unwrap() > 20.0,
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_killed_under_load_costs_at_most_a_handful_of_requests() {
    let _serial = SERIAL.lock().await;
    let mut replicas = [
        Replica::start("a"),
        Replica::start("b"),
        Replica::start("c"),
    ];
    let refs: Vec<&Replica> = replicas.iter().collect();
    let gw = gateway(&addrs(&refs), "", "").await;
    let victim = replicas[2].addr.to_string();
    let done = Arc::new(AtomicUsize::new(0));
    let (tally, ()) = tokio::join!(load(&gw, 900, 8, done.clone()), async {
        assert!(eventually(|| async { done.load(Ordering::Relaxed) >= 300 }).await);
        // Joining the replica's thread blocks briefly; calls in flight on it are cut.
        tokio::task::block_in_place(|| replicas[2].kill());
    });
    eprintln!(
        "kill under load: served {:?}, errors {} of {}: {:?}",
        tally.served,
        tally.errors.len(),
        tally.total(),
        tally.errors
    );
    assert!(tally.errors.len() <= 5, "{:?}", tally.errors);
    assert!(
        *tally.served.get("c").unwrap_or(&0) > 0,
        "c served before the kill"
    );
    let metrics = get(&gw.admin_url("/metrics")).await.unwrap().body;
    let retried = metrics
        .lines()
        .find(|l| l.starts_with("switchboard_upstream_retries_total") && l.contains("retried"))
        .unwrap_or("none");
    eprintln!("retries: {retried}");
    let report = endpoint_report(&gw, &victim).await;
    eprintln!("victim: {report}");
    assert!(report["failures"].as_u64().unwrap() > 0, "{report}");
}

/// The only endpoint crashes and comes back on the same address: the dead
/// connection is dropped and the next calls open a new one. Nothing but the
/// requests made while nothing listened may fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_endpoint_is_reconnected() {
    let _serial = SERIAL.lock().await;
    let mut first = Replica::start("first");
    let addr = first.addr;
    let gw = gateway(&[addr.to_string()], "", "").await;
    let before = load(&gw, 20, 2, Arc::default()).await;
    assert_eq!(before.served.get("first"), Some(&20), "{before:?}");

    tokio::task::block_in_place(|| first.kill());
    // While nothing listens, calls fail fast as UNAVAILABLE (503).
    let down = post(&gw.url("/helloworld.Greeter/SayHello"), r#"{"name":"x"}"#)
        .await
        .unwrap();
    assert_eq!(down.status, 503, "{}", down.body);
    assert_eq!(down.json()["code"], 14, "{}", down.body);

    let _second = Replica::start_on("second", addr);
    let back = eventually(|| async {
        post(&gw.url("/helloworld.Greeter/SayHello"), r#"{"name":"x"}"#)
            .await
            .is_ok_and(|r| r.status == 200)
    })
    .await;
    assert!(back, "no answer after the restart; log:\n{}", gw.log());
    let after = load(&gw, 20, 2, Arc::default()).await;
    assert_eq!(after.served.get("second"), Some(&20), "{after:?}");
    let report = endpoint_report(&gw, &addr.to_string()).await;
    assert!(report["failures"].as_u64().unwrap() >= 1, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_serving_health_status_drains_an_endpoint() {
    let _serial = SERIAL.lock().await;
    let replicas = [
        Replica::start("a"),
        Replica::start("b"),
        Replica::start("c"),
    ];
    let refs: Vec<&Replica> = replicas.iter().collect();
    let checks = "health_check:\n  interval: 200ms\n  timeout: 1s\n  unhealthy_threshold: 1\n  healthy_threshold: 1";
    let gw = gateway(&addrs(&refs), checks, "").await;
    let b = replicas[1].addr.to_string();
    assert!(
        eventually(|| async { endpoint_report(&gw, &b).await["health_check"] == "healthy" }).await
    );

    replicas[1].set_serving(false).await;
    assert!(
        eventually(|| async { endpoint_report(&gw, &b).await["state"] == "unhealthy" }).await,
        "b never reported unhealthy: {}",
        endpoint_report(&gw, &b).await
    );
    let tally = load(&gw, 90, 4, Arc::default()).await;
    eprintln!("b NOT_SERVING: served {:?}", tally.served);
    assert!(tally.errors.is_empty(), "{:?}", tally.errors);
    assert_eq!(tally.served.get("b"), None, "{:?}", tally.served);

    replicas[1].set_serving(true).await;
    assert!(
        eventually(|| async {
            load(&gw, 12, 3, Arc::default())
                .await
                .served
                .contains_key("b")
        })
        .await,
        "b got no traffic back after SERVING"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_endpoint_changes_are_picked_up() {
    let _serial = SERIAL.lock().await;
    // One port on three loopback addresses: DNS gives addresses, the port is fixed.
    let port = free_port();
    let at = |ip: &str| format!("{ip}:{port}").parse::<SocketAddr>().unwrap();
    let replicas = [
        Replica::start_on("one", at("127.0.0.1")),
        Replica::start_on("two", at("127.0.0.2")),
        Replica::start_on("three", at("127.0.0.3")),
    ];
    let dns = DnsServer::start().await;
    let ip = |s: &str| s.parse().unwrap();
    dns.set("greeter.test.internal", &[ip("127.0.0.1"), ip("127.0.0.2")]);
    let top = format!(
        "upstream:\n  dns:\n    nameservers: [\"{}\"]\n    refresh: 200ms\n",
        dns.addr
    );
    let endpoints = [format!("dns:///greeter.test.internal:{port}")];
    let gw = gateway(&endpoints, "", &top).await;

    let tally = load(&gw, 60, 4, Arc::default()).await;
    eprintln!("dns [1,2]: served {:?}", tally.served);
    assert!(tally.errors.is_empty(), "{:?}", tally.errors);
    assert!(tally.served.contains_key("one") && tally.served.contains_key("two"));
    assert!(!tally.served.contains_key("three"));

    dns.set("greeter.test.internal", &[ip("127.0.0.2"), ip("127.0.0.3")]);
    let moved = eventually(|| async {
        let backends = get(&gw.admin_url("/backends")).await.unwrap().json();
        let members: Vec<String> = backends[0]["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["state"] != "draining")
            .map(|e| e["address"].as_str().unwrap().to_string())
            .collect();
        members == [at("127.0.0.2").to_string(), at("127.0.0.3").to_string()]
    })
    .await;
    assert!(moved, "endpoint set did not follow DNS; log:\n{}", gw.log());
    let tally = load(&gw, 60, 4, Arc::default()).await;
    eprintln!("dns [2,3]: served {:?}", tally.served);
    eprintln!(
        "DEBUG {}",
        get(&gw.admin_url("/backends")).await.unwrap().json()
    );
    assert!(tally.errors.is_empty(), "{:?}", tally.errors);
    assert!(!tally.served.contains_key("one"), "{:?}", tally.served);
    assert!(tally.served.contains_key("two") && tally.served.contains_key("three"));
    drop(replicas);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_fails_readiness_then_drains_a_slow_request() {
    let _serial = SERIAL.lock().await;
    let replica = Replica::start("a");
    let top = "shutdown:\n  delay: 1s\n  drain_timeout: 20s\n";
    let mut gw = gateway(&[replica.addr.to_string()], "", top).await;

    let url = gw.url("/v1/echo");
    let slow =
        tokio::spawn(async move { post(&url, r#"{"delayMs":2500,"stringValue":"slow"}"#).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.terminate();

    // Readiness fails first, while the process keeps serving.
    let unready = eventually(|| async {
        matches!(get(&gw.admin_url("/readyz")).await, Ok(r) if r.status == 503)
    })
    .await;
    assert!(unready, "/readyz never failed; log:\n{}", gw.log());

    let reply = slow.await.unwrap().expect("the slow request completes");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["request"]["stringValue"], "slow");

    let status = gw.wait_exit(Duration::from_secs(20)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "gateway did not exit cleanly: {status:?}; log:\n{}",
        gw.log()
    );
    let log = gw.log();
    assert!(log.contains("readiness now fails"), "{log}");
    assert!(log.contains("drained; exiting"), "{log}");
}
