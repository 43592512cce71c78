//! The offload loop: consume, cut each partition into [`Segment`]s, write
//! each closed segment's objects (or append its rows to Iceberg tables),
//! then commit the offset after it.
//!
//! Offsets are committed only after every object of a segment is durably
//! written (`enable.auto.commit` and `enable.auto.offset.store` are off).
//! A revoked partition's open segment is dropped, not written: nothing of it
//! was committed, so the partition's next owner resumes at the segment's
//! first offset and re-derives the same objects (see `segment`). Graceful
//! shutdown writes and commits every open segment.
//!
//! The loop runs on one thread; the store's async calls are driven through
//! a runtime handle. A store that keeps failing stops the loop with an
//! error after [`crate::retry::LIMIT`] (the process exits non-zero; a
//! supervisor restarts it at the committed offsets).

use crate::config::{Config, LakeFormat};
use crate::dedup::{Dedup, id_hash};
use crate::erasure::Erasures;
use crate::health::Health;
use crate::iceberg::{Appended, Covered, Tables};
use crate::metrics::PipelineMetrics;
use crate::retry::with_retry;
use crate::rows::{Decoded, Decoder, Incoming};
use crate::segment::{Rotation, Segment};
use crate::store::{Store, Written};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, ClientContext, Offset, Statistics, TopicPartitionList};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tributary_contract::envelope::header;
use tributary_schema::Registry;

type Key = (String, i32);

/// librdkafka callbacks: partitions revoked, and high watermarks from the
/// statistics (for the lag metric).
#[derive(Default)]
pub struct OffloadContext {
    revoked: Mutex<Vec<Key>>,
    high_watermarks: Mutex<HashMap<Key, i64>>,
    assigned: AtomicBool,
}

impl ClientContext for OffloadContext {
    fn stats(&self, s: Statistics) {
        if let Ok(mut hw) = self.high_watermarks.lock() {
            for (t, topic) in s.topics {
                for (p, part) in topic.partitions {
                    if p >= 0 && part.hi_offset >= 0 {
                        hw.insert((t.clone(), p), part.hi_offset);
                    }
                }
            }
        }
    }
}

impl ConsumerContext for OffloadContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = r
            && let Ok(mut v) = self.revoked.lock()
        {
            for e in tpl.elements() {
                v.push((e.topic().to_owned(), e.partition()));
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        if let Rebalance::Assign(_) = r {
            self.assigned.store(true, Ordering::Relaxed);
        }
    }
}

/// What the loop works on, besides Kafka.
pub struct Parts {
    /// The configuration.
    pub config: Config,
    /// The lake.
    pub store: Store,
    /// Schemas for decoding and column layouts.
    pub registry: Option<Arc<Registry>>,
    /// Health aggregates.
    pub health: Arc<Health>,
    /// Pipeline metrics.
    pub metrics: Arc<PipelineMetrics>,
    /// The event tables, when the lake is Iceberg (`[lake] format`).
    pub tables: Option<Arc<Tables>>,
    /// The erasure requests: their users' rows are left out of every file.
    pub erasures: Arc<tokio::sync::Mutex<Erasures>>,
    /// Drives the store's async calls.
    pub runtime: tokio::runtime::Handle,
}

impl Parts {
    /// The parts `config` names: its store, registry, metrics and (Iceberg
    /// lakes) tables, with `runtime` driving their calls.
    pub fn open(config: Config, runtime: &tokio::runtime::Runtime) -> anyhow::Result<Parts> {
        let store = Store::open(&config.store)?;
        let registry = crate::open_registry(&config.schemas)?;
        let (metrics, health) = PipelineMetrics::new(config.health.clone());
        let erasures = Arc::new(tokio::sync::Mutex::new(Erasures::default()));
        let tables = match config.lake.format {
            LakeFormat::Parquet => None,
            LakeFormat::Iceberg => Some(Arc::new(runtime.block_on(Tables::open(
                &config.lake,
                &config.offload.prefix,
                &store,
                metrics.clone(),
                erasures.clone(),
            ))?)),
        };
        Ok(Parts {
            config,
            store,
            registry,
            health,
            metrics,
            tables,
            erasures,
            runtime: runtime.handle().clone(),
        })
    }
}

/// Where a replay stops: the last offset to include, per partition.
pub type ReplayEnds = HashMap<Key, i64>;

/// The offload loop.
pub struct Offloader {
    parts: Parts,
    decoder: Decoder,
    rotation: Rotation,
    segments: HashMap<Key, Segment>,
    /// The partition of the last record.
    current: Key,
    /// Next offset expected per partition (for the lag metric).
    positions: HashMap<Key, i64>,
    /// Replay mode: stop per partition at these offsets, commit nothing.
    replay: Option<ReplayEnds>,
    /// Repeated events dropped (`[dedup]`), when on.
    dedup: Option<Dedup>,
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A consumer for the configured group and topics.
pub fn consumer(
    config: &Config,
    group: Option<&str>,
) -> anyhow::Result<BaseConsumer<OffloadContext>> {
    let k = &config.kafka;
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.brokers)
        .set("group.id", group.unwrap_or(&k.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set(
            "statistics.interval.ms",
            k.statistics_interval_ms.to_string(),
        )
        // Topics created after start (new event types) are picked up.
        .set("topic.metadata.refresh.interval.ms", "10000");
    for (key, v) in &k.consumer {
        c.set(key, v);
    }
    Ok(c.create_with_context(OffloadContext::default())?)
}

impl Offloader {
    /// A loop over `parts`; `replay` switches to replay mode.
    pub fn new(parts: Parts, replay: Option<ReplayEnds>) -> Offloader {
        let rotation = Rotation::from(&parts.config.offload);
        let decoder = Decoder::new(
            &parts.config.kafka.dead_letter_topic,
            parts.registry.clone(),
        );
        let dedup = Dedup::new(&parts.config.dedup);
        Offloader {
            dedup,
            parts,
            decoder,
            rotation,
            segments: HashMap::new(),
            current: (String::new(), -1),
            positions: HashMap::new(),
            replay,
        }
    }

    /// Consumes until `stop` is set (then closes and commits every open
    /// segment) or, in replay mode, until every partition reached its end.
    pub fn run(
        &mut self,
        consumer: &BaseConsumer<OffloadContext>,
        stop: &AtomicBool,
    ) -> anyhow::Result<()> {
        let mut last_lag = Instant::now();
        loop {
            if stop.load(Ordering::Relaxed) {
                let keys: Vec<Key> = self.segments.keys().cloned().collect();
                for key in keys {
                    self.close(consumer, &key)?;
                }
                return Ok(());
            }
            if let Some(ends) = &self.replay
                && ends
                    .keys()
                    .all(|k| self.positions.get(k).is_some_and(|p| p > &ends[k]))
            {
                let keys: Vec<Key> = self.segments.keys().cloned().collect();
                for key in keys {
                    self.close(consumer, &key)?;
                }
                return Ok(());
            }
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(msg)) => self.handle(consumer, &msg)?,
                Some(Err(e)) => {
                    self.parts.metrics.kafka_errors.inc();
                    tracing::warn!(error = %e, "consume error");
                }
                None => {}
            }
            let revoked: Vec<Key> = consumer
                .context()
                .revoked
                .lock()
                .map(|mut v| std::mem::take(&mut *v))
                .unwrap_or_default();
            for key in revoked {
                if let Some(s) = self.segments.remove(&key) {
                    tracing::info!(topic = %key.0, partition = key.1, from = s.start,
                        "partition revoked; its open segment is left to the next owner");
                }
                self.positions.remove(&key);
                if let Some(d) = self.dedup.as_mut() {
                    d.forget(&key);
                }
                self.parts.metrics.forget_partition(&key.0, key.1);
            }
            if last_lag.elapsed() > Duration::from_millis(500) {
                last_lag = Instant::now();
                self.publish_lag(consumer);
            }
        }
    }

    fn publish_lag(&self, consumer: &BaseConsumer<OffloadContext>) {
        let Ok(hw) = consumer.context().high_watermarks.lock() else {
            return;
        };
        let Ok(assignment) = consumer.assignment() else {
            return;
        };
        for e in assignment.elements() {
            let key = (e.topic().to_owned(), e.partition());
            let Some(high) = hw.get(&key) else { continue };
            let read = self.positions.get(&key).copied();
            let open = self.segments.get(&key).map(|s| s.start);
            self.parts.metrics.set_lag(&key.0, key.1, *high, read, open);
        }
        if let Some(d) = &self.dedup {
            self.parts.metrics.dedup_held.set(d.held() as i64);
        }
        self.parts.metrics.ready.set(i64::from(
            consumer.context().assigned.load(Ordering::Relaxed),
        ));
    }

    fn handle(
        &mut self,
        consumer: &BaseConsumer<OffloadContext>,
        msg: &rdkafka::message::BorrowedMessage<'_>,
    ) -> anyhow::Result<()> {
        // Records come in runs from one partition: the key is rebuilt only
        // when the partition changes, and the maps are searched by
        // reference (no allocation per record).
        if self.current.1 != msg.partition() || self.current.0 != msg.topic() {
            self.current = (msg.topic().to_owned(), msg.partition());
        }
        let offset = msg.offset();
        match self.positions.get_mut(&self.current) {
            Some(p) => *p = offset + 1,
            None => {
                self.positions.insert(self.current.clone(), offset + 1);
            }
        }
        if let Some(ends) = &self.replay
            && ends.get(&self.current).is_none_or(|end| offset > *end)
        {
            return Ok(());
        }
        let time = msg.timestamp().to_millis().unwrap_or(0);
        let headers: Vec<(&str, &[u8])> = msg
            .headers()
            .map(|h| {
                h.iter()
                    .map(|x| (x.key, x.value.unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let value = msg.payload().unwrap_or_default();
        let size = value.len()
            + headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        match self.segments.get(&self.current) {
            // A rewind (re-assignment at the committed offset) restarts the
            // segment from there.
            Some(s) if offset <= s.end => {
                self.segments.remove(&self.current);
            }
            Some(s) if s.must_close_before(&self.rotation, time, size) => {
                let key = self.current.clone();
                self.close(consumer, &key)?;
            }
            _ => {}
        }
        let incoming = Incoming {
            topic: msg.topic(),
            partition: msg.partition(),
            offset,
            kafka_time_ms: time,
            headers: &headers,
            value,
        };
        if self
            .dedup
            .as_ref()
            .is_some_and(|d| d.needs_load(&self.current, offset))
        {
            self.load_seen(offset, time)?;
        }
        let decoded = self.decoder.decode(&incoming);
        let mut let_through = None;
        if let Some(d) = self.dedup.as_mut() {
            match &decoded {
                Decoded::Event(e) => {
                    let hash = id_hash(e.app_id, e.message_id);
                    if let Some(copy) = d.check(&self.current, offset, hash, e.received_at_ms) {
                        self.parts.metrics.duplicate(copy);
                        self.parts.metrics.records.inc();
                        // The offset still belongs to the segment: its
                        // commit must cover it.
                        open_segment(&mut self.segments, &self.current, offset, time).add(
                            offset,
                            time,
                            size,
                            Decoded::Heartbeat,
                        );
                        return Ok(());
                    }
                    let_through = Some((hash, e.received_at_ms));
                }
                _ => d.pass(&self.current, offset),
            }
        }
        match &decoded {
            Decoded::Event(e) => {
                self.parts.health.observe(e, epoch_ms());
                if headers.iter().any(|(n, _)| *n == header::HOT_KEY) {
                    self.parts.metrics.hot_key_records.inc();
                }
            }
            Decoded::Error(e) => {
                self.parts.metrics.undecodable.inc();
                tracing::warn!(topic = %incoming.topic, partition = incoming.partition, offset,
                    reason = %e.reason, "record cannot be read; written to the error location");
            }
            _ => {}
        }
        self.parts.metrics.records.inc();
        let segment = open_segment(&mut self.segments, &self.current, offset, time);
        segment.add(offset, time, size, decoded);
        if let Some((hash, received)) = let_through {
            segment.remember(hash, received);
        }
        Ok(())
    }

    /// Reloads the current partition's dedup hashes before `offset` (a
    /// record at `time_ms`): those of the committed segments, from their
    /// `.ids` objects, newest first until the window or the bound is full.
    fn load_seen(&mut self, offset: i64, time_ms: i64) -> anyhow::Result<()> {
        let Some(d) = self.dedup.as_ref() else {
            return Ok(());
        };
        let (topic, partition) = self.current.clone();
        let prefix = crate::segment::object_prefix(&self.parts.config.offload.prefix);
        let from = d.reload_from(time_ms);
        let store = self.parts.store.clone();
        let day = |ms: i64| crate::rows::hour_of(ms).div_euclid(24);
        // Receipt times may run a little ahead of this record's.
        let mut ranges: Vec<(i64, i64, String)> = Vec::new();
        for day in day(from)..=day(time_ms) + 1 {
            let folder = crate::dedup::ids_day_prefix(&prefix, &topic, partition, day);
            let names = self.with_store_retry(&folder, || store.list(&folder))?;
            ranges.extend(names.into_iter().filter_map(|n| {
                let (start, end) = crate::dedup::ids_range(&n)?;
                (end < offset).then_some((start, end, n))
            }));
        }
        // Newest first; a range another cut of the same offsets overlaps
        // (a replay under another configuration) is read once.
        ranges.sort_by_key(|r| std::cmp::Reverse((r.1, r.0)));
        let mut chunks = Vec::new();
        let (mut held, mut below) = (0, i64::MAX);
        for (start, end, name) in ranges {
            if end >= below {
                continue;
            }
            below = start;
            let bytes = self.with_store_retry(&name, || store.get(&name))?;
            let ids = crate::dedup::decode_ids(&bytes)
                .map_err(|e| anyhow::anyhow!("dedup object {name}: {e}"))?;
            let newest = ids.iter().map(|(_, t)| *t).max().unwrap_or(i64::MIN);
            held += ids.len();
            chunks.push(ids);
            if held >= d.max_ids() || newest < from {
                break;
            }
        }
        let mut entries: Vec<(u64, i64)> = chunks
            .into_iter()
            .rev()
            .flatten()
            .filter(|(_, t)| *t >= from)
            .collect();
        let excess = entries.len().saturating_sub(d.max_ids());
        entries.drain(..excess);
        self.parts.metrics.dedup_loaded.inc_by(entries.len() as u64);
        tracing::info!(
            topic,
            partition,
            offset,
            hashes = entries.len(),
            "dedup hashes reloaded"
        );
        if let Some(d) = self.dedup.as_mut() {
            d.load(self.current.clone(), offset, entries);
        }
        Ok(())
    }

    /// Runs a store call (a write or a read of `what`), retrying with
    /// backoff ([`crate::retry`]).
    fn with_store_retry<T, F>(&self, what: &str, call: impl Fn() -> F) -> anyhow::Result<T>
    where
        F: std::future::Future<Output = anyhow::Result<T>>,
    {
        self.parts
            .runtime
            .block_on(with_retry(what, &self.parts.metrics.store_errors, call))
    }

    /// Writes the open segment of `key` and commits the offset after it:
    /// its objects, then (Iceberg lakes) its rows appended to their tables.
    fn close(&mut self, consumer: &BaseConsumer<OffloadContext>, key: &Key) -> anyhow::Result<()> {
        let Some(seg) = self.segments.remove(key) else {
            return Ok(());
        };
        let (start, end) = (seg.start, seg.end);
        let erasures = self.parts.erasures.clone();
        let mut erasures = erasures.blocking_lock();
        if self.parts.tables.is_none()
            && erasures.stale(Duration::from_secs(self.parts.config.erasure.refresh_secs))
        {
            let prefix = crate::segment::object_prefix(&self.parts.config.offload.prefix);
            let known = erasures.known();
            let store = self.parts.store.clone();
            let new = self.with_store_retry("read the erasure requests", || {
                Erasures::read_new(&store, &prefix, &known)
            })?;
            erasures.add(new)?;
        }
        let closed = seg.close(
            &self.parts.config.offload.prefix,
            &key.0,
            key.1,
            self.parts.tables.is_some(),
            &erasures,
        )?;
        drop(erasures);
        self.parts.metrics.erased_rows.inc_by(closed.erased as u64);
        let store = self.parts.store.clone();
        for o in closed.objects {
            let w = self.with_store_retry(&o.path, || store.put(&o.path, o.bytes.clone()))?;
            let m = &self.parts.metrics;
            m.objects.inc();
            m.rows.inc_by(o.rows as u64);
            m.bytes.inc_by(o.bytes.len() as u64);
            if w != Written::Created {
                m.rewrites.inc();
                tracing::info!(path = %o.path, outcome = ?w, "object existed (replay)");
            }
        }
        if let Some(tables) = self.parts.tables.clone() {
            let covered = Covered {
                topic: &key.0,
                partition: key.1,
                start,
                end,
            };
            // One append (one snapshot) per table the segment touched.
            let mut by_table: Vec<Vec<crate::iceberg::TableRows>> = Vec::new();
            for rows in closed.tables {
                match by_table.iter_mut().find(|g| g[0].table == rows.table) {
                    Some(g) => g.push(rows),
                    None => by_table.push(vec![rows]),
                }
            }
            for rows in by_table {
                let table = rows[0].table.clone();
                let appended = self.parts.runtime.block_on(tables.append(covered, rows))?;
                self.parts.metrics.table_commit(appended);
                match appended {
                    Appended::Committed(n) => {
                        self.parts.metrics.rows.inc_by(n as u64);
                        crate::failpoint::crash("after-table-commit");
                    }
                    Appended::AlreadyHeld => {
                        tracing::info!(%table, topic = %key.0, partition = key.1, start, end,
                            "the table already holds this segment (a restart)");
                    }
                    Appended::TakenOver => {
                        tracing::warn!(%table, topic = %key.0, partition = key.1, start, end,
                            "another writer committed this partition; leaving the segment to it");
                        return Ok(());
                    }
                }
            }
        }
        self.parts.metrics.segments.inc();
        if self.replay.is_some() {
            return Ok(());
        }

        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&key.0, key.1, Offset::Offset(end + 1))?;
        if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
            // Written but not committed (e.g. the partition moved): the next
            // owner rewrites the same objects.
            self.parts.metrics.commit_failures.inc();
            tracing::warn!(topic = %key.0, partition = key.1, error = %e, "commit failed");
        }
        Ok(())
    }
}

/// `key`'s open segment, started at `offset` if there is none.
fn open_segment<'a>(
    segments: &'a mut HashMap<Key, Segment>,
    key: &Key,
    offset: i64,
    time: i64,
) -> &'a mut Segment {
    if !segments.contains_key(key) {
        segments.insert(key.clone(), Segment::new(offset, time));
    }
    segments
        .get_mut(key)
        .unwrap_or_else(|| unreachable!("inserted above"))
}
