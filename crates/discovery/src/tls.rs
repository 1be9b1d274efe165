//! Reflection over TLS (`backends[].tls`): a tonic channel whose connector
//! opens TCP and performs the TLS handshake (ALPN h2) with the client
//! configuration the edge crate builds from the backend's files, the same one
//! its calls use.

use std::time::Duration;

use hyper_util::rt::TokioIo;
use switchboard_config::edge::BackendTls;
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint};

/// A channel to `endpoint` (`host:port`) over TLS.
pub(crate) async fn channel(
    endpoint: &str,
    timeout: Duration,
    tls: &BackendTls,
) -> Result<Channel, String> {
    let client = switchboard_edge::tls::client_config(tls)?;
    let host = endpoint
        .strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .unwrap_or_else(|| endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h));
    let name = client
        .server_name
        .clone()
        .unwrap_or_else(|| host.to_string());
    let server_name = rustls::pki_types::ServerName::try_from(name.clone())
        .map_err(|e| format!("invalid TLS server name `{name}`: {e}"))?;
    let addr = endpoint.to_string();
    let config = client.config.clone();
    let connector = tower::service_fn(move |_: http::Uri| {
        let (addr, config, server_name) = (addr.clone(), config.clone(), server_name.clone());
        async move {
            let tcp = TcpStream::connect(addr.as_str()).await?;
            let _ = tcp.set_nodelay(true);
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(server_name, tcp)
                .await?;
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    });
    Endpoint::from_shared(format!("https://{endpoint}"))
        .map_err(|e| format!("invalid endpoint: {e}"))?
        .connect_timeout(timeout)
        .connect_with_connector(connector)
        .await
        .map_err(|e| {
            let mut s = e.to_string();
            let mut cur = std::error::Error::source(&e);
            while let Some(c) = cur {
                s.push_str(": ");
                s.push_str(&c.to_string());
                cur = c.source();
            }
            s
        })
}
