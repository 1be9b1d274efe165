//! HTTP headers <-> gRPC metadata, following grpc-gateway v2's defaults so that
//! backends see the same metadata and clients the same headers:
//!
//! - `Authorization` is forwarded as `authorization`;
//! - IANA permanent headers (`Accept`, `User-Agent`, `Content-Type`, `Cookie`, ...)
//!   are forwarded as `grpcgateway-<name>`;
//! - `Grpc-Metadata-<key>` is forwarded as `<key>` (`-bin` values base64-decoded);
//! - `x-forwarded-host` (from `X-Forwarded-Host` or the Host) and `x-forwarded-for`
//!   (incoming value plus the peer address) are added;
//! - `Grpc-Timeout` sets the call's deadline;
//! - response header metadata comes back as `Grpc-Metadata-<key>`, trailer metadata
//!   as `Grpc-Trailer-<key>` HTTP trailers when the client sent `TE: trailers`.
//!
//! Every call builds these, so the fixed names are `static` [`HeaderName`]s
//! (built at compile time: no parsing, validation or allocation per request),
//! forwarded values are the client's own [`HeaderValue`]s shared (no copy), the
//! maps are sized up front, and credentials are marked sensitive so the HPACK
//! encoder of the upstream HTTP/2 connection never puts them in its dynamic
//! table (RFC 7541 §7.1.3: a secret in the shared table could be probed by
//! another client's requests on the same connection).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

const GRPC_METADATA_PREFIX: &str = "grpc-metadata-";

/// `x-forwarded-host`, added to every call.
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// `x-forwarded-for`, added to every call.
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Headers the upstream call adds to the metadata map it is given
/// (`content-type`, `te`, `user-agent`, `grpc-accept-encoding`,
/// `grpc-timeout`, `grpc-encoding`): room is made for them up front so the map
/// is not grown on the way out.
const UPSTREAM_CALL_HEADERS: usize = 6;

/// Declares the `grpcgateway-<name>` statics and [`permanent_name`], the one
/// table of IANA permanent headers grpc-gateway forwards under that prefix.
macro_rules! permanent_headers {
    ($($incoming:literal => $outgoing:ident = $name:literal,)*) => {
        $(static $outgoing: HeaderName = HeaderName::from_static($name);)*

        /// The metadata key grpc-gateway forwards an IANA permanent header
        /// under (`grpcgateway-<name>`), or `None` for other headers: a static
        /// name, cloned without allocating.
        fn permanent_name(name: &str) -> Option<&'static HeaderName> {
            match name {
                $($incoming => Some(&$outgoing),)*
                _ => None,
            }
        }
    };
}

permanent_headers! {
    "accept" => GG_ACCEPT = "grpcgateway-accept",
    "accept-charset" => GG_ACCEPT_CHARSET = "grpcgateway-accept-charset",
    "accept-language" => GG_ACCEPT_LANGUAGE = "grpcgateway-accept-language",
    "accept-ranges" => GG_ACCEPT_RANGES = "grpcgateway-accept-ranges",
    "authorization" => GG_AUTHORIZATION = "grpcgateway-authorization",
    "cache-control" => GG_CACHE_CONTROL = "grpcgateway-cache-control",
    "content-type" => GG_CONTENT_TYPE = "grpcgateway-content-type",
    "cookie" => GG_COOKIE = "grpcgateway-cookie",
    "date" => GG_DATE = "grpcgateway-date",
    "expect" => GG_EXPECT = "grpcgateway-expect",
    "from" => GG_FROM = "grpcgateway-from",
    "if-match" => GG_IF_MATCH = "grpcgateway-if-match",
    "if-modified-since" => GG_IF_MODIFIED_SINCE = "grpcgateway-if-modified-since",
    "if-none-match" => GG_IF_NONE_MATCH = "grpcgateway-if-none-match",
    "if-schedule-tag-match" => GG_IF_SCHEDULE_TAG_MATCH = "grpcgateway-if-schedule-tag-match",
    "if-unmodified-since" => GG_IF_UNMODIFIED_SINCE = "grpcgateway-if-unmodified-since",
    "max-forwards" => GG_MAX_FORWARDS = "grpcgateway-max-forwards",
    "origin" => GG_ORIGIN = "grpcgateway-origin",
    "pragma" => GG_PRAGMA = "grpcgateway-pragma",
    "referer" => GG_REFERER = "grpcgateway-referer",
    "user-agent" => GG_USER_AGENT = "grpcgateway-user-agent",
    "via" => GG_VIA = "grpcgateway-via",
    "warning" => GG_WARNING = "grpcgateway-warning",
}

/// Whether a forwarded metadata key carries a credential (the client's
/// `Authorization` and `Cookie`, under any of the names they are forwarded
/// as): such values are sent HPACK never-indexed.
fn is_credential(key: &str) -> bool {
    matches!(
        key,
        "authorization" | "grpcgateway-authorization" | "cookie" | "grpcgateway-cookie"
    )
}

/// Marks the client's own credential headers (`Authorization`, `Cookie`)
/// sensitive in a header map forwarded as it is (native gRPC and gRPC-Web
/// pass-through), so they too go out HPACK never-indexed, as the metadata
/// the transcoded shapes build does (see [`forwarded_value`]).
pub(crate) fn mark_credentials(headers: &mut HeaderMap) {
    for name in [AUTHORIZATION, http::header::COOKIE] {
        if let http::header::Entry::Occupied(mut e) = headers.entry(name) {
            for v in e.iter_mut() {
                v.set_sensitive(true);
            }
        }
    }
}

/// The client's header value, shared, marked sensitive when it is a
/// credential forwarded under `key`.
fn forwarded_value(key: &str, value: &HeaderValue) -> HeaderValue {
    let mut v = value.clone();
    if is_credential(key) {
        v.set_sensitive(true);
    }
    v
}

/// The `Content-Type` header value for a response body's media type: the
/// codecs' own types are static values (no parse per response), an
/// `HttpBody`'s type is parsed; `None` for an empty or invalid one (no header).
pub(crate) fn content_type_value(media: &str) -> Option<HeaderValue> {
    static JSON: HeaderValue = HeaderValue::from_static("application/json");
    static PROTOBUF: HeaderValue =
        HeaderValue::from_static(switchboard_transcode::PROTOBUF_MEDIA_TYPE);
    match media {
        "application/json" => Some(JSON.clone()),
        switchboard_transcode::PROTOBUF_MEDIA_TYPE => Some(PROTOBUF.clone()),
        _ => HeaderValue::from_str(media).ok().filter(|v| !v.is_empty()),
    }
}

/// Metadata keys a gRPC client hides from applications (grpc-go's reserved set,
/// minus the ones it whitelists), so they are not echoed back as `Grpc-Metadata-*`.
pub(crate) fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        "grpc-status"
            | "grpc-message"
            | "grpc-status-details-bin"
            | "grpc-encoding"
            | "grpc-accept-encoding"
            | "grpc-timeout"
            | "grpc-message-type"
            | "grpc-previous-rpc-attempts"
            | "grpc-retry-pushback-ms"
            | "grpc-tags-bin"
            | "grpc-trace-bin"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "connection"
    )
}

/// A header the client sent that cannot be forwarded: 400.
#[derive(Debug)]
pub(crate) struct BadHeader(pub String);

/// Builds the outgoing metadata and the client's deadline (`Grpc-Timeout`) from the
/// request headers.
pub(crate) fn request_metadata(
    headers: &HeaderMap,
    authority: Option<&str>,
    peer: Option<SocketAddr>,
) -> Result<(MetadataMap, Option<Duration>), BadHeader> {
    // Every forwarded header (`Authorization` twice), the two
    // `x-forwarded-*` and what the upstream call adds: no growth on the way.
    let mut md = MetadataMap::with_capacity(headers.len() + 3 + UPSTREAM_CALL_HEADERS);
    let mut timeout = None;
    for (name, value) in headers {
        let key = name.as_str();
        match key {
            // Added below, with the peer.
            "x-forwarded-for" | "x-forwarded-host" => continue,
            "grpc-timeout" => {
                let text = value.to_str().unwrap_or_default();
                timeout = Some(
                    switchboard_upstream::parse_grpc_timeout(text)
                        .ok_or_else(|| BadHeader(format!("invalid grpc-timeout: {text}")))?,
                );
                continue;
            }
            "host" => continue,
            _ => {}
        }
        // The client's values are valid metadata values as they are (an ASCII
        // metadata value is any valid header value): shared, not copied.
        if *name == AUTHORIZATION {
            md.as_mut()
                .append(AUTHORIZATION, forwarded_value("authorization", value));
        }
        if let Some(prefixed) = permanent_name(key) {
            md.as_mut()
                .append(prefixed.clone(), forwarded_value(prefixed.as_str(), value));
        } else if let Some(stripped) = key.strip_prefix(GRPC_METADATA_PREFIX)
            && !append_header(&mut md, stripped, value)
        {
            return Err(BadHeader(format!("invalid binary header {key}")));
        }
    }
    add_forwarded(&mut md, headers, authority, peer);
    Ok((md, timeout))
}

/// Appends one forwarded header to `md` as `key`: a `-bin` key's value
/// base64-decoded ([`decode_bin`]), any other as it is; a name or value that
/// is not valid metadata is left out. `false`: a `-bin` value that is not
/// base64, the client's error. Shared by every protocol that builds metadata
/// from HTTP headers (grpc-gateway's `Grpc-Metadata-*`, Connect's headers).
pub(crate) fn append_header(md: &mut MetadataMap, key: &str, value: &HeaderValue) -> bool {
    if key.ends_with("-bin") {
        let Some(decoded) = decode_bin(value.as_bytes()) else {
            return false;
        };
        if let Ok(k) = MetadataKey::from_bytes(key.as_bytes()) {
            md.append_bin(k, MetadataValue::from_bytes(&decoded));
        }
    } else if let (Ok(k), Ok(mut v)) = (
        MetadataKey::<tonic::metadata::Ascii>::from_bytes(key.as_bytes()),
        MetadataValue::try_from(value.as_bytes()),
    ) {
        if is_credential(key) {
            v.set_sensitive(true);
        }
        md.append(k, v);
    }
    true
}

/// The request's authority: the URI's (HTTP/2's `:authority`), else `Host`.
pub(crate) fn authority<'a>(uri: &'a http::Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    uri.authority().map(|a| a.as_str()).or_else(|| {
        headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
    })
}

/// Adds `x-forwarded-host` (the client's `X-Forwarded-Host`, else the
/// request's `authority`) and `x-forwarded-for` (the client's
/// `X-Forwarded-For` values joined, then the peer), as grpc-gateway does.
/// Shared by every protocol that builds metadata from HTTP headers.
pub(crate) fn add_forwarded(
    md: &mut MetadataMap,
    headers: &HeaderMap,
    authority: Option<&str>,
    peer: Option<SocketAddr>,
) {
    let mut xff: Option<String> = None;
    for v in headers.get_all(&X_FORWARDED_FOR) {
        let v = v.to_str().unwrap_or_default();
        match &mut xff {
            Some(prev) => {
                prev.push_str(", ");
                prev.push_str(v);
            }
            None => xff = Some(v.to_owned()),
        }
    }
    // The client's own `X-Forwarded-Host` value is forwarded as it is (a valid
    // header value whenever it is valid UTF-8, as before); the authority is
    // copied once.
    let host = match headers.get(&X_FORWARDED_HOST) {
        Some(v) if v.to_str().is_ok() => Some(v.clone()),
        _ => authority.and_then(|a| HeaderValue::from_str(a).ok()),
    };
    if let Some(v) = host {
        md.as_mut().insert(X_FORWARDED_HOST.clone(), v);
    }
    if let Some(peer) = peer {
        xff = Some(forwarded_for(xff.as_deref(), peer));
    }
    if let Some(v) = xff.and_then(|x| HeaderValue::try_from(x).ok()) {
        md.as_mut().insert(X_FORWARDED_FOR.clone(), v);
    }
}

/// `X-Forwarded-For` with the peer's address appended to what earlier proxies
/// wrote (one owner for every call shape, the native pass-through included).
/// One string, written in place.
pub(crate) fn forwarded_for(prior: Option<&str>, peer: SocketAddr) -> String {
    let mut out = String::with_capacity(prior.map_or(0, |p| p.len() + 2) + 39);
    if let Some(prior) = prior.map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str(prior);
        out.push_str(", ");
    }
    let _ = write!(out, "{}", peer.ip());
    out
}

/// Accepts standard and URL-safe base64, padded or not (grpc-gateway's decodeBinHeader).
pub(crate) fn decode_bin(v: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(v).ok())
}

/// Whether the client accepts HTTP trailers (`TE: trailers`).
pub(crate) fn accepts_trailers(headers: &HeaderMap) -> bool {
    headers.get_all(http::header::TE).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.to_ascii_lowercase().contains("trailers"))
    })
}

/// Appends `prefix<key>` headers for each forwardable metadata entry. Binary
/// (`-bin`) values are sent base64-encoded, as on the gRPC wire.
pub(crate) fn metadata_to_headers(md: &MetadataMap, prefix: &str, out: &mut HeaderMap) {
    metadata_to_headers_except(md, prefix, out, |key| {
        is_reserved(key) || key.starts_with(':')
    });
}

/// [`metadata_to_headers`] with the protocol's own rule for which keys stay
/// behind (`skip`): the one writer of response metadata as headers, for
/// grpc-gateway's `Grpc-Metadata-*` and Connect's plain headers alike.
pub(crate) fn metadata_to_headers_except(
    md: &MetadataMap,
    prefix: &str,
    out: &mut HeaderMap,
    skip: impl Fn(&str) -> bool,
) {
    out.reserve(md.len());
    // One scratch buffer for every `prefix + key`, not one allocation per entry.
    let mut name = String::new();
    for (key, value) in md.as_ref() {
        let key = key.as_str();
        if skip(key) {
            continue;
        }
        if let Some(header) = static_response_name(prefix, key) {
            out.append(header.clone(), value.clone());
            continue;
        }
        name.clear();
        name.push_str(prefix);
        name.push_str(key);
        if let Ok(header) = HeaderName::from_bytes(name.as_bytes()) {
            out.append(header, value.clone());
        }
    }
}

/// The response header a backend sends on every call (its `content-type`,
/// echoed as `Grpc-Metadata-Content-Type` as grpc-gateway does) as a static
/// name: no parse or allocation per response. `None`: build the name.
fn static_response_name(prefix: &str, key: &str) -> Option<&'static HeaderName> {
    static GRPC_METADATA_CONTENT_TYPE: HeaderName =
        HeaderName::from_static("grpc-metadata-content-type");
    (prefix == GRPC_METADATA_PREFIX && key == "content-type").then_some(&GRPC_METADATA_CONTENT_TYPE)
}

/// The `Trailer` header announcing which trailers will follow.
pub(crate) fn trailer_announcement(md: &MetadataMap) -> Option<HeaderValue> {
    let names: Vec<String> = md
        .as_ref()
        .keys()
        .map(|k| k.as_str())
        .filter(|k| !is_reserved(k))
        .map(|k| format!("grpc-trailer-{k}"))
        .collect();
    if names.is_empty() {
        None
    } else {
        HeaderValue::from_str(&names.join(", ")).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_like_grpc_gateway() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer t".parse().unwrap());
        h.insert("user-agent", "curl/8".parse().unwrap());
        h.insert("grpc-metadata-tenant", "acme".parse().unwrap());
        h.insert("grpc-metadata-blob-bin", "AAEC".parse().unwrap());
        h.insert("x-custom", "dropped".parse().unwrap());
        h.insert("x-forwarded-for", "10.0.0.1".parse().unwrap());
        h.insert("grpc-timeout", "5S".parse().unwrap());
        let peer: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let (md, timeout) = request_metadata(&h, Some("gw.example"), Some(peer)).unwrap();
        assert_eq!(timeout, Some(Duration::from_secs(5)));
        assert_eq!(md.get("authorization").unwrap(), "Bearer t");
        assert_eq!(md.get("grpcgateway-authorization").unwrap(), "Bearer t");
        assert_eq!(md.get("grpcgateway-user-agent").unwrap(), "curl/8");
        assert_eq!(md.get("tenant").unwrap(), "acme");
        assert_eq!(
            md.get_bin("blob-bin").unwrap().to_bytes().unwrap().as_ref(),
            &[0, 1, 2]
        );
        assert!(md.get("x-custom").is_none());
        assert_eq!(md.get("x-forwarded-host").unwrap(), "gw.example");
        assert_eq!(md.get("x-forwarded-for").unwrap(), "10.0.0.1, 127.0.0.1");
    }

    #[test]
    fn credentials_are_sensitive_and_other_values_are_not() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer t".parse().unwrap());
        h.insert("cookie", "s=1".parse().unwrap());
        h.insert("user-agent", "curl/8".parse().unwrap());
        h.insert("grpc-metadata-tenant", "acme".parse().unwrap());
        let (md, _) = request_metadata(&h, Some("gw.example"), None).unwrap();
        let headers = md.into_headers();
        for name in [
            "authorization",
            "grpcgateway-authorization",
            "grpcgateway-cookie",
        ] {
            assert!(headers[name].is_sensitive(), "{name}");
        }
        for name in ["grpcgateway-user-agent", "tenant", "x-forwarded-host"] {
            assert!(!headers[name].is_sensitive(), "{name}");
        }
        assert_eq!(headers["grpcgateway-cookie"], "s=1");
        assert_eq!(headers.len(), 6, "{headers:?}");
    }

    #[test]
    fn passed_through_credentials_are_marked_sensitive_with_their_values_kept() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer t".parse().unwrap());
        h.append("cookie", "a=1".parse().unwrap());
        h.append("cookie", "b=2".parse().unwrap());
        h.insert("te", "trailers".parse().unwrap());
        mark_credentials(&mut h);
        assert!(h["authorization"].is_sensitive());
        assert_eq!(h["authorization"], "Bearer t");
        let cookies: Vec<_> = h.get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert!(cookies.iter().all(|v| v.is_sensitive()));
        assert!(!h["te"].is_sensitive());
    }

    #[test]
    fn the_static_names_are_the_prefixed_names() {
        for incoming in [
            "accept",
            "authorization",
            "cookie",
            "if-schedule-tag-match",
            "warning",
        ] {
            assert_eq!(
                permanent_name(incoming).unwrap().as_str(),
                format!("grpcgateway-{incoming}")
            );
        }
        assert!(permanent_name("x-custom").is_none());
        assert_eq!(
            static_response_name(GRPC_METADATA_PREFIX, "content-type").unwrap(),
            "grpc-metadata-content-type"
        );
        assert!(static_response_name("grpc-trailer-", "content-type").is_none());
        assert_eq!(
            content_type_value("application/json").unwrap(),
            "application/json"
        );
        assert_eq!(
            content_type_value("image/png; q=1").unwrap(),
            "image/png; q=1"
        );
        assert!(content_type_value("").is_none());
    }

    #[test]
    fn forwarded_for_appends_the_peer() {
        let peer: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(forwarded_for(None, peer), "::1");
        assert_eq!(forwarded_for(Some("  "), peer), "::1");
        assert_eq!(forwarded_for(Some(" 10.0.0.1 "), peer), "10.0.0.1, ::1");
    }

    #[test]
    fn rejects_bad_timeout_and_bad_binary() {
        let mut h = HeaderMap::new();
        h.insert("grpc-timeout", "soon".parse().unwrap());
        assert!(request_metadata(&h, None, None).is_err());
        let mut h = HeaderMap::new();
        h.insert("grpc-metadata-x-bin", "!!!".parse().unwrap());
        assert!(request_metadata(&h, None, None).is_err());
    }

    #[test]
    fn response_metadata_skips_reserved() {
        let mut md = MetadataMap::new();
        md.insert("x-echo", "1".parse().unwrap());
        md.insert("content-type", "application/grpc".parse().unwrap());
        md.insert("grpc-status", "0".parse().unwrap());
        let mut out = HeaderMap::new();
        metadata_to_headers(&md, "grpc-metadata-", &mut out);
        assert_eq!(out.get("grpc-metadata-x-echo").unwrap(), "1");
        assert_eq!(
            out.get("grpc-metadata-content-type").unwrap(),
            "application/grpc"
        );
        assert!(out.get("grpc-metadata-grpc-status").is_none());
    }
}
