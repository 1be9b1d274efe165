//! `switchboard check`: validation errors with file:line:column and a non-zero
//! exit; `--discover` prints the route table it would serve.

mod support;

use std::process::Command;

use support::{Backend, backend_yaml, switchboard_bin};
use switchboard_examples::Reflection;

fn check(config: &std::path::Path, discover: bool) -> (i32, String) {
    let mut cmd = Command::new(switchboard_bin());
    cmd.args(["check", "--config"]).arg(config);
    if discover {
        cmd.arg("--discover");
    }
    let out = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn reports_errors_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "listen: 127.0.0.1:8080\nbackends:\n  - name: a\n    endpoints: [\"nohost\"]\n  - name: a\n    endpoints: [\"127.0.0.1:1\"]\n",
    )
    .unwrap();
    let (code, out) = check(&path, false);
    assert_ne!(code, 0, "{out}");
    let file = path.display().to_string();
    assert!(
        out.contains(&format!("{file}:4:")),
        "endpoint error has a position: {out}"
    );
    assert!(
        out.contains(&format!("{file}:5:")),
        "duplicate name has a position: {out}"
    );

    std::fs::write(&path, "listen: 127.0.0.1:8080\nbogus: 1\n").unwrap();
    let (code, out) = check(&path, false);
    assert_ne!(code, 0);
    assert!(
        out.contains(&format!("{file}:2:1:")) && out.contains("bogus"),
        "{out}"
    );

    let (code, out) = check(&dir.path().join("missing.yaml"), false);
    assert_ne!(code, 0, "{out}");
}

#[tokio::test]
async fn discover_prints_routes() {
    let library = Backend::library(Reflection::V1AlphaOnly).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.yaml");
    std::fs::write(
        &path,
        format!("backends:\n{}", backend_yaml("library", library.addr, "")),
    )
    .unwrap();
    let path2 = path.clone();
    let (code, out) = tokio::task::spawn_blocking(move || check(&path2, true))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("reflection.v1alpha"), "{out}");
    assert!(
        out.contains("GET     /v1/{name=shelves/*/books/*}"),
        "{out}"
    );
    assert!(
        out.contains("/example.library.v1.LibraryService/GetBook"),
        "{out}"
    );

    // A dead backend fails the check.
    let dead = format!("127.0.0.1:{}", support::free_port());
    std::fs::write(
        &path,
        format!("backends:\n{}", backend_yaml("dead", dead, "")),
    )
    .unwrap();
    let (code, out) = tokio::task::spawn_blocking(move || check(&path, true))
        .await
        .unwrap();
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("backend dead: FAILED"), "{out}");
}

#[test]
fn reports_every_mistake_in_the_file() {
    // Seven mistakes: four unknown keys, two values of the wrong type, one invalid value.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seven.yaml");
    std::fs::write(
        &path,
        "\
lisen: 0.0.0.0:8080
limits:
  max_body: 1
discovery:
  timeout: soon
reload:
  debounce: 1s
  bogus: true
backends:
  - name: a
    endpoints: [\"127.0.0.1:1\"]
    timeot: 1s
    panic_threshold: many
    json:
      strict: maybe
",
    )
    .unwrap();
    let (code, out) = check(&path, false);
    assert_ne!(code, 0, "{out}");
    let file = path.display().to_string();
    let positions: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{file}:")))
        .filter_map(|l| l.split(": ").next())
        .collect();
    assert_eq!(
        positions,
        ["1:1", "3:3", "5:12", "8:3", "12:5", "13:22", "15:15"],
        "{out}"
    );
    assert!(out.contains("7 error(s)"), "{out}");
    for needle in [
        "unknown key `lisen`",
        "unknown key `max_body`",
        "invalid discovery.timeout `soon`",
        "unknown key `bogus`",
        "unknown key `timeot`",
        "expected `true` or `false`",
    ] {
        assert!(out.contains(needle), "{needle}: {out}");
    }
}

#[test]
fn checks_the_runtime_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runtime.yaml");
    let file = path.display().to_string();
    std::fs::write(&path, "runtime:\n  model: fibers\n  workers: 2\n").unwrap();
    let (code, out) = check(&path, false);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains(&format!("{file}:2:10:")) && out.contains("unknown model `fibers`"),
        "{out}"
    );
    assert!(
        out.contains("shared, workers"),
        "the choices are listed: {out}"
    );

    std::fs::write(&path, "runtime:\n  model: workers\n  workers: 100000\n").unwrap();
    let (code, out) = check(&path, false);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(&format!("{file}:3:12:")), "{out}");

    std::fs::write(&path, "runtime:\n  model: workers\n  workers: 2\n").unwrap();
    let (code, out) = check(&path, false);
    assert_eq!(code, 0, "{out}");
}
