//! Route lookup under each of grpc-gateway's `UnescapingMode`s (runtime/mux.go
//! `ServeHTTP` and pattern.go `MatchAndEscape`), selected per gateway:
//!
//! - `Legacy` (grpc-gateway v2's default): the router sees Go's `URL.Path`, the
//!   whole path percent-decoded, so `%2F` splits segments like `/`, literals
//!   and verbs compare against decoded text, and captured values are used as
//!   they are. A malformed escape anywhere in the path is a 400, as Go's HTTP
//!   server refuses such a request line. Decoded bytes that are not UTF-8 are
//!   matched as replacement characters, and the request is a 400 if a route
//!   matches (a protobuf string cannot hold them).
//! - `AllExceptReserved`, `AllExceptSlash`: the raw path, split on `/` only;
//!   literals compare raw; values are decoded, a multi-segment one keeping
//!   RFC 6570 reserved characters (resp. `%2F`) escaped.
//! - `AllCharacters`: the raw path split on `/` and on `%2F` (grpc-gateway's
//!   splitter is case-sensitive: `%2f` does not split), values fully decoded.
//!
//! grpc-gateway reads `URL.RawPath`, which Go leaves empty when the raw path is
//! the default encoding of the decoded one (then the decoded path is routed,
//! and `100%25` becomes a malformed `100%`): we always use the raw path, which
//! is what that code means to do.

use crate::template::{Decoding, percent_decode};
use crate::{Lookup, RouteTable, UnescapingMode};

impl RouteTable {
    /// Matches a request's method and path (raw, without query string) with
    /// the gateway's percent-decoding `mode`.
    pub fn find_with(&self, method: &http::Method, path: &str, mode: UnescapingMode) -> Lookup<'_> {
        match mode {
            UnescapingMode::AllExceptSlash => self.lookup(method, path, Decoding::ExceptSlash),
            UnescapingMode::AllExceptReserved => {
                self.lookup(method, path, Decoding::ExceptReserved)
            }
            UnescapingMode::AllCharacters => {
                if path.contains("%2F") {
                    self.lookup(method, &path.replace("%2F", "/"), Decoding::All)
                } else {
                    self.lookup(method, path, Decoding::All)
                }
            }
            UnescapingMode::Legacy => self.find_legacy(method, path),
        }
    }

    fn find_legacy(&self, method: &http::Method, path: &str) -> Lookup<'_> {
        if !path.contains('%') {
            return self.lookup(method, path, Decoding::Verbatim);
        }
        let decoded = match percent_decode_bytes(path) {
            Ok(bytes) => bytes,
            Err(bad) => return Lookup::BadRequest(format!("invalid URL escape {bad:?}")),
        };
        match String::from_utf8(decoded) {
            Ok(decoded) => self.lookup(method, &decoded, Decoding::Verbatim),
            Err(e) => {
                let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                match self.lookup(method, &lossy, Decoding::Verbatim) {
                    Lookup::Found(..) => Lookup::BadRequest(format!(
                        "path {path:?} is not valid UTF-8 after percent-decoding"
                    )),
                    other => other,
                }
            }
        }
    }
}

/// Go's `url.PathUnescape`: every `%XX` decoded (`+` stays), a `%` not followed
/// by two hex digits is an error carrying the offending text.
fn percent_decode_bytes(path: &str) -> Result<Vec<u8>, String> {
    // The template module's decoder works on `str` and checks UTF-8; here the
    // bytes are needed first, so decode with nothing kept and map its errors.
    match percent_decode(path, |_| false) {
        Ok(s) => Ok(s.into_bytes()),
        Err(crate::template::CaptureError::MalformedEscape(bad)) => Err(bad),
        Err(crate::template::CaptureError::InvalidUtf8(_)) => Ok(raw_decode(path)),
    }
}

/// Decodes well-formed escapes into bytes (the path is known to be well-formed).
fn raw_decode(path: &str) -> Vec<u8> {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
            if let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::test_support::{backend, pool};

    const PROTO: &str = r#"
        syntax = "proto3";
        package u;
        import "google/api/annotations.proto";
        service S {
          rpc Deep (M) returns (M) { option (google.api.http) = { get: "/v1/{name=shelves/*/books/*}" }; }
          rpc One (M) returns (M) { option (google.api.http) = { get: "/v1/one/{id}" }; }
          rpc Pre (M) returns (M) { option (google.api.http) = { get: "/v1/{path=strprefix/*}:go" }; }
          rpc Lit (M) returns (M) { option (google.api.http) = { get: "/v1/a%20b/{id}" }; }
        }
        message M { string name = 1; string id = 2; string path = 3; }
    "#;

    fn table() -> RouteTable {
        let pool = pool(PROTO);
        RouteTable::build(&[backend(0, "u", &pool, &["u.S"])]).0
    }

    fn values(table: &RouteTable, mode: UnescapingMode, path: &str) -> Result<Vec<String>, String> {
        match table.find_with(&Method::GET, path, mode) {
            Lookup::Found(_, v) => Ok(v),
            Lookup::BadRequest(e) => Err(format!("400 {e}")),
            Lookup::NotFound => Err("404".into()),
            Lookup::MethodNotAllowed => Err("405".into()),
        }
    }

    #[test]
    fn legacy_decodes_the_whole_path_before_matching() {
        let t = table();
        let m = UnescapingMode::Legacy;
        assert_eq!(
            values(&t, m, "/v1/shelves%2F1%2Fbooks%2F2"),
            Ok(vec!["shelves/1/books/2".into()])
        );
        assert_eq!(
            values(&t, m, "/v1/strprefix%2Fx:go"),
            Ok(vec!["strprefix/x".into()])
        );
        // The verb is found in decoded text too.
        assert_eq!(
            values(&t, m, "/v1/strprefix/x%3Ago"),
            Ok(vec!["strprefix/x".into()])
        );
        // A slash in a single-segment value splits it: no route.
        assert_eq!(values(&t, m, "/v1/one/a%2Fb"), Err("404".into()));
        assert_eq!(values(&t, m, "/v1/one/a%20b"), Ok(vec!["a b".into()]));
        // Values are not decoded twice.
        assert_eq!(values(&t, m, "/v1/one/100%2525"), Ok(vec!["100%25".into()]));
        // Literals compare against decoded text (a template literal with an
        // escape can only match a doubly-escaped path, as in grpc-gateway).
        assert_eq!(values(&t, m, "/v1/%6Fne/x"), Ok(vec!["x".into()]));
        assert_eq!(values(&t, m, "/v1/a%20b/x"), Err("404".into()));
        assert_eq!(values(&t, m, "/v1/a%2520b/x"), Ok(vec!["x".into()]));
        // A malformed escape anywhere is a 400, even where no route would match.
        assert!(
            values(&t, m, "/v2/%zz")
                .unwrap_err()
                .starts_with("400 invalid URL escape \"%zz\"")
        );
        // Non-UTF-8 after decoding: 400 if a route matches, else as usual.
        assert!(
            values(&t, m, "/v1/one/%FF")
                .unwrap_err()
                .contains("not valid UTF-8")
        );
        assert_eq!(values(&t, m, "/v2/%FF"), Err("404".into()));
        // A POST-only path is still a 405.
        assert!(matches!(
            t.find_with(&Method::POST, "/v1/one/%41", m),
            Lookup::MethodNotAllowed
        ));
    }

    #[test]
    fn all_characters_splits_on_uppercase_escaped_slashes() {
        let t = table();
        let m = UnescapingMode::AllCharacters;
        assert_eq!(
            values(&t, m, "/v1/shelves%2F1/books/a%3Ab"),
            Ok(vec!["shelves/1/books/a:b".into()])
        );
        // `%2f` does not split (grpc-gateway's splitter is case-sensitive), and
        // is decoded in a value.
        assert_eq!(values(&t, m, "/v1/one/a%2fb"), Ok(vec!["a/b".into()]));
        assert_eq!(values(&t, m, "/v1/one/a%2Fb"), Err("404".into()));
        // Literals compare raw.
        assert_eq!(values(&t, m, "/v1/a%20b/x"), Ok(vec!["x".into()]));
        assert_eq!(values(&t, m, "/v1/%6Fne/x"), Err("404".into()));
    }

    #[test]
    fn all_except_reserved_keeps_reserved_characters_in_multi_segment_values() {
        let t = table();
        let m = UnescapingMode::AllExceptReserved;
        assert_eq!(
            values(&t, m, "/v1/shelves/a%3Ab%2Fc%20d/books/2"),
            Ok(vec!["shelves/a%3Ab%2Fc d/books/2".into()])
        );
        // Single-segment values are fully decoded.
        assert_eq!(values(&t, m, "/v1/one/a%3Ab%2Fc"), Ok(vec!["a:b/c".into()]));
        // %2F never splits.
        assert_eq!(
            values(&t, m, "/v1/shelves%2F1%2Fbooks%2F2"),
            Err("404".into())
        );
        // Malformed escapes only matter in the chosen route's values.
        assert!(values(&t, m, "/v1/one/%zz").unwrap_err().starts_with("400"));
    }

    #[test]
    fn all_except_slash_is_find() {
        let t = table();
        let m = UnescapingMode::AllExceptSlash;
        assert_eq!(
            values(&t, m, "/v1/shelves/a%3Ab%2Fc/books/2"),
            Ok(vec!["shelves/a:b%2Fc/books/2".into()])
        );
        assert_eq!(values(&t, m, "/v1/one/a%2Fb"), Ok(vec!["a/b".into()]));
    }

    #[test]
    fn raw_decode_keeps_what_is_not_an_escape() {
        assert_eq!(raw_decode("/a%FFb%2"), b"/a\xffb%2");
        assert_eq!(percent_decode_bytes("/x%2Fy").unwrap(), b"/x/y");
        assert_eq!(percent_decode_bytes("/x%f").unwrap_err(), "%f");
    }
}
