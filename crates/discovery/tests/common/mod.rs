//! Shared helpers for the discovery integration tests: real example backends
//! served in-process on loopback, and config values pointing at them.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::path::PathBuf;

use switchboard_config::{Backend, DescriptorSource, JsonOptions, ServiceFilter};
use switchboard_examples::{BackendOptions, Reflection};
use tokio::sync::oneshot;

/// Which example backend to start.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Example {
    Greeter,
    Library,
}

/// A running example backend; stops when dropped.
pub(crate) struct Running {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

/// Starts `example` on 127.0.0.1:0 with the given reflection flavour.
pub(crate) async fn start(example: Example, reflection: Reflection) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let opts = BackendOptions {
        reflection,
        health: true,
        ..BackendOptions::default()
    };
    let shutdown = async {
        let _ = stopped.await;
    };
    tokio::spawn(async move {
        let result = match example {
            Example::Greeter => switchboard_examples::serve_greeter(listener, opts, shutdown).await,
            Example::Library => switchboard_examples::serve_library(listener, opts, shutdown).await,
        };
        result.expect("example backend failed");
    });
    Running { addr, _stop: stop }
}

/// A backend config with the given endpoints and descriptor source.
pub(crate) fn backend(endpoints: Vec<String>, descriptors: DescriptorSource) -> Backend {
    Backend {
        name: "test".into(),
        endpoints,
        descriptors,
        services: ServiceFilter::default(),
        timeout: None,
        refresh: None,
        json: JsonOptions::default(),
        http_rules: Vec::new(),
        traffic: Default::default(),
        edge: Default::default(),
        grpc_compression: Default::default(),
    }
}

/// A backend discovered through reflection at `addr`.
pub(crate) fn reflected(addr: SocketAddr) -> Backend {
    backend(vec![addr.to_string()], DescriptorSource::Reflection)
}

/// A fresh, empty directory under the system temp dir, unique to this call.
pub(crate) fn temp_dir(label: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "switchboard-discovery-{label}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The `google.api.http` rule of `method` in `service`, as `(verb, path)` of its
/// primary binding, read from the method options' extension.
pub(crate) fn http_rule(
    pool: &prost_reflect::DescriptorPool,
    service: &str,
    method: &str,
) -> Option<(String, String)> {
    let extension = pool.get_extension_by_name("google.api.http")?;
    let method = pool
        .get_service_by_name(service)?
        .methods()
        .find(|m| m.name() == method)?;
    let options = method.options();
    if !options.has_extension(&extension) {
        return None;
    }
    let value = options.get_extension(&extension);
    let rule = value.as_message()?;
    for verb in ["get", "put", "post", "delete", "patch"] {
        if rule.has_field_by_name(verb) {
            let path = rule.get_field_by_name(verb)?.as_str()?.to_owned();
            return Some((verb.to_owned(), path));
        }
    }
    None
}
