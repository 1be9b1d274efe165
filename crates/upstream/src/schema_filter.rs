//! Which endpoints may take a call for a method, when a backend's replicas
//! serve different versions of its API (a rolling deploy): only those whose
//! schema has the method. The balancer's `pick` applies it, for every call
//! shape, before choosing among the endpoints that remain; a backend whose
//! endpoints all serve one schema pays one atomic load.
//!
//! The reloader tells the registry what each endpoint serves after every
//! discovery ([`crate::ChannelCache::set_endpoint_methods`]). An endpoint whose
//! schema is unknown (not discovered yet) takes any method, as before.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tonic::Status;

use crate::endpoint::EndpointState;
use crate::shared::BackendShared;

/// Whether `ep` may take a call for `path` (`/package.Service/Method`).
pub(crate) fn serves(ep: &EndpointState, path: &str) -> bool {
    ep.methods
        .load()
        .as_ref()
        .is_none_or(|methods| methods.contains(path))
}

/// Whether the backend's endpoints disagree on their methods (filter needed).
pub(crate) fn skewed(shared: &BackendShared) -> bool {
    shared.skewed.load(Ordering::Relaxed)
}

/// Records what each of the backend's endpoints serves (by address; `None`:
/// unknown) and whether they disagree.
pub(crate) fn set(shared: &BackendShared, methods: &[(String, Option<Arc<HashSet<String>>>)]) {
    let members = shared.members.load();
    let mut distinct: Vec<Arc<HashSet<String>>> = Vec::new();
    for ep in members.iter() {
        let known = methods
            .iter()
            .find(|(addr, _)| **addr == *ep.addr)
            .and_then(|(_, m)| m.clone());
        if let Some(m) = &known
            && !distinct.iter().any(|d| Arc::ptr_eq(d, m) || **d == **m)
        {
            distinct.push(m.clone());
        }
        ep.methods.store(known);
    }
    shared.skewed.store(distinct.len() > 1, Ordering::Relaxed);
}

/// The answer when the backend has endpoints but none serves the method.
pub(crate) fn unavailable(backend: &str, path: &str) -> Status {
    Status::unavailable(format!(
        "no available endpoint of backend {backend} serves {path}: the endpoints whose schema has it are gone (mixed versions during a rollout)"
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use crate::{ChannelCache, UpstreamConfig};

    fn set(paths: &[&str]) -> Option<Arc<HashSet<String>>> {
        Some(Arc::new(paths.iter().map(|p| p.to_string()).collect()))
    }

    #[tokio::test]
    async fn pick_keeps_to_endpoints_whose_schema_has_the_method() {
        let cache = ChannelCache::default();
        let addrs = ["127.0.0.1:1".to_string(), "127.0.0.1:2".to_string()];
        let u = cache
            .upstream(
                "b",
                &addrs,
                Some(&addrs),
                UpstreamConfig {
                    policy: crate::Policy::RoundRobin,
                    ..UpstreamConfig::default()
                },
            )
            .unwrap();
        let old = set(&["/p.S/Old"]);
        let new = set(&["/p.S/Old", "/p.S/New"]);
        cache.set_endpoint_methods("b", &[(addrs[0].clone(), old), (addrs[1].clone(), new)]);
        for _ in 0..20 {
            assert_eq!(&*u.pick("/p.S/New", None).unwrap().addr, "127.0.0.1:2");
        }
        let picked: HashSet<String> = (0..50)
            .map(|_| u.pick("/p.S/Old", None).unwrap().addr.to_string())
            .collect();
        assert_eq!(picked.len(), 2, "{picked:?}");
        let none = u.pick("/p.S/Gone", None).unwrap_err();
        assert_eq!(none.code(), tonic::Code::Unavailable);
        assert!(
            none.message().contains("serves /p.S/Gone"),
            "{}",
            none.message()
        );

        // One schema again (or unknown): no filtering at all.
        cache.set_endpoint_methods("b", &[(addrs[0].clone(), set(&["/p.S/Old"]))]);
        assert!(u.pick("/p.S/Gone", None).is_ok());
    }
}
