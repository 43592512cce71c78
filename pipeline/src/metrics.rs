//! The pipeline's own metrics (the health metrics are in `health`), in one
//! Prometheus registry with them.

use crate::health::Health;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Labels of per-partition gauges (bounded by the assignment).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
}

/// The `reason` of a dropped copy (`dedup::Copy::label`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// `replayed` or `resent`.
    pub reason: &'static str,
}

/// The `outcome` of a table append.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `committed`, `already_held` or `taken_over`.
    pub outcome: &'static str,
}

/// Counters and gauges of the offload loop.
pub struct PipelineMetrics {
    registry: Registry,
    /// Health aggregates, refreshed before each scrape.
    pub health: Arc<Health>,
    /// Records read.
    pub records: Counter,
    /// Records that could not be read (written to `_errors/`).
    pub undecodable: Counter,
    /// Events the gateway sent without their user's key (`tb-hot-key`):
    /// spread over their topic or from the overflow topic, written to
    /// their event's table like the others.
    pub hot_key_records: Counter,
    /// Objects written.
    pub objects: Counter,
    /// Rows written.
    pub rows: Counter,
    /// Parquet bytes written.
    pub bytes: Counter,
    /// Segments closed.
    pub segments: Counter,
    /// Objects that already existed (replays after a crash).
    pub rewrites: Counter,
    /// Failed store calls, writes and dedup reloads (retried).
    pub store_errors: Counter,
    /// Failed offset commits.
    pub commit_failures: Counter,
    /// Consumer errors.
    pub kafka_errors: Counter,
    /// Dedup hashes reloaded from `.ids` objects (partitions taken up).
    pub dedup_loaded: Counter,
    /// Dedup hashes held over the assigned partitions.
    pub dedup_held: Gauge,
    duplicates: Family<ReasonLabels, Counter>,
    table_commits: Family<OutcomeLabels, Counter>,
    /// Table commits that lost a race with another writer (checked again).
    pub table_conflicts: Counter,
    /// Table schema changes (columns added).
    pub table_schema_updates: Counter,
    /// Rows of erased users left out of files.
    pub erased_rows: Counter,
    /// 1 once partitions are assigned.
    pub ready: Gauge,
    lag: Family<PartitionLabels, Gauge>,
    uncommitted: Family<PartitionLabels, Gauge>,
}

impl PipelineMetrics {
    /// Creates the registry with the health metrics in it.
    pub fn new(health_config: crate::config::HealthConfig) -> (Arc<PipelineMetrics>, Arc<Health>) {
        let mut registry = Registry::with_prefix("tributary_pipeline");
        let health = Arc::new(Health::new(health_config, &mut registry));
        let c = |r: &mut Registry, name: &str, help: &str| {
            let m = Counter::default();
            r.register(name, help, m.clone());
            m
        };
        let records = c(&mut registry, "records", "Records read from Kafka");
        let undecodable = c(
            &mut registry,
            "undecodable",
            "Records that could not be read (kept under _errors/)",
        );
        let hot_key_records = c(
            &mut registry,
            "hot_key_records",
            "Events read that the gateway sent without their user's key (tb-hot-key)",
        );
        let objects = c(&mut registry, "objects", "Parquet objects written");
        let rows = c(&mut registry, "rows", "Rows written");
        let bytes = c(&mut registry, "bytes", "Parquet bytes written");
        let segments = c(&mut registry, "segments", "Segments closed and committed");
        let rewrites = c(
            &mut registry,
            "rewrites",
            "Objects already present when written (replays)",
        );
        let store_errors = c(
            &mut registry,
            "store_errors",
            "Failed store calls: object writes and dedup reloads (retried)",
        );
        let commit_failures = c(&mut registry, "commit_failures", "Failed offset commits");
        let kafka_errors = c(&mut registry, "kafka_errors", "Consumer errors");
        let dedup_loaded = c(
            &mut registry,
            "dedup_hashes_loaded",
            "Dedup hashes reloaded from committed segments' .ids objects",
        );
        let dedup_held = Gauge::default();
        registry.register(
            "dedup_hashes",
            "Dedup hashes held for the assigned partitions",
            dedup_held.clone(),
        );
        let duplicates = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "duplicates_dropped",
            "Events dropped as copies of one already written (same app and messageId in the partition, within [dedup] window_secs), by reason",
            duplicates.clone(),
        );
        let table_commits = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "table_appends",
            "Segments appended to an Iceberg table, by outcome: committed, already_held (a restart found them there), taken_over (another writer committed the partition)",
            table_commits.clone(),
        );
        let table_conflicts = c(
            &mut registry,
            "table_commit_conflicts",
            "Iceberg commits that lost a race with another writer and were checked again",
        );
        let table_schema_updates = c(
            &mut registry,
            "table_schema_updates",
            "Iceberg table schema changes (columns added as schema versions add properties)",
        );
        let erased_rows = c(
            &mut registry,
            "erased_rows",
            "Rows left out of the lake because their user's data was erased (tributary-pipeline erase)",
        );
        let ready = Gauge::default();
        registry.register("ready", "1 once partitions are assigned", ready.clone());
        let lag = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "lag_records",
            "Records in the partition not yet read (high watermark - position)",
            lag.clone(),
        );
        let uncommitted = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "uncommitted_records",
            "Records not yet committed: read into the open segment or not read",
            uncommitted.clone(),
        );
        let m = Arc::new(PipelineMetrics {
            registry,
            health: health.clone(),
            records,
            undecodable,
            hot_key_records,
            objects,
            rows,
            bytes,
            segments,
            rewrites,
            store_errors,
            commit_failures,
            kafka_errors,
            dedup_loaded,
            dedup_held,
            duplicates,
            table_commits,
            table_conflicts,
            table_schema_updates,
            erased_rows,
            ready,
            lag,
            uncommitted,
        });
        (m, health)
    }

    /// Sets the lag gauges of one partition. `read` is the next offset to
    /// read, `open` the first offset of the open segment.
    pub fn set_lag(
        &self,
        topic: &str,
        partition: i32,
        high: i64,
        read: Option<i64>,
        open: Option<i64>,
    ) {
        let l = PartitionLabels {
            topic: topic.to_owned(),
            partition,
        };
        let read = read.unwrap_or(high);
        self.lag.get_or_create(&l).set((high - read).max(0));
        self.uncommitted
            .get_or_create(&l)
            .set((high - open.unwrap_or(read)).max(0));
    }

    /// Counts a dropped copy.
    pub fn duplicate(&self, copy: crate::dedup::Copy) {
        self.duplicates
            .get_or_create(&ReasonLabels {
                reason: copy.label(),
            })
            .inc();
    }

    /// Counts a table append.
    pub fn table_commit(&self, a: crate::iceberg::Appended) {
        use crate::iceberg::Appended;
        let outcome = match a {
            Appended::Committed(_) => "committed",
            Appended::AlreadyHeld => "already_held",
            Appended::TakenOver => "taken_over",
        };
        self.table_commits
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Drops a revoked partition's gauges.
    pub fn forget_partition(&self, topic: &str, partition: i32) {
        let l = PartitionLabels {
            topic: topic.to_owned(),
            partition,
        };
        self.lag.remove(&l);
        self.uncommitted.remove(&l);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        self.health.refresh();
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}
