//! Test support for the end-to-end suite: start the real `switchboard` binary
//! as a child process with a config in a temp dir, start example backends
//! (tonic, in-process) or the Python grpcio backend (child process), and make
//! HTTP requests with a plain hyper client.
//!
//! The binary is the one cargo built from the current sources for this test run
//! (`CARGO_BIN_EXE_switchboard`): these tests live in the binary's crate so that
//! `cargo test` can never run a stale binary left in `target/`.
//!
//! Compiled into every test file of this crate (`mod support;`); each file uses
//! a different part, hence the `dead_code` allowance.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use switchboard_examples::{BackendOptions, Reflection};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub mod balance;
pub mod python;
pub mod versioned;

pub mod pki;
#[allow(unused_imports)] // only the Python tests use them
pub use python::{PythonBackend, venv_python};

/// Path of the switchboard binary under test.
pub fn switchboard_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_switchboard"))
}

/// A free loopback port (bound then released; good enough for tests).
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    // Below Linux's ephemeral range (32768..60999 by default): a port the
    // kernel handed out for `:0` is soon handed out again, to some test's
    // outgoing connection, before the gateway binds it. Random, so parallel
    // test processes rarely pick the same one; the gateway start retries on
    // the rare clash (see `Gateway::start_with`).
    for _ in 0..1000 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let port = 20_000 + (h.finish() % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits until the gateway at `admin` answers `/readyz` 200 (true) or its
/// process ends first (false).
async fn wait_ready_or_exit(admin: SocketAddr, child: &mut Child, log: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = get(&format!("http://{admin}/readyz")).await
            && r.status == 200
        {
            return true;
        }
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        assert!(
            Instant::now() < deadline,
            "gateway not ready; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An in-process tonic example backend; stops when dropped.
pub struct Backend {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl Backend {
    pub async fn greeter(reflection: Reflection) -> Backend {
        Self::start(true, reflection).await
    }

    pub async fn library(reflection: Reflection) -> Backend {
        Self::start(false, reflection).await
    }

    async fn start(greeter: bool, reflection: Reflection) -> Backend {
        let opts = BackendOptions {
            reflection,
            health: true,
            ..BackendOptions::default()
        };
        Self::start_with(greeter, opts).await
    }

    /// The greeter backend with `opts` (e.g. a small advertised header list).
    pub async fn greeter_with(opts: BackendOptions) -> Backend {
        Self::start_with(true, opts).await
    }

    async fn start_with(greeter: bool, opts: BackendOptions) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, mut rx) = watch::channel(false);
        let shutdown = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        if greeter {
            tokio::spawn(switchboard_examples::serve_greeter(
                listener, opts, shutdown,
            ));
        } else {
            tokio::spawn(switchboard_examples::serve_library(
                listener, opts, shutdown,
            ));
        }
        Backend { addr, stop }
    }

    /// Stops serving (in-flight calls drain).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One backend entry of a test config.
pub fn backend_yaml(name: &str, addr: impl std::fmt::Display, extra: &str) -> String {
    let mut s = format!("  - name: {name}\n    endpoints: [\"{addr}\"]\n");
    for line in extra.lines() {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// A running `switchboard serve` child process with its own config dir.
pub struct Gateway {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub http: SocketAddr,
    pub admin: SocketAddr,
    child: Child,
    log: PathBuf,
}

impl Gateway {
    /// Writes a config with the given `backends:` entries and starts the gateway,
    /// waiting until `/readyz` answers 200.
    pub async fn start(backends: &str) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("switchboard.yaml");
        let http = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        std::fs::write(&config, Self::render(http, admin, backends)).unwrap();
        Self::start_with(dir, config, http, admin).await
    }

    /// Starts the gateway on a config the caller already wrote (e.g. behind a
    /// Kubernetes-style symlink) whose listeners are `http` and `admin`.
    ///
    /// A listener port taken between the test choosing it and the gateway
    /// binding it (another test's connection got it) is chosen again, and the
    /// config rewritten with the new one, a few times.
    pub async fn start_with(
        dir: tempfile::TempDir,
        config: PathBuf,
        mut http: SocketAddr,
        mut admin: SocketAddr,
    ) -> Gateway {
        let log = dir.path().join("gateway.log");
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut child = Command::new(switchboard_bin())
                .args(["serve", "--config"])
                .arg(&config)
                .env(
                    "SWITCHBOARD_LOG",
                    std::env::var("SWITCHBOARD_TEST_LOG")
                        .unwrap_or_else(|_| "info,switchboard=debug".into()),
                )
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("spawn switchboard");
            if wait_ready_or_exit(admin, &mut child, &log).await {
                return Gateway {
                    dir,
                    config,
                    http,
                    admin,
                    child,
                    log,
                };
            }
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                attempts < 5 && text.contains("Address already in use"),
                "gateway exited before it was ready; log:\n{text}"
            );
            let config_text = std::fs::read_to_string(&config).unwrap();
            let new_http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let new_admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let config_text = config_text
                .replace(&http.to_string(), &new_http.to_string())
                .replace(&admin.to_string(), &new_admin.to_string());
            std::fs::write(&config, config_text).unwrap();
            (http, admin) = (new_http, new_admin);
        }
    }

    /// The full config text for these listeners and backends.
    pub fn render(http: SocketAddr, admin: SocketAddr, backends: &str) -> String {
        format!(
            "listen: {http}\nadmin: {admin}\ndiscovery:\n  timeout: 2s\nreload:\n  debounce: 100ms\nbackends:\n{backends}"
        )
    }

    /// The config text for this gateway's listeners and the given backends.
    pub fn config_text(&self, backends: &str) -> String {
        Self::render(self.http, self.admin, backends)
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = get(&format!("http://{}/readyz", self.admin)).await
                && r.status == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gateway not ready; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{}", self.admin, path)
    }

    /// The gateway's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `/status` as JSON.
    pub async fn status(&self) -> serde_json::Value {
        get(&self.admin_url("/status")).await.unwrap().json()
    }

    /// Waits until `/status` reports a version greater than `after`.
    pub async fn wait_version_after(&self, after: u64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = self.status().await;
            if status["version"].as_u64().unwrap_or(0) > after {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no reload after version {after}; status {status}\nlog:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn version(&self) -> u64 {
        self.status().await["version"].as_u64().unwrap_or(0)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A finished HTTP exchange.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub trailers: Option<HeaderMap>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn get(url: &str) -> Result<Reply, String> {
    request(Method::GET, url, &[], None).await
}

pub async fn post(url: &str, body: &str) -> Result<Reply, String> {
    request(Method::POST, url, &[], Some(body)).await
}

/// Sends one HTTP/1.1 request and reads the whole response (trailers included).
pub async fn request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<Reply, String> {
    let body = body.unwrap_or_default().as_bytes().to_vec();
    request_bytes(method, url, headers, body)
        .await
        .map(|(reply, _)| reply)
}

/// [`request`] with a binary body, also returning the response body's exact
/// bytes (`Reply::body` is lossily decoded as UTF-8).
pub async fn request_bytes(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<(Reply, Bytes), String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut builder = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let (parts, body) = resp.into_parts();
    let collected = body.collect().await.map_err(|e| e.to_string())?;
    let trailers = collected.trailers().cloned();
    let bytes = collected.to_bytes();
    let reply = Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        trailers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    Ok((reply, bytes))
}

/// Polls `check` until it returns true or 10 s pass; returns whether it did.
pub async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Writes `text` to `path` the way editors do: write a temp file, rename it over.
pub fn rename_save(path: &Path, text: &str) {
    let tmp = path.with_extension("yaml.swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
