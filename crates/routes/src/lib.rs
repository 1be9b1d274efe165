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
//! - **Raw path.** Matching runs on the raw, still percent-encoded path
//!   (grpc-gateway's non-legacy unescaping modes): literals compare against the
//!   encoded text, and an encoded `%2F` never splits a segment.
//! - **Segments.** The path is split on every `/` with no normalisation, like
//!   grpc-gateway's `strings.Split`: a trailing slash or `//` yields an empty
//!   segment. No literal matches an empty segment, so `/v1/shelves/` does not
//!   match `/v1/shelves` (no redirect), but `*` does match one, as in grpc-gateway.
//! - **Decoding.** Captured values follow the google.api.http spec (grpc-gateway's
//!   `UnescapingModeAllExceptSlash`): a single-segment variable is fully
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

use crate::template::{Captures, Template};
use crate::trie::MethodTrie;

mod grpc;
pub mod template;
mod trie;

pub use grpc::{GrpcLookup, split_path as split_grpc_path};

/// One backend's contribution to a table build.
#[derive(Debug, Clone)]
pub struct BackendInput {
    /// Position in the config; also the index the serve stage uses for upstreams.
    pub index: usize,
    pub name: String,
    pub pool: DescriptorPool,
    /// Fully-qualified names of the services to expose, in a stable order.
    pub services: Vec<String>,
    /// HTTP rules from the config (`http_rules`), in config order. A method named
    /// by a selector here is routed by these rules, not by its annotation.
    pub http_rules: Vec<ConfigHttpRule>,
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
    pub backend: usize,
    pub backend_name: Arc<str>,
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
                    table.add(&ctx, default, &mut report);
                    let configured = config_rule_bindings(backend, &method);
                    if !configured.is_empty() {
                        for binding in configured {
                            table.add(&ctx, binding, &mut report);
                        }
                    } else if let Some(ext) = &http_ext {
                        for binding in http_rule_bindings(&ctx, ext, &mut report) {
                            table.add(&ctx, binding, &mut report);
                        }
                    }
                }
            }
        }
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
    fn add(&mut self, ctx: &MethodContext<'_>, binding: Binding, report: &mut BuildReport) {
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
        let plan = match MethodPlan::for_binding(
            ctx.method,
            binding.http_method.as_str(),
            &binding.body,
            &path_vars,
            &binding.response_body,
        ) {
            Ok(plan) => plan,
            Err(err) => return report.errors.push(fail(&err)),
        };

        let route = Route {
            backend: ctx.backend.index,
            backend_name: ctx.backend_name.clone(),
            metrics_label: format!("{} {}", binding.http_method, binding.template).into(),
            http_method: binding.http_method,
            template: binding.template,
            grpc_path: ctx.grpc_path.clone(),
            grpc_path_and_query: ctx.grpc_path_and_query.clone(),
            source: binding.source,
            plan: Arc::new(plan),
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
    pub fn find(&self, method: &http::Method, path: &str) -> Lookup<'_> {
        let Some(rest) = path.strip_prefix('/') else {
            return Lookup::BadRequest(format!("path {path:?} does not start with '/'"));
        };
        if let Some(trie) = self.trie(method) {
            if let Some((index, stripped)) = trie.find(rest) {
                return match self.captures[index].capture(stripped) {
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
mod tests {
    use http::Method;

    use super::*;

    use crate::test_support::{backend, pool};

    const GREETER: &str = r#"
        syntax = "proto3";
        package helloworld;
        service Greeter {
          rpc SayHello (HelloRequest) returns (HelloReply);
          rpc SayHelloStream (HelloRequest) returns (stream HelloReply);
        }
        message HelloRequest { string name = 1; }
        message HelloReply { string message = 1; }
    "#;

    const LIBRARY: &str = r#"
        syntax = "proto3";
        package library.v1;
        import "google/api/annotations.proto";

        service Library {
          rpc GetBook (GetBookRequest) returns (Book) {
            option (google.api.http) = {
              get: "/v1/{name=shelves/*/books/*}"
              additional_bindings { get: "/v1/books/{name}" }
              additional_bindings {
                post: "/v1/{name=shelves/*/books/*}:get" body: "*"
                additional_bindings { get: "/v1/nested/ignored" }
              }
            };
          }
          rpc UpdateBook (UpdateBookRequest) returns (Book) {
            option (google.api.http) = {
              patch: "/v1/{book.name=shelves/*/books/*}" body: "book"
            };
          }
          rpc ArchiveBook (GetBookRequest) returns (Book) {
            option (google.api.http) = {
              post: "/v1/{name=shelves/*/books/*}:archive" body: "*" response_body: "title"
            };
          }
          rpc Probe (GetBookRequest) returns (Book) {
            option (google.api.http) = {
              custom: { kind: "HEAD" path: "/v1/{name=shelves/*/books/*}" }
            };
          }
          rpc BadTemplate (GetBookRequest) returns (Book) {
            option (google.api.http) = { get: "/v1/{name=shelves/*" };
          }
          rpc NoPattern (GetBookRequest) returns (Book) {
            option (google.api.http) = { body: "*" };
          }
          rpc Plain (GetBookRequest) returns (Book);
        }
        message Book { string name = 1; string title = 2; }
        message GetBookRequest { string name = 1; }
        message UpdateBookRequest { Book book = 1; }
    "#;

    fn find_route<'a>(table: &'a RouteTable, method: Method, template: &str) -> &'a Route {
        table
            .routes()
            .iter()
            .find(|r| r.http_method == method && r.template == template)
            .unwrap_or_else(|| panic!("no route {method} {template}"))
    }

    fn found<'a>(lookup: Lookup<'a>) -> (&'a Route, Vec<String>) {
        match lookup {
            Lookup::Found(route, values) => (route, values),
            other => panic!("expected a match, got {other:?}"),
        }
    }

    // ---- build() ----

    #[test]
    fn builds_default_routes_for_every_method() {
        let pool = pool(GREETER);
        let (table, report) =
            RouteTable::build(&[backend(3, "greeter", &pool, &["helloworld.Greeter"])]);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert!(report.conflicts.is_empty());
        let templates: Vec<_> = table.routes().iter().map(|r| &r.template[..]).collect();
        assert_eq!(
            templates,
            [
                "/helloworld.Greeter/SayHello",
                "/helloworld.Greeter/SayHelloStream"
            ]
        );
        let route = &table.routes()[0];
        assert_eq!(route.http_method, Method::POST);
        assert_eq!(route.source, RouteSource::Default);
        assert_eq!(route.backend, 3);
        assert_eq!(&*route.backend_name, "greeter");
        assert_eq!(&*route.grpc_path, "/helloworld.Greeter/SayHello");
        assert_eq!(route.plan.method.name(), "SayHello");

        let (route, values) = found(table.find(&Method::POST, "/helloworld.Greeter/SayHello"));
        assert_eq!(route.plan.method.name(), "SayHello");
        assert!(values.is_empty());
        assert!(matches!(
            table.find(&Method::GET, "/helloworld.Greeter/SayHello"),
            Lookup::MethodNotAllowed
        ));
        assert!(matches!(
            table.find(&Method::POST, "/helloworld.Greeter/Nope"),
            Lookup::NotFound
        ));
    }

    #[test]
    fn builds_annotated_routes() {
        let pool = pool(LIBRARY);
        let (table, report) =
            RouteTable::build(&[backend(0, "library", &pool, &["library.v1.Library"])]);
        assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);

        let rule_routes: Vec<_> = table
            .routes()
            .iter()
            .filter(|r| r.source == RouteSource::HttpRule)
            .map(|r| format!("{} {} -> {}", r.http_method, r.template, r.grpc_path))
            .collect();
        assert_eq!(
            rule_routes,
            [
                "GET /v1/{name=shelves/*/books/*} -> /library.v1.Library/GetBook",
                "GET /v1/books/{name} -> /library.v1.Library/GetBook",
                "POST /v1/{name=shelves/*/books/*}:get -> /library.v1.Library/GetBook",
                "PATCH /v1/{book.name=shelves/*/books/*} -> /library.v1.Library/UpdateBook",
                "POST /v1/{name=shelves/*/books/*}:archive -> /library.v1.Library/ArchiveBook",
                "HEAD /v1/{name=shelves/*/books/*} -> /library.v1.Library/Probe",
            ]
        );
        // Every method still has its default route, the broken ones included.
        let defaults = table
            .routes()
            .iter()
            .filter(|r| r.source == RouteSource::Default)
            .count();
        assert_eq!(defaults, 7);

        let (route, values) = found(table.find(&Method::GET, "/v1/shelves/s1/books/b%201"));
        assert_eq!(route.template, "/v1/{name=shelves/*/books/*}");
        assert_eq!(values, ["shelves/s1/books/b 1"]);
        let (route, values) = found(table.find(&Method::GET, "/v1/books/b%2F1"));
        assert_eq!(route.template, "/v1/books/{name}");
        assert_eq!(values, ["b/1"]);
        let (route, values) = found(table.find(&Method::PATCH, "/v1/shelves/1/books/2"));
        assert_eq!(&*route.grpc_path, "/library.v1.Library/UpdateBook");
        assert_eq!(values, ["shelves/1/books/2"]);
        let (route, _) = found(table.find(&Method::POST, "/v1/shelves/1/books/2:archive"));
        assert_eq!(&*route.grpc_path, "/library.v1.Library/ArchiveBook");
        let (route, _) = found(table.find(&Method::POST, "/v1/shelves/1/books/2:get"));
        assert_eq!(&*route.grpc_path, "/library.v1.Library/GetBook");
        let (route, _) = found(table.find(&Method::HEAD, "/v1/shelves/1/books/2"));
        assert_eq!(&*route.grpc_path, "/library.v1.Library/Probe");
        // An unknown verb is part of the last segment, which the verb-less GET
        // template accepts: so 405, not 404.
        assert!(matches!(
            table.find(&Method::POST, "/v1/shelves/1/books/2:burn"),
            Lookup::MethodNotAllowed
        ));
        assert!(matches!(
            table.find(&Method::POST, "/v1/shelves/1/books:burn"),
            Lookup::NotFound
        ));
        assert!(matches!(
            table.find(&Method::DELETE, "/v1/shelves/1/books/2"),
            Lookup::MethodNotAllowed
        ));
    }

    fn config_binding(method: &str, path: &str, body: &str) -> switchboard_config::HttpBinding {
        switchboard_config::HttpBinding {
            method: method.into(),
            path: path.into(),
            body: body.into(),
            response_body: String::new(),
        }
    }

    #[test]
    fn config_rules_route_unannotated_methods_and_replace_annotations() {
        let greeter = pool(GREETER);
        let library = pool(LIBRARY);
        let mut g = backend(0, "greeter", &greeter, &["helloworld.Greeter"]);
        g.http_rules = vec![
            ConfigHttpRule {
                selector: "helloworld.Greeter.SayHello".into(),
                binding: config_binding("GET", "/v1/hello/{name}", ""),
                additional_bindings: vec![config_binding("POST", "/v1/hello", "*")],
            },
            ConfigHttpRule {
                selector: "helloworld.Greeter.Nope".into(),
                binding: config_binding("GET", "/v1/nope", ""),
                additional_bindings: vec![],
            },
            ConfigHttpRule {
                selector: "helloworld.Greeter.SayHelloStream".into(),
                binding: config_binding("GET", "/v1/stream/{missing}", ""),
                additional_bindings: vec![],
            },
        ];
        let mut l = backend(1, "library", &library, &["library.v1.Library"]);
        l.http_rules = vec![ConfigHttpRule {
            selector: "library.v1.Library.GetBook".into(),
            binding: config_binding("GET", "/v2/books/{name}", ""),
            additional_bindings: vec![],
        }];
        let (table, report) = RouteTable::build(&[g, l]);
        assert_eq!(
            report.errors[..2],
            [
                "backend greeter: http_rules: selector helloworld.Greeter.Nope names no method in the backend's descriptors",
                "backend greeter: /helloworld.Greeter/SayHelloStream: GET /v1/stream/{missing}: path variable \"missing\": field \"missing\" not found in helloworld.HelloRequest",
            ]
        );
        let configured: Vec<_> = table
            .routes()
            .iter()
            .filter(|r| r.source == RouteSource::ConfigRule)
            .map(|r| format!("{} {} -> {}", r.http_method, r.template, r.grpc_path))
            .collect();
        assert_eq!(
            configured,
            [
                "GET /v1/hello/{name} -> /helloworld.Greeter/SayHello",
                "POST /v1/hello -> /helloworld.Greeter/SayHello",
                "GET /v2/books/{name} -> /library.v1.Library/GetBook",
            ]
        );
        // The configured rule replaced GetBook's annotation (and its bindings);
        // other methods keep theirs.
        assert!(!matches!(
            table.find(&Method::GET, "/v1/shelves/1/books/2"),
            Lookup::Found(..)
        ));
        let (route, _) = found(table.find(&Method::PATCH, "/v1/shelves/1/books/2"));
        assert_eq!(route.source, RouteSource::HttpRule);
        let (route, values) = found(table.find(&Method::GET, "/v1/hello/world"));
        assert_eq!(&*route.grpc_path, "/helloworld.Greeter/SayHello");
        assert_eq!(values, ["world"]);
        assert!(matches!(
            route.plan.body,
            switchboard_transcode::BodyPlan::None
        ));
    }

    #[test]
    fn nested_additional_bindings_are_ignored() {
        let pool = pool(LIBRARY);
        let (table, _) =
            RouteTable::build(&[backend(0, "library", &pool, &["library.v1.Library"])]);
        assert!(
            table
                .routes()
                .iter()
                .all(|r| r.template != "/v1/nested/ignored")
        );
        assert!(matches!(
            table.find(&Method::GET, "/v1/nested/ignored"),
            Lookup::NotFound
        ));
    }

    #[test]
    fn bad_rules_are_reported_with_backend_and_method() {
        let pool = pool(LIBRARY);
        let (table, report) =
            RouteTable::build(&[backend(0, "library", &pool, &["library.v1.Library"])]);
        let bad_template = report
            .errors
            .iter()
            .find(|e| e.contains("BadTemplate"))
            .expect("bad template reported");
        assert!(
            bad_template.starts_with(
                "backend library: /library.v1.Library/BadTemplate: GET /v1/{name=shelves/*: "
            ),
            "{bad_template}"
        );
        assert!(
            bad_template.contains("unterminated variable"),
            "{bad_template}"
        );
        let no_pattern = report
            .errors
            .iter()
            .find(|e| e.contains("NoPattern"))
            .expect("missing pattern reported");
        assert!(no_pattern.contains("backend library"), "{no_pattern}");
        assert!(no_pattern.contains("no pattern"), "{no_pattern}");
        // The rest of the table is intact.
        assert!(
            table
                .routes()
                .iter()
                .any(|r| r.template == "/library.v1.Library/BadTemplate")
        );
        assert!(
            table
                .routes()
                .iter()
                .any(|r| r.template == "/library.v1.Library/Plain")
        );
        found(table.find(&Method::GET, "/v1/books/x"));
    }

    #[test]
    fn unknown_service_is_reported() {
        let pool = pool(GREETER);
        let (table, report) = RouteTable::build(&[backend(
            0,
            "greeter",
            &pool,
            &["helloworld.Missing", "helloworld.Greeter"],
        )]);
        assert_eq!(
            report.errors,
            ["backend greeter: service helloworld.Missing is not in its descriptors"]
        );
        assert_eq!(table.routes().len(), 2);
    }

    #[test]
    fn pool_without_annotations_has_only_default_routes() {
        let pool = pool(GREETER);
        assert!(pool.get_extension_by_name("google.api.http").is_none());
        let (table, _) = RouteTable::build(&[backend(0, "g", &pool, &["helloworld.Greeter"])]);
        assert!(
            table
                .routes()
                .iter()
                .all(|r| r.source == RouteSource::Default)
        );
    }

    #[test]
    fn conflicts_across_backends_keep_the_first() {
        let other = pool(
            r#"
            syntax = "proto3";
            package other;
            import "google/api/annotations.proto";
            service Shelf {
              rpc Fetch (Req) returns (Req) {
                option (google.api.http) = {
                  get: "/v1/{path=shelves/*/books/*}"
                  additional_bindings { get: "/v1/books/{name=*}" }
                  additional_bindings { get: "/v1/books/special" }
                };
              }
            }
            message Req { string path = 1; string name = 2; }
            "#,
        );
        let library = pool(LIBRARY);
        let greeter = pool(GREETER);
        let (table, report) = RouteTable::build(&[
            backend(0, "library", &library, &["library.v1.Library"]),
            backend(1, "greeter-a", &greeter, &["helloworld.Greeter"]),
            backend(2, "other", &other, &["other.Shelf"]),
            backend(3, "greeter-b", &greeter, &["helloworld.Greeter"]),
        ]);
        let summary: Vec<_> = report
            .conflicts
            .iter()
            .map(|c| {
                format!(
                    "{} {} {} {} | {} {} {}",
                    c.http_method,
                    c.kept_template,
                    c.kept_backend,
                    c.kept_method,
                    c.dropped_template,
                    c.dropped_backend,
                    c.dropped_method
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                "GET /v1/{name=shelves/*/books/*} library /library.v1.Library/GetBook \
                 | /v1/{path=shelves/*/books/*} other /other.Shelf/Fetch",
                "GET /v1/books/{name} library /library.v1.Library/GetBook \
                 | /v1/books/{name=*} other /other.Shelf/Fetch",
                "POST /helloworld.Greeter/SayHello greeter-a /helloworld.Greeter/SayHello \
                 | /helloworld.Greeter/SayHello greeter-b /helloworld.Greeter/SayHello",
                "POST /helloworld.Greeter/SayHelloStream greeter-a /helloworld.Greeter/SayHelloStream \
                 | /helloworld.Greeter/SayHelloStream greeter-b /helloworld.Greeter/SayHelloStream",
            ]
        );
        assert!(report.conflicts[0].to_string().contains("which is kept"));

        // The kept routes serve; the partly-overlapping literal route coexists.
        let (route, _) = found(table.find(&Method::GET, "/v1/shelves/1/books/2"));
        assert_eq!(&*route.backend_name, "library");
        let (route, _) = found(table.find(&Method::POST, "/helloworld.Greeter/SayHello"));
        assert_eq!(route.backend, 1);
        let (route, values) = found(table.find(&Method::GET, "/v1/books/special"));
        assert_eq!((&*route.backend_name, values.len()), ("other", 0));
        let (route, values) = found(table.find(&Method::GET, "/v1/books/ordinary"));
        assert_eq!(
            (&*route.backend_name, values),
            ("library", vec!["ordinary".to_owned()])
        );
        assert!(
            !table
                .routes()
                .iter()
                .any(|r| &*r.backend_name == "greeter-b")
        );
        assert_eq!(
            find_route(&table, Method::GET, "/v1/books/special").source,
            RouteSource::HttpRule
        );
    }

    #[test]
    fn conflicts_within_a_backend_keep_the_first_seen() {
        let pool = pool(
            r#"
            syntax = "proto3";
            package dup;
            import "google/api/annotations.proto";
            service S {
              rpc A (M) returns (M) { option (google.api.http) = { post: "/v1/{x}:go" body: "*" }; }
              rpc B (M) returns (M) { option (google.api.http) = { post: "/v1/{y=*}:go" body: "*" }; }
              rpc C (M) returns (M) { option (google.api.http) = { post: "/v1/{x}" body: "*" }; }
              rpc D (M) returns (M) { option (google.api.http) = { post: "/dup.S/A" body: "*" }; }
            }
            message M { string x = 1; string y = 2; }
            "#,
        );
        let (table, report) = RouteTable::build(&[backend(0, "dup", &pool, &["dup.S"])]);
        let pairs: Vec<_> = report
            .conflicts
            .iter()
            .map(|c| (&c.kept_method[..], &c.dropped_method[..]))
            .collect();
        assert_eq!(pairs, [("/dup.S/A", "/dup.S/B"), ("/dup.S/A", "/dup.S/D")]);
        let (route, values) = found(table.find(&Method::POST, "/v1/abc:go"));
        assert_eq!(
            (&*route.grpc_path, values),
            ("/dup.S/A", vec!["abc".to_owned()])
        );
        let (route, _) = found(table.find(&Method::POST, "/v1/abc"));
        assert_eq!(&*route.grpc_path, "/dup.S/C");
    }

    // ---- find(): precedence, 404/405, errors ----

    /// A table built straight from templates, all routed to one method (whose
    /// default-route plan is always valid): for matcher tests that need no
    /// descriptors beyond that.
    fn table_of(routes: &[(Method, &str)]) -> RouteTable {
        let pool = pool(GREETER);
        let method = pool
            .get_service_by_name("helloworld.Greeter")
            .unwrap()
            .methods()
            .next()
            .unwrap();
        let plan = Arc::new(MethodPlan::new(&method, "*", &[], "").unwrap());
        let mut table = RouteTable::default();
        for (i, (http_method, template)) in routes.iter().enumerate() {
            let route = Route {
                backend: i,
                backend_name: "test".into(),
                http_method: http_method.clone(),
                template: template.to_string(),
                grpc_path: "/helloworld.Greeter/SayHello".into(),
                grpc_path_and_query: http::uri::PathAndQuery::from_static(
                    "/helloworld.Greeter/SayHello",
                ),
                metrics_label: format!("{http_method} {template}").into(),
                source: RouteSource::HttpRule,
                plan: plan.clone(),
            };
            let parsed = Template::parse(template).unwrap();
            if table.insert(route, parsed).is_err() {
                panic!("unexpected conflict for {template}");
            }
        }
        table
    }

    /// The template chosen for `GET path`, with its values, or the outcome's name.
    fn choose(table: &RouteTable, path: &str) -> (String, Vec<String>) {
        match table.find(&Method::GET, path) {
            Lookup::Found(route, values) => (route.template.clone(), values),
            Lookup::MethodNotAllowed => ("405".into(), vec![]),
            Lookup::NotFound => ("404".into(), vec![]),
            Lookup::BadRequest(msg) => (format!("400 {msg}"), vec![]),
        }
    }

    fn chosen(table: &RouteTable, path: &str) -> String {
        choose(table, path).0
    }

    #[test]
    fn literal_beats_wildcard_beats_deep_wildcard() {
        let table = table_of(&[
            (Method::GET, "/v1/{rest=**}"),
            (Method::GET, "/v1/{id}"),
            (Method::GET, "/v1/first"),
            (Method::GET, "/v1/{id}/books"),
            (Method::GET, "/v1/first/{x}"),
        ]);
        assert_eq!(chosen(&table, "/v1/first"), "/v1/first");
        assert_eq!(chosen(&table, "/v1/second"), "/v1/{id}");
        assert_eq!(chosen(&table, "/v1/a/b/c"), "/v1/{rest=**}");
        assert_eq!(chosen(&table, "/v1"), "/v1/{rest=**}");
        // Decided left to right: the literal `first` wins even though the other
        // route has the literal in the next segment.
        assert_eq!(chosen(&table, "/v1/first/books"), "/v1/first/{x}");
        assert_eq!(chosen(&table, "/v1/other/books"), "/v1/{id}/books");
        // Backtracking: `first` leads nowhere for three segments, `*` neither, `**` does.
        assert_eq!(
            choose(&table, "/v1/first/books/x"),
            ("/v1/{rest=**}".into(), vec!["first/books/x".into()])
        );
    }

    #[test]
    fn nodes_with_many_literal_children_hash_them() {
        // More siblings than a node scans (`trie::SCAN_MAX`), each with children.
        let templates: Vec<String> = (0..40)
            .flat_map(|i| [format!("/v1/s{i}"), format!("/v1/s{i}/{{id}}")])
            .collect();
        let routes: Vec<(Method, &str)> = templates
            .iter()
            .map(|t| (Method::GET, t.as_str()))
            .collect();
        let mut table = table_of(&routes);
        let check = |table: &RouteTable| {
            for i in 0..40 {
                assert_eq!(chosen(table, &format!("/v1/s{i}")), format!("/v1/s{i}"));
                assert_eq!(
                    choose(table, &format!("/v1/s{i}/x%20y")),
                    (format!("/v1/s{i}/{{id}}"), vec!["x y".to_owned()])
                );
            }
            assert_eq!(chosen(table, "/v1/s40"), "404");
            assert_eq!(chosen(table, "/v1/s"), "404");
        };
        check(&table);
        table.shrink();
        check(&table);
        // Same shape as an existing route once hashed: still a conflict.
        let mut twin = table.routes()[0].clone();
        twin.template = "/v1/s0".into();
        let parsed = Template::parse("/v1/s0").unwrap();
        assert!(matches!(table.insert(twin, parsed), Err((0, _))));
    }

    #[test]
    fn deep_wildcard_in_the_middle_backtracks() {
        let table = table_of(&[
            (Method::GET, "/files/{path=**}/meta"),
            (Method::GET, "/files/{path=**}/meta/{key}"),
            (Method::GET, "/files/{path=**}:stat"),
        ]);
        assert_eq!(
            choose(&table, "/files/a/b/meta"),
            ("/files/{path=**}/meta".into(), vec!["a/b".into()])
        );
        assert_eq!(
            choose(&table, "/files/a/meta/k"),
            (
                "/files/{path=**}/meta/{key}".into(),
                vec!["a".into(), "k".into()]
            )
        );
        // `**` prefers consuming fewer segments.
        assert_eq!(
            choose(&table, "/files/meta/meta"),
            (
                "/files/{path=**}/meta/{key}".into(),
                vec!["".into(), "meta".into()]
            )
        );
        assert_eq!(
            choose(&table, "/files/a/meta/meta"),
            (
                "/files/{path=**}/meta/{key}".into(),
                vec!["a".into(), "meta".into()]
            )
        );
        assert_eq!(
            choose(&table, "/files/x/y:stat"),
            ("/files/{path=**}:stat".into(), vec!["x/y".into()])
        );
        assert_eq!(chosen(&table, "/files/a/b"), "404");
        assert_eq!(chosen(&table, "/other/meta"), "404");
    }

    #[test]
    fn verbs_are_matched_on_the_last_segment() {
        let table = table_of(&[
            (Method::GET, "/v1/{name}"),
            (Method::GET, "/v1/{name}:archive"),
            (Method::GET, "/v1/shelves:batchGet"),
            (Method::GET, "/v1/{name}:b:c"),
            (Method::GET, "/v1/{name}:c"),
        ]);
        assert_eq!(
            choose(&table, "/v1/x:archive"),
            ("/v1/{name}:archive".into(), vec!["x".into()])
        );
        assert_eq!(
            choose(&table, "/v1/x"),
            ("/v1/{name}".into(), vec!["x".into()])
        );
        // An unknown verb is just part of the segment.
        assert_eq!(
            choose(&table, "/v1/x:unknown"),
            ("/v1/{name}".into(), vec!["x:unknown".into()])
        );
        assert_eq!(
            chosen(&table, "/v1/shelves:batchGet"),
            "/v1/shelves:batchGet"
        );
        // A verb-bearing match beats a more literal verb-less one...
        assert_eq!(
            choose(&table, "/v1/shelves:archive"),
            ("/v1/{name}:archive".into(), vec!["shelves".into()])
        );
        // ...and the longest verb is tried first.
        assert_eq!(
            choose(&table, "/v1/a:b:c"),
            ("/v1/{name}:b:c".into(), vec!["a".into()])
        );
        assert_eq!(
            choose(&table, "/v1/a:c"),
            ("/v1/{name}:c".into(), vec!["a".into()])
        );
        // A last segment that is only `:verb` carries no verb.
        assert_eq!(
            choose(&table, "/v1/:archive"),
            ("/v1/{name}".into(), vec![":archive".into()])
        );
    }

    #[test]
    fn trailing_slashes_and_empty_segments_are_not_normalised() {
        let table = table_of(&[
            (Method::GET, "/v1/shelves"),
            (Method::GET, "/v1/shelves/{id}"),
        ]);
        assert_eq!(chosen(&table, "/v1/shelves"), "/v1/shelves");
        // A trailing slash is an empty last segment, which `*` accepts.
        assert_eq!(
            choose(&table, "/v1/shelves/"),
            ("/v1/shelves/{id}".into(), vec!["".into()])
        );
        assert_eq!(chosen(&table, "/v1//shelves"), "404");
        assert_eq!(chosen(&table, "//v1/shelves"), "404");
        assert_eq!(chosen(&table, "/"), "404");
    }

    #[test]
    fn method_not_allowed_versus_not_found() {
        let table = table_of(&[
            (Method::POST, "/v1/shelves"),
            (Method::DELETE, "/v1/shelves/{id}"),
            (Method::GET, "/v1/books/{id}"),
        ]);
        assert!(matches!(
            table.find(&Method::GET, "/v1/shelves"),
            Lookup::MethodNotAllowed
        ));
        assert!(matches!(
            table.find(&Method::GET, "/v1/shelves/1"),
            Lookup::MethodNotAllowed
        ));
        assert!(matches!(
            table.find(&Method::GET, "/v1/nothing"),
            Lookup::NotFound
        ));
        assert!(matches!(
            table.find(&Method::PUT, "/v1/nothing"),
            Lookup::NotFound
        ));
        // HEAD is not mapped to GET, as in grpc-gateway.
        assert!(matches!(
            table.find(&Method::HEAD, "/v1/books/1"),
            Lookup::MethodNotAllowed
        ));
    }

    #[test]
    fn bad_escapes_and_bad_paths_are_bad_requests() {
        let table = table_of(&[(Method::GET, "/v1/{name}"), (Method::GET, "/v1/*/x")]);
        let (outcome, _) = choose(&table, "/v1/a%zz");
        assert_eq!(outcome, "400 malformed path escape \"%zz\"");
        // Only the chosen route's captures are decoded.
        assert_eq!(chosen(&table, "/v1/a%zz/x"), "/v1/*/x");
        assert_eq!(chosen(&table, "/v2/a%zz"), "404");
        assert!(matches!(
            table.find(&Method::GET, "v1/x"),
            Lookup::BadRequest(_)
        ));
        assert!(matches!(
            table.find(&Method::GET, ""),
            Lookup::BadRequest(_)
        ));
        assert!(matches!(
            table.find(&Method::GET, "*"),
            Lookup::BadRequest(_)
        ));
    }

    #[test]
    fn percent_decoding_depends_on_variable_width() {
        let table = table_of(&[
            (Method::GET, "/v1/one/{name}"),
            (Method::GET, "/v1/many/{name=**}"),
            (Method::GET, "/v1/pair/{name=shelves/*}"),
        ]);
        assert_eq!(choose(&table, "/v1/one/a%2Fb%20c").1, ["a/b c"]);
        assert_eq!(choose(&table, "/v1/many/a%2Fb/c%20d").1, ["a%2Fb/c d"]);
        assert_eq!(
            choose(&table, "/v1/pair/shelves/a%2fb").1,
            ["shelves/a%2fb"]
        );
        // Literals are compared undecoded.
        assert_eq!(chosen(&table, "/v1/%6Fne/x"), "404");
    }

    #[test]
    fn nested_field_paths_are_returned_in_template_order() {
        let table = table_of(&[(
            Method::GET,
            "/v1/{parent.id}/{book.name=shelves/*/books/*}/{z}",
        )]);
        assert_eq!(
            choose(&table, "/v1/p/shelves/s/books/b/zz").1,
            ["p", "shelves/s/books/b", "zz"]
        );
    }

    // ---- scale ----

    #[test]
    fn two_thousand_methods_build_and_match_quickly() {
        const SERVICES: usize = 20;
        const METHODS: usize = 100;
        let mut source = String::from(
            "syntax = \"proto3\";\npackage big;\nimport \"google/api/annotations.proto\";\n\
             message Req { string name = 1; string parent = 2; }\n",
        );
        for s in 0..SERVICES {
            source.push_str(&format!("service S{s} {{\n"));
            for m in 0..METHODS {
                source.push_str(&format!(
                    "  rpc M{m} (Req) returns (Req) {{ option (google.api.http) = {{\n\
                     get: \"/v1/s{s}/r{m}/{{name=items/*}}\"\n\
                     additional_bindings {{ post: \"/v1/{{parent=s{s}/*}}/r{m}:run\" body: \"*\" }}\n\
                     }}; }}\n"
                ));
            }
            source.push_str("}\n");
        }
        source.push_str(
            "service Catch { rpc All (Req) returns (Req) { option (google.api.http) = \
             { get: \"/v1/{name=**}\" }; } }\n",
        );
        let pool = pool(&source);
        let mut services: Vec<String> = (0..SERVICES).map(|s| format!("big.S{s}")).collect();
        services.push("big.Catch".into());
        let services: Vec<&str> = services.iter().map(String::as_str).collect();

        let (table, report) = RouteTable::build(&[backend(0, "big", &pool, &services)]);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert!(report.conflicts.is_empty());
        assert_eq!(table.routes().len(), SERVICES * METHODS * 3 + 2);

        let mut requests = Vec::new();
        for s in 0..SERVICES {
            for m in 0..METHODS {
                requests.push((
                    Method::GET,
                    format!("/v1/s{s}/r{m}/items/{m}"),
                    format!("/big.S{s}/M{m}"),
                ));
                requests.push((
                    Method::POST,
                    format!("/v1/s{s}/x/r{m}:run"),
                    format!("/big.S{s}/M{m}"),
                ));
                requests.push((
                    Method::POST,
                    format!("/big.S{s}/M{m}"),
                    format!("/big.S{s}/M{m}"),
                ));
            }
        }
        for (method, path, grpc_path) in &requests {
            let (route, _) = found(table.find(method, path));
            assert_eq!(&*route.grpc_path, grpc_path, "{method} {path}");
        }
        let (route, values) = found(table.find(&Method::GET, "/v1/s1/r1/other/deep/path"));
        assert_eq!(&*route.grpc_path, "/big.Catch/All");
        assert_eq!(values, ["s1/r1/other/deep/path"]);
        assert!(matches!(
            table.find(&Method::DELETE, "/v1/s1/r1/items/1"),
            Lookup::MethodNotAllowed
        ));
        // Speed is measured by the benchmarks (scripts/bench.sh), not asserted here.
    }
}
