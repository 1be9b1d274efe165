//! `switchboard serve`: wires config -> discovery -> routes -> swap -> serve.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use prometheus_client::registry::Registry;
use switchboard_serve::admin::Admin;
use switchboard_serve::{Gateway, ServeMetrics};
use switchboard_swap::{Live, Reloader, ReloaderOptions, SwapMetrics, Trigger, watch};
use switchboard_upstream::{ChannelCache, ChannelSettings};
use tokio::net::TcpListener;
use tracing::{error, info, warn};

/// Runs the gateway until SIGINT/SIGTERM.
pub async fn serve(config_path: PathBuf) -> anyhow::Result<ExitCode> {
    let running = start(&config_path, None).await?;
    shutdown_signal().await;
    info!("shutting down: draining in-flight requests");
    running.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// A started gateway: its listeners' addresses and a way to stop it.
pub struct Running {
    pub listen: std::net::SocketAddr,
    pub admin: std::net::SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _watch: Option<watch::FileWatch>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Loads the config, publishes the first table, binds both listeners and starts
/// the reload loop. A config that fails to load at startup is fatal (there is no
/// good table to keep). `bind_override` replaces the config's listen/admin ports
/// (the demo uses it).
pub async fn start(
    config_path: &Path,
    bind_override: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
) -> anyhow::Result<Running> {
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
    let registry = Arc::new(registry);

    let channels = Arc::new(ChannelCache::new(ChannelSettings::default()));
    let (mut reloader, handle) = Reloader::new(
        ReloaderOptions::new(config_path.to_path_buf()),
        live.clone(),
        swap_metrics,
        channels,
    );
    let first = reloader.reload_once(Trigger::Startup).await;
    if first.result == "rejected" {
        anyhow::bail!("config rejected: {}", first.errors.join("; "));
    }
    for e in &first.errors {
        warn!(error = %e, "started with a degraded backend; it will be retried");
    }

    let (listen_addr, admin_addr) = bind_override.unwrap_or((config.listen, config.admin));
    let listener = TcpListener::bind(listen_addr)
        .await
        .with_context(|| format!("cannot bind listen address {listen_addr}"))?;
    let admin_listener = TcpListener::bind(admin_addr)
        .await
        .with_context(|| format!("cannot bind admin address {admin_addr}"))?;
    let listen = listener.local_addr()?;
    let admin = admin_listener.local_addr()?;

    let file_watch = match watch::watch_config(config_path, config.reload_debounce, handle.clone())
    {
        Ok(w) => Some(w),
        Err(e) => {
            error!(error = %e, "cannot watch the config file; reload with SIGHUP or POST /reload");
            None
        }
    };
    #[cfg(unix)]
    watch::reload_on_sighup(handle.clone()).context("cannot install the SIGHUP handler")?;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let drain = Duration::from_secs(30);
    let gateway = Arc::new(Gateway::new(
        live.clone(),
        serve_metrics,
        config.max_body_bytes,
    ));
    let admin_state = Arc::new(Admin {
        live,
        reload: handle,
        registry,
        openapi: Default::default(),
    });
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(reloader.run_until(wait(stopped.clone()))));
    tasks.push(tokio::spawn(switchboard_serve::serve(
        listener,
        move |req, peer| {
            let gateway = gateway.clone();
            async move { gateway.handle(req, Some(peer)).await }
        },
        wait(stopped.clone()),
        drain,
    )));
    tasks.push(tokio::spawn(switchboard_serve::serve(
        admin_listener,
        move |req, _| {
            let admin = admin_state.clone();
            async move { admin.handle(req).await }
        },
        wait(stopped),
        Duration::from_secs(1),
    )));
    info!(%listen, %admin, "switchboard is serving");
    Ok(Running {
        listen,
        admin,
        stop,
        tasks,
        _watch: file_watch,
    })
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
