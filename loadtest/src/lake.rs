//! Lake verification: after Kafka, read the pipeline's Parquet files back
//! and check that every acknowledged event that reached Kafka is one row —
//! none missing, none twice — for the scenarios that kill pipeline
//! instances while they offload (`[verify] lake`).
//!
//! Reads a local directory (the pipeline's `file://` store, or an object
//! store mounted as one). Files are immutable once named `*.parquet`: the
//! pipeline's store writes each object under a staging name and renames it.

use arrow_array::cast::AsArray;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the lake holds of the run's acknowledged events.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LakeDelivery {
    /// Parquet files read (event tables only).
    pub files: u64,
    /// Rows of acknowledged events, copies included.
    pub rows: u64,
    /// Distinct acknowledged events with a row.
    pub distinct: u64,
    /// Delivered to Kafka but without a row when the wait ended.
    pub missing: u64,
    /// Extra rows of an event already in the lake.
    pub duplicated: u64,
}

impl LakeDelivery {
    /// Adds another segment's figures (`merge`).
    pub fn add(&mut self, o: &LakeDelivery) {
        self.files = self.files.max(o.files);
        self.rows += o.rows;
        self.distinct += o.distinct;
        self.missing += o.missing;
        self.duplicated += o.duplicated;
    }

    /// True when the lake holds each delivered event exactly once.
    pub fn exactly_once(&self) -> bool {
        self.missing == 0 && self.duplicated == 0
    }
}

/// Waits (up to `timeout`) until the lake under `dir` holds `delivered`
/// distinct events of `acked`, then, `settle` later, counts once more so a
/// late duplicate shows.
pub fn verify_lake(
    dir: &Path,
    acked: &[&str],
    delivered: u64,
    settle: Duration,
    timeout: Duration,
) -> anyhow::Result<LakeDelivery> {
    let give_up = Instant::now() + timeout;
    let mut counts = count(dir, acked)?;
    while counts.distinct < delivered && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(500));
        counts = count(dir, acked)?;
    }
    std::thread::sleep(settle);
    let mut counts = count(dir, acked)?;
    counts.missing = delivered.saturating_sub(counts.distinct);
    Ok(counts)
}

/// One pass over every event table's files.
fn count(dir: &Path, acked: &[&str]) -> anyhow::Result<LakeDelivery> {
    let mut rows: HashMap<&str, u64> = acked.iter().map(|id| (*id, 0)).collect();
    let mut files = 0;
    for path in parquet_files(dir)? {
        files += 1;
        let file = std::fs::File::open(&path)?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let column = builder
            .schema()
            .index_of("message_id")
            .map_err(|_| anyhow::anyhow!("{}: no message_id column", path.display()))?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), [column]);
        for batch in builder.with_projection(mask).build()? {
            let batch = batch?;
            let Some(ids) = batch.column(0).as_string_opt::<i32>() else {
                anyhow::bail!("{}: message_id is not a string column", path.display());
            };
            for id in ids.iter().flatten() {
                if let Some(n) = rows.get_mut(id) {
                    *n += 1;
                }
            }
        }
    }
    let present = rows.values().filter(|n| **n > 0);
    Ok(LakeDelivery {
        files,
        rows: rows.values().sum(),
        distinct: present.clone().count() as u64,
        missing: 0,
        duplicated: present.map(|n| n - 1).sum(),
    })
}

/// The event tables' `*.parquet` files under `dir` (not the dead-letter
/// or error locations).
fn parquet_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            // Not created yet: the pipeline has written nothing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => anyhow::bail!("lake {}: {e}", d.display()),
        };
        for entry in entries {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if d != dir || name.starts_with("event=") {
                    stack.push(path);
                }
            } else if name.ends_with(".parquet") {
                out.push(path);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;

    fn write(path: &Path, ids: &[&str]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new(
            "message_id",
            DataType::Utf8,
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(ids.to_vec()))],
        )
        .unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(path).unwrap(),
            schema,
            None,
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    #[test]
    fn rows_are_counted_per_acknowledged_event_in_the_event_tables_only() {
        let dir = std::env::temp_dir().join(format!("lake-{}", uuid::Uuid::new_v4()));
        write(
            &dir.join("event=order_completed/dt=2026-12-04/p0.parquet"),
            &["a", "a", "b", "other-run"],
        );
        write(&dir.join("dead_letter/p0.parquet"), &["c"]);
        // A staging name: not yet an object.
        std::fs::write(
            dir.join("event=order_completed/dt=2026-12-04/p1.parquet#1"),
            b"partial",
        )
        .unwrap();
        let d = verify_lake(&dir, &["a", "b", "c"], 3, Duration::ZERO, Duration::ZERO).unwrap();
        assert_eq!(
            (d.files, d.rows, d.distinct, d.duplicated, d.missing),
            (1, 3, 2, 1, 1)
        );
        assert!(!d.exactly_once());
        let absent =
            verify_lake(&dir.join("none"), &["a"], 1, Duration::ZERO, Duration::ZERO).unwrap();
        assert_eq!((absent.files, absent.missing), (0, 1));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
