//! Validation: the raw tree -> the public model, collecting every error.

use std::collections::HashMap;

use serde_saphyr::{Location, Spanned};

use super::raw::*;
use super::report::pos;
use super::traffic;
use super::validator::Validator;
use super::values::*;
use super::{
    DEFAULT_ADMIN, DEFAULT_DISCOVERY_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_METADATA_BYTES, DEFAULT_RELOAD_DEBOUNCE,
};
use crate::{Backend, Config, DescriptorSource, HttpBinding, HttpRule, JsonOptions, ServiceFilter};

impl Validator {
    pub(super) fn config(&mut self, raw: RawConfig) -> Config {
        let listen = self.socket_addr("listen", raw.listen, DEFAULT_LISTEN);
        let admin = self.socket_addr("admin", raw.admin, DEFAULT_ADMIN);

        let (max_body_bytes, max_metadata_bytes, listener_limits) = match raw.limits {
            Some(l) => (
                l.max_body_bytes,
                l.max_metadata_bytes,
                super::edge::RawListenerLimits {
                    max_connections: l.max_connections,
                    header_read_timeout: l.header_read_timeout,
                    idle_timeout: l.idle_timeout,
                },
            ),
            None => (
                None,
                None,
                super::edge::RawListenerLimits {
                    max_connections: None,
                    header_read_timeout: None,
                    idle_timeout: None,
                },
            ),
        };
        let max_body_bytes = self.byte_limit(
            "limits.max_body_bytes",
            max_body_bytes,
            DEFAULT_MAX_BODY_BYTES,
        );
        let max_metadata_bytes = self.byte_limit(
            "limits.max_metadata_bytes",
            max_metadata_bytes,
            DEFAULT_MAX_METADATA_BYTES,
        );

        let discovery_timeout = raw.discovery.and_then(|d| d.timeout);
        let discovery_timeout = self
            .duration("discovery.timeout", discovery_timeout.as_ref(), false)
            .unwrap_or(DEFAULT_DISCOVERY_TIMEOUT);
        let reload_debounce = raw.reload.and_then(|r| r.debounce);
        let reload_debounce = self
            .duration("reload.debounce", reload_debounce.as_ref(), true)
            .unwrap_or(DEFAULT_RELOAD_DEBOUNCE);

        let upstream = self.upstream_settings(raw.upstream);
        let shutdown = self.shutdown(raw.shutdown);

        // Before the backends: their `auth.jwt` must name one of these.
        let edge = crate::edge::Edge {
            tls: self.listener_tls(raw.tls),
            jwt_providers: self.jwt_providers(raw.jwt_providers),
            listener: self.listener_limits(listener_limits),
        };

        let mut seen: HashMap<String, Location> = HashMap::new();
        let mut backends = Vec::new();
        for raw in raw.backends.unwrap_or_default() {
            // Empty names are reported by `backend`; a second "empty" error adds nothing.
            if let Some(name) = raw.value.name.as_ref().filter(|n| !n.value.is_empty()) {
                if let Some(first) = seen.get(&name.value) {
                    let msg = format!(
                        "duplicate backend name `{}` (first defined at line {})",
                        name.value,
                        first.line()
                    );
                    self.error(&name.referenced, msg);
                } else {
                    seen.insert(name.value.clone(), name.referenced);
                }
            }
            backends.push(self.backend(raw));
        }

        let cors = self.cors(raw.cors);
        let http = self.http(raw.http);
        let runtime = self.runtime(raw.runtime);
        let observability = self.observability(super::observability::RawObservability {
            request_id: raw.request_id,
            access_log: raw.access_log,
            tracing: raw.tracing,
            compression: raw.compression,
        });

        Config {
            listen,
            admin,
            max_body_bytes,
            max_metadata_bytes,
            discovery_timeout,
            reload_debounce,
            upstream,
            shutdown,
            backends,
            cors,
            http,
            edge,
            observability,
            runtime,
        }
    }

    /// A size limit in bytes: > 0, `default` when absent.
    fn byte_limit(&mut self, key: &str, raw: Option<Spanned<u64>>, default: u64) -> usize {
        match raw {
            None => default as usize,
            Some(n) if n.value == 0 => {
                self.error(&n.referenced, format!("{key} must be greater than 0"));
                0
            }
            Some(n) => usize::try_from(n.value).unwrap_or(usize::MAX),
        }
    }

    /// Listener addresses must be IP literals: binding happens before any DNS is
    /// available to us, and `localhost` is ambiguous between IPv4 and IPv6.
    pub(super) fn backend(&mut self, raw: Spanned<RawBackend>) -> Backend {
        let at = raw.referenced;
        let raw = raw.value;

        let name = match raw.name {
            None => {
                self.error(&at, "backend is missing required key `name`");
                String::new()
            }
            Some(n) => {
                if n.value.is_empty() {
                    self.error(&n.referenced, "backend name must not be empty");
                } else if let Some(c) = n.value.chars().find(|c| !is_name_char(*c)) {
                    let msg = format!(
                        "invalid backend name `{}`: character {c:?} is not allowed (use A-Z a-z 0-9 _ . -)",
                        n.value
                    );
                    self.error(&n.referenced, msg);
                }
                n.value
            }
        };
        // Prefix messages with the backend so errors read well in a long list.
        let who = if name.is_empty() {
            "backend".to_string()
        } else {
            format!("backend `{name}`")
        };

        let mut endpoints = Vec::new();
        match raw.endpoints {
            None => self.error(&at, format!("{who} is missing required key `endpoints`")),
            Some(list) if list.value.is_empty() => {
                self.error(
                    &list.referenced,
                    format!("{who}: endpoints must list at least one host:port"),
                );
            }
            Some(list) => {
                for ep in list.value {
                    if let Err(why) = check_endpoint(&ep.value) {
                        self.error(
                            &ep.referenced,
                            format!("{who}: invalid endpoint `{}`: {why}", ep.value),
                        );
                    }
                    endpoints.push(ep.value);
                }
            }
        }

        let descriptors = match (raw.descriptor_set, raw.protos) {
            (Some(set), Some(protos)) => {
                // Point at whichever comes second: that is the one that conflicts.
                let later = if pos(&protos.referenced) > pos(&set.referenced) {
                    protos.referenced
                } else {
                    set.referenced
                };
                self.error(
                    &later,
                    format!("{who}: give at most one of `descriptor_set` and `protos`"),
                );
                DescriptorSource::Reflection
            }
            (Some(set), None) => {
                if set.value.trim().is_empty() {
                    self.error(
                        &set.referenced,
                        format!("{who}: descriptor_set must not be empty"),
                    );
                }
                DescriptorSource::DescriptorSet(self.base.join(&set.value))
            }
            (None, Some(protos)) => self.protos(&who, protos),
            (None, None) => DescriptorSource::Reflection,
        };

        let services = raw
            .services
            .map_or_else(ServiceFilter::default, |s| ServiceFilter {
                include: s.include.unwrap_or_default(),
                exclude: s.exclude.unwrap_or_default(),
            });

        let timeout = self.duration(&format!("{who}: timeout"), raw.timeout.as_ref(), false);
        // `off` turns periodic re-discovery off; anything else is a duration > 0.
        let refresh = match &raw.refresh {
            Some(r) if r.value.trim() == "off" => None,
            Some(r) => self
                .duration(&format!("{who}: refresh"), Some(r), false)
                .or(Some(crate::DEFAULT_REFRESH)),
            None => Some(crate::DEFAULT_REFRESH),
        };

        let d = JsonOptions::default();
        let json = raw.json.map_or(d, |j| JsonOptions {
            emit_unpopulated: j.emit_unpopulated.unwrap_or(d.emit_unpopulated),
            strict: j.strict.unwrap_or(d.strict),
            use_proto_names: j.use_proto_names.unwrap_or(d.use_proto_names),
            enums_as_ints: j.enums_as_ints.unwrap_or(d.enums_as_ints),
        });

        let mut http_rules = Vec::new();
        for (i, rule) in raw.http_rules.unwrap_or_default().into_iter().enumerate() {
            let what = format!("{who}: http_rules[{i}]");
            if let Some(rule) = self.http_rule(&what, rule) {
                http_rules.push(rule);
            }
        }

        let traffic = self.traffic(
            &who,
            traffic::RawTraffic {
                balancing: raw.balancing,
                panic_threshold: raw.panic_threshold,
                health_check: raw.health_check,
                outlier_detection: raw.outlier_detection,
                retries: raw.retries,
            },
        );

        let edge = self.backend_edge(
            &who,
            super::edge::RawBackendEdge {
                tls: raw.tls,
                auth: raw.auth,
                rate_limit: raw.rate_limit,
                max_concurrent_requests: raw.max_concurrent_requests,
            },
        );
        let grpc_compression = self.grpc_compression(&who, raw.grpc_compression);

        Backend {
            name,
            endpoints,
            descriptors,
            services,
            timeout,
            refresh,
            json,
            http_rules,
            traffic,
            edge,
            grpc_compression,
        }
    }

    /// Validates one configured HTTP rule: a well-formed selector, exactly one
    /// pattern per binding, additional bindings one level deep. Templates and field
    /// names are checked later, against the backend's descriptors, by the route
    /// stage (which reports them as route errors). `None` if anything is wrong.
    pub(super) fn http_rule(&mut self, what: &str, raw: Spanned<RawHttpRule>) -> Option<HttpRule> {
        let at = raw.referenced;
        let mut rule = raw.value;
        let errors_before = self.errors.len();
        let selector = match rule.selector.take() {
            None => {
                self.error(&at, format!("{what} is missing required key `selector`"));
                String::new()
            }
            Some(s) => {
                let name = s.value.trim().strip_prefix('.').unwrap_or(s.value.trim());
                if !is_method_selector(name) {
                    self.error(
                        &s.referenced,
                        format!(
                            "{what}: invalid selector `{}`: expected one method as `package.Service.Method` (no wildcards)",
                            s.value
                        ),
                    );
                }
                name.to_owned()
            }
        };
        let extra = rule.additional_bindings.take();
        let binding = self.http_binding(what, at, rule);
        let mut additional_bindings = Vec::new();
        for (j, extra) in extra
            .map(|e| e.value)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let what = format!("{what}.additional_bindings[{j}]");
            let at = extra.referenced;
            let mut extra = extra.value;
            if let Some(s) = extra.selector.take() {
                self.error(
                    &s.referenced,
                    format!("{what}: `selector` is only allowed on the rule itself"),
                );
            }
            if let Some(nested) = extra.additional_bindings.take() {
                self.error(
                    &nested.referenced,
                    format!("{what}: additional_bindings cannot be nested"),
                );
            }
            if let Some(b) = self.http_binding(&what, at, extra) {
                additional_bindings.push(b);
            }
        }
        let binding = binding?;
        (self.errors.len() == errors_before).then_some(HttpRule {
            selector,
            binding,
            additional_bindings,
        })
    }

    /// One binding's pattern (exactly one of get/put/post/delete/patch/custom),
    /// body and response_body.
    pub(super) fn http_binding(
        &mut self,
        what: &str,
        at: Location,
        raw: RawHttpRule,
    ) -> Option<HttpBinding> {
        let simple = [
            ("GET", raw.get),
            ("PUT", raw.put),
            ("POST", raw.post),
            ("DELETE", raw.delete),
            ("PATCH", raw.patch),
        ];
        let mut patterns: Vec<(Location, String, Option<Spanned<String>>)> = simple
            .into_iter()
            .filter_map(|(m, p)| p.map(|p| (p.referenced, m.to_owned(), Some(p))))
            .collect();
        if let Some(custom) = raw.custom {
            let kind = match custom.value.kind {
                Some(k) if is_http_token(&k.value) => k.value,
                Some(k) => {
                    self.error(
                        &k.referenced,
                        format!("{what}: custom.kind `{}` is not an HTTP method", k.value),
                    );
                    String::new()
                }
                None => {
                    self.error(
                        &custom.referenced,
                        format!("{what}: custom is missing required key `kind`"),
                    );
                    String::new()
                }
            };
            if custom.value.path.is_none() {
                self.error(
                    &custom.referenced,
                    format!("{what}: custom is missing required key `path`"),
                );
            }
            patterns.push((custom.referenced, kind, custom.value.path));
        }
        patterns.sort_by_key(|(l, _, _)| pos(l));
        if patterns.len() > 1 {
            self.error(
                &patterns[1].0,
                format!(
                    "{what}: give exactly one of `get`, `put`, `post`, `delete`, `patch` and `custom`"
                ),
            );
            return None;
        }
        let Some((_, method, path)) = patterns.pop() else {
            self.error(
                &at,
                format!(
                    "{what} has no pattern: give one of `get`, `put`, `post`, `delete`, `patch` or `custom`"
                ),
            );
            return None;
        };
        let path = path?;
        if !path.value.starts_with('/') {
            self.error(
                &path.referenced,
                format!("{what}: path `{}` must start with `/`", path.value),
            );
            return None;
        }
        Some(HttpBinding {
            method,
            path: path.value,
            body: raw.body.unwrap_or_default(),
            response_body: raw.response_body.unwrap_or_default(),
        })
    }

    pub(super) fn protos(&mut self, who: &str, protos: Spanned<RawProtos>) -> DescriptorSource {
        let mut files = Vec::new();
        match protos.value.files {
            Some(list) if !list.value.is_empty() => {
                for f in list.value {
                    if f.value.trim().is_empty() {
                        self.error(
                            &f.referenced,
                            format!("{who}: protos.files entries must not be empty"),
                        );
                    }
                    files.push(self.base.join(&f.value));
                }
            }
            Some(list) => self.error(
                &list.referenced,
                format!("{who}: protos.files must list at least one .proto file"),
            ),
            None => self.error(
                &protos.referenced,
                format!("{who}: protos.files must list at least one .proto file"),
            ),
        }
        let include_paths = match protos.value.include_paths {
            Some(list) if !list.is_empty() => {
                list.iter().map(|p| self.base.join(&p.value)).collect()
            }
            _ => vec![self.base.clone()],
        };
        DescriptorSource::Protos {
            files,
            include_paths,
        }
    }
}
