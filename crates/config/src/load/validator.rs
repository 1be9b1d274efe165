//! The validator's state (file, base directory, collected errors) and its
//! primitives: report an error at a YAML location, parse a socket address or a
//! duration. A leaf: the section validators (`validate` for the top level and
//! backends, `traffic`, `cors`) add their `impl Validator` blocks on top of it
//! without importing each other.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::report::located;
use super::values::parse_duration;
use crate::ConfigError;

pub(super) struct Validator {
    pub(super) file: PathBuf,
    pub(super) base: PathBuf,
    pub(super) errors: Vec<ConfigError>,
    /// Names of the declared `jwt_providers`, for backends' `auth.jwt` to refer to.
    pub(super) jwt_names: Vec<String>,
}

impl Validator {
    pub(super) fn error(&mut self, at: &Location, message: impl Into<String>) {
        self.errors
            .push(located(&self.file, Some(at), message.into()));
    }

    pub(super) fn socket_addr(
        &mut self,
        key: &str,
        raw: Option<Spanned<String>>,
        default: SocketAddr,
    ) -> SocketAddr {
        let Some(raw) = raw else { return default };
        match raw.value.trim().parse::<SocketAddr>() {
            Ok(addr) if addr.port() == 0 => {
                self.error(
                    &raw.referenced,
                    format!(
                        "invalid {key} address `{}`: port must be 1..=65535",
                        raw.value
                    ),
                );
                default
            }
            Ok(addr) => addr,
            Err(_) => {
                let msg = format!(
                    "invalid {key} address `{}`: expected ip:port such as `{default}` (IPv6 as `[::1]:8080`)",
                    raw.value
                );
                self.error(&raw.referenced, msg);
                default
            }
        }
    }

    /// Parses an optional duration, reporting bad ones. `None` if absent or invalid.
    pub(super) fn duration(
        &mut self,
        key: &str,
        raw: Option<&Spanned<String>>,
        allow_zero: bool,
    ) -> Option<Duration> {
        let raw = raw?;
        match parse_duration(&raw.value) {
            Ok(d) if d.is_zero() && !allow_zero => {
                self.error(&raw.referenced, format!("{key} must be greater than 0"));
                None
            }
            Ok(d) => Some(d),
            Err(why) => {
                self.error(
                    &raw.referenced,
                    format!("invalid {key} `{}`: {why}", raw.value),
                );
                None
            }
        }
    }
}
