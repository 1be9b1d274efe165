//! `switchboard serve`: the library's gateway on its own listeners, until a
//! signal. Everything but argument handling and signals is
//! `switchboard_gateway`'s, the same code an embedding application runs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use switchboard_gateway::{Error, Switchboard};
use tracing::{info, warn};

/// Runs the gateway until SIGINT/SIGTERM, then shuts down gracefully (see
/// [`Switchboard::shutdown`]). A second signal during the drain exits at once.
pub(crate) async fn serve(config_path: PathBuf) -> anyhow::Result<ExitCode> {
    let running = start(&config_path).await?;
    shutdown_signal().await;
    tokio::select! {
        () = running.gateway.shutdown() => info!("drained; exiting"),
        () = shutdown_signal() => warn!("second signal: exiting without waiting for the drain"),
    }
    Ok(ExitCode::SUCCESS)
}

/// A started gateway and the addresses its listeners were bound to.
// Only `demo` reads the bound addresses.
#[cfg_attr(not(feature = "demo"), allow(dead_code))]
pub(crate) struct Running {
    pub gateway: Switchboard,
    pub listen: SocketAddr,
    pub admin: SocketAddr,
}

/// Builds the gateway from the config file (watched, reloaded on SIGHUP),
/// then binds both listeners. A config that fails to load at startup is
/// fatal (there is no good table to keep); its errors go to stderr as
/// `file:line:column: message`.
pub(crate) async fn start(config_path: &Path) -> anyhow::Result<Running> {
    let built = Switchboard::builder()
        .config_file(config_path)
        .reload_on_sighup(cfg!(unix))
        .build()
        .await;
    let gateway = match built {
        Ok(gateway) => gateway,
        Err(Error::Config(errors)) => {
            for e in &errors {
                eprintln!("{}", e.render());
            }
            anyhow::bail!("{} error(s) in {}", errors.len(), config_path.display());
        }
        Err(e) => return Err(e.into()),
    };
    let listen = gateway
        .serve()
        .await
        .context("cannot bind listen address")?;
    let admin = gateway
        .serve_admin()
        .await
        .context("cannot bind admin address")?;
    info!(%listen, %admin, "switchboard is serving");
    Ok(Running {
        gateway,
        listen,
        admin,
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
