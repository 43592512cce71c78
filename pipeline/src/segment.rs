//! Segments: how one partition's records are cut into files, exactly once.
//!
//! A segment is a contiguous offset range of one partition. It closes
//! *before* the record that would break a rule — record count, value bytes,
//! record-time span, or a record-time gap after the previous record — so
//! where it closes depends only on the records, never on the wall clock or
//! on when the pipeline happened to run. Its rows are split by bucket
//! (`event=<name>/dt=<day>/hr=<hour>/` from the event time, plus the schema
//! id, so a schema change starts a new file) and each bucket becomes one
//! object named by topic, partition, the segment's first offset and the
//! schema id. With `[dedup]` on, one more object (`_dedup/…/*.ids`) holds
//! the hashes of the events let through, for the next owner to reload. The
//! offset after the segment is committed only once every object is written.
//!
//! So a restart (crash, kill -9, rebalance) resumes at the first offset of
//! the unfinished segment, re-reads the same records, closes at the same
//! record and writes objects with the same names and bytes: a replay
//! replaces, it never adds.

use crate::config::OffloadConfig;
use crate::erasure::Erasures;
use crate::iceberg::TableRows;
use crate::parquet_out::{self, EventColumns};
use crate::rows::{DeadLetterRow, Decoded, ErrorRow, date_hour, hour_of};
use std::collections::BTreeMap;
use std::sync::Arc;
use tributary_contract::topic::slug;

/// Where a row goes inside its segment. Hours count from the epoch
/// ([`hour_of`]); they become `dt=`/`hr=` when the objects are named.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Bucket {
    Event {
        /// The event name's slug, shared by the records of a run.
        event: Arc<str>,
        hour: i64,
        schema_id: Option<u32>,
    },
    DeadLetter {
        hour: i64,
    },
    Error {
        day: i64,
    },
}

#[derive(Debug)]
enum Rows {
    Events(Box<EventColumns>),
    DeadLetters(Vec<DeadLetterRow>),
    Errors(Vec<ErrorRow>),
}

/// The rules a segment closes by.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    max_records: usize,
    max_bytes: usize,
    max_span_ms: i64,
    idle_gap_ms: i64,
}

impl From<&OffloadConfig> for Rotation {
    fn from(c: &OffloadConfig) -> Rotation {
        Rotation {
            max_records: c.max_records,
            max_bytes: c.max_bytes,
            max_span_ms: i64::try_from(c.max_span_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            idle_gap_ms: i64::try_from(c.idle_gap_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
        }
    }
}

/// The open segment of one partition.
#[derive(Debug)]
pub struct Segment {
    /// First offset.
    pub start: i64,
    /// Last offset added.
    pub end: i64,
    first_time: i64,
    last_time: i64,
    /// Record time of the last record that was not a heartbeat: the idle
    /// gap is measured from it, so heartbeats close a quiet partition's
    /// segment instead of keeping it open.
    last_row_time: i64,
    records: usize,
    bytes: usize,
    buckets: BTreeMap<Bucket, Rows>,
    /// The last event name seen and its slug: records of a partition mostly
    /// share one event name, so the slug is computed once per run of them.
    last_slug: (String, Arc<str>),
    /// Hashes of the events `dedup` let through, with their receipt times:
    /// written as the segment's `.ids` object.
    ids: Vec<(u64, i64)>,
}

/// What a closed segment leaves to write: objects, and (when the lake is
/// Iceberg tables) the event rows bound for tables.
#[derive(Debug, Default)]
pub struct Closed {
    /// Objects to put: plain Parquet event files (parquet lakes), dead
    /// letters, error rows, the `.ids` of dedup.
    pub objects: Vec<Object>,
    /// Event rows per table bucket (Iceberg lakes).
    pub tables: Vec<TableRows>,
    /// Rows of erased users left out (plain Parquet lakes; Iceberg lakes
    /// filter when the rows are appended).
    pub erased: usize,
}

/// One object to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Path inside the store.
    pub path: String,
    /// Parquet bytes.
    pub bytes: Vec<u8>,
    /// Rows in it.
    pub rows: usize,
}

impl Segment {
    /// A segment starting at `offset`.
    pub fn new(offset: i64, time_ms: i64) -> Segment {
        Segment {
            start: offset,
            end: offset - 1,
            first_time: time_ms,
            last_time: time_ms,
            last_row_time: time_ms,
            records: 0,
            bytes: 0,
            buckets: BTreeMap::new(),
            last_slug: (String::new(), slug("").into()),
            ids: Vec::new(),
        }
    }

    /// Remembers an event `dedup` let through, for the `.ids` object.
    pub fn remember(&mut self, hash: u64, received_ms: i64) {
        self.ids.push((hash, received_ms));
    }

    /// Records added (heartbeats included).
    pub fn records(&self) -> usize {
        self.records
    }

    /// Whether adding a record at `time_ms` of `bytes` must first close
    /// this segment.
    pub fn must_close_before(&self, r: &Rotation, time_ms: i64, bytes: usize) -> bool {
        self.records > 0
            && (self.records >= r.max_records
                || self.bytes + bytes > r.max_bytes
                || time_ms - self.first_time > r.max_span_ms
                || time_ms - self.last_row_time > r.idle_gap_ms)
    }

    /// Adds a decoded record.
    pub fn add(&mut self, offset: i64, time_ms: i64, bytes: usize, decoded: Decoded<'_>) {
        self.end = offset;
        self.records += 1;
        self.bytes += bytes;
        // Kafka timestamps may step back a little (producer clocks): the
        // span and gap rules use the latest seen.
        self.last_time = self.last_time.max(time_ms);
        if !matches!(decoded, Decoded::Heartbeat) {
            self.last_row_time = self.last_row_time.max(time_ms);
        }
        match decoded {
            Decoded::Heartbeat => {}
            Decoded::Event(e) => {
                if self.last_slug.0 != e.event_name {
                    self.last_slug = (e.event_name.to_owned(), slug(e.event_name).into());
                }
                let b = Bucket::Event {
                    event: self.last_slug.1.clone(),
                    hour: hour_of(e.event_time_ms),
                    schema_id: e.schema_id,
                };
                if let Rows::Events(c) = self
                    .buckets
                    .entry(b)
                    .or_insert_with(|| Rows::Events(Box::new(EventColumns::new(e.layout.clone()))))
                {
                    c.push(&e);
                }
            }
            Decoded::DeadLetter(d) => {
                let b = Bucket::DeadLetter {
                    hour: hour_of(d.kafka_time_ms),
                };
                if let Rows::DeadLetters(v) = self
                    .buckets
                    .entry(b)
                    .or_insert(Rows::DeadLetters(Vec::new()))
                {
                    v.push(d);
                }
            }
            Decoded::Error(x) => {
                let b = Bucket::Error {
                    day: hour_of(x.kafka_time_ms).div_euclid(24),
                };
                if let Rows::Errors(v) = self.buckets.entry(b).or_insert(Rows::Errors(Vec::new())) {
                    v.push(x);
                }
            }
        }
    }

    /// What the closed segment of `topic`/`partition` leaves to write; with
    /// `tables`, its event rows go to tables instead of objects. Rows of
    /// users in `erasures` are left out of event files.
    pub fn close(
        self,
        prefix: &str,
        topic: &str,
        partition: i32,
        tables: bool,
        erasures: &Erasures,
    ) -> anyhow::Result<Closed> {
        let prefix = object_prefix(prefix);
        let meta = |schema: &str| {
            vec![
                ("tributary.topic", topic.to_owned()),
                ("tributary.partition", partition.to_string()),
                ("tributary.start_offset", self.start.to_string()),
                ("tributary.end_offset", self.end.to_string()),
                ("tributary.schema_id", schema.to_owned()),
            ]
        };
        let base = format!("{topic}+{partition}+{:020}", self.start);
        let mut closed = Closed::default();
        for (bucket, rows) in self.buckets {
            let (path, bytes, n) = match (bucket, rows) {
                (
                    Bucket::Event {
                        event,
                        hour,
                        schema_id,
                    },
                    Rows::Events(columns),
                ) if tables => {
                    closed.tables.push(TableRows {
                        table: event,
                        hour,
                        schema_id,
                        columns,
                    });
                    continue;
                }
                (
                    Bucket::Event {
                        event,
                        hour,
                        schema_id,
                    },
                    Rows::Events(mut columns),
                ) => {
                    let (date, hour) = date_hour(hour);
                    let sid = schema_id.map_or_else(|| "none".to_owned(), |i| i.to_string());
                    let (batch, erased) = erasures.filter(columns.finish(topic, partition)?)?;
                    closed.erased += erased;
                    if batch.num_rows() == 0 {
                        continue;
                    }
                    (
                        format!("{prefix}event={event}/dt={date}/hr={hour}/{base}+{sid}.parquet"),
                        parquet_out::encode(&batch, &meta(&sid))?,
                        batch.num_rows(),
                    )
                }
                (Bucket::DeadLetter { hour }, Rows::DeadLetters(v)) => {
                    let (date, hour) = date_hour(hour);
                    let refs: Vec<&DeadLetterRow> = v.iter().collect();
                    (
                        format!("{prefix}dead_letter/dt={date}/hr={hour}/{base}.parquet"),
                        parquet_out::dead_letters(&refs, &meta("none"))?,
                        v.len(),
                    )
                }
                (Bucket::Error { day }, Rows::Errors(v)) => {
                    let (date, _) = date_hour(day.saturating_mul(24));
                    let refs: Vec<&ErrorRow> = v.iter().collect();
                    (
                        format!("{prefix}_errors/topic={topic}/dt={date}/{base}.parquet"),
                        parquet_out::errors(&refs, &meta("none"))?,
                        v.len(),
                    )
                }
                _ => anyhow::bail!("segment bucket holds rows of another kind"),
            };
            closed.objects.push(Object {
                path,
                bytes,
                rows: n,
            });
        }
        if let Some(newest) = self.ids.iter().map(|(_, t)| *t).max() {
            closed.objects.push(Object {
                path: crate::dedup::ids_path(
                    &prefix, topic, partition, self.start, self.end, newest,
                ),
                bytes: crate::dedup::encode_ids(&self.ids),
                rows: 0,
            });
        }
        Ok(closed)
    }
}

/// `[offload] prefix` as the start of an object name: empty, or ending
/// in one `/`.
pub fn object_prefix(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", prefix.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::EventRow;

    fn event(offset: i64, t: i64) -> Decoded<'static> {
        Decoded::Event(EventRow {
            offset,
            message_id: Box::leak(format!("m{offset}").into_boxed_str()),
            event_type: "track",
            event_name: "Order Completed",
            app_id: "shop",
            schema_id: None,
            event_time_ms: t,
            client_time_ms: None,
            sent_at_ms: None,
            received_at_ms: t,
            kafka_time_ms: t,
            user_id: None,
            anonymous_id: Some("a"),
            session_id: None,
            app_version: None,
            context: None,
            custom_attributes: None,
            extra: None,
            enrichment: None,
            layout: Default::default(),
            payload: Default::default(),
        })
    }

    /// Cuts `times` into segments the way the consumer does, starting at
    /// record `from`; returns (start, end) of each closed segment.
    fn cut(r: &Rotation, times: &[i64], from: usize) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        let mut seg: Option<Segment> = None;
        for (i, t) in times.iter().enumerate().skip(from) {
            let off = i as i64;
            if seg
                .as_ref()
                .is_some_and(|s| s.must_close_before(r, *t, 100))
            {
                let s = seg.take().unwrap();
                out.push((s.start, s.end));
            }
            seg.get_or_insert_with(|| Segment::new(off, *t))
                .add(off, *t, 100, event(off, *t));
        }
        out
    }

    #[test]
    fn rotation_depends_only_on_the_records() {
        let r = Rotation {
            max_records: 4,
            max_bytes: 1_000_000,
            max_span_ms: 10_000,
            idle_gap_ms: 3_000,
        };
        let times = [0, 10, 20, 30, 40, 50, 6_000, 6_010, 20_000, 20_001, 20_002];
        let all = cut(&r, &times, 0);
        assert_eq!(all, [(0, 3), (4, 5), (6, 7)]);
        // A restart at a committed boundary closes the same segments.
        assert_eq!(cut(&r, &times, 4), all[1..]);
        assert_eq!(cut(&r, &times, 6), all[2..]);
    }

    #[test]
    fn heartbeats_close_a_quiet_segment() {
        let r = Rotation {
            max_records: 1000,
            max_bytes: 1_000_000,
            max_span_ms: 60_000,
            idle_gap_ms: 2_000,
        };
        let mut s = Segment::new(0, 0);
        s.add(0, 0, 10, event(0, 0));
        // Heartbeats every second do not keep the segment open...
        s.add(1, 1_000, 0, Decoded::Heartbeat);
        assert!(!s.must_close_before(&r, 2_000, 0));
        s.add(2, 2_000, 0, Decoded::Heartbeat);
        // ...the one past the gap after the last event closes it.
        assert!(s.must_close_before(&r, 3_000, 0));
    }

    #[test]
    fn objects_are_named_by_partition_start_and_schema_and_are_deterministic() {
        let segment = || {
            let mut s = Segment::new(42, 1_764_064_800_000);
            s.add(42, 1_764_064_800_000, 10, event(42, 1_764_064_800_000));
            s.add(43, 1_764_068_400_000, 10, event(43, 1_764_068_400_000)); // next hour
            s.add(44, 1_764_068_400_001, 10, Decoded::Heartbeat);
            s
        };
        let a = segment()
            .close("lake", "t.order", 3, false, &Erasures::default())
            .unwrap()
            .objects;
        assert_eq!(a.len(), 2);
        assert_eq!(
            a[0].path,
            "lake/event=order_completed/dt=2025-11-25/hr=10/t.order+3+00000000000000000042+none.parquet"
        );
        assert!(a[1].path.contains("/hr=11/"));
        assert_eq!(
            a,
            segment()
                .close("lake", "t.order", 3, false, &Erasures::default())
                .unwrap()
                .objects,
            "same rows, same bytes"
        );
    }

    #[test]
    fn error_rows_are_named_by_day() {
        let mut s = Segment::new(7, 0);
        // 23:59:59.999 on 2025-11-25.
        let t = 1_764_115_199_999;
        s.add(
            7,
            t,
            10,
            Decoded::Error(ErrorRow {
                offset: 7,
                kafka_time_ms: t,
                reason: "bad".into(),
                headers: "{}".into(),
                value: b"x".to_vec(),
            }),
        );
        let o = s
            .close("", "t", 0, false, &Erasures::default())
            .unwrap()
            .objects;
        assert_eq!(
            o[0].path,
            "_errors/topic=t/dt=2025-11-25/t+0+00000000000000000007.parquet"
        );
    }
}
