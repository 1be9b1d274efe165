//! The forwarded-metadata limit (`limits.max_metadata_bytes`), one rule for
//! every call shape.
//!
//! A backend that receives a header block over its SETTINGS_MAX_HEADER_LIST_SIZE
//! may treat it as a connection error (hyper/tonic do, with
//! `header_list_way_too_large`, when it is far over): the HTTP/2 connection the
//! gateway shares between clients is reset, and unrelated calls in flight on it
//! fail. So the gateway measures what it would forward, the way HTTP/2 measures
//! a header list (RFC 9113 §6.5.2: name + value + 32 per field), and answers an
//! oversized request itself, before anything is sent upstream: HTTP/JSON shapes
//! with 431 and a `google.rpc.Status` body (code RESOURCE_EXHAUSTED), native gRPC
//! and gRPC-Web with a trailers-only RESOURCE_EXHAUSTED, Connect with its own
//! error shape for RESOURCE_EXHAUSTED. The transcoded path checks the metadata it
//! built (`json::dispatch`), Connect likewise (`connect`), the pass-through the
//! headers it forwards (`grpc::passthrough`, which gRPC-Web goes through too);
//! the rule and its wording live here.
//!
//! The limit is `limits.max_metadata_bytes`, or lower when a backend's
//! endpoint advertised a smaller SETTINGS_MAX_HEADER_LIST_SIZE (read off its
//! connection by the upstream stage), less [`CALL_HEADERS_RESERVE`] for the
//! headers every call carries besides the forwarded metadata.

use http::HeaderMap;
use tonic::metadata::{KeyAndValueRef, MetadataMap};

/// The HTTP status of the transcoded answer: 431 Request Header Fields Too Large.
pub(crate) const HTTP_STATUS: u16 = 431;

/// Per-entry overhead HTTP/2 adds to a header list's size (RFC 9113 §6.5.2).
const ENTRY_OVERHEAD: usize = 32;

/// Room left in a backend's advertised header list for what the gateway adds
/// to every call besides forwarded metadata: the pseudo-headers (`:path` is the
/// long one), `te`, `content-type`, `grpc-timeout`, `user-agent`,
/// `grpc-accept-encoding`, at 32 bytes of overhead each.
pub(crate) const CALL_HEADERS_RESERVE: usize = 1024;

/// The size of `md` as HTTP/2 counts it, binary values in their base64 wire form.
pub(crate) fn metadata_size(md: &MetadataMap) -> usize {
    md.iter()
        .map(|entry| match entry {
            KeyAndValueRef::Ascii(k, v) => k.as_str().len() + v.as_bytes().len(),
            KeyAndValueRef::Binary(k, v) => k.as_str().len() + v.as_encoded_bytes().len(),
        })
        .map(|n| n + ENTRY_OVERHEAD)
        .sum()
}

/// The size of `headers` as HTTP/2 counts it.
pub(crate) fn headers_size(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + ENTRY_OVERHEAD)
        .sum()
}

/// `Err` with the message for the client when `size` is over the configured
/// `limit`, or over what the backend advertised (`peer`, its
/// SETTINGS_MAX_HEADER_LIST_SIZE, when it sent one).
pub(crate) fn check(size: usize, limit: usize, peer: Option<usize>) -> Result<(), String> {
    let backend = peer.map(|p| p.saturating_sub(CALL_HEADERS_RESERVE));
    match backend {
        Some(backend) if backend < limit && size > backend => Err(format!(
            "request metadata is {size} bytes, over the backend's limit of {backend} bytes (its \
             HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE of {} bytes, less {CALL_HEADERS_RESERVE} for \
             the call's own headers)",
            peer.unwrap_or_default()
        )),
        _ if size > limit => Err(format!(
            "request metadata is {size} bytes, over the gateway's limit of {limit} bytes (limits.max_metadata_bytes)"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_count_as_http2_does() {
        let mut md = MetadataMap::new();
        md.insert("tenant", "acme".parse().unwrap());
        md.insert_bin(
            "blob-bin",
            tonic::metadata::MetadataValue::from_bytes(&[0, 1, 2]),
        );
        // "tenant" + "acme" + 32, "blob-bin" + "AAEC" + 32
        assert_eq!(metadata_size(&md), 10 + 32 + 12 + 32);
        let mut h = HeaderMap::new();
        h.insert("te", "trailers".parse().unwrap());
        assert_eq!(headers_size(&h), 2 + 8 + 32);
    }

    #[test]
    fn the_limit_is_inclusive() {
        assert!(check(8192, 8192, None).is_ok());
        let e = check(8193, 8192, None).unwrap_err();
        assert!(
            e.contains("8193") && e.contains("limits.max_metadata_bytes"),
            "{e}"
        );
    }

    #[test]
    fn a_smaller_backend_limit_wins() {
        // 4 KiB advertised: 3 KiB of metadata fit, with the reserve.
        assert!(check(3072, 8192, Some(4096)).is_ok());
        let e = check(3073, 8192, Some(4096)).unwrap_err();
        assert!(
            e.contains("backend's limit of 3072")
                && e.contains("SETTINGS_MAX_HEADER_LIST_SIZE of 4096"),
            "{e}"
        );
        // A larger one changes nothing.
        assert!(check(8192, 8192, Some(1 << 20)).is_ok());
        assert!(
            check(8193, 8192, Some(1 << 20))
                .unwrap_err()
                .contains("gateway's limit")
        );
    }
}
