//! Built-in TLS (P10): rustls with TLS 1.3, and TLS 1.2 only when the configuration asks for
//! it (for old clients); modern AEAD cipher suites only; HTTP/1.1 over each connection (served by
//! [`crate::http_server`]); an optional plain-HTTP listener that redirects every request to HTTPS
//! at the configured address.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Extension;
use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::http_server::ReachedAddress;
use tokio::net::TcpListener;

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
        .with_context(|| {
            format!("the TLS key {} does not fit the certificate {}", tls.key_file.display(), tls.cert_file.display())
        })?;
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

/// Where the plain-HTTP listener sends browsers: the configured public URL, or else the HTTPS
/// listener's own address. Never the `Host` header, which the client writes and which would turn
/// the redirect into an open redirect to any site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedirectTarget {
    /// `https://host[:port]`, without a trailing slash.
    Origin(String),
    /// The HTTPS listener listens on every address: the address the client reached, on this port.
    ReachedAddress {
        /// The port the HTTPS listener listens on.
        https_port: u16,
    },
}

impl RedirectTarget {
    /// From `public_url` when set (its scheme made `https`), else from the HTTPS listener's address.
    pub fn new(public_url: Option<&str>, https_listen: SocketAddr) -> RedirectTarget {
        if let Some(authority) = public_url.and_then(|u| u.parse::<Uri>().ok()).and_then(|u| u.authority().cloned()) {
            return RedirectTarget::Origin(format!("https://{authority}"));
        }
        if https_listen.ip().is_unspecified() {
            return RedirectTarget::ReachedAddress { https_port: https_listen.port() };
        }
        RedirectTarget::Origin(origin(https_listen.ip(), https_listen.port()))
    }

    fn origin(&self, reached: Option<SocketAddr>) -> Option<String> {
        match self {
            RedirectTarget::Origin(origin) => Some(origin.clone()),
            RedirectTarget::ReachedAddress { https_port } => reached.map(|local| origin(local.ip(), *https_port)),
        }
    }
}

/// `https://ip[:port]`, the port left out when it is 443.
fn origin(ip: IpAddr, port: u16) -> String {
    let host = match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    if port == 443 { format!("https://{host}") } else { format!("https://{host}:{port}") }
}

/// Serves the plain-HTTP listener that sends every request to the same path over HTTPS (308, so
/// methods and bodies are kept), with the same timeouts as every other listener.
pub async fn serve_redirect(
    listener: TcpListener,
    target: RedirectTarget,
    timeouts: crate::http_server::Timeouts,
) -> anyhow::Result<()> {
    crate::http_server::serve(listener, None, redirect_router(target), timeouts, std::future::pending()).await
}

fn redirect_router(target: RedirectTarget) -> Router {
    Router::new().fallback(move |Extension(reached): Extension<ReachedAddress>, uri: Uri| {
        let target = target.clone();
        async move { redirect(&target, Some(reached.0), &uri) }
    })
}

fn redirect(target: &RedirectTarget, reached: Option<SocketAddr>, uri: &Uri) -> Response {
    let Some(origin) = target.origin(reached) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "use HTTPS: this server's HTTPS address is not known here")
            .into_response();
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, format!("{origin}{path}"))]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(target: &RedirectTarget, reached: Option<SocketAddr>, path: &str) -> String {
        let r = redirect(target, reached, &path.parse().unwrap());
        assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
        r.headers()[header::LOCATION].to_str().unwrap().to_owned()
    }

    #[test]
    fn p10_redirect_keeps_path_and_query() {
        let target = RedirectTarget::new(None, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(location(&target, None, "/a/b?x=1"), "https://127.0.0.1:8443/a/b?x=1");
        let v6 = RedirectTarget::new(None, "[::1]:443".parse().unwrap());
        assert_eq!(location(&v6, None, "/"), "https://[::1]/");
    }

    #[test]
    fn hardening_redirect_goes_to_the_public_url_never_the_clients_host() {
        // The handler does not even see the Host header: the target is fixed by configuration.
        let public = RedirectTarget::new(Some("https://stats.example.com/"), "0.0.0.0:8443".parse().unwrap());
        assert_eq!(location(&public, None, "/login?next=/"), "https://stats.example.com/login?next=/");
        let with_port = RedirectTarget::new(Some("http://stats.example.com:8443"), "0.0.0.0:443".parse().unwrap());
        assert_eq!(location(&with_port, None, "/"), "https://stats.example.com:8443/");
        // Without a public URL, an HTTPS listener on every address redirects to the address
        // the client reached (the server's own), on the HTTPS port.
        let any = RedirectTarget::new(None, "[::]:8443".parse().unwrap());
        assert_eq!(location(&any, Some("[::ffff:192.0.2.5]:80".parse().unwrap()), "/x"), "https://192.0.2.5:8443/x");
        assert_eq!(location(&any, Some("[2001:db8::5]:80".parse().unwrap()), "/x"), "https://[2001:db8::5]:8443/x");
    }
}
