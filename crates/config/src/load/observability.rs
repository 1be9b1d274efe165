//! Validation of `request_id:`, `access_log:`, `tracing:`, `compression:` and
//! `backends[].grpc_compression` (see [`crate::Observability`]). Same rules as
//! the rest of the loader: every problem is collected and points at its node.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::validator::Validator;
use super::values::is_http_token;
use crate::observability::{
    AccessLog, Compression, GrpcCompression, LogFormat, LogTarget, Observability, RequestId,
    Tracing,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequestId {
    header: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccessLog {
    format: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTracing {
    otlp_endpoint: Option<Spanned<String>>,
    sample_ratio: Option<Spanned<f64>>,
    service_name: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCompression {
    enabled: Option<bool>,
    min_bytes: Option<u64>,
}

/// The four top-level sections as read.
pub(super) struct RawObservability {
    pub(super) request_id: Option<RawRequestId>,
    pub(super) access_log: Option<Spanned<RawAccessLog>>,
    pub(super) tracing: Option<Spanned<RawTracing>>,
    pub(super) compression: Option<RawCompression>,
}

impl Validator {
    pub(super) fn observability(&mut self, raw: RawObservability) -> Observability {
        Observability {
            request_id: self.request_id(raw.request_id),
            access_log: self.access_log(raw.access_log),
            tracing: self.tracing(raw.tracing),
            compression: raw.compression.map_or_else(Compression::default, |c| {
                let d = Compression::default();
                Compression {
                    enabled: c.enabled.unwrap_or(d.enabled),
                    min_bytes: c.min_bytes.map_or(d.min_bytes, |n| n as usize),
                }
            }),
        }
    }

    fn request_id(&mut self, raw: Option<RawRequestId>) -> RequestId {
        let Some(header) = raw.and_then(|r| r.header) else {
            return RequestId::default();
        };
        let name = header.value.trim().to_ascii_lowercase();
        // Pseudo-headers and hop-by-hop names cannot carry it end to end.
        let reserved = ["connection", "te", "transfer-encoding", "upgrade", "host"];
        if !is_http_token(&name) || reserved.contains(&name.as_str()) || name.starts_with("grpc-") {
            self.error(
                &header.referenced,
                format!(
                    "request_id.header: `{}` cannot carry a request ID (a header name, not grpc-* or hop-by-hop)",
                    header.value
                ),
            );
            return RequestId::default();
        }
        RequestId { header: name }
    }

    fn access_log(&mut self, raw: Option<Spanned<RawAccessLog>>) -> Option<AccessLog> {
        let raw = raw?.value;
        let format = match raw.format {
            None => LogFormat::Json,
            Some(f) => match f.value.as_str() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                other => {
                    self.error(
                        &f.referenced,
                        format!(
                            "access_log.format: unknown format `{other}`; expected json or text"
                        ),
                    );
                    LogFormat::Json
                }
            },
        };
        let to = match raw.to {
            None => LogTarget::Stdout,
            Some(t) => match t.value.trim() {
                "stdout" => LogTarget::Stdout,
                "stderr" => LogTarget::Stderr,
                "" => {
                    self.error(
                        &t.referenced,
                        "access_log.to: expected stdout, stderr or a file path",
                    );
                    LogTarget::Stdout
                }
                path => LogTarget::File(self.base.join(path)),
            },
        };
        Some(AccessLog { format, to })
    }

    fn tracing(&mut self, raw: Option<Spanned<RawTracing>>) -> Option<Tracing> {
        let raw = raw?;
        let (at, raw) = (raw.referenced, raw.value);
        let otlp_endpoint = match raw.otlp_endpoint {
            None => {
                self.error(&at, "tracing is missing required key `otlp_endpoint`");
                String::new()
            }
            Some(e) => {
                let value = e.value.trim().to_owned();
                let rest = value
                    .strip_prefix("http://")
                    .or_else(|| value.strip_prefix("https://"));
                // scheme://host[:port][/path]: a host is required.
                let ok = rest.is_some_and(|r| {
                    let authority = r.split('/').next().unwrap_or_default();
                    !authority.is_empty()
                        && !authority.starts_with(':')
                        && !authority.contains(char::is_whitespace)
                });
                if !ok {
                    self.error(
                        &e.referenced,
                        format!(
                            "tracing.otlp_endpoint: `{value}` is not an http:// or https:// URL"
                        ),
                    );
                }
                value
            }
        };
        let sample_ratio = match raw.sample_ratio {
            None => 1.0,
            Some(r) if (0.0..=1.0).contains(&r.value) => r.value,
            Some(r) => {
                self.error(
                    &r.referenced,
                    format!("tracing.sample_ratio: {} is not within 0.0..=1.0", r.value),
                );
                1.0
            }
        };
        let service_name = match raw.service_name {
            None => "switchboard".to_owned(),
            Some(s) if s.value.trim().is_empty() => {
                self.error(&s.referenced, "tracing.service_name must not be empty");
                "switchboard".to_owned()
            }
            Some(s) => s.value,
        };
        Some(Tracing {
            otlp_endpoint,
            sample_ratio,
            service_name,
        })
    }

    pub(super) fn grpc_compression(
        &mut self,
        who: &str,
        raw: Option<Spanned<String>>,
    ) -> GrpcCompression {
        match raw {
            None => GrpcCompression::Identity,
            Some(c) => {
                match c.value.as_str() {
                    "gzip" => GrpcCompression::Gzip,
                    "identity" | "none" => GrpcCompression::Identity,
                    other => {
                        self.error(
                        &c.referenced,
                        format!("{who}: grpc_compression: unknown `{other}`; expected gzip or identity"),
                    );
                        GrpcCompression::Identity
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::load::test_support::{errors, parse};
    use crate::observability::*;

    #[test]
    fn defaults() {
        let c = parse("{}").unwrap();
        assert_eq!(c.observability, Observability::default());
        assert_eq!(c.observability.request_id.header, "x-request-id");
        assert!(c.observability.access_log.is_none() && c.observability.tracing.is_none());
        assert!(c.observability.compression.enabled);
    }

    #[test]
    fn every_key() {
        let c = parse(
            "request_id: {header: X-Correlation-ID}\naccess_log: {format: text, to: logs/access.log}\ntracing: {otlp_endpoint: \"http://127.0.0.1:4317\", sample_ratio: 0.25, service_name: edge}\ncompression: {enabled: false, min_bytes: 10}\nbackends:\n  - {name: a, endpoints: [\"h:1\"], grpc_compression: gzip}\n",
        )
        .unwrap();
        let o = &c.observability;
        assert_eq!(o.request_id.header, "x-correlation-id");
        assert_eq!(
            o.access_log,
            Some(AccessLog {
                format: LogFormat::Text,
                to: LogTarget::File(PathBuf::from("/etc/logs/access.log")),
            })
        );
        let t = o.tracing.as_ref().unwrap();
        assert_eq!(t.otlp_endpoint, "http://127.0.0.1:4317");
        assert_eq!(t.sample_ratio, 0.25);
        assert_eq!(t.service_name, "edge");
        assert_eq!(
            o.compression,
            Compression {
                enabled: false,
                min_bytes: 10
            }
        );
        assert_eq!(c.backends[0].grpc_compression, GrpcCompression::Gzip);
        let c = parse("access_log: {to: stderr}\n").unwrap();
        assert_eq!(
            c.observability.access_log,
            Some(AccessLog {
                format: LogFormat::Json,
                to: LogTarget::Stderr
            })
        );
    }

    #[test]
    fn bad_values_are_located_errors() {
        let e = errors(
            "request_id: {header: \"bad header\"}\naccess_log: {format: xml}\ntracing: {otlp_endpoint: \"localhost:4317\", sample_ratio: 2}\nbackends:\n  - {name: a, endpoints: [\"h:1\"], grpc_compression: br}\n",
        );
        assert!(
            e.iter()
                .any(|e| e.contains("1:22") && e.contains("request_id.header")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|e| e.contains("2:22") && e.contains("unknown format `xml`")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|e| e.contains("tracing.otlp_endpoint")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|e| e.contains("tracing.sample_ratio")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|e| e.contains("grpc_compression: unknown `br`")),
            "{e:?}"
        );
        let e = errors("tracing: {sample_ratio: 1}\n");
        assert!(
            e.iter()
                .any(|e| e.contains("missing required key `otlp_endpoint`")),
            "{e:?}"
        );
    }
}
