//! The gateway-wide HTTP mapping switches (`http:`): the grpc-gateway v2
//! `ServeMux` options whose other behaviour is worth keeping. Defaults are
//! grpc-gateway's defaults; each field names the `ServeMuxOption` it mirrors.

/// How the request path is percent-decoded for matching and for path
/// variables; grpc-gateway's `UnescapingMode`, same names in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnescapingMode {
    /// `UnescapingModeLegacy`, grpc-gateway v2's default: the whole path is
    /// percent-decoded before routing, so `%2F` separates segments like `/`,
    /// literals compare against decoded text and captured values are used as
    /// decoded. `/v1/{name=shelves/*}` matches `/v1/shelves%2F1`.
    #[default]
    Legacy,
    /// `UnescapingModeAllExceptReserved`: routing on the raw path; a captured
    /// multi-segment value keeps RFC 6570 reserved characters escaped
    /// (`%2F`, `%3A`, `%40`, ...); single-segment values are fully decoded.
    AllExceptReserved,
    /// `UnescapingModeAllExceptSlash` (the google.api.http spec): routing on the
    /// raw path; a multi-segment value keeps only `%2F` escaped.
    AllExceptSlash,
    /// `UnescapingModeAllCharacters`: `%2F` splits segments like `/` (uppercase
    /// only, as grpc-gateway's splitter); literals compare against the raw
    /// text and every captured value is fully decoded.
    AllCharacters,
}

impl UnescapingMode {
    /// The config spelling.
    pub const NAMES: [&'static str; 4] = [
        "legacy",
        "all_except_reserved",
        "all_except_slash",
        "all_characters",
    ];

    /// Parses the config spelling.
    pub(crate) fn from_name(name: &str) -> Option<UnescapingMode> {
        Some(match name {
            "legacy" => UnescapingMode::Legacy,
            "all_except_reserved" => UnescapingMode::AllExceptReserved,
            "all_except_slash" => UnescapingMode::AllExceptSlash,
            "all_characters" => UnescapingMode::AllCharacters,
            _ => return None,
        })
    }
}

/// `http:` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpOptions {
    /// `WithUnescapingMode`. Default [`UnescapingMode::Legacy`].
    pub unescaping_mode: UnescapingMode,
    /// grpc-gateway's path-length fallback (`WithDisablePathLengthFallback`
    /// turns it off): a POST with `Content-Type:
    /// application/x-www-form-urlencoded` to a path only a GET route matches is
    /// served by that route, the form fields bound like query parameters.
    /// Default true.
    pub path_length_fallback: bool,
    /// `X-HTTP-Method-Override` on such a POST re-routes it as that method
    /// (`WithDisableHTTPMethodOverride` turns it off). Default true.
    pub method_override: bool,
    /// A server stream of `google.api.HttpBody` is written without
    /// grpc-gateway's `\n` after each message (the raw bytes only, for binary
    /// downloads). Default false (grpc-gateway's delimiter).
    pub raw_http_body_streams: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            unescaping_mode: UnescapingMode::default(),
            path_length_fallback: true,
            method_override: true,
            raw_http_body_streams: false,
        }
    }
}
