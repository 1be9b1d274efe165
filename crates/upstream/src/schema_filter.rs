//! Which endpoints may take a call for a method, when a backend's replicas
//! serve different versions of its API (a rolling deploy): only those whose
//! schema has the method, and, for a retry, only those of the first attempt's
//! schema group (its request was encoded for that schema). The balancer's
//! `pick` applies it, for every call shape, before choosing among the
//! endpoints that remain; a backend whose endpoints all serve one schema pays
//! one atomic load.
//!
//! The reloader tells the registry what each endpoint serves after every
//! discovery ([`crate::ChannelCache::set_endpoint_methods`]): its schema's
//! digest, which names its schema group (the serve stage encodes with the
//! route's plan for that digest, see `Picked::schema`), and its methods. An
//! endpoint whose schema is unknown (not discovered yet) takes any method, as
//! before, and belongs to no group.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tonic::Status;

use crate::endpoint::{EndpointState, Served};
use crate::shared::BackendShared;

/// Whether `ep` may take a call for `path` (`/package.Service/Method`) that
/// must stay in schema group `group` (`None`: any).
pub(crate) fn serves(ep: &EndpointState, path: &str, group: Option<u64>) -> bool {
    ep.schema.load().as_ref().is_none_or(|served| {
        served.methods.contains(path) && group.is_none_or(|g| served.digest == g)
    })
}

/// The digest of `ep`'s schema, when known: its schema group.
pub(crate) fn group(ep: &EndpointState) -> Option<u64> {
    ep.schema.load().as_ref().map(|served| served.digest)
}

/// Whether the backend's endpoints serve more than one schema (filter needed).
pub(crate) fn skewed(shared: &BackendShared) -> bool {
    shared.skewed.load(Ordering::Relaxed)
}

/// What one endpoint serves, as the reloader reports it: its address and, when
/// known, its schema's digest and methods.
pub type EndpointServes = (String, Option<(u64, Arc<HashSet<String>>)>);

/// Records what each of the backend's endpoints serves (by address; `None`:
/// unknown) and whether they serve more than one schema. Two schemas with the
/// same methods count: a field added in one must still keep a retry in its
/// group.
pub(crate) fn set(shared: &BackendShared, served: &[EndpointServes]) {
    let members = shared.members.load();
    let mut digests: Vec<u64> = Vec::new();
    for ep in members.iter() {
        let known = served
            .iter()
            .find(|(addr, _)| **addr == *ep.addr)
            .and_then(|(_, s)| s.clone());
        if let Some((digest, _)) = &known
            && !digests.contains(digest)
        {
            digests.push(*digest);
        }
        ep.schema
            .store(known.map(|(digest, methods)| Arc::new(Served { digest, methods })));
    }
    shared.skewed.store(digests.len() > 1, Ordering::Relaxed);
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

    fn set(digest: u64, paths: &[&str]) -> Option<(u64, Arc<HashSet<String>>)> {
        Some((
            digest,
            Arc::new(paths.iter().map(|p| p.to_string()).collect()),
        ))
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
        let old = set(1, &["/p.S/Old"]);
        let new = set(2, &["/p.S/Old", "/p.S/New"]);
        cache.set_endpoint_methods("b", &[(addrs[0].clone(), old), (addrs[1].clone(), new)]);
        for _ in 0..20 {
            assert_eq!(
                &*u.choose("/p.S/New", None, None).unwrap().addr,
                "127.0.0.1:2"
            );
        }
        let picked: HashSet<String> = (0..50)
            .map(|_| u.choose("/p.S/Old", None, None).unwrap().addr.to_string())
            .collect();
        assert_eq!(picked.len(), 2, "{picked:?}");
        let none = u.choose("/p.S/Gone", None, None).unwrap_err();
        assert_eq!(none.code(), tonic::Code::Unavailable);
        assert!(
            none.message().contains("serves /p.S/Gone"),
            "{}",
            none.message()
        );

        // A retry stays in its schema group: with the only other endpoint on
        // another schema, the first one is all there is.
        let first = u.choose("/p.S/Old", None, Some(2)).unwrap();
        assert_eq!(&*first.addr, "127.0.0.1:2");
        let again = u.choose("/p.S/Old", Some(&first), Some(2)).unwrap();
        assert!(std::sync::Arc::ptr_eq(&first, &again));
        assert!(u.pick("/p.S/Old").unwrap().schema().is_some());

        // Same methods, another digest (a field added): still two groups.
        cache.set_endpoint_methods(
            "b",
            &[
                (addrs[0].clone(), set(1, &["/p.S/Old"])),
                (addrs[1].clone(), set(3, &["/p.S/Old"])),
            ],
        );
        for _ in 0..10 {
            let picked = u.choose("/p.S/Old", None, Some(3)).unwrap();
            assert_eq!(&*picked.addr, "127.0.0.1:2");
        }

        // One schema again (or unknown): no filtering at all.
        cache.set_endpoint_methods("b", &[(addrs[0].clone(), set(1, &["/p.S/Old"]))]);
        assert!(u.pick("/p.S/Gone").is_ok());
    }
}
