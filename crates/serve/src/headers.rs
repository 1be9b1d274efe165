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

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

const GRPC_METADATA_PREFIX: &str = "grpc-metadata-";

/// The metadata key grpc-gateway forwards an IANA permanent header under
/// (`grpcgateway-<name>`), or `None` for other headers. Static strings: no
/// per-request formatting.
fn permanent_key(name: &str) -> Option<&'static str> {
    Some(match name {
        "accept" => "grpcgateway-accept",
        "accept-charset" => "grpcgateway-accept-charset",
        "accept-language" => "grpcgateway-accept-language",
        "accept-ranges" => "grpcgateway-accept-ranges",
        "authorization" => "grpcgateway-authorization",
        "cache-control" => "grpcgateway-cache-control",
        "content-type" => "grpcgateway-content-type",
        "cookie" => "grpcgateway-cookie",
        "date" => "grpcgateway-date",
        "expect" => "grpcgateway-expect",
        "from" => "grpcgateway-from",
        "if-match" => "grpcgateway-if-match",
        "if-modified-since" => "grpcgateway-if-modified-since",
        "if-none-match" => "grpcgateway-if-none-match",
        "if-schedule-tag-match" => "grpcgateway-if-schedule-tag-match",
        "if-unmodified-since" => "grpcgateway-if-unmodified-since",
        "max-forwards" => "grpcgateway-max-forwards",
        "origin" => "grpcgateway-origin",
        "pragma" => "grpcgateway-pragma",
        "referer" => "grpcgateway-referer",
        "user-agent" => "grpcgateway-user-agent",
        "via" => "grpcgateway-via",
        "warning" => "grpcgateway-warning",
        _ => return None,
    })
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
    let mut md = MetadataMap::with_capacity(headers.len() + 2);
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
        if key == "authorization"
            && let Ok(v) = MetadataValue::try_from(value.as_bytes())
        {
            md.append("authorization", v);
        }
        if let Some(prefixed) = permanent_key(key) {
            if let Ok(v) = MetadataValue::try_from(value.as_bytes()) {
                md.append(MetadataKey::from_static(prefixed), v);
            }
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
    } else if let (Ok(k), Ok(v)) = (
        MetadataKey::from_bytes(key.as_bytes()),
        MetadataValue::try_from(value.as_bytes()),
    ) {
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
    for v in headers.get_all("x-forwarded-for") {
        let v = v.to_str().unwrap_or_default();
        xff = Some(match xff {
            Some(prev) => format!("{prev}, {v}"),
            None => v.to_owned(),
        });
    }
    let host = headers
        .get("x-forwarded-host")
        .and_then(|v| v.to_str().ok())
        .or(authority);
    if let Some(host) = host
        && let Ok(v) = MetadataValue::try_from(host)
    {
        md.insert("x-forwarded-host", v);
    }
    if let Some(peer) = peer {
        xff = Some(forwarded_for(xff.as_deref(), peer));
    }
    if let Some(v) = xff.and_then(|x| MetadataValue::try_from(x.as_str()).ok()) {
        md.insert("x-forwarded-for", v);
    }
}

/// `X-Forwarded-For` with the peer's address appended to what earlier proxies
/// wrote (one owner for every call shape, the native pass-through included).
pub(crate) fn forwarded_for(prior: Option<&str>, peer: SocketAddr) -> String {
    let ip = peer.ip().to_string();
    match prior.map(str::trim) {
        Some(prior) if !prior.is_empty() => format!("{prior}, {ip}"),
        _ => ip,
    }
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
    // One scratch buffer for every `prefix + key`, not one allocation per entry.
    let mut name = String::new();
    for (key, value) in md.as_ref() {
        let key = key.as_str();
        if skip(key) {
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
