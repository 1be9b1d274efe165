//! Discovery against a third-party server: the Python grpcio backend in
//! tests/python, which speaks only `grpc.reflection.v1alpha` and serves
//! descriptors produced by protoc rather than protox.
//!
//! Needs `tests/python/setup.sh` to have run; without it the test fails (a
//! test that did not run must not pass): `--skip python` leaves it out.

mod common;
#[path = "../../switchboard/tests/support/python.rs"]
mod python_backend;

use std::time::Duration;

use common::{http_rule, reflected};
use switchboard_discovery::discover;

#[tokio::test]
async fn python_grpcio_backend_is_discovered_via_v1alpha() {
    let python = python_backend::PythonBackend::start();
    let addr = python.addr;
    let schema = discover(
        &reflected(addr),
        std::path::Path::new("."),
        Duration::from_secs(10),
    )
    .await
    .expect("discovery of the Python backend");
    assert_eq!(schema.source.as_str(), "reflection.v1alpha");
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
