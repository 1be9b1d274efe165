//! The per-request record ([`Call`]): created by the entry, filled in by the
//! upstream stage through a task-local (so no call shape passes it by hand),
//! read once when the response ends.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::trace::{Span, SpanKind, Status as SpanStatus, TraceContextExt, Tracer};

use crate::trace::{Traces, traceparent};

tokio::task_local! {
    static CURRENT: Arc<Call>;
}

/// The call the running task serves, if the entry opened one.
pub fn current() -> Option<Arc<Call>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// One request, from its arrival to the end of its response body.
pub struct Call {
    /// When the request arrived.
    pub started: Instant,
    /// Whether anything reads the facts beyond the code (an access log or
    /// tracing is on); stages skip recording what only those need.
    pub detailed: bool,
    /// The request ID header's name and the ID (kept or generated).
    pub request_id: (HeaderName, HeaderValue),
    /// The incoming `traceparent` / `tracestate`, forwarded unchanged when
    /// tracing is off.
    passthrough: Option<(HeaderValue, Option<HeaderValue>)>,
    /// The request's server span and the tracer for its children, when traced.
    span: Option<(Context, Arc<Traces>)>,
    facts: Mutex<Facts>,
    /// Run when the last holder lets go (see [`Call::defer`]).
    deferred: Mutex<Option<Deferred>>,
}

type Deferred = Box<dyn FnOnce(&Call) + Send>;

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("request_id", &self.request_id)
            .field("facts", &*self.facts())
            .finish_non_exhaustive()
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        let deferred = self
            .deferred
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(f) = deferred {
            f(self);
        }
    }
}

/// What the stages learned about the call.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// The backend that served it.
    pub backend: Option<Arc<str>>,
    /// The endpoint of the last attempt.
    pub endpoint: Option<Arc<str>>,
    /// The route template (`POST /v1/{name=shelves/*}`), for HTTP/JSON.
    pub route: Option<Arc<str>>,
    /// `package.Service/Method`.
    pub grpc_method: Option<Arc<str>>,
    /// The gRPC status code the call ended with, as the upstream saw it
    /// (after deadline mapping).
    pub grpc_code: Option<i32>,
    /// Upstream attempts made (more than one: retried).
    pub attempts: u32,
    /// Request body bytes read, when counted (streams without a length).
    pub bytes_in: u64,
}

impl Call {
    /// A call with `request_id`, tracing under `traces` if given (the request
    /// span continues an incoming `traceparent`), else forwarding it unchanged.
    pub fn new(
        request_id: (HeaderName, HeaderValue),
        headers: &HeaderMap,
        traces: Option<&Arc<Traces>>,
        span_name: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Call {
        let incoming = headers.get("traceparent").cloned().map(|tp| {
            let state = headers.get("tracestate").cloned();
            (tp, state)
        });
        let span = traces.map(|t| {
            let parent = t.extract(headers);
            let span = t
                .tracer
                .span_builder(span_name)
                .with_kind(SpanKind::Server)
                .start_with_context(&t.tracer, &parent);
            (parent.with_span(span), t.clone())
        });
        Call {
            started: Instant::now(),
            detailed: true,
            request_id,
            passthrough: if span.is_some() { None } else { incoming },
            span,
            facts: Mutex::new(Facts::default()),
            deferred: Mutex::new(None),
        }
    }

    /// Runs `f` with this call as the task's current one.
    pub async fn scope<F: Future>(self: &Arc<Self>, f: F) -> F::Output {
        CURRENT.scope(self.clone(), f).await
    }

    /// Runs `f` when the last holder of this call lets go instead of now: a
    /// WebSocket session holds its call until the session ends, after the
    /// upgrade's answer has long been sent.
    pub fn defer(&self, f: impl FnOnce(&Call) + Send + 'static) {
        *self.deferred.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(f));
    }

    /// The facts so far.
    pub fn facts(&self) -> MutexGuard<'_, Facts> {
        // A panic elsewhere while holding it leaves plain data: keep going.
        self.facts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The trace ID, when traced (for the access log).
    pub fn trace_id(&self) -> Option<String> {
        let (cx, _) = self.span.as_ref()?;
        let sc = cx.span().span_context().clone();
        sc.is_valid().then(|| sc.trace_id().to_string())
    }

    /// Starts an upstream attempt on `endpoint` of `backend`: records them and
    /// opens the attempt's client span (a child of the request's).
    pub fn attempt(&self, backend: &Arc<str>, endpoint: &str) -> AttemptTrace {
        {
            let mut f = self.facts();
            f.attempts += 1;
            if f.backend.as_deref() != Some(&**backend) {
                f.backend = Some(backend.clone());
            }
            if f.endpoint.as_deref() != Some(endpoint) {
                f.endpoint = Some(Arc::from(endpoint));
            }
        }
        let span = self.span.as_ref().map(|(parent, t)| {
            let attempt = self.facts().attempts;
            let mut span = t
                .tracer
                .span_builder("upstream")
                .with_kind(SpanKind::Client)
                .start_with_context(&t.tracer, parent);
            span.set_attribute(opentelemetry::KeyValue::new("backend", backend.to_string()));
            span.set_attribute(opentelemetry::KeyValue::new(
                "endpoint",
                endpoint.to_string(),
            ));
            span.set_attribute(opentelemetry::KeyValue::new("attempt", attempt as i64));
            Context::new().with_span(span)
        });
        AttemptTrace {
            span,
            passthrough: self.passthrough.clone(),
            request_id: self.request_id.clone(),
        }
    }

    /// Counts request body bytes read (for requests without a
    /// `Content-Length`, whose size is known only once read).
    pub fn count_in(&self, n: usize) {
        self.facts().bytes_in += n as u64;
    }

    /// Records the gRPC code the call ended with (the last one recorded wins).
    pub fn set_grpc_code(&self, code: i32) {
        self.facts().grpc_code = Some(code);
    }

    /// Ends the request span with the call's facts and the HTTP status.
    pub fn end_span(&self, http_status: u16, facts: &Facts) {
        let Some((cx, _)) = &self.span else { return };
        let span = cx.span();
        use opentelemetry::KeyValue;
        // Low-cardinality names, as OpenTelemetry's conventions ask: the
        // route template (`POST /v1/{name=shelves/*}`) or the gRPC method,
        // once known, instead of the raw path.
        if let Some(name) = facts.route.as_ref().or(facts.grpc_method.as_ref()) {
            span.update_name(name.to_string());
        }
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            http_status as i64,
        ));
        span.set_attribute(KeyValue::new(
            "request_id",
            String::from_utf8_lossy(self.request_id.1.as_bytes()).into_owned(),
        ));
        if let Some(r) = &facts.route {
            span.set_attribute(KeyValue::new("http.route", r.to_string()));
        }
        if let Some(b) = &facts.backend {
            span.set_attribute(KeyValue::new("backend", b.to_string()));
        }
        if let Some(e) = &facts.endpoint {
            span.set_attribute(KeyValue::new("endpoint", e.to_string()));
        }
        if let Some(m) = &facts.grpc_method {
            span.set_attribute(KeyValue::new("rpc.method", m.to_string()));
        }
        if let Some(c) = facts.grpc_code {
            span.set_attribute(KeyValue::new("rpc.grpc.status_code", c as i64));
        }
        if http_status >= 500 || facts.grpc_code.is_some_and(is_server_error) {
            span.set_status(SpanStatus::error(format!("HTTP {http_status}")));
        }
        span.end();
    }
}

/// gRPC codes OpenTelemetry's semantic conventions count as server errors.
fn is_server_error(code: i32) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

/// One upstream attempt's part of the call: the metadata it must carry and
/// its client span.
#[derive(Debug)]
pub struct AttemptTrace {
    span: Option<Context>,
    passthrough: Option<(HeaderValue, Option<HeaderValue>)>,
    request_id: (HeaderName, HeaderValue),
}

impl AttemptTrace {
    /// Adds the request ID and the trace context to the attempt's request
    /// metadata: the attempt span as `traceparent` when traced, else the
    /// client's `traceparent` / `tracestate` unchanged.
    pub fn stamp(&self, headers: &mut HeaderMap) {
        headers.insert(self.request_id.0.clone(), self.request_id.1.clone());
        match (&self.span, &self.passthrough) {
            (Some(cx), _) => {
                let sc = cx.span().span_context().clone();
                if let Some(tp) = traceparent(&sc) {
                    headers.insert("traceparent", tp);
                    let state = sc.trace_state().header();
                    match HeaderValue::from_str(&state) {
                        Ok(v) if !state.is_empty() => {
                            headers.insert("tracestate", v);
                        }
                        _ => {
                            headers.remove("tracestate");
                        }
                    }
                }
            }
            (None, Some((tp, state))) => {
                headers.insert("traceparent", tp.clone());
                if let Some(s) = state {
                    headers.insert("tracestate", s.clone());
                }
            }
            (None, None) => {}
        }
    }

    /// Ends the attempt's span with its outcome (`None`: the backend's answer
    /// arrived and the call goes on).
    pub fn end(self, code: Option<i32>, error: Option<&str>) {
        let Some(cx) = self.span else { return };
        let span = cx.span();
        if let Some(c) = code {
            span.set_attribute(opentelemetry::KeyValue::new(
                "rpc.grpc.status_code",
                c as i64,
            ));
        }
        if let Some(e) = error {
            span.set_status(SpanStatus::error(e.to_owned()));
        }
        span.end();
    }
}
