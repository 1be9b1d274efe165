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
