//! Unit tests of the path-template parser and matcher.

use super::*;

fn lit(s: &str) -> Segment {
    Segment::Literal(s.to_owned())
}

fn var(path: &str, segments: Range<usize>, multi: bool) -> Variable {
    Variable {
        field_path: path.to_owned(),
        segments,
        multi_segment: multi,
    }
}

fn parse(s: &str) -> Template {
    Template::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Asserts a parse error at `position` whose message contains `needle`.
fn parse_err(s: &str, position: usize, needle: &str) {
    let err = Template::parse(s).expect_err(s);
    assert_eq!(err.position, position, "{s}: {err}");
    assert!(err.message.contains(needle), "{s}: {err}");
    assert_eq!(err.template, s);
}

fn values(t: &str, path: &str) -> Option<Vec<String>> {
    parse(t).match_path(path).unwrap()
}

fn strs(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

// ---- parser: accepted forms ----

#[test]
fn parses_literals() {
    let t = parse("/v1/shelves");
    assert_eq!(t.segments(), &[lit("v1"), lit("shelves")]);
    assert!(t.variables().is_empty());
    assert_eq!(t.verb(), None);
    assert_eq!(t.as_str(), "/v1/shelves");
    assert_eq!(t.to_string(), "/v1/shelves");
}

#[test]
fn parses_default_route_shape() {
    let t = parse("/helloworld.Greeter/SayHello");
    assert_eq!(t.segments(), &[lit("helloworld.Greeter"), lit("SayHello")]);
}

#[test]
fn parses_literals_with_any_pchar() {
    let t = parse("/a-b.c_d~e/!$&'()+,;=/x:y@z/%2Fenc");
    assert_eq!(
        t.segments(),
        &[
            lit("a-b.c_d~e"),
            lit("!$&'()+,;="),
            lit("x:y@z"),
            lit("%2Fenc")
        ]
    );
    assert_eq!(t.verb(), None);
}

#[test]
fn parses_wildcards() {
    let t = parse("/v1/*/x/**");
    assert_eq!(
        t.segments(),
        &[
            lit("v1"),
            Segment::Wildcard,
            lit("x"),
            Segment::DeepWildcard
        ]
    );
    assert!(t.variables().is_empty());
}

#[test]
fn bare_variable_means_single_wildcard() {
    let t = parse("/v1/{name}");
    assert_eq!(t.segments(), &[lit("v1"), Segment::Wildcard]);
    assert_eq!(t.variables(), &[var("name", 1..2, false)]);
    assert_eq!(t.shape(), parse("/v1/{name=*}").shape());
}

#[test]
fn parses_nested_field_path_with_segments() {
    let t = parse("/v1/{book.name=shelves/*/books/*}");
    assert_eq!(
        t.segments(),
        &[
            lit("v1"),
            lit("shelves"),
            Segment::Wildcard,
            lit("books"),
            Segment::Wildcard
        ]
    );
    assert_eq!(t.variables(), &[var("book.name", 1..5, true)]);
}

#[test]
fn parses_several_variables_in_order() {
    let t = parse("/v1/shelves/{shelf}/books/{book_id}/{a.b_2.C}");
    let names: Vec<_> = t.variables().iter().map(|v| &v.field_path[..]).collect();
    assert_eq!(names, ["shelf", "book_id", "a.b_2.C"]);
    assert_eq!(t.variables()[1], var("book_id", 4..5, false));
}

#[test]
fn single_literal_variable_is_single_segment() {
    let t = parse("/v1/{kind=fixed}");
    assert_eq!(t.variables(), &[var("kind", 1..2, false)]);
}

#[test]
fn deep_wildcard_variable_is_multi_segment() {
    let t = parse("/v1/{path=**}");
    assert_eq!(t.variables(), &[var("path", 1..2, true)]);
    let t = parse("/v1/{path=**}/tail/{x}");
    assert_eq!(
        t.variables(),
        &[var("path", 1..2, true), var("x", 3..4, false)]
    );
}

#[test]
fn parses_verbs() {
    let t = parse("/v1/{name=shelves/*}:archive");
    assert_eq!(t.verb(), Some("archive"));
    assert_eq!(t.segments().len(), 3);
    assert_eq!(parse("/v1/shelves:batchGet").verb(), Some("batchGet"));
    assert_eq!(
        parse("/v1/shelves:batchGet").segments(),
        &[lit("v1"), lit("shelves")]
    );
    assert_eq!(parse("/v1/*:undelete").verb(), Some("undelete"));
    assert_eq!(parse("/v1/**:undelete").verb(), Some("undelete"));
    // The last colon of a literal last segment starts the verb...
    let t = parse("/v1/a:b:c");
    assert_eq!(t.segments(), &[lit("v1"), lit("a:b")]);
    assert_eq!(t.verb(), Some("c"));
    // ...after a variable, the first one does.
    assert_eq!(parse("/v1/{x}:b:c").verb(), Some("b:c"));
    // Colons in earlier segments or inside variables are literal.
    let t = parse("/v1/a:b/c");
    assert_eq!(t.segments(), &[lit("v1"), lit("a:b"), lit("c")]);
    assert_eq!(t.verb(), None);
    let t = parse("/v1/{x=a:b}");
    assert_eq!(t.segments(), &[lit("v1"), lit("a:b")]);
    assert_eq!(t.verb(), None);
}

#[test]
fn shape_erases_variable_names() {
    assert_eq!(
        parse("/v1/{a.b=shelves/*}/{c=**}:go").shape(),
        "/v1/shelves/*/**:go"
    );
    assert_eq!(
        parse("/v1/shelves/{x}").shape(),
        parse("/v1/{y=shelves/*}").shape()
    );
    assert_ne!(parse("/v1/*").shape(), parse("/v1/*:go").shape());
}

// ---- parser: malformed forms ----

#[test]
fn rejects_missing_leading_slash() {
    parse_err("", 0, "must start with '/'");
    parse_err("v1/shelves", 0, "must start with '/'");
    parse_err("{name}", 0, "must start with '/'");
}

#[test]
fn rejects_empty_segments() {
    parse_err("/", 1, "empty segment");
    parse_err("/v1//x", 4, "empty segment");
    parse_err("/v1/", 4, "empty segment");
    parse_err("/v1/:verb", 4, "empty segment");
    parse_err("/:verb", 1, "empty segment");
    parse_err("/v1/{x=}", 7, "empty segment");
    parse_err("/v1/{x=a/}", 9, "empty segment");
    parse_err("/v1/{x=a//b}", 9, "empty segment");
}

#[test]
fn rejects_unbalanced_braces() {
    parse_err("/v1/{name", 9, "unterminated variable: '{' at byte 4");
    parse_err("/v1/{name=*", 11, "unterminated variable");
    parse_err("/v1/{name=a/*", 13, "unterminated variable");
    parse_err("/v1/name}", 8, "'}' without a matching '{'");
    parse_err("/v1/{name}}", 10, "'}' without a matching '{'");
    parse_err("/v1/}", 4, "'}' without a matching '{'");
}

#[test]
fn rejects_nested_variables() {
    parse_err("/v1/{a={b}}", 7, "cannot be nested");
    parse_err("/v1/{a=x/{b}}", 9, "cannot be nested");
    parse_err("/v1/{{a}}", 5, "cannot be nested");
}

#[test]
fn rejects_bad_variable_names() {
    parse_err("/v1/{}", 5, "empty variable name");
    parse_err("/v1/{=*}", 5, "empty variable name");
    parse_err("/v1/{a.}", 7, "expected a field name");
    parse_err("/v1/{.a}", 5, "expected a field name");
    parse_err("/v1/{a..b}", 7, "expected a field name");
    parse_err("/v1/{1a}", 5, "cannot start with a digit");
    parse_err("/v1/{a.2}", 7, "cannot start with a digit");
    parse_err("/v1/{a-b}", 6, "expected '.', '=' or '}'");
    parse_err("/v1/{a b}", 6, "expected '.', '=' or '}'");
}

#[test]
fn rejects_duplicate_variables() {
    parse_err("/v1/{a}/{a}", 9, "duplicate variable \"a\"");
    parse_err("/v1/{a.b}/x/{a.b=**}", 13, "duplicate variable \"a.b\"");
}

#[test]
fn rejects_bad_verbs() {
    parse_err("/v1/a:", 5, "empty verb");
    parse_err("/v1/{x}:", 7, "empty verb");
    parse_err("/v1/{x}:a/b", 9, "cannot contain '/'");
    parse_err("/v1/{x}:a b", 9, "invalid character ' ' in verb");
    parse_err("/v1/*:*", 6, "only allowed as a whole segment");
    parse_err("/v1/x:a%zz", 7, "'%' must be followed by two hex digits");
}

#[test]
fn rejects_junk_after_variable_or_wildcard() {
    parse_err("/v1/{x}y", 7, "expected '/' or ':'");
    parse_err("/v1/{x=*}{y}", 9, "expected '/' or ':'");
    parse_err("/v1/{x=a}b}", 9, "expected '/' or ':'");
}

#[test]
fn rejects_bad_literals() {
    parse_err("/v1/a b", 5, "invalid character ' ' in segment");
    parse_err("/v1/a?b", 5, "invalid character '?'");
    parse_err("/v1/a#b", 5, "invalid character '#'");
    parse_err("/v1/caf\u{e9}", 7, "invalid character 'é'");
    parse_err("/v1/a%2", 5, "'%' must be followed by two hex digits");
    parse_err("/v1/a%g0/b", 5, "'%' must be followed by two hex digits");
    parse_err("/v1/x{y}", 5, "a variable must be a whole segment");
    parse_err("/v1/{x=a{y}}", 8, "a variable must be a whole segment");
}

#[test]
fn rejects_partial_wildcards() {
    parse_err("/v1/*.txt", 4, "only allowed as a whole segment");
    parse_err("/v1/***", 4, "only allowed as a whole segment");
    parse_err("/v1/{x=a*}", 8, "only allowed as a whole segment");
}

#[test]
fn rejects_second_deep_wildcard() {
    parse_err("/v1/**/x/**", 9, "at most one '**'");
    parse_err("/v1/{a=**}/{b=**}", 14, "at most one '**'");
}

// ---- matcher (single template) ----

#[test]
fn matches_literals_exactly() {
    assert_eq!(values("/v1/shelves", "/v1/shelves"), strs(&[]));
    assert_eq!(values("/v1/shelves", "/v1/shelve"), None);
    assert_eq!(values("/v1/shelves", "/v1/shelves/x"), None);
    assert_eq!(values("/v1/shelves", "/v1"), None);
    assert_eq!(values("/v1/shelves", "v1/shelves"), None);
    // Literals compare against the raw path: no decoding first.
    assert_eq!(values("/v1/shelves", "/v1/%73helves"), None);
    assert_eq!(values("/v1/a%20b", "/v1/a%20b"), strs(&[]));
}

#[test]
fn trailing_slash_and_empty_segments_are_segments() {
    assert_eq!(values("/v1/shelves", "/v1/shelves/"), None);
    assert_eq!(values("/v1/shelves", "/v1//shelves"), None);
    // `*` matches one segment, which may be empty (as in grpc-gateway).
    assert_eq!(values("/v1/{x}", "/v1/"), strs(&[""]));
    assert_eq!(values("/v1/{x}/y", "/v1//y"), strs(&[""]));
}

#[test]
fn matches_single_wildcard_variables() {
    assert_eq!(values("/v1/shelves/{shelf}", "/v1/shelves/7"), strs(&["7"]));
    assert_eq!(values("/v1/shelves/{shelf}", "/v1/shelves/7/x"), None);
    assert_eq!(
        values("/v1/shelves/{shelf}/books/{book}", "/v1/shelves/s/books/b"),
        strs(&["s", "b"])
    );
    assert_eq!(values("/v1/*/x", "/v1/anything/x"), strs(&[]));
}

#[test]
fn matches_nested_field_path_templates() {
    let t = "/v1/{book.name=shelves/*/books/*}";
    assert_eq!(
        values(t, "/v1/shelves/1/books/2"),
        strs(&["shelves/1/books/2"])
    );
    assert_eq!(values(t, "/v1/shelves/1/novels/2"), None);
    assert_eq!(values(t, "/v1/shelves/1/books"), None);
}

#[test]
fn matches_deep_wildcard_at_end() {
    let t = "/v1/{path=**}";
    assert_eq!(values(t, "/v1/a/b/c"), strs(&["a/b/c"]));
    assert_eq!(values(t, "/v1/a"), strs(&["a"]));
    assert_eq!(values(t, "/v1"), strs(&[""]));
    assert_eq!(values(t, "/v1/"), strs(&[""]));
    assert_eq!(values(t, "/v2/a"), None);
    assert_eq!(values("/v1/{p=files/**}", "/v1/files"), strs(&["files"]));
    assert_eq!(
        values("/v1/{p=files/**}", "/v1/files/a/b"),
        strs(&["files/a/b"])
    );
}

#[test]
fn matches_deep_wildcard_in_the_middle() {
    let t = "/v1/{path=**}/meta/{key}";
    assert_eq!(values(t, "/v1/a/b/meta/k"), strs(&["a/b", "k"]));
    assert_eq!(values(t, "/v1/meta/k"), strs(&["", "k"]));
    assert_eq!(values(t, "/v1/meta/meta/k"), strs(&["meta", "k"]));
    assert_eq!(values(t, "/v1/a/b/meta"), None);
    assert_eq!(values(t, "/v1/a/b/data/k"), None);
    assert_eq!(values("/v1/**/x", "/v1/a/b/x"), strs(&[]));
    assert_eq!(values("/**/x", "/x"), strs(&[]));
}

#[test]
fn matches_verbs() {
    let t = "/v1/{name=shelves/*}:archive";
    assert_eq!(values(t, "/v1/shelves/1:archive"), strs(&["shelves/1"]));
    assert_eq!(values(t, "/v1/shelves/1"), None);
    assert_eq!(values(t, "/v1/shelves/1:restore"), None);
    assert_eq!(values(t, "/v1/shelves/:archive"), None);
    assert_eq!(values("/v1/{x}:go", "/v1/:go"), None);
    assert_eq!(
        values("/v1/shelves:batchGet", "/v1/shelves:batchGet"),
        strs(&[])
    );
    assert_eq!(values("/v1/{path=**}:go", "/v1/a/b:go"), strs(&["a/b"]));
    assert_eq!(values("/v1/{x}:b:c", "/v1/a:b:c"), strs(&["a"]));
    // A template without a verb matches the colon as part of the segment.
    assert_eq!(values("/v1/{name}", "/v1/x:archive"), strs(&["x:archive"]));
}

#[test]
fn single_segment_values_decode_everything() {
    let t = "/v1/{name}";
    assert_eq!(values(t, "/v1/a%20b"), strs(&["a b"]));
    assert_eq!(values(t, "/v1/a%2Fb"), strs(&["a/b"]));
    assert_eq!(values(t, "/v1/a%2fb"), strs(&["a/b"]));
    assert_eq!(values(t, "/v1/caf%C3%A9"), strs(&["café"]));
    assert_eq!(values(t, "/v1/100%25"), strs(&["100%"]));
    assert_eq!(values(t, "/v1/a+b"), strs(&["a+b"]));
    assert_eq!(values("/v1/{x=lit}", "/v1/lit"), strs(&["lit"]));
}

#[test]
fn multi_segment_values_keep_escaped_slashes() {
    let t = "/v1/{name=shelves/*}";
    assert_eq!(values(t, "/v1/shelves/a%2Fb"), strs(&["shelves/a%2Fb"]));
    assert_eq!(
        values(t, "/v1/shelves/a%2fb%20c"),
        strs(&["shelves/a%2fb c"])
    );
    assert_eq!(values("/v1/{p=**}", "/v1/a%2Fb/c%3A"), strs(&["a%2Fb/c:"]));
    assert_eq!(values("/v1/{p=**}", "/v1/a%2Fb"), strs(&["a%2Fb"]));
}

#[test]
fn escaped_slash_does_not_split_segments() {
    assert_eq!(values("/v1/{a}/{b}", "/v1/x%2Fy"), None);
    assert_eq!(values("/v1/{a}", "/v1/x%2Fy"), strs(&["x/y"]));
}

#[test]
fn malformed_escapes_are_errors() {
    let t = parse("/v1/{name}");
    assert_eq!(
        t.match_path("/v1/a%zzb"),
        Err(CaptureError::MalformedEscape("%zz".into()))
    );
    assert_eq!(
        t.match_path("/v1/a%2"),
        Err(CaptureError::MalformedEscape("%2".into()))
    );
    assert_eq!(
        t.match_path("/v1/a%"),
        Err(CaptureError::MalformedEscape("%".into()))
    );
    assert!(matches!(
        parse("/v1/{p=**}").match_path("/v1/x/%G1"),
        Err(CaptureError::MalformedEscape(_))
    ));
    assert_eq!(
        t.match_path("/v1/%FF"),
        Err(CaptureError::InvalidUtf8("%FF".into()))
    );
    // Only captured values are decoded, so uncaptured segments are not checked,
    // and a path that does not match is not an error.
    assert_eq!(parse("/v1/*").match_path("/v1/%zz"), Ok(Some(vec![])));
    assert_eq!(t.match_path("/v2/%zz"), Ok(None));
}

#[test]
fn strip_verb_requires_a_non_empty_segment() {
    assert_eq!(strip_verb("v1/a:go", "go"), Some("v1/a"));
    assert_eq!(strip_verb("a:go", "go"), Some("a"));
    assert_eq!(strip_verb("v1/:go", "go"), None);
    assert_eq!(strip_verb("v1/ago", "go"), None);
    assert_eq!(strip_verb("v1:go/a", "go"), None);
    assert_eq!(strip_verb("v1/a:b:c", "b:c"), Some("v1/a"));
}
