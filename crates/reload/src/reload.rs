//! The reload loop: one task, one rebuild at a time, fed by every trigger.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use switchboard_config::{Backend, Config, ConfigError, DescriptorSource};
use switchboard_discovery::Schema;
use switchboard_routes::{BackendInput, RouteTable};
use switchboard_upstream::ChannelCache;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::SwapMetrics;
use crate::metrics::{BackendLabels, ReloadLabels};
use crate::shared_pool::Member;
use switchboard_live::{
    BackendRuntime, BackendState, BackendStatus, Live, Outcome, ReloadHandle, ReloadRequest,
    ReloadResult, ReloadStatus, Snapshot, Trigger, rfc3339,
};

/// Knobs of the reload loop that are not part of the config file.
#[derive(Debug, Clone)]
pub struct ReloaderOptions {
    /// The config file; with `config_value` set, only its label.
    pub config_path: PathBuf,
    /// First retry delay for a backend whose discovery failed; doubles up to `retry_max`.
    pub retry_min: Duration,
    /// The longest retry delay.
    pub retry_max: Duration,
    /// The secure edge (TLS, JWT, limits): prepared with every config, made
    /// live with every publish.
    pub edge: switchboard_edge::Edge,
    /// A config held in code: when set, reloads read it instead of the file,
    /// and `config_path` only labels errors and `/status` (and is where
    /// relative paths resolve from).
    pub config_value: Option<crate::ConfigValue>,
}

impl ReloaderOptions {
    /// The defaults `switchboard serve` runs with: retries from 1 s to 30 s, re-discovery
    /// every 60 s.
    pub fn new(config_path: PathBuf) -> Self {
        ReloaderOptions {
            config_path,
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            edge: switchboard_edge::Edge::default(),
            config_value: None,
        }
    }
}

/// See [`Reloader::on_backend_removed`].
type RemovedHook = Box<dyn Fn(&str) + Send + Sync>;

/// Owns everything a rebuild needs. Run it with [`Reloader::run`] after an
/// optional first [`Reloader::reload_once`].
pub struct Reloader {
    opts: ReloaderOptions,
    live: Arc<Live>,
    metrics: SwapMetrics,
    channels: Arc<ChannelCache>,
    rx: mpsc::UnboundedReceiver<ReloadRequest>,
    handle: ReloadHandle,
    /// The config of the live snapshot, and a hash of its file's bytes.
    applied: Option<(Config, u64)>,
    /// Last good schema per backend name, kept when discovery later fails.
    schemas: HashMap<String, Schema>,
    /// The encoded files of schemas discovered since the last merge, whose own
    /// pools were dropped on arrival (see `shared_pool::detach`); the merge gives
    /// them a pool again. Empty whenever a table is published.
    detached: HashMap<String, Vec<Vec<u8>>>,
    /// Backends whose most recent discovery failed, with the error.
    failures: HashMap<String, String>,
    retry_delay: Duration,
    retry_scheduled: bool,
    /// A schema changed since the shared descriptor pool was last built.
    pools_dirty: bool,
    /// The first config applied: what the listeners were bound with (see
    /// `restart::restart_required`).
    startup: Option<Config>,
    /// Called with the name of each backend a published table no longer has.
    removed_hooks: Vec<RemovedHook>,
    /// When each backend was last discovered and is next due (`refresh`).
    schedule: crate::refresh::Schedule,
    /// What each endpoint of each reflection backend serves.
    skew: crate::skew::Skew,
    /// The route diff of the table the current reload published, for its record.
    published_diff: Option<switchboard_live::RouteDiff>,
    /// The schedule's timer end, until `run` starts the timer.
    schedule_rx: Option<tokio::sync::watch::Receiver<Option<tokio::time::Instant>>>,
}

impl Reloader {
    /// A reloader publishing into `live`, and the handle that asks it for reloads.
    /// Nothing runs until [`Reloader::run`] (or a first [`Reloader::reload_once`]).
    pub fn new(
        opts: ReloaderOptions,
        live: Arc<Live>,
        metrics: SwapMetrics,
        channels: Arc<ChannelCache>,
    ) -> (Reloader, ReloadHandle) {
        let (handle, rx) = ReloadHandle::channel();
        let retry_delay = opts.retry_min;
        let (schedule, schedule_rx) = crate::refresh::Schedule::new();
        // A `dns:///` name that resolves to other addresses between reloads:
        // its new replicas are discovered now, not at the next refresh.
        let endpoints = handle.clone();
        channels.on_endpoints_changed(move |_backend| endpoints.trigger(Trigger::Endpoints));
        let reloader = Reloader {
            opts,
            live,
            metrics,
            channels,
            rx,
            handle: handle.clone(),
            applied: None,
            schemas: HashMap::new(),
            detached: HashMap::new(),
            failures: HashMap::new(),
            retry_delay,
            retry_scheduled: false,
            pools_dirty: false,
            startup: None,
            removed_hooks: Vec::new(),
            schedule,
            schedule_rx: Some(schedule_rx),
            skew: crate::skew::Skew::default(),
            published_diff: None,
        };
        (reloader, handle)
    }

    /// Calls `hook` with the name of every backend that a published table no
    /// longer has, once, so that stages keeping per-backend state outside the
    /// snapshot (metric series) can let it go.
    pub fn on_backend_removed(&mut self, hook: impl Fn(&str) + Send + Sync + 'static) {
        self.removed_hooks.push(Box::new(hook));
    }

    /// Serves reload requests until every [`ReloadHandle`] is gone. Requests that
    /// queue up during a rebuild are coalesced into one.
    pub async fn run(mut self) {
        if let Some(rx) = self.schedule_rx.take() {
            tokio::spawn(crate::refresh::timer(rx, self.handle.clone()));
        }
        // The loop holds a handle itself (for retries), so it ends when the
        // channel closes from the other side only at process exit.
        while let Some(first) = self.rx.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = self.rx.try_recv() {
                batch.push(more);
            }
            // The strongest trigger in the batch decides what to redo.
            let trigger = batch
                .iter()
                .map(|r| r.trigger)
                .max_by_key(|t| strength(*t))
                .unwrap_or(Trigger::Retry);
            if batch.iter().any(|r| r.trigger == Trigger::Retry) {
                self.retry_scheduled = false;
            }
            let outcome = self.reload_once(trigger).await;
            for r in batch {
                if let Some(reply) = r.reply {
                    let _ = reply.send(outcome.clone());
                }
            }
        }
    }

    /// Like [`Reloader::run`], but returns when `stop` resolves.
    pub async fn run_until(self, stop: impl Future<Output = ()>) {
        tokio::select! {
            () = self.run() => {}
            () = stop => {}
        }
    }

    /// Performs one reload now.
    pub async fn reload_once(&mut self, trigger: Trigger) -> Outcome {
        let outcome = self.rebuild(trigger).await;
        self.metrics
            .reloads
            .get_or_create(&ReloadLabels {
                trigger: trigger.as_str(),
                outcome: outcome.result.as_str(),
            })
            .inc();
        if !self.failures.is_empty() && !self.retry_scheduled {
            self.schedule_retry();
        } else if self.failures.is_empty() {
            self.retry_delay = self.opts.retry_min;
        }
        if let Some((config, _)) = &self.applied {
            self.schedule.arm(config);
        }
        self.sync_endpoint_schemas();
        self.record(trigger, &outcome);
        outcome
    }

    /// Adds the reload to the history (`/reloads`): every publish and
    /// rejection, and the reloads an operator asked for. Refreshes, retries and
    /// endpoint changes that found nothing new are left out, or a quiet
    /// gateway's history would be nothing but refreshes within minutes.
    fn record(&mut self, trigger: Trigger, outcome: &Outcome) {
        let diff = self.published_diff.take();
        if outcome.result == ReloadResult::Unchanged && trigger.rediscovers_only() {
            return;
        }
        self.live.record(switchboard_live::ReloadRecord {
            version: outcome.version,
            at: rfc3339(SystemTime::now()),
            trigger: trigger.as_str(),
            outcome: outcome.result.as_str(),
            diff: diff.unwrap_or_default(),
            errors: outcome.errors.clone(),
        });
    }

    /// Brings `/status`'s per-endpoint schemas up to date after a reload that
    /// published nothing (an endpoint's discovery failed or recovered with the
    /// same schema: reported, but nothing served changes).
    fn sync_endpoint_schemas(&self) {
        let status = self.live.status();
        // The balancer sends a method only to endpoints whose schema has it.
        // The digest names the endpoint's schema group, whose plans encode
        // its requests.
        for b in &status.backends {
            let served = self.skew.served(&b.name);
            self.channels.set_endpoint_methods(&b.name, &served);
        }
        let differs = |b: &BackendStatus| {
            let now = self.skew.report(&b.name);
            now.len() != b.endpoint_schemas.len()
                || now
                    .iter()
                    .zip(&b.endpoint_schemas)
                    .any(|(x, y)| x != y || x.error != y.error)
        };
        if !status.backends.iter().any(differs) {
            return;
        }
        let mut status = (*status).clone();
        for b in &mut status.backends {
            b.endpoint_schemas = self.skew.report(&b.name);
        }
        self.live.set_status(Arc::new(status));
    }

    async fn rebuild(&mut self, trigger: Trigger) -> Outcome {
        let path = &self.opts.config_path;
        // Retries, refreshes and endpoint changes rebuild from the applied
        // config; everything else re-reads the file.
        let (config, file_hash) = match (trigger, &self.applied) {
            (t, Some((config, hash))) if t.rediscovers_only() => (config.clone(), *hash),
            _ => match self
                .opts
                .config_value
                .as_ref()
                .map_or_else(|| read_config(path), |v| v.read(path))
            {
                Ok(pair) => pair,
                Err(errors) => return self.reject(trigger, errors),
            },
        };
        let same_bytes = self.applied.as_ref().map(|(_, h)| *h) == Some(file_hash);
        if trigger == Trigger::FileChange && same_bytes {
            // Editors and Kubernetes touch files without changing them. A revert
            // to the live bytes after a rejected edit ends that error.
            let errors: Vec<String> = config
                .backends
                .iter()
                .filter_map(|b| self.failures.get_key_value(&b.name))
                .map(backend_error)
                .collect();
            return self.unchanged(errors);
        }

        // Secure edge: every file the config names is read and checked now; a
        // bad certificate or JWKS file rejects the reload like a config error.
        let edge = match self.opts.edge.prepare(&config).await {
            Ok(prepared) => prepared,
            Err(errors) => {
                let errors = errors
                    .into_iter()
                    .map(|message| ConfigError {
                        file: path.clone(),
                        line: None,
                        column: None,
                        message,
                    })
                    .collect();
                return self.reject(trigger, errors);
            }
        };

        let base_dir = Config::base_dir(path);
        // `dns:///` endpoints become addresses here, once per rebuild, for both
        // discovery and the new upstream handles.
        let resolved = futures_util::future::join_all(
            config
                .backends
                .iter()
                .map(|b| self.channels.resolve(&b.endpoints)),
        )
        .await;
        // New endpoints connect now, before they get traffic; held until published.
        // (TLS backends' endpoints connect on their first call.)
        let all: Vec<String> = config
            .backends
            .iter()
            .zip(&resolved)
            .filter(|(b, _)| b.edge.tls.is_none())
            .flat_map(|(_, r)| r.iter().flatten().cloned())
            .collect();
        let channels = self.channels.clone();
        let (_warm, discovered) = futures_util::future::join(
            channels.warm(&all),
            self.discover_all(&config, &resolved, &base_dir, trigger),
        )
        .await;

        // Discovery's garbage (each backend's file bytes and its short-lived
        // decoded pool, spread over the runtime's threads' arenas) goes back
        // to the OS before the merge and the table build allocate the next
        // pool and table: otherwise the reload's peak RSS is the live table,
        // the new one *and* those freed-but-resident pages.
        switchboard_live::release_freed_memory();
        let file = ReadConfig {
            config,
            file_hash,
            same_bytes,
        };
        self.publish(trigger, file, discovered, resolved, edge)
    }

    /// Discovers backends concurrently, updating the schema cache and failure list.
    /// Returns each backend's error from this round (`None`: succeeded or skipped).
    async fn discover_all(
        &mut self,
        config: &Config,
        resolved: &[Result<Vec<String>, String>],
        base_dir: &std::path::Path,
        trigger: Trigger,
    ) -> Vec<Option<String>> {
        let timeout = config.discovery_timeout;
        let schemas = &self.schemas;
        let skew = &self.skew;
        let channels = self.channels.clone();
        let now = tokio::time::Instant::now();
        let wanted: Vec<bool> = config
            .backends
            .iter()
            .zip(resolved)
            .map(|(b, addrs)| {
                let needs_retry =
                    !schemas.contains_key(&b.name) || self.failures.contains_key(&b.name);
                self.schedule.wanted(trigger, b, addrs, needs_retry, now)
            })
            .collect();
        for ((b, addrs), wanted) in config.backends.iter().zip(resolved).zip(&wanted) {
            if let (true, Ok(addrs)) = (wanted, addrs) {
                self.schedule.record(&b.name, addrs, now);
            }
        }
        let jobs = config
            .backends
            .iter()
            .zip(resolved)
            .zip(wanted)
            .map(|((b, addrs), wanted)| {
                let skip = !wanted;
                // Reflection rides the endpoints' own connections (warmed before).
                let connections: HashMap<String, switchboard_discovery::Connection> = match addrs {
                    Ok(addrs) if !skip => addrs
                        .iter()
                        .filter_map(|a| {
                            let service = channels.grpc_service(a)?;
                            Some((a.clone(), switchboard_discovery::connection(service)))
                        })
                        .collect(),
                    _ => HashMap::new(),
                };
                async move {
                    if skip {
                        return None;
                    }
                    // Reflection talks to the resolved addresses, not the `dns:///` names.
                    let b = match addrs {
                        Ok(addrs) if *addrs != b.endpoints => &Backend {
                            endpoints: addrs.clone(),
                            // TLS verifies the configured name, not the resolved address.
                            edge: switchboard_edge::with_default_server_name(&b.edge, &b.endpoints),
                            ..b.clone()
                        },
                        Ok(_) => b,
                        Err(e) => {
                            let e = switchboard_discovery::DiscoveryError::Connect {
                                endpoint: b.endpoints.join(", "),
                                message: e.clone(),
                            };
                            return Some((Err(e), None));
                        }
                    };
                    let old = schemas.get(&b.name).map(|s| s.digest);
                    if matches!(b.descriptors, DescriptorSource::Reflection) {
                        // Every endpoint is asked: replicas may run different versions.
                        return Some(every_endpoint(b, timeout, connections, old, skew).await);
                    }
                    let discovered =
                        switchboard_discovery::discover_over(b, base_dir, timeout, connections)
                            .await;
                    Some((discovered.map(|schema| changed_schema(schema, old)), None))
                }
            });
        let results = futures_util::future::join_all(jobs).await;
        let mut out = Vec::with_capacity(results.len());
        for (backend, result) in config.backends.iter().zip(results) {
            let labels = BackendLabels {
                backend: backend.name.clone(),
            };
            let result = result.map(|(found, round)| {
                if let Some(round) = round {
                    self.skew.update(&backend.name, round);
                }
                found
            });
            match result {
                None => out.push(None),
                Some(Ok(found)) => {
                    self.failures.remove(&backend.name);
                    self.metrics
                        .backend_discovered
                        .get_or_create(&labels)
                        .set(1);
                    if let Some((schema, detached)) = found {
                        info!(backend = %backend.name, source = %schema.source, services = ?schema.services, "discovered API");
                        self.schemas.insert(backend.name.clone(), schema);
                        match detached {
                            Some(files) => self.detached.insert(backend.name.clone(), files),
                            None => self.detached.remove(&backend.name),
                        };
                        self.pools_dirty = true;
                    }
                    // Unchanged: keep the cached schema, whose pool may be shared.
                    out.push(None);
                }
                Some(Err(e)) => {
                    let message = e.to_string();
                    let stale = self.schemas.contains_key(&backend.name);
                    warn!(backend = %backend.name, error = %message, keeping_last_good = stale, "discovery failed");
                    self.metrics.discovery_errors.get_or_create(&labels).inc();
                    self.metrics
                        .backend_discovered
                        .get_or_create(&labels)
                        .set(0);
                    self.failures.insert(backend.name.clone(), message.clone());
                    out.push(Some(message));
                }
            }
        }
        // Forget schemas of backends no longer configured.
        let names: HashSet<&str> = config.backends.iter().map(|b| b.name.as_str()).collect();
        self.schemas.retain(|name, _| names.contains(name.as_str()));
        self.detached
            .retain(|name, _| names.contains(name.as_str()));
        self.failures
            .retain(|name, _| names.contains(name.as_str()));
        self.skew.retain(&names);
        let schemas = &self.schemas;
        self.skew
            .prune_pools(|backend| schemas.get(backend).map(|s| s.digest));
        self.metrics.schema_skew.set(self.skew.skewed() as i64);
        out
    }

    /// Merges the configured backends' descriptors into a shared pool (config
    /// order decides who wins a file-name clash; see `shared_pool`).
    fn share_pools(&mut self, config: &Config) {
        let order: HashMap<&str, usize> = config
            .backends
            .iter()
            .enumerate()
            .map(|(i, b)| (b.name.as_str(), i))
            .collect();
        let detached = &mut self.detached;
        let mut members: Vec<(usize, Member<'_>)> = self
            .schemas
            .iter_mut()
            .filter_map(|(name, schema)| {
                let i = *order.get(name.as_str())?;
                let detached = detached.remove(name);
                Some((i, Member { schema, detached }))
            })
            .collect();
        members.sort_by_key(|(i, _)| *i);
        crate::shared_pool::share(members.into_iter().map(|(_, m)| m).collect());
    }

    fn publish(
        &mut self,
        trigger: Trigger,
        file: ReadConfig,
        discovered: Vec<Option<String>>,
        resolved: Vec<Result<Vec<String>, String>>,
        mut edge: switchboard_edge::Prepared,
    ) -> Outcome {
        let ReadConfig {
            config,
            file_hash,
            same_bytes,
        } = file;
        let backend_tls = std::mem::take(&mut edge.backend_tls);
        let policies = self.opts.edge.apply(edge);
        let restart_required = self.apply_settings(trigger, &config);
        if std::mem::take(&mut self.pools_dirty) {
            self.share_pools(&config);
            // The merge's scratch and the detached file bytes, likewise.
            switchboard_live::release_freed_memory();
        }
        let Collected {
            inputs,
            runtimes,
            statuses,
            errors,
        } = self.collect(&config, &discovered, &resolved, &backend_tls, &policies);
        if self.nothing_new(trigger, same_bytes, &statuses) {
            return self.unchanged(errors);
        }
        let (table, conflicts, route_errors) = build_table(&inputs);
        let version = self.live.status().version + 1;
        let routes = table.routes().len();
        let snapshot = Arc::new(Snapshot {
            version,
            table,
            edge_active: runtimes.iter().any(|r| r.edge.is_some()),
            backends: runtimes,
        });
        // One file name served one way by reflection: the first-listed
        // backend's. Each conflict is logged when it appears.
        let file_conflicts = snapshot.exposed_files().conflicts;
        let known = &self.live.status().file_conflicts;
        for c in file_conflicts.iter().filter(|c| !known.contains(c)) {
            warn!(file = %c.file, kept = %c.kept, ignored = %c.ignored, "two backends define this file differently; reflection serves the first-listed backend's");
        }
        // What this publish changes, each route with its gRPC method.
        let before = self.live.snapshot();
        let diff = switchboard_live::RouteDiff::between_routes(
            before.as_ref().map_or(&[][..], |s| s.table.routes()),
            snapshot.table.routes(),
            &self.live.status().conflicts,
            &conflicts,
        );
        drop(before);
        self.live.publish(snapshot);

        // Endpoint state lives as long as some backend lists the address.
        let names: HashSet<&str> = config.backends.iter().map(|b| b.name.as_str()).collect();
        self.channels.retain_backends(&names);
        // A removed backend's series leave `/metrics` (here and in the stages
        // that asked through `on_backend_removed`).
        let previous = self.applied.iter().flat_map(|(c, _)| &c.backends);
        for gone in previous.filter(|b| !names.contains(b.name.as_str())) {
            self.metrics.forget_backend(&gone.name);
            for hook in &self.removed_hooks {
                hook(&gone.name);
            }
        }

        self.set_published_status(
            ReloadStatus {
                version,
                routes,
                backends: statuses,
                conflicts,
                route_errors,
                file_conflicts,
                restart_required,
                ..ReloadStatus::default()
            },
            &errors,
        );
        info!(
            version,
            routes,
            trigger = trigger.as_str(),
            backends = config.backends.len(),
            changes = %diff.summary(10),
            "route table published"
        );
        self.published_diff = Some(diff);
        self.applied = Some((config, file_hash));
        switchboard_live::release_freed_memory();
        self.outcome(ReloadResult::Applied, errors)
    }

    /// Step 1 of a publish: each configured backend's status, and for those with
    /// a schema, its route-building input and runtime (upstream handle attached).
    fn collect(
        &self,
        config: &Config,
        discovered: &[Option<String>],
        resolved: &[Result<Vec<String>, String>],
        backend_tls: &HashMap<String, switchboard_edge::BackendTlsClient>,
        policies: &HashMap<String, Arc<switchboard_edge::BackendPolicy>>,
    ) -> Collected {
        let mut inputs = Vec::new();
        let mut runtimes = Vec::new();
        let mut statuses = Vec::new();
        let mut errors = Vec::new();
        for ((backend, d), addrs) in config.backends.iter().zip(discovered).zip(resolved) {
            let schema = self.schemas.get(&backend.name);
            let error = d
                .clone()
                .or_else(|| self.failures.get(&backend.name).cloned());
            if let Some(e) = &error {
                errors.push(format!("backend {}: {e}", backend.name));
            }
            let state = match (schema, &error) {
                (Some(_), None) => BackendState::Ok,
                (Some(_), Some(_)) => BackendState::Stale,
                (None, _) => BackendState::Failed,
            };
            statuses.push(BackendStatus {
                name: backend.name.clone(),
                endpoints: backend.endpoints.clone(),
                state,
                source: schema.map(|s| s.source),
                services: schema.map(|s| exposed(backend, s)).unwrap_or_default(),
                digest: schema.map(|s| format!("{:016x}", s.digest)),
                error,
                endpoint_schemas: self.skew.report(&backend.name),
            });
            let Some(schema) = schema else { continue };
            let upstream = match self.channels.upstream(
                &backend.name,
                &backend.endpoints,
                addrs.as_deref().ok(),
                switchboard_upstream::UpstreamConfig {
                    tls: backend_tls
                        .get(&backend.name)
                        .map(|t| crate::settings::upstream_tls(&backend.edge, t)),
                    gzip_requests: backend.grpc_compression
                        == switchboard_config::GrpcCompression::Gzip,
                    ..crate::upstream_config(&backend.traffic)
                },
            ) {
                Ok(u) => u,
                Err(e) => {
                    errors.push(format!("backend {}: {e}", backend.name));
                    continue;
                }
            };
            inputs.push(BackendInput {
                index: runtimes.len(),
                name: backend.name.clone(),
                pool: schema.pool.clone(),
                services: exposed(backend, schema),
                http_rules: backend.http_rules.clone(),
                schema_groups: self.skew.groups(&backend.name, schema.digest),
            });
            runtimes.push(BackendRuntime {
                name: backend.name.as_str().into(),
                upstream,
                json: backend.json,
                timeout: backend.timeout,
                pool: schema.pool.clone(),
                edge: policies.get(&backend.name).cloned(),
            });
        }
        Collected {
            inputs,
            runtimes,
            statuses,
            errors,
        }
    }

    /// Step 2: a reload that found nothing new (a retry or refresh, or SIGHUP and
    /// `POST /reload` over the live file's bytes, after re-discovering every
    /// backend) must not bump the version.
    fn nothing_new(&self, trigger: Trigger, same_bytes: bool, statuses: &[BackendStatus]) -> bool {
        let rediscovery = same_bytes || trigger.rediscovers_only();
        if !rediscovery || !self.live.is_ready() {
            return false;
        }
        let live = self.live.status();
        live.backends.len() == statuses.len()
            && live.backends.iter().zip(statuses).all(|(a, b)| {
                a.name == b.name
                    && a.digest == b.digest
                    && a.state == b.state
                    && a.endpoint_schemas == b.endpoint_schemas
            })
    }

    /// Last step: the status of a just-published table (`status` without the
    /// load time, path and error fields, which this fills in from `errors`).
    fn set_published_status(&self, mut status: ReloadStatus, errors: &[String]) {
        let now = rfc3339(SystemTime::now());
        status.loaded_at = Some(now.clone());
        status.config_path = self.opts.config_path.display().to_string();
        if !errors.is_empty() {
            status.last_error = Some(errors.join("; "));
            status.last_error_at = Some(now);
        }
        self.metrics.version.set(status.version as i64);
        self.metrics.routes.set(status.routes as i64);
        self.live.set_status(Arc::new(status));
    }

    /// Applies the live-applicable settings of a config read from the file and
    /// returns the changed keys that need a restart (warned about once per
    /// change). Retries and refreshes reuse the applied config: nothing to redo.
    fn apply_settings(&mut self, trigger: Trigger, config: &Config) -> Vec<String> {
        if trigger.rediscovers_only() {
            return self.live.status().restart_required.clone();
        }
        let settings = switchboard_live::Settings::of(config);
        if self.live.settings().as_deref() != Some(&settings) {
            self.live.set_settings(Arc::new(settings));
        }
        let startup = self.startup.get_or_insert_with(|| config.clone());
        let keys = crate::restart::restart_required(startup, self.channels.settings(), config);
        if !keys.is_empty() && keys != self.live.status().restart_required {
            warn!(keys = ?keys, "config changes that take effect only when the gateway restarts");
        }
        keys
    }

    fn reject(&mut self, trigger: Trigger, errors: Vec<ConfigError>) -> Outcome {
        let rendered: Vec<String> = errors.iter().map(ConfigError::render).collect();
        for e in &rendered {
            error!(error = %e, trigger = trigger.as_str(), "config rejected; keeping the live table");
        }
        let mut status = (*self.live.status()).clone();
        status.config_path = self.opts.config_path.display().to_string();
        status.last_error = Some(rendered.join("; "));
        status.last_error_at = Some(rfc3339(SystemTime::now()));
        self.live.set_status(Arc::new(status));
        Outcome {
            result: ReloadResult::Rejected,
            version: self.live.status().version,
            errors: rendered,
        }
    }

    /// A reload that changed nothing live. `/status`'s `last_error` now says
    /// what this reload found: nothing when it fully succeeded (a revert to the
    /// live file ends a rejected edit's error), else the backends' failures.
    fn unchanged(&self, errors: Vec<String>) -> Outcome {
        let status = self.live.status();
        let last_error = (!errors.is_empty()).then(|| errors.join("; "));
        if status.last_error != last_error {
            let mut status = (*status).clone();
            status.last_error_at = last_error.as_ref().map(|_| rfc3339(SystemTime::now()));
            status.last_error = last_error;
            self.live.set_status(Arc::new(status));
        }
        self.outcome(ReloadResult::Unchanged, errors)
    }

    fn outcome(&self, result: ReloadResult, errors: Vec<String>) -> Outcome {
        Outcome {
            result,
            version: self.live.status().version,
            errors,
        }
    }

    fn schedule_retry(&mut self) {
        self.retry_scheduled = true;
        let delay = self.retry_delay;
        self.retry_delay = (self.retry_delay * 2).min(self.opts.retry_max);
        let handle = self.handle.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            handle.trigger(Trigger::Retry);
        });
    }
}

/// The config a rebuild works from, with what identifies its bytes.
struct ReadConfig {
    config: Config,
    /// Hash of the file's bytes, kept with the applied config.
    file_hash: u64,
    /// The bytes are the applied config's: only discovery can make news.
    same_bytes: bool,
}

/// Which triggers subsume which when coalescing: anything that re-reads the file
/// beats a retry or refresh.
fn strength(t: Trigger) -> u8 {
    match t {
        Trigger::Retry => 0,
        Trigger::Refresh | Trigger::Endpoints => 1,
        Trigger::FileChange => 2,
        Trigger::Startup | Trigger::Signal | Trigger::Admin => 3,
    }
}

/// A backend's discovery failure as `/status` and reload answers word it.
fn backend_error((name, error): (&String, &String)) -> String {
    format!("backend {name}: {error}")
}

/// The backend's services that its filter exposes, in schema order.
fn exposed(backend: &Backend, schema: &Schema) -> Vec<String> {
    schema
        .services
        .iter()
        .filter(|s| backend.services.allows(s))
        .cloned()
        .collect()
}

fn read_config(path: &std::path::Path) -> Result<(Config, u64), Vec<ConfigError>> {
    let bytes = switchboard_config::read_file(path)?;
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    let config = switchboard_config::parse_bytes(&bytes, path)?;
    Ok((config, hasher.finish()))
}

/// Step 3 of a publish: the route table from every backend's input, with its
/// conflicts and skipped routes logged and returned for the status.
fn build_table(inputs: &[BackendInput]) -> (RouteTable, Vec<String>, Vec<String>) {
    let (table, report) = RouteTable::build(inputs);
    let conflicts: Vec<String> = report.conflicts.iter().map(|c| c.to_string()).collect();
    for c in &conflicts {
        warn!(conflict = %c, "route conflict");
    }
    for e in &report.errors {
        warn!(error = %e, "route skipped");
    }
    (table, conflicts, report.errors)
}

/// What [`Reloader::collect`] gathers for a publish, in config order.
struct Collected {
    inputs: Vec<BackendInput>,
    runtimes: Vec<BackendRuntime>,
    statuses: Vec<BackendStatus>,
    errors: Vec<String>,
}

/// What discovery of one backend found: its new schema (with its encoded files
/// when its pool was detached), `None` when the digest is the one in use, or
/// why it failed; and, for reflection backends, what each endpoint serves.
type Found = (FoundSchema, Option<crate::skew::Round>);

/// A backend's new schema with its detached files, `None` when unchanged.
type FoundSchema =
    Result<Option<(Schema, Option<Vec<Vec<u8>>>)>, switchboard_discovery::DiscoveryError>;

/// `schema` if its digest is not `old`, its pool detached: a new API's pool is
/// dropped now, not after every backend is discovered, and the merge rebuilds
/// it from the encoded files.
fn changed_schema(mut schema: Schema, old: Option<u64>) -> Option<(Schema, Option<Vec<Vec<u8>>>)> {
    if old == Some(schema.digest) {
        return None;
    }
    let detached = crate::shared_pool::detach(&mut schema);
    Some((schema, detached))
}

/// Reflection on every endpoint of `backend` at once. The backend's schema
/// stays the one in use while some endpoint has it, else becomes that of the
/// first endpoint (in order) that answered; only a
/// digest not seen before is decoded (the new schema, and the methods of each
/// new digest for `/routes`). Fails only when no endpoint answered, with the
/// last endpoint's error; a partial failure is logged per endpoint.
async fn every_endpoint(
    backend: &Backend,
    timeout: Duration,
    connections: HashMap<String, switchboard_discovery::Connection>,
    old: Option<u64>,
    skew: &crate::skew::Skew,
) -> Found {
    let each = switchboard_discovery::discover_each(backend, timeout, connections).await;
    let answered = each.iter().any(|(_, r)| r.is_ok());
    let mut round = crate::skew::Round::default();
    // The schema in use stays while some endpoint still has it (an endpoint
    // that failed counts with its last known schema): one replica going away
    // must not switch the whole backend to another version's routes. Its
    // methods then answer 503 from the balancer rather than 404.
    let keep = answered
        && old.is_some_and(|d| {
            each.iter().any(|(endpoint, r)| match r {
                Ok(api) => api.digest == d,
                Err(_) => skew.last_digest(&backend.name, endpoint) == Some(d),
            })
        });
    let mut primary: Option<FoundSchema> = keep.then_some(Ok(None));
    // The digest the backend's routes come from after this round.
    let mut primary_digest = if keep { old } else { None };
    let mut last_error = None;
    for (endpoint, result) in each {
        let api = match result {
            Ok(api) => api,
            Err(e) => {
                if answered {
                    warn!(backend = %backend.name, endpoint = %endpoint, error = %e, "reflection failed");
                }
                round.endpoints.push((endpoint, Err(e.to_string())));
                last_error = Some(e);
                continue;
            }
        };
        round.endpoints.push((endpoint, Ok(api.digest)));
        let seen = skew.knows(api.digest) || round.methods.iter().any(|(d, _)| *d == api.digest);
        if primary.is_none() {
            primary_digest = Some(api.digest);
            if old == Some(api.digest) {
                primary = Some(Ok(None));
            } else {
                let built = api.schema();
                if let (false, Ok(schema)) = (seen, &built) {
                    round
                        .methods
                        .push((api.digest, crate::skew::methods_of(schema)));
                }
                primary = Some(built.map(|schema| changed_schema(schema, old)));
                continue;
            }
        }
        // Another schema than the primary one: its descriptors are kept for
        // the table build (the group's plans), its methods for the balancer.
        let pooled = skew.has_pool(api.digest) || round.pools.iter().any(|(d, _)| *d == api.digest);
        if primary_digest != Some(api.digest)
            && !(seen && pooled)
            && let Ok(schema) = api.schema()
        {
            if !seen {
                round
                    .methods
                    .push((api.digest, crate::skew::methods_of(&schema)));
            }
            round.pools.push((api.digest, schema.pool));
        }
    }
    let found = primary.unwrap_or_else(|| {
        Err(
            last_error.unwrap_or_else(|| switchboard_discovery::DiscoveryError::Connect {
                endpoint: String::new(),
                message: "no endpoints configured".into(),
            }),
        )
    });
    (found, Some(round))
}
