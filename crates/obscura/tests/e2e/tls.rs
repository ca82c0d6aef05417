//! P10: built-in TLS with rustls — TLS 1.3 by default, TLS 1.2 only when allowed, modern
//! suites only, HSTS, an optional HTTP-to-HTTPS redirect — checked with a real TLS client and
//! with sslyze against Mozilla's "modern" and "intermediate" profiles.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use obscura::config::TlsConfig;
use rustls::pki_types::{CertificateDer, ServerName};
use time::macros::datetime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::TestServer;

/// A test CA and a 60-day ECDSA P-256 certificate for localhost and 127.0.0.1 that it signed.
pub struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    pub fn new() -> TestPki {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
            SerialNumber,
        };
        let now = time::OffsetDateTime::now_utc();
        let validity = |p: &mut CertificateParams| {
            p.not_before = now - time::Duration::days(1);
            p.not_after = now + time::Duration::days(60);
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "Obscura test CA");
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        ca_params.serial_number = Some(SerialNumber::from(1u64));
        validity(&mut ca_params);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.use_authority_key_identifier_extension = true;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.serial_number = Some(SerialNumber::from(2u64));
        validity(&mut params);
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        TestPki { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn tls(&self, allow_tls12: bool, redirect_http_from: Option<std::net::SocketAddr>) -> TlsConfig {
        TlsConfig { cert_file: self.path("cert.pem"), key_file: self.path("key.pem"), allow_tls12, redirect_http_from }
    }

    pub fn client(&self, versions: &[&'static rustls::SupportedProtocolVersion]) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(self.path("ca.pem")).unwrap();
        use rustls::pki_types::pem::PemObject;
        roots.add(CertificateDer::from_pem_slice(&pem).unwrap()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

fn addr(s: &TestServer) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

/// One HTTPS request over a fresh connection; the response head and the negotiated version.
pub async fn https_get(
    connector: &tokio_rustls::TlsConnector,
    addr: &str,
    path: &str,
) -> std::io::Result<(String, rustls::ProtocolVersion, rustls::SupportedCipherSuite)> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await?;
    let (version, suite) = {
        let (_, conn) = tls.get_ref();
        (conn.protocol_version().unwrap(), conn.negotiated_cipher_suite().unwrap())
    };
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response).await;
    Ok((String::from_utf8_lossy(&response).into_owned(), version, suite))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p10_tls13_by_default_with_hsts_and_nothing_older() {
    let pki = TestPki::new();
    let s = TestServer::start_with(datetime!(2026-06-01 10:00 UTC), |c| c.tls = Some(pki.tls(false, None))).await;
    let (head, version, _) = https_get(&pki.client(&[&rustls::version::TLS13]), &addr(&s), "/health").await.unwrap();
    assert!(head.starts_with("HTTP/1.1 2"), "{head}");
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);
    assert!(head.to_ascii_lowercase().contains("strict-transport-security: max-age=63072000"), "{head}");
    // A TLS 1.2 client is refused.
    assert!(https_get(&pki.client(&[&rustls::version::TLS12]), &addr(&s), "/health").await.is_err());
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = reqwest::get(format!("{}/health", s.base)).await;
    assert!(plain.is_err(), "plain HTTP was answered on the TLS port");
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p10_tls12_when_allowed_and_http_redirects_to_https() {
    let pki = TestPki::new();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let redirect_from = free.local_addr().unwrap();
    drop(free);
    let s =
        TestServer::start_with(datetime!(2026-06-01 10:00 UTC), |c| c.tls = Some(pki.tls(true, Some(redirect_from))))
            .await;
    let (head, version, suite) =
        https_get(&pki.client(&[&rustls::version::TLS12]), &addr(&s), "/health").await.unwrap();
    assert!(head.starts_with("HTTP/1.1 2"), "{head}");
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_2);
    let name = format!("{:?}", suite.suite());
    assert!(name.starts_with("TLS_ECDHE_") && (name.contains("GCM") || name.contains("CHACHA20")), "{name}");
    let port = addr(&s).rsplit(':').next().unwrap().to_owned();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // The target is the HTTPS listener's address, whatever Host the client names.
    let res = client
        .get(format!("http://{redirect_from}/dashboard?x=1"))
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], format!("https://127.0.0.1:{port}/dashboard?x=1").as_str());
    s.stop();
}

#[tokio::test]
async fn p10_unreadable_certificate_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = obscura::config::Config {
        data_dir: dir.path().join("data"),
        master_key_file: dir.path().join("keys/master.key"),
        ..Default::default()
    };
    config.tls = Some(TlsConfig {
        cert_file: dir.path().join("missing.pem"),
        key_file: dir.path().join("key.pem"),
        allow_tls12: false,
        redirect_http_from: None,
    });
    let clock = Arc::new(obscura_model::ManualClock::new(datetime!(2026-06-01 10:00 UTC)));
    let err = obscura::app::open(&config, clock.clone()).await.err().expect("must refuse to start");
    assert!(
        format!("{err:#}").contains("cannot read the TLS certificate") && format!("{err:#}").contains("missing.pem"),
        "{err:#}"
    );
    std::fs::write(dir.path().join("bad.pem"), "not a certificate").unwrap();
    config.tls.as_mut().unwrap().cert_file = dir.path().join("bad.pem");
    let err = obscura::app::open(&config, clock).await.err().expect("must refuse to start");
    assert!(format!("{err:#}").contains("holds no PEM certificate"), "{err:#}");
    assert!(!config.data_dir.join("events").exists(), "nothing may start before the certificate is checked");
}

/// sslyze, installed by `scripts/test` into the test virtualenv (or named by `OBSCURA_SSLYZE`).
fn sslyze() -> PathBuf {
    if let Some(path) = std::env::var_os("OBSCURA_SSLYZE") {
        return PathBuf::from(path);
    }
    let venv = std::env::var_os("OBSCURA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/obscura-venv"));
    let path = venv.join("bin/sslyze");
    assert!(path.exists(), "{} is missing; scripts/test installs sslyze (PyPI) there", path.display());
    path
}

fn run_sslyze(profile: &str, ca: &Path, target: &str) -> (bool, String) {
    let out = std::process::Command::new(sslyze())
        .args([&format!("--mozilla_config={profile}"), "--certinfo_ca_file"])
        .arg(ca)
        .arg(target)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && text.contains("OK - Compliant.") && !text.contains("Not compliant"), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p10_sslyze_finds_the_modern_profile_and_intermediate_with_tls12() {
    let pki = TestPki::new();
    let s = TestServer::start_with(datetime!(2026-06-01 10:00 UTC), |c| c.tls = Some(pki.tls(false, None))).await;
    let target = addr(&s).replace("127.0.0.1", "localhost");
    let ca = pki.path("ca.pem");
    let (ok, report) = tokio::task::spawn_blocking(move || run_sslyze("modern", &ca, &target)).await.unwrap();
    assert!(ok, "sslyze: not compliant with Mozilla modern:\n{report}");
    s.stop();

    let s = TestServer::start_with(datetime!(2026-06-01 10:00 UTC), |c| c.tls = Some(pki.tls(true, None))).await;
    let target = addr(&s).replace("127.0.0.1", "localhost");
    let ca = pki.path("ca.pem");
    let (ok, report) = tokio::task::spawn_blocking(move || run_sslyze("intermediate", &ca, &target)).await.unwrap();
    assert!(ok, "sslyze: not compliant with Mozilla intermediate:\n{report}");
    // The check tells the two apart: with TLS 1.2 on, the server is not "modern".
    let (target, ca) = (addr(&s).replace("127.0.0.1", "localhost"), pki.path("ca.pem"));
    let (ok, _) = tokio::task::spawn_blocking(move || run_sslyze("modern", &ca, &target)).await.unwrap();
    assert!(!ok, "a server with TLS 1.2 passed the modern profile");
    s.stop();
}
