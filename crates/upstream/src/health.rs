//! Active health checks with `grpc.health.v1.Health/Check`, one task per
//! endpoint, over the endpoint's own channel (so a check also exercises the
//! connection requests use).
//!
//! An endpoint becomes `unhealthy` after `unhealthy_threshold` failed checks in a
//! row (an error, a timeout, or any status but SERVING — NOT_SERVING is how a
//! server says "drain me") and `healthy` again after `healthy_threshold` good
//! ones. Until the first verdict it is `unknown` and used, so enabling checks
//! never blocks traffic at startup.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tracing::{info, warn};

use crate::checker::{Checker, HealthCheckConfig};
use crate::conn::{Conn, ConnService};
use crate::endpoint::{EndpointState, Health};

/// Makes sure `ep` is checked with `config` (or not checked, for `None`).
/// Called whenever a backend (re)states its endpoints, so a reload that changes or
/// removes `health_check` takes effect. An endpoint listed by two backends is
/// checked with whichever backend's settings were applied last.
pub(crate) fn ensure(ep: &Arc<EndpointState>, config: Option<&HealthCheckConfig>) {
    let mut slot = ep.checker.lock().unwrap_or_else(|e| e.into_inner());
    match config {
        None => {
            if slot.take().is_some() {
                ep.set_health(Health::Unknown);
            }
        }
        Some(cfg) if slot.as_ref().is_some_and(|c| &c.config == cfg) => {}
        Some(cfg) => {
            let Ok(handle) = tokio::runtime::Handle::try_current() else {
                return;
            };
            let task = handle.spawn(run(Arc::downgrade(ep), cfg.clone()));
            *slot = Some(Checker {
                config: cfg.clone(),
                task,
            });
        }
    }
}

/// The check loop. Holds the endpoint weakly: when no backend lists it any more,
/// the loop ends by itself.
async fn run(ep: Weak<EndpointState>, cfg: HealthCheckConfig) {
    let mut tick = tokio::time::interval(cfg.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut good, mut bad) = (0u32, 0u32);
    loop {
        tick.tick().await;
        let Some(endpoint) = ep.upgrade() else { return };
        let conn = endpoint.conn.clone();
        let addr = endpoint.addr.clone();
        drop(endpoint);
        let result = check(conn, &cfg).await;
        let Some(endpoint) = ep.upgrade() else { return };
        let before = endpoint.health();
        match result {
            Ok(()) => {
                bad = 0;
                good = good.saturating_add(1);
                if good >= cfg.healthy_threshold.max(1) && before != Health::Healthy {
                    if before == Health::Unhealthy {
                        info!(endpoint = %addr, "health check passing again");
                    }
                    endpoint.set_health(Health::Healthy);
                }
            }
            Err(why) => {
                good = 0;
                bad = bad.saturating_add(1);
                if bad >= cfg.unhealthy_threshold.max(1) && before != Health::Unhealthy {
                    warn!(endpoint = %addr, reason = %why, "health check failing; endpoint marked unhealthy");
                    endpoint.note_error(&format!("health check: {why}"));
                    endpoint.set_health(Health::Unhealthy);
                }
            }
        }
    }
}

/// Opens a new endpoint's connection before it gets traffic, once per endpoint,
/// with one health check whose answer is ignored (UNIMPLEMENTED warms the
/// connection just as well; a refused connection just ends the wait). A whole
/// round trip, not just the handshake: the server's side of the connection is
/// then up too.
///
/// Without it the first real request pays the TCP and HTTP/2 handshakes, and
/// peak-EWMA records that as the endpoint's latency: a freshly scaled-out pod
/// would look slow and get little traffic until the estimate decayed.
pub(crate) async fn warm_up(ep: &EndpointState, timeout: Duration) {
    let cfg = HealthCheckConfig {
        timeout,
        ..HealthCheckConfig::default()
    };
    ep.warmed
        .get_or_init(|| async {
            let _ = check(ep.conn.clone(), &cfg).await;
        })
        .await;
}

async fn check(conn: Conn, cfg: &HealthCheckConfig) -> Result<(), String> {
    let mut client = HealthClient::new(ConnService(conn));
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: cfg.service.clone(),
    });
    request.set_timeout(cfg.timeout);
    match tokio::time::timeout(cfg.timeout, client.check(request)).await {
        Err(_) => Err(format!("no answer within {:?}", cfg.timeout)),
        Ok(Err(status)) => Err(format!("{:?}: {}", status.code(), status.message())),
        Ok(Ok(response)) => match response.into_inner().status() {
            ServingStatus::Serving => Ok(()),
            other => Err(format!("status {}", other.as_str_name())),
        },
    }
}
