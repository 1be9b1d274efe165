//! Stage 3 of the data flow: the immutable route table.
//!
//! Given each backend's descriptor pool and exposed services, [`RouteTable::build`]
//! produces every HTTP route: `POST /package.Service/Method` for each method, plus
//! the method's `google.api.http` rule (and its `additional_bindings`) when the
//! descriptors carry one. Templates are parsed, field paths resolved and a
//! [`MethodPlan`] built for each route here, once, so the request path only matches.
//!
//! Conflicts (two routes that would match the same requests) are reported with
//! both owners and resolved deterministically: the first-listed backend keeps the
//! route. This crate never does IO and never mutates a built table.

use std::sync::Arc;

pub use switchboard_transcode::MethodPlan;
use prost_reflect::DescriptorPool;

pub mod template;

/// One backend's contribution to a table build.
#[derive(Debug, Clone)]
pub struct BackendInput {
    /// Position in the config; also the index the serve stage uses for upstreams.
    pub index: usize,
    pub name: String,
    pub pool: DescriptorPool,
    /// Fully-qualified names of the services to expose, in a stable order.
    pub services: Vec<String>,
}

/// Where a route came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteSource {
    /// `POST /package.Service/Method`.
    Default,
    /// A `google.api.http` rule (primary or additional binding).
    HttpRule,
}

/// One HTTP route, fully resolved.
#[derive(Debug, Clone)]
pub struct Route {
    pub backend: usize,
    pub backend_name: Arc<str>,
    pub http_method: http::Method,
    /// The template as written (`/v1/{name=shelves/*}:archive`).
    pub template: String,
    /// `/package.Service/Method`.
    pub grpc_path: Arc<str>,
    pub source: RouteSource,
    pub plan: Arc<MethodPlan>,
}

/// Two routes that would match the same requests. The kept one belongs to the
/// first-listed backend (or the first route seen within one backend).
#[derive(Debug, Clone)]
pub struct Conflict {
    pub http_method: http::Method,
    pub kept_template: String,
    pub kept_backend: String,
    pub kept_method: String,
    pub dropped_template: String,
    pub dropped_backend: String,
    pub dropped_method: String,
}

/// Problems found while building, none of them fatal: the offending route is skipped.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    pub conflicts: Vec<Conflict>,
    /// Bad templates, rules naming missing fields, etc., each naming backend and method.
    pub errors: Vec<String>,
}

/// Result of matching a request.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// The route, and the path variable values in the plan's `path_fields` order.
    Found(&'a Route, Vec<String>),
    /// Some route matches the path, but not with this HTTP method.
    MethodNotAllowed,
    NotFound,
}

/// The immutable route table.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Builds the table for the given backends, in config order.
    pub fn build(backends: &[BackendInput]) -> (RouteTable, BuildReport) {
        let _ = backends;
        (RouteTable::default(), BuildReport::default())
    }

    /// Matches a request's method and path (the raw path, without query string).
    pub fn find(&self, method: &http::Method, path: &str) -> Lookup<'_> {
        let _ = (method, path);
        Lookup::NotFound
    }

    /// All routes, in build order (for `/routes` and `switchboard check`).
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}
