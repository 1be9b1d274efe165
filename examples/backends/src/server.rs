//! The serving scaffolding shared by every example backend: reflection in the
//! requested flavour(s), health reporting, graceful shutdown.

use std::future::Future;

use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;

use crate::{BackendOptions, Reflection};

/// Adds reflection and health to `routes` and serves them until `shutdown`.
/// `services` are the application services, reported SERVING by health;
/// `reporter` is the caller's, when it wants to change statuses later.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    opts: BackendOptions,
    shutdown: impl Future<Output = ()> + Send,
    descriptor_set: &'static [u8],
    mut routes: RoutesBuilder,
    services: &[&str],
    reporter: Option<tonic_health::server::HealthReporter>,
) -> Result<(), tonic::transport::Error> {
    if opts.health {
        let reporter = reporter.unwrap_or_default();
        let health = tonic_health::pb::health_server::HealthServer::new(
            tonic_health::server::HealthService::from_health_reporter(reporter.clone()),
        );
        for name in services {
            reporter
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        routes.add_service(health);
    }

    // A fresh builder per protocol: `build_v1*` consumes it.
    let builder = || {
        let b = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(descriptor_set);
        if opts.health {
            // Like grpc-go, list the health service too (the gateway filters it out).
            b.register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        } else {
            b
        }
    };
    let (v1, v1alpha) = match opts.reflection {
        Reflection::V1AndV1Alpha => (true, true),
        Reflection::V1Only => (true, false),
        Reflection::V1AlphaOnly => (false, true),
        Reflection::Off => (false, false),
    };
    if v1 {
        routes.add_service(builder().build_v1().expect("example descriptors are valid"));
    }
    if v1alpha {
        routes.add_service(
            builder()
                .build_v1alpha()
                .expect("example descriptors are valid"),
        );
    }

    // TCP_NODELAY, as grpc-go and grpc C-core set on every connection: without
    // it, a response's trailers written after its data wait for the client's
    // delayed ACK (up to 40 ms) whenever the two writes are not coalesced.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .http2_max_header_list_size(opts.max_header_list_size)
        .add_routes(routes.routes())
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
