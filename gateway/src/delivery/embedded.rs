//! The embedded Kafka used when no brokers are configured (`--dev`): an
//! in-process cluster speaking the Kafka protocol (librdkafka's mock
//! cluster), so one command runs the whole gateway on a fresh machine.
//!
//! It keeps everything in memory and loses it on exit. Any Kafka client can
//! connect to its bootstrap address while the gateway runs.

use rdkafka::mocking::MockCluster;
use std::sync::mpsc;

/// A running embedded cluster. Dropping it shuts the cluster down.
pub struct EmbeddedCluster {
    bootstrap: String,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmbeddedCluster {
    /// Starts a cluster with `brokers` brokers and creates `topics` with
    /// `partitions` partitions each.
    pub fn start(
        brokers: i32,
        topics: &[String],
        partitions: i32,
    ) -> anyhow::Result<EmbeddedCluster> {
        let (ready_tx, ready_rx) = mpsc::channel::<anyhow::Result<String>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let topics = topics.to_vec();
        // The mock cluster is not Send: it lives on its own thread.
        let thread = std::thread::Builder::new()
            .name("tributary-embedded-kafka".into())
            .spawn(move || {
                let cluster = match MockCluster::new(brokers) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::anyhow!("embedded Kafka: {e}")));
                        return;
                    }
                };
                for t in &topics {
                    if let Err(e) = cluster.create_topic(t, partitions, 1) {
                        let _ =
                            ready_tx.send(Err(anyhow::anyhow!("embedded Kafka topic {t}: {e}")));
                        return;
                    }
                }
                let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                let _ = stop_rx.recv();
                drop(cluster);
            })?;
        let bootstrap = ready_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("embedded Kafka thread died"))??;
        Ok(EmbeddedCluster {
            bootstrap,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Bootstrap address for any Kafka client.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
