//! Schema skew: which version of its API each endpoint of a backend serves.
//!
//! During a rolling deploy the replicas behind one backend run different
//! versions. Discovery asks every endpoint (`switchboard_discovery::discover_each`)
//! and this module keeps the answer: each endpoint's last discovered schema
//! digest (kept when a later attempt fails, with the error), the methods of
//! every digest live (for `/routes`: which endpoints serve each route), one log
//! line per change of the grouping, and the count of backends with more than
//! one schema live (`switchboard_backends_schema_skew`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use switchboard_discovery::Schema;
use switchboard_live::EndpointSchema;
use tracing::{info, warn};

/// What one round of discovery found on a backend's endpoints.
#[derive(Debug, Default)]
pub(crate) struct Round {
    /// Each endpoint's digest, or why reflection on it failed, in endpoint order.
    pub(crate) endpoints: Vec<(String, Result<u64, String>)>,
    /// The methods of digests [`Skew::knows`] did not know.
    pub(crate) methods: Vec<(u64, Arc<HashSet<String>>)>,
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
}
