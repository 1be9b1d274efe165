//! What is live: the published [`Snapshot`] (route table plus per-backend
//! runtime), the [`ReloadStatus`], and the [`ReloadHandle`] that asks for a
//! rebuild.
//!
//! This is the contract between the machinery that builds a table (the reload
//! crate: discovery, file watching, route building) and everything that reads
//! one (the request path in serve, the admin listener). Readers depend on this
//! crate only, so the request path never links discovery, protox or notify.
//! Requests load the snapshot once, so a request in flight finishes on the
//! table it started with.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::{ArcSwap, ArcSwapOption};
use prost_reflect::DescriptorPool;
use serde::Serialize;
use switchboard_config::{JsonOptions, SchemaSource};
use switchboard_routes::RouteTable;
use switchboard_upstream::Upstream;
use tokio::sync::{mpsc, oneshot};

mod exposed;
mod history;
mod settings;
mod states;
pub use exposed::{ExposedFiles, FileConflict};
pub use history::{HISTORY_LEN, History, OwnerChange, ReloadRecord, RouteDiff, RouteEntry};
pub use settings::Settings;
pub use states::{BackendState, ReloadResult};

/// Hands freed heap memory back to the OS. glibc keeps freed pages otherwise,
/// and the gateway's RSS would stay at the high-water mark of the largest
/// rebuild (discovery's short-lived per-backend pools, the previous shared
/// pool and table) or admin document (an OpenAPI document's JSON tree)
/// instead of reflecting what is live. Called by the reload stage after each
/// step that frees much and by the admin listener after building a document;
/// it walks the allocator's arenas (a few milliseconds), never on the request
/// path.
///
/// The workspace denies `unsafe_code`; this is its one documented exception:
/// there is no safe binding for `malloc_trim`.
#[allow(unsafe_code)]
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// One published generation: the route table plus everything a request needs
/// that the table refers to by backend index. Immutable once published.
#[derive(Debug)]
pub struct Snapshot {
    /// Counts up from 1 with every publish; `/status` and `/readyz` show it.
    pub version: u64,
    /// The routes of this generation, matched once per request.
    pub table: RouteTable,
    /// Indexed by `Route::backend`.
    pub backends: Vec<BackendRuntime>,
    /// Some backend has an edge policy (auth or limits); when false the entry
    /// service skips the edge check entirely.
    pub edge_active: bool,
}

impl Snapshot {
    /// Every route as `/routes` and the reload diff see it.
    pub fn route_entries(&self) -> Vec<RouteEntry> {
        self.table
            .routes()
            .iter()
            .map(|r| RouteEntry {
                method: r.http_method.as_str().to_owned(),
                template: r.template.clone(),
                backend: r.backend_name.to_string(),
                grpc_method: r.grpc_path.to_string(),
            })
            .collect()
    }
}

/// Per-backend state a request needs, resolved at build time.
#[derive(Debug)]
pub struct BackendRuntime {
    /// The backend's config name (metric labels, logs).
    pub name: Arc<str>,
    /// Its endpoints and balancer, shared across table versions by address.
    pub upstream: Arc<Upstream>,
    /// How its messages are printed and parsed (`json:`).
    pub json: JsonOptions,
    /// Its `timeout`: the deadline of a call without `Grpc-Timeout`, and the cap of one
    /// with it.
    pub timeout: Option<Duration>,
    /// The backend's descriptors, to decode error details (`Any`) through.
    pub pool: DescriptorPool,
    /// Authentication, rate and concurrency limits (`None`: none configured).
    pub edge: Option<Arc<switchboard_edge::BackendPolicy>>,
}

/// What the admin listener reports about reloads and backends.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReloadStatus {
    /// Version of the live snapshot (0 before the first).
    pub version: u64,
    /// When the live snapshot was published (RFC 3339).
    pub loaded_at: Option<String>,
    /// The config file reloads read (or the in-code label).
    pub config_path: String,
    /// The most recent reload failure, cleared by the next fully successful reload.
    pub last_error: Option<String>,
    /// When `last_error` was set (RFC 3339).
    pub last_error_at: Option<String>,
    /// Routes in the live table.
    pub routes: usize,
    /// Every configured backend, routed or not, in config order.
    pub backends: Vec<BackendStatus>,
    /// Route conflicts of the live table: which route was kept, which dropped.
    pub conflicts: Vec<String>,
    /// Routes that could not be built (bad template, unknown field), skipped.
    pub route_errors: Vec<String>,
    /// File names two backends define differently: reflection on the listen
    /// port serves the first-listed backend's (see [`Snapshot::exposed_files`]).
    pub file_conflicts: Vec<FileConflict>,
    /// Config keys changed in the file that apply only after a restart (`listen`,
    /// `admin`, `upstream`); empty when the running process matches the file.
    pub restart_required: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
/// One configured backend in `/status`: whether its API is known, and from where.
pub struct BackendStatus {
    /// The backend's config name.
    pub name: String,
    /// Its configured endpoints (`dns:///` names as written).
    pub endpoints: Vec<String>,
    /// `ok`, `stale` (discovery failed, last good schema in use) or `failed` (no schema).
    pub state: BackendState,
    /// `reflection.v1`, `reflection.v1alpha`, `descriptor_set`, `protos`.
    pub source: Option<SchemaSource>,
    /// The services its filter exposes, in schema order.
    pub services: Vec<String>,
    /// Digest of the schema in use (hex): a changed digest means a changed API.
    pub digest: Option<String>,
    /// Why its last discovery failed; `None` once one succeeds.
    pub error: Option<String>,
    /// Each endpoint's own schema (reflection backends; every endpoint is
    /// asked): more than one digest means the replicas run different versions.
    pub endpoint_schemas: Vec<EndpointSchema>,
}

/// The schema one endpoint served when last discovered.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointSchema {
    /// The endpoint's address (`host:port`).
    pub endpoint: String,
    /// Hex digest of the endpoint's descriptors (`None`: never discovered).
    pub digest: Option<String>,
    /// Why the last attempt on this endpoint failed (its last digest is kept).
    pub error: Option<String>,
    /// The methods (`/package.Service/Method`) of that schema, for `/routes`.
    #[serde(skip)]
    pub methods: Option<Arc<std::collections::HashSet<String>>>,
}

impl PartialEq for EndpointSchema {
    /// Same endpoint, same schema: what changes what is served.
    fn eq(&self, other: &Self) -> bool {
        self.endpoint == other.endpoint && self.digest == other.digest
    }
}

/// The shared, lock-free view of what is live.
#[derive(Debug, Default)]
pub struct Live {
    snapshot: ArcSwapOption<Snapshot>,
    status: ArcSwap<ReloadStatus>,
    /// The live-applicable settings of the file the table was built from.
    settings: ArcSwapOption<Settings>,
    /// Set once at shutdown: readiness fails first, so load balancers stop
    /// sending traffic before the listeners close.
    draining: std::sync::atomic::AtomicBool,
    /// The last reloads, for admin `/reloads`.
    history: History,
}

impl Live {
    /// The current snapshot, if a first table has been published. Callers keep the
    /// `Arc` for the whole request.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.load_full()
    }

    /// The reload status, for `/status` and the library's handle.
    pub fn status(&self) -> Arc<ReloadStatus> {
        self.status.load_full()
    }

    /// Makes `snapshot` the table new requests see (the reloader's one store).
    pub fn publish(&self, snapshot: Arc<Snapshot>) {
        self.snapshot.store(Some(snapshot));
    }

    /// The live-applicable settings, once a first config has been applied.
    pub fn settings(&self) -> Option<Arc<Settings>> {
        self.settings.load_full()
    }

    /// Replaces the live-applicable settings (the reloader, on every applied config).
    pub fn set_settings(&self, settings: Arc<Settings>) {
        self.settings.store(Some(settings));
    }

    /// Replaces the reported status.
    pub fn set_status(&self, status: Arc<ReloadStatus>) {
        self.status.store(status);
    }

    /// Ready once a first table is live (regardless of draining; see
    /// [`Live::is_draining`]).
    pub fn is_ready(&self) -> bool {
        self.snapshot.load().is_some()
    }

    /// Records a reload for `/reloads` (the reloader, after each one).
    pub fn record(&self, record: ReloadRecord) {
        self.history.push(record);
    }

    /// The last [`HISTORY_LEN`] reloads, newest first.
    pub fn history(&self) -> Vec<ReloadRecord> {
        self.history.recent()
    }

    /// Marks the process as shutting down; `/readyz` answers 503 from now on.
    pub fn start_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// True from the start of a shutdown: `/readyz` fails while requests drain.
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Why a reload was asked for (for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The first load, before anything is served.
    Startup,
    /// The config file (or its directory's symlink) changed.
    FileChange,
    /// SIGHUP.
    Signal,
    /// The operator asked: `POST /reload`, or the library's `reload`.
    Admin,
    /// Retry of backends whose discovery failed.
    Retry,
    /// Periodic re-discovery of the backends whose `refresh` interval is up
    /// (APIs change without config changes).
    Refresh,
    /// A backend's endpoint set changed without a reload (a `dns:///` name
    /// resolved to other addresses): its new replicas are discovered.
    Endpoints,
}

impl Trigger {
    /// Rebuilds from the applied config, re-discovering only some backends (the
    /// failed, the due, those whose endpoints changed): no file is read.
    pub fn rediscovers_only(self) -> bool {
        matches!(self, Trigger::Retry | Trigger::Refresh | Trigger::Endpoints)
    }

    /// The trigger as the `switchboard_reloads_total{trigger}` label and logs name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::FileChange => "file",
            Trigger::Signal => "sighup",
            Trigger::Admin => "admin",
            Trigger::Retry => "retry",
            Trigger::Refresh => "refresh",
            Trigger::Endpoints => "endpoints",
        }
    }
}

/// The result of one reload, as returned to `POST /reload`.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// `applied`, `unchanged` or `rejected`.
    pub result: ReloadResult,
    /// The live table's version after the reload (unchanged unless applied).
    pub version: u64,
    /// What went wrong: config errors (rejected) or backends that failed (applied or
    /// unchanged, degraded).
    pub errors: Vec<String>,
}

/// One reload request, as queued for the reloader.
#[derive(Debug)]
pub struct ReloadRequest {
    /// Why the reload is asked for; decides what is redone.
    pub trigger: Trigger,
    /// Where the outcome goes, for callers that wait for it.
    pub reply: Option<oneshot::Sender<Outcome>>,
}

/// A cheap, cloneable way to ask the reloader for a rebuild.
#[derive(Debug, Clone)]
pub struct ReloadHandle {
    tx: mpsc::UnboundedSender<ReloadRequest>,
}

impl ReloadHandle {
    /// A handle and the queue its requests arrive on (the reloader's end).
    pub fn channel() -> (ReloadHandle, mpsc::UnboundedReceiver<ReloadRequest>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ReloadHandle { tx }, rx)
    }

    /// True once the reloader is gone (no request can be served any more).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Asks for a reload and waits for its outcome.
    pub async fn reload(&self, trigger: Trigger) -> Option<Outcome> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(ReloadRequest {
                trigger,
                reply: Some(tx),
            })
            .ok()?;
        rx.await.ok()
    }

    /// Asks for a reload without waiting.
    pub fn trigger(&self, trigger: Trigger) {
        let _ = self.tx.send(ReloadRequest {
            trigger,
            reply: None,
        });
    }
}

/// `t` as RFC 3339 UTC with whole seconds (`2026-11-25T09:46:40Z`), for `/status`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = switchboard_transcode::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(0);
        assert_eq!(rfc3339(t), "1970-01-01T00:00:00Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_600_000);
        assert_eq!(rfc3339(t), "2026-11-25T09:46:40Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400); // leap day 2000
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00Z");
    }
}
