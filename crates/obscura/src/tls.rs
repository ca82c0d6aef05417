//! Built-in TLS (P10): rustls with TLS 1.3, and TLS 1.2 only when the configuration asks for
//! it (for old clients); modern AEAD cipher suites only; HTTP/1.1 over each connection (served by
//! [`crate::http_server`]); an optional plain-HTTP listener that redirects every request to HTTPS.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// Builds the server's TLS settings, with errors that say which file is wrong and how.
pub fn server_config(tls: &TlsConfig) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs = read_certs(&tls.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_file).map_err(|e| {
        anyhow::anyhow!("cannot read the TLS key {}: {e} (expected a PEM private key)", tls.key_file.display())
    })?;
    let versions: &[&rustls::SupportedProtocolVersion] =
        if tls.allow_tls12 { &[&rustls::version::TLS13, &rustls::version::TLS12] } else { &[&rustls::version::TLS13] };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| format!("the TLS key {} does not fit the certificate {}", tls.key_file.display(), tls.cert_file.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("cannot read the TLS certificate {}: {e}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("the TLS certificate file {} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

/// A plain-HTTP router that sends every request to the same path over HTTPS (308, so methods
/// and bodies are kept). `https_port` is left out of the URL when it is 443.
pub fn redirect_router(https_port: u16) -> Router {
    Router::new().fallback(move |headers: HeaderMap, uri: Uri| async move { redirect(&headers, &uri, https_port) })
}

fn redirect(headers: &HeaderMap, uri: &Uri, https_port: u16) -> Response {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return (StatusCode::BAD_REQUEST, "a Host header is required").into_response();
    };
    // Drop any port from the host (IPv6 literals keep their brackets).
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => name,
        _ => host,
    };
    let port = if https_port == 443 { String::new() } else { format!(":{https_port}") };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{name}{port}{path}");
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p10_redirect_keeps_host_path_and_query() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "stats.example:80".parse().unwrap());
        let r = redirect(&h, &"/a/b?x=1".parse().unwrap(), 8443);
        assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(r.headers()[header::LOCATION], "https://stats.example:8443/a/b?x=1");
        h.insert(header::HOST, "[::1]".parse().unwrap());
        assert_eq!(redirect(&h, &"/".parse().unwrap(), 443).headers()[header::LOCATION], "https://[::1]/");
        assert_eq!(redirect(&HeaderMap::new(), &"/".parse().unwrap(), 443).status(), StatusCode::BAD_REQUEST);
    }
}
