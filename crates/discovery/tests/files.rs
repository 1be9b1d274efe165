//! Discovery from files: a serialized descriptor set and `.proto` sources
//! compiled with protox (including imports of the bundled google/api protos).

mod common;

use std::path::PathBuf;

use common::{backend, http_rule, temp_dir};
use switchboard_config::DescriptorSource;
use switchboard_discovery::{DiscoveryError, discover, schema_from_descriptor_set};

const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[tokio::test]
async fn descriptor_set_file_with_relative_path() {
    let dir = temp_dir("fds");
    std::fs::write(
        dir.join("api.binpb"),
        switchboard_examples::LIBRARY_DESCRIPTOR_SET,
    )
    .unwrap();
    let config = backend(
        vec!["127.0.0.1:1".into()],
        DescriptorSource::DescriptorSet(PathBuf::from("api.binpb")),
    );
    let schema = discover(&config, &dir, TIMEOUT).await.expect("discovery");
    assert_eq!(schema.source.as_str(), "descriptor_set");
    assert_eq!(schema.services, ["example.library.v1.LibraryService"]);
    assert_eq!(
        http_rule(
            &schema.pool,
            "example.library.v1.LibraryService",
            "CreateBook"
        ),
        Some(("post".into(), "/v1/{parent=shelves/*}/books".into()))
    );
    // Same bytes, same digest, whichever way they arrive.
    let in_memory =
        schema_from_descriptor_set(switchboard_examples::LIBRARY_DESCRIPTOR_SET).unwrap();
    assert_eq!(in_memory.digest, schema.digest);
}

#[tokio::test]
async fn missing_or_garbage_descriptor_set_is_reported() {
    let dir = temp_dir("fds-bad");
    let missing = backend(
        vec![],
        DescriptorSource::DescriptorSet(PathBuf::from("nope.binpb")),
    );
    let err = discover(&missing, &dir, TIMEOUT)
        .await
        .expect_err("missing");
    assert!(matches!(err, DiscoveryError::Read { .. }), "got {err:?}");
    assert!(err.to_string().contains("nope.binpb"), "{err}");

    std::fs::write(dir.join("junk.binpb"), b"\xff\xff\xff not protobuf").unwrap();
    let junk = backend(
        vec![],
        DescriptorSource::DescriptorSet(PathBuf::from("junk.binpb")),
    );
    let err = discover(&junk, &dir, TIMEOUT).await.expect_err("junk");
    assert!(matches!(err, DiscoveryError::Descriptors(_)), "got {err:?}");
}

const SHOP_PROTO: &str = r#"
syntax = "proto3";
package shop.v1;
import "google/api/annotations.proto";
import "common.proto";

service Shop {
  rpc GetThing(GetThingRequest) returns (shop.common.Thing) {
    option (google.api.http) = { get: "/v1/things/{id}" };
  }
}
message GetThingRequest { string id = 1; }
"#;

const COMMON_PROTO: &str = r#"
syntax = "proto3";
package shop.common;
message Thing { string id = 1; }
service Internal { rpc Ping(Thing) returns (Thing); }
"#;

#[tokio::test]
async fn protos_compile_with_bundled_google_api() {
    let dir = temp_dir("protos");
    std::fs::create_dir_all(dir.join("protos/include")).unwrap();
    std::fs::write(dir.join("protos/shop.proto"), SHOP_PROTO).unwrap();
    std::fs::write(dir.join("protos/include/common.proto"), COMMON_PROTO).unwrap();
    let config = backend(
        vec![],
        DescriptorSource::Protos {
            files: vec![PathBuf::from("protos/shop.proto")],
            include_paths: vec![PathBuf::from("protos"), PathBuf::from("protos/include")],
        },
    );
    let schema = discover(&config, &dir, TIMEOUT).await.expect("discovery");
    assert_eq!(schema.source.as_str(), "protos");
    // Only the named file's services, not those of its imports.
    assert_eq!(schema.services, ["shop.v1.Shop"]);
    assert!(
        schema
            .pool
            .get_service_by_name("shop.common.Internal")
            .is_some()
    );
    assert_eq!(
        http_rule(&schema.pool, "shop.v1.Shop", "GetThing"),
        Some(("get".into(), "/v1/things/{id}".into()))
    );
    let again = discover(&config, &dir, TIMEOUT).await.unwrap();
    assert_eq!(again.digest, schema.digest);
}

#[tokio::test]
async fn example_protos_compile_from_the_repo() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/protos");
    let config = backend(
        vec![],
        DescriptorSource::Protos {
            files: vec![examples.join("library.proto"), examples.join("echo.proto")],
            include_paths: vec![examples.clone()],
        },
    );
    let schema = discover(&config, std::path::Path::new("/"), TIMEOUT)
        .await
        .expect("discovery");
    assert_eq!(
        schema.services,
        [
            "example.library.v1.LibraryService",
            "switchboard.testing.v1.Echo"
        ]
    );
    assert_eq!(
        http_rule(
            &schema.pool,
            "example.library.v1.LibraryService",
            "DeleteBook"
        ),
        Some(("delete".into(), "/v1/{name=shelves/*/books/*}".into()))
    );
}

#[tokio::test]
async fn proto_errors_name_the_file() {
    let dir = temp_dir("protos-bad");
    std::fs::write(dir.join("broken.proto"), "syntax = \"proto3\";\nmessage {").unwrap();
    let config = backend(
        vec![],
        DescriptorSource::Protos {
            files: vec![PathBuf::from("broken.proto")],
            include_paths: vec![],
        },
    );
    let err = discover(&config, &dir, TIMEOUT).await.expect_err("broken");
    assert!(matches!(err, DiscoveryError::Descriptors(_)), "got {err:?}");
    assert!(err.to_string().contains("broken.proto"), "{err}");

    let missing = backend(
        vec![],
        DescriptorSource::Protos {
            files: vec![PathBuf::from("absent.proto")],
            include_paths: vec![],
        },
    );
    let err = discover(&missing, &dir, TIMEOUT)
        .await
        .expect_err("missing");
    assert!(matches!(err, DiscoveryError::Read { .. }), "got {err:?}");
}
