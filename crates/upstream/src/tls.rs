//! TLS to a backend's endpoints (`backends[].tls`): the rustls client
//! configuration is built by the edge crate from the config's files; this
//! module only carries it to the connections and performs the handshake
//! before HTTP/2 starts. Endpoints of a TLS backend are keyed apart from
//! plaintext ones to the same address, so both can coexist.

use std::sync::Arc;

use tokio::net::TcpStream;

/// A backend's TLS client settings. Equal when built from the same config
/// (`id`), so unchanged backends keep their connections across reloads.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    /// Identifies the configuration (a hash of the backend's `tls:` block).
    pub id: u64,
    /// The rustls client configuration the endpoint's connections use.
    pub config: Arc<rustls::ClientConfig>,
    /// SNI and the name verified; `None`: the endpoint's host.
    pub server_name: Option<String>,
}

impl PartialEq for UpstreamTls {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

/// The endpoint cache's key for `addr` reached with `tls`.
pub(crate) fn key(addr: &str, tls: Option<&Arc<UpstreamTls>>) -> String {
    match tls {
        None => addr.to_string(),
        Some(t) => format!("{addr}#tls{:016x}", t.id),
    }
}

/// Performs the TLS handshake on `tcp` to `addr` (`host:port`).
pub(crate) async fn handshake(
    tls: &UpstreamTls,
    addr: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let host = match &tls.server_name {
        Some(name) => name.clone(),
        None => host_of(addr).to_string(),
    };
    let name = rustls::pki_types::ServerName::try_from(host.clone())
        .map_err(|e| format!("invalid TLS server name `{host}`: {e}"))?;
    tokio_rustls::TlsConnector::from(tls.config.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake (server name `{host}`): {e}"))
}

/// `host` of `host:port` or `[v6]:port`.
pub(crate) fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    addr.rsplit_once(':').map_or(addr, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_of("a.internal:443"), "a.internal");
        assert_eq!(host_of("[::1]:50051"), "::1");
        assert_eq!(host_of("10.0.0.1:1"), "10.0.0.1");
    }
}
