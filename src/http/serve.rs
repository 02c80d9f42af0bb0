//! Serving the router on a listener with the bounds a public service needs, which `axum::serve`
//! does not set: a request's headers must arrive within `header_read_timeout_ms` (which also
//! closes a keep-alive connection left idle that long), its body within `body_read_timeout_ms`,
//! at most `max_connections` are held at once (more wait in the listen backlog, so the process
//! never runs out of file descriptors on clients), and a shutdown waits `shutdown_grace_ms` for
//! connections to finish before closing them, whatever clients do.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutBody};

use super::bare_errors::ProblemAnswers;
use crate::config::HttpConfig;

/// How long the accept loop pauses after a failed accept (out of file descriptors, say), so
/// that it waits for connections to close instead of spinning.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` until `shutdown` completes, then lets open connections finish
/// for the grace period and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &HttpConfig,
    shutdown: impl Future<Output = ()>,
) {
    let router = router.layer(
        ServiceBuilder::new()
            .layer(RequestBodyTimeoutLayer::new(Duration::from_millis(
                limits.body_read_timeout_ms.max(1),
            )))
            .map_request(|request: Request<TimeoutBody<Body>>| request.map(Body::new)),
    );
    // HTTP/1 only: sniffing for HTTP/2 reads the first bytes before any timer runs, so a client
    // that sends nothing would hold its connection for good.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms.max(1)));
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed; retrying");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
        };
        let connection = builder.serve_connection(
            TokioIo::new(ProblemAnswers::new(stream)),
            TowerToHyperService::new(router.clone()),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    let grace = Duration::from_millis(limits.shutdown_grace_ms);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace_ms = limits.shutdown_grace_ms,
                "connections still open after the grace period are closed");
        }
    }
}
