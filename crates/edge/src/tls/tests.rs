//! Listener TLS loading, rotation and the file checks, with certificates made
//! in the test (rcgen).

use super::*;

struct Files {
    dir: std::path::PathBuf,
}

impl Files {
    fn new(label: &str) -> Files {
        let dir = std::env::temp_dir().join(format!(
            "sb-edge-tls-{label}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Files { dir }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A self-signed pair for `localhost`, as (cert, key) paths.
    fn pair(&self, prefix: &str) -> (PathBuf, PathBuf) {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        (
            self.write(&format!("{prefix}.pem"), &ck.cert.pem()),
            self.write(&format!("{prefix}.key"), &ck.signing_key.serialize_pem()),
        )
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn files(cert: &Path, key: &Path, ca: Option<&Path>) -> switchboard_config::edge::ListenerTls {
    switchboard_config::edge::ListenerTls {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        client_ca: ca.map(Path::to_path_buf),
    }
}

#[test]
fn loads_a_pair_with_alpn_and_reports_expiry() {
    let f = Files::new("load");
    let (cert, key) = f.pair("a");
    let tls = ListenerTls::load(&files(&cert, &key, None), None).unwrap();
    assert_eq!(
        tls.config.alpn_protocols,
        [b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    // rcgen's default notAfter is 4096-01-01 (a GeneralizedTime).
    let expected = UNIX_EPOCH + Duration::from_secs(days_from_civil(4096, 1, 1) as u64 * 86_400);
    assert_eq!(tls.not_after, Some(expected));
    let report = inspect_pair(&cert, &key).unwrap();
    assert!(report.expires_in.unwrap() > 0);
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let f = Files::new("mismatch");
    let (cert, _) = f.pair("a");
    let (_, other_key) = f.pair("b");
    let e = ListenerTls::load(&files(&cert, &other_key, None), None).unwrap_err();
    assert!(e.contains("does not match"), "{e}");
    assert!(inspect_pair(&cert, &other_key).is_err());
}

#[test]
fn unreadable_and_garbage_files_are_reported() {
    let f = Files::new("garbage");
    let (cert, key) = f.pair("a");
    let missing = f.dir.join("missing.pem");
    let e = ListenerTls::load(&files(&missing, &key, None), None).unwrap_err();
    assert!(e.contains("missing.pem"), "{e}");
    let junk = f.write("junk.pem", "not a certificate");
    let e = ListenerTls::load(&files(&junk, &key, None), None).unwrap_err();
    assert!(e.contains("junk.pem"), "{e}");
    let e = ListenerTls::load(&files(&cert, &key, Some(&junk)), None).unwrap_err();
    assert!(e.contains("junk.pem"), "{e}");
}

#[test]
fn rotation_keeps_the_config_and_swaps_the_pair_on_activate() {
    let f = Files::new("rotate");
    let (cert, key) = f.pair("a");
    let first = ListenerTls::load(&files(&cert, &key, None), None).unwrap();
    first.activate();
    let served = first.resolver.0.load_full();
    let (cert2, key2) = f.pair("b");
    std::fs::copy(&cert2, &cert).unwrap();
    std::fs::copy(&key2, &key).unwrap();
    let second = ListenerTls::load(&files(&cert, &key, None), Some(&first)).unwrap();
    assert!(
        Arc::ptr_eq(&first.config, &second.config),
        "same ServerConfig"
    );
    assert!(
        Arc::ptr_eq(&first.resolver.0.load_full(), &served),
        "not live before activate"
    );
    second.activate();
    assert_eq!(first.resolver.0.load().cert, second.key.cert);
    assert_ne!(served.cert, second.key.cert);
}

#[test]
fn client_ca_builds_a_verifier() {
    let f = Files::new("ca");
    let (cert, key) = f.pair("a");
    let (ca, _) = f.pair("ca");
    let tls = ListenerTls::load(&files(&cert, &key, Some(&ca)), None).unwrap();
    let plain = ListenerTls::load(&files(&cert, &key, None), Some(&tls)).unwrap();
    assert!(
        !Arc::ptr_eq(&tls.config, &plain.config),
        "client_ca removed: new config"
    );
    assert_eq!(inspect_ca(&ca).unwrap(), 1);
}

#[test]
fn der_times() {
    let utc = [
        0x17, 13, b'2', b'6', b'1', b'2', b'0', b'1', b'0', b'0', b'0', b'0', b'0', b'0', b'Z',
    ];
    let (t, rest) = der_time(&utc).unwrap();
    assert!(rest.is_empty());
    assert_eq!(crate::rfc3339(t), "2026-12-01T00:00:00Z");
}
