//! Retrying a call to the store or the catalog: with backoff (200 ms
//! doubling to 10 s), for at most [`LIMIT`]; past it the error stops the
//! offload loop (the process exits non-zero and a supervisor restarts it at
//! the committed offsets, which is safe: every write is idempotent).

use prometheus_client::metrics::counter::Counter;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a failing call is retried.
pub const LIMIT: Duration = Duration::from_secs(120);

/// Runs `call` until it succeeds or has failed for [`LIMIT`]; each
/// failure counts in `errors`. `what` names the call in logs.
pub async fn with_retry<T, F, Fut>(what: &str, errors: &Counter, call: F) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let started = Instant::now();
    let mut wait = Duration::from_millis(200);
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if started.elapsed() < LIMIT => {
                errors.inc();
                tracing::warn!(call = what, error = %format!("{e:#}"), "failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
            Err(e) => anyhow::bail!("{what} failed for {LIMIT:?}: {e:#}"),
        }
    }
}
