//! Reload triggers from outside the process: config file changes and SIGHUP.
//!
//! The watcher observes the config file's *directory*, not the file: editors save
//! by writing a temp file and renaming it over the original (a new inode the old
//! watch would miss), and Kubernetes updates a mounted ConfigMap by swapping the
//! `..data` symlink. An event in the directory that can change bytes (see
//! `events`: never the gateway's own reads) and touches the config file's name
//! or a `..`-prefixed entry starts a debounce window; when it closes, one reload
//! is requested. The reloader ignores it if the file's bytes did not change.

mod events;

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use switchboard_live::{ReloadHandle, Trigger};

/// Keeps the file watch alive; dropping it stops watching.
pub struct FileWatch {
    _watcher: RecommendedWatcher,
}

/// Starts watching `config_path`'s directory, requesting a reload `debounce()`
/// after the last relevant event. `debounce` is asked at each window, so a
/// reloaded `reload.debounce` applies to the next one.
pub fn watch_config(
    config_path: &Path,
    debounce: impl Fn() -> Duration + Send + 'static,
    handle: ReloadHandle,
) -> notify::Result<FileWatch> {
    let dir = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = config_path.file_name().map(|n| n.to_owned());
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) => {
                let relevant = events::can_change_bytes(&event)
                    && event.paths.iter().any(|p| {
                        let file = p.file_name();
                        file == name.as_deref()
                            || file.is_some_and(|f| f.to_string_lossy().starts_with(".."))
                    });
                if relevant {
                    let _ = tx.send(());
                }
            }
            Err(e) => warn!(error = %e, "config watch error"),
        })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Debounce: wait until events stop arriving for `debounce`.
            loop {
                match tokio::time::timeout(debounce(), rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            debug!("config directory changed");
            handle.trigger(Trigger::FileChange);
        }
    });
    Ok(FileWatch { _watcher: watcher })
}

/// Requests a reload on every SIGHUP, for as long as the process runs.
#[cfg(unix)]
pub fn reload_on_sighup(handle: ReloadHandle) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            handle.trigger(Trigger::Signal);
        }
    });
    Ok(())
}
