//! What can go wrong while building or driving an embedded gateway.

use std::net::SocketAddr;

use switchboard_config::ConfigError;

/// Why a gateway could not be built, bound or asked for a reload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The config could not be read or is invalid: every problem, each with
    /// its `file:line:column` (or the in-code label) as `switchboard check`
    /// prints it.
    #[error("{} error(s) in the config: {}", .0.len(), render(.0))]
    Config(Vec<ConfigError>),
    /// The first reload rejected the config although it parsed (a TLS
    /// certificate, key or JWKS file it names is unreadable or invalid). A
    /// gateway never starts without a first good table.
    #[error("config rejected: {}", .0.join("; "))]
    Rejected(Vec<String>),
    /// A listener address could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for (`listen:` or `admin:` of the config).
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The SIGHUP handler could not be installed
    /// ([`Builder::reload_on_sighup`](crate::Builder::reload_on_sighup)).
    #[error("cannot install the SIGHUP handler: {0}")]
    Signal(std::io::Error),
    /// The access log could not be opened, or the trace exporter not
    /// started (`access_log:`, `tracing:`).
    #[error("{0}")]
    Observability(String),
    /// The builder or handle was used in a way that has no meaning (a config
    /// file and a config value together, a config value replaced on a
    /// gateway that reads a file).
    #[error("{0}")]
    Usage(&'static str),
    /// The gateway was shut down: it no longer reloads.
    #[error("the gateway is shut down")]
    Stopped,
}

fn render(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ConfigError::render)
        .collect::<Vec<_>>()
        .join("; ")
}
