//! Schema skew: which version of its API each endpoint of a backend serves.
//!
//! During a rolling deploy the replicas behind one backend run different
//! versions. Discovery asks every endpoint (`switchboard_discovery::discover_each`)
//! and this module keeps the answer: each endpoint's last discovered schema
//! digest (kept when a later attempt fails, with the error), the methods of
//! every digest live (for `/routes`: which endpoints serve each route), one log
//! line per change of the grouping, and the count of backends with more than
//! one schema live (`switchboard_backends_schema_skew`).
//!
//! It also keeps the descriptors of each schema group other than a backend's
//! primary one (the schema its routes come from) while that backend's
//! endpoints disagree: the table build plans every route in each of them
//! ([`Skew::groups`]), so a request is encoded for the endpoint that takes it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use prost_reflect::DescriptorPool;
use switchboard_discovery::Schema;
use switchboard_live::EndpointSchema;
use switchboard_routes::SchemaGroup;
use switchboard_upstream::EndpointServes;
use tracing::{info, warn};

/// What one round of discovery found on a backend's endpoints.
#[derive(Debug, Default)]
pub(crate) struct Round {
    /// Each endpoint's digest, or why reflection on it failed, in endpoint order.
    pub(crate) endpoints: Vec<(String, Result<u64, String>)>,
    /// The methods of digests [`Skew::knows`] did not know.
    pub(crate) methods: Vec<(u64, Arc<HashSet<String>>)>,
    /// The descriptors of digests decoded this round that are not the
    /// backend's primary schema (see [`Skew::groups`]).
    pub(crate) pools: Vec<(u64, DescriptorPool)>,
}

/// One endpoint's last known schema.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    endpoint: String,
    digest: Option<u64>,
    error: Option<String>,
}

/// Per-endpoint schemas of every reflection backend.
#[derive(Debug, Default)]
pub(crate) struct Skew {
    backends: HashMap<String, Vec<Entry>>,
    /// `/package.Service/Method` of every service of each digest live.
    methods: HashMap<u64, Arc<HashSet<String>>>,
    /// The descriptors of digests that are some skewed backend's secondary
    /// schema group (see [`Skew::prune_pools`]).
    pools: HashMap<u64, DescriptorPool>,
}

/// Every method of `schema`'s services, as gRPC paths.
pub(crate) fn methods_of(schema: &Schema) -> Arc<HashSet<String>> {
    let methods = schema
        .services
        .iter()
        .filter_map(|name| schema.pool.get_service_by_name(name))
        .flat_map(|service| {
            service
                .methods()
                .map(|m| format!("/{}/{}", service.full_name(), m.name()))
                .collect::<Vec<_>>()
        })
        .collect();
    Arc::new(methods)
}

impl Skew {
    /// Whether the methods of `digest` are known already (no need to decode it).
    pub(crate) fn knows(&self, digest: u64) -> bool {
        self.methods.contains_key(&digest)
    }

    /// Whether the descriptors of `digest` are kept (a secondary schema group).
    pub(crate) fn has_pool(&self, digest: u64) -> bool {
        self.pools.contains_key(&digest)
    }

    /// The digest `endpoint` of `backend` was last seen serving.
    pub(crate) fn last_digest(&self, backend: &str, endpoint: &str) -> Option<u64> {
        self.backends
            .get(backend)?
            .iter()
            .find(|e| e.endpoint == endpoint)?
            .digest
    }

    /// Records a round of `backend`. An endpoint that failed keeps the digest
    /// it had. Logs the grouping when it changed: a warning while more than one
    /// schema is live, an info line when the endpoints agree again.
    pub(crate) fn update(&mut self, backend: &str, round: Round) {
        self.methods.extend(round.methods);
        self.pools.extend(round.pools);
        let old = self.backends.get(backend).cloned().unwrap_or_default();
        let entries: Vec<Entry> = round
            .endpoints
            .into_iter()
            .map(|(endpoint, result)| {
                let before = old.iter().find(|e| e.endpoint == endpoint);
                match result {
                    Ok(digest) => Entry {
                        endpoint,
                        digest: Some(digest),
                        error: None,
                    },
                    Err(error) => Entry {
                        digest: before.and_then(|e| e.digest),
                        endpoint,
                        error: Some(error),
                    },
                }
            })
            .collect();
        let (was, now) = (groups(&old), groups(&entries));
        if was != now {
            if now.len() > 1 {
                warn!(backend, schemas = %describe(&now), "endpoints of one backend serve different schemas");
            } else if was.len() > 1 {
                info!(backend, schemas = %describe(&now), "endpoints of the backend serve one schema again");
            }
        }
        self.backends.insert(backend.to_owned(), entries);
    }

    /// Forgets backends not in `live` and the methods of digests no endpoint
    /// serves any more.
    pub(crate) fn retain(&mut self, live: &HashSet<&str>) {
        self.backends.retain(|name, _| live.contains(name.as_str()));
        let used: HashSet<u64> = self
            .backends
            .values()
            .flatten()
            .filter_map(|e| e.digest)
            .collect();
        self.methods.retain(|digest, _| used.contains(digest));
        self.pools.retain(|digest, _| used.contains(digest));
    }

    /// Drops the descriptors no table needs: those of a digest that is not a
    /// secondary schema group of any backend (`primary` says each backend's
    /// primary digest). Called after each round of discovery.
    pub(crate) fn prune_pools(&mut self, primary: impl Fn(&str) -> Option<u64>) {
        let mut needed: HashSet<u64> = HashSet::new();
        for (backend, entries) in &self.backends {
            let groups = groups(entries);
            if groups.len() < 2 {
                continue;
            }
            let primary = primary(backend);
            needed.extend(groups.keys().filter(|d| Some(**d) != primary).copied());
        }
        self.pools.retain(|digest, _| needed.contains(digest));
    }

    /// `backend`'s schema groups other than `primary`, with their
    /// descriptors, in digest order; empty while its endpoints agree.
    pub(crate) fn groups(&self, backend: &str, primary: u64) -> Vec<SchemaGroup> {
        let Some(entries) = self.backends.get(backend) else {
            return Vec::new();
        };
        let groups = groups(entries);
        if groups.len() < 2 {
            return Vec::new();
        }
        groups
            .keys()
            .filter(|d| **d != primary)
            .filter_map(|d| {
                Some(SchemaGroup {
                    digest: *d,
                    pool: self.pools.get(d)?.clone(),
                })
            })
            .collect()
    }

    /// What each endpoint of `backend` serves (digest and methods), for the
    /// balancer (see `switchboard_upstream::ChannelCache::set_endpoint_methods`).
    pub(crate) fn served(&self, backend: &str) -> Vec<EndpointServes> {
        self.backends
            .get(backend)
            .into_iter()
            .flatten()
            .map(|e| {
                let served = e
                    .digest
                    .and_then(|d| Some((d, self.methods.get(&d)?.clone())));
                (e.endpoint.clone(), served)
            })
            .collect()
    }

    /// `backend`'s endpoints with their schema, for `/status` and `/backends`.
    pub(crate) fn report(&self, backend: &str) -> Vec<EndpointSchema> {
        self.backends
            .get(backend)
            .into_iter()
            .flatten()
            .map(|e| EndpointSchema {
                endpoint: e.endpoint.clone(),
                digest: e.digest.map(|d| format!("{d:016x}")),
                error: e.error.clone(),
                methods: e.digest.and_then(|d| self.methods.get(&d).cloned()),
            })
            .collect()
    }

    /// How many backends have more than one schema live.
    pub(crate) fn skewed(&self) -> usize {
        self.backends
            .values()
            .filter(|entries| groups(entries).len() > 1)
            .count()
    }
}

/// Endpoints by digest (endpoints with no known schema left out).
fn groups(entries: &[Entry]) -> BTreeMap<u64, Vec<&str>> {
    let mut groups: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for e in entries {
        if let Some(d) = e.digest {
            groups.entry(d).or_default().push(&e.endpoint);
        }
    }
    groups
}

/// `0123456789abcdef: [a:1, b:1]; fedcba9876543210: [c:1]`.
fn describe(groups: &BTreeMap<u64, Vec<&str>>) -> String {
    groups
        .iter()
        .map(|(d, eps)| format!("{d:016x}: [{}]", eps.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(endpoints: &[(&str, Result<u64, &str>)]) -> Round {
        Round {
            endpoints: endpoints
                .iter()
                .map(|(e, r)| (e.to_string(), r.map_err(str::to_owned)))
                .collect(),
            methods: Vec::new(),
            pools: Vec::new(),
        }
    }

    #[test]
    fn failed_endpoints_keep_their_schema_and_skew_is_counted() {
        let mut skew = Skew::default();
        skew.update("b", round(&[("a:1", Ok(1)), ("b:1", Ok(1))]));
        assert_eq!(skew.skewed(), 0);
        skew.update("b", round(&[("a:1", Ok(1)), ("b:1", Ok(2))]));
        assert_eq!(skew.skewed(), 1);
        skew.update("b", round(&[("a:1", Ok(1)), ("b:1", Err("refused"))]));
        let report = skew.report("b");
        assert_eq!(report[1].digest.as_deref(), Some("0000000000000002"));
        assert_eq!(report[1].error.as_deref(), Some("refused"));
        assert_eq!(skew.skewed(), 1);
        skew.update("b", round(&[("a:1", Ok(1))]));
        assert_eq!(skew.skewed(), 0);
    }

    #[test]
    fn methods_of_unused_digests_are_forgotten() {
        let mut skew = Skew::default();
        let mut r = round(&[("a:1", Ok(7))]);
        r.methods = vec![(7, Arc::new(HashSet::from(["/p.S/M".to_owned()])))];
        skew.update("b", r);
        assert!(skew.knows(7));
        let report = skew.report("b");
        assert!(report[0].methods.as_ref().unwrap().contains("/p.S/M"));
        skew.retain(&HashSet::new());
        assert!(!skew.knows(7));
        assert!(skew.report("b").is_empty());
    }

    #[test]
    fn secondary_schemas_are_kept_only_while_the_endpoints_disagree() {
        let mut skew = Skew::default();
        let mut r = round(&[("a:1", Ok(1)), ("b:1", Ok(2))]);
        r.methods = vec![
            (1, Arc::new(HashSet::from(["/p.S/M".to_owned()]))),
            (2, Arc::new(HashSet::from(["/p.S/M".to_owned()]))),
        ];
        r.pools = vec![(2, DescriptorPool::new())];
        skew.update("b", r);
        skew.prune_pools(|_| Some(1));
        let groups = skew.groups("b", 1);
        assert_eq!(groups.iter().map(|g| g.digest).collect::<Vec<_>>(), [2]);
        assert!(
            skew.groups("b", 2).is_empty(),
            "digest 1's pool was never kept"
        );
        let served = skew.served("b");
        assert_eq!(served[1].1.as_ref().map(|(d, _)| *d), Some(2));

        // The replicas agree again: no group, no pool kept.
        skew.update("b", round(&[("a:1", Ok(1)), ("b:1", Ok(1))]));
        skew.prune_pools(|_| Some(1));
        assert!(!skew.has_pool(2));
        assert!(skew.groups("b", 1).is_empty());
    }
}
