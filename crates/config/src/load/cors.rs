//! Validation of `cors:`. Same rules as the rest of the loader: every problem
//! is collected and points at its node.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::validator::Validator;
use super::values::is_http_token;
use crate::Cors;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCors {
    allowed_origins: Option<Spanned<Vec<Spanned<String>>>>,
    allow_credentials: Option<Spanned<bool>>,
    max_age: Option<Spanned<String>>,
    allowed_headers: Option<Vec<Spanned<String>>>,
    expose_headers: Option<Vec<Spanned<String>>>,
}

impl Validator {
    pub(super) fn cors(&mut self, raw: Option<Spanned<RawCors>>) -> Option<Cors> {
        let raw = raw?;
        let (at, raw) = (raw.referenced, raw.value);
        let mut allowed_origins = Vec::new();
        let mut any_origin = false;
        match raw.allowed_origins {
            None => self.error(&at, "cors is missing required key `allowed_origins`"),
            Some(list) if list.value.is_empty() => self.error(
                &list.referenced,
                "cors.allowed_origins must list at least one origin",
            ),
            Some(list) => {
                for origin in list.value {
                    let value = origin.value.trim();
                    if value == "*" {
                        any_origin = true;
                    } else if let Err(why) = check_origin(value) {
                        self.error(
                            &origin.referenced,
                            format!("cors.allowed_origins: invalid origin `{value}`: {why}"),
                        );
                    }
                    allowed_origins.push(value.to_owned());
                }
            }
        }
        let allow_credentials = match raw.allow_credentials {
            Some(c) if c.value && any_origin => {
                // Reflecting any origin with credentials would let every site act
                // as the user; browsers forbid the literal `*` for that reason.
                self.error(
                    &c.referenced,
                    "cors.allow_credentials: true cannot be combined with the `*` origin; list the origins",
                );
                false
            }
            Some(c) => c.value,
            None => false,
        };
        let max_age = self.duration("cors.max_age", raw.max_age.as_ref(), true);
        let allowed_headers = self.header_names("cors.allowed_headers", raw.allowed_headers);
        let expose_headers = self.header_names("cors.expose_headers", raw.expose_headers);
        Some(Cors {
            allowed_origins,
            allow_credentials,
            max_age,
            allowed_headers,
            expose_headers,
        })
    }

    fn header_names(&mut self, key: &str, raw: Option<Vec<Spanned<String>>>) -> Vec<String> {
        let mut names = Vec::new();
        for name in raw.unwrap_or_default() {
            if is_http_token(&name.value) {
                names.push(name.value.to_ascii_lowercase());
            } else {
                self.error(
                    &name.referenced,
                    format!("{key}: `{}` is not a header name", name.value),
                );
            }
        }
        names
    }
}

/// An origin as browsers send it: `scheme://host[:port]`, no path; `*` may
/// stand for any run of characters (`https://*.example.com`).
fn check_origin(origin: &str) -> Result<(), String> {
    let expected = "expected scheme://host[:port] such as `https://app.example`";
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err(format!("missing scheme; {expected}"));
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return Err(format!("`{scheme}` is not a URL scheme; {expected}"));
    }
    if rest.is_empty() {
        return Err(format!("missing host; {expected}"));
    }
    if rest.contains('/') {
        return Err(format!("an origin has no path (not even `/`); {expected}"));
    }
    if rest
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(format!("contains whitespace; {expected}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::load::test_support::{errors, parse};

    #[test]
    fn absent_means_no_cors() {
        assert_eq!(parse("").unwrap().cors, None);
    }

    #[test]
    fn every_key() {
        let c = parse(
            "cors:\n  allowed_origins: [\"https://app.example\", \"https://*.example.com\"]\n  allow_credentials: true\n  max_age: 10m\n  allowed_headers: [Content-Type, x-grpc-web]\n  expose_headers: [X-Request-Id]\n",
        )
        .unwrap();
        let cors = c.cors.unwrap();
        assert_eq!(
            cors.allowed_origins,
            ["https://app.example", "https://*.example.com"]
        );
        assert!(cors.allow_credentials);
        assert_eq!(cors.max_age, Some(Duration::from_secs(600)));
        assert_eq!(cors.allowed_headers, ["content-type", "x-grpc-web"]);
        assert_eq!(cors.expose_headers, ["x-request-id"]);

        let c = parse("cors: {allowed_origins: [\"*\"]}\n").unwrap();
        let cors = c.cors.unwrap();
        assert!(!cors.allow_credentials);
        assert_eq!(cors.max_age, None);
        assert!(cors.allowed_headers.is_empty());
    }

    #[test]
    fn errors_point_at_their_node() {
        assert_eq!(
            errors("cors:\n  max_age: 1m\n"),
            ["/etc/sb.yaml:2:3: cors is missing required key `allowed_origins`"]
        );
        assert_eq!(
            errors("cors:\n  allowed_origins: []\n"),
            ["/etc/sb.yaml:2:20: cors.allowed_origins must list at least one origin"]
        );
        let errs = errors(
            "cors:\n  allowed_origins:\n    - https://ok.example\n    - app.example\n    - https://app.example/\n    - \"*\"\n  allow_credentials: true\n  max_age: soon\n  expose_headers: [\"bad header\"]\n",
        );
        assert_eq!(errs.len(), 5, "{errs:#?}");
        assert!(
            errs[0].starts_with("/etc/sb.yaml:4:7: cors.allowed_origins: invalid origin `app.example`: missing scheme"),
            "{}",
            errs[0]
        );
        assert!(
            errs[1].starts_with("/etc/sb.yaml:5:7: cors.allowed_origins: invalid origin `https://app.example/`: an origin has no path"),
            "{}",
            errs[1]
        );
        assert!(
            errs[2].starts_with("/etc/sb.yaml:7:22: cors.allow_credentials: true cannot be combined with the `*` origin"),
            "{}",
            errs[2]
        );
        assert!(
            errs[3].starts_with("/etc/sb.yaml:8:12: invalid cors.max_age `soon`"),
            "{}",
            errs[3]
        );
        assert_eq!(
            errs[4],
            "/etc/sb.yaml:9:20: cors.expose_headers: `bad header` is not a header name"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let errs = errors("cors:\n  allowed_origin: [\"*\"]\n");
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].contains("unknown key `allowed_origin` (did you mean `allowed_origins`?)"),
            "{}",
            errs[0]
        );
    }
}
