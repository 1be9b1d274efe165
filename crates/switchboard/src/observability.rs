//! Starts what `access_log:` and `tracing:` ask for, once at startup (a
//! change to either is reported as needing a restart; see
//! `switchboard_reload`'s `restart_required`).

use std::sync::Arc;

use anyhow::Context;
use prometheus_client::registry::Registry;
use switchboard_config::Config;
use switchboard_observe::access_log::AccessLog;
use switchboard_observe::trace::Traces;
use switchboard_serve::Observers;

/// The access log writer (its drop counter registered, its file reopened on
/// SIGHUP) and the trace exporter, as configured.
pub(crate) fn start(config: &Config, registry: &mut Registry) -> anyhow::Result<Observers> {
    let access_log = match &config.observability.access_log {
        None => None,
        Some(c) => {
            let log = AccessLog::start(c).context("cannot open the access log")?;
            log.register(registry);
            log.reopen_on_sighup()
                .context("cannot install the access log's SIGHUP handler")?;
            Some(log)
        }
    };
    let traces = match &config.observability.tracing {
        None => None,
        Some(c) => Some(Arc::new(Traces::start(c).map_err(anyhow::Error::msg)?)),
    };
    Ok(Observers { access_log, traces })
}
