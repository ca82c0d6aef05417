//! Built-in TLS (P10): rustls with TLS 1.3, and TLS 1.2 only when the configuration asks for
//! it (for old clients); modern AEAD cipher suites only; HTTP/1.1 over each connection; an
//! optional plain-HTTP listener that redirects every request to HTTPS at the configured address.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::connect_info::Connected;
use axum::http::{StatusCode, Uri, header};
use axum::serve::IncomingStream;
use axum::response::{IntoResponse, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
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

/// Serves `router` over TLS on `listener` until `shutdown` completes. Each connection's
/// handshake runs in its own task, so a slow client delays no one else. On shutdown, open
/// connections finish the request they are serving (up to 10 s) before this returns, so the
/// store is not closed under an event being acknowledged.
pub async fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
        let acceptor = acceptor.clone();
        let router = router.clone();
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let stream = match tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return tracing::debug!(%peer, "TLS handshake failed: {e}"),
                Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
            };
            let service = tower::ServiceExt::map_request(router, move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(30))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), hyper_util::service::TowerToHyperService::new(service));
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, "connection ended with an error: {e}");
            }
        });
    }
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("{} connections still open after 10 s; closing them", connections.len());
        connections.abort_all();
    }
    Ok(())
}

/// Where the plain-HTTP listener sends browsers: the configured public URL, or else the HTTPS
/// listener's own address. Never the `Host` header, which the client writes and which would turn
/// the redirect into an open redirect to any site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedirectTarget {
    /// `https://host[:port]`, without a trailing slash.
    Origin(String),
    /// The HTTPS listener listens on every address: the address the client reached, on this port.
    ReachedAddress { https_port: u16 },
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

/// The server's own address a connection reached (not the client's).
#[derive(Clone, Copy, Debug)]
pub struct ReachedAddress(pub SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for ReachedAddress {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        ReachedAddress(stream.io().local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))))
    }
}

/// Serves the plain-HTTP listener that sends every request to the same path over HTTPS (308, so
/// methods and bodies are kept).
pub async fn serve_redirect(listener: TcpListener, target: RedirectTarget) -> std::io::Result<()> {
    axum::serve(listener, redirect_router(target).into_make_service_with_connect_info::<ReachedAddress>()).await
}

fn redirect_router(target: RedirectTarget) -> Router {
    Router::new().fallback(move |ConnectInfo(reached): ConnectInfo<ReachedAddress>, uri: Uri| {
        let target = target.clone();
        async move { redirect(&target, Some(reached.0), &uri) }
    })
}

fn redirect(target: &RedirectTarget, reached: Option<SocketAddr>, uri: &Uri) -> Response {
    let Some(origin) = target.origin(reached) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "use HTTPS: this server's HTTPS address is not known here").into_response();
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
