//! What one backend keeps across reloads, shared by the registry (which
//! updates it) and every upstream handle of that backend (which calls through it).

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::checker::HealthCheckConfig;
use crate::endpoint::EndpointState;
use crate::retry;

/// What one backend keeps across reloads: its current endpoint set, endpoints
/// removed while calls were still running on them, the retry budget and the
/// round-robin cursor.
#[derive(Debug)]
pub(crate) struct BackendShared {
    pub(crate) name: Arc<str>,
    pub(crate) members: ArcSwap<Vec<Arc<EndpointState>>>,
    /// The smallest header list size the members advertised, cached (see
    /// `peer_settings::HeaderListLimit`): read on every request.
    pub(crate) header_list_limit: crate::peer_settings::HeaderListLimit,
    pub(crate) draining: Mutex<Vec<Arc<EndpointState>>>,
    pub(crate) budget: retry::RetryBudget,
    pub(crate) rr: AtomicUsize,
    /// The endpoints serve different method sets (see `schema_filter`).
    pub(crate) skewed: std::sync::atomic::AtomicBool,
    /// The configured endpoints and health settings the members come from.
    pub(crate) spec: Mutex<(Vec<String>, Option<HealthCheckConfig>)>,
    /// TLS to the endpoints, as the current config says.
    pub(crate) tls: Mutex<Option<Arc<crate::tls::UpstreamTls>>>,
    /// Re-resolves `dns:///` endpoints; aborted when replaced or dropped.
    pub(crate) refresher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for BackendShared {
    fn drop(&mut self) {
        if let Some(task) = self.refresher.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
