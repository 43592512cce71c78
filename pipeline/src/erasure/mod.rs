//! Erasure of a user's data (right to erasure): `tributary-pipeline erase
//! --app A --user U` (or `--anonymous-id`). A request is recorded in the
//! lake (`_erasures/<hash>.json`, the hash of app, kind and id — the id
//! itself is not kept), then the rows already written are removed
//! ([`rewrite`]). The pipeline keeps the requests ([`Erasures`]) and leaves
//! the user's rows received before the request out of every file it
//! writes, so a replay from Kafka, a restart or a backfill never brings
//! them back (counted as `tributary_pipeline_erased_rows_total`). Events
//! the user sends later are the gateway's to refuse (its suppression list):
//! with it, this is a complete deletion request.
//!
//! Racing the pipeline: in an Iceberg lake the erase command marks every
//! event table (property `tributary.erasures`) after recording the request
//! and before reading the table; the pipeline's commit, which is
//! conditional on the table state it checked, sees the mark, reloads the
//! requests and filters its files again. In a plain Parquet lake the
//! pipeline reloads the requests every `[erasure] refresh_secs`, and the
//! command waits `grace_secs` before rewriting.

pub mod rewrite;

use crate::store::Store;
use arrow_array::cast::AsArray;
use arrow_array::{Array, BooleanArray, RecordBatch};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

/// The folder of the requests, under `[offload] prefix`.
pub const FOLDER: &str = "_erasures/";

/// The table property the erase command sets before reading a table.
pub const TABLE_PROPERTY: &str = "tributary.erasures";

/// Whose data: a user id or an anonymous id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `userId`.
    User,
    /// `anonymousId`.
    Anonymous,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Anonymous => "anonymous",
        }
    }

    /// The column it is matched in.
    pub fn column(self) -> &'static str {
        match self {
            Kind::User => "user_id",
            Kind::Anonymous => "anonymous_id",
        }
    }
}

/// The hash a request is known by: xxh3-128 of app, kind and id.
pub fn hash(app: &str, kind: Kind, id: &str) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [app, kind.label(), id] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    h.digest128()
}

/// One request as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The app.
    pub app: String,
    /// User or anonymous id.
    pub kind: Kind,
    /// [`hash`] of app, kind and id, hex.
    pub hash: String,
    /// When it was recorded, ms since the epoch.
    pub requested_at_ms: i64,
}

impl Record {
    /// The request for `id`.
    pub fn new(app: &str, kind: Kind, id: &str, now_ms: i64) -> Record {
        Record {
            app: app.to_owned(),
            kind,
            hash: format!("{:032x}", hash(app, kind, id)),
            requested_at_ms: now_ms,
        }
    }

    /// Its object name under `prefix` (one per request: recording it twice
    /// writes the same object).
    pub fn path(&self, prefix: &str) -> String {
        format!("{prefix}{FOLDER}{}.json", self.hash)
    }
}

/// The recorded requests, as the pipeline holds them: each user's hash
/// and when it was erased (rows received after that — the user came back
/// — are theirs to keep; the gateway's suppression list is what refuses
/// new events).
#[derive(Debug, Default)]
pub struct Erasures {
    hashes: HashMap<u128, i64>,
    apps: HashSet<String>,
    loaded: BTreeSet<String>,
    last_refresh: Option<Instant>,
}

impl Erasures {
    /// Requests held.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The requests recorded under `prefix` (the `[offload] prefix` as an
    /// object prefix) that are not in `known`, by object name.
    pub async fn read_new(
        store: &Store,
        prefix: &str,
        known: &BTreeSet<String>,
    ) -> anyhow::Result<Vec<(String, Record)>> {
        let mut out = Vec::new();
        for name in store.list(&format!("{prefix}{FOLDER}")).await? {
            if !name.ends_with(".json") || known.contains(&name) {
                continue;
            }
            let r: Record = serde_json::from_slice(&store.get(&name).await?)
                .map_err(|e| anyhow::anyhow!("erasure request {name}: {e}"))?;
            out.push((name, r));
        }
        Ok(out)
    }

    /// The object names of the requests held.
    pub fn known(&self) -> BTreeSet<String> {
        self.loaded.clone()
    }

    /// Holds `records` (from [`Self::read_new`]); returns how many were new.
    pub fn add(&mut self, records: Vec<(String, Record)>) -> anyhow::Result<usize> {
        self.last_refresh = Some(Instant::now());
        let mut added = 0;
        for (name, r) in records {
            let h = u128::from_str_radix(&r.hash, 16)
                .map_err(|e| anyhow::anyhow!("erasure request {name}: hash: {e}"))?;
            let at = self.hashes.entry(h).or_insert(r.requested_at_ms);
            *at = (*at).max(r.requested_at_ms);
            self.apps.insert(r.app);
            added += usize::from(self.loaded.insert(name));
        }
        Ok(added)
    }

    /// Whether the last refresh is older than `every`.
    pub fn stale(&self, every: Duration) -> bool {
        self.last_refresh.is_none_or(|t| t.elapsed() >= every)
    }

    /// `batch` without the rows of erased users received before their
    /// erasure, and how many went.
    pub fn filter(&self, batch: RecordBatch) -> anyhow::Result<(RecordBatch, usize)> {
        if self.hashes.is_empty() {
            return Ok((batch, 0));
        }
        let keep = self.keep(&batch)?;
        let removed = keep.false_count();
        if removed == 0 {
            return Ok((batch, 0));
        }
        Ok((
            arrow_select::filter::filter_record_batch(&batch, &keep)?,
            removed,
        ))
    }

    fn keep(&self, batch: &RecordBatch) -> anyhow::Result<BooleanArray> {
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(|| anyhow::anyhow!("event files have a string {name} column"))
        };
        let (app, user, anonymous) = (
            column("app_id")?,
            column("user_id")?,
            column("anonymous_id")?,
        );
        let received = batch
            .column_by_name("received_at")
            .and_then(|c| c.as_primitive_opt::<arrow_array::types::TimestampMicrosecondType>())
            .ok_or_else(|| anyhow::anyhow!("event files have a received_at column"))?;
        Ok((0..batch.num_rows())
            .map(|i| {
                let a = app.value(i);
                if !self.apps.contains(a) {
                    return Some(true);
                }
                let received_ms = received.value(i) / 1000;
                let erased = |ids: &arrow_array::StringArray, kind| {
                    !ids.is_null(i)
                        && self
                            .hashes
                            .get(&hash(a, kind, ids.value(i)))
                            .is_some_and(|at| received_ms <= *at)
                };
                Some(!(erased(user, Kind::User) || erased(anonymous, Kind::Anonymous)))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::StringArray;
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let s = |v: Vec<Option<&str>>| Arc::new(StringArray::from(v)) as Arc<dyn Array>;
        let received = arrow_array::TimestampMicrosecondArray::from(vec![1_000_000; 5])
            .with_timezone("+00:00");
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("app_id", DataType::Utf8, false),
                Field::new("user_id", DataType::Utf8, true),
                Field::new("anonymous_id", DataType::Utf8, true),
                Field::new("received_at", received.data_type().clone(), false),
            ])),
            vec![
                s(vec![
                    Some("shop"),
                    Some("shop"),
                    Some("other"),
                    Some("shop"),
                    Some("shop"),
                ]),
                s(vec![Some("u1"), None, Some("u1"), Some("u2"), Some("u3")]),
                s(vec![
                    Some("a1"),
                    Some("a9"),
                    Some("a1"),
                    Some("a2"),
                    Some("a3"),
                ]),
                Arc::new(received),
            ],
        )
        .unwrap()
    }

    #[test]
    fn rows_of_an_erased_user_or_device_of_that_app_are_left_out() {
        let mut e = Erasures::default();
        let record = |kind, id, at| (format!("{id}.json"), Record::new("shop", kind, id, at));
        e.add(vec![
            record(Kind::User, "u1", 1_000),
            record(Kind::Anonymous, "a9", 5_000),
            // Erased before these rows were received: they stay.
            record(Kind::User, "u3", 999),
        ])
        .unwrap();
        let (kept, removed) = e.filter(batch()).unwrap();
        assert_eq!(removed, 2);
        let users = kept.column(1).as_string::<i32>();
        assert_eq!(
            (
                kept.num_rows(),
                users.value(0),
                users.value(1),
                users.value(2)
            ),
            (3, "u1", "u2", "u3")
        );
        assert_eq!(
            kept.column(0).as_string::<i32>().value(0),
            "other",
            "other apps' u1 stays"
        );
        assert_ne!(
            hash("shop", Kind::User, "u1"),
            hash("shop", Kind::Anonymous, "u1")
        );
        assert_eq!(
            Record::new("shop", Kind::User, "u1", 0).path("lake/"),
            format!(
                "lake/_erasures/{:032x}.json",
                hash("shop", Kind::User, "u1")
            )
        );
    }
}
