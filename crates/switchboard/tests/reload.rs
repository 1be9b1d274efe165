//! End-to-end hot reload: every trigger (plain rewrite, rename-over save,
//! Kubernetes `..data` symlink swap, SIGHUP, `POST /reload`), and every way a
//! reload can go wrong without hurting what already works (broken YAML, an
//! unreachable backend, a request in flight during the swap, a route conflict).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Backend, Gateway, backend_yaml, eventually, get, post, rename_save};
use switchboard_examples::Reflection;

const HELLO: &str = "/helloworld.Greeter/SayHello";
const BOOK: &str = "/v1/shelves/1/books/1";

async fn answers(gw: &Gateway, path: &str, status: u16) -> bool {
    let r = if path == HELLO {
        post(&gw.url(path), r#"{"name":"r"}"#).await
    } else {
        get(&gw.url(path)).await
    };
    r.map(|r| r.status == status).unwrap_or(false)
}

async fn two_backends() -> (Backend, Backend) {
    (
        Backend::greeter(Reflection::V1AndV1Alpha).await,
        Backend::library(Reflection::V1AndV1Alpha).await,
    )
}

#[tokio::test]
async fn add_and_remove_backend_by_plain_rewrite() {
    let (greeter, library) = two_backends().await;
    let only_greeter = backend_yaml("greeter", greeter.addr, "");
    let both = only_greeter.clone() + &backend_yaml("library", library.addr, "");
    let gw = Gateway::start(&only_greeter).await;
    assert!(answers(&gw, BOOK, 404).await);

    let started = Instant::now();
    std::fs::write(&gw.config, gw.config_text(&both)).unwrap();
    assert!(eventually(|| answers(&gw, BOOK, 200)).await, "{}", gw.log());
    eprintln!("reload-to-serving (plain write): {:?}", started.elapsed());
    assert!(
        answers(&gw, HELLO, 200).await,
        "the other backend never notices"
    );

    std::fs::write(&gw.config, gw.config_text(&only_greeter)).unwrap();
    assert!(eventually(|| answers(&gw, BOOK, 404)).await, "{}", gw.log());
    assert!(answers(&gw, HELLO, 200).await);
    let metrics = get(&gw.admin_url("/metrics")).await.unwrap().body;
    assert!(
        metrics.contains(r#"switchboard_reloads_total{trigger="file",outcome="applied"}"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn rename_over_save_is_seen() {
    let (greeter, library) = two_backends().await;
    let only_greeter = backend_yaml("greeter", greeter.addr, "");
    let both = only_greeter.clone() + &backend_yaml("library", library.addr, "");
    let gw = Gateway::start(&only_greeter).await;
    rename_save(&gw.config, &gw.config_text(&both));
    assert!(eventually(|| answers(&gw, BOOK, 200)).await, "{}", gw.log());
    // A second rename-save: the watch survives the inode change.
    rename_save(&gw.config, &gw.config_text(&only_greeter));
    assert!(eventually(|| answers(&gw, BOOK, 404)).await, "{}", gw.log());
}

#[tokio::test]
async fn kubernetes_configmap_symlink_swap() {
    let (greeter, library) = two_backends().await;
    let only_greeter = backend_yaml("greeter", greeter.addr, "");
    let both = only_greeter.clone() + &backend_yaml("library", library.addr, "");
    // Layout of a mounted ConfigMap:
    //   switchboard.yaml -> ..data/switchboard.yaml, ..data -> ..2026_v1
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let http: std::net::SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    let admin: std::net::SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    std::fs::create_dir(root.join("..2026_v1")).unwrap();
    std::fs::write(
        root.join("..2026_v1/switchboard.yaml"),
        Gateway::render(http, admin, &only_greeter),
    )
    .unwrap();
    std::os::unix::fs::symlink("..2026_v1", root.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/switchboard.yaml", root.join("switchboard.yaml")).unwrap();
    let gw = Gateway::start_with(dir, root.join("switchboard.yaml"), http, admin).await;
    assert!(answers(&gw, BOOK, 404).await);

    // What the kubelet does: write a new timestamped dir, then atomically
    // replace ..data by renaming a temporary symlink over it.
    std::fs::create_dir(root.join("..2026_v2")).unwrap();
    std::fs::write(
        root.join("..2026_v2/switchboard.yaml"),
        Gateway::render(http, admin, &both),
    )
    .unwrap();
    std::os::unix::fs::symlink("..2026_v2", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    std::fs::remove_dir_all(root.join("..2026_v1")).unwrap();
    assert!(eventually(|| answers(&gw, BOOK, 200)).await, "{}", gw.log());
}

#[tokio::test]
async fn sighup_and_admin_reload() {
    let (greeter, library) = two_backends().await;
    let only_greeter = backend_yaml("greeter", greeter.addr, "");
    let both = only_greeter.clone() + &backend_yaml("library", library.addr, "");
    let gw = Gateway::start(&only_greeter).await;

    // SIGHUP re-reads the file and re-discovers; over unchanged bytes and an
    // unchanged API it answers `unchanged` and keeps the version.
    let v = gw.version().await;
    let status = Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let counted = eventually(|| async {
        get(&gw.admin_url("/metrics"))
            .await
            .map(|r| {
                r.body.contains(
                    r#"switchboard_reloads_total{trigger="sighup",outcome="unchanged"} 1"#,
                )
            })
            .unwrap_or(false)
    })
    .await;
    assert!(counted, "{}", gw.log());
    let s = gw.status().await;
    assert_eq!(s["version"], v);
    assert_eq!(s["last_error"], serde_json::Value::Null);

    // POST /reload answers with the outcome.
    std::fs::write(&gw.config, gw.config_text(&both)).unwrap();
    let r = post(&gw.admin_url("/reload"), "").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        ["applied", "unchanged"].contains(&r.json()["result"].as_str().unwrap()),
        "{}",
        r.body
    );
    assert!(eventually(|| answers(&gw, BOOK, 200)).await, "{}", gw.log());
    let metrics = get(&gw.admin_url("/metrics")).await.unwrap().body;
    assert!(
        metrics.contains(r#"switchboard_reloads_total{trigger="admin","#),
        "{metrics}"
    );
}

#[tokio::test]
async fn broken_config_keeps_the_live_table() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let good = backend_yaml("greeter", greeter.addr, "");
    let gw = Gateway::start(&good).await;
    let v = gw.version().await;

    // Broken YAML.
    std::fs::write(&gw.config, gw.config_text(&good) + "  - name: [unclosed\n").unwrap();
    let r = post(&gw.admin_url("/reload"), "").await.unwrap();
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["result"], "rejected");
    let err = r.json()["errors"][0].as_str().unwrap().to_string();
    assert!(
        err.contains("switchboard.yaml:"),
        "error has file:line:column: {err}"
    );
    assert!(answers(&gw, HELLO, 200).await, "old table still serves");
    let status = gw.status().await;
    assert_eq!(status["version"], v);
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains("switchboard.yaml:")
    );

    // Unknown key, with its position.
    std::fs::write(
        &gw.config,
        gw.config_text(&good).replace("listen:", "lisen:"),
    )
    .unwrap();
    let r = post(&gw.admin_url("/reload"), "").await.unwrap();
    assert_eq!(r.status, 422);
    let err = r.json()["errors"][0].as_str().unwrap().to_string();
    assert!(err.contains(":1:1:") && err.contains("lisen"), "{err}");
    assert!(answers(&gw, HELLO, 200).await);

    // The file watcher path rejects too, and is counted.
    std::fs::write(&gw.config, "backends: 7\n").unwrap();
    let rejected = eventually(|| async {
        get(&gw.admin_url("/metrics"))
            .await
            .map(|r| {
                r.body
                    .contains(r#"switchboard_reloads_total{trigger="file",outcome="rejected"}"#)
            })
            .unwrap_or(false)
    })
    .await;
    assert!(rejected, "{}", gw.log());
    assert!(answers(&gw, HELLO, 200).await);
    assert_eq!(gw.version().await, v);
}

#[tokio::test]
async fn unreachable_backend_does_not_take_others_down() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let dead = format!("127.0.0.1:{}", support::free_port());
    let backends = backend_yaml("greeter", greeter.addr, "") + &backend_yaml("ghost", &dead, "");
    let gw = Gateway::start(&backends).await;
    assert!(answers(&gw, HELLO, 200).await);
    let status = gw.status().await;
    let ghost = status["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "ghost")
        .unwrap()
        .clone();
    assert_eq!(ghost["state"], "failed");
    assert!(ghost["error"].as_str().unwrap().contains(&dead), "{ghost}");
    let metrics = get(&gw.admin_url("/metrics")).await.unwrap().body;
    assert!(
        metrics.contains(r#"switchboard_discovery_errors_total{backend="ghost"}"#),
        "{metrics}"
    );

    // A backend without reflection is reported the same way.
    let mute = Backend::library(Reflection::Off).await;
    let with_mute = backends.clone() + &backend_yaml("mute", mute.addr, "");
    std::fs::write(&gw.config, gw.config_text(&with_mute)).unwrap();
    let ok = eventually(|| async {
        let s = gw.status().await;
        s["backends"].as_array().unwrap().iter().any(|b| {
            b["name"] == "mute"
                && b["state"] == "failed"
                && b["error"].as_str().unwrap_or("").contains("reflection")
        })
    })
    .await;
    assert!(ok, "{}", gw.status().await);
    assert!(answers(&gw, HELLO, 200).await);
}

#[tokio::test]
async fn backend_that_comes_up_later_is_retried() {
    let port = support::free_port();
    let addr = format!("127.0.0.1:{port}");
    let gw = Gateway::start(&backend_yaml("late", &addr, "")).await;
    assert!(answers(&gw, HELLO, 404).await);
    // Start the backend on the announced port; the retry loop finds it.
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    tokio::spawn(switchboard_examples::serve_greeter(
        listener,
        Default::default(),
        std::future::pending::<()>(),
    ));
    assert!(
        eventually(|| answers(&gw, HELLO, 200)).await,
        "{}",
        gw.log()
    );
}

#[tokio::test]
async fn request_in_flight_during_swap_completes() {
    let (greeter, library) = two_backends().await;
    let both =
        backend_yaml("greeter", greeter.addr, "") + &backend_yaml("library", library.addr, "");
    let only_library = backend_yaml("library", library.addr, "");
    let gw = Gateway::start(&both).await;
    let v = gw.version().await;
    let url = gw.url("/v1/echo");
    let slow =
        tokio::spawn(async move { post(&url, r#"{"stringValue":"slow","delayMs":1500}"#).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Remove the greeter backend while its request is in flight.
    std::fs::write(&gw.config, gw.config_text(&only_library)).unwrap();
    gw.wait_version_after(v).await;
    assert!(answers(&gw, HELLO, 404).await, "new table is live");
    let r = slow.await.unwrap().unwrap();
    assert_eq!(
        r.status, 200,
        "in-flight request finished on its table: {}",
        r.body
    );
    assert_eq!(r.json()["request"]["stringValue"], "slow");
}

#[tokio::test]
async fn conflicts_are_reported_and_first_backend_wins() {
    let first = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let second = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let backends = backend_yaml("first", first.addr, "") + &backend_yaml("second", second.addr, "");
    let gw = Gateway::start(&backends).await;
    let status = gw.status().await;
    let conflicts = status["conflicts"].as_array().unwrap();
    assert!(
        conflicts.iter().any(|c| {
            let c = c.as_str().unwrap();
            c.contains("POST /helloworld.Greeter/SayHello")
                && c.contains("first")
                && c.contains("second")
        }),
        "{status}"
    );
    let routes = get(&gw.admin_url("/routes")).await.unwrap().json();
    let owner: Vec<_> = routes
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["template"] == HELLO)
        .map(|r| r["backend"].clone())
        .collect();
    assert_eq!(owner, vec![json!("first")]);
    // Stop the first: requests fail (they are not silently moved to the loser).
    first.stop();
    drop(first);
    let r = post(&gw.url(HELLO), r#"{"name":"x"}"#).await.unwrap();
    assert_eq!(r.status, 503, "{}", r.body);
}

#[tokio::test]
async fn openapi_document_follows_the_live_table() {
    let (greeter, library) = two_backends().await;
    let only_greeter = backend_yaml("greeter", greeter.addr, "");
    let both = only_greeter.clone() + &backend_yaml("library", library.addr, "");
    let gw = Gateway::start(&only_greeter).await;
    let doc = get(&gw.admin_url("/openapi.json")).await.unwrap().json();
    assert_eq!(doc["openapi"], "3.1.0");
    let say = &doc["paths"]["/helloworld.Greeter/SayHello"]["post"];
    assert_eq!(say["x-grpc-method"], "/helloworld.Greeter/SayHello");
    assert_eq!(
        say["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/helloworld.HelloRequest"
    );
    assert!(doc["paths"].get("/v1/{name}").is_none());

    let v = gw.version().await;
    std::fs::write(&gw.config, gw.config_text(&both)).unwrap();
    gw.wait_version_after(v).await;
    let doc = get(&gw.admin_url("/openapi.json")).await.unwrap().json();
    assert_eq!(
        doc["info"]["version"],
        format!("table-{}", gw.version().await)
    );
    let get_book = &doc["paths"]["/v1/{name}"]["get"];
    assert_eq!(get_book["x-backend"], "library");
    assert_eq!(get_book["parameters"][0]["name"], "name");
    assert_eq!(get_book["parameters"][0]["in"], "path");
    let book = &doc["components"]["schemas"]["example.library.v1.Book"];
    assert_eq!(
        book["properties"]["pageCount"],
        json!({"type": "string", "format": "int64"})
    );
    assert_eq!(
        book["properties"]["name"]["description"], "`shelves/{shelf}/books/{book}`.",
        "comments come from the descriptors' source info"
    );
    // Query parameters for a GET without body.
    let list = &doc["paths"]["/v1/{parent}/books"]["get"]["parameters"];
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["parent", "page_size", "page_token", "filter"]);

    // Per backend.
    let doc = get(&gw.admin_url("/openapi.json?backend=greeter"))
        .await
        .unwrap()
        .json();
    assert!(doc["paths"].get("/v1/{name}").is_none());
    assert!(doc["paths"].get("/helloworld.Greeter/SayHello").is_some());
}

#[tokio::test]
async fn unchanged_endpoints_keep_their_state_across_reloads() {
    let (greeter, library) = two_backends().await;
    let only_greeter = backend_yaml("greeter", greeter.addr, "");
    let both = only_greeter.clone() + &backend_yaml("library", library.addr, "");
    let gw = Gateway::start(&only_greeter).await;
    for _ in 0..3 {
        assert!(answers(&gw, HELLO, 200).await);
    }
    let requests = |backends: serde_json::Value| {
        backends
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == "greeter")
            .map(|b| b["endpoints"][0]["requests"].clone())
            .unwrap()
    };
    let before = requests(get(&gw.admin_url("/backends")).await.unwrap().json());
    assert_eq!(before, json!(3), "three calls counted");

    let v = gw.version().await;
    std::fs::write(&gw.config, gw.config_text(&both)).unwrap();
    gw.wait_version_after(v).await;
    // The greeter endpoint's state (its channel, counters and latency estimate,
    // which live together, keyed by address) survived the swap.
    let after = requests(get(&gw.admin_url("/backends")).await.unwrap().json());
    assert_eq!(after, json!(3), "state kept, not rebuilt");
    assert!(answers(&gw, HELLO, 200).await);
    let after = requests(get(&gw.admin_url("/backends")).await.unwrap().json());
    assert_eq!(after, json!(4));
}
