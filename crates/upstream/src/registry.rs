//! The endpoint registry: endpoint state by address and endpoint sets by
//! backend, shared by every route table version, and `dns:///` refresh.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tracing::{info, warn};

use crate::call::Upstream;
use crate::conn;
use crate::dns;
use crate::endpoint::EndpointState;
use crate::health;
use crate::metrics::UpstreamMetrics;
use crate::retry;
use crate::settings::{ChannelSettings, UpstreamConfig};
use crate::shared::{BackendShared, lock};

/// An endpoint's connection as a boxed tower service speaking tonic's body type
/// (see [`ChannelCache::grpc_service`]).
pub type GrpcService = tower::util::BoxCloneService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    tower::BoxError,
>;

/// Endpoint state by address and endpoint sets by backend, shared by every
/// route table version. Cloning shares the cache.
#[derive(Debug, Clone, Default)]
pub struct ChannelCache {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    settings: ChannelSettings,
    /// Worker threads of the workers model: each endpoint gets a connection
    /// slot per worker besides the shared one (see `worker`). 0: shared model.
    workers: usize,
    /// Weak: an endpoint lives as long as some backend lists it or a call uses it.
    endpoints: Mutex<HashMap<String, Weak<EndpointState>>>,
    backends: Mutex<HashMap<String, Arc<BackendShared>>>,
    dns: OnceLock<Result<dns::Dns, String>>,
    metrics: UpstreamMetrics,
    /// Told the backend's name when a `dns:///` refresh changed its endpoint set
    /// (see [`ChannelCache::on_endpoints_changed`]).
    changed_hooks: Mutex<EndpointsChangedList>,
}

/// See [`ChannelCache::on_endpoints_changed`].
#[derive(Default)]
struct EndpointsChangedList(Vec<EndpointsChanged>);

type EndpointsChanged = Box<dyn Fn(&str) + Send + Sync>;

/// A hook list prints as its length (`Inner` derives `Debug`).
impl std::fmt::Debug for EndpointsChangedList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} hook(s)", self.0.len())
    }
}

impl ChannelCache {
    /// An empty registry whose connections use `settings` (read once, at startup).
    pub fn new(settings: ChannelSettings) -> Self {
        Self::with_workers(settings, 0)
    }

    /// [`new`](Self::new) for the workers model: every endpoint keeps one
    /// HTTP/2 connection per worker thread (opened by that worker's first call
    /// to it, driven on its runtime) besides the shared one that calls from any
    /// other thread use. The balancer's view of an endpoint stays one, shared.
    pub fn with_workers(settings: ChannelSettings, workers: usize) -> Self {
        ChannelCache {
            inner: Arc::new(Inner {
                settings,
                workers,
                ..Inner::default()
            }),
        }
    }

    /// Calls `hook` with a backend's name whenever a `dns:///` refresh changed
    /// its endpoint set between reloads, so that the reloader discovers the new
    /// replicas' schema at once (a rolling deploy may have brought a new API).
    pub fn on_endpoints_changed(&self, hook: impl Fn(&str) + Send + Sync + 'static) {
        lock(&self.inner.changed_hooks).0.push(Box::new(hook));
    }

    /// The connection settings every endpoint was opened with (for `restart_required`).
    pub fn settings(&self) -> &ChannelSettings {
        &self.inner.settings
    }

    /// The upstream metrics, to register once.
    pub fn metrics(&self) -> &UpstreamMetrics {
        &self.inner.metrics
    }

    /// Resolves configured endpoints to addresses: `host:port` as is, every address
    /// of each `dns:///name:port`. Used before discovery and before [`Self::upstream`].
    pub async fn resolve(&self, endpoints: &[String]) -> Result<Vec<String>, String> {
        self.inner.resolve(endpoints).await
    }

    /// Opens the connections of `addrs` that have none yet, concurrently, waiting
    /// at most about a connect timeout (see `health::warm_up` for why). Hold the
    /// returned states until [`Self::upstream`] has used them: the cache keeps
    /// endpoint state only while something references it.
    pub async fn warm(&self, addrs: &[String]) -> Vec<Arc<EndpointState>> {
        self.inner.warm(addrs).await
    }

    /// The upstream handle of one backend for a new route table.
    ///
    /// `resolved` is what [`Self::resolve`] returned; `None` (resolution failed)
    /// keeps the backend's current endpoints if the configured list is unchanged.
    /// Endpoints that stay keep their state; removed ones finish their calls.
    pub fn upstream(
        &self,
        backend: &str,
        endpoints: &[String],
        resolved: Option<&[String]>,
        config: UpstreamConfig,
    ) -> Result<Arc<Upstream>, String> {
        let inner = &self.inner;
        let shared = lock(&inner.backends)
            .entry(backend.to_string())
            .or_insert_with(|| {
                Arc::new(BackendShared {
                    name: backend.into(),
                    members: ArcSwap::default(),
                    header_list_limit: Default::default(),
                    draining: Mutex::default(),
                    budget: retry::RetryBudget::default(),
                    rr: AtomicUsize::new(0),
                    skewed: Default::default(),
                    spec: Mutex::default(),
                    tls: Mutex::default(),
                    refresher: Mutex::new(None),
                })
            })
            .clone();
        let tls_changed = *lock(&shared.tls) != config.tls;
        *lock(&shared.tls) = config.tls.clone();
        let spec_changed = lock(&shared.spec).0 != endpoints || tls_changed;
        // The configured list is recorded only once it has been applied: a list
        // whose resolution failed must stay "changed" for the next attempt (the
        // reloader's retry, or the next reload), not become the spec of
        // endpoints it never produced.
        let applied = match resolved {
            Some(addrs) => {
                let new = (endpoints.to_vec(), config.health_check.clone());
                let old = std::mem::replace(&mut *lock(&shared.spec), new);
                if let Err(e) = inner.set_members(&shared, addrs) {
                    *lock(&shared.spec) = old;
                    return Err(e);
                }
                true
            }
            None if !shared.members.load().is_empty() => {
                // Resolution failed: keep serving the endpoints in use (a DNS
                // hiccup must not empty a backend), with the new health settings.
                lock(&shared.spec).1 = config.health_check.clone();
                for ep in shared.members.load().iter() {
                    health::ensure(ep, config.health_check.as_ref());
                }
                if spec_changed {
                    warn!(
                        backend,
                        "new endpoint list not resolved yet; keeping the current endpoints"
                    );
                }
                false
            }
            None => {
                return Err(format!(
                    "backend {backend}: no endpoint address resolved yet"
                ));
            }
        };
        let has_dns = lock(&shared.spec)
            .0
            .iter()
            .any(|e| matches!(dns::parse(e), Ok(dns::Spec::Dns { .. })));
        let mut refresher = lock(&shared.refresher);
        if (spec_changed && applied) || (has_dns && refresher.is_none()) {
            if let Some(task) = refresher.take() {
                task.abort();
            }
            if has_dns {
                *refresher = Some(tokio::spawn(refresh_loop(
                    Arc::downgrade(inner),
                    Arc::downgrade(&shared),
                )));
            }
        }
        drop(refresher);
        if shared.members.load().is_empty() {
            return Err(format!("backend {backend} has no endpoints"));
        }
        Ok(Arc::new(Upstream::new(
            backend.into(),
            config,
            shared,
            inner.metrics.clone(),
        )))
    }

    /// Forgets backends no longer configured (their DNS refresh stops). Requests in
    /// flight keep their own handles, so nothing is cut off mid-call.
    ///
    /// Their metric series go too: a removed backend must not stay on
    /// `/metrics` forever.
    pub fn retain_backends(&self, live: &HashSet<&str>) {
        let mut removed = Vec::new();
        lock(&self.inner.backends).retain(|name, shared| {
            let keep = live.contains(name.as_str());
            if !keep {
                removed.push(shared.clone());
            }
            keep
        });
        for shared in removed {
            for ep in shared.members.load().iter() {
                self.inner
                    .metrics
                    .forget_endpoint(&shared.name, &ep.addr, &ep.handles);
            }
            self.inner.metrics.forget_backend(&shared.name);
        }
    }

    /// Records which schema (digest and methods) each endpoint of `backend`
    /// serves (by address; `None`: unknown), so that a call goes only to
    /// endpoints whose schema has its method while the replicas disagree, and
    /// is encoded for the schema of the endpoint chosen (see `schema_filter`).
    pub fn set_endpoint_methods(&self, backend: &str, methods: &[crate::EndpointServes]) {
        let shared = lock(&self.inner.backends).get(backend).cloned();
        if let Some(shared) = shared {
            crate::schema_filter::set(&shared, methods);
        }
    }

    /// The HTTP/2 connection of endpoint `addr` as a tonic-compatible service
    /// (connecting on first use), if the cache holds the endpoint: discovery's
    /// reflection rides it as one more stream instead of opening a connection of
    /// its own on every re-discovery.
    pub fn grpc_service(&self, addr: &str) -> Option<GrpcService> {
        let ep = lock(&self.inner.endpoints)
            .get(addr)
            .and_then(Weak::upgrade)?;
        let service = tower::ServiceExt::map_response(conn::ConnService(ep.conn.clone()), |r| {
            r.map(tonic::body::Body::new)
        });
        Some(GrpcService::new(service))
    }
}

impl Inner {
    fn dns(&self) -> Result<&dns::Dns, String> {
        self.dns
            .get_or_init(|| dns::Dns::new(&self.settings.dns))
            .as_ref()
            .map_err(Clone::clone)
    }

    async fn resolve(&self, endpoints: &[String]) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for ep in endpoints {
            match dns::parse(ep)? {
                dns::Spec::Static(addr) => out.push(addr.to_string()),
                dns::Spec::Dns { host, port } => out.extend(self.dns()?.resolve(host, port).await?),
            }
        }
        out.dedup();
        Ok(out)
    }

    async fn warm(&self, addrs: &[String]) -> Vec<Arc<EndpointState>> {
        self.warm_tls(addrs, None).await
    }

    async fn warm_tls(
        &self,
        addrs: &[String],
        tls: Option<&Arc<crate::tls::UpstreamTls>>,
    ) -> Vec<Arc<EndpointState>> {
        let eps: Vec<Arc<EndpointState>> = addrs
            .iter()
            .filter_map(|a| self.endpoint(a, tls).ok())
            .collect();
        let timeout = self.settings.connect_timeout + Duration::from_secs(1);
        futures_util::future::join_all(eps.iter().map(|ep| health::warm_up(ep, timeout))).await;
        eps
    }

    /// The state for `addr`, created (with a lazy connection: none until
    /// the first call) if no live one exists.
    fn endpoint(
        &self,
        addr: &str,
        tls: Option<&Arc<crate::tls::UpstreamTls>>,
    ) -> Result<Arc<EndpointState>, String> {
        let key = crate::tls::key(addr, tls);
        let mut map = lock(&self.endpoints);
        if let Some(ep) = map.get(&key).and_then(Weak::upgrade) {
            return Ok(ep);
        }
        map.retain(|_, w| w.strong_count() > 0);
        let s = &self.settings;
        let conn = conn::Conn::with_tls(
            addr,
            conn::ConnSettings {
                connect_timeout: s.connect_timeout,
                keepalive: s.keepalive,
                keepalive_without_calls: s.keepalive_without_calls,
                keepalive_timeout: s.keepalive_timeout,
            },
            tls.cloned(),
            self.workers,
        )?;
        let ep = Arc::new(EndpointState::new(addr, conn));
        map.insert(key, Arc::downgrade(&ep));
        Ok(ep)
    }

    /// Replaces a backend's endpoint set with `addrs`. Kept endpoints keep their
    /// state; new ones start at half their siblings' median latency estimate; removed ones with
    /// calls in flight are listed as draining until those finish. Returns
    /// whether the set changed.
    fn set_members(&self, shared: &BackendShared, addrs: &[String]) -> Result<bool, String> {
        let health = lock(&shared.spec).1.clone();
        let tls = lock(&shared.tls).clone();
        let mut seen = HashSet::new();
        let new: Vec<Arc<EndpointState>> = addrs
            .iter()
            .filter(|a| seen.insert(a.as_str()))
            .map(|a| self.endpoint(a, tls.as_ref()))
            .collect::<Result<_, _>>()?;
        let now = Instant::now();
        let old = shared.members.load_full();
        // A new endpoint starts at half the median estimate of the endpoints that
        // stay (of all old ones if none stays), so it is probed at once and its
        // first answers replace the guess. Seeded as an equal, it can lose every
        // comparison by a hair to a sibling whose estimate moved down a little,
        // and an endpoint that gets no traffic learns nothing. The median, not the
        // mean: one slow endpoint, often the one being replaced, must not decide.
        let stays = |e: &&Arc<EndpointState>| new.iter().any(|n| Arc::ptr_eq(n, e));
        let mut known: Vec<f64> = old
            .iter()
            .filter(stays)
            .map(|e| e.ewma.estimate_ns(now))
            .collect();
        if known.is_empty() {
            known = old.iter().map(|e| e.ewma.estimate_ns(now)).collect();
        }
        if !known.is_empty() {
            known.sort_by(f64::total_cmp);
            let seed = known[known.len() / 2] / 2.0;
            for ep in &new {
                ep.ewma.seed(seed, now);
            }
        }
        for ep in &new {
            health::ensure(ep, health.as_ref());
        }
        let added: Vec<&str> = new
            .iter()
            .filter(|e| !old.iter().any(|o| Arc::ptr_eq(o, e)))
            .map(|e| &*e.addr)
            .collect();
        let removed: Vec<Arc<EndpointState>> = old
            .iter()
            .filter(|o| !new.iter().any(|e| Arc::ptr_eq(o, e)))
            .cloned()
            .collect();
        let changed = !added.is_empty() || !removed.is_empty();
        if !old.is_empty() && changed {
            let gone: Vec<&str> = removed.iter().map(|e| &*e.addr).collect();
            info!(backend = %shared.name, ?added, removed = ?gone, "endpoint set changed");
        }
        for ep in &removed {
            self.metrics
                .forget_endpoint(&shared.name, &ep.addr, &ep.handles);
        }
        let mut draining = lock(&shared.draining);
        draining.extend(removed);
        draining.retain(|d| d.in_flight() > 0 && !new.iter().any(|e| Arc::ptr_eq(d, e)));
        drop(draining);
        shared.members.store(Arc::new(new));
        // The smallest advertised header list is over the new members.
        crate::peer_settings::invalidate();
        Ok(changed)
    }
}

/// Re-resolves a backend's `dns:///` endpoints every `dns.refresh`. A failed or
/// empty resolution keeps the current set: a DNS hiccup must not empty a backend.
async fn refresh_loop(inner: Weak<Inner>, shared: Weak<BackendShared>) {
    let every = match inner.upgrade() {
        Some(i) => i.settings.dns.refresh,
        None => return,
    };
    loop {
        tokio::time::sleep(every).await;
        let (Some(inner), Some(shared)) = (inner.upgrade(), shared.upgrade()) else {
            return;
        };
        let spec = lock(&shared.spec).0.clone();
        match inner.resolve(&spec).await {
            Ok(addrs) => {
                let tls = lock(&shared.tls).clone();
                let _warm = inner.warm_tls(&addrs, tls.as_ref()).await;
                match inner.set_members(&shared, &addrs) {
                    Ok(true) => {
                        for hook in &lock(&inner.changed_hooks).0 {
                            hook(&shared.name);
                        }
                    }
                    Ok(false) => {}
                    Err(e) => {
                        warn!(backend = %shared.name, error = %e, "cannot apply resolved endpoints");
                    }
                }
            }
            Err(e) => {
                warn!(backend = %shared.name, error = %e, "DNS refresh failed; keeping the current endpoints");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(upstream: &Upstream) -> Vec<String> {
        upstream
            .report()
            .endpoints
            .into_iter()
            .map(|e| e.address)
            .collect()
    }

    /// A changed `dns:///` list whose resolution fails keeps the endpoints in
    /// use, and stays a change: it is applied once it resolves. (It used to be
    /// recorded as the spec before it resolved: the backend dropped out, and
    /// later attempts saw it as unchanged.)
    #[tokio::test]
    async fn an_unresolved_endpoint_list_is_not_recorded_as_applied() {
        let cache = ChannelCache::default();
        let config = UpstreamConfig::default;
        let old = ["dns:///old.invalid:50051".to_string()];
        let new = ["dns:///new.invalid:50051".to_string()];
        let first = ["127.0.0.1:1".to_string()];
        let u = cache.upstream("b", &old, Some(&first), config()).unwrap();
        assert_eq!(addrs(&u), first);

        // The new list does not resolve: the old endpoints keep serving.
        let u = cache.upstream("b", &new, None, config()).unwrap();
        assert_eq!(addrs(&u), first);
        let spec = lock(&lock(&cache.inner.backends)["b"].spec).0.clone();
        assert_eq!(spec, old, "an unresolved list must not become the spec");

        // It resolves on the next attempt: applied.
        let second = ["127.0.0.1:2".to_string()];
        let u = cache.upstream("b", &new, Some(&second), config()).unwrap();
        assert_eq!(addrs(&u), second);
        let spec = lock(&lock(&cache.inner.backends)["b"].spec).0.clone();
        assert_eq!(spec, new);
    }
}
