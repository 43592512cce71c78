//! The Tributary gateway: an HTTP edge that accepts gzip batches of
//! analytics events and re-batches them into Kafka, one topic per event
//! type, with the envelope in record headers.
//!
//! The data path, one module per stage, in the order a request takes:
//!
//! ```text
//! api (listener, routes, answers)
//!   → admission (overload, rate limits, write key, signature)
//!   → ingest (decode → batch → per event: check → suppression →
//!             enrichment and privacy → permission → route →
//!             validate + encode → envelope headers: a RecordBatch)
//!   → delivery (send or spool per cluster, wait for acks, dead letters) → Kafka
//! ```
//!
//! Dependencies point the same way: `api` → `ingest`/`admission` →
//! `enrich`/`privacy` → `delivery` → the contract; nothing below `api` names its state.
//! [`Gateway::start`] runs it in-process (tests, embedding); the
//! `tributary-gateway` binary wraps it with a CLI and signal handling.

pub mod admission;
pub mod api;
pub mod config;
pub mod debugger;
pub mod delivery;
pub mod enrich;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod privacy;
mod reload;
pub mod schemas;
pub mod sdk_settings;
pub mod tls;

use crate::admission::IpLimiter;
use crate::admission::key_store::KeyStore;
use crate::config::Config;
use crate::delivery::embedded::EmbeddedCluster;
use crate::delivery::{Cluster, Delivery, DeliveryStats, Router};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running gateway.
pub struct Gateway {
    local_addr: SocketAddr,
    bootstrap: String,
    state: Arc<api::AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    // Declared last: dropped after the producer has flushed.
    embedded: Option<EmbeddedCluster>,
}

impl Gateway {
    /// Validates `config`, connects to Kafka (or starts the embedded
    /// cluster), checks topics, binds the listener and starts serving.
    pub async fn start(config: Config) -> anyhow::Result<Gateway> {
        config.validate().map_err(|e| anyhow::anyhow!(e))?;
        let router = Router::new(&config, &delivery::routes_file::RoutesFile::of(&config)?);
        let embedded = if config.kafka.embedded() {
            let list: Vec<String> = router.topics_of_cluster(Some(0)).into_iter().collect();
            Some(EmbeddedCluster::start(
                1,
                &list,
                config.kafka.topic_partitions,
            )?)
        } else {
            None
        };
        let bootstrap = match &embedded {
            Some(e) => e.bootstrap_servers().to_owned(),
            None => config.kafka.brokers.clone(),
        };
        let stats = Arc::new(DeliveryStats::default());
        let metrics = metrics::Metrics::new(&stats);
        let mut clusters = Vec::new();
        for (index, name) in config.kafka.cluster_names().iter().enumerate() {
            let embedded = embedded.as_ref().map(EmbeddedCluster::bootstrap_servers);
            clusters.push(
                Cluster::open(
                    &config,
                    index,
                    embedded,
                    &router,
                    stats.clone(),
                    metrics.kafka(name),
                )
                .await?,
            );
        }
        let delivery = Arc::new(Delivery::new(
            clusters,
            router,
            stats,
            &config,
            metrics.delivery_ack.clone(),
        ));
        delivery::replay::spawn(&delivery);
        delivery::routes_file::spawn(&delivery, &config);
        if config.delivery.heartbeat_secs > 0 {
            delivery::heartbeat::spawn(
                Arc::downgrade(&delivery),
                Duration::from_secs(config.delivery.heartbeat_secs),
            );
        }
        let schemas = schemas::open(&config.schemas)?;
        if let Some(r) = &schemas {
            schemas::observe(r, &metrics.schemas);
            schemas::spawn_reloader(
                Arc::downgrade(r),
                metrics.schemas.clone(),
                Duration::from_secs(config.schemas.refresh_secs.max(1)),
            );
        }
        let keys = Arc::new(KeyStore::load(&config).map_err(|e| anyhow::anyhow!(e))?);
        if keys.has_file() {
            keys.spawn_reloader(Duration::from_secs(config.auth.keys_file_poll_secs.max(1)));
        }
        let enricher =
            Arc::new(enrich::Enricher::new(&config.enrichment).map_err(|e| anyhow::anyhow!(e))?);
        if let Some(geo) = enricher.geo() {
            geo.spawn_reload(Duration::from_secs(
                config.enrichment.geo_reload_poll_secs.max(1),
            ));
        }
        let privacy =
            Arc::new(privacy::Privacy::load(&config.privacy).map_err(|e| anyhow::anyhow!(e))?);
        privacy.spawn_reloader();
        let sdk_settings = Arc::new(
            sdk_settings::SdkSettings::load(&config.sdk_settings)
                .map_err(|e| anyhow::anyhow!(e))?,
        );
        sdk_settings.spawn_reloader();
        let quotas = admission::quota::Quotas::start(&config.quotas, &config.spool.dir).await?;
        let ip_limiter = IpLimiter::new(
            config.rate_limits.ip_requests_per_second,
            config.rate_limits.ip_requests_burst,
        )
        .map(Arc::new);
        if let Some(l) = &ip_limiter {
            l.spawn_evictor();
        }
        let tls = match &config.tls {
            Some(t) => Some(Arc::new(
                tls::Tls::new(t).map_err(|e| anyhow::anyhow!("TLS: {e:#}"))?,
            )),
            None => None,
        };
        if let Some(t) = &tls {
            t.spawn_reloader();
        }
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.server.listen))?;
        let local_addr = listener.local_addr()?;
        let grace = Duration::from_millis(config.server.shutdown_grace_ms);
        let state = Arc::new(api::AppState::new(api::Parts {
            config,
            keys,
            ip_limiter,
            enricher,
            privacy,
            sdk_settings,
            metrics,
            schemas,
            delivery,
            quotas,
        }));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(api::server::serve(
            listener,
            tls,
            state.clone(),
            async {
                let _ = stopped.await;
            },
            grace,
        ));
        tracing::info!(%local_addr, kafka = %bootstrap, "gateway listening");
        Ok(Gateway {
            local_addr,
            bootstrap,
            state,
            stop: Some(stop),
            task,
            embedded,
        })
    }

    /// The address the gateway listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Bootstrap servers of the Kafka cluster in use (the embedded one in dev mode).
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// Whether Kafka is the embedded, in-memory cluster.
    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    /// Every topic the gateway may write to.
    pub fn topics(&self) -> Vec<String> {
        self.state.delivery.router().topics().into_iter().collect()
    }

    /// Delivery counters.
    pub fn stats(&self) -> Arc<DeliveryStats> {
        self.state.delivery.stats().clone()
    }

    /// Graceful shutdown: fail readiness, stop accepting, drain in-flight
    /// requests, then flush the producer, all within the configured grace.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.state.shutting_down.store(true, Ordering::Relaxed);
        self.state.debugger.close();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        let grace = Duration::from_millis(self.state.config.server.shutdown_grace_ms);
        let delivery = self.state.delivery.clone();
        let left = tokio::task::spawn_blocking(move || delivery.flush(grace)).await?;
        let stats = self.state.delivery.stats();
        tracing::info!(
            delivered = stats.delivered.get(),
            lost = stats.lost(),
            unflushed = left,
            "gateway stopped"
        );
        if left > 0 {
            anyhow::bail!(
                "{left} records were still unacknowledged when the shutdown grace ran out"
            );
        }
        Ok(())
    }
}
