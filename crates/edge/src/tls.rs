//! TLS material: PEM files in, rustls configurations out.
//!
//! - **Listener**: [`ListenerTls`] holds the rustls `ServerConfig` the accept
//!   loop hands to each new handshake. The certificate comes from a
//!   [`ResolvesServerCert`] backed by an `ArcSwap<CertifiedKey>`, so a rotated
//!   pair is swapped in without rebuilding the config (session tickets and the
//!   resumption cache survive); only a change of `client_ca` (or of TLS on/off)
//!   builds a new config. Established connections keep the pair they
//!   negotiated. ALPN offers `h2` then `http/1.1`, so native gRPC and gRPC-Web
//!   work over TLS.
//! - **Backends**: [`client_config`] builds the `ClientConfig` for a backend's
//!   `tls:` (its CA or the system roots, an optional client certificate, ALPN
//!   `h2`).
//! - **Checks**: [`inspect_pair`] and [`inspect_ca`] read files the way the
//!   gateway will, and report what `switchboard check` prints (key matches
//!   certificate, expiry).
//!
//! PEM is parsed with rustls-pki-types' `PemObject` (rustls-pemfile is archived).
//! The one crypto provider is ring.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The process's rustls crypto provider (ring).
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: std::sync::OnceLock<Arc<CryptoProvider>> = std::sync::OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// Reads a PEM certificate chain (leaf first). At least one certificate.
pub(crate) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {}", path.display(), pem_error(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {}", path.display(), pem_error(&e)))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no PEM certificate (`-----BEGIN CERTIFICATE-----`) found",
            path.display()
        ));
    }
    Ok(certs)
}

/// Reads a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{}: {}", path.display(), pem_error(&e)))
}

fn pem_error(e: &rustls_pki_types::pem::Error) -> String {
    match e {
        rustls_pki_types::pem::Error::Io(io) => io.to_string(),
        rustls_pki_types::pem::Error::NoItemsFound => {
            "no PEM item of the expected kind found".into()
        }
        other => format!("invalid PEM: {other:?}"),
    }
}

/// A certificate chain and its private key, checked to belong together.
pub(crate) fn certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let chain = read_certs(cert)?;
    let der = read_key(key)?;
    CertifiedKey::from_der(chain, der, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "{} does not match the certificate in {} (key mismatch)",
            key.display(),
            cert.display()
        ),
        other => format!("{} with {}: {other}", cert.display(), key.display()),
    })
}

/// A root store from a PEM bundle of CA certificates.
pub(crate) fn root_store(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path)? {
        roots
            .add(cert)
            .map_err(|e| format!("{}: not a usable CA certificate: {e}", path.display()))?;
    }
    Ok(roots)
}

/// The system's trusted roots (what `tls: {}` on a backend means).
pub fn system_roots() -> Result<RootCertStore, String> {
    static ROOTS: std::sync::OnceLock<Result<RootCertStore, String>> = std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "none installed".into());
                return Err(format!(
                    "no system root certificates ({why}); give the backend's tls.ca"
                ));
            }
            Ok(roots)
        })
        .clone()
}

/// The listener's TLS state: what new handshakes use.
#[derive(Debug)]
pub struct ListenerTls {
    /// Handed to `tokio_rustls::TlsAcceptor` per connection.
    pub config: Arc<ServerConfig>,
    /// The files it came from, to tell a rotation from a changed setup.
    pub(crate) files: switchboard_config::edge::ListenerTls,
    resolver: Arc<SwapResolver>,
    /// The pair this load read; made live by `activate`.
    key: Arc<CertifiedKey>,
    /// The leaf certificate's notAfter, for `/status`.
    pub(crate) not_after: Option<SystemTime>,
    /// A hash of the client CA bundle the verifier was built from.
    client_ca_digest: Option<u64>,
    /// The files' modification times and sizes as of this load, so a watcher
    /// can tell when they change (see `Edge::watch_files`).
    pub(crate) stamp: Vec<Option<(SystemTime, u64)>>,
}

/// Modification time and size of each of `files`' paths (`None`: unreadable).
pub(crate) fn stamp(
    files: &switchboard_config::edge::ListenerTls,
) -> Vec<Option<(SystemTime, u64)>> {
    [
        Some(files.cert.as_path()),
        Some(files.key.as_path()),
        files.client_ca.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(|p| {
        let m = std::fs::metadata(p).ok()?;
        Some((m.modified().ok()?, m.len()))
    })
    .collect()
}

/// Serves whichever pair was stored last.
#[derive(Debug)]
struct SwapResolver(ArcSwap<CertifiedKey>);

impl ResolvesServerCert for SwapResolver {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

impl ListenerTls {
    /// Makes this pair the one new handshakes get (see [`Self::load`]).
    pub(crate) fn activate(&self) {
        self.resolver.0.store(self.key.clone());
    }

    /// Loads the listener's files. With `previous` built from the same
    /// `client_ca`, its config and resolver are reused (a rotation: the new
    /// pair goes live in `activate`); otherwise a new config is built.
    pub fn load(
        files: &switchboard_config::edge::ListenerTls,
        previous: Option<&ListenerTls>,
    ) -> Result<ListenerTls, String> {
        // Taken first: a change while reading shows as a difference next time.
        let stamp = stamp(files);
        let key = Arc::new(certified_key(&files.cert, &files.key)?);
        let not_after = key.cert.first().and_then(|c| validity(c).map(|v| v.1));
        // Verify the client CA (when set) on every load, so that a broken file is
        // reported even when nothing else changed.
        let client_roots = files.client_ca.as_deref().map(root_store).transpose()?;
        if let Some(prev) = previous
            && prev.files.client_ca == files.client_ca
            && !client_ca_changed(prev, files)
        {
            // A rotation: the pair is stored into the live resolver by `activate`.
            return Ok(ListenerTls {
                key,
                config: prev.config.clone(),
                files: files.clone(),
                resolver: prev.resolver.clone(),
                not_after,
                client_ca_digest: prev.client_ca_digest,
                stamp,
            });
        }
        let resolver = Arc::new(SwapResolver(ArcSwap::new(key.clone())));
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?;
        let builder = match client_roots {
            Some(roots) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .map_err(|e| format!("tls.client_ca: {e}"))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ListenerTls {
            key,
            config: Arc::new(config),
            files: files.clone(),
            resolver,
            not_after,
            client_ca_digest: files.client_ca.as_deref().and_then(digest),
            stamp,
        })
    }
}

/// Whether the client CA file's bytes differ from what `prev` was built with.
fn client_ca_changed(prev: &ListenerTls, files: &switchboard_config::edge::ListenerTls) -> bool {
    prev.client_ca_digest != files.client_ca.as_deref().and_then(digest)
}

fn digest(path: &Path) -> Option<u64> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let bytes = std::fs::read(path).ok()?;
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

/// A backend's TLS client settings, resolved from its `tls:` block.
#[derive(Debug, Clone)]
pub struct BackendTlsClient {
    /// The rustls client configuration (roots, client certificate, ALPN `h2`).
    pub config: Arc<ClientConfig>,
    /// SNI and the verified name; `None`: each endpoint's own host.
    pub server_name: Option<String>,
}

/// Builds the client configuration of a backend's `tls:` (ALPN `h2`).
pub fn client_config(
    tls: &switchboard_config::edge::BackendTls,
) -> Result<BackendTlsClient, String> {
    let roots = match &tls.ca {
        Some(ca) => root_store(ca)?,
        None => system_roots()?,
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots);
    let mut config = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            // Checked as a pair first, for a clear message on a mismatch.
            certified_key(cert, key)?;
            builder
                .with_client_auth_cert(read_certs(cert)?, read_key(key)?)
                .map_err(|e| format!("client certificate {}: {e}", cert.display()))?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(BackendTlsClient {
        config: Arc::new(config),
        server_name: tls.server_name.clone(),
    })
}

/// What `switchboard check` reports about a certificate/key pair.
#[derive(Debug, Clone)]
pub struct PairReport {
    /// The certificate file the report is about.
    pub cert: PathBuf,
    /// Seconds until the leaf certificate expires (negative: expired).
    pub expires_in: Option<i64>,
    /// The leaf certificate's `notAfter`.
    pub not_after: Option<SystemTime>,
}

/// Reads and checks a pair: both parse, the key matches the certificate. The
/// expiry is reported, not judged (an expired certificate is the operator's call,
/// but `check` says so).
pub(crate) fn inspect_pair(cert: &Path, key: &Path) -> Result<PairReport, String> {
    let pair = certified_key(cert, key)?;
    let not_after = pair.cert.first().and_then(|c| validity(c).map(|v| v.1));
    Ok(PairReport {
        cert: cert.to_path_buf(),
        expires_in: not_after.map(seconds_from_now),
        not_after,
    })
}

/// Reads a CA bundle: parseable, at least one usable certificate.
pub(crate) fn inspect_ca(path: &Path) -> Result<usize, String> {
    Ok(root_store(path)?.len())
}

fn seconds_from_now(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::now()) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// A certificate's (notBefore, notAfter), read from its DER with a minimal
/// reader: `Certificate -> tbsCertificate -> validity`. `None` if the encoding
/// is not what RFC 5280 says (rustls has already parsed it by then).
pub fn validity(cert: &[u8]) -> Option<(SystemTime, SystemTime)> {
    let (cert_body, _) = der_item(cert, 0x30)?;
    let (mut tbs, _) = der_item(cert_body, 0x30)?;
    // [0] EXPLICIT version, optional.
    if tbs.first() == Some(&0xa0) {
        tbs = der_skip(tbs)?;
    }
    tbs = der_skip(tbs)?; // serialNumber
    tbs = der_skip(tbs)?; // signature AlgorithmIdentifier
    tbs = der_skip(tbs)?; // issuer
    let (validity, _) = der_item(tbs, 0x30)?;
    let (before, rest) = der_time(validity)?;
    let (after, _) = der_time(rest)?;
    Some((before, after))
}

/// The content of the item at the start of `input` if its tag is `tag`, and
/// what follows it.
fn der_item(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    if *input.first()? != tag {
        return None;
    }
    let (len, header): (usize, usize) = match *input.get(1)? {
        n if n < 0x80 => (n as usize, 2),
        0x81 => (*input.get(2)? as usize, 3),
        0x82 => ((*input.get(2)? as usize) << 8 | *input.get(3)? as usize, 4),
        0x83 => (
            (*input.get(2)? as usize) << 16
                | (*input.get(3)? as usize) << 8
                | *input.get(4)? as usize,
            5,
        ),
        _ => return None,
    };
    let end = header.checked_add(len)?;
    Some((input.get(header..end)?, input.get(end..)?))
}

fn der_skip(input: &[u8]) -> Option<&[u8]> {
    let tag = *input.first()?;
    der_item(input, tag).map(|(_, rest)| rest)
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn der_time(input: &[u8]) -> Option<(SystemTime, &[u8])> {
    let tag = *input.first()?;
    let (text, rest) = der_item(input, tag)?;
    let text = std::str::from_utf8(text).ok()?.strip_suffix('Z')?;
    let num = |s: &str| s.parse::<i64>().ok();
    let (year, rest_text) = match tag {
        0x17 => {
            let yy = num(text.get(0..2)?)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        0x18 => (num(text.get(0..4)?)?, text.get(4..)?),
        _ => return None,
    };
    if rest_text.len() != 10 {
        return None;
    }
    let month = num(&rest_text[0..2])?;
    let day = num(&rest_text[2..4])?;
    let hour = num(&rest_text[4..6])?;
    let min = num(&rest_text[6..8])?;
    let sec = num(&rest_text[8..10])?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec;
    let t = if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    };
    Some((t, rest))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests;
