//! The listener: accepts connections (at most `server.max_connections`),
//! serves HTTP/1.1 and HTTP/2 on each with a header timeout that also
//! closes idle keep-alive connections, and drains them on shutdown.

use super::{AppState, Peer};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves until `shutdown` resolves, then waits up to `grace` for open
/// connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<crate::tls::Tls>>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    let header_timeout = Duration::from_millis(state.config.server.header_timeout_ms);
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_headers(state.config.server.max_headers)
        // hyper's floor is 8 KiB; bodies stream through the same buffer.
        .max_buf_size(state.config.server.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(state.config.server.max_header_bytes as u32)
        .keep_alive_interval(Some(header_timeout))
        .keep_alive_timeout(header_timeout);
    let connections = Arc::new(tokio::sync::Semaphore::new(
        state.config.server.max_connections.max(1),
    ));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // Past the connection limit, stop accepting: new clients wait in
        // the kernel's backlog instead of costing memory here.
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Typically EMFILE: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    req.extensions_mut().insert(Peer(peer));
                    // Its own task, so a client that hangs up cannot cancel
                    // a batch halfway: the events it handed to Kafka get
                    // their answer recorded under the idempotency key, and
                    // the client's retry receives that answer instead of
                    // producing them again.
                    let request = tokio::spawn(async move { super::route(&state, req).await });
                    async move { Ok::<_, std::convert::Infallible>(request.await.unwrap_or_else(|e| super::handler_failed(&e))) }
                });
                match &tls {
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                        let conn = graceful.watch(conn);
                        tokio::spawn(async move {
                            if let Err(e) = conn.await {
                                tracing::debug!(%peer, error = %e, "connection closed with error");
                            }
                            drop(permit);
                        });
                    }
                    Some(tls) => {
                        let acceptor = tls.acceptor();
                        let builder = builder.clone();
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            // The handshake gets the header timeout too: a
                            // silent client must not hold a connection slot.
                            let stream = match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => return,
                            };
                            let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                            if let Err(e) = watcher.watch(conn).await {
                                tracing::debug!(%peer, error = %e, "connection closed with error");
                            }
                            drop(permit);
                        });
                    }
                }
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}
