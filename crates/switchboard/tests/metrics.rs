//! `/metrics` as ops tools read it: the format follows `Accept` (OpenMetrics for
//! Prometheus, text 0.0.4 for `curl` and `Accept: text/plain`), checked with
//! prometheus-client's own two parsers (Python), and the series of removed
//! backends and endpoints leave.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use http::Method;
use serde_json::Value;
use support::{Backend, Gateway, backend_yaml, eventually, get, post, request};
use switchboard_examples::Reflection;

const HELLO: &str = "/helloworld.Greeter/SayHello";
/// What Prometheus 2.x sends.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// Parses `body` with prometheus-client's parser for `format` (`openmetrics` or
/// `text`). Panics when the Python virtualenv is not set up (see
/// `support::python`).
fn parse(format: &str, body: &str) -> Value {
    let python = support::venv_python();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/python/parse_metrics.py"
    );
    let mut child = Command::new(python)
        .arg(script)
        .arg(format)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the metrics parser");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the {format} parser rejected /metrics: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Checks what both parsers must agree on: counters are counters with their
/// `_total` samples, the histogram is a histogram, gauges are gauges.
fn assert_families(families: &Value, format: &str) {
    let family = |name: &str| {
        families
            .get(name)
            .unwrap_or_else(|| panic!("{format}: no family {name}: {families}"))
    };
    let reloads = family("switchboard_reloads");
    assert_eq!(reloads["type"], "counter", "{format}: {reloads}");
    let startup = reloads["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s[0] == "switchboard_reloads_total" && s[1]["trigger"] == "startup")
        .unwrap_or_else(|| panic!("{format}: {reloads}"));
    assert_eq!(startup[1]["outcome"], "applied");
    assert_eq!(startup[2], 1.0);

    let requests = family("switchboard_requests");
    assert_eq!(requests["type"], "counter", "{format}: {requests}");
    let ok = requests["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s[1]["backend"] == "greeter" && s[1]["status"] == "200")
        .unwrap_or_else(|| panic!("{format}: {requests}"));
    assert_eq!(ok[0], "switchboard_requests_total");
    assert_eq!(ok[2], 2.0);

    let latency = family("switchboard_request_duration_seconds");
    assert_eq!(latency["type"], "histogram", "{format}: {latency}");
    assert!(
        latency["samples"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s[0] == "switchboard_request_duration_seconds_count" && s[2] == 2.0),
        "{format}: {latency}"
    );
    assert_eq!(family("switchboard_table_version")["type"], "gauge");
    assert_eq!(family("switchboard_upstream_attempts")["type"], "counter");
}

#[tokio::test]
async fn format_follows_accept_and_both_parsers_read_it() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let gw = Gateway::start(&backend_yaml("greeter", greeter.addr, "")).await;
    for _ in 0..2 {
        let r = post(&gw.url(HELLO), r#"{"name":"m"}"#).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let url = gw.admin_url("/metrics");

    let om = request(Method::GET, &url, &[("accept", PROMETHEUS_ACCEPT)], None)
        .await
        .unwrap();
    assert_eq!(om.status, 200);
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);

    let plain = request(Method::GET, &url, &[("accept", "text/plain")], None)
        .await
        .unwrap();
    let curl = request(Method::GET, &url, &[("accept", "*/*")], None)
        .await
        .unwrap();
    let none = get(&url).await.unwrap();
    for text in [&plain, &curl, &none] {
        assert_eq!(text.status, 200);
        assert_eq!(
            text.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        assert_eq!(text.header("vary"), Some("Accept"));
        assert!(
            text.body
                .contains("# TYPE switchboard_reloads_total counter\n"),
            "{}",
            text.body
        );
        assert!(!text.body.contains("# EOF"), "{}", text.body);
    }

    assert_families(&parse("openmetrics", &om.body), "openmetrics");
    for text in [&plain, &none] {
        assert_families(&parse("text", &text.body), "text 0.0.4");
    }
}

/// The `/metrics` sample lines (0.0.4) that mention `needle`.
async fn series_with(gw: &Gateway, needle: &str) -> Vec<String> {
    get(&gw.admin_url("/metrics"))
        .await
        .unwrap()
        .body
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(needle))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn series_of_removed_backends_and_endpoints_disappear() {
    let greeter = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let second = Backend::greeter(Reflection::V1AndV1Alpha).await;
    let library = Backend::library(Reflection::V1AndV1Alpha).await;
    let two_endpoints = format!(
        "  - name: greeter\n    endpoints: [\"{}\", \"{}\"]\n",
        greeter.addr, second.addr
    );
    let all = two_endpoints.clone() + &backend_yaml("lib", library.addr, "");
    let gw = Gateway::start(&all).await;
    for _ in 0..4 {
        let r = post(&gw.url(HELLO), r#"{"name":"m"}"#).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = get(&gw.url("/v1/shelves/1/books/1")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let lib = series_with(&gw, r#"backend="lib""#).await;
    for name in [
        "switchboard_backend_discovered{",
        "switchboard_requests_total{",
        "switchboard_request_duration_seconds_count{",
        "switchboard_upstream_attempts_total{",
        "switchboard_upstream_in_flight{",
    ] {
        assert!(
            lib.iter().any(|l| l.starts_with(name)),
            "{name} missing: {lib:#?}"
        );
    }
    let second_ep = format!(r#"endpoint="{}""#, second.addr);
    assert!(!series_with(&gw, &second_ep).await.is_empty());

    // Remove the `lib` backend and one of greeter's endpoints.
    let v = gw.version().await;
    std::fs::write(
        &gw.config,
        gw.config_text(&backend_yaml("greeter", greeter.addr, "")),
    )
    .unwrap();
    gw.wait_version_after(v).await;
    let gone = eventually(|| async {
        series_with(&gw, r#"backend="lib""#).await.is_empty()
            && series_with(&gw, &second_ep).await.is_empty()
    })
    .await;
    assert!(
        gone,
        "{:#?}\n{:#?}",
        series_with(&gw, r#"backend="lib""#).await,
        series_with(&gw, &second_ep).await
    );
    // What stays keeps counting.
    let first_ep = format!(r#"endpoint="{}""#, greeter.addr);
    assert!(!series_with(&gw, &first_ep).await.is_empty());
    assert!(
        !series_with(&gw, r#"switchboard_requests_total{backend="greeter""#)
            .await
            .is_empty()
    );
    let r = post(&gw.url(HELLO), r#"{"name":"m"}"#).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
}
