//! `switchboard serve`: wires config -> discovery -> routes -> reload -> serve.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use prometheus_client::registry::Registry;
use switchboard_admin::Admin;
use switchboard_live::{Live, ReloadResult, Trigger};
use switchboard_reload::{Reloader, ReloaderOptions, SwapMetrics, watch};
use switchboard_serve::{Gateway, ServeMetrics};
use switchboard_upstream::ChannelCache;
use tokio::net::TcpListener;
use tracing::{error, info, warn};

/// Runs the gateway until SIGINT/SIGTERM, then shuts down gracefully (see
/// [`Running::shutdown`]). A second signal during the drain exits at once.
pub(crate) async fn serve(config_path: PathBuf) -> anyhow::Result<ExitCode> {
    let running = start(&config_path).await?;
    shutdown_signal().await;
    tokio::select! {
        () = running.shutdown() => {}
        () = shutdown_signal() => warn!("second signal: exiting without waiting for the drain"),
    }
    Ok(ExitCode::SUCCESS)
}

/// A started gateway: its listeners' addresses and a way to stop it.
// Only `demo` reads the bound addresses.
#[cfg_attr(not(feature = "demo"), allow(dead_code))]
pub(crate) struct Running {
    pub listen: std::net::SocketAddr,
    pub admin: std::net::SocketAddr,
    live: Arc<Live>,
    /// Stops the public listener (which then drains).
    stop_public: tokio::sync::watch::Sender<bool>,
    public: tokio::task::JoinHandle<()>,
    /// Stops the admin listener and the reload loop, after the drain.
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _watch: Option<watch::FileWatch>,
    /// The trace exporter, flushed at the end of [`Running::stop`].
    traces: Option<Arc<switchboard_observe::trace::Traces>>,
}

impl Running {
    /// Graceful shutdown, in the order load balancers need: fail `/readyz`, wait
    /// `shutdown.delay` (new connections still served, so nothing is refused while
    /// the LB catches up), stop accepting, let in-flight requests finish for up to
    /// `shutdown.drain_timeout`, then stop the admin listener and the reload loop.
    /// The admin listener stays up throughout, answering 503 on `/readyz`.
    /// The timings are the last applied config's (a reload changes them).
    pub(crate) async fn shutdown(self) {
        self.live.start_draining();
        let shutdown = shutdown_settings(&self.live);
        info!(
            delay = ?shutdown.delay,
            drain_timeout = ?shutdown.drain_timeout,
            "shutting down: readiness now fails"
        );
        if !shutdown.delay.is_zero() {
            tokio::time::sleep(shutdown.delay).await;
        }
        info!("closing the listener; draining in-flight requests");
        self.stop().await;
        info!("drained; exiting");
    }

    /// Stops accepting and drains in-flight requests (up to the drain timeout),
    /// without the readiness phase of [`Running::shutdown`].
    pub(crate) async fn stop(self) {
        let _ = self.stop_public.send(true);
        let _ = self.public.await;
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        if let Some(traces) = self.traces {
            // The SDK's exporter thread blocks on the flush.
            let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
        }
    }
}

/// Loads the config, publishes the first table, binds both listeners and starts
/// the reload loop. A config that fails to load at startup is fatal (there is no
/// good table to keep).
pub(crate) async fn start(config_path: &Path) -> anyhow::Result<Running> {
    let config = switchboard_config::load_file(config_path).map_err(|errors| {
        for e in &errors {
            eprintln!("{}", e.render());
        }
        anyhow::anyhow!("{} error(s) in {}", errors.len(), config_path.display())
    })?;

    let live = Arc::new(Live::default());
    let swap_metrics = SwapMetrics::default();
    let serve_metrics = ServeMetrics::default();
    let mut registry = Registry::default();
    swap_metrics.register(&mut registry);
    serve_metrics.register(&mut registry);

    let channels = Arc::new(ChannelCache::new(switchboard_reload::channel_settings(
        &config,
    )));
    channels.metrics().register(&mut registry);
    let options = ReloaderOptions::new(config_path.to_path_buf());
    let edge = options.edge.clone();
    edge.metrics().register(&mut registry);
    let (mut reloader, handle) = Reloader::new(options, live.clone(), swap_metrics, channels);
    let forget = serve_metrics.clone();
    reloader.on_backend_removed(move |backend| forget.forget_backend(backend));
    let observers = crate::observability::start(&config, &mut registry)?;
    let traces = observers.traces.clone();
    let registry = Arc::new(registry);
    let first = reloader.reload_once(Trigger::Startup).await;
    if first.result == ReloadResult::Rejected {
        anyhow::bail!("config rejected: {}", first.errors.join("; "));
    }
    for e in &first.errors {
        warn!(error = %e, "started with a degraded backend; it will be retried");
    }

    let (listen_addr, admin_addr) = (config.listen, config.admin);
    let listener = TcpListener::bind(listen_addr)
        .await
        .with_context(|| format!("cannot bind listen address {listen_addr}"))?;
    let admin_listener = TcpListener::bind(admin_addr)
        .await
        .with_context(|| format!("cannot bind admin address {admin_addr}"))?;
    let listen = listener.local_addr()?;
    let admin = admin_listener.local_addr()?;

    let debounce = {
        let (live, startup) = (live.clone(), config.reload_debounce);
        move || live.settings().map_or(startup, |s| s.reload_debounce)
    };
    let file_watch = match watch::watch_config(config_path, debounce, handle.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            error!(error = %e, "cannot watch the config file; reload with SIGHUP or POST /reload");
            None
        }
    };
    #[cfg(unix)]
    watch::reload_on_sighup(handle.clone()).context("cannot install the SIGHUP handler")?;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (stop_public, public_stopped) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let drain = {
        let live = live.clone();
        move || shutdown_settings(&live).drain_timeout
    };
    let gateway = Arc::new(
        Gateway::new(live.clone(), serve_metrics, config.max_body_bytes)
            .with_max_metadata_bytes(config.max_metadata_bytes)
            .with_cors(config.cors.clone())
            .with_http(config.http)
            .with_observers(observers),
    );
    let admin_state = Arc::new(Admin {
        live: live.clone(),
        reload: handle,
        registry,
        openapi: Default::default(),
        edge: Some(edge.clone()),
    });
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(reloader.run_until(wait(stopped.clone()))));
    let public = tokio::spawn(switchboard_serve::serve_public(
        listener,
        move |req, peer| {
            let gateway = gateway.clone();
            async move { gateway.handle(req, Some(peer)).await }
        },
        wait(public_stopped),
        drain,
        edge.clone(),
    ));
    edge.watch_files();
    tasks.push(tokio::spawn(switchboard_serve::serve(
        admin_listener,
        move |req, _| {
            let admin = admin_state.clone();
            async move { admin.handle(req).await }
        },
        wait(stopped),
        || Duration::from_secs(1),
    )));
    info!(%listen, %admin, "switchboard is serving");
    Ok(Running {
        listen,
        admin,
        live,
        stop_public,
        public,
        stop,
        tasks,
        _watch: file_watch,
        traces,
    })
}

/// The `shutdown:` timings in effect: the last applied config's (the first
/// table is published before `start` returns, so there always is one).
fn shutdown_settings(live: &Live) -> switchboard_config::Shutdown {
    live.settings().map(|s| s.shutdown).unwrap_or_default()
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
