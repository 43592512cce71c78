//! Cluster health as the gateway sees it: up, or down since when.
//!
//! librdkafka reports "all brokers down" through the client's error
//! callback; the gateway then stops handing records to the producer and
//! writes them to the spool instead, moves what the producer still holds
//! into the spool, and probes the cluster's metadata until it answers.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Up or down, shared by the producer's callbacks, the ingest path and the
/// probe task.
#[derive(Debug, Default)]
pub struct Health {
    down: AtomicBool,
    since: Mutex<Option<Instant>>,
}

impl Health {
    /// Whether Kafka is currently considered unreachable.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Marks the cluster down; returns whether this is a change.
    pub fn mark_down(&self, reason: &str) -> bool {
        let changed = !self.down.swap(true, Ordering::AcqRel);
        if changed {
            if let Ok(mut s) = self.since.lock() {
                *s = Some(Instant::now());
            }
            tracing::warn!(reason, "Kafka unreachable: spooling to disk");
        }
        changed
    }

    /// Marks the cluster up again.
    pub fn mark_up(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            let secs = self
                .since
                .lock()
                .ok()
                .and_then(|s| s.map(|t| t.elapsed().as_secs_f64()))
                .unwrap_or(0.0);
            tracing::info!(
                down_for_secs = secs,
                "Kafka reachable again: replaying the spool"
            );
        }
    }
}
