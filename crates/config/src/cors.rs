//! The CORS part of the model (`cors:`): which browser origins may call the
//! public listener, for gRPC-Web and HTTP/JSON clients served from another
//! origin without a proxy in front.

use std::time::Duration;

/// Cross-origin access to the public listener. Absent from the config means no
/// CORS headers at all (browsers then allow same-origin calls only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Allowed `Origin` values: exact (`https://app.example`), `*`-globs
    /// (`https://*.example.com`) or `*` for any origin. At least one.
    pub allowed_origins: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true` (cookies, HTTP auth). Not
    /// allowed together with the `*` origin. Default false.
    pub allow_credentials: bool,
    /// How long browsers may cache a preflight answer (`Access-Control-Max-Age`).
    /// Absent: not sent (browsers default to 5 s).
    pub max_age: Option<Duration>,
    /// Request headers a preflight allows. Empty (the default) allows whatever
    /// the browser asks for, which gRPC-Web and custom metadata need.
    pub allowed_headers: Vec<String>,
    /// Response headers scripts may read, in addition to the gRPC status headers
    /// and whatever headers the response carries (always exposed).
    pub expose_headers: Vec<String>,
}

impl Cors {
    /// Whether `origin` (the request's `Origin` header) is allowed.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|pattern| pattern == "*" || crate::glob(origin, pattern))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_matching() {
        let cors = Cors {
            allowed_origins: vec!["https://app.example".into(), "https://*.example.com".into()],
            allow_credentials: false,
            max_age: None,
            allowed_headers: vec![],
            expose_headers: vec![],
        };
        assert!(cors.allows_origin("https://app.example"));
        assert!(cors.allows_origin("https://a.example.com"));
        assert!(!cors.allows_origin("http://app.example"));
        assert!(!cors.allows_origin("https://app.example.evil"));
        assert!(!cors.allows_origin("https://example.com"));
        let any = Cors {
            allowed_origins: vec!["*".into()],
            ..cors
        };
        assert!(any.allows_origin("null"));
    }
}
