//! A small HTTP(S) GET for JWKS URLs: hyper's client over TCP, with rustls
//! (system roots, ALPN h2 and http/1.1) for `https://`. Bounded in time (10 s)
//! and size (1 MiB): a key set is a few kilobytes.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BYTES: usize = 1024 * 1024;

/// GETs `url` and returns the body of a 200 answer.
pub(crate) async fn get(url: &str) -> Result<Vec<u8>, String> {
    static CLIENT: OnceLock<Client<Connector, Empty<Bytes>>> = OnceLock::new();
    let client = CLIENT.get_or_init(|| Client::builder(TokioExecutor::new()).build(Connector));
    let uri: Uri = url.parse().map_err(|e| format!("invalid URL {url}: {e}"))?;
    let request = http::Request::get(uri)
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, "switchboard")
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let work = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("GET {url}: {}", chain(&e)))?;
        if response.status() != http::StatusCode::OK {
            return Err(format!("GET {url}: HTTP {}", response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_BYTES)
            .collect()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        Ok(body.to_bytes().to_vec())
    };
    tokio::time::timeout(TIMEOUT, work)
        .await
        .map_err(|_| format!("GET {url}: timed out after {TIMEOUT:?}"))?
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// TCP, plus TLS for `https`.
#[derive(Clone)]
struct Connector;

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(async move {
            let host = uri.host().ok_or("URL has no host")?.to_string();
            let tls = uri.scheme_str() == Some("https");
            let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
            let bare = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let tcp = TcpStream::connect((bare.as_str(), port)).await?;
            let _ = tcp.set_nodelay(true);
            if !tls {
                return Ok(TokioIo::new(Stream::Plain(tcp)));
            }
            static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
            let config = CONFIG
                .get_or_init(|| {
                    let roots = crate::tls::system_roots()?;
                    let mut c = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
                        .with_safe_default_protocol_versions()
                        .map_err(|e| e.to_string())?
                        .with_root_certificates(roots)
                        .with_no_client_auth();
                    c.alpn_protocols = vec![b"http/1.1".to_vec()];
                    Ok(Arc::new(c))
                })
                .clone()?;
            let name = rustls_pki_types::ServerName::try_from(bare)?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            Ok(TokioIo::new(Stream::Tls(Box::new(stream))))
        })
    }
}

/// A plaintext or TLS client stream.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
