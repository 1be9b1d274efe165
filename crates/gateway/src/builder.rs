//! [`Builder`]: where the config comes from and which background machinery
//! runs, then one `build().await` that publishes the first route table.

use std::path::PathBuf;
use std::sync::Arc;

use prometheus_client::registry::Registry;
use switchboard_config::{Backend, Config, IN_CODE};
use switchboard_live::{Live, ReloadResult, Trigger};
use switchboard_reload::{ConfigValue, Reloader, ReloaderOptions, SwapMetrics, watch};
use switchboard_serve::{Gateway, ServeMetrics};
use switchboard_upstream::ChannelCache;
use tracing::{error, warn};

use crate::switchboard::Inner;
use crate::{Error, Switchboard};

/// How a [`Switchboard`] is made. The config is a YAML file
/// ([`config_file`](Builder::config_file), watched and hot-reloaded as
/// `switchboard serve` does), a [`Config`] value ([`config`](Builder::config)),
/// or only backends added in code ([`backend`](Builder::backend)) over the
/// defaults of an empty file.
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is awaited"]
pub struct Builder {
    file: Option<PathBuf>,
    config: Option<Config>,
    backends: Vec<Backend>,
    watch: bool,
    sighup: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            file: None,
            config: None,
            backends: Vec::new(),
            watch: true,
            sighup: false,
        }
    }
}

impl Builder {
    /// Reads the config from a YAML file (every key is documented in
    /// `config/switchboard.yaml`). Relative paths in it resolve against its
    /// directory; the file is watched unless
    /// [`watch_config(false)`](Builder::watch_config).
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Uses `config` instead of a file: [`Config::default`] is what an empty
    /// file gives. It is validated as a file would be; relative paths in it
    /// resolve against the working directory. Replace it later with
    /// [`Switchboard::replace_config`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Adds a backend whose API is found by gRPC server reflection, with the
    /// defaults a file gives `{name, endpoints}` (the way the seed's builder
    /// registered a backend by address). Backends added here come after those
    /// of a [`config`](Builder::config) value; for any other backend setting,
    /// push a [`Backend`] onto [`Config::backends`] instead.
    pub fn backend(
        mut self,
        name: impl Into<String>,
        endpoints: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.backends.push(Backend::new(name, endpoints));
        self
    }

    /// Whether a config file is watched and reloaded when it changes (on by
    /// default, as `switchboard serve` does; no effect without a file).
    pub fn watch_config(mut self, watch: bool) -> Self {
        self.watch = watch;
        self
    }

    /// Reloads on SIGHUP, as `switchboard serve` does. Off by default: a
    /// process that embeds the gateway may give SIGHUP its own meaning.
    pub fn reload_on_sighup(mut self, sighup: bool) -> Self {
        self.sighup = sighup;
        self
    }

    /// Reads and validates the config, discovers every backend and publishes
    /// the first route table, then starts the reload loop (and the file watch).
    /// Binds nothing: serve the returned [`Switchboard`] as a tower service,
    /// or on its own listeners with [`Switchboard::serve`].
    ///
    /// A backend that cannot be discovered yet does not fail the build: it
    /// has no routes, is retried with backoff, and is reported in
    /// [`Switchboard::status`]. An invalid config does ([`Error::Config`]).
    pub async fn build(self) -> Result<Switchboard, Error> {
        let (config, path, value) = match (self.file, self.config) {
            (Some(_), Some(_)) => {
                return Err(Error::Usage(
                    "a gateway reads its config from a file or from a value, not both",
                ));
            }
            (Some(_), None) if !self.backends.is_empty() => {
                return Err(Error::Usage(
                    "backends added in code need a config value, not a file (the file's backends would be replaced on every reload)",
                ));
            }
            (Some(path), None) => {
                let config = switchboard_config::load_file(&path).map_err(Error::Config)?;
                (config, path, None)
            }
            (None, config) => {
                let mut config = config.unwrap_or_default();
                config.backends.extend(self.backends);
                let label = PathBuf::from(IN_CODE);
                config.validate(&label).map_err(Error::Config)?;
                (config.clone(), label, Some(ConfigValue::new(config)))
            }
        };

        let live = Arc::new(Live::default());
        let swap_metrics = SwapMetrics::default();
        let serve_metrics = ServeMetrics::default();
        let mut registry = Registry::default();
        swap_metrics.register(&mut registry);
        serve_metrics.register(&mut registry);
        let observers = crate::observability::start(&config, &mut registry)?;
        let traces = observers.traces.clone();
        // The workers model gives every endpoint a connection per worker.
        let channels = Arc::new(ChannelCache::with_workers(
            switchboard_reload::channel_settings(&config),
            config.runtime.worker_threads().unwrap_or(0),
        ));
        channels.metrics().register(&mut registry);

        let mut options = ReloaderOptions::new(path.clone());
        options.config_value = value.clone();
        let edge = options.edge.clone();
        edge.metrics().register(&mut registry);
        let (mut reloader, handle) = Reloader::new(options, live.clone(), swap_metrics, channels);
        let forget = serve_metrics.clone();
        reloader.on_backend_removed(move |backend| forget.forget_backend(backend));

        let first = reloader.reload_once(Trigger::Startup).await;
        if first.result == ReloadResult::Rejected {
            return Err(Error::Rejected(first.errors));
        }
        for e in &first.errors {
            warn!(error = %e, "started with a degraded backend; it will be retried");
        }

        let file_watch = match (&value, self.watch) {
            (None, true) => {
                let debounce = {
                    let (live, startup) = (live.clone(), config.reload_debounce);
                    move || live.settings().map_or(startup, |s| s.reload_debounce)
                };
                match watch::watch_config(&path, debounce, handle.clone()) {
                    Ok(w) => Some(w),
                    Err(e) => {
                        error!(error = %e, "cannot watch the config file; reload with SIGHUP or POST /reload");
                        None
                    }
                }
            }
            _ => None,
        };
        #[cfg(unix)]
        if self.sighup {
            watch::reload_on_sighup(handle.clone()).map_err(Error::Signal)?;
        }

        let gateway = Arc::new(
            Gateway::new(live.clone(), serve_metrics, config.max_body_bytes)
                .with_max_metadata_bytes(config.max_metadata_bytes)
                .with_cors(config.cors.clone())
                .with_http(config.http)
                .with_observers(observers),
        );
        let admin = Arc::new(switchboard_admin::Admin {
            live: live.clone(),
            reload: handle.clone(),
            registry: Arc::new(registry),
            openapi: Default::default(),
            edge: Some(edge.clone()),
        });
        Ok(Switchboard::start(
            Inner::new(
                gateway, admin, live, edge, handle, value, config, file_watch, traces,
            ),
            reloader,
        ))
    }
}
