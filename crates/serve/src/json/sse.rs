//! Server-Sent Events framing for streamed responses, chosen by
//! `Accept: text/event-stream`.
//!
//! grpc-gateway has no SSE of its own; its users get SSE by registering a
//! marshaler for `text/event-stream` that prefixes each marshaled chunk with
//! `data: ` and delimits with a blank line, so every event carries exactly the
//! envelope the NDJSON stream would have carried. Switchboard does the same, so
//! one parser serves both framings:
//!
//! ```text
//! data: {"result":{...}}
//!
//! event: error
//! data: {"error":{"code":5,"message":"...","details":[]}}
//!
//! ```
//!
//! A message is a default (`message`) event; the failure that ends a stream is an
//! `error` event, so an `EventSource` can tell them apart without parsing. A
//! stream that ends cleanly just ends (EventSource clients reconnect after that
//! unless they close it themselves). A failure before the first message gets
//! the mapped HTTP status with the error event as its body, which makes an
//! `EventSource` give up instead of reconnecting.

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderMap;
use http::header::{ACCEPT, CACHE_CONTROL, HeaderValue};

pub(super) const CONTENT_TYPE: &str = "text/event-stream";

/// Whether the `Accept` header lists `text/event-stream` (parameters and case
/// ignored). Only an explicit request selects SSE; `*/*` keeps NDJSON.
pub(crate) fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let media = item.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case(CONTENT_TYPE)
        })
}

/// Headers that keep intermediaries from caching or buffering the stream.
pub(super) fn add_headers(h: &mut HeaderMap) {
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
}

/// One event: an optional `event:` line, the payload as `data:` lines (one per
/// line of the payload, since a data line cannot hold a newline), a blank line.
/// `payload` is an NDJSON envelope; its trailing newline is not part of the data.
pub(super) fn event(name: Option<&str>, payload: &[u8]) -> Bytes {
    let payload = payload.strip_suffix(b"\n").unwrap_or(payload);
    let mut b = BytesMut::with_capacity(payload.len() + 24);
    if let Some(name) = name {
        b.put_slice(b"event: ");
        b.put_slice(name.as_bytes());
        b.put_u8(b'\n');
    }
    // Compact JSON has no raw newlines (they are escaped inside strings), so this
    // is one line; the split only guards against a future pretty printer.
    for line in payload.split(|b| *b == b'\n') {
        b.put_slice(b"data: ");
        b.put_slice(line);
        b.put_u8(b'\n');
    }
    b.put_u8(b'\n');
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_matching() {
        let h = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(ACCEPT, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(accepts_event_stream(&h("text/event-stream")));
        assert!(accepts_event_stream(&h(
            "application/json, Text/Event-Stream; q=0.5"
        )));
        assert!(!accepts_event_stream(&h("*/*")));
        assert!(!accepts_event_stream(&h("application/json")));
        assert!(!accepts_event_stream(&HeaderMap::new()));
    }

    #[test]
    fn event_framing() {
        assert_eq!(
            &event(None, b"{\"result\":{}}\n")[..],
            b"data: {\"result\":{}}\n\n"
        );
        assert_eq!(
            &event(Some("error"), b"{\"error\":{}}\n")[..],
            b"event: error\ndata: {\"error\":{}}\n\n"
        );
        assert_eq!(&event(None, b"a\nb")[..], b"data: a\ndata: b\n\n");
    }
}
