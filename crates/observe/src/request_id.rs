//! Request IDs: a client's own is kept when it is safe to log and forward
//! (1..=128 visible ASCII characters, as Envoy bounds `x-request-id`), anything
//! else is replaced by a fresh UUID v4.

use http::{HeaderMap, HeaderName, HeaderValue};

/// The longest request ID kept as the client sent it.
pub const MAX_LEN: usize = 128;

/// The request's ID under `name`: the client's if valid, else a new one.
pub fn of(name: &HeaderName, headers: &HeaderMap) -> HeaderValue {
    match headers.get(name) {
        Some(v) if valid(v.as_bytes()) => v.clone(),
        _ => generate(),
    }
}

/// Visible ASCII (0x21..=0x7e), 1..=[`MAX_LEN`] bytes: no spaces, no control
/// characters that could forge log lines.
pub fn valid(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// A fresh UUID v4, hyphenated.
pub fn generate() -> HeaderValue {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_valid_ids_and_replaces_others() {
        let name = HeaderName::from_static("x-request-id");
        let mut h = HeaderMap::new();
        let fresh = of(&name, &h);
        assert_eq!(fresh.len(), 36);
        assert_eq!(fresh.as_bytes()[14], b'4', "UUID version 4: {fresh:?}");
        h.insert(&name, HeaderValue::from_static("abc-123"));
        assert_eq!(of(&name, &h), "abc-123");
        h.insert(&name, HeaderValue::from_static("has space"));
        assert_ne!(of(&name, &h), "has space");
        h.insert(&name, HeaderValue::from_str(&"a".repeat(129)).unwrap());
        assert_eq!(of(&name, &h).len(), 36);
        h.insert(&name, HeaderValue::from_str(&"a".repeat(128)).unwrap());
        assert_eq!(of(&name, &h).len(), 128);
        h.insert(&name, HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap());
        assert_eq!(of(&name, &h).len(), 36);
        assert!(!valid(b""));
    }
}
