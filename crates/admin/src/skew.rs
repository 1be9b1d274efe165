//! Schema skew in `/routes` and `/backends`: which endpoints serve each route,
//! and each endpoint's schema digest, from the per-endpoint schemas the
//! reloader records in the live status (every endpoint of a reflection backend
//! is discovered, so replicas of one backend running different versions show).

use std::collections::HashMap;

use switchboard_live::{BackendStatus, ReloadStatus, Snapshot};

/// Per backend name, its status (for its endpoints' schemas).
pub(crate) struct Schemas<'a> {
    by_backend: HashMap<&'a str, &'a BackendStatus>,
    /// The live endpoints of file-described backends, by backend index, read
    /// from the registry once per answer rather than once per route.
    all: std::cell::RefCell<HashMap<usize, Vec<String>>>,
}

impl<'a> Schemas<'a> {
    pub(crate) fn new(status: &'a ReloadStatus) -> Self {
        let by_backend = status
            .backends
            .iter()
            .map(|b| (b.name.as_str(), b))
            .collect();
        Schemas {
            by_backend,
            all: Default::default(),
        }
    }

    /// The endpoints of `backend` whose schema has `grpc_path`. A backend whose
    /// descriptors come from files has no per-endpoint schema: all its live
    /// endpoints serve every route.
    pub(crate) fn serving(
        &self,
        snapshot: &Snapshot,
        backend_index: usize,
        grpc_path: &str,
    ) -> Vec<String> {
        let runtime = &snapshot.backends[backend_index];
        match self.by_backend.get(&*runtime.name) {
            Some(b) if !b.endpoint_schemas.is_empty() => b
                .endpoint_schemas
                .iter()
                .filter(|e| e.methods.as_ref().is_some_and(|m| m.contains(grpc_path)))
                .map(|e| e.endpoint.clone())
                .collect(),
            _ => self
                .all
                .borrow_mut()
                .entry(backend_index)
                .or_insert_with(|| {
                    runtime
                        .upstream
                        .report()
                        .endpoints
                        .into_iter()
                        .filter(|e| e.state != "draining")
                        .map(|e| e.address)
                        .collect()
                })
                .clone(),
        }
    }

    /// `backend`'s report from the upstream registry, each endpoint with its
    /// `schema` digest added (`null` when unknown: not discovered, or the
    /// backend's descriptors come from files).
    pub(crate) fn backend_report(
        &self,
        runtime: &switchboard_live::BackendRuntime,
    ) -> serde_json::Value {
        let report = runtime.upstream.report();
        let mut value = serde_json::to_value(&report).unwrap_or_default();
        let schemas = self.by_backend.get(&*runtime.name);
        if let Some(endpoints) = value.get_mut("endpoints").and_then(|e| e.as_array_mut()) {
            for endpoint in endpoints {
                let address = endpoint["address"].as_str().unwrap_or_default().to_owned();
                let digest = schemas
                    .and_then(|b| b.endpoint_schemas.iter().find(|e| e.endpoint == address))
                    .and_then(|e| e.digest.clone());
                if let Some(map) = endpoint.as_object_mut() {
                    map.insert("schema".into(), digest.into());
                }
            }
        }
        value
    }
}
