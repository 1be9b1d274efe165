//! Stage 2 of the data flow: discovery turns a backend's config into a [`Schema`]
//! (a prost-reflect `DescriptorPool` plus the list of services it offers).
//!
//! Sources: gRPC server reflection (`grpc.reflection.v1`, falling back to
//! `v1alpha`, which Python grpcio and grpc-go still speak), a serialized
//! `FileDescriptorSet`, or `.proto` files compiled in-process with protox. No code
//! generation anywhere. Descriptors are always decoded from their raw bytes so
//! that extension options such as `google.api.http` survive.
//!
//! Discovery only reads; it never builds routes and never serves.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use prost_reflect::DescriptorPool;
use switchboard_config::{Backend, DescriptorSource, SchemaSource};
use tokio::sync::Semaphore;

pub use each::{EndpointApi, discover_each};

mod each;
mod files;
mod reflection;
mod schema;
mod tls;

/// A backend's API, as learned by discovery.
#[derive(Debug, Clone)]
pub struct Schema {
    /// The backend's descriptors, with their options (`google.api.http`) intact.
    pub pool: DescriptorPool,
    /// Names of the backend's own files (with their imports), in dependency order.
    /// The pool may hold more: the swap stage shares one pool between backends.
    pub files: Vec<String>,
    /// Fully-qualified names of every service the backend offers (before filtering), sorted.
    pub services: Vec<String>,
    /// Hash of the encoded file descriptors: equal digests mean an identical API.
    pub digest: u64,
    /// How the schema was obtained: `reflection.v1`, `reflection.v1alpha`,
    /// `descriptor_set` or `protos`.
    pub source: SchemaSource,
}

/// Why discovery failed, phrased for an operator.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// No connection to the endpoint (refused, unresolvable, TLS failed).
    #[error("cannot connect to {endpoint}: {message}")]
    Connect {
        /// The endpoint (or the backend's endpoint list).
        endpoint: String,
        /// What the connection attempt said.
        message: String,
    },
    /// The server answers but speaks neither reflection protocol: the
    /// backend needs `descriptor_set` or `protos` instead.
    #[error("{endpoint} does not offer gRPC server reflection (tried v1 and v1alpha): {message}")]
    NoReflection {
        /// The endpoint asked.
        endpoint: String,
        /// The server's answer to the v1alpha attempt.
        message: String,
    },
    /// Reflection started but failed part-way (a missing file, a bad answer).
    #[error("reflection on {endpoint} failed: {message}")]
    Reflection {
        /// The endpoint asked.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// Discovery took longer than `discovery.timeout`.
    #[error("discovery of {endpoint} timed out after {timeout:?}")]
    Timeout {
        /// The endpoint asked.
        endpoint: String,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// A descriptor set or `.proto` file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// What the OS or the compiler said.
        message: String,
    },
    /// The descriptors do not form a valid pool (a missing import, a clash).
    #[error("invalid descriptors: {0}")]
    Descriptors(String),
}

/// A gRPC connection to one endpoint that the caller already has (the gateway's
/// own HTTP/2 connection to it), for reflection to run over as one more stream.
/// Make one with [`connection`].
pub type Connection = tower::util::BoxCloneService<
    tonic::codegen::http::Request<tonic::body::Body>,
    tonic::codegen::http::Response<tonic::body::Body>,
    ConnectionError,
>;

/// A [`Connection`]'s error. A concrete type rather than `BoxError`: with a boxed
/// trait object as the service error, rustc cannot prove tonic's client future
/// `Send` for every lifetime ("implementation of `From` is not general enough").
#[derive(Debug)]
pub struct ConnectionError(pub tower::BoxError);

impl std::fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ConnectionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Wraps a gRPC-capable service (an endpoint's existing HTTP/2 connection) as a
/// [`Connection`].
pub fn connection<S>(service: S) -> Connection
where
    S: tower::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
            Response = tonic::codegen::http::Response<tonic::body::Body>,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<tower::BoxError>,
{
    Connection::new(tower::ServiceExt::map_err(service, |e: S::Error| {
        ConnectionError(e.into())
    }))
}

/// Learns one backend's API according to its config. Reflection tries each endpoint
/// in turn until one answers; `timeout` bounds the whole attempt. Relative file paths
/// resolve against `base_dir`. Reflection opens a connection of its own to each
/// endpoint it tries; see [`discover_over`] to reuse existing ones.
pub async fn discover(
    backend: &Backend,
    base_dir: &Path,
    timeout: Duration,
) -> Result<Schema, DiscoveryError> {
    discover_over(backend, base_dir, timeout, HashMap::new()).await
}

/// [`discover`], with reflection riding the connection `connections` holds for
/// an endpoint, if any: the gateway re-discovers every backend periodically, and a new
/// connection per round (a TCP and HTTP/2 handshake, a second connection on the
/// backend's books) is waste when one to the endpoint is open already.
pub async fn discover_over(
    backend: &Backend,
    base_dir: &Path,
    timeout: Duration,
    connections: HashMap<String, Connection>,
) -> Result<Schema, DiscoveryError> {
    match &backend.descriptors {
        DescriptorSource::Reflection => {
            reflection::discover(
                &backend.endpoints,
                timeout,
                backend.edge.tls.as_ref(),
                connections,
            )
            .await
        }
        DescriptorSource::DescriptorSet(path) => {
            let path = base_dir.join(path);
            blocking(move || files::from_descriptor_set(&path)).await
        }
        DescriptorSource::Protos {
            files,
            include_paths,
        } => {
            let resolve = |paths: &[PathBuf]| -> Vec<PathBuf> {
                paths.iter().map(|p| base_dir.join(p)).collect()
            };
            let (files, include_paths) = (resolve(files), resolve(include_paths));
            blocking(move || files::from_protos(&files, &include_paths)).await
        }
    }
}

/// Builds a schema from an encoded `FileDescriptorSet` already in memory (for
/// example `switchboard_examples::DESCRIPTOR_SET` in tests and benchmarks). Every
/// service in the set is offered; `source` is `descriptor_set`.
pub fn schema_from_descriptor_set(bytes: &[u8]) -> Result<Schema, DiscoveryError> {
    files::from_encoded_set(bytes)
}

/// Runs file IO and protox compilation off the async runtime's worker threads,
/// at most one per core at a time. The work is CPU-bound, so more at once is not
/// faster, only bigger: a hundred file backends loaded together used to decode
/// on dozens of blocking threads at once, each allocating in a malloc arena of
/// its own, which raised the gateway's peak memory and left those arenas
/// fragmented for good.
async fn blocking(
    work: impl FnOnce() -> Result<Schema, DiscoveryError> + Send + 'static,
) -> Result<Schema, DiscoveryError> {
    static SLOTS: LazyLock<Semaphore> = LazyLock::new(|| {
        Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    });
    // The semaphore is never closed, so acquiring cannot fail.
    let _slot = SLOTS.acquire().await.ok();
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(DiscoveryError::Descriptors(format!(
            "discovery task failed: {e}"
        )))
    })
}
