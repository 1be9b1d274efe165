//! Per-instance behaviour, for running several copies of one example backend
//! behind the gateway's balancer: a name each copy stamps on its responses, an
//! added latency that can be changed while serving (a slow replica), and a
//! health reporter the test keeps to flip the copy to NOT_SERVING.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::server::NamedService;
use tonic_health::server::HealthReporter;

/// How one copy of a backend behaves. `Default` is a plain, anonymous copy.
#[derive(Debug, Clone, Default)]
pub struct Instance {
    /// Sent as the `x-served-by` response header (gRPC metadata) of every
    /// Greeter and Echo call, so a client can tell which copy answered. The
    /// gateway forwards it as `Grpc-Metadata-X-Served-By`.
    pub name: Option<String>,
    /// Added before every Greeter and Echo call is handled.
    pub latency: Latency,
    /// The health reporter to serve instead of a private one; keep a clone to
    /// change the status at runtime (`set_service_status("", NotServing)`).
    pub health: Option<HealthReporter>,
}

/// An added per-call latency, shared between the server and whoever adjusts it.
#[derive(Debug, Clone, Default)]
pub struct Latency(Arc<AtomicU64>);

impl Latency {
    /// Makes every later call wait `latency` before answering.
    pub fn set(&self, latency: Duration) {
        self.0.store(latency.as_millis() as u64, Ordering::Relaxed);
    }

    /// The added latency now.
    pub fn get(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::Relaxed))
    }
}

/// Wraps an application service with the instance's latency and name.
#[derive(Debug, Clone)]
pub(crate) struct Tagged<S> {
    inner: S,
    name: Option<http::HeaderValue>,
    latency: Latency,
}

impl<S> Tagged<S> {
    pub(crate) fn new(inner: S, instance: &Instance) -> Self {
        Tagged {
            inner,
            name: instance
                .name
                .as_deref()
                .and_then(|n| http::HeaderValue::from_str(n).ok()),
            latency: instance.latency.clone(),
        }
    }
}

impl<S: NamedService> NamedService for Tagged<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tonic::codegen::Service<http::Request<B>> for Tagged<S>
where
    S: tonic::codegen::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // The ready service answers this call; a clone takes its place (tower's
        // usual dance for services whose futures outlive `&mut self`).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let latency = self.latency.get();
        let name = self.name.clone();
        Box::pin(async move {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let mut response = inner.call(req).await?;
            if let Some(name) = name {
                response.headers_mut().insert("x-served-by", name);
            }
            Ok(response)
        })
    }
}
