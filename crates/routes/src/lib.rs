//! Stage 3 of the data flow: the immutable route table.
//!
//! Given each backend's descriptor pool and exposed services, [`RouteTable::build`]
//! produces every HTTP route: `POST /package.Service/Method` for each method, plus
//! the method's `google.api.http` rule (and its `additional_bindings`) when the
//! descriptors carry one, or instead of it the backend's configured `http_rules`
//! for that method (grpc-gateway's `grpc_api_configuration`, for protos without
//! annotations). Templates are parsed, field paths resolved and a
//! [`MethodPlan`] built for each route here, once, so the request path only matches.
//! This crate never does IO and never mutates a built table.
//!
//! # Conflicts
//!
//! Two routes conflict when they have the same HTTP method and their templates
//! match exactly the same set of paths: the same [shape](template::Template::shape)
//! once variable names are erased (`{x}` ≡ `*`, `{x=**}` ≡ `**`,
//! `{x=shelves/*}` ≡ `shelves/*`) and the same verb. The first route wins (earlier
//! backend in config order; within a backend, services in the given order, methods
//! in descriptor order, the default route before the rule, the rule before its
//! additional bindings) and each dropped route is reported as a [`Conflict`]. Two
//! backends exposing the same service therefore conflict on every default route.
//! Native gRPC follows the same rule: the service belongs to the first-listed
//! backend exposing it ([`RouteTable::find_grpc`]).
//!
//! Templates that only *partly* overlap (`/v1/shelves/first` and `/v1/shelves/{id}`)
//! are not conflicts; matching picks the more specific one.
//!
//! # Matching and precedence
//!
//! [`RouteTable::find`] searches one precompiled trie per HTTP method (see the
//! `trie` module); no descriptor is touched per request.
//!
//! - **Specificity.** Among the routes of a method that match a path, the winner
//!   is decided segment by segment, left to right: at the first segment where they
//!   differ, a literal beats `*`, which beats `**`. A `**` that could consume
//!   different numbers of segments prefers fewer. This deliberately differs from
//!   grpc-gateway, whose mux tries handlers in reverse registration order: with
//!   routes from many independent backends, registration order is not something
//!   an API author controls, specificity is.
//! - **Verbs.** As in grpc-gateway's mux, a route with verb `V` matches only if
//!   the last path segment ends in `:V` and has something before the colon; a
//!   route without a verb treats a colon as an ordinary character, so
//!   `/v1/{name}` captures `x:archive` from `/v1/x:archive`. A match using a verb
//!   beats any match without one, whatever the segments.
//! - **Percent-decoding.** [`RouteTable::find_with`] follows grpc-gateway's
//!   `UnescapingMode` (see the `unescape` module): by default (`Legacy`) the
//!   whole path is decoded before matching, so `%2F` splits segments; the
//!   other modes match the raw path. [`RouteTable::find`] is
//!   `AllExceptSlash`, described next.
//! - **Raw path.** Matching runs on the raw, still percent-encoded path
//!   (grpc-gateway's non-legacy unescaping modes): literals compare against the
//!   encoded text, and an encoded `%2F` never splits a segment.
//! - **Segments.** The path is split on every `/` with no normalisation, like
//!   grpc-gateway's `strings.Split`: a trailing slash or `//` yields an empty
//!   segment. No literal matches an empty segment, so `/v1/shelves/` does not
//!   match `/v1/shelves` (no redirect), but `*` does match one, as in grpc-gateway.
//! - **Decoding.** With [`RouteTable::find`], captured values follow the
//!   google.api.http spec (grpc-gateway's `UnescapingModeAllExceptSlash`; the
//!   other modes are [`RouteTable::find_with`]'s): a single-segment variable is fully
//!   percent-decoded, a multi-segment one (`{x=**}`, `{x=a/*}`) decodes everything
//!   except `%2F`. A malformed escape (or non-UTF-8 result) in a captured value of
//!   the chosen route gives [`Lookup::BadRequest`], grpc-gateway's 400 for a
//!   `MalformedSequenceError`. Unlike grpc-gateway, only the chosen route's
//!   captured values are decoded, so a malformed escape elsewhere cannot turn a
//!   404 into a 400.
//! - **404 vs 405.** If no route of the request's method matches but a route of
//!   another method does, the answer is [`Lookup::MethodNotAllowed`], which the
//!   serve stage answers as grpc-gateway does (HTTP 501, code 12). `HEAD` gets no special treatment (grpc-gateway doesn't map it to
//!   `GET` either), so `HEAD` on a `GET` route is a 405. grpc-gateway's
//!   `X-HTTP-Method-Override` and POST-to-GET fallback are the serve stage's business.
//! - A path that does not start with `/` is a [`Lookup::BadRequest`], as in
//!   grpc-gateway.

use std::fmt;
use std::sync::Arc;

use prost_reflect::{DescriptorPool, DynamicMessage, ExtensionDescriptor, MethodDescriptor};
pub use switchboard_transcode::MethodPlan;
use switchboard_transcode::ProgramCache;

use crate::template::{Captures, Template};
use crate::trie::MethodTrie;

mod grpc;
pub mod template;
mod trie;
mod unescape;

pub use grpc::{GrpcLookup, split_path as split_grpc_path};
/// The gateway's percent-decoding mode for [`RouteTable::find_with`]; the
/// config stage owns the type.
pub use switchboard_config::UnescapingMode;

/// One backend's contribution to a table build.
#[derive(Debug, Clone)]
pub struct BackendInput {
    /// Position in the config; also the index the serve stage uses for upstreams.
    pub index: usize,
    /// The backend's name, carried into each route for logs and `/routes`.
    pub name: String,
    /// The descriptors the backend's methods are resolved in.
    pub pool: DescriptorPool,
    /// Fully-qualified names of the services to expose, in a stable order.
    pub services: Vec<String>,
    /// HTTP rules from the config (`http_rules`), in config order. A method named
    /// by a selector here is routed by these rules, not by its annotation.
    pub http_rules: Vec<ConfigHttpRule>,
    /// The other schemas some of the backend's endpoints serve during a
    /// rolling deploy (not `pool`'s), each a schema group: every route gets a
    /// plan for each group whose schema has its method (see
    /// [`Route::plan_for`]). Empty while the endpoints agree.
    pub schema_groups: Vec<SchemaGroup>,
}

/// One more schema of a backend whose endpoints disagree (see
/// [`BackendInput::schema_groups`]).
#[derive(Debug, Clone)]
pub struct SchemaGroup {
    /// The schema's digest: the group's id, which the balancer reports for the
    /// endpoint it picked.
    pub digest: u64,
    /// The schema's descriptors.
    pub pool: DescriptorPool,
}

/// A configured HTTP rule (see [`BackendInput::http_rules`]); the config stage
/// owns the type and its validation.
pub use switchboard_config::HttpRule as ConfigHttpRule;

/// Where a route came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteSource {
    /// `POST /package.Service/Method`.
    Default,
    /// A `google.api.http` rule (primary or additional binding).
    HttpRule,
    /// An `http_rules` entry of the backend's config (primary or additional binding).
    ConfigRule,
}

/// One HTTP route, fully resolved.
#[derive(Debug, Clone)]
pub struct Route {
    /// Index of the route's backend in the snapshot (and in the build's inputs).
    pub backend: usize,
    /// The backend's name, for logs, metrics and `/routes`.
    pub backend_name: Arc<str>,
    /// The HTTP method the route answers (a custom verb such as `HEAD` included).
    pub http_method: http::Method,
    /// The template as written (`/v1/{name=shelves/*}:archive`).
    pub template: String,
    /// `/package.Service/Method`.
    pub grpc_path: Arc<str>,
    /// `grpc_path` as the upstream call's `:path`, parsed once here so a request
    /// only clones it (a reference-count increment).
    pub grpc_path_and_query: http::uri::PathAndQuery,
    /// `METHOD template`, the route's metrics label, formatted once here.
    pub metrics_label: Arc<str>,
    /// Where the route came from (default, annotation, config rule).
    pub source: RouteSource,
    /// Everything transcoding needs for the method, built once per table, in
    /// the backend's primary schema (`BackendInput::pool`).
    pub plan: Arc<MethodPlan>,
    /// The same binding planned in each other schema group that has the
    /// method, by digest; empty (no allocation) while the backend's endpoints
    /// agree. See [`Route::plan_for`].
    pub schema_plans: Box<[(u64, Arc<MethodPlan>)]>,
}

impl Route {
    /// The plan to encode a request for, and decode a response from, an
    /// endpoint serving the schema `digest` (the balancer's pick, see
    /// `switchboard_upstream::Picked::schema`): that group's plan, else the
    /// primary one (an endpoint of the primary schema, or of no known schema).
    /// The common case, one schema, is one length check.
    pub fn plan_for(&self, digest: Option<u64>) -> &Arc<MethodPlan> {
        if let Some(digest) = digest
            && let Some((_, plan)) = self.schema_plans.iter().find(|(d, _)| *d == digest)
        {
            return plan;
        }
        &self.plan
    }
}

/// Two routes that would match the same requests. The kept one belongs to the
/// first-listed backend (or the first route seen within one backend).
#[derive(Debug, Clone)]
pub struct Conflict {
    /// The method both routes answer.
    pub http_method: http::Method,
    /// The template of the route that stays.
    pub kept_template: String,
    /// The backend of the route that stays.
    pub kept_backend: String,
    /// The gRPC method of the route that stays.
    pub kept_method: String,
    /// The template of the route that is dropped.
    pub dropped_template: String,
    /// The backend of the route that is dropped.
    pub dropped_backend: String,
    /// The gRPC method of the route that is dropped.
    pub dropped_method: String,
}

/// Problems found while building, none of them fatal: the offending route is skipped.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// Every pair of routes that match the same paths, and which one stayed.
    pub conflicts: Vec<Conflict>,
    /// Bad templates, rules naming missing fields, etc., each naming backend and method.
    pub errors: Vec<String>,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} (backend {}, {}) conflicts with {} {} (backend {}, {}), which is kept",
            self.http_method,
            self.dropped_template,
            self.dropped_backend,
            self.dropped_method,
            self.http_method,
            self.kept_template,
            self.kept_backend,
            self.kept_method,
        )
    }
}

/// Result of matching a request.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// The route, and the path variable values in the plan's `path_fields` order.
    Found(&'a Route, Vec<String>),
    /// Some route matches the path, but not with this HTTP method.
    MethodNotAllowed,
    /// No route's template matches the path (404).
    NotFound,
    /// The request is malformed (HTTP 400): the path does not start with `/`, or a
    /// value captured by the matching route has a bad percent-escape. The string
    /// says which, for the error body.
    BadRequest(String),
}

/// The immutable route table.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
    /// `captures[i]` extracts `routes[i]`'s path values once the trie has chosen it.
    captures: Vec<Captures>,
    /// One trie per HTTP method; there are only a handful, so a scan is cheapest.
    methods: Vec<(http::Method, MethodTrie)>,
    /// Owner of each exposed service, for native gRPC (see the `grpc` module).
    grpc: grpc::GrpcServices,
}

/// The one-pass program caches of a table build, one per descriptor pool
/// (pools compare by identity; a build sees a handful).
#[derive(Default)]
struct Programs(Vec<(DescriptorPool, ProgramCache)>);

impl Programs {
    /// The cache of `pool`'s message types.
    fn of(&mut self, pool: &DescriptorPool) -> &mut ProgramCache {
        let i = match self.0.iter().position(|(p, _)| p == pool) {
            Some(i) => i,
            None => {
                self.0.push((pool.clone(), ProgramCache::default()));
                self.0.len() - 1
            }
        };
        &mut self.0[i].1
    }

    /// Hands every cache's programs to the plans prepared with it.
    fn finish(self) {
        for (_, mut cache) in self.0 {
            cache.finish();
        }
    }
}

/// One route to be added: the default route or one binding of an HttpRule.
struct Binding {
    http_method: http::Method,
    template: String,
    body: String,
    response_body: String,
    source: RouteSource,
}

/// The pieces of the gRPC method a binding belongs to, for building its route.
struct MethodContext<'a> {
    backend: &'a BackendInput,
    backend_name: &'a Arc<str>,
    method: &'a MethodDescriptor,
    grpc_path: &'a Arc<str>,
    grpc_path_and_query: &'a http::uri::PathAndQuery,
}

impl RouteTable {
    /// Builds the table for the given backends, in config order.
    pub fn build(backends: &[BackendInput]) -> (RouteTable, BuildReport) {
        let mut table = RouteTable::default();
        let mut report = BuildReport::default();
        // One program per message type and pool, shared by its routes, and one
        // compiled library per pool: backends that share a pool (see the
        // reload stage's shared pool) share their programs too.
        let mut programs = Programs::default();
        for backend in backends {
            let backend_name: Arc<str> = backend.name.as_str().into();
            table.grpc.add(
                backend.index,
                &backend_name,
                &backend.pool,
                &backend.services,
            );
            // Absent when the backend's descriptors never import annotations.proto:
            // then no method can carry a rule.
            let http_ext = backend.pool.get_extension_by_name("google.api.http");
            check_selectors(backend, &mut report);
            for service_name in &backend.services {
                let Some(service) = backend.pool.get_service_by_name(service_name) else {
                    report.errors.push(format!(
                        "backend {}: service {service_name} is not in its descriptors",
                        backend.name
                    ));
                    continue;
                };
                for method in service.methods() {
                    let grpc_path: Arc<str> =
                        format!("/{}/{}", service.full_name(), method.name()).into();
                    // Proto identifiers are always a valid path; this is a guard.
                    let Ok(grpc_path_and_query) = http::uri::PathAndQuery::try_from(&*grpc_path)
                    else {
                        report.errors.push(format!(
                            "backend {}: {grpc_path} is not a valid HTTP/2 :path",
                            backend.name
                        ));
                        continue;
                    };
                    let ctx = MethodContext {
                        backend,
                        backend_name: &backend_name,
                        method: &method,
                        grpc_path: &grpc_path,
                        grpc_path_and_query: &grpc_path_and_query,
                    };
                    let default = Binding {
                        http_method: http::Method::POST,
                        template: grpc_path.to_string(),
                        body: "*".to_owned(),
                        response_body: String::new(),
                        source: RouteSource::Default,
                    };
                    table.add(&ctx, default, &mut programs, &mut report);
                    let configured = config_rule_bindings(backend, &method);
                    if !configured.is_empty() {
                        for binding in configured {
                            table.add(&ctx, binding, &mut programs, &mut report);
                        }
                    } else if let Some(ext) = &http_ext {
                        for binding in http_rule_bindings(&ctx, ext, &mut report) {
                            table.add(&ctx, binding, &mut programs, &mut report);
                        }
                    }
                }
            }
        }
        programs.finish();
        table.shrink();
        (table, report)
    }

    /// Drops the spare capacity that building left everywhere: the table is
    /// never added to again, and at thousands of routes the slack of vectors
    /// grown by doubling is most of a megabyte.
    fn shrink(&mut self) {
        self.routes.shrink_to_fit();
        self.captures.shrink_to_fit();
        for (_, trie) in &mut self.methods {
            trie.shrink();
        }
    }

    /// Parses, plans and inserts one binding; problems go to `report`.
    /// `programs` holds the one-pass programs of every pool seen so far.
    fn add(
        &mut self,
        ctx: &MethodContext<'_>,
        binding: Binding,
        programs: &mut Programs,
        report: &mut BuildReport,
    ) {
        let fail = |message: &dyn fmt::Display| {
            format!(
                "backend {}: {}: {} {}: {message}",
                ctx.backend.name, ctx.grpc_path, binding.http_method, binding.template
            )
        };
        let template = match Template::parse(&binding.template) {
            Ok(template) => template,
            Err(err) => return report.errors.push(fail(&err)),
        };
        let path_vars: Vec<&str> = template
            .variables()
            .iter()
            .map(|v| v.field_path.as_str())
            .collect();
        let plan_in = |method: &MethodDescriptor, programs: &mut ProgramCache| {
            let mut plan = MethodPlan::for_binding(
                method,
                binding.http_method.as_str(),
                &binding.body,
                &path_vars,
                &binding.response_body,
            )?;
            // Compiled here, not on the route's first call: the request path
            // never builds a program.
            plan.prepare(programs);
            Ok::<_, switchboard_transcode::PlanError>(Arc::new(plan))
        };
        let plan = match plan_in(ctx.method, programs.of(&ctx.backend.pool)) {
            Ok(plan) => plan,
            Err(err) => return report.errors.push(fail(&err)),
        };
        // The binding in each other schema that has the method. One whose
        // plan fails there keeps the primary plan for that group's endpoints.
        let mut schema_plans = Vec::new();
        for group in &ctx.backend.schema_groups {
            let Some(method) = find_method(&group.pool, ctx.method) else {
                continue;
            };
            match plan_in(&method, programs.of(&group.pool)) {
                Ok(plan) => schema_plans.push((group.digest, plan)),
                Err(err) => report.errors.push(fail(&format_args!(
                    "in schema {:016x}: {err}",
                    group.digest
                ))),
            }
        }

        let route = Route {
            backend: ctx.backend.index,
            backend_name: ctx.backend_name.clone(),
            metrics_label: format!("{} {}", binding.http_method, binding.template).into(),
            http_method: binding.http_method,
            template: binding.template,
            grpc_path: ctx.grpc_path.clone(),
            grpc_path_and_query: ctx.grpc_path_and_query.clone(),
            source: binding.source,
            plan,
            schema_plans: schema_plans.into_boxed_slice(),
        };
        if let Err((existing, dropped)) = self.insert(route, template) {
            let dropped = *dropped;
            let kept = &self.routes[existing];
            report.conflicts.push(Conflict {
                http_method: dropped.http_method,
                kept_template: kept.template.clone(),
                kept_backend: kept.backend_name.to_string(),
                kept_method: kept.grpc_path.to_string(),
                dropped_template: dropped.template,
                dropped_backend: dropped.backend_name.to_string(),
                dropped_method: dropped.grpc_path.to_string(),
            });
        }
    }

    /// Adds a route unless one with the same method, shape and verb exists; then
    /// returns that route's index and the rejected route.
    fn insert(&mut self, route: Route, template: Template) -> Result<(), (usize, Box<Route>)> {
        let index = self.routes.len();
        let trie = match self
            .methods
            .iter()
            .position(|(m, _)| *m == route.http_method)
        {
            Some(i) => &mut self.methods[i].1,
            None => {
                self.methods
                    .push((route.http_method.clone(), MethodTrie::default()));
                &mut self.methods.last_mut().expect("just pushed").1
            }
        };
        if let Err(existing) = trie.insert(&template, index) {
            return Err((existing, Box::new(route)));
        }
        self.routes.push(route);
        self.captures.push(template.captures());
        Ok(())
    }

    /// Matches a request's method and path (the raw path, without query string).
    ///
    /// See the crate docs for the precedence and decoding rules.
    /// Routing is on the raw path with multi-segment values keeping `%2F`
    /// (grpc-gateway's `UnescapingModeAllExceptSlash`); [`RouteTable::find_with`]
    /// takes the mode.
    pub fn find(&self, method: &http::Method, path: &str) -> Lookup<'_> {
        self.lookup(method, path, template::Decoding::ExceptSlash)
    }

    /// Matches `path` as routed (raw, or already decoded) and decodes the
    /// chosen route's values with `decoding`.
    fn lookup(
        &self,
        method: &http::Method,
        path: &str,
        decoding: template::Decoding,
    ) -> Lookup<'_> {
        let Some(rest) = path.strip_prefix('/') else {
            return Lookup::BadRequest(format!("path {path:?} does not start with '/'"));
        };
        if let Some(trie) = self.trie(method) {
            if let Some((index, stripped)) = trie.find(rest) {
                return match self.captures[index].capture(stripped, decoding) {
                    Ok(Some(values)) => Lookup::Found(&self.routes[index], values),
                    Err(err) => Lookup::BadRequest(err.to_string()),
                    // The trie and the template agree on shape, so this is unreachable.
                    Ok(None) => Lookup::NotFound,
                };
            }
        }
        let other_method_matches = self
            .methods
            .iter()
            .any(|(m, trie)| m != method && trie.find(rest).is_some());
        if other_method_matches {
            Lookup::MethodNotAllowed
        } else {
            Lookup::NotFound
        }
    }

    /// All routes, in build order (for `/routes` and `switchboard check`).
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    fn trie(&self, method: &http::Method) -> Option<&MethodTrie> {
        self.methods
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, trie)| trie)
    }
}

/// Reads the method's `google.api.http` rule, if any, as bindings: the rule
/// itself, then each of its `additional_bindings` (one level: bindings nested in
/// a binding are ignored, as the HttpRule docs specify). A binding without a
/// usable pattern is reported and skipped; the others are still returned.
fn http_rule_bindings(
    ctx: &MethodContext<'_>,
    ext: &ExtensionDescriptor,
    report: &mut BuildReport,
) -> Vec<Binding> {
    let options = ctx.method.options();
    if !options.has_extension(ext) {
        return Vec::new();
    }
    let rule = options.get_extension(ext);
    let Some(rule) = rule.as_message() else {
        return Vec::new();
    };
    let mut bindings = Vec::new();
    let mut read = |rule: &DynamicMessage, what: &str| match read_binding(rule) {
        Ok(binding) => bindings.push(binding),
        Err(message) => report.errors.push(format!(
            "backend {}: {}: google.api.http {what}: {message}",
            ctx.backend.name, ctx.grpc_path
        )),
    };
    read(rule, "rule");
    let additional = rule.get_field_by_name("additional_bindings");
    for (i, extra) in additional
        .as_deref()
        .and_then(|v| v.as_list())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if let Some(extra) = extra.as_message() {
            read(extra, &format!("additional_bindings[{i}]"));
        }
    }
    bindings
}

/// `method` (of another pool) in `pool`, by service and method name.
fn find_method(pool: &DescriptorPool, method: &MethodDescriptor) -> Option<MethodDescriptor> {
    pool.get_service_by_name(method.parent_service().full_name())?
        .methods()
        .find(|m| m.name() == method.name())
}

/// Reports every configured rule whose selector names no method in the backend's
/// descriptors: a typo there would otherwise silently leave a method unrouted.
/// A method that exists but whose service is not exposed is not an error (the
/// service filter excluded it on purpose).
fn check_selectors(backend: &BackendInput, report: &mut BuildReport) {
    for rule in &backend.http_rules {
        let found = rule
            .selector
            .rsplit_once('.')
            .is_some_and(|(service, method)| {
                backend
                    .pool
                    .get_service_by_name(service)
                    .is_some_and(|s| s.methods().any(|m| m.name() == method))
            });
        if !found {
            report.errors.push(format!(
                "backend {}: http_rules: selector {} names no method in the backend's descriptors",
                backend.name, rule.selector
            ));
        }
    }
}

/// The bindings the config gives `method` (every rule whose selector names it, in
/// config order, each followed by its additional bindings). Empty when the config
/// has none, and then the annotation applies.
fn config_rule_bindings(backend: &BackendInput, method: &MethodDescriptor) -> Vec<Binding> {
    let mut bindings = Vec::new();
    for rule in &backend.http_rules {
        if rule.selector != method.full_name() {
            continue;
        }
        for b in std::iter::once(&rule.binding).chain(&rule.additional_bindings) {
            // The config stage checked the method is an HTTP token; a failure here
            // would be a bug there, so skipping is enough.
            let Ok(http_method) = http::Method::from_bytes(b.method.as_bytes()) else {
                continue;
            };
            bindings.push(Binding {
                http_method,
                template: b.path.clone(),
                body: b.body.clone(),
                response_body: b.response_body.clone(),
                source: RouteSource::ConfigRule,
            });
        }
    }
    bindings
}

/// Reads one HttpRule's pattern (`get`/`put`/`post`/`delete`/`patch`/`custom`),
/// `body` and `response_body`.
fn read_binding(rule: &DynamicMessage) -> Result<Binding, String> {
    let string_field = |msg: &DynamicMessage, name: &str| -> String {
        msg.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    const SIMPLE: [(&str, http::Method); 5] = [
        ("get", http::Method::GET),
        ("put", http::Method::PUT),
        ("post", http::Method::POST),
        ("delete", http::Method::DELETE),
        ("patch", http::Method::PATCH),
    ];
    let pattern = SIMPLE
        .iter()
        .find(|(field, _)| rule.has_field_by_name(field))
        .map(|(field, method)| (method.clone(), string_field(rule, field)));
    let (http_method, template) = match pattern {
        Some(pattern) => pattern,
        None if rule.has_field_by_name("custom") => {
            let custom = rule.get_field_by_name("custom");
            let Some(custom) = custom.as_deref().and_then(|v| v.as_message()) else {
                return Err("custom pattern is not a message".to_owned());
            };
            let kind = string_field(custom, "kind");
            let method = http::Method::from_bytes(kind.as_bytes())
                .map_err(|_| format!("custom pattern has an invalid HTTP method {kind:?}"))?;
            (method, string_field(custom, "path"))
        }
        None => return Err("no pattern (get, put, post, delete, patch or custom) is set".into()),
    };
    Ok(Binding {
        http_method,
        template,
        body: string_field(rule, "body"),
        response_body: string_field(rule, "response_body"),
        source: RouteSource::HttpRule,
    })
}

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod tests;
