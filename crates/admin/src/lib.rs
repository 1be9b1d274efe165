//! The admin listener (loopback by default): `/healthz`, `/readyz`, `/routes`,
//! `/backends`, `/status`, `/metrics`, `/openapi.json` and `POST /reload`. It reads the same [`Live`] view as
//! the gateway and asks the reloader for rebuilds through a [`ReloadHandle`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use prometheus_client::registry::Registry;
use serde::Serialize;
use switchboard_live::{Live, ReloadHandle, Trigger};
use switchboard_routes::RouteSource;

use switchboard_serve::body::{Body, full, json_response};

pub mod openapi;

/// Everything the admin endpoints read.
pub struct Admin {
    pub live: Arc<Live>,
    pub reload: ReloadHandle,
    pub registry: Arc<Registry>,
    /// The last generated OpenAPI documents, by backend filter, with the table
    /// version they describe: regenerated only after a swap.
    pub openapi: Mutex<HashMap<Option<String>, (u64, Bytes)>>,
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
}

impl Admin {
    pub async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
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
            (&Method::GET, "/status") => json(200, &*self.live.status()),
            (&Method::GET, "/openapi.json") => self.openapi(req.uri().query()),
            (&Method::GET, "/metrics") => {
                let mut text = String::new();
                if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
                    return json_response(500, r#"{"error":"metrics encoding failed"}"#);
                }
                Response::builder()
                    .header(
                        http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )
                    .body(full(text))
                    .unwrap_or_else(|_| Response::new(full("")))
            }
            (&Method::POST, "/reload") => match self.reload.reload(Trigger::Admin).await {
                Some(outcome) => {
                    let code = if outcome.result == "rejected" {
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
                | "/openapi.json" | "/backends",
            ) => json_response(405, r#"{"error":"method not allowed"}"#),
            _ => json_response(
                404,
                r#"{"error":"not found","endpoints":["/healthz","/readyz","/routes","/backends","/status","/metrics","/openapi.json","POST /reload"]}"#,
            ),
        }
    }

    /// The OpenAPI 3.1 document of the live table (`?backend=NAME` for one backend).
    fn openapi(&self, query: Option<&str>) -> Response<Body> {
        let Some(snapshot) = self.live.snapshot() else {
            return json_response(503, r#"{"error":"no route table loaded yet"}"#);
        };
        let backend = query.and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("backend="))
                .map(str::to_string)
        });
        let mut cache = self.openapi.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((version, doc)) = cache.get(&backend)
            && *version == snapshot.version
        {
            return json_response(200, doc.clone());
        }
        let doc = crate::openapi::document(&snapshot, backend.as_deref());
        let bytes = Bytes::from(serde_json::to_vec_pretty(&doc).unwrap_or_default());
        cache.insert(backend, (snapshot.version, bytes.clone()));
        json_response(200, bytes)
    }

    /// Every backend of the live table with its endpoints: state (healthy,
    /// ejected, unhealthy, draining), in-flight calls, latency estimate, recent
    /// errors. Backends without a schema yet are in `/status`, not here.
    fn backends(&self) -> Response<Body> {
        let Some(snapshot) = self.live.snapshot() else {
            return json(200, &Vec::<switchboard_upstream::BackendReport>::new());
        };
        let reports: Vec<_> = snapshot
            .backends
            .iter()
            .map(|b| b.upstream.report())
            .collect();
        json(200, &reports)
    }

    fn routes(&self) -> Response<Body> {
        let Some(snapshot) = self.live.snapshot() else {
            return json(200, &Vec::<RouteView>::new());
        };
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
