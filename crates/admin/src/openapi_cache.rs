//! The cache of generated OpenAPI documents, and the `?backend=` parameter that
//! selects one.
//!
//! Keys are backend names of the live table (or none, for the whole table),
//! never the raw query string: an unknown name is answered 404 and caches
//! nothing, so distinct query strings cannot grow the cache. Documents describe
//! one table version; the first request after a swap drops the others. The
//! cache holds at most one document per backend plus the whole-table one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Generated documents of one table version, by backend filter.
#[derive(Debug, Default)]
pub struct OpenApiCache {
    docs: Mutex<(u64, Documents)>,
}

/// Documents by backend filter (`None`: the whole table).
type Documents = HashMap<Option<Arc<str>>, Bytes>;

impl OpenApiCache {
    /// The document for `backend` in table `version`, built by `build` unless
    /// cached. Documents of other versions are dropped first.
    pub(crate) fn get_or_build(
        &self,
        version: u64,
        backend: Option<Arc<str>>,
        build: impl FnOnce() -> Bytes,
    ) -> Bytes {
        let mut docs = self.docs.lock().unwrap_or_else(|e| e.into_inner());
        if docs.0 != version {
            docs.1.clear();
            docs.0 = version;
        }
        docs.1.entry(backend).or_insert_with(build).clone()
    }

    /// How many documents are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.docs.lock().unwrap_or_else(|e| e.into_inner()).1.len()
    }
}

/// The `backend` query parameter, percent-decoded (`+` is a space, as in a
/// form); `Err` when it is not UTF-8 once decoded. The last one wins, as in
/// grpc-gateway's query parsing of a repeated scalar.
pub(crate) fn backend_param(query: Option<&str>) -> Result<Option<String>, String> {
    let mut found = None;
    for pair in query.unwrap_or_default().split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "backend" {
            continue;
        }
        let value = value.replace('+', " ");
        let decoded = percent_encoding::percent_decode_str(&value)
            .decode_utf8()
            .map_err(|_| "backend is not UTF-8 once percent-decoded".to_string())?;
        found = Some(decoded.into_owned());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_parameter_is_percent_decoded() {
        assert_eq!(backend_param(None), Ok(None));
        assert_eq!(backend_param(Some("x=1")), Ok(None));
        assert_eq!(
            backend_param(Some("backend=gr%65eter")),
            Ok(Some("greeter".into()))
        );
        assert_eq!(
            backend_param(Some("a=b&backend=my+api")),
            Ok(Some("my api".into()))
        );
        assert!(backend_param(Some("backend=%ff")).is_err());
    }

    #[test]
    fn only_the_current_version_is_kept() {
        let cache = OpenApiCache::default();
        let doc = |s: &'static str| move || Bytes::from_static(s.as_bytes());
        assert_eq!(cache.get_or_build(1, None, doc("all-1")), "all-1");
        assert_eq!(cache.get_or_build(1, Some("a".into()), doc("a-1")), "a-1");
        // Cached: the builder is not called again.
        assert_eq!(cache.get_or_build(1, None, doc("other")), "all-1");
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get_or_build(2, None, doc("all-2")), "all-2");
        assert_eq!(cache.len(), 1);
    }
}
