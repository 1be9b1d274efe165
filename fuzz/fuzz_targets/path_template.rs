//! The path-template parser and both matchers. The input is a template and a
//! path separated by a NUL byte. Besides never panicking, the route table's trie
//! (`RouteTable::find`) must agree with the template's own matcher
//! (`Template::match_path`) on every path: same match, same captured values,
//! same malformed-escape error.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use switchboard_config::{HttpBinding, HttpRule};
use switchboard_routes::template::Template;
use switchboard_routes::{BackendInput, Lookup, RouteTable};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (source, path) = text.split_once('\0').unwrap_or((text, "/"));
    let Ok(template) = Template::parse(source) else {
        return;
    };
    let _ = template.shape();
    let direct = template.match_path(path);

    // The same template as the only GET route of a table (a configured rule on
    // Echo.Echo, whose request has `string_value` and `nested.label`).
    let backend = BackendInput {
        index: 0,
        name: "fuzz".into(),
        pool: common::pool().clone(),
        services: vec!["switchboard.testing.v1.Echo".into()],
        http_rules: vec![HttpRule {
            selector: "switchboard.testing.v1.Echo.Echo".into(),
            binding: HttpBinding {
                method: "GET".into(),
                path: source.into(),
                body: String::new(),
                response_body: String::new(),
            },
            additional_bindings: Vec::new(),
        }],
        schema_groups: Vec::new(),
    };
    let (table, report) = RouteTable::build(&[backend]);
    if !report.errors.is_empty() || !path.starts_with('/') {
        return;
    }
    match (table.find(&http::Method::GET, path), direct) {
        (Lookup::Found(route, values), Ok(Some(want))) => {
            assert_eq!(route.template, source);
            assert_eq!(values, want);
        }
        (Lookup::BadRequest(_), Err(_)) => {}
        (Lookup::NotFound | Lookup::MethodNotAllowed, Ok(None)) => {}
        (got, want) => panic!("trie and template disagree on {path:?}: {got:?} vs {want:?}"),
    }
});
