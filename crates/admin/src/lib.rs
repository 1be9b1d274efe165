//! The admin listener (loopback by default): `/healthz`, `/readyz`, `/routes`,
//! `/backends`, `/status`, `/reloads`, `/metrics`, `/openapi.json` and `POST /reload`. It reads the same [`Live`] view as
//! the gateway and asks the reloader for rebuilds through a [`ReloadHandle`].

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response};
use prometheus_client::registry::Registry;
use serde::Serialize;
use switchboard_live::{Live, ReloadHandle, ReloadResult, Trigger};
use switchboard_routes::RouteSource;

use switchboard_serve::body::{Body, full, json_response};

use crate::metrics_format::Format;

mod metrics_format;
pub mod openapi;
mod openapi_cache;
mod skew;

pub use openapi_cache::OpenApiCache;

/// Everything the admin endpoints read.
pub struct Admin {
    /// What is live: the table `/routes` lists, the status `/status` shows, readiness.
    pub live: Arc<Live>,
    /// Where `POST /reload` sends its request (and waits for the outcome).
    pub reload: ReloadHandle,
    /// Every stage's metrics, encoded by `/metrics`.
    pub registry: Arc<Registry>,
    /// The generated OpenAPI documents of the live table version.
    pub openapi: OpenApiCache,
    /// The secure edge, shown live under `edge` in `/status`.
    pub edge: Option<switchboard_edge::Edge>,
}

#[derive(Serialize)]
struct RouteView<'a> {
    method: &'a str,
    template: &'a str,
    backend: &'a str,
    grpc_method: &'a str,
    source: &'static str,
    client_streaming: bool,
    server_streaming: bool,
    /// The endpoints whose schema has this route's method (see `skew`).
    endpoints: Vec<String>,
}

impl Admin {
    /// `/status`: the reload status, plus the edge's live state (TLS, JWT
    /// providers, limits, in-flight counts) when an edge is attached.
    fn status(&self) -> Response<Body> {
        let status = self.live.status();
        let Some(edge) = &self.edge else {
            return json(200, &*status);
        };
        let mut value = serde_json::to_value(&*status).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert(
                "edge".into(),
                serde_json::to_value(edge.status()).unwrap_or_default(),
            );
        }
        json(200, &value)
    }

    /// Answers one admin request. The body is never read (`POST /reload`
    /// takes none), so any body type will do: hyper's listener and a tower
    /// stack call the same function.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body> {
        match (req.method(), req.uri().path()) {
            (&Method::GET, "/healthz") => json_response(200, r#"{"status":"ok"}"#),
            (&Method::GET, "/readyz") => {
                let status = self.live.status();
                if self.live.is_draining() {
                    // Shutting down: fail readiness first so traffic moves away
                    // while in-flight requests finish.
                    json_response(
                        503,
                        r#"{"status":"not ready","reason":"draining: shutting down"}"#,
                    )
                } else if self.live.is_ready() {
                    json_response(
                        200,
                        format!(r#"{{"status":"ready","version":{}}}"#, status.version),
                    )
                } else {
                    json_response(
                        503,
                        r#"{"status":"not ready","reason":"no route table loaded yet"}"#,
                    )
                }
            }
            (&Method::GET, "/routes") => self.routes(),
            (&Method::GET, "/backends") => self.backends(),
            (&Method::GET, "/status") => self.status(),
            // The last 50 reloads, newest first, each with its route diff.
            (&Method::GET, "/reloads") => json(200, &self.live.history()),
            (&Method::GET, "/openapi.json") => self.openapi(req.uri().query()),
            (&Method::GET, "/metrics") => {
                // OpenMetrics or text 0.0.4, by `Accept` (see `metrics_format`).
                let accept = req.headers().get(http::header::ACCEPT);
                let format = Format::negotiate(accept.and_then(|v| v.to_str().ok()));
                let Ok(text) = format.encode(&self.registry) else {
                    return json_response(500, r#"{"error":"metrics encoding failed"}"#);
                };
                Response::builder()
                    .header(http::header::CONTENT_TYPE, format.content_type())
                    .header(http::header::VARY, "Accept")
                    .body(full(text))
                    .unwrap_or_else(|_| Response::new(full("")))
            }
            (&Method::POST, "/reload") => match self.reload.reload(Trigger::Admin).await {
                Some(outcome) => {
                    let code = if outcome.result == ReloadResult::Rejected {
                        422
                    } else {
                        200
                    };
                    json(code, &outcome)
                }
                None => json_response(503, r#"{"error":"reloader is not running"}"#),
            },
            (
                _,
                "/healthz" | "/readyz" | "/routes" | "/status" | "/metrics" | "/reload"
                | "/openapi.json" | "/backends" | "/reloads",
            ) => json_response(405, r#"{"error":"method not allowed"}"#),
            _ => json_response(
                404,
                r#"{"error":"not found","endpoints":["/healthz","/readyz","/routes","/backends","/status","/reloads","/metrics","/openapi.json","POST /reload"]}"#,
            ),
        }
    }

    /// The OpenAPI 3.1 document of the live table (`?backend=NAME` for one
    /// backend; an unknown name is a 404).
    fn openapi(&self, query: Option<&str>) -> Response<Body> {
        let Some(snapshot) = self.live.snapshot() else {
            return json_response(503, r#"{"error":"no route table loaded yet"}"#);
        };
        let backend = match openapi_cache::backend_param(query) {
            Ok(None) => None,
            Ok(Some(name)) => match snapshot.backends.iter().find(|b| *b.name == *name) {
                Some(b) => Some(b.name.clone()),
                None => {
                    let body = serde_json::json!({ "error": format!("unknown backend `{name}`") });
                    return json_response(404, body.to_string());
                }
            },
            Err(e) => {
                return json_response(400, serde_json::json!({ "error": e }).to_string());
            }
        };
        let doc = self
            .openapi
            .get_or_build(snapshot.version, backend.clone(), || {
                let mut bytes = crate::openapi::document_json(&snapshot, backend.as_deref());
                // Cached until the next swap: without spare capacity.
                bytes.shrink_to_fit();
                // Generating it frees much (each operation's and schema's JSON
                // tree); those pages would otherwise stay resident.
                switchboard_live::release_freed_memory();
                Bytes::from(bytes)
            });
        json_response(200, doc)
    }

    /// Every backend of the live table with its endpoints: state (healthy,
    /// ejected, unhealthy, draining), in-flight calls, latency estimate, recent
    /// errors. Backends without a schema yet are in `/status`, not here.
    fn backends(&self) -> Response<Body> {
        let Some(snapshot) = self.live.snapshot() else {
            return json(200, &Vec::<switchboard_upstream::BackendReport>::new());
        };
        let status = self.live.status();
        let schemas = skew::Schemas::new(&status);
        let reports: Vec<_> = snapshot
            .backends
            .iter()
            .map(|b| schemas.backend_report(b))
            .collect();
        json(200, &reports)
    }

    fn routes(&self) -> Response<Body> {
        let Some(snapshot) = self.live.snapshot() else {
            return json(200, &Vec::<RouteView>::new());
        };
        let status = self.live.status();
        let schemas = skew::Schemas::new(&status);
        let views: Vec<RouteView> = snapshot
            .table
            .routes()
            .iter()
            .map(|r| RouteView {
                method: r.http_method.as_str(),
                template: &r.template,
                backend: &r.backend_name,
                grpc_method: &r.grpc_path,
                source: match r.source {
                    RouteSource::Default => "default",
                    RouteSource::HttpRule => "google.api.http",
                    RouteSource::ConfigRule => "config",
                },
                client_streaming: r.plan.method.is_client_streaming(),
                server_streaming: r.plan.method.is_server_streaming(),
                endpoints: schemas.serving(&snapshot, r.backend, &r.grpc_path),
            })
            .collect();
        json(200, &views)
    }
}

fn json<T: Serialize>(status: u16, value: &T) -> Response<Body> {
    match serde_json::to_vec_pretty(value) {
        Ok(bytes) => json_response(status, bytes),
        Err(_) => json_response(500, r#"{"error":"serialization failed"}"#),
    }
}
