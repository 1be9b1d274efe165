//! Connect headers <-> gRPC metadata.
//!
//! Connect has no metadata prefix: every request header that is not part of
//! the protocol (content type and coding, Connect's own headers, hop-by-hop
//! headers) is metadata, `-bin` ones base64-encoded, as connect-go and Vanguard
//! treat them. On the way back, header metadata becomes plain response headers;
//! trailer metadata becomes `trailer-`-prefixed headers of a unary response, or
//! the `metadata` object of a stream's end-of-stream message.
//! Each header becomes metadata, and `x-forwarded-for` and `x-forwarded-host`
//! are added, as for every protocol ([`headers::append_header`],
//! [`headers::add_forwarded`]): only which headers are forwarded is Connect's.

use std::net::SocketAddr;

use http::HeaderMap;
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::headers;

/// Request headers that belong to HTTP or to Connect itself, never forwarded.
fn is_protocol_request_header(name: &str) -> bool {
    matches!(
        name,
        "host"
            | "content-type"
            | "content-length"
            | "content-encoding"
            | "accept-encoding"
            | "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "user-agent"
            | "x-forwarded-for"
            | "x-forwarded-host"
    ) || name.starts_with("connect-")
        || headers::is_reserved(name)
}

/// Metadata that must not become a response header: what `headers::is_reserved`
/// hides, and the backend's own HTTP/2 framing headers.
fn is_protocol_response_key(name: &str) -> bool {
    headers::is_reserved(name)
        || name.starts_with(':')
        || matches!(
            name,
            "content-type" | "content-length" | "content-encoding" | "accept-encoding" | "date"
        )
}

/// The outgoing metadata of a Connect request. A `-bin` header that is not
/// base64 is the client's error (INVALID_ARGUMENT).
pub(crate) fn request_metadata(
    h: &HeaderMap,
    authority: Option<&str>,
    peer: Option<SocketAddr>,
) -> Result<MetadataMap, Status> {
    let mut md = MetadataMap::with_capacity(h.len() + 2);
    for (name, value) in h {
        let key = name.as_str();
        if !is_protocol_request_header(key) && !headers::append_header(&mut md, key, value) {
            return Err(Status::invalid_argument(format!(
                "invalid binary header {key}"
            )));
        }
    }
    headers::add_forwarded(&mut md, h, authority, peer);
    Ok(md)
}

/// Appends each forwardable metadata entry as `prefix<key>` (`""` for header
/// metadata, `"trailer-"` for a unary call's trailers). Binary values stay
/// base64, as Connect sends them.
pub(crate) fn to_headers(md: &MetadataMap, prefix: &str, out: &mut HeaderMap) {
    headers::metadata_to_headers_except(md, prefix, out, is_protocol_response_key);
}

/// The end-of-stream message's `metadata`: `{"key": ["value", ...]}`, or
/// `None` when there is nothing to say.
pub(crate) fn to_json(md: &MetadataMap) -> Option<Vec<u8>> {
    let map = md.as_ref();
    let mut out = Vec::new();
    for key in map.keys() {
        let k = key.as_str();
        if is_protocol_response_key(k) {
            continue;
        }
        out.push(if out.is_empty() { b'{' } else { b',' });
        super::error::push_json_string(&mut out, k);
        out.extend_from_slice(b":[");
        for (i, v) in map.get_all(key).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            super::error::push_json_string(&mut out, &String::from_utf8_lossy(v.as_bytes()));
        }
        out.push(b']');
    }
    if out.is_empty() {
        return None;
    }
    out.push(b'}');
    Some(out)
}
