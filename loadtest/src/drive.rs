//! HTTP drivers for the benchmark: a closed loop that finds how fast a
//! server can go, and an open loop at a fixed rate that measures latency
//! from each request's intended send time. Both cycle through a pool of
//! pre-built gzip batches, so driving costs the generator little CPU and
//! constant memory.

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Pre-built request bodies of the standard mix.
pub struct Pool {
    bodies: Vec<Bytes>,
    /// Events per body.
    pub events_per_batch: usize,
    /// Mean uncompressed event size, bytes.
    pub event_bytes: usize,
}

/// The standard mix: 100-event gzip batches of ~500-byte events, three
/// `Order Completed` (JSON Schema) to one `Checkout Started` (protobuf),
/// properties that pass the repository's schemas.
pub fn standard_pool(n: usize, run: &str) -> Pool {
    let per = 100;
    let mut raw_total = 0usize;
    let bodies = (0..n)
        .map(|b| {
            let events: Vec<_> = (0..per)
                .map(|i| {
                    let id = format!("{run}-{b}-{i}");
                    let device = (b * per + i) % 5000;
                    let common = json!({"app": {"version": "4.2.0", "build": "4200"},
                        "os": {"name": "Android", "version": "15"}, "locale": "de-DE",
                        "userAgent": "Mozilla/5.0 (Linux; Android 15; Pixel 9 Build/AP4A.250105.002) ShopApp/4.2.0 okhttp/4.12.0"});
                    if i % 4 == 3 {
                        json!({"type": "track", "event": "Checkout Started", "messageId": id,
                            "anonymousId": format!("device-{device}"), "sessionId": 1_764_000_000_000_i64 + device as i64,
                            "context": common,
                            "properties": {"cartId": format!("cart-{b}-{i}"), "value": 42.5, "currency": "EUR",
                                "itemCount": "2", "items": [{"sku": "sku-000123", "quantity": 1, "price": 20.0},
                                {"sku": "sku-000456", "quantity": 1, "price": 22.5}]}})
                    } else {
                        json!({"type": "track", "event": "Order Completed", "messageId": id,
                            "anonymousId": format!("device-{device}"), "sessionId": 1_764_000_000_000_i64 + device as i64,
                            "context": common,
                            "properties": {"orderId": format!("order-{b}-{i}"), "total": 42.5, "currency": "EUR",
                                "items": [{"sku": "sku-000123", "quantity": 1}, {"sku": "sku-000456", "quantity": 2}]}})
                    }
                })
                .collect();
            let raw = serde_json::to_vec(&json!({"batch": events, "sentAt": "2026-11-25T10:00:00.000Z"}))
                .unwrap_or_default();
            raw_total += raw.len();
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            let _ = e.write_all(&raw);
            Bytes::from(e.finish().unwrap_or_default())
        })
        .collect();
    Pool {
        bodies,
        events_per_batch: per,
        event_bytes: raw_total / (n * per).max(1),
    }
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client(connections: usize) -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build_http()
}

/// Sends one batch: the status and, for a 2xx answer, how many events the
/// server said it accepted (the body's `accepted`), which is what delivery
/// is checked against.
async fn send(client: &HttpClient, url: &str, auth: &str, body: Bytes) -> Option<(u16, u64)> {
    let req = http::Request::post(url)
        .header("authorization", auth)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Full::new(body))
        .ok()?;
    let resp = client.request(req).await.ok()?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.ok()?.to_bytes();
    let accepted = if (200..300).contains(&status) {
        serde_json::from_slice::<tributary_contract::response::BatchResponse>(&body)
            .map_or(0, |r| r.accepted as u64)
    } else {
        0
    };
    Some((status, accepted))
}

/// What a drive achieved.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    /// Requests answered otherwise or not at all.
    pub failed: u64,
    /// Events the server acknowledged (sum of `accepted` in 200/202 answers).
    pub acknowledged: u64,
    /// Wall time of the drive.
    pub seconds: f64,
    /// Latency percentiles from intended send time, ms (open loop).
    pub p50_ms: f64,
    /// p90, ms.
    pub p90_ms: f64,
    /// p99, ms.
    pub p99_ms: f64,
}

/// Sends as fast as `connections` concurrent requests allow for `secs`.
pub async fn closed_loop(
    pool: &Arc<Pool>,
    url: &str,
    auth: &str,
    connections: usize,
    secs: f64,
) -> Outcome {
    let client = client(connections);
    let failed = Arc::new(AtomicU64::new(0));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, failed, acknowledged, next, pool) = (
                client.clone(),
                failed.clone(),
                acknowledged.clone(),
                next.clone(),
                pool.clone(),
            );
            let (url, auth) = (url.to_owned(), auth.to_owned());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize % pool.bodies.len();
                    match send(&client, &url, &auth, pool.bodies[i].clone()).await {
                        Some((200 | 202, n)) => {
                            acknowledged.fetch_add(n, Ordering::Relaxed);
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    Outcome {
        failed: failed.load(Ordering::Relaxed),
        acknowledged: acknowledged.load(Ordering::Relaxed),
        seconds: start.elapsed().as_secs_f64(),
        ..Outcome::default()
    }
}

/// Sends `rps` requests per second for `secs`, each at its intended time,
/// and records latency from that intended time (no coordinated omission).
pub async fn open_loop(
    pool: &Arc<Pool>,
    url: &str,
    auth: &str,
    rps: f64,
    secs: f64,
) -> anyhow::Result<Outcome> {
    let client = client(256);
    let hist = Arc::new(std::sync::Mutex::new(Histogram::<u64>::new_with_bounds(
        1,
        600_000_000,
        3,
    )?));
    let failed = Arc::new(AtomicU64::new(0));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let n = (rps * secs).round().max(1.0) as usize;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for k in 0..n {
        let intended = start + Duration::from_secs_f64(k as f64 / rps);
        tokio::time::sleep_until(intended.into()).await;
        let (client, hist, failed, acknowledged) = (
            client.clone(),
            hist.clone(),
            failed.clone(),
            acknowledged.clone(),
        );
        let body = pool.bodies[k % pool.bodies.len()].clone();
        let (url, auth) = (url.to_owned(), auth.to_owned());
        tasks.push(tokio::spawn(async move {
            let status = send(&client, &url, &auth, body).await;
            let us = intended.elapsed().as_micros() as u64;
            if let Ok(mut h) = hist.lock() {
                let _ = h.record(us.max(1));
            }
            match status {
                Some((200 | 202, n)) => {
                    acknowledged.fetch_add(n, Ordering::Relaxed);
                }
                _ => {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let h = hist.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let q = |x: f64| h.value_at_quantile(x) as f64 / 1000.0;
    Ok(Outcome {
        failed: failed.load(Ordering::Relaxed),
        acknowledged: acknowledged.load(Ordering::Relaxed),
        seconds: start.elapsed().as_secs_f64(),
        p50_ms: q(0.5),
        p90_ms: q(0.9),
        p99_ms: q(0.99),
    })
}

/// A minimal hyper server that reads and discards each request and answers
/// 200: the HTTP-only ceiling. Serves until the process ends.
pub async fn sink(listen: std::net::SocketAddr) -> anyhow::Result<()> {
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("sink listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                let _ = req.into_body().collect().await;
                Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                    Bytes::from_static(b"{\"accepted\":100,\"rejected\":[]}"),
                )))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
    }
}
