//! Example gRPC backends for `switchboard demo`, the tests and the benchmarks.
//!
//! Two servers, both plain tonic with server reflection and health checking:
//!
//! - [`serve_greeter`]: `helloworld.Greeter` (no HTTP annotations, reached through
//!   the default `POST /helloworld.Greeter/SayHello` route) and the test-support
//!   service `switchboard.testing.v1.Echo` (annotated; echoes every field kind,
//!   the request metadata, and fails or stalls on demand).
//! - [`serve_library`]: `example.library.v1.LibraryService`, an in-memory
//!   bookstore with google.api.http REST bindings.
//!
//! Reflection is served from the *encoded* descriptor sets compiled by `build.rs`
//! so that the `google.api.http` options reach the gateway. [`Reflection`] lets
//! tests choose which reflection protocol(s) a server speaks.

use std::future::Future;

mod echo;
mod greeter;
mod instance;
mod library;
mod server;

pub use echo::{EchoService, RpcStatus, was_cancelled};
pub use greeter::GreeterService;
pub use instance::{Instance, Latency};
pub use library::LibraryStore;

/// Generated message types and tonic stubs for every example proto.
pub mod pb {
    // Generated from the example protos, whose comments are not rustdoc.
    #![allow(clippy::all, missing_docs, rustdoc::invalid_html_tags)]
    include!(concat!(env!("OUT_DIR"), "/protos.rs"));
}

/// Encoded `FileDescriptorSet` (with imports) of every example proto:
/// greeter.proto, echo.proto and library.proto.
pub const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/all.bin"));
/// Encoded `FileDescriptorSet` served by the greeter backend (Greeter + Echo).
pub const GREETER_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/greeter.bin"));
/// Encoded `FileDescriptorSet` served by the library backend (LibraryService).
pub const LIBRARY_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/library.bin"));

/// Which gRPC server reflection protocol(s) a backend offers. Real servers differ:
/// tonic and grpc-java speak both, Python grpcio only `v1alpha`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reflection {
    /// `grpc.reflection.v1` and `grpc.reflection.v1alpha` (the default).
    #[default]
    V1AndV1Alpha,
    /// Only `grpc.reflection.v1`.
    V1Only,
    /// Only `grpc.reflection.v1alpha`, like Python grpcio.
    V1AlphaOnly,
    /// No reflection at all: discovery has to use files.
    Off,
}

/// How an example backend is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendOptions {
    /// Which reflection protocols the backend offers.
    pub reflection: Reflection,
    /// Serve `grpc.health.v1.Health`, with every service reported SERVING.
    pub health: bool,
    /// The HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE to advertise; `None`: hyper's
    /// default (16 KiB), like any tonic server.
    pub max_header_list_size: Option<u32>,
}

impl Default for BackendOptions {
    fn default() -> Self {
        BackendOptions {
            reflection: Reflection::V1AndV1Alpha,
            health: true,
            max_header_list_size: None,
        }
    }
}

/// Serves `helloworld.Greeter` and `switchboard.testing.v1.Echo` on `listener`
/// until `shutdown` completes (then drains in-flight calls).
pub async fn serve_greeter(
    listener: tokio::net::TcpListener,
    opts: BackendOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    serve_greeter_instance(listener, opts, Instance::default(), shutdown).await
}

/// [`serve_greeter`] as one named copy among several: see [`Instance`] (a
/// response marker, an adjustable added latency, a health reporter to flip).
pub async fn serve_greeter_instance(
    listener: tokio::net::TcpListener,
    opts: BackendOptions,
    instance: Instance,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    use instance::Tagged;
    use pb::helloworld::greeter_server::GreeterServer;
    use pb::switchboard::testing::v1::echo_server::EchoServer;

    let mut routes = tonic::service::RoutesBuilder::default();
    routes
        .add_service(Tagged::new(GreeterServer::new(GreeterService), &instance))
        .add_service(Tagged::new(
            echo::with_trailer(EchoServer::new(EchoService)),
            &instance,
        ));
    let services = [
        <GreeterServer<GreeterService> as tonic::server::NamedService>::NAME,
        <EchoServer<EchoService> as tonic::server::NamedService>::NAME,
    ];
    server::serve(
        listener,
        opts,
        shutdown,
        GREETER_DESCRIPTOR_SET,
        routes,
        &services,
        instance.health,
    )
    .await
}

/// Serves `example.library.v1.LibraryService` (pre-seeded with a few books, see
/// [`LibraryStore::seeded`]) on `listener` until `shutdown` completes.
pub async fn serve_library(
    listener: tokio::net::TcpListener,
    opts: BackendOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    use pb::example::library::v1::library_service_server::LibraryServiceServer;

    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(LibraryServiceServer::new(LibraryStore::seeded()));
    let services = [<LibraryServiceServer<LibraryStore> as tonic::server::NamedService>::NAME];
    server::serve(
        listener,
        opts,
        shutdown,
        LIBRARY_DESCRIPTOR_SET,
        routes,
        &services,
        None,
    )
    .await
}

/// [`serve_greeter`]'s `switchboard.testing.v1.Echo` alone, gzip both ways:
/// every reply message is sent compressed (`grpc-encoding: gzip`) and
/// compressed requests are accepted, so tests can check a gateway reads
/// compressed replies and sends compressed requests.
pub async fn serve_echo_gzip(
    listener: tokio::net::TcpListener,
    opts: BackendOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    use pb::switchboard::testing::v1::echo_server::EchoServer;
    use tonic::codec::CompressionEncoding;

    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(
        EchoServer::new(EchoService)
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Gzip),
    );
    let services = [<EchoServer<EchoService> as tonic::server::NamedService>::NAME];
    server::serve(
        listener,
        opts,
        shutdown,
        GREETER_DESCRIPTOR_SET,
        routes,
        &services,
        None,
    )
    .await
}
