//! The gateway's hold on the schema registry: opened from `[schemas]` at
//! start-up (a source that cannot be loaded stops the start with the
//! reason), then reloaded on a timer off the request path. A failed reload
//! keeps the schemas in force, so a registry outage or a broken commit to
//! the schema directory never stops validation.

use crate::config::{SchemaSourceKind, SchemasConfig};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tributary_schema::confluent::ConfluentClient;
use tributary_schema::{Registry, Source};

/// Opens the configured registry; `None` when `schemas.source = "none"`.
pub fn open(config: &SchemasConfig) -> anyhow::Result<Option<Arc<Registry>>> {
    let source = match config.source {
        SchemaSourceKind::None => return Ok(None),
        SchemaSourceKind::Dir => Source::Dir(config.dir.clone()),
        SchemaSourceKind::Registry => Source::Confluent(ConfluentClient::new(
            config.registry_url.as_deref().unwrap_or_default(),
            config.registry_basic_auth.as_deref(),
            Duration::from_secs(10),
        )),
    };
    let registry = Registry::open(source).map_err(|e| anyhow::anyhow!("schemas: {e}"))?;
    tracing::info!(
        source = %registry.describe(),
        versions = registry.catalog().len(),
        "schemas loaded"
    );
    Ok(Some(Arc::new(registry)))
}

/// The registry's metrics (registered in `crate::metrics`).
#[derive(Clone, Debug, Default)]
pub struct SchemaGauges {
    /// Schemas compiled since start.
    pub compilations: Gauge,
    /// Schema versions in force.
    pub versions: Gauge,
    /// Reloads that failed (the schemas in force were kept).
    pub reload_failures: Counter,
}

/// Publishes the registry's gauges.
pub fn observe(registry: &Registry, gauges: &SchemaGauges) {
    gauges
        .compilations
        .set(i64::try_from(registry.compilations()).unwrap_or(i64::MAX));
    gauges
        .versions
        .set(i64::try_from(registry.catalog().len()).unwrap_or(i64::MAX));
}

/// Reloads the registry every `every` until the gateway is gone. Reloads
/// run on the blocking pool: reading files and HTTP calls must not stall
/// request handling.
pub fn spawn_reloader(registry: Weak<Registry>, gauges: SchemaGauges, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(registry) = registry.upgrade() else {
                break;
            };
            let outcome = tokio::task::spawn_blocking({
                let registry = registry.clone();
                move || registry.reload()
            })
            .await;
            match outcome {
                Ok(Ok(true)) => {
                    tracing::info!(versions = registry.catalog().len(), "schemas reloaded")
                }
                Ok(Ok(false)) => {}
                Ok(Err(e)) => {
                    gauges.reload_failures.inc();
                    tracing::warn!(error = %e, "schema reload failed; keeping the schemas in force");
                }
                Err(e) => tracing::error!(error = %e, "schema reload task failed"),
            }
            observe(&registry, &gauges);
        }
    });
}
