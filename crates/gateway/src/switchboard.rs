//! [`Switchboard`]: the built gateway. One value is the tower service, the
//! handle that reloads, reports and shuts down, and the owner of the
//! listeners it was asked to run.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_config::Config;
use switchboard_edge::Edge;
use switchboard_live::{Live, Outcome, ReloadHandle, ReloadStatus, Trigger};
use switchboard_reload::{ConfigValue, Reloader, watch::FileWatch};
use switchboard_serve::Gateway;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info};

use crate::{AdminService, Builder, Error};

/// A running gateway. Cheap to clone: every clone is the same gateway.
///
/// It is a `tower::Service<http::Request<B>>` for any `B: http_body::Body`
/// (see [`PeerAddr`](crate::PeerAddr) for the client's address), answering
/// every protocol the public listener does: HTTP/JSON (unary, streams, SSE,
/// WebSocket), native gRPC, gRPC-Web and Connect. Requests load the live
/// route table once, so a reload never disturbs a request in flight.
///
/// Background work (the reload loop, the file watch, the listeners started
/// here) stops at [`shutdown`](Switchboard::shutdown), or when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Switchboard {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Switchboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switchboard")
            .field("version", &self.inner.live.status().version)
            .finish_non_exhaustive()
    }
}

/// What every clone shares.
pub(crate) struct Inner {
    pub(crate) gateway: Arc<Gateway>,
    admin: Arc<switchboard_admin::Admin>,
    live: Arc<Live>,
    edge: Edge,
    reload: ReloadHandle,
    /// The config value reloads read (`None`: they read the file).
    value: Option<ConfigValue>,
    /// The config the gateway started with: the addresses `serve` binds.
    startup: Config,
    /// Ends the reload loop and the admin listeners, after the drain.
    stop: watch::Sender<bool>,
    /// Ends the public listeners, which then drain.
    stop_public: watch::Sender<bool>,
    public: Mutex<Vec<JoinHandle<()>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    file_watch: Mutex<Option<FileWatch>>,
    /// The listener TLS files are polled for rotation once a listener runs.
    tls_watched: AtomicBool,
    /// The trace exporter (`tracing:`), flushed at the end of a shutdown.
    traces: Option<Arc<switchboard_observe::trace::Traces>>,
}

impl Inner {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        gateway: Arc<Gateway>,
        admin: Arc<switchboard_admin::Admin>,
        live: Arc<Live>,
        edge: Edge,
        reload: ReloadHandle,
        value: Option<ConfigValue>,
        startup: Config,
        file_watch: Option<FileWatch>,
        traces: Option<Arc<switchboard_observe::trace::Traces>>,
    ) -> Inner {
        Inner {
            gateway,
            admin,
            live,
            edge,
            reload,
            value,
            startup,
            stop: watch::channel(false).0,
            stop_public: watch::channel(false).0,
            public: Mutex::new(Vec::new()),
            tasks: Mutex::new(Vec::new()),
            file_watch: Mutex::new(file_watch),
            tls_watched: AtomicBool::new(false),
            traces,
        }
    }
}

/// Resolves once `tx` says stop (or is dropped with the last clone).
fn stopped(tx: &watch::Sender<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut rx = tx.subscribe();
    async move {
        let _ = rx.wait_for(|s| *s).await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Switchboard {
    /// Where a gateway is configured: see [`Builder`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub(crate) fn start(inner: Inner, reloader: Reloader) -> Switchboard {
        let task = tokio::spawn(reloader.run_until(stopped(&inner.stop)));
        lock(&inner.tasks).push(task);
        Switchboard {
            inner: Arc::new(inner),
        }
    }

    /// What is live: table version and load time, each backend's state
    /// (`ok`, `stale`, `failed`) and services, conflicts, the last reload
    /// error. The same document as the admin listener's `/status` (without
    /// its `edge` part).
    pub fn status(&self) -> Arc<ReloadStatus> {
        self.inner.live.status()
    }

    /// True once a route table is live and the gateway is not shutting down:
    /// what the admin listener's `/readyz` answers.
    pub fn is_ready(&self) -> bool {
        self.inner.live.is_ready() && !self.inner.live.is_draining()
    }

    /// The live table's routes as admin `/routes` lists them and the reload
    /// history diffs them: what `switchboard check --against` compares.
    pub fn route_entries(&self) -> Vec<switchboard_live::RouteEntry> {
        self.inner
            .live
            .snapshot()
            .map(|s| s.route_entries())
            .unwrap_or_default()
    }

    /// Every route of the live table, in matching order, as `/routes` lists
    /// them.
    pub fn routes(&self) -> Vec<RouteInfo> {
        let Some(snapshot) = self.inner.live.snapshot() else {
            return Vec::new();
        };
        snapshot
            .table
            .routes()
            .iter()
            .map(|r| RouteInfo {
                method: r.http_method.to_string(),
                template: r.template.clone(),
                backend: r.backend_name.to_string(),
                grpc_method: r.grpc_path.to_string(),
            })
            .collect()
    }

    /// Re-reads the config (the file, or the current value) and re-discovers
    /// every backend, as `POST /reload` and SIGHUP do, and waits for the
    /// outcome: `applied` with a new version, `unchanged`, or `rejected` with
    /// the errors (the live table stays).
    pub async fn reload(&self) -> Result<Outcome, Error> {
        self.inner
            .reload
            .reload(Trigger::Admin)
            .await
            .ok_or(Error::Stopped)
    }

    /// Makes `config` the gateway's config and reloads, for a gateway built
    /// from a value ([`Builder::config`] or [`Builder::backend`]). A rejected
    /// config keeps the live table, as a bad file does. Settings read only at
    /// startup (`listen`, `admin`, `upstream`, `runtime`) are listed in the status's
    /// `restart_required` instead of applied.
    pub async fn replace_config(&self, config: Config) -> Result<Outcome, Error> {
        let Some(value) = &self.inner.value else {
            return Err(Error::Usage(
                "this gateway reads a config file: edit the file, then reload",
            ));
        };
        value.replace(config);
        self.reload().await
    }

    /// The admin endpoints as a tower service, to mount on a port (or path)
    /// of your own; [`serve_admin`](Switchboard::serve_admin) runs it on the
    /// config's `admin` address instead.
    pub fn admin(&self) -> AdminService {
        AdminService {
            admin: self.inner.admin.clone(),
        }
    }

    /// Binds the config's `listen` address and serves the gateway there, with
    /// the listener's own policies (TLS, `limits.max_connections`, header and
    /// idle timeouts; HTTP/1.1 and h2c on one port). Returns the bound address.
    ///
    /// With `runtime.model: workers` in the config the gateway was built from
    /// (the default: no `runtime:` section means one worker per core), this
    /// starts the worker threads (see
    /// [`serve_workers`](Switchboard::serve_workers)); with `model: shared`
    /// the listener runs on the caller's runtime, as
    /// [`serve_on`](Switchboard::serve_on) always does.
    pub async fn serve(&self) -> Result<SocketAddr, Error> {
        let addr = self.inner.startup.listen;
        if let Some(workers) = self.inner.startup.runtime.worker_threads() {
            return self.serve_workers(addr, workers);
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        self.serve_on(listener)
    }

    /// [`serve`](Switchboard::serve) on a listener you bound (port 0 in tests),
    /// on the caller's runtime.
    pub fn serve_on(&self, listener: TcpListener) -> Result<SocketAddr, Error> {
        let addr = local_addr(&listener)?;
        let task = tokio::spawn(self.public_parts().run(listener));
        lock(&self.inner.public).push(task);
        self.watch_tls_files();
        Ok(addr)
    }

    /// The worker model (`runtime.model: workers`), as Envoy and Pingora run:
    /// `workers` threads, each with its own single-thread tokio runtime and its
    /// own listening socket on `addr` (`SO_REUSEPORT`: the kernel spreads new
    /// connections over them), so a connection lives on one thread, and a
    /// request is read, transcoded, sent on that worker's own HTTP/2 connection
    /// to the endpoint, answered and written without waking another thread.
    /// What must be seen whole stays shared: the route table, the balancer's
    /// statistics, health and ejection, `limits.max_connections`.
    ///
    /// The policies, timeouts and HTTP settings are the public listener's in
    /// every worker. [`shutdown`](Switchboard::shutdown) stops every worker's
    /// accept loop and waits for their connections to drain. Call it from
    /// within a tokio runtime (the admin listener, reloads and health checks
    /// stay there). The endpoints get a connection per worker only if the
    /// gateway was built with `runtime.model: workers` (the builder sizes the
    /// connection slots from it); otherwise the workers share one connection.
    pub fn serve_workers(&self, addr: SocketAddr, workers: usize) -> Result<SocketAddr, Error> {
        let workers = workers.max(1);
        let bind_error = |source| Error::Bind { addr, source };
        // Bound here, all of them, so that a bad address fails the call.
        let mut listeners = Vec::with_capacity(workers);
        let mut bound = addr;
        for _ in 0..workers {
            let listener = reuse_port_listener(bound).map_err(bind_error)?;
            // Port 0: the other workers bind the port the first one got.
            bound = listener.local_addr().map_err(bind_error)?;
            listeners.push(listener);
        }
        for (index, listener) in listeners.into_iter().enumerate() {
            let (done, finished) = tokio::sync::oneshot::channel::<()>();
            let parts = self.public_parts();
            std::thread::Builder::new()
                .name(format!("sb-worker-{index}"))
                .spawn(move || {
                    switchboard_upstream::worker::enter(index);
                    run_worker(index, listener, parts);
                    drop(done);
                })
                .map_err(bind_error)?;
            // `shutdown` waits for the public listeners' tasks: this one ends
            // when the worker has drained.
            let task = tokio::spawn(async move {
                let _ = finished.await;
            });
            lock(&self.inner.public).push(task);
        }
        info!(workers, %bound, "serving with the worker model");
        self.watch_tls_files();
        Ok(bound)
    }

    /// What a public accept loop needs, without a clone of the gateway (which
    /// would keep its background work alive past the last user's clone).
    fn public_parts(&self) -> PublicLoop {
        PublicLoop {
            gateway: self.inner.gateway.clone(),
            live: self.inner.live.clone(),
            edge: self.inner.edge.clone(),
            stop: Box::pin(stopped(&self.inner.stop_public)),
        }
    }

    /// The listener TLS files are polled for rotation once a listener runs.
    fn watch_tls_files(&self) {
        if !self.inner.tls_watched.swap(true, Ordering::AcqRel) {
            self.inner.edge.watch_files();
        }
    }

    /// Binds the config's `admin` address and serves the admin endpoints
    /// there (loopback by default: they can reload the config). They stay up
    /// through a shutdown's drain, answering 503 on `/readyz`.
    pub async fn serve_admin(&self) -> Result<SocketAddr, Error> {
        let addr = self.inner.startup.admin;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        self.serve_admin_on(listener)
    }

    /// [`serve_admin`](Switchboard::serve_admin) on a listener you bound.
    pub fn serve_admin_on(&self, listener: TcpListener) -> Result<SocketAddr, Error> {
        let addr = local_addr(&listener)?;
        let admin = self.inner.admin.clone();
        let task = tokio::spawn(switchboard_serve::serve(
            listener,
            move |req, _| {
                let admin = admin.clone();
                async move { admin.handle(req).await }
            },
            stopped(&self.inner.stop),
            || Duration::from_secs(1),
        ));
        lock(&self.inner.tasks).push(task);
        Ok(addr)
    }

    /// Graceful shutdown, in the order load balancers need: readiness fails
    /// at once (`/readyz`, [`is_ready`](Switchboard::is_ready)), the
    /// listeners keep serving for `shutdown.delay`, then stop accepting and
    /// drain requests in flight for up to `shutdown.drain_timeout`; last,
    /// the admin listener, the reload loop and the file watch stop. The
    /// timings are the last applied config's.
    ///
    /// Requests that reach the service afterwards are still answered from
    /// the last table: an embedding server drains its own connections.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.live.start_draining();
        let shutdown = shutdown_settings(&inner.live);
        info!(
            delay = ?shutdown.delay,
            drain_timeout = ?shutdown.drain_timeout,
            "shutting down: readiness now fails"
        );
        if !shutdown.delay.is_zero() {
            tokio::time::sleep(shutdown.delay).await;
        }
        info!("closing the listener; draining in-flight requests");
        let _ = inner.stop_public.send(true);
        let public = std::mem::take(&mut *lock(&inner.public));
        for task in public {
            let _ = task.await;
        }
        let _ = inner.stop.send(true);
        let tasks = std::mem::take(&mut *lock(&inner.tasks));
        for task in tasks {
            let _ = task.await;
        }
        lock(&inner.file_watch).take();
        if let Some(traces) = inner.traces.clone() {
            // The SDK's exporter thread blocks on the flush.
            let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
        }
        info!("drained; the gateway is stopped");
    }
}

/// See [`Switchboard::public_parts`].
struct PublicLoop {
    gateway: Arc<Gateway>,
    live: Arc<Live>,
    edge: Edge,
    stop: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl PublicLoop {
    /// The public accept loop on `listener`, until the drain is over.
    async fn run(self, listener: TcpListener) {
        let PublicLoop {
            gateway,
            live,
            edge,
            stop,
        } = self;
        switchboard_serve::serve_public(
            listener,
            move |req, peer| {
                let gateway = gateway.clone();
                async move { gateway.handle(req, Some(peer)).await }
            },
            stop,
            move || shutdown_settings(&live).drain_timeout,
            edge,
        )
        .await;
    }
}

/// One worker thread's life: its single-thread runtime runs its accept loop
/// (and everything its connections spawn: their requests' tasks, its HTTP/2
/// connections to the endpoints) until the drain is over; what the drain
/// timeout cut is dropped with the runtime.
fn run_worker(index: usize, listener: std::net::TcpListener, parts: PublicLoop) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error!(worker = index, error = %e, "cannot start a worker's runtime");
            return;
        }
    };
    runtime.block_on(async move {
        match TcpListener::from_std(listener) {
            Ok(listener) => parts.run(listener).await,
            Err(e) => {
                error!(worker = index, error = %e, "a worker cannot use its listening socket")
            }
        }
    });
}

/// A listening socket on `addr` that other sockets of this process may bind
/// too (`SO_REUSEPORT`), one per worker; nonblocking, not yet registered with
/// a runtime (each worker's registers its own).
fn reuse_port_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    #[cfg(unix)]
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    // As tokio's `TcpListener::bind`.
    socket.listen(1024)?.into_std()
}

/// One route of the live table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteInfo {
    /// The HTTP method (`GET`, `POST`, or a custom verb such as `HEAD`).
    pub method: String,
    /// The path template as written (`/v1/{name=shelves/*}`).
    pub template: String,
    /// The backend that serves it.
    pub backend: String,
    /// The gRPC method it calls, `/package.Service/Method`.
    pub grpc_method: String,
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, Error> {
    listener.local_addr().map_err(|source| Error::Bind {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })
}

/// The `shutdown:` timings in effect: the last applied config's (the first
/// table is published before `build` returns, so there always is one).
fn shutdown_settings(live: &Live) -> switchboard_config::Shutdown {
    live.settings().map(|s| s.shutdown).unwrap_or_default()
}
