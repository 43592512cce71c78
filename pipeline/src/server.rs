//! `/metrics` (Prometheus text), `/healthz` (process alive) and `/readyz`
//! (partitions assigned) on a small HTTP/1.1 listener.

use crate::metrics::PipelineMetrics;
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;

fn respond(status: StatusCode, body: String, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    r
}

/// Binds `addr` and serves until the runtime ends. Returns the bound
/// address (port 0 picks one).
pub async fn serve(addr: SocketAddr, metrics: Arc<PipelineMetrics>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let metrics = metrics.clone();
                    async move {
                        let text = "text/plain; charset=utf-8";
                        Ok::<_, std::convert::Infallible>(match req.uri().path() {
                            "/metrics" => respond(
                                StatusCode::OK,
                                metrics.render(),
                                "text/plain; version=0.0.4; charset=utf-8",
                            ),
                            "/healthz" => respond(StatusCode::OK, "ok\n".into(), text),
                            "/readyz" if metrics.ready.get() == 1 => {
                                respond(StatusCode::OK, "ready\n".into(), text)
                            }
                            "/readyz" => respond(
                                StatusCode::SERVICE_UNAVAILABLE,
                                "no partitions assigned yet\n".into(),
                                text,
                            ),
                            _ => respond(StatusCode::NOT_FOUND, "not found\n".into(), text),
                        })
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(local)
}
