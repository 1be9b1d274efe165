//! OpenTelemetry traces (`tracing:`): the tracer, W3C Trace Context in and out.
//!
//! Spans are built with the OpenTelemetry API against an explicit parent
//! context rather than through `tracing` spans and tracing-opentelemetry's
//! layer: the request path then costs nothing when tracing is off (no span is
//! created at all), and the gateway needs no hold on the process-wide
//! `tracing` subscriber, which an application embedding it owns. Export is the
//! SDK's batch processor over OTLP/gRPC (tonic): spans are queued (dropped when
//! the queue is full) and sent from its own thread, never on the request path.
//!
//! Sampling is parent-based: a request whose `traceparent` carries a decision
//! follows it; a new trace is sampled with `sample_ratio`.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider,
};
use switchboard_config::observability::Tracing;

/// How often queued spans are sent (the SDK's default is 5 s; a shorter
/// delay keeps traces near real time at the same batch size limit).
const EXPORT_DELAY: Duration = Duration::from_secs(1);

/// The process's tracer, from `tracing:`.
#[derive(Debug)]
pub struct Traces {
    pub(crate) tracer: SdkTracer,
    provider: SdkTracerProvider,
    propagator: TraceContextPropagator,
}

impl Traces {
    /// Starts the exporter towards `config.otlp_endpoint`. Must run inside a
    /// Tokio runtime (the gRPC channel is driven by it). The connection is
    /// lazy: an unreachable collector costs dropped spans, not a failed start.
    pub fn start(config: &Tracing) -> Result<Traces, String> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(config.otlp_endpoint.clone())
            .with_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("tracing.otlp_endpoint {}: {e}", config.otlp_endpoint))?;
        let processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_scheduled_delay(EXPORT_DELAY)
                    .build(),
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                config.sample_ratio,
            ))))
            .with_resource(
                Resource::builder()
                    .with_service_name(config.service_name.clone())
                    .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                    .build(),
            )
            .build();
        let tracer = provider.tracer("switchboard");
        Ok(Traces {
            tracer,
            provider,
            propagator: TraceContextPropagator::new(),
        })
    }

    /// The parent context an incoming request names (`traceparent`,
    /// `tracestate`); an empty context when absent or malformed.
    pub(crate) fn extract(&self, headers: &HeaderMap) -> Context {
        self.propagator
            .extract_with_context(&Context::new(), &HeaderExtractor(headers))
    }

    /// Sends what is queued and stops the exporter (at shutdown).
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "trace exporter shutdown");
        }
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// `span` as a W3C `traceparent` value (`None` for an invalid context).
pub(crate) fn traceparent(span: &SpanContext) -> Option<HeaderValue> {
    if !span.is_valid() {
        return None;
    }
    let value = format!(
        "00-{}-{}-{:02x}",
        span.trace_id(),
        span.span_id(),
        span.trace_flags().to_u8()
    );
    HeaderValue::from_str(&value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    #[test]
    fn traceparent_is_w3c() {
        let sc = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        assert_eq!(
            traceparent(&sc).unwrap(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert!(traceparent(&SpanContext::empty_context()).is_none());
    }
}
