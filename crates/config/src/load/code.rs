//! Configs built in code (the embedding library's builder) instead of read
//! from YAML: the defaults come from the loader itself (an empty document is
//! the default config), so a default has exactly one owner, and
//! [`Config::validate`] holds a value to the rules a file is held to for
//! whatever code can get wrong (names, endpoints, limits, `auth.jwt`).

use std::collections::HashSet;
use std::path::Path;

use super::values::{check_endpoint, is_name_char};
use crate::{Backend, Config, ConfigError};

/// What labels a config that came from no file, in errors and `/status`.
pub const IN_CODE: &str = "<in-code config>";

impl Default for Config {
    /// The config of an empty file: every default the YAML loader applies,
    /// no backends.
    fn default() -> Self {
        match super::parse_str("{}", Path::new(IN_CODE)) {
            Ok(config) => config,
            // An empty document is valid by construction (unit-tested below).
            Err(errors) => unreachable!("the empty config is invalid: {errors:?}"),
        }
    }
}

impl Backend {
    /// A backend with every default the YAML loader applies to
    /// `{name, endpoints}`: its API found by gRPC reflection, every service
    /// exposed, no deadline, grpc-gateway's JSON options. [`Config::validate`]
    /// checks the name and endpoints.
    pub fn new(
        name: impl Into<String>,
        endpoints: impl IntoIterator<Item = impl Into<String>>,
    ) -> Backend {
        let template = super::parse_str(
            "backends: [{name: b, endpoints: [\"127.0.0.1:1\"]}]",
            Path::new(IN_CODE),
        );
        match template.map(|mut c| c.backends.pop()) {
            Ok(Some(backend)) => Backend {
                name: name.into(),
                endpoints: endpoints.into_iter().map(Into::into).collect(),
                ..backend
            },
            // A fixed, valid document (unit-tested below).
            other => unreachable!("the backend template is invalid: {other:?}"),
        }
    }
}

impl Config {
    /// Checks a config built in code the way the YAML loader checks a file:
    /// backend names (non-empty, `[A-Za-z0-9_.-]`, unique), endpoints (at least
    /// one, each `host:port` or `dns:///host:port`), non-zero body and metadata
    /// limits, and that every `auth.jwt` names a JWT provider. Every problem
    /// is returned, labelled with `label` (there is no line to point at).
    pub fn validate(&self, label: &Path) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut error = |message: String| {
            errors.push(ConfigError {
                file: label.to_path_buf(),
                line: None,
                column: None,
                message,
            })
        };
        if self.max_body_bytes == 0 {
            error("limits.max_body_bytes must be greater than 0".into());
        }
        if self.max_metadata_bytes == 0 {
            error("limits.max_metadata_bytes must be greater than 0".into());
        }
        let mut seen = HashSet::new();
        for b in &self.backends {
            let who = format!("backend `{}`", b.name);
            if b.name.is_empty() {
                error("backend name must not be empty".into());
            } else if let Some(c) = b.name.chars().find(|c| !is_name_char(*c)) {
                error(format!(
                    "invalid backend name `{}`: character {c:?} is not allowed (use A-Z a-z 0-9 _ . -)",
                    b.name
                ));
            } else if !seen.insert(b.name.as_str()) {
                error(format!("duplicate backend name `{}`", b.name));
            }
            if b.endpoints.is_empty() {
                error(format!("{who}: endpoints must list at least one host:port"));
            }
            for ep in &b.endpoints {
                if let Err(why) = check_endpoint(ep) {
                    error(format!("{who}: invalid endpoint `{ep}`: {why}"));
                }
            }
            if let Some(auth) = &b.edge.auth
                && !self.edge.jwt_providers.iter().any(|p| p.name == auth.jwt)
            {
                error(format!(
                    "{who}: auth.jwt `{}` names no jwt_providers entry",
                    auth.jwt
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_empty_files() {
        let config = Config::default();
        assert_eq!(config, crate::parse_str("", Path::new(IN_CODE)).unwrap());
        assert!(config.backends.is_empty());
        assert_eq!(config.max_body_bytes, 4 * 1024 * 1024);
        let b = Backend::new("greeter", ["127.0.0.1:50051"]);
        assert_eq!(b.name, "greeter");
        assert_eq!(b.endpoints, ["127.0.0.1:50051"]);
        assert_eq!(b.descriptors, crate::DescriptorSource::Reflection);
        assert_eq!(b.timeout, None);
    }

    #[test]
    fn validate_reports_every_problem_the_loader_would() {
        let mut config = Config {
            backends: vec![
                Backend::new("a", ["127.0.0.1:1"]),
                Backend::new("a", ["dns:///svc.ns:50051"]),
                Backend::new("b c", Vec::<String>::new()),
                Backend::new("d", ["no-port", "h:0"]),
            ],
            max_body_bytes: 0,
            ..Config::default()
        };
        let errors: Vec<String> = config
            .validate(Path::new(IN_CODE))
            .unwrap_err()
            .iter()
            .map(ConfigError::render)
            .collect();
        assert_eq!(errors.len(), 6, "{errors:#?}");
        assert!(errors[0].starts_with("<in-code config>: limits.max_body_bytes"));
        assert!(errors[1].contains("duplicate backend name `a`"));
        assert!(errors[2].contains("invalid backend name `b c`"));
        assert!(errors[3].contains("endpoints must list at least one"));
        assert!(errors[4].contains("invalid endpoint `no-port`"));
        assert!(errors[5].contains("invalid endpoint `h:0`"));
        config.backends.truncate(1);
        config.max_body_bytes = 1;
        assert_eq!(config.validate(Path::new(IN_CODE)), Ok(()));
    }
}
