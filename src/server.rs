//! The accept loop: HTTP/1 connections served by hyper with a header-read timeout and a cap
//! on open connections, and a graceful shutdown that lets requests in flight finish.
//!
//! `axum::serve` has neither limit: a client that opens a connection and sends nothing (or
//! half a request line) keeps it, and a file descriptor, for ever, so some thousands of them
//! stop the server from accepting anyone. Here
//! - a connection must deliver a request's headers within `header_timeout` (hyper's HTTP/1
//!   `header_read_timeout`, also the idle time allowed between kept-alive requests); request
//!   and response bodies — uploads, the job event stream — are not limited by it;
//! - at most `max_connections` are served at once: at the cap the loop stops accepting (new
//!   clients wait in the kernel's backlog) until one closes, and says so in one warning line
//!   per minute at most, not one per connection.
//!
//! Plain media fetches (`GET`/`HEAD` under `/media/`) are read by [`direct`] and their files
//! sent with `sendfile(2)`; a connection's first other request hands it to hyper for good.
//!
//! Only HTTP/1 is served, as before (axum is built without `http2`). hyper-util's `auto`
//! builder is not used: without a fixed version it first sniffs for the HTTP/2 preface, a read
//! no timeout covers, so an idle client would hang there instead.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

pub mod direct;
pub mod grants;

/// How the accept loop protects itself from slow and numerous clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at the same time (at least 1).
    pub max_connections: usize,
    /// Time allowed to send a request's headers.
    pub header_timeout: Duration,
    /// Media fetches answered with `sendfile` ([`direct`]); off: hyper serves every request.
    pub media_sendfile: bool,
}

/// Least time between two "connection limit reached" warnings.
const CAP_WARNING_EVERY: Duration = Duration::from_secs(60);

/// Decides when reaching the connection cap is worth a warning: the first time, then at
/// most once per [`CAP_WARNING_EVERY`], with how often it was reached in between. A server
/// held at its cap reaches it again with every connection it accepts; one line per
/// connection would flood the log exactly when it matters.
#[derive(Debug, Default)]
struct CapWarnings {
    last: Option<Instant>,
    /// Times the cap was reached since the last warning.
    unreported: u64,
}

impl CapWarnings {
    /// The cap was reached at `now`: `Some(times reached since the last warning)` when a
    /// warning is due.
    fn reached(&mut self, now: Instant) -> Option<u64> {
        self.unreported += 1;
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= CAP_WARNING_EVERY);
        if !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unreported))
    }
}

/// Serve `app` on `listener` within `limits` until `shutdown` completes, then stop accepting
/// and wait for the open connections: requests in flight finish, idle connections close.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    grants: Arc<grants::Grants>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let max_connections = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max_connections));
    let graceful = GracefulShutdown::new();
    // tells the connections on the sendfile path to close when idle
    let (stopping, stop_signal) = watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut warnings = CapWarnings::default();
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if let Some(times) = warnings.reached(Instant::now()) {
                    tracing::warn!(
                        max_connections,
                        times_reached = times,
                        "connection limit reached: new clients wait until a connection closes \
                         (raise --max-connections / PUFA_MAX_CONNECTIONS if this is real load)"
                    );
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        // the semaphore is never closed
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // e.g. EMFILE: out of file descriptors; give closing ones a moment
                        tracing::error!(error = %e, "accept failed");
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            () = &mut shutdown => break,
                        }
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // responses are written whole; Nagle's algorithm would hold the last partial packet
        // of each until the client's delayed ACK (~40 ms per segment or playlist)
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let app = app.clone();
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let stop_signal = stop_signal.clone();
        let grants = grants.clone();
        let (sendfile, header_timeout) = (limits.media_sendfile, limits.header_timeout);
        tokio::spawn(async move {
            let (stream, read) = if sendfile {
                let served = direct::serve(
                    stream,
                    remote,
                    app.clone(),
                    grants,
                    header_timeout,
                    stop_signal,
                );
                match served.await {
                    direct::Outcome::Done => {
                        drop(permit);
                        return;
                    }
                    direct::Outcome::HandOff(stream, read) => (stream, read),
                }
            } else {
                (stream, bytes::Bytes::new())
            };
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    // what `ConnectInfo<SocketAddr>` extractors read
                    request.extensions_mut().insert(ConnectInfo(remote));
                    app.clone().oneshot(request.map(axum::body::Body::new))
                });
            let io = TokioIo::new(direct::Rewind::new(stream, read));
            let connection = watcher.watch(builder.serve_connection(io, service));
            if let Err(e) = connection.await {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    // every connection task holds a watcher until it ends, on either path
    graceful.shutdown().await;
    Ok(())
}

/// Errors of one connection that does not affect the next `accept`.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server at its cap reaches it again with every accepted connection: it warns once,
    /// then at most once a minute with the count in between.
    #[test]
    fn the_cap_warning_is_one_line_not_one_per_connection() {
        let start = Instant::now();
        let mut w = CapWarnings::default();
        assert_eq!(w.reached(start), Some(1));
        for s in 1..60 {
            assert_eq!(w.reached(start + Duration::from_secs(s)), None);
        }
        assert_eq!(w.reached(start + Duration::from_secs(60)), Some(60));
        assert_eq!(w.reached(start + Duration::from_secs(61)), None);
        assert_eq!(w.reached(start + Duration::from_secs(200)), Some(2));
    }
}
