//! Starts what `access_log:` and `tracing:` ask for, once at startup (a
//! change to either is reported as needing a restart; see
//! `switchboard_reload`'s `restart_required`).

use std::sync::Arc;

use prometheus_client::registry::Registry;
use switchboard_config::Config;
use switchboard_observe::access_log::AccessLog;
use switchboard_observe::trace::Traces;
use switchboard_serve::Observers;

use crate::Error;

/// The access log writer (its drop counter registered, its file reopened on
/// SIGHUP) and the trace exporter, as configured.
pub(crate) fn start(config: &Config, registry: &mut Registry) -> Result<Observers, Error> {
    let access_log = match &config.observability.access_log {
        None => None,
        Some(c) => {
            let log = AccessLog::start(c)
                .map_err(|e| Error::Observability(format!("cannot open the access log: {e}")))?;
            log.register(registry);
            log.reopen_on_sighup().map_err(|e| {
                Error::Observability(format!(
                    "cannot install the access log's SIGHUP handler: {e}"
                ))
            })?;
            Some(log)
        }
    };
    let traces = match &config.observability.tracing {
        None => None,
        Some(c) => Some(Arc::new(Traces::start(c).map_err(Error::Observability)?)),
    };
    Ok(Observers { access_log, traces })
}
