//! Validation of `http:` (see [`crate::HttpOptions`]). Same rules as the rest
//! of the loader: every problem is collected and points at its node.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::validator::Validator;
use crate::{HttpOptions, UnescapingMode};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    unescaping_mode: Option<Spanned<String>>,
    path_length_fallback: Option<bool>,
    method_override: Option<bool>,
    raw_http_body_streams: Option<bool>,
}

impl Validator {
    pub(super) fn http(&mut self, raw: Option<RawHttp>) -> HttpOptions {
        let defaults = HttpOptions::default();
        let Some(raw) = raw else { return defaults };
        let unescaping_mode = match raw.unescaping_mode {
            None => defaults.unescaping_mode,
            Some(mode) => match UnescapingMode::from_name(&mode.value) {
                Some(m) => m,
                None => {
                    self.error(
                        &mode.referenced,
                        format!(
                            "http.unescaping_mode: unknown mode `{}`; expected one of {}",
                            mode.value,
                            UnescapingMode::NAMES.join(", ")
                        ),
                    );
                    defaults.unescaping_mode
                }
            },
        };
        HttpOptions {
            unescaping_mode,
            path_length_fallback: raw
                .path_length_fallback
                .unwrap_or(defaults.path_length_fallback),
            method_override: raw.method_override.unwrap_or(defaults.method_override),
            raw_http_body_streams: raw
                .raw_http_body_streams
                .unwrap_or(defaults.raw_http_body_streams),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{HttpOptions, UnescapingMode};

    use crate::load::test_support::{errors, parse};

    #[test]
    fn defaults_are_grpc_gateway_defaults() {
        let c = parse("{}").unwrap();
        assert_eq!(c.http, HttpOptions::default());
        assert_eq!(c.http.unescaping_mode, UnescapingMode::Legacy);
        assert!(c.http.path_length_fallback && c.http.method_override);
        assert!(!c.http.raw_http_body_streams);
    }

    #[test]
    fn every_key() {
        let c = parse(
            "http:\n  unescaping_mode: all_characters\n  path_length_fallback: false\n  method_override: false\n  raw_http_body_streams: true\n",
        )
        .unwrap();
        assert_eq!(
            c.http,
            HttpOptions {
                unescaping_mode: UnescapingMode::AllCharacters,
                path_length_fallback: false,
                method_override: false,
                raw_http_body_streams: true,
            }
        );
        for name in UnescapingMode::NAMES {
            let c = parse(&format!("http: {{unescaping_mode: {name}}}\n")).unwrap();
            assert_eq!(
                Some(c.http.unescaping_mode),
                UnescapingMode::from_name(name)
            );
        }
    }

    #[test]
    fn unknown_mode_and_key_are_errors() {
        let e = errors("http:\n  unescaping_mode: AllCharacters\n");
        assert!(
            e.iter()
                .any(|e| e.contains("2:20") && e.contains("unknown mode `AllCharacters`")),
            "{e:?}"
        );
        let e = errors("http:\n  unescape: legacy\n");
        assert!(
            e.iter().any(|e| e.contains("unknown key `unescape`")),
            "{e:?}"
        );
    }
}
