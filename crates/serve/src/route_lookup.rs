//! Which route serves an HTTP/JSON request: grpc-gateway's `ServeMux.ServeHTTP`
//! (runtime/mux.go) around the route table's matcher.
//!
//! - The path is matched under the gateway's `http.unescaping_mode`
//!   ([`RouteTable::find_with`]).
//! - **Method override.** A POST whose `Content-Type` is exactly
//!   `application/x-www-form-urlencoded` (grpc-gateway's `isPathLengthFallback`)
//!   and that carries `X-HTTP-Method-Override: M` is routed as method `M`
//!   (upper-cased), unless `http.method_override` (or `path_length_fallback`,
//!   which the condition includes) is off.
//! - **Path-length fallback.** Such a POST (not overridden) to a path that only
//!   other methods' routes match is served by the GET route, if one matches
//!   (never another method: a fallback must not turn into a DELETE). The form
//!   fields are then bound like query parameters, which the route's own
//!   binding does for every body-less route (see `transcode::form_parameters`).
//! - Anything else that matches only other methods stays 501 (`Lookup::MethodNotAllowed`).

use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method};
use switchboard_config::HttpOptions;
use switchboard_routes::{Lookup, RouteTable};

/// grpc-gateway's header name.
const METHOD_OVERRIDE: &str = "x-http-method-override";

/// The route for a request, with the method override and the POST-to-GET
/// fallback applied. `Err` is a 400 message (an override that is no HTTP
/// method).
pub(crate) fn find<'t>(
    table: &'t RouteTable,
    options: &HttpOptions,
    method: &Method,
    headers: &HeaderMap,
    path: &str,
) -> Result<Lookup<'t>, String> {
    let mode = options.unescaping_mode;
    let fallback = options.path_length_fallback && is_path_length_fallback(method, headers);
    let overridden = match headers.get(METHOD_OVERRIDE) {
        Some(value) if fallback && options.method_override && !value.is_empty() => {
            let upper = value.as_bytes().to_ascii_uppercase();
            Some(Method::from_bytes(&upper).map_err(|_| {
                format!(
                    "invalid X-HTTP-Method-Override {:?}",
                    String::from_utf8_lossy(value.as_bytes())
                )
            })?)
        }
        _ => None,
    };
    if let Some(method) = overridden {
        return Ok(table.find_with(&method, path, mode));
    }
    Ok(match table.find_with(method, path, mode) {
        Lookup::MethodNotAllowed if fallback => match table.find_with(&Method::GET, path, mode) {
            found @ Lookup::Found(..) => found,
            // A malformed value in the GET route's capture is still a 400.
            bad @ Lookup::BadRequest(_) => bad,
            _ => Lookup::MethodNotAllowed,
        },
        other => other,
    })
}

/// grpc-gateway's `isPathLengthFallback`: a POST whose `Content-Type` is
/// exactly the form type (no parameters, as Go compares the header string).
fn is_path_length_fallback(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::POST
        && headers
            .get(CONTENT_TYPE)
            .is_some_and(|ct| ct.as_bytes() == switchboard_transcode::FORM_MEDIA_TYPE.as_bytes())
}

impl crate::gateway::Gateway {
    /// Sets grpc-gateway's `ServeMux` options (`http:` in the config):
    /// unescaping mode, path-length fallback, method override, HttpBody
    /// stream delimiter. Without it, grpc-gateway's defaults apply.
    pub fn with_http(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    const PROTO: &str = r#"
        syntax = "proto3";
        package rl;
        import "google/api/annotations.proto";
        service S {
          rpc Get (M) returns (M) {
            option (google.api.http) = {
              get: "/v1/x/{id}"
              additional_bindings { delete: "/v1/x/{id}" }
            };
          }
          rpc Put (M) returns (M) { option (google.api.http) = { put: "/v1/y/{id}" body: "*" }; }
        }
        message M { string id = 1; }
    "#;

    fn table() -> RouteTable {
        let mut resolver = protox::file::ChainFileResolver::new();
        struct Source;
        impl protox::file::FileResolver for Source {
            fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
                match name {
                    "rl.proto" => protox::file::File::from_source(name, PROTO),
                    _ => Err(protox::Error::file_not_found(name)),
                }
            }
        }
        resolver.add(Source);
        resolver.add(protox::file::IncludeFileResolver::new(
            concat!(env!("CARGO_MANIFEST_DIR"), "/../discovery/proto").into(),
        ));
        resolver.add(protox::file::GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true);
        compiler.open_file("rl.proto").unwrap();
        let pool =
            prost_reflect::DescriptorPool::decode(compiler.encode_file_descriptor_set().as_slice())
                .unwrap();
        let backend = switchboard_routes::BackendInput {
            index: 0,
            name: "rl".into(),
            pool,
            services: vec!["rl.S".into()],
            http_rules: vec![],
            schema_groups: Vec::new(),
        };
        RouteTable::build(&[backend]).0
    }

    /// `METHOD template` of the route found, or what the lookup said.
    fn routed(opts: &HttpOptions, method: Method, h: &HeaderMap, path: &str) -> String {
        let table = table();
        match find(&table, opts, &method, h, path) {
            Ok(Lookup::Found(route, _)) => format!("{} {}", route.http_method, route.template),
            Ok(Lookup::MethodNotAllowed) => "405".into(),
            Ok(Lookup::NotFound) => "404".into(),
            Ok(Lookup::BadRequest(e)) | Err(e) => format!("400 {e}"),
        }
    }

    #[test]
    fn form_posts_fall_back_to_get_or_follow_the_override() {
        let on = HttpOptions::default();
        let form = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        assert_eq!(
            routed(&on, Method::POST, &form, "/v1/x/1"),
            "GET /v1/x/{id}"
        );
        // Only to GET: a PUT-only path stays 405.
        assert_eq!(routed(&on, Method::POST, &form, "/v1/y/1"), "405");
        let mut delete = form.clone();
        delete.insert(METHOD_OVERRIDE, "delete".parse().unwrap());
        assert_eq!(
            routed(&on, Method::POST, &delete, "/v1/x/1"),
            "DELETE /v1/x/{id}"
        );
        let mut put = form.clone();
        put.insert(METHOD_OVERRIDE, "PUT".parse().unwrap());
        // An override routes as that method only: no fallback from it.
        assert_eq!(routed(&on, Method::POST, &put, "/v1/x/1"), "405");
        let mut bad = form.clone();
        bad.insert(METHOD_OVERRIDE, "DE LETE".parse().unwrap());
        assert!(
            routed(&on, Method::POST, &bad, "/v1/x/1")
                .starts_with("400 invalid X-HTTP-Method-Override")
        );
        // Not a form POST: no fallback, no override.
        let json = headers(&[
            ("content-type", "application/json"),
            (METHOD_OVERRIDE, "DELETE"),
        ]);
        assert_eq!(routed(&on, Method::POST, &json, "/v1/x/1"), "405");
        assert_eq!(routed(&on, Method::PUT, &delete, "/v1/x/1"), "405");

        let no_override = HttpOptions {
            method_override: false,
            ..HttpOptions::default()
        };
        assert_eq!(
            routed(&no_override, Method::POST, &delete, "/v1/x/1"),
            "GET /v1/x/{id}"
        );
        let no_fallback = HttpOptions {
            path_length_fallback: false,
            ..HttpOptions::default()
        };
        assert_eq!(routed(&no_fallback, Method::POST, &form, "/v1/x/1"), "405");
        assert_eq!(
            routed(&no_fallback, Method::POST, &delete, "/v1/x/1"),
            "405"
        );
    }

    #[test]
    fn fallback_needs_exactly_the_form_type_on_a_post() {
        let form = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        assert!(is_path_length_fallback(&Method::POST, &form));
        assert!(!is_path_length_fallback(&Method::PUT, &form));
        let with_params = headers(&[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )]);
        assert!(!is_path_length_fallback(&Method::POST, &with_params));
        assert!(!is_path_length_fallback(&Method::POST, &HeaderMap::new()));
    }
}
