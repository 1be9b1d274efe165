//! Native gRPC ownership: which backend serves each exposed service.
//!
//! Native gRPC (and gRPC-Web) requests are proxied by path, `/package.Service/Method`,
//! with no transcoding, so they need no HTTP route, only an owner. The owner is
//! resolved here, at table-build time, so the request path does one hash lookup
//! and never touches a descriptor.
//!
//! A service belongs to exactly one backend: the first-listed backend that exposes
//! it, the same backend whose default routes win the route conflicts (see the
//! crate docs). Ownership is per service, not per method: a gRPC client expects
//! one server behind a service, and splitting one across backends method by method
//! would make `UNIMPLEMENTED` depend on which backend a method happened to land on.
//! Every method of an owned service is known, including streaming methods and
//! methods whose HTTP routes could not be built: native gRPC needs no plan.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use prost_reflect::DescriptorPool;

/// Services exposed for native gRPC, by fully-qualified name.
#[derive(Debug, Default)]
pub(crate) struct GrpcServices {
    services: HashMap<Box<str>, GrpcService>,
}

/// One owned service.
#[derive(Debug)]
struct GrpcService {
    backend: usize,
    backend_name: Arc<str>,
    methods: HashSet<Box<str>>,
}

/// The result of resolving a native gRPC request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrpcLookup<'a> {
    /// The service and method exist; `backend` indexes the snapshot's backends.
    Found {
        /// Index of the owning backend in the snapshot.
        backend: usize,
        /// Its name, for metric labels and logs.
        backend_name: &'a str,
    },
    /// No backend exposes the service (gRPC's `unknown service X`).
    UnknownService,
    /// The owner's service has no such method (`unknown method M for service X`).
    UnknownMethod,
    /// The path is not `/service/method`.
    Malformed,
}

impl GrpcServices {
    /// Records the services `backend` exposes that no earlier backend claimed.
    /// Services missing from the pool are skipped here; the route build already
    /// reports them.
    pub(crate) fn add(
        &mut self,
        backend: usize,
        backend_name: &Arc<str>,
        pool: &DescriptorPool,
        services: &[String],
    ) {
        for name in services {
            if self.services.contains_key(name.as_str()) {
                continue; // first-listed backend wins, as for route conflicts
            }
            let Some(service) = pool.get_service_by_name(name) else {
                continue;
            };
            let methods = service.methods().map(|m| m.name().into()).collect();
            self.services.insert(
                name.as_str().into(),
                GrpcService {
                    backend,
                    backend_name: backend_name.clone(),
                    methods,
                },
            );
        }
    }

    /// Resolves `/package.Service/Method`.
    pub(crate) fn find(&self, path: &str) -> GrpcLookup<'_> {
        let Some((service, method)) = split_path(path) else {
            return GrpcLookup::Malformed;
        };
        match self.services.get(service) {
            None => GrpcLookup::UnknownService,
            Some(s) if !s.methods.contains(method) => GrpcLookup::UnknownMethod,
            Some(s) => GrpcLookup::Found {
                backend: s.backend,
                backend_name: &s.backend_name,
            },
        }
    }

    /// `(service, backend index)` for every owned service, sorted by service name.
    pub(crate) fn owners(&self) -> Vec<(&str, usize)> {
        let mut owners: Vec<(&str, usize)> = self
            .services
            .iter()
            .map(|(name, s)| (&**name, s.backend))
            .collect();
        owners.sort_unstable();
        owners
    }
}

/// Splits `/service/method` into its two non-empty parts.
pub fn split_path(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    (!service.is_empty() && !method.is_empty() && !method.contains('/'))
        .then_some((service, method))
}

impl crate::RouteTable {
    /// Which backend serves a native gRPC request for `path` (`/package.Service/Method`).
    pub fn find_grpc(&self, path: &str) -> GrpcLookup<'_> {
        self.grpc.find(path)
    }

    /// Every service reachable over native gRPC with its owner's backend index,
    /// sorted by service name (for `/routes`-style reports and tests).
    pub fn grpc_services(&self) -> Vec<(&str, usize)> {
        self.grpc.owners()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RouteTable;

    use crate::test_support::{backend, pool};

    const V1: &str = r#"
        syntax = "proto3";
        package demo;
        service Greeter {
          rpc SayHello (M) returns (M);
          rpc Chat (stream M) returns (stream M);
        }
        service Hidden { rpc Secret (M) returns (M); }
        message M { string s = 1; }
    "#;

    // The same service with one more method, as a newer deployment would have.
    const V2: &str = r#"
        syntax = "proto3";
        package demo;
        service Greeter {
          rpc SayHello (M) returns (M);
          rpc Chat (stream M) returns (stream M);
          rpc SayGoodbye (M) returns (M);
        }
        service Other { rpc Ping (M) returns (M); }
        message M { string s = 1; }
    "#;

    #[test]
    fn resolves_service_and_method() {
        let v1 = pool(V1);
        let (table, _) = RouteTable::build(&[backend(0, "a", &v1, &["demo.Greeter"])]);
        assert_eq!(
            table.find_grpc("/demo.Greeter/SayHello"),
            GrpcLookup::Found {
                backend: 0,
                backend_name: "a"
            }
        );
        // Streaming methods are owned too, though they have no HTTP/JSON plan of
        // their own shape.
        assert!(matches!(
            table.find_grpc("/demo.Greeter/Chat"),
            GrpcLookup::Found { backend: 0, .. }
        ));
        assert_eq!(
            table.find_grpc("/demo.Greeter/Nope"),
            GrpcLookup::UnknownMethod
        );
        assert_eq!(
            table.find_grpc("/demo.Missing/SayHello"),
            GrpcLookup::UnknownService
        );
        // Not exposed (filtered out by the config), so unknown.
        assert_eq!(
            table.find_grpc("/demo.Hidden/Secret"),
            GrpcLookup::UnknownService
        );
    }

    #[test]
    fn first_listed_backend_owns_a_shared_service() {
        let (v1, v2) = (pool(V1), pool(V2));
        let (table, report) = RouteTable::build(&[
            backend(0, "old", &v1, &["demo.Greeter"]),
            backend(1, "new", &v2, &["demo.Greeter", "demo.Other"]),
        ]);
        // Consistent with the default routes: those of `new` conflict and lose.
        assert!(
            report
                .conflicts
                .iter()
                .any(|c| c.kept_backend == "old" && c.dropped_backend == "new")
        );
        assert!(matches!(
            table.find_grpc("/demo.Greeter/SayHello"),
            GrpcLookup::Found { backend: 0, .. }
        ));
        // The whole service is `old`'s: a method only `new` has is unknown.
        assert_eq!(
            table.find_grpc("/demo.Greeter/SayGoodbye"),
            GrpcLookup::UnknownMethod
        );
        assert!(matches!(
            table.find_grpc("/demo.Other/Ping"),
            GrpcLookup::Found {
                backend: 1,
                backend_name: "new"
            }
        ));
        assert_eq!(
            table.grpc_services(),
            [("demo.Greeter", 0), ("demo.Other", 1)]
        );
    }

    #[test]
    fn malformed_paths() {
        let v1 = pool(V1);
        let (table, _) = RouteTable::build(&[backend(0, "a", &v1, &["demo.Greeter"])]);
        for path in [
            "",
            "/",
            "demo.Greeter/SayHello",
            "/demo.Greeter",
            "/demo.Greeter/",
            "//SayHello",
            "/demo.Greeter/SayHello/extra",
        ] {
            assert_eq!(table.find_grpc(path), GrpcLookup::Malformed, "{path:?}");
        }
    }

    #[test]
    fn service_missing_from_pool_is_skipped() {
        let v1 = pool(V1);
        let (table, report) = RouteTable::build(&[backend(0, "a", &v1, &["demo.Ghost"])]);
        assert!(!report.errors.is_empty());
        assert!(table.grpc_services().is_empty());
    }
}
