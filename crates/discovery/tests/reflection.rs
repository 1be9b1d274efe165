//! Discovery through gRPC server reflection against real tonic servers on
//! loopback: both protocol versions, the failure modes an operator will meet,
//! and the google.api.http options surviving the trip.

mod common;

use std::time::{Duration, Instant};

use common::{Example, http_rule, reflected, start};
use switchboard_discovery::{DiscoveryError, discover};
use switchboard_examples::Reflection;

const TIMEOUT: Duration = Duration::from_secs(5);

fn here() -> &'static std::path::Path {
    std::path::Path::new(".")
}

#[tokio::test]
async fn discovers_through_v1() {
    let server = start(Example::Greeter, Reflection::V1AndV1Alpha).await;
    let schema = discover(&reflected(server.addr), here(), TIMEOUT)
        .await
        .expect("discovery");
    assert_eq!(schema.source.as_str(), "reflection.v1");
    assert_eq!(
        schema.services,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "helloworld.Greeter",
            "switchboard.testing.v1.Echo",
        ]
    );
    // Dependencies were followed: the Echo request's well-known types resolve.
    let request = schema
        .pool
        .get_message_by_name("switchboard.testing.v1.EchoRequest")
        .expect("EchoRequest");
    let timestamp = request
        .get_field_by_name("timestamp")
        .expect("timestamp field");
    assert_eq!(
        timestamp.kind().as_message().expect("message").full_name(),
        "google.protobuf.Timestamp"
    );
    assert!(
        schema
            .pool
            .get_message_by_name("switchboard.testing.v1.ErrorDetail")
            .is_some()
    );
}

#[tokio::test]
async fn falls_back_to_v1alpha() {
    let server = start(Example::Library, Reflection::V1AlphaOnly).await;
    let schema = discover(&reflected(server.addr), here(), TIMEOUT)
        .await
        .expect("discovery");
    assert_eq!(schema.source.as_str(), "reflection.v1alpha");
    assert!(
        schema
            .services
            .contains(&"example.library.v1.LibraryService".to_owned())
    );
}

#[tokio::test]
async fn v1_only_server_is_discovered() {
    let server = start(Example::Library, Reflection::V1Only).await;
    let schema = discover(&reflected(server.addr), here(), TIMEOUT)
        .await
        .expect("discovery");
    assert_eq!(schema.source.as_str(), "reflection.v1");
}

#[tokio::test]
async fn google_api_http_options_survive_reflection() {
    let server = start(Example::Library, Reflection::V1AndV1Alpha).await;
    let schema = discover(&reflected(server.addr), here(), TIMEOUT)
        .await
        .expect("discovery");
    let service = "example.library.v1.LibraryService";
    assert_eq!(
        http_rule(&schema.pool, service, "GetBook"),
        Some(("get".into(), "/v1/{name=shelves/*/books/*}".into()))
    );
    assert_eq!(
        http_rule(&schema.pool, service, "UpdateBook"),
        Some(("patch".into(), "/v1/{book.name=shelves/*/books/*}".into()))
    );

    // The Echo service's additional bindings come through too.
    let greeter = start(Example::Greeter, Reflection::V1AlphaOnly).await;
    let schema = discover(&reflected(greeter.addr), here(), TIMEOUT)
        .await
        .expect("discovery");
    let extension = schema
        .pool
        .get_extension_by_name("google.api.http")
        .expect("extension");
    let method = schema
        .pool
        .get_service_by_name("switchboard.testing.v1.Echo")
        .expect("Echo")
        .methods()
        .find(|m| m.name() == "Echo")
        .expect("Echo.Echo");
    let options = method.options();
    let rule = options.get_extension(&extension);
    let rule = rule.as_message().expect("HttpRule");
    assert_eq!(
        rule.get_field_by_name("post").unwrap().as_str(),
        Some("/v1/echo")
    );
    assert_eq!(rule.get_field_by_name("body").unwrap().as_str(), Some("*"));
    let bindings = rule.get_field_by_name("additional_bindings").unwrap();
    let paths: Vec<String> = bindings
        .as_list()
        .expect("list")
        .iter()
        .map(|b| {
            let b = b.as_message().unwrap();
            b.get_field_by_name("get")
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        paths,
        [
            "/v1/echo/{string_value}",
            "/v1/echo/{nested.label=labels/*}:inspect"
        ]
    );
    // The unannotated Greeter has no rule.
    assert_eq!(
        http_rule(&schema.pool, "helloworld.Greeter", "SayHello"),
        None
    );
}

#[tokio::test]
async fn reflection_off_is_reported_as_such() {
    let server = start(Example::Greeter, Reflection::Off).await;
    let err = discover(&reflected(server.addr), here(), TIMEOUT)
        .await
        .expect_err("no reflection");
    assert!(
        matches!(err, DiscoveryError::NoReflection { .. }),
        "got {err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("does not offer gRPC server reflection"),
        "{text}"
    );
    assert!(text.contains(&server.addr.to_string()), "{text}");
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    // Bind and release a port so that nothing listens on it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = discover(&reflected(addr), here(), TIMEOUT)
        .await
        .expect_err("refused");
    assert!(matches!(err, DiscoveryError::Connect { .. }), "got {err:?}");
    let text = err.to_string();
    assert!(text.contains(&addr.to_string()), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

#[tokio::test]
async fn silent_server_times_out() {
    // Accepts connections and never says a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let err = discover(&reflected(addr), here(), timeout)
        .await
        .expect_err("timeout");
    assert!(matches!(err, DiscoveryError::Timeout { .. }), "got {err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn later_endpoint_is_used_when_the_first_is_down() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = start(Example::Library, Reflection::V1AndV1Alpha).await;
    let backend = common::backend(
        vec![dead.to_string(), server.addr.to_string()],
        switchboard_config::DescriptorSource::Reflection,
    );
    let schema = discover(&backend, here(), TIMEOUT)
        .await
        .expect("discovery");
    assert!(
        schema
            .services
            .contains(&"example.library.v1.LibraryService".to_owned())
    );
}

#[tokio::test]
async fn digest_is_stable_and_distinguishes_apis() {
    let greeter = start(Example::Greeter, Reflection::V1AndV1Alpha).await;
    let greeter_alpha = start(Example::Greeter, Reflection::V1AlphaOnly).await;
    let library = start(Example::Library, Reflection::V1AndV1Alpha).await;
    let first = discover(&reflected(greeter.addr), here(), TIMEOUT)
        .await
        .unwrap();
    let second = discover(&reflected(greeter.addr), here(), TIMEOUT)
        .await
        .unwrap();
    let other = discover(&reflected(library.addr), here(), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(first.digest, second.digest);
    assert_ne!(first.digest, other.digest);
    // Over v1alpha the server describes a different reflection service, so the
    // digest changes with it: the digest covers everything the server offers.
    let alpha = discover(&reflected(greeter_alpha.addr), here(), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(alpha.source.as_str(), "reflection.v1alpha");
    assert_ne!(alpha.digest, first.digest);
}
