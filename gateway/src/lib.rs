//! The Tributary gateway: an HTTP edge that accepts gzip batches of
//! analytics events and re-batches them into Kafka, one topic per event
//! type, with the envelope in record headers.
//!
//! The data path, one module per stage:
//!
//! ```text
//! server (listener) → api (routes) → admission (write key)
//!   → ingest (decode → batch → enrich) → delivery (route → producer → Kafka)
//! ```
//!
//! [`Gateway::start`] runs it in-process (tests, embedding); the
//! `tributary-gateway` binary wraps it with a CLI and signal handling.

pub mod admission;
pub mod api;
pub mod config;
pub mod delivery;
pub mod ingest;
pub mod metrics;
pub mod schemas;
pub mod server;
pub mod tls;

use crate::admission::key_store::KeyStore;
use crate::admission::{IpLimiter, Overload};
use crate::api::AppState;
use crate::config::Config;
use crate::delivery::embedded::EmbeddedCluster;
use crate::delivery::{ClusterProducer, DeliveryStats, Router};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Reloads the keys file on SIGHUP and when it changes.
fn spawn_key_reloader(state: std::sync::Weak<AppState>, poll: Duration) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(poll);
        loop {
            #[cfg(unix)]
            let signalled = async {
                match hup.as_mut() {
                    Some(h) => {
                        h.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let signalled = std::future::pending::<()>();
            let by_signal = tokio::select! {
                _ = tick.tick() => false,
                () = signalled => true,
            };
            let Some(state) = state.upgrade() else { break };
            if by_signal {
                state.keys.reload_logged("SIGHUP");
            } else {
                state.keys.reload_if_changed();
            }
        }
    });
}

/// A running gateway.
pub struct Gateway {
    local_addr: SocketAddr,
    bootstrap: String,
    state: Arc<AppState>,
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
        let router = Router::new(&config);
        let names = config.kafka.cluster_names();
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
        let stats = Arc::new(DeliveryStats::default());
        let metrics = metrics::Metrics::new(&stats);
        let mut clusters = Vec::with_capacity(names.len());
        for (index, name) in names.iter().enumerate() {
            let (brokers, extra) = match config.kafka.clusters.get(name) {
                Some(c) => (c.brokers.clone(), c.producer.clone()),
                None => match &embedded {
                    Some(e) => (
                        e.bootstrap_servers().to_owned(),
                        config.kafka.producer.clone(),
                    ),
                    None => (config.kafka.brokers.clone(), config.kafka.producer.clone()),
                },
            };
            if embedded.is_none() || index > 0 {
                delivery::topics::ensure_topics(
                    &brokers,
                    &extra,
                    &router.topics_of_cluster(Some(index)),
                    config.kafka.create_topics,
                    config.kafka.topic_partitions,
                    config.kafka.topic_replication,
                )
                .await
                .map_err(|e| anyhow::anyhow!("cluster {name}: {e:#}"))?;
            }
            // The default cluster spools in `spool.dir`, others beneath it.
            let dir = if index == 0 {
                config.spool.dir.clone()
            } else {
                config.spool.dir.join(name)
            };
            let spool = Arc::new(
                delivery::spool::Spool::open(&dir, config.spool.max_bytes)
                    .map_err(|e| anyhow::anyhow!("cannot open spool {}: {e}", dir.display()))?,
            );
            if spool.records() > 0 {
                tracing::info!(cluster = %name, records = spool.records(), "spool holds records from before; replaying");
            }
            let health = Arc::new(delivery::health::Health::default());
            let mut kafka = config.kafka.clone();
            kafka.producer = extra;
            let producer = ClusterProducer::new(
                &brokers,
                &kafka,
                config.delivery.buffered_retries,
                config.delivery.retry_queue,
                stats.clone(),
                health.clone(),
                spool.clone(),
                config.spool.fsync,
                &config.dead_letter_topic(),
                metrics.kafka(name),
            )?;
            clusters.push(delivery::Cluster {
                name: Arc::from(name.as_str()),
                producer,
                health,
                spool,
            });
        }
        let bootstrap = match &embedded {
            Some(e) => e.bootstrap_servers().to_owned(),
            None => config.kafka.brokers.clone(),
        };
        let tls = match &config.tls {
            Some(t) => Some(Arc::new(
                tls::Tls::new(t).map_err(|e| anyhow::anyhow!("TLS: {e:#}"))?,
            )),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.server.listen))?;
        let local_addr = listener.local_addr()?;
        let grace = Duration::from_millis(config.server.shutdown_grace_ms);
        let idempotency = api::idempotency::IdempotencyCache::new(
            Duration::from_secs(config.idempotency.window_secs),
            config.idempotency.max_entries,
        );
        let ip_limiter = IpLimiter::new(
            config.rate_limits.ip_requests_per_second,
            config.rate_limits.ip_requests_burst,
        );
        let schemas = schemas::open(&config.schemas)?;
        if let Some(r) = &schemas {
            schemas::observe(r, &metrics);
        }
        let state = Arc::new(AppState {
            schemas,
            keys: KeyStore::load(&config).map_err(|e| anyhow::anyhow!(e))?,
            ip_limiter,
            overload: Overload::new(&config.overload, &config.kafka),
            metrics,
            signatures: admission::signature::Verifier::new(Duration::from_secs(
                config.auth.hmac_window_secs,
            )),
            idempotency,
            router,
            clusters,
            stats,
            shutting_down: Default::default(),
            config,
        });
        for index in 0..state.clusters.len() {
            tokio::spawn(delivery::replay::run(Arc::downgrade(&state), index));
        }
        if state.schemas.is_some() {
            schemas::spawn_reloader(
                Arc::downgrade(&state),
                Duration::from_secs(state.config.schemas.refresh_secs.max(1)),
            );
        }
        if state.keys.has_file() {
            spawn_key_reloader(
                Arc::downgrade(&state),
                Duration::from_secs(state.config.auth.keys_file_poll_secs.max(1)),
            );
        }
        if state.config.delivery.heartbeat_secs > 0 {
            delivery::heartbeat::spawn(
                Arc::downgrade(&state),
                Duration::from_secs(state.config.delivery.heartbeat_secs),
            );
        }
        // Idle per-IP limiter entries are forgotten every minute.
        let weak = Arc::downgrade(&state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(state) = weak.upgrade() else { break };
                if let Some(l) = &state.ip_limiter {
                    l.evict_idle();
                }
            }
        });
        let (stop, stopped) = oneshot::channel::<()>();
        if let Some(t) = &tls {
            let weak = Arc::downgrade(t);
            let poll = t.poll();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(poll);
                loop {
                    tick.tick().await;
                    let Some(t) = weak.upgrade() else { break };
                    t.reload_if_changed();
                }
            });
        }
        let task = tokio::spawn(server::serve(
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
        self.state.router.topics().into_iter().collect()
    }

    /// Delivery counters.
    pub fn stats(&self) -> Arc<DeliveryStats> {
        self.state.stats.clone()
    }

    /// Graceful shutdown: fail readiness, stop accepting, drain in-flight
    /// requests, then flush the producer, all within the configured grace.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.state.shutting_down.store(true, Ordering::Relaxed);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        let grace = Duration::from_millis(self.state.config.server.shutdown_grace_ms);
        let state = self.state.clone();
        let left = tokio::task::spawn_blocking(move || {
            state
                .clusters
                .iter()
                .map(|c| c.producer.flush(grace))
                .sum::<i32>()
        })
        .await?;
        let stats = &self.state.stats;
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
