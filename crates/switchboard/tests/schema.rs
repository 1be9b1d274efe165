//! End-to-end: the schema-aware gateway. A backend redeployed with the next
//! version of its proto is served after its `refresh` with no config change and
//! no SIGHUP; refreshes that find nothing new publish nothing; `/reloads` lists
//! what each reload changed; every endpoint is discovered and replicas on
//! different versions show; `check --against` diffs against a running
//! gateway; the listen port answers reflection for everything exposed.
//!
//! The backends are test-local tonic servers whose protos are compiled in the
//! test (`support::versioned`), restarted on the same port as a deploy would.

mod support;

use std::time::Instant;

use support::versioned::{V1, V2, Versioned};
use support::{Gateway, backend_yaml, eventually, get, post};

/// The value of the `/metrics` sample whose line has all of `labels`.
async fn sample(gw: &Gateway, name: &str, labels: &[&str]) -> f64 {
    let text = get(&gw.admin_url("/metrics")).await.unwrap().body;
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_redeployed_backend_is_served_after_the_refresh() {
    let v1 = Versioned::start("v1", V1).await;
    let addr = v1.addr;
    let gw = Gateway::start(&backend_yaml("greeter", addr, "refresh: 1s")).await;
    let hello = gw.url("/demo.Greeter/Hello");
    let goodbye = gw.url("/demo.Greeter/Goodbye");

    let r = post(&hello, r#"{"name":"ada","title":"dr"}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    // v1 has no `title`: the gateway's JSON mapping drops it, nothing unknown arrives.
    assert_eq!(r.json()["message"], "Hello ada");
    assert_eq!(r.json()["servedBy"], "v1");
    assert_eq!(r.json()["unknownFields"], serde_json::json!([]));
    let r = post(&goodbye, r#"{"name":"ada"}"#).await.unwrap();
    assert_eq!(r.status, 404, "{}", r.body);

    // Refreshes that find the same descriptors publish nothing and log nothing
    // above debug.
    let version = gw.version().await;
    let quiet_from = gw.log().len();
    let unchanged = r#"trigger="refresh",outcome="unchanged""#;
    assert!(
        eventually(|| async {
            sample(&gw, "switchboard_reloads_total", &[unchanged]).await >= 2.0
        })
        .await,
        "no refresh ran\n{}",
        gw.log()
    );
    assert_eq!(gw.version().await, version, "a refresh swapped the table");
    let during = gw.log()[quiet_from..].to_owned();
    assert!(
        !during.contains("INFO") && !during.contains("WARN"),
        "unchanged refreshes logged:\n{during}"
    );

    // The deploy: v1 goes away, v2 takes its port. No config edit, no SIGHUP.
    v1.stop();
    drop(v1);
    let v2 = Versioned::start_on(addr, "v2", V2).await;
    let deployed = Instant::now();
    let served = eventually(|| async {
        post(&goodbye, r#"{"name":"ada","title":"dr"}"#)
            .await
            .is_ok_and(|r| r.status == 200)
    })
    .await;
    let took = deployed.elapsed();
    assert!(served, "the new method was never served\n{}", gw.log());
    eprintln!(
        "refresh-to-serving: {} ms after the new version started listening (refresh: 1s)",
        took.as_millis()
    );
    let r = post(&goodbye, r#"{"name":"ada","title":"dr"}"#)
        .await
        .unwrap();
    assert_eq!(r.json()["message"], "Goodbye dr ada", "{}", r.body);
    assert_eq!(r.json()["servedBy"], "v2");
    // The new field reaches the new version on the old method too.
    let r = post(&hello, r#"{"name":"ada","title":"dr"}"#)
        .await
        .unwrap();
    assert_eq!(r.json()["message"], "Hello dr ada", "{}", r.body);
    assert_eq!(r.json()["unknownFields"], serde_json::json!([]));
    assert_eq!(gw.version().await, version + 1, "one swap for one new API");
    let applied = r#"trigger="refresh",outcome="applied""#;
    assert_eq!(
        sample(&gw, "switchboard_reloads_total", &[applied]).await,
        1.0
    );
    // The history: the refresh's record lists the added method; the unchanged
    // refreshes before it left none.
    let reloads = get(&gw.admin_url("/reloads")).await.unwrap().json();
    let records = reloads.as_array().unwrap();
    assert_eq!(records.len(), 2, "{reloads}");
    let newest = &records[0];
    assert_eq!(newest["trigger"], "refresh", "{reloads}");
    assert_eq!(newest["outcome"], "applied");
    assert_eq!(newest["version"], version + 1);
    let added: Vec<&str> = newest["diff"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["grpc_method"].as_str().unwrap())
        .collect();
    assert_eq!(added, ["/demo.Greeter/Goodbye"], "{reloads}");
    assert_eq!(newest["diff"]["removed"], serde_json::json!([]));
    assert_eq!(records[1]["trigger"], "startup");
    assert!(
        gw.log()
            .contains("+POST /demo.Greeter/Goodbye (greeter /demo.Greeter/Goodbye)"),
        "the diff is not logged\n{}",
        gw.log()
    );
    drop(v2);
}

/// A replica that appears through DNS is discovered when it appears, not at the
/// next refresh (here there is none: `refresh: off`).
#[tokio::test]
async fn a_replica_appearing_through_dns_is_discovered_at_once() {
    use std::net::{IpAddr, SocketAddr};
    use support::balance::DnsServer;
    // DNS gives addresses, the port is fixed: one port on two loopback addresses.
    let port = support::free_port();
    let at = |ip: &str| format!("{ip}:{port}").parse::<SocketAddr>().unwrap();
    let old = Versioned::start_on(at("127.0.0.1"), "v1", V1).await;
    let new = Versioned::start_on(at("127.0.0.2"), "v2", V2).await;
    let dns = DnsServer::start().await;
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    dns.set("greeter.test.internal", &[ip("127.0.0.1")]);

    let backend = format!(
        "  - name: greeter\n    endpoints: [\"dns:///greeter.test.internal:{port}\"]\n    refresh: off\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.yaml");
    let http: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    let admin: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    let top = format!(
        "upstream:\n  dns:\n    nameservers: [\"{}\"]\n    refresh: 200ms\n",
        dns.addr
    );
    let text = format!("{}{top}", Gateway::render(http, admin, &backend));
    std::fs::write(&config, text).unwrap();
    let gw = Gateway::start_with(dir, config, http, admin).await;
    let goodbye = gw.url("/demo.Greeter/Goodbye");
    assert_eq!(post(&goodbye, "{}").await.unwrap().status, 404);

    // The rollout replaces the replica; DNS follows.
    dns.set("greeter.test.internal", &[ip("127.0.0.2")]);
    let served = eventually(|| async {
        post(&goodbye, r#"{"name":"ada"}"#)
            .await
            .is_ok_and(|r| r.status == 200 && r.json()["servedBy"] == "v2")
    })
    .await;
    assert!(
        served,
        "the new replica's API was not discovered\n{}",
        gw.log()
    );
    let trigger = r#"trigger="endpoints",outcome="applied""#;
    assert!(sample(&gw, "switchboard_reloads_total", &[trigger]).await >= 1.0);
    drop((old, new));
}

/// Two replicas of one backend on different versions: every endpoint is
/// discovered, the skew shows in `/backends` (each endpoint's digest), `/routes`
/// (which endpoints serve each route), `/status`, the skew metric and one log
/// line; it clears when the replicas agree again.
#[tokio::test]
async fn replicas_on_different_versions_are_visible() {
    let old = Versioned::start("old", V1).await;
    let new = Versioned::start("new", V2).await;
    let (old_addr, new_addr) = (old.addr.to_string(), new.addr.to_string());
    let backend = format!(
        "  - name: greeter\n    endpoints: [\"{old_addr}\", \"{new_addr}\"]\n    refresh: 500ms\n"
    );
    let gw = Gateway::start(&backend).await;

    let backends = get(&gw.admin_url("/backends")).await.unwrap().json();
    let endpoints = backends[0]["endpoints"].as_array().unwrap();
    let schema_of = |addr: &str| {
        endpoints
            .iter()
            .find(|e| e["address"] == addr)
            .map(|e| e["schema"].as_str().unwrap_or_default().to_owned())
            .unwrap()
    };
    let (old_digest, new_digest) = (schema_of(&old_addr), schema_of(&new_addr));
    assert_eq!(old_digest.len(), 16, "{backends}");
    assert_ne!(old_digest, new_digest, "{backends}");

    let status = gw.status().await;
    let per_endpoint = &status["backends"][0]["endpoint_schemas"];
    assert_eq!(per_endpoint[0]["digest"], old_digest.as_str(), "{status}");
    assert_eq!(per_endpoint[1]["digest"], new_digest.as_str(), "{status}");

    let routes = get(&gw.admin_url("/routes")).await.unwrap().json();
    let hello = routes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["grpc_method"] == "/demo.Greeter/Hello")
        .unwrap_or_else(|| panic!("{routes}"));
    assert_eq!(hello["endpoints"], serde_json::json!([old_addr, new_addr]));

    assert_eq!(
        sample(&gw, "switchboard_backends_schema_skew", &[]).await,
        1.0
    );
    let warned = "endpoints of one backend serve different schemas";
    assert_eq!(gw.log().matches(warned).count(), 1, "{}", gw.log());

    // The rollout completes: the old replica is replaced by the new version.
    let addr = old.addr;
    drop(old);
    let replaced = Versioned::start_on(addr, "new-2", V2).await;
    let agreed =
        eventually(|| async { sample(&gw, "switchboard_backends_schema_skew", &[]).await == 0.0 })
            .await;
    assert!(agreed, "skew never cleared\n{}", gw.log());
    assert!(
        gw.log()
            .contains("endpoints of the backend serve one schema again")
    );
    // Still one warning: refreshes in between did not repeat it.
    assert_eq!(gw.log().matches(warned).count(), 1, "{}", gw.log());
    drop((new, replaced));
}

/// `switchboard check --discover --against ADMIN` prints what a reload to the
/// checked config would change in a running gateway's table.
#[tokio::test]
async fn check_prints_the_diff_against_a_running_gateway() {
    let v1 = Versioned::start("v1", V1).await;
    let v2 = Versioned::start("v2", V2).await;
    let gw = Gateway::start(&backend_yaml("greeter", v1.addr, "")).await;
    let next = gw.dir.path().join("next.yaml");
    std::fs::write(&next, gw.config_text(&backend_yaml("greeter", v2.addr, ""))).unwrap();
    let admin = format!("http://{}", gw.admin);
    let bin = support::switchboard_bin();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args(["check", "--config"])
            .arg(&next)
            .args(["--discover", "--against", &admin])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("+ POST") && l.contains("/demo.Greeter/Goodbye"))
        .unwrap_or_else(|| panic!("no added route in:\n{stdout}"));
    assert!(
        added.ends_with("-> greeter /demo.Greeter/Goodbye"),
        "{added}"
    );
    assert!(stdout.contains("live version 1"), "{stdout}");
    // Nothing else changes: Hello is the same route on the same backend.
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("  + ") || l.starts_with("  - "))
            .count(),
        1,
        "{stdout}"
    );

    // A gateway that is not there is an error, not an empty diff.
    let bin = support::switchboard_bin();
    let config = gw.config.clone();
    let nowhere = format!("http://127.0.0.1:{}", support::free_port());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args(["check", "--config"])
            .arg(&config)
            .args(["--discover", "--against", &nowhere])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot reach the gateway's admin listener"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Reflection through the gateway's listen port (v1 and v1alpha): the union of
/// every backend's exposed services, with their methods, and no excluded one.
#[tokio::test]
async fn reflection_on_the_listen_port_lists_what_is_exposed() {
    use support::versioned::INTERNAL;
    let with_hidden =
        format!("{V2}\nservice Hidden {{ rpc Peek(HelloRequest) returns (Reply); }}\n");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let demo = Versioned::serve(
        listener,
        "demo",
        &[
            ("greeter.proto", &with_hidden),
            ("internal.proto", INTERNAL),
        ],
    )
    .await;
    let hello = support::Backend::greeter(switchboard_examples::Reflection::V1AndV1Alpha).await;
    let backends = format!(
        "{}{}",
        backend_yaml(
            "demo",
            demo.addr,
            "services: {exclude: [\"demo.Hidden\", \"demo.internal.*\"]}"
        ),
        backend_yaml("hello", hello.addr, "")
    );
    let gw = Gateway::start(&backends).await;
    let url = format!("http://{}", gw.http);

    let v1 = reflect::v1(&url, "demo.Greeter").await;
    let v1alpha = reflect::v1alpha(&url, "demo.Greeter").await;
    for (protocol, (services, file)) in [("v1", v1), ("v1alpha", v1alpha)] {
        let services = services.unwrap_or_else(|s| panic!("{protocol}: {s:?}\n{}", gw.log()));
        assert!(
            services.contains(&"demo.Greeter".to_owned()),
            "{protocol}: {services:?}"
        );
        assert!(
            services.contains(&"helloworld.Greeter".to_owned()),
            "{protocol}: {services:?}"
        );
        assert!(
            !services
                .iter()
                .any(|s| s.starts_with("demo.internal") || s == "demo.Hidden"),
            "{protocol}: excluded services listed: {services:?}"
        );
        // The file has the exposed service with its methods, not the hidden one.
        let file = file.unwrap_or_else(|s| panic!("{protocol}: {s:?}"));
        let services: Vec<(&str, Vec<&str>)> = file
            .service
            .iter()
            .map(|s| (s.name(), s.method.iter().map(|m| m.name()).collect()))
            .collect();
        assert_eq!(
            services,
            [("Greeter", vec!["Hello", "Goodbye"])],
            "{protocol}"
        );
    }
    // A symbol of an excluded service is not found.
    let (_, hidden) = reflect::v1(&url, "demo.Hidden").await;
    assert!(hidden.is_err(), "demo.Hidden was described: {hidden:?}");
    drop((demo, hello));
}

/// Reflection clients for both protocol versions (tonic-reflection's stubs):
/// `ListServices`, then the file defining `symbol`.
mod reflect {
    use prost::Message;
    use prost_types::FileDescriptorProto;
    use tonic::Status;

    type Answer = (
        Result<Vec<String>, Status>,
        Result<FileDescriptorProto, Status>,
    );

    macro_rules! client {
        ($name:ident, $pb:path) => {
            pub(crate) async fn $name(url: &str, symbol: &str) -> Answer {
                use pb::server_reflection_client::ServerReflectionClient;
                use pb::server_reflection_request::MessageRequest;
                use pb::server_reflection_response::MessageResponse;
                use $pb as pb;
                let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
                let client = ServerReflectionClient::new(channel);
                let ask = |request| pb::ServerReflectionRequest {
                    host: String::new(),
                    message_request: Some(request),
                };
                let one = |request| {
                    let mut client = client.clone();
                    let request = ask(request);
                    async move {
                        let mut stream = client
                            .server_reflection_info(tokio_stream::iter([request]))
                            .await?
                            .into_inner();
                        match stream.message().await?.and_then(|r| r.message_response) {
                            Some(response) => Ok(response),
                            None => Err(Status::unknown("no answer")),
                        }
                    }
                };
                let services = match one(MessageRequest::ListServices(String::new())).await {
                    Ok(MessageResponse::ListServicesResponse(list)) => {
                        Ok(list.service.into_iter().map(|s| s.name).collect())
                    }
                    Ok(other) => Err(Status::unknown(format!("{other:?}"))),
                    Err(s) => Err(s),
                };
                let file = match one(MessageRequest::FileContainingSymbol(symbol.into())).await {
                    Ok(MessageResponse::FileDescriptorResponse(files)) => files
                        .file_descriptor_proto
                        .first()
                        .map(|raw| FileDescriptorProto::decode(raw.as_slice()).unwrap())
                        .ok_or_else(|| Status::unknown("no file")),
                    Ok(other) => Err(Status::unknown(format!("{other:?}"))),
                    Err(s) => Err(s),
                };
                (services, file)
            }
        };
    }

    client!(v1, tonic_reflection::pb::v1);
    client!(v1alpha, tonic_reflection::pb::v1alpha);
}

/// Two replicas on different versions behind one backend: a method only the
/// new version has goes only to the new replica; a method both have goes to
/// both; once the new replica is gone, the new method answers 503 UNAVAILABLE
/// (not 404, not the old replica's UNIMPLEMENTED).
#[tokio::test]
async fn a_method_goes_only_to_replicas_whose_schema_has_it() {
    let new = Versioned::start("new", V2).await;
    let old = Versioned::start("old", V1).await;
    // The first endpoint's schema routes the backend; round robin makes "both"
    // deterministic.
    let backend = format!(
        "  - name: greeter\n    endpoints: [\"{}\", \"{}\"]\n    balancing: round_robin\n    refresh: 500ms\n",
        new.addr, old.addr
    );
    let gw = Gateway::start(&backend).await;
    let goodbye = gw.url("/demo.Greeter/Goodbye");
    let hello = gw.url("/demo.Greeter/Hello");
    let mut served = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..10 {
        let r = post(&goodbye, r#"{"name":"ada"}"#).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        *served
            .entry(r.json()["servedBy"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(
        served.into_iter().collect::<Vec<_>>(),
        [("new".to_owned(), 10)]
    );
    let mut served = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..10 {
        let r = post(&hello, r#"{"name":"ada"}"#).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        *served
            .entry(r.json()["servedBy"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(
        served.len() == 2,
        "the old method did not reach both: {served:?}"
    );

    // The only replica with the new method goes away. It drains gracefully
    // (GOAWAY on each of the gateway's connections to it: the shared one and
    // one per worker), so a call on a connection that has not seen its GOAWAY
    // yet may still be answered: gone means every call of a burst fails.
    drop(new);
    let gone = eventually(|| async {
        for _ in 0..8 {
            let answered = post(&goodbye, r#"{"name":"ada"}"#)
                .await
                .is_ok_and(|r| r.status == 200);
            if answered {
                return false;
            }
        }
        true
    })
    .await;
    assert!(gone, "the stopped replica kept answering");
    // Never the old replica's UNIMPLEMENTED, now and after refreshes.
    for _ in 0..5 {
        let r = post(&goodbye, r#"{"name":"ada"}"#).await.unwrap();
        assert_eq!(r.status, 503, "{}", r.body);
        assert_eq!(r.json()["code"], 14, "{}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    // The old method is still served (by the old replica).
    assert!(
        eventually(|| async {
            post(&hello, r#"{"name":"ada"}"#)
                .await
                .is_ok_and(|r| r.status == 200 && r.json()["servedBy"] == "old")
        })
        .await
    );
    drop(old);
}

/// Each answer to `Hello {name: ada, title: dr}` from a round-robin backend,
/// over the HTTP/JSON mapping (`connect: false`) or Connect's JSON codec.
async fn hellos(gw: &Gateway, connect: bool, n: usize) -> Vec<serde_json::Value> {
    let url = gw.url("/demo.Greeter/Hello");
    let headers: &[(&str, &str)] = if connect {
        &[
            ("content-type", "application/json"),
            ("connect-protocol-version", "1"),
        ]
    } else {
        &[("content-type", "application/json")]
    };
    let mut answers = Vec::new();
    for _ in 0..n {
        let r = support::request(
            http::Method::POST,
            &url,
            headers,
            Some(r#"{"name":"ada","title":"dr"}"#),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        answers.push(r.json());
    }
    answers
}

/// Two replicas of one backend, the old and the new version of its proto (the
/// new one adds a request field `title` and a response field `build`), in
/// either order in the config: every request is encoded with the schema of
/// the replica that takes it, and its response decoded with that replica's.
/// The old replica never receives the new field's bytes (it would report
/// field 2 as unknown); the new one gets the field and its answer shows
/// `build`, over the HTTP/JSON mapping and Connect alike.
#[tokio::test]
async fn requests_are_encoded_for_the_replica_that_takes_them() {
    for new_first in [false, true] {
        let old = Versioned::start("old", V1).await;
        let new = Versioned::start("new", V2).await;
        let (a, b) = if new_first {
            (new.addr, old.addr)
        } else {
            (old.addr, new.addr)
        };
        let backend = format!(
            "  - name: greeter\n    endpoints: [\"{a}\", \"{b}\"]\n    balancing: round_robin\n    refresh: off\n"
        );
        let gw = Gateway::start(&backend).await;
        for connect in [false, true] {
            let answers = hellos(&gw, connect, 8).await;
            let by = |tag: &str| {
                answers
                    .iter()
                    .filter(|a| a["servedBy"] == tag)
                    .collect::<Vec<_>>()
            };
            let (from_old, from_new) = (by("old"), by("new"));
            let case = format!("new first: {new_first}, connect: {connect}");
            assert!(
                !from_old.is_empty() && !from_new.is_empty(),
                "{case}: not both replicas answered: {answers:?}"
            );
            for a in from_new {
                assert_eq!(a["message"], "Hello dr ada", "{case}: {a}");
                assert_eq!(
                    a["build"], "v2",
                    "{case}: the new response field is lost: {a}"
                );
                assert!(
                    a["unknownFields"].as_array().is_none_or(|u| u.is_empty()),
                    "{case}: {a}"
                );
            }
            for a in from_old {
                assert_eq!(a["message"], "Hello ada", "{case}: {a}");
                assert!(
                    a["unknownFields"].as_array().is_none_or(|u| u.is_empty()),
                    "{case}: the old replica received the new field: {a}"
                );
                assert!(a.get("build").is_none(), "{case}: {a}");
            }
        }
        drop((old, new, gw));
    }
}

/// A retry stays in the schema group of the first attempt (its bytes were
/// encoded for that schema): with the only new replica gone, a request the
/// balancer gave it fails with UNAVAILABLE rather than being retried on the
/// old replica.
#[tokio::test]
async fn a_retry_does_not_leave_the_schema_group() {
    let old = Versioned::start("old", V1).await;
    let new = Versioned::start("new", V2).await;
    let backend = format!(
        "  - name: greeter\n    endpoints: [\"{}\", \"{}\"]\n    balancing: round_robin\n    refresh: off\n",
        old.addr, new.addr
    );
    let gw = Gateway::start(&backend).await;
    // Both replicas answer while both run.
    let answers = hellos(&gw, false, 4).await;
    assert!(
        answers.iter().any(|a| a["servedBy"] == "new"),
        "{answers:?}"
    );

    // The new replica goes away (connection refused: a failure retried on
    // another endpoint, were there one of its schema).
    new.stop();
    drop(new);
    // Its connection drains first; then a call the balancer gives it fails
    // and is not retried on the old replica, whose schema is another.
    let url = gw.url("/demo.Greeter/Hello");
    let failed = eventually(|| async {
        let r = post(&url, r#"{"name":"ada","title":"dr"}"#).await.unwrap();
        match r.status {
            200 => false,
            503 => {
                assert_eq!(r.json()["code"], 14, "{}", r.body);
                true
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
    })
    .await;
    assert!(
        failed,
        "every call to the gone replica was retried elsewhere\n{}",
        gw.log()
    );
    let retried = sample(&gw, "switchboard_upstream_retries_total", &["retried"]).await;
    assert_eq!(retried, 0.0, "a retry left its schema group");
    let kept = sample(
        &gw,
        "switchboard_upstream_retries_total",
        &["no_other_endpoint"],
    )
    .await;
    assert!(kept >= 1.0, "no retry was declined");
    drop(old);
}

/// Two backends define the same file name with different contents: the
/// conflict is in `/status` and logged once, and reflection on the listen port
/// serves the first-listed backend's file.
#[tokio::test]
async fn a_file_name_two_backends_define_differently_is_reported() {
    let other = r#"
syntax = "proto3";
package other;
service Greeter { rpc Hi(Ping) returns (Ping); }
message Ping { string text = 1; }
"#;
    let first = Versioned::start("first", V1).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = Versioned::serve(listener, "second", &[("greeter.proto", other)]).await;
    let backends = format!(
        "{}{}",
        backend_yaml("first", first.addr, "refresh: 300ms"),
        backend_yaml("second", second.addr, "refresh: 300ms")
    );
    let gw = Gateway::start(&backends).await;
    let status = gw.status().await;
    assert_eq!(
        status["file_conflicts"],
        serde_json::json!([{"file": "greeter.proto", "kept": "first", "ignored": "second"}]),
        "{status}"
    );
    // Reflection serves the first-listed backend's file under that name.
    let url = format!("http://{}", gw.http);
    let (_, file) = reflect::v1(&url, "demo.Greeter").await;
    let file = file.unwrap_or_else(|s| panic!("{s:?}"));
    assert_eq!(file.name(), "greeter.proto");
    assert_eq!(file.package(), "demo");
    // Logged once, not again by the refreshes or the reflection builds since.
    let logged = "two backends define this file differently";
    let unchanged = r#"trigger="refresh",outcome="unchanged""#;
    assert!(
        eventually(|| async {
            sample(&gw, "switchboard_reloads_total", &[unchanged]).await >= 2.0
        })
        .await
    );
    assert_eq!(gw.log().matches(logged).count(), 1, "{}", gw.log());
    drop((first, second));
}
