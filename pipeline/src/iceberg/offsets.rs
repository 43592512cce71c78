//! The Kafka offsets a table holds, recorded in its snapshots: every
//! snapshot the pipeline commits carries `tributary.offsets`, a JSON object
//! of `"<topic>/<partition>"` → the last offset whose rows are in the
//! table, for every partition that ever fed it (carried forward from the
//! snapshot before). The newest snapshot that has the property is the
//! truth; snapshots of other writers (compaction, erasure by another tool)
//! are walked past.
//!
//! This is what makes the append exactly once: a segment whose last
//! offset the table already holds is not appended again (a restart after a
//! crash between commit and Kafka offset commit), and rows at offsets the
//! table holds are left out of a segment cut differently (a restart with
//! other rotation settings).

use iceberg::spec::TableMetadata;
use std::collections::BTreeMap;

/// The snapshot summary property.
pub const PROPERTY: &str = "tributary.offsets";

/// The offsets recorded in the newest snapshot that has them (an empty map
/// for a table no pipeline has written).
pub fn recorded(metadata: &TableMetadata) -> BTreeMap<String, i64> {
    let mut next = metadata.current_snapshot().map(|s| s.snapshot_id());
    while let Some(id) = next {
        let Some(s) = metadata.snapshot_by_id(id) else {
            break;
        };
        if let Some(v) = s.summary().additional_properties.get(PROPERTY) {
            return serde_json::from_str(v).unwrap_or_default();
        }
        next = s.parent_snapshot_id();
    }
    BTreeMap::new()
}

/// The key of a partition.
pub fn key(topic: &str, partition: i32) -> String {
    format!("{topic}/{partition}")
}

/// The last offset of `topic`/`partition` the table holds; -1 for none.
pub fn last(recorded: &BTreeMap<String, i64>, topic: &str, partition: i32) -> i64 {
    recorded.get(&key(topic, partition)).copied().unwrap_or(-1)
}

/// `recorded` with `topic`/`partition` moved to `last`, as the property's
/// value.
pub fn with(mut recorded: BTreeMap<String, i64>, topic: &str, partition: i32, last: i64) -> String {
    recorded.insert(key(topic, partition), last);
    serde_json::to_string(&recorded).unwrap_or_default()
}
