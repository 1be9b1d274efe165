//! The YAML shape, with locations. Everything is optional here so that missing
//! required keys are reported by the validator, pointing at the enclosing node
//! and alongside every other problem, rather than as serde's single first error.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{cors, edge, http, observability, runtime, traffic};

// Raw structs: the YAML shape, with locations. Everything is optional here so that
// missing required keys are reported by the validator, pointing at the enclosing node
// and alongside every other problem, rather than as serde's single first error.
// ---------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) listen: Option<Spanned<String>>,
    pub(super) admin: Option<Spanned<String>>,
    pub(super) limits: Option<RawLimits>,
    pub(super) discovery: Option<RawDiscovery>,
    pub(super) reload: Option<RawReload>,
    pub(super) upstream: Option<traffic::RawUpstream>,
    pub(super) shutdown: Option<traffic::RawShutdown>,
    pub(super) backends: Option<Vec<Spanned<RawBackend>>>,
    pub(super) cors: Option<Spanned<cors::RawCors>>,
    pub(super) http: Option<http::RawHttp>,
    // Secure edge (see `edge`).
    pub(super) tls: Option<Spanned<edge::RawTls>>,
    pub(super) jwt_providers: Option<Vec<Spanned<edge::RawJwtProvider>>>,
    // Observability (see `observability`).
    pub(super) request_id: Option<observability::RawRequestId>,
    pub(super) access_log: Option<Spanned<observability::RawAccessLog>>,
    pub(super) tracing: Option<Spanned<observability::RawTracing>>,
    pub(super) compression: Option<observability::RawCompression>,
    // Threading model (see `runtime`).
    pub(super) runtime: Option<runtime::RawRuntime>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) max_body_bytes: Option<Spanned<u64>>,
    pub(super) max_metadata_bytes: Option<Spanned<u64>>,
    // Listener limits (see `edge`).
    pub(super) max_connections: Option<Spanned<u64>>,
    pub(super) header_read_timeout: Option<Spanned<String>>,
    pub(super) idle_timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDiscovery {
    pub(super) timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReload {
    pub(super) debounce: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackend {
    pub(super) name: Option<Spanned<String>>,
    pub(super) endpoints: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) descriptor_set: Option<Spanned<String>>,
    pub(super) protos: Option<Spanned<RawProtos>>,
    pub(super) services: Option<RawServices>,
    pub(super) timeout: Option<Spanned<String>>,
    pub(super) refresh: Option<Spanned<String>>,
    pub(super) json: Option<RawJson>,
    pub(super) http_rules: Option<Vec<Spanned<RawHttpRule>>>,
    pub(super) balancing: Option<Spanned<String>>,
    pub(super) panic_threshold: Option<Spanned<u64>>,
    pub(super) health_check: Option<traffic::RawHealthCheck>,
    pub(super) outlier_detection: Option<traffic::RawOutlier>,
    pub(super) retries: Option<traffic::RawRetries>,
    // Secure edge (see `edge`).
    pub(super) tls: Option<edge::RawBackendTls>,
    pub(super) auth: Option<Spanned<edge::RawAuth>>,
    pub(super) rate_limit: Option<Spanned<edge::RawRateLimit>>,
    pub(super) max_concurrent_requests: Option<Spanned<u64>>,
    // Observability (see `observability`).
    pub(super) grpc_compression: Option<Spanned<String>>,
}

/// One `google.api.HttpRule`, in the shape of grpc-gateway's
/// `grpc_api_configuration` YAML (`http.rules[]`). The same struct serves the
/// rule and its additional bindings; the validator rejects `selector` and
/// `additional_bindings` inside an additional binding.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttpRule {
    pub(super) selector: Option<Spanned<String>>,
    pub(super) get: Option<Spanned<String>>,
    pub(super) put: Option<Spanned<String>>,
    pub(super) post: Option<Spanned<String>>,
    pub(super) delete: Option<Spanned<String>>,
    pub(super) patch: Option<Spanned<String>>,
    pub(super) custom: Option<Spanned<RawCustomPattern>>,
    pub(super) body: Option<String>,
    pub(super) response_body: Option<String>,
    pub(super) additional_bindings: Option<Spanned<Vec<Spanned<RawHttpRule>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCustomPattern {
    pub(super) kind: Option<Spanned<String>>,
    pub(super) path: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProtos {
    pub(super) files: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) include_paths: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServices {
    pub(super) include: Option<Vec<String>>,
    pub(super) exclude: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJson {
    pub(super) emit_unpopulated: Option<bool>,
    pub(super) strict: Option<bool>,
    pub(super) use_proto_names: Option<bool>,
    pub(super) enums_as_ints: Option<bool>,
}
