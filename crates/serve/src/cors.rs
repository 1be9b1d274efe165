//! CORS for the public listener, so browser apps on another origin can call it
//! (gRPC-Web above all) with no Envoy or other proxy in front.
//!
//! Configured by `cors:` (see [`switchboard_config::Cors`]); without it nothing
//! here runs and no CORS header is ever sent. With it:
//!
//! - A **preflight** (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//!   is answered here, never routed: 204 with the allow headers for an allowed
//!   origin, 403 without them for any other.
//! - An **actual request** from an allowed origin gets
//!   `Access-Control-Allow-Origin` (the origin itself, never `*`, so credentials
//!   can work and caches key on `Vary: Origin`) and `Access-Control-Expose-Headers`
//!   naming `grpc-status`, `grpc-message`, `grpc-status-details-bin` (a gRPC-Web
//!   client reads a trailers-only error from them) plus every header the response
//!   actually carries, so response metadata (`x-foo`, `Grpc-Metadata-Foo`) is
//!   readable by scripts without listing it in the config (Connect's unary
//!   `trailer-*` headers included). Requests from other
//!   origins are still served, without CORS headers: the browser withholds the
//!   response, as the CORS model intends.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, HeaderName, HeaderValue, ORIGIN,
    VARY,
};
use http::{HeaderMap, Method, Response};

use crate::body::{Body, full};

/// Always exposed: what a gRPC-Web client needs to read a trailers-only status.
const GRPC_EXPOSED: [&str; 3] = ["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// Request headers the browser protocols themselves send (connectrpc's cors
/// package, `AllowedHeaders`): always allowed, also when `allowed_headers`
/// lists the application's own, so a restrictive list cannot break Connect or
/// gRPC-Web clients.
const PROTOCOL_REQUEST_HEADERS: [&str; 6] = [
    "content-type",
    "connect-protocol-version",
    "connect-timeout-ms",
    "grpc-timeout",
    "x-grpc-web",
    "x-user-agent",
];

/// The compiled `cors:` config.
#[derive(Debug, Clone)]
pub(crate) struct Cors {
    config: switchboard_config::Cors,
    allowed_headers: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
}

impl Cors {
    pub(crate) fn new(config: switchboard_config::Cors) -> Self {
        let allowed_headers = (!config.allowed_headers.is_empty())
            .then(|| {
                let mut names: Vec<&str> = PROTOCOL_REQUEST_HEADERS.to_vec();
                for name in &config.allowed_headers {
                    if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                        names.push(name);
                    }
                }
                HeaderValue::from_str(&names.join(", ")).ok()
            })
            .flatten();
        let max_age = config.max_age.map(|d| HeaderValue::from(d.as_secs()));
        Cors {
            config,
            allowed_headers,
            max_age,
        }
    }

    /// The request's `Origin` if it is allowed (what the response echoes).
    pub(crate) fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(ORIGIN)?;
        self.config
            .allows_origin(origin.to_str().ok()?)
            .then(|| origin.clone())
    }

    /// Answers a preflight, or `None` if the request is not one.
    pub(crate) fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<Response<Body>> {
        if method != Method::OPTIONS
            || !headers.contains_key(ORIGIN)
            || !headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let mut response = Response::new(full(""));
        response.headers_mut().insert(
            VARY,
            HeaderValue::from_static(
                "origin, access-control-request-method, access-control-request-headers",
            ),
        );
        let Some(origin) = self.allowed_origin(headers) else {
            *response.status_mut() = http::StatusCode::FORBIDDEN;
            return Some(response);
        };
        *response.status_mut() = http::StatusCode::NO_CONTENT;
        let h = response.headers_mut();
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if let Some(m) = headers.get(ACCESS_CONTROL_REQUEST_METHOD) {
            h.insert(ACCESS_CONTROL_ALLOW_METHODS, m.clone());
        }
        let allow_headers = match &self.allowed_headers {
            Some(list) => Some(list.clone()),
            None => headers.get(ACCESS_CONTROL_REQUEST_HEADERS).cloned(),
        };
        if let Some(v) = allow_headers {
            h.insert(ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        if let Some(v) = &self.max_age {
            h.insert(ACCESS_CONTROL_MAX_AGE, v.clone());
        }
        if self.config.allow_credentials {
            h.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        Some(response)
    }

    /// Adds the CORS headers of an actual request's response. `origin` is the
    /// request's allowed origin (see [`Self::allowed_origin`]).
    pub(crate) fn decorate(&self, origin: Option<HeaderValue>, h: &mut HeaderMap) {
        h.append(VARY, HeaderValue::from_static("origin"));
        let Some(origin) = origin else { return };
        let mut exposed: Vec<&str> = GRPC_EXPOSED.to_vec();
        for name in h.keys() {
            if !is_safelisted(name) && !exposed.contains(&name.as_str()) {
                exposed.push(name.as_str());
            }
        }
        for name in &self.config.expose_headers {
            if !exposed.contains(&name.as_str()) {
                exposed.push(name);
            }
        }
        let exposed = HeaderValue::from_str(&exposed.join(", ")).ok();
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if let Some(v) = exposed {
            h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, v);
        }
        if self.config.allow_credentials {
            h.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

/// Response headers scripts may read anyway (the CORS-safelisted ones), and the
/// CORS and hop headers, which exposing would mean nothing.
fn is_safelisted(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "cache-control"
            | "content-language"
            | "content-length"
            | "content-type"
            | "expires"
            | "last-modified"
            | "pragma"
            | "vary"
            | "date"
            | "trailer"
            | "transfer-encoding"
            | "connection"
    ) || name.as_str().starts_with("access-control-")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cors(credentials: bool) -> Cors {
        Cors::new(switchboard_config::Cors {
            allowed_origins: vec!["https://app.example".into()],
            allow_credentials: credentials,
            max_age: Some(Duration::from_secs(600)),
            allowed_headers: vec![],
            expose_headers: vec!["x-extra".into()],
        })
    }

    fn request(origin: &str, extra: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        for (k, v) in extra {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn preflight_for_an_allowed_origin() {
        let req = request(
            "https://app.example",
            &[
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "content-type,x-grpc-web,x-user-agent,grpc-timeout",
                ),
            ],
        );
        let r = cors(true).preflight(&Method::OPTIONS, &req).unwrap();
        assert_eq!(r.status(), 204);
        let h = r.headers();
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], "POST");
        assert_eq!(
            h[ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type,x-grpc-web,x-user-agent,grpc-timeout"
        );
        assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "600");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    }

    #[test]
    fn a_configured_header_list_keeps_the_protocol_headers() {
        let c = Cors::new(switchboard_config::Cors {
            allowed_origins: vec!["https://app.example".into()],
            allow_credentials: false,
            max_age: None,
            allowed_headers: vec!["x-tenant".into(), "Content-Type".into()],
            expose_headers: vec![],
        });
        let req = request(
            "https://app.example",
            &[
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "connect-protocol-version,content-type",
                ),
            ],
        );
        let r = c.preflight(&Method::OPTIONS, &req).unwrap();
        assert_eq!(
            r.headers()[ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type, connect-protocol-version, connect-timeout-ms, grpc-timeout, \
             x-grpc-web, x-user-agent, x-tenant"
        );
    }

    #[test]
    fn preflight_for_another_origin_is_refused() {
        let req = request(
            "https://evil.example",
            &[("access-control-request-method", "POST")],
        );
        let r = cors(false).preflight(&Method::OPTIONS, &req).unwrap();
        assert_eq!(r.status(), 403);
        assert!(!r.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
    }

    #[test]
    fn not_a_preflight() {
        let c = cors(false);
        // No Access-Control-Request-Method: an ordinary OPTIONS request.
        assert!(
            c.preflight(&Method::OPTIONS, &request("https://app.example", &[]))
                .is_none()
        );
        let req = request(
            "https://app.example",
            &[("access-control-request-method", "POST")],
        );
        assert!(c.preflight(&Method::POST, &req).is_none());
    }

    #[test]
    fn actual_response_exposes_its_headers() {
        let c = cors(false);
        let origin = c.allowed_origin(&request("https://app.example", &[]));
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            HeaderValue::from_static("application/grpc-web+proto"),
        );
        h.insert("x-echo", HeaderValue::from_static("1"));
        h.insert("grpc-status", HeaderValue::from_static("0"));
        c.decorate(origin, &mut h);
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert_eq!(
            h[ACCESS_CONTROL_EXPOSE_HEADERS],
            "grpc-status, grpc-message, grpc-status-details-bin, x-echo, x-extra"
        );
        assert_eq!(h[VARY], "origin");
        assert!(!h.contains_key(ACCESS_CONTROL_ALLOW_CREDENTIALS));

        // Another origin: served, but nothing that lets the browser read it.
        let mut h = HeaderMap::new();
        c.decorate(
            c.allowed_origin(&request("https://evil.example", &[])),
            &mut h,
        );
        assert!(!h.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        assert_eq!(h[VARY], "origin");
    }
}
