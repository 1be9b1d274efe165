//! Discovery of every endpoint of a reflection backend, not just the first that
//! answers: during a rolling deploy the replicas behind one backend serve
//! different versions of its API, and the gateway has to know which serves what.
//!
//! Each endpoint's reflection answer is kept encoded ([`EndpointApi`]) with its
//! digest, computed first; decoding files into a descriptor pool, the costly
//! part, is left to the caller and done only for a digest it has not seen
//! ([`EndpointApi::schema`]). (gRPC reflection has no "digest" request, so the
//! bytes themselves still cross the wire: a few kilobytes per endpoint, over
//! the connection the gateway already has to it.)

use std::collections::HashMap;
use std::time::Duration;

use switchboard_config::{Backend, DescriptorSource, SchemaSource};

use crate::reflection::{self, Fetched};
use crate::{Connection, DiscoveryError, Schema};

/// One endpoint's API as its reflection service described it, still encoded.
#[derive(Debug, Clone)]
pub struct EndpointApi {
    /// Equal to the [`Schema::digest`] that [`EndpointApi::schema`] builds:
    /// independent of the order the server sent its files in.
    pub digest: u64,
    /// Which reflection protocol answered (v1 or v1alpha).
    pub source: SchemaSource,
    fetched: Fetched,
}

impl EndpointApi {
    /// Decodes the files into a schema (a descriptor pool): call it for a digest
    /// not seen before.
    pub fn schema(&self) -> Result<Schema, DiscoveryError> {
        self.fetched.clone().build()
    }
}

/// Runs reflection on every endpoint of `backend` at once, each bounded by
/// `timeout`, over the connection `connections` holds for it when there is
/// one. Returns one result per endpoint, in `backend.endpoints` order. A
/// backend whose descriptors come from files has no per-endpoint API: the
/// answer is empty.
pub async fn discover_each(
    backend: &Backend,
    timeout: Duration,
    mut connections: HashMap<String, Connection>,
) -> Vec<(String, Result<EndpointApi, DiscoveryError>)> {
    if !matches!(backend.descriptors, DescriptorSource::Reflection) {
        return Vec::new();
    }
    let tls = backend.edge.tls.as_ref();
    let jobs = backend.endpoints.iter().map(|endpoint| {
        let existing = connections.remove(endpoint);
        async move {
            let attempt = reflection::discover_endpoint(endpoint, timeout, tls, existing);
            let result = match tokio::time::timeout(timeout, attempt).await {
                Ok(Ok(fetched)) => Ok(EndpointApi {
                    digest: fetched.digest(),
                    source: fetched.source,
                    fetched,
                }),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(DiscoveryError::Timeout {
                    endpoint: endpoint.clone(),
                    timeout,
                }),
            };
            (endpoint.clone(), result)
        }
    });
    futures_util::future::join_all(jobs).await
}
