//! Unit tests of config loading: defaults, every validation error and its location.

use std::path::Path;

use super::values::parse_duration;
use super::*;
use crate::{DescriptorSource, HttpBinding, HttpRule, JsonOptions, ServiceFilter};

const FILE: &str = "/etc/switchboard/config.yaml";

fn parse(yaml: &str) -> Result<Config, Vec<ConfigError>> {
    parse_str(yaml, Path::new(FILE))
}

fn ok(yaml: &str) -> Config {
    match parse(yaml) {
        Ok(c) => c,
        Err(errs) => panic!("unexpected errors: {errs:#?}"),
    }
}

/// Every error as `(line, column, message)`.
fn errors(yaml: &str) -> Vec<(usize, usize, String)> {
    let errs = parse(yaml).expect_err("config should be rejected");
    errs.into_iter()
        .map(|e| (e.line.unwrap_or(0), e.column.unwrap_or(0), e.message))
        .collect()
}

/// The single error, asserting its position and that its message contains `needle`.
#[track_caller]
fn assert_error(yaml: &str, line: usize, column: usize, needle: &str) {
    let errs = errors(yaml);
    assert_eq!(errs.len(), 1, "expected exactly one error, got {errs:#?}");
    let (l, c, msg) = &errs[0];
    assert_eq!((*l, *c), (line, column), "wrong position for {msg:?}");
    assert!(msg.contains(needle), "{msg:?} does not contain {needle:?}");
}

#[test]
fn empty_file_gives_defaults() {
    for yaml in ["", "# nothing here\n", "backends: []\n", "backends:\n"] {
        let c = ok(yaml);
        assert_eq!(c.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(c.admin, "127.0.0.1:9901".parse().unwrap());
        assert_eq!(c.max_body_bytes, 4 * 1024 * 1024);
        assert_eq!(c.max_metadata_bytes, 8 * 1024);
        assert_eq!(c.discovery_timeout, Duration::from_secs(5));
        assert_eq!(c.reload_debounce, Duration::from_millis(200));
        assert!(c.backends.is_empty());
    }
}

#[test]
fn backend_defaults() {
    let c = ok("backends:\n  - name: a\n    endpoints: [\"h:1\"]\n");
    let b = &c.backends[0];
    assert_eq!(b.name, "a");
    assert_eq!(b.endpoints, ["h:1"]);
    assert_eq!(b.descriptors, DescriptorSource::Reflection);
    assert_eq!(b.services, ServiceFilter::default());
    assert_eq!(b.timeout, None);
    assert_eq!(b.refresh, Some(Duration::from_secs(30)));
    assert_eq!(b.json, JsonOptions::default());
}

#[test]
fn refresh_is_a_duration_or_off() {
    let c = ok(
        "backends:\n  - name: a\n    endpoints: [\"h:1\"]\n    refresh: 5s\n  - name: b\n    endpoints: [\"h:1\"]\n    refresh: off\n",
    );
    assert_eq!(c.backends[0].refresh, Some(Duration::from_secs(5)));
    assert_eq!(c.backends[1].refresh, None);
    let errs = errors("backends:\n  - name: a\n    endpoints: [\"h:1\"]\n    refresh: 0s\n");
    assert!(
        errs.iter()
            .any(|e| e.2.contains("backend `a`: refresh must be greater than 0")),
        "{errs:?}"
    );
    let errs = errors("backends:\n  - name: a\n    endpoints: [\"h:1\"]\n    refresh: never\n");
    assert!(
        errs.iter()
            .any(|e| e.2.contains("invalid backend `a`: refresh `never`")),
        "{errs:?}"
    );
}

#[test]
fn every_key() {
    let c = ok(r#"
listen: "[::]:80"
admin: 127.0.0.1:9000
limits:
  max_body_bytes: 1024
  max_metadata_bytes: 16384
discovery:
  timeout: 1.5s
reload:
  debounce: 0ms
backends:
  - name: greeter.v1_x-y
    endpoints: ["a.example.com:1", "10.1.2.3:65535", "[fe80::1]:443"]
    descriptor_set: sets/api.pb
    services:
      include: ["acme.*"]
      exclude: ["acme.Internal"]
    timeout: 2m
    json:
      emit_unpopulated: false
      strict: true
      use_proto_names: true
      enums_as_ints: true
  - name: lib
    endpoints: [lib:50051]
    protos:
      files: [proto/a.proto, /abs/b.proto]
      include_paths: [proto, /usr/include]
"#);
    assert_eq!(c.listen, "[::]:80".parse().unwrap());
    assert_eq!(c.admin, "127.0.0.1:9000".parse().unwrap());
    assert_eq!(c.max_body_bytes, 1024);
    assert_eq!(c.max_metadata_bytes, 16384);
    assert_eq!(c.discovery_timeout, Duration::from_millis(1500));
    assert_eq!(c.reload_debounce, Duration::ZERO);
    let b = &c.backends[0];
    assert_eq!(b.name, "greeter.v1_x-y");
    assert_eq!(
        b.endpoints,
        ["a.example.com:1", "10.1.2.3:65535", "[fe80::1]:443"]
    );
    assert_eq!(
        b.descriptors,
        DescriptorSource::DescriptorSet("/etc/switchboard/sets/api.pb".into())
    );
    assert_eq!(b.services.include, ["acme.*"]);
    assert_eq!(b.services.exclude, ["acme.Internal"]);
    assert_eq!(b.timeout, Some(Duration::from_secs(120)));
    assert_eq!(
        b.json,
        JsonOptions {
            emit_unpopulated: false,
            strict: true,
            use_proto_names: true,
            enums_as_ints: true
        }
    );
    assert_eq!(
        c.backends[1].descriptors,
        DescriptorSource::Protos {
            files: vec![
                "/etc/switchboard/proto/a.proto".into(),
                "/abs/b.proto".into()
            ],
            include_paths: vec!["/etc/switchboard/proto".into(), "/usr/include".into()],
        }
    );
}

#[test]
fn example_file_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/switchboard.yaml");
    let c = load_file(&path).unwrap_or_else(|e| panic!("{e:#?}"));
    let names: Vec<_> = c.backends.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["greeter", "billing", "library"]);
    let base = Config::base_dir(&path);
    assert_eq!(
        c.backends[1].descriptors,
        DescriptorSource::DescriptorSet(base.join("./api.pb"))
    );
}

#[test]
fn relative_paths_resolve_against_config_dir() {
    let yaml =
        "backends:\n  - name: a\n    endpoints: [h:1]\n    protos:\n      files: [x.proto]\n";
    let c = parse_str(yaml, Path::new("conf/sb.yaml")).unwrap();
    assert_eq!(
        c.backends[0].descriptors,
        DescriptorSource::Protos {
            files: vec!["conf/x.proto".into()],
            include_paths: vec!["conf".into()],
        }
    );
    // A bare file name lives in the current directory.
    let yaml = "backends:\n  - name: a\n    endpoints: [h:1]\n    descriptor_set: api.pb\n";
    let c = parse_str(yaml, Path::new("sb.yaml")).unwrap();
    assert_eq!(
        c.backends[0].descriptors,
        DescriptorSource::DescriptorSet("./api.pb".into())
    );
}

#[test]
fn yaml_syntax_error() {
    assert_error("listen: \"unterminated\nadmin: x\n", 1, 9, "unclosed quote");
    assert_error(
        "backends:\n  - name: a\n   endpoints: [h:1]\n",
        3,
        4,
        "did not find expected '-' indicator",
    );
    assert_error("limits: {max_body_bytes: 1\n", 1, 9, "unclosed bracket");
}

#[test]
fn unknown_key_top_level_suggests() {
    assert_error(
        "listen: 0.0.0.0:1\nlisen: x\n",
        2,
        1,
        "unknown key `lisen` (did you mean `listen`?); allowed keys here: listen, admin, limits, discovery, reload, upstream, shutdown, backends, cors, http",
    );
}

#[test]
fn unknown_key_nested() {
    let yaml =
        "backends:\n  - name: a\n    endpoints: [h:1]\n    json:\n      emit_defaults: true\n";
    assert_error(
        yaml,
        5,
        7,
        "unknown key `emit_defaults`; allowed keys here: emit_unpopulated, strict, use_proto_names, enums_as_ints",
    );
    assert_error(
        "limits:\n  max_body: 1\n",
        2,
        3,
        "(did you mean `max_body_bytes`?)",
    );
    // The misspelt key is reported, and so is the required key it left missing.
    let errors = parse_str(
        "backends:\n  - name: a\n    endpoint: [h:1]\n",
        Path::new("c.yaml"),
    )
    .unwrap_err();
    let found: Vec<_> = errors
        .iter()
        .map(|e| (e.line, e.column, e.message.as_str()))
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(
        found[0],
        (
            Some(2),
            Some(5),
            "backend `a` is missing required key `endpoints`"
        )
    );
    assert!(
        found[1].2.contains("(did you mean `endpoints`?)") && found[1].0 == Some(3),
        "{found:?}"
    );
}

#[test]
fn every_unknown_key_and_bad_value_is_reported() {
    let yaml = "\
lisen: 0.0.0.0:80
limits:
  max_body_bytes: lots
  max_metadata: 1
discovery:
  timeout: 5
backends:
  - name: a
    endpoints: [h:1]
    timeot: 1s
    json:
      strict: maybe
  - name: a
    endpoints: [\"nope\"]
";
    let errors = parse_str(yaml, Path::new("c.yaml")).unwrap_err();
    let found: Vec<_> = errors
        .iter()
        .map(|e| {
            (
                e.line.unwrap_or(0),
                e.column.unwrap_or(0),
                e.message.clone(),
            )
        })
        .collect();
    let lines: Vec<usize> = found.iter().map(|f| f.0).collect();
    assert_eq!(lines, [1, 3, 4, 6, 10, 12, 13, 14], "{found:#?}");
    assert!(found[0].2.contains("unknown key `lisen`"), "{found:#?}");
    assert!(found[1].2.contains("whole number"), "{found:#?}");
    assert!(
        found[2].2.contains("unknown key `max_metadata`"),
        "{found:#?}"
    );
    assert!(found[3].2.contains("missing unit"), "{found:#?}");
    assert!(found[4].2.contains("unknown key `timeot`"), "{found:#?}");
    assert!(found[5].2.contains("`true` or `false`"), "{found:#?}");
    assert!(found[6].2.contains("duplicate backend name"), "{found:#?}");
    assert!(found[7].2.contains("invalid endpoint"), "{found:#?}");
}

#[test]
fn wrong_types() {
    assert_error(
        "limits:\n  max_body_bytes: lots\n",
        2,
        19,
        "expected a whole number",
    );
    assert_error(
        "limits:\n  max_body_bytes: 99999999999999999999999\n",
        2,
        19,
        "expected a whole number",
    );
    assert_error("backends: 5\n", 1, 11, "expected a list");
    assert_error("listen: [1, 2]\n", 1, 9, "expected a string");
    assert_error("limits: 5\n", 1, 9, "expected a mapping");
    assert_error(
        "backends:\n  - name: a\n    endpoints: [h:1]\n    json: {strict: maybe}\n",
        4,
        20,
        "expected `true` or `false`",
    );
}

#[test]
fn duplicate_yaml_key() {
    assert_error(
        "listen: 0.0.0.0:1\nlisten: 0.0.0.0:2\n",
        2,
        1,
        "duplicate key `listen`",
    );
}

#[test]
fn missing_required_keys() {
    let errs = errors("backends:\n  - timeout: 1s\n");
    assert_eq!(
        errs,
        [
            (2, 5, "backend is missing required key `name`".to_string()),
            (
                2,
                5,
                "backend is missing required key `endpoints`".to_string()
            ),
        ]
    );
    assert_error(
        "backends:\n  - name: x\n",
        2,
        5,
        "backend `x` is missing required key `endpoints`",
    );
}

#[test]
fn duplicate_backend_name_points_at_second() {
    let yaml = "backends:\n  - name: a\n    endpoints: [h:1]\n  - name: a\n    endpoints: [h:2]\n";
    assert_error(
        yaml,
        4,
        11,
        "duplicate backend name `a` (first defined at line 2)",
    );
}

#[test]
fn empty_endpoints() {
    assert_error(
        "backends:\n  - name: a\n    endpoints: []\n",
        3,
        16,
        "backend `a`: endpoints must list at least one host:port",
    );
}

#[test]
fn malformed_endpoints() {
    let cases = [
        ("localhost", "missing `:port`"),
        ("localhost:", "port `` is not a number in 1..=65535"),
        ("localhost:0", "port `0` is not a number"),
        ("localhost:65536", "port `65536` is not a number"),
        ("localhost:http", "port `http` is not a number"),
        (":80", "empty host"),
        ("http://h:80", "without a scheme"),
        ("dns://h:80", "three slashes"),
        ("dns:///h", "missing `:port`"),
        ("dns:///bad_host:80", "not a valid hostname"),
        ("::1:80", "must be written in brackets"),
        ("[::1:80", "missing `]`"),
        ("[nope]:80", "`nope` is not an IPv6 address"),
        ("[::1]", "missing `:port`"),
        ("300.1.1.1:80", "not a valid IPv4 address"),
        ("bad_host:80", "not a valid hostname"),
        ("-bad:80", "not a valid hostname"),
        ("a..b:80", "not a valid hostname"),
    ];
    for (ep, needle) in cases {
        let yaml = format!("backends:\n  - name: a\n    endpoints:\n      - \"{ep}\"\n");
        let errs = errors(&yaml);
        assert_eq!(errs.len(), 1, "{ep}: {errs:?}");
        let (l, c, msg) = &errs[0];
        assert_eq!((*l, *c), (4, 9), "{ep}");
        assert!(
            msg.starts_with(&format!("backend `a`: invalid endpoint `{ep}`: ")),
            "{msg}"
        );
        assert!(msg.contains(needle), "{ep}: {msg:?} lacks {needle:?}");
    }
}

#[test]
fn invalid_listen_and_admin() {
    assert_error(
        "listen: localhost:80\n",
        1,
        9,
        "invalid listen address `localhost:80`: expected ip:port",
    );
    assert_error("listen: 0.0.0.0\n", 1, 9, "invalid listen address");
    assert_error(
        "admin: 127.0.0.1:0\n",
        1,
        8,
        "invalid admin address `127.0.0.1:0`: port must be 1..=65535",
    );
}

#[test]
fn descriptor_set_and_protos_conflict() {
    let yaml = "backends:\n  - name: a\n    endpoints: [h:1]\n    descriptor_set: a.pb\n    protos:\n      files: [a.proto]\n";
    assert_error(
        yaml,
        6,
        7,
        "backend `a`: give at most one of `descriptor_set` and `protos`",
    );
}

#[test]
fn empty_protos_files() {
    let base = "backends:\n  - name: a\n    endpoints: [h:1]\n    protos:\n";
    assert_error(
        &format!("{base}      files: []\n"),
        5,
        14,
        "backend `a`: protos.files must list at least one .proto file",
    );
    assert_error(
        &format!("{base}      include_paths: [p]\n"),
        5,
        7,
        "protos.files must list at least one",
    );
}

#[test]
fn bad_backend_names() {
    assert_error(
        "backends:\n  - name: a/b\n    endpoints: [h:1]\n",
        2,
        11,
        "invalid backend name `a/b`: character '/' is not allowed",
    );
    assert_error(
        "backends:\n  - name: \"\"\n    endpoints: [h:1]\n",
        2,
        11,
        "backend name must not be empty",
    );
}

#[test]
fn bad_durations() {
    assert_error(
        "limits:\n  max_metadata_bytes: 0\n",
        2,
        23,
        "limits.max_metadata_bytes must be greater than 0",
    );
    assert_error(
        "discovery:\n  timeout: 5\n",
        2,
        12,
        "invalid discovery.timeout `5`: missing unit",
    );
    assert_error(
        "discovery:\n  timeout: 0s\n",
        2,
        12,
        "discovery.timeout must be greater than 0",
    );
    assert_error(
        "reload:\n  debounce: soon\n",
        2,
        13,
        "invalid reload.debounce `soon`",
    );
    assert_error(
        "backends:\n  - name: a\n    endpoints: [h:1]\n    timeout: 0ms\n",
        4,
        14,
        "backend `a`: timeout must be greater than 0",
    );
    assert_error(
        "limits:\n  max_body_bytes: 0\n",
        2,
        19,
        "limits.max_body_bytes must be greater than 0",
    );
}

#[test]
fn duration_parser() {
    let ok = [
        ("250ms", Duration::from_millis(250)),
        ("5s", Duration::from_secs(5)),
        ("1.5s", Duration::from_millis(1500)),
        ("1m", Duration::from_secs(60)),
        ("1h", Duration::from_secs(3600)),
        ("0.25h", Duration::from_secs(900)),
        ("0ms", Duration::ZERO),
        ("1.0000000001s", Duration::from_secs(1)),
    ];
    for (text, want) in ok {
        assert_eq!(parse_duration(text), Ok(want), "{text}");
    }
    for bad in [
        "",
        "s",
        "5",
        "5 s",
        "-1s",
        "1.s",
        ".5s",
        "1.2.3s",
        "5d",
        "5sec",
        "1e3s",
        "99999999999999999999999999999999999999999h",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn collects_all_semantic_errors() {
    let yaml = "\
listen: nope
backends:
  - name: a
    endpoints: [h]
    timeout: 3
  - name: a
    endpoints: []
";
    let got: Vec<_> = errors(yaml).into_iter().map(|(l, c, _)| (l, c)).collect();
    assert_eq!(got, [(1, 9), (4, 17), (5, 14), (6, 11), (7, 16)]);
}

#[test]
fn hostile_inputs_do_not_panic() {
    let deep = "[".repeat(10_000);
    let deep_map: String = (0..2_000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    let inputs = [
        "[]",
        "42",
        "just a string",
        "~",
        "---\n---\n",
        "\tlisten: 0.0.0.0:1\n",
        "listen:\t0.0.0.0:1\n",
        "\u{0}\u{1}\u{fffd}garbage: [",
        "limits: {max_body_bytes: 1e999}",
        "limits: {max_body_bytes: -1}",
        "backends: [{name: a, endpoints: [\"h:99999999999999999999999\"]}]",
        "backends: [{name: a, endpoints: [h:1], timeout: 99999999999999999999999999h}]",
        "a: &a [*a]",
        "backends: *nope",
        "? [a]\n: b\n",
        deep.as_str(),
        deep_map.as_str(),
    ];
    for input in inputs {
        // Only the absence of a panic matters; most of these are errors.
        let _ = parse(input);
    }
    assert!(parse("[]").is_err());
    assert!(parse(&deep).is_err());
}

#[test]
fn http_rules_parse() {
    let c = ok(r#"
backends:
  - name: greeter
    endpoints: [h:1]
    http_rules:
      - selector: helloworld.Greeter.SayHello
        get: "/v1/hello/{name}"
        additional_bindings:
          - post: /v1/hello
            body: "*"
            response_body: message
          - custom: {kind: HEAD, path: "/v1/hello/{name}"}
      - selector: .helloworld.Greeter.SayHelloStream
        patch: /v1/stream
        body: name
"#);
    let rules = &c.backends[0].http_rules;
    let binding = |method: &str, path: &str, body: &str, rb: &str| HttpBinding {
        method: method.into(),
        path: path.into(),
        body: body.into(),
        response_body: rb.into(),
    };
    assert_eq!(
        rules,
        &[
            HttpRule {
                selector: "helloworld.Greeter.SayHello".into(),
                binding: binding("GET", "/v1/hello/{name}", "", ""),
                additional_bindings: vec![
                    binding("POST", "/v1/hello", "*", "message"),
                    binding("HEAD", "/v1/hello/{name}", "", ""),
                ],
            },
            HttpRule {
                selector: "helloworld.Greeter.SayHelloStream".into(),
                binding: binding("PATCH", "/v1/stream", "name", ""),
                additional_bindings: vec![],
            },
        ]
    );
    assert!(
        ok("backends:\n  - name: a\n    endpoints: [h:1]\n").backends[0]
            .http_rules
            .is_empty()
    );
}

#[test]
fn http_rules_errors() {
    let base = "backends:\n  - name: a\n    endpoints: [h:1]\n    http_rules:\n";
    let rule = |body: &str| format!("{base}{body}");
    assert_error(
        &rule("      - get: /x\n"),
        5,
        9,
        "backend `a`: http_rules[0] is missing required key `selector`",
    );
    for bad in ["Greeter", "a.*", "a.b c", "a..b", "a.1b", "a.b,c.d"] {
        assert_error(
            &rule(&format!("      - selector: \"{bad}\"\n        get: /x\n")),
            5,
            19,
            &format!(
                "http_rules[0]: invalid selector `{bad}`: expected one method as `package.Service.Method`"
            ),
        );
    }
    assert_error(
        &rule("      - selector: a.B.C\n"),
        5,
        9,
        "http_rules[0] has no pattern: give one of `get`",
    );
    assert_error(
        &rule("      - selector: a.B.C\n        get: /x\n        post: /y\n"),
        7,
        15,
        "http_rules[0]: give exactly one of `get`, `put`, `post`, `delete`, `patch` and `custom`",
    );
    assert_error(
        &rule("      - selector: a.B.C\n        get: x\n"),
        6,
        14,
        "http_rules[0]: path `x` must start with `/`",
    );
    assert_error(
        &rule("      - selector: a.B.C\n        custom: {kind: \"GE T\", path: /x}\n"),
        6,
        24,
        "custom.kind `GE T` is not an HTTP method",
    );
    assert_error(
        &rule("      - selector: a.B.C\n        custom: {kind: GET}\n"),
        6,
        17,
        "custom is missing required key `path`",
    );
    assert_error(
        &rule(
            "      - selector: a.B.C\n        get: /x\n        additional_bindings:\n          - get: /y\n            additional_bindings: [{get: /z}]\n",
        ),
        9,
        34,
        "http_rules[0].additional_bindings[0]: additional_bindings cannot be nested",
    );
    assert_error(
        &rule(
            "      - selector: a.B.C\n        get: /x\n        additional_bindings:\n          - selector: a.B.D\n            get: /y\n",
        ),
        8,
        23,
        "`selector` is only allowed on the rule itself",
    );
    assert_error(
        &rule("      - selector: a.B.C\n        get: /x\n        bdy: \"*\"\n"),
        7,
        9,
        "unknown key `bdy` (did you mean `body`?)",
    );
}

#[test]
fn render_format() {
    let errs = parse("lisen: x\n").unwrap_err();
    assert!(
        errs[0]
            .render()
            .starts_with("/etc/switchboard/config.yaml:1:1: unknown key `lisen`")
    );
}

#[test]
fn load_file_errors() {
    let errs = load_file(Path::new("/nonexistent/switchboard.yaml")).unwrap_err();
    assert_eq!((errs[0].line, errs[0].column), (None, None));
    assert!(errs[0].message.starts_with("cannot read config"));

    let path = std::env::temp_dir().join(format!("sb-config-test-{}.yaml", std::process::id()));
    std::fs::write(&path, b"listen: 0.0.0.0:1\nadmin: \xff\n").unwrap();
    let errs = load_file(&path).unwrap_err();
    let _ = std::fs::remove_file(&path);
    assert_eq!((errs[0].line, errs[0].column), (Some(2), Some(8)));
    assert_eq!(errs[0].message, "config is not valid UTF-8");
}
