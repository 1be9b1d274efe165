//! Unit tests of the route table: building, matching, conflicts, rule sources.

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
    let (table, _) = RouteTable::build(&[backend(0, "library", &pool, &["library.v1.Library"])]);
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
            schema_plans: Box::default(),
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
fn two_thousand_methods_build_without_conflicts_and_each_matches_its_own_route() {
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

/// Each route is planned in every other schema group that has its method, and
/// `plan_for` picks the group's plan by digest (the primary one otherwise).
#[test]
fn routes_carry_a_plan_per_schema_group() {
    let v2 = r#"
        syntax = "proto3";
        package helloworld;
        service Greeter {
          rpc SayHello (HelloRequest) returns (HelloReply);
        }
        message HelloRequest { string name = 1; string title = 2; }
        message HelloReply { string message = 1; string build = 2; }
    "#;
    let mut input = backend(0, "greeter", &pool(GREETER), &["helloworld.Greeter"]);
    input.schema_groups = vec![SchemaGroup {
        digest: 7,
        pool: pool(v2),
    }];
    let (table, report) = RouteTable::build(&[input]);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let hello = find_route(&table, Method::POST, "/helloworld.Greeter/SayHello");
    assert_eq!(hello.schema_plans.len(), 1);
    let title = |plan: &MethodPlan| plan.input.get_field_by_name("title").is_some();
    assert!(title(hello.plan_for(Some(7))), "the group's own plan");
    assert!(!title(hello.plan_for(None)), "no group: the primary plan");
    assert!(
        !title(hello.plan_for(Some(8))),
        "another digest: the primary plan"
    );
    assert!(
        hello
            .plan_for(Some(7))
            .output
            .get_field_by_name("build")
            .is_some()
    );
    // The group lacks the streaming method: no plan for it there.
    let stream = find_route(&table, Method::POST, "/helloworld.Greeter/SayHelloStream");
    assert!(stream.schema_plans.is_empty());
}
