//! Discovery against a third-party server: the Python grpcio backend in
//! tests/python, which speaks only `grpc.reflection.v1alpha` and serves
//! descriptors produced by protoc rather than protox.
//!
//! Needs `tests/python/setup.sh` to have run. Without it the test is skipped
//! with a message, unless `SWITCHBOARD_REQUIRE_PYTHON=1` (set in CI), in which
//! case a missing environment is a failure.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::{http_rule, reflected};
use switchboard_discovery::discover;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts the Python server on a free port; `None` when the environment is not
/// set up (and not required).
async fn start_python_server() -> Option<(Child, std::net::SocketAddr)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    let stubs = root.join("tests/python/gen/inventory_pb2_grpc.py");
    if !python.exists() || !stubs.exists() {
        let message = "Python test backend not set up (.venv or generated stubs missing); \
                       run tests/python/setup.sh";
        if std::env::var("SWITCHBOARD_REQUIRE_PYTHON").as_deref() == Ok("1") {
            panic!("{message} (SWITCHBOARD_REQUIRE_PYTHON=1)");
        }
        eprintln!("skipping: {message}");
        return None;
    }
    let mut child = Command::new(python)
        .arg(root.join("tests/python/inventory_server.py"))
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the Python server");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the Python server did not start within 30s")
        .expect("read the Python server's output")
        .expect("the Python server exited before listening");
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from the Python server: {line:?}"))
        .parse()
        .expect("an address");
    Some((child, addr))
}

#[tokio::test]
async fn python_grpcio_backend_is_discovered_via_v1alpha() {
    let Some((_child, addr)) = start_python_server().await else {
        return;
    };
    let schema = discover(
        &reflected(addr),
        std::path::Path::new("."),
        Duration::from_secs(10),
    )
    .await
    .expect("discovery of the Python backend");
    assert_eq!(schema.source, "reflection.v1alpha");
    let service = "py.inventory.v1.InventoryService";
    assert!(
        schema.services.contains(&service.to_owned()),
        "{:?}",
        schema.services
    );
    assert!(
        schema
            .services
            .contains(&"grpc.health.v1.Health".to_owned()),
        "{:?}",
        schema.services
    );
    assert_eq!(
        http_rule(&schema.pool, service, "GetItem"),
        Some(("get".into(), "/v1/items/{id}".into()))
    );
    assert_eq!(
        http_rule(&schema.pool, service, "CreateItem"),
        Some(("post".into(), "/v1/items".into()))
    );
    // The custom error detail is described, so the gateway can decode it.
    assert!(
        schema
            .pool
            .get_message_by_name("py.inventory.v1.InventoryError")
            .is_some()
    );
}
