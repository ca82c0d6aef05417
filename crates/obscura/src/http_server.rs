//! The connection loop shared by plain HTTP and built-in TLS: every connection in its own task,
//! HTTP/1.1, with a deadline for a request's headers (slow-loris) and for a connection that
//! sends and receives nothing (idle keep-alive), and a graceful drain on shutdown.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;

/// The read buffer of a connection, in bytes: a request head (request line and headers) must
/// fit in it, give or take hyper's growth step (heads past 64 KiB are always refused).
pub const MAX_REQUEST_HEAD: usize = 32 * 1024;

/// How long a client may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From the first byte of a request to the end of its headers; also the TLS handshake.
    pub headers: Duration,
    /// A connection with no bytes in either direction for this long is closed.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { headers: Duration::from_secs(15), idle: Duration::from_secs(60) }
    }
}

/// The server's own address a connection reached (not the client's), in every request's
/// extensions.
#[derive(Clone, Copy, Debug)]
pub struct ReachedAddress(pub SocketAddr);

/// How long open connections may finish their request once shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` completes. On
/// shutdown, open connections finish the request they are serving (up to 10 s) before this
/// returns, so the store is not closed under an event being acknowledged.
pub async fn serve(
    listener: TcpListener,
    tls: Option<(Arc<rustls::ServerConfig>, Arc<TlsCounters>)>,
    router: Router,
    timeouts: Timeouts,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let acceptor = tls.map(|(config, counters)| (tokio_rustls::TlsAcceptor::from(config), counters));
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
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let reached = ReachedAddress(tcp.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))));
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
        let router = router.clone();
        let stop = stop_rx.clone();
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            let io = Activity::new(tcp);
            let Some((acceptor, counters)) = acceptor else {
                return serve_connection(io, peer, reached, None, router, timeouts, stop).await;
            };
            let handshake = tokio::time::timeout(timeouts.headers, acceptor.accept(HelloTap::new(io))).await;
            match handshake {
                Ok(Ok(stream)) => {
                    counters.completed.fetch_add(1, Ordering::Relaxed);
                    let fingerprint = match stream.get_ref().0.fingerprint() {
                        Some(Ok(ja4)) => Some(Ja4(ja4.into())),
                        _ => {
                            counters.unreadable_hellos.fetch_add(1, Ordering::Relaxed);
                            None
                        }
                    };
                    serve_connection(stream, peer, reached, fingerprint, router, timeouts, stop).await
                }
                Ok(Err(e)) => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, "TLS handshake failed: {e}");
                }
                Err(_) => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, "TLS handshake timed out");
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("{} connections still open after {} s; closing them", connections.len(), DRAIN.as_secs());
        connections.abort_all();
    }
    Ok(())
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    reached: ReachedAddress,
    fingerprint: Option<Ja4>,
    router: Router,
    timeouts: Timeouts,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + HasActivity + 'static,
{
    let activity = stream.activity();
    // Requests being handled: a connection is idle only when none is, however long a handler
    // takes without sending a byte.
    let in_flight = Arc::new(AtomicU64::new(0));
    let (started, finished) = (in_flight.clone(), in_flight.clone());
    let service =
        tower::ServiceExt::map_request(router, move |mut request: axum::http::Request<hyper::body::Incoming>| {
            started.fetch_add(1, Ordering::Relaxed);
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(reached);
            if let Some(ja4) = &fingerprint {
                request.extensions_mut().insert(ja4.clone());
            }
            request
        });
    let service = tower::ServiceExt::map_response(service, move |response| {
        finished.fetch_sub(1, Ordering::Relaxed);
        response
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(timeouts.headers)
        // A request's head (request line and headers) must fit in the buffer, as in nginx's
        // default of 32 KiB; a larger one is answered 431 rather than buffered (hyper's default
        // is about 400 KiB per connection). Bodies stream through it and are not limited by it.
        .max_buf_size(MAX_REQUEST_HEAD)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), hyper_util::service::TowerToHyperService::new(service));
    tokio::pin!(connection);
    let mut closing = false;
    let result = loop {
        let idle_for = activity.idle_for();
        let wake = timeouts.idle.saturating_sub(idle_for).max(Duration::from_millis(100));
        tokio::select! {
            result = connection.as_mut() => break result,
            _ = stop.changed(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(wake) => {
                if activity.idle_for() >= timeouts.idle && in_flight.load(Ordering::Relaxed) == 0 {
                    if closing {
                        // Asked to close politely and still silent: the client is gone.
                        break Ok(());
                    }
                    tracing::debug!(%peer, "closing an idle connection");
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "connection ended with an error: {e}");
    }
}

/// When bytes last moved, shared between a connection's stream and its watchdog.
#[derive(Clone)]
struct ActivityClock {
    start: Instant,
    /// Milliseconds after `start`.
    last_ms: Arc<AtomicU64>,
}

impl ActivityClock {
    fn touch(&self) {
        self.last_ms.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        self.start.elapsed().saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// A stream that records when bytes last moved through it.
struct Activity<S> {
    inner: S,
    clock: ActivityClock,
}

impl<S> Activity<S> {
    fn new(inner: S) -> Self {
        Activity { inner, clock: ActivityClock { start: Instant::now(), last_ms: Arc::new(AtomicU64::new(0)) } }
    }
}

/// Gives the watchdog the activity clock of the TCP stream beneath, under TLS or not.
trait HasActivity {
    fn activity(&self) -> ActivityClock;
}

impl<S> HasActivity for Activity<S> {
    fn activity(&self) -> ActivityClock {
        self.clock.clone()
    }
}

impl<S> HasActivity for tokio_rustls::server::TlsStream<HelloTap<Activity<S>>> {
    fn activity(&self) -> ActivityClock {
        self.get_ref().0.inner.clock.clone()
    }
}

use obscura_web::connection::{Ja4, TlsCounters};

/// Keeps a copy of the first bytes a TLS client sends until they hold its whole ClientHello,
/// then reads them into the JA4 fingerprint and lets every later byte pass untouched; rustls
/// reads the same bytes as they go by, so nothing is buffered twice or delayed.
struct HelloTap<S> {
    inner: S,
    seen: Vec<u8>,
    fingerprint: Option<Result<String, obscura_enrich::bots::ja4::Ja4Error>>,
}

impl<S> HelloTap<S> {
    fn new(inner: S) -> Self {
        HelloTap { inner, seen: Vec::new(), fingerprint: None }
    }

    /// The client's JA4, once its ClientHello has been read; an error when it could not be.
    fn fingerprint(&self) -> Option<Result<&str, obscura_enrich::bots::ja4::Ja4Error>> {
        self.fingerprint.as_ref().map(|f| f.as_ref().map(String::as_str).map_err(|e| *e))
    }

    fn observe(&mut self, bytes: &[u8]) {
        use obscura_enrich::bots::ja4;
        if self.fingerprint.is_some() || bytes.is_empty() {
            return;
        }
        self.seen.extend_from_slice(bytes);
        let outcome = match ja4::client_hello_message(&self.seen) {
            Ok(None) if self.seen.len() <= ja4::MAX_CLIENT_HELLO + 64 => return,
            Ok(None) => Err(ja4::Ja4Error::Truncated),
            Ok(Some(message)) => ja4::ja4(&message, ja4::Transport::Tcp),
            Err(e) => Err(e),
        };
        self.fingerprint = Some(outcome);
        self.seen = Vec::new();
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HelloTap<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) {
            this.observe(&buf.filled()[before..]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HelloTap<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Activity<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.touch();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Activity<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.touch();
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
