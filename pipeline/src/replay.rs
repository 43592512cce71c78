//! Replay and backfill (`tributary-pipeline replay`): which offsets of a
//! topic to re-offload, from offsets or record times. The offload loop
//! then reads them with its own rules and commits nothing.

use crate::offload::{OffloadContext, ReplayEnds};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::time::Duration;

/// The range to replay (the `replay` command's flags).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Range {
    /// Topic.
    #[arg(long)]
    pub topic: String,
    /// Partitions (default: all).
    #[arg(long, value_delimiter = ',')]
    pub partitions: Vec<i32>,
    /// First offset (or use --from-time).
    #[arg(long)]
    pub from_offset: Option<i64>,
    /// Last offset, inclusive (or use --to-time; default: the end now).
    #[arg(long)]
    pub to_offset: Option<i64>,
    /// First record time, ms since the epoch.
    #[arg(long)]
    pub from_time: Option<i64>,
    /// Records before this time, ms since the epoch.
    #[arg(long)]
    pub to_time: Option<i64>,
}

/// Assigns `consumer` the start of `range` in each partition; returns the
/// last offset to read per partition.
pub fn assign(
    consumer: &BaseConsumer<OffloadContext>,
    range: &Range,
) -> anyhow::Result<ReplayEnds> {
    let Range {
        topic,
        partitions,
        from_offset,
        to_offset,
        from_time,
        to_time,
    } = range;
    let timeout = Duration::from_secs(10);
    let md = consumer.fetch_metadata(Some(topic), timeout)?;
    let parts: Vec<i32> = match md.topics().first() {
        Some(t) if partitions.is_empty() => t.partitions().iter().map(|p| p.id()).collect(),
        Some(_) => partitions.clone(),
        None => anyhow::bail!("topic {topic} not found"),
    };
    let by_time = |ms: i64| -> anyhow::Result<HashMap<i32, i64>> {
        let mut tpl = TopicPartitionList::new();
        for p in &parts {
            tpl.add_partition_offset(topic, *p, Offset::Offset(ms))?;
        }
        let r = consumer.offsets_for_times(tpl, timeout)?;
        Ok(r.elements()
            .iter()
            .map(|e| (e.partition(), e.offset().to_raw().unwrap_or(-1)))
            .collect())
    };
    let starts = from_time.map(by_time).transpose()?;
    let stops = to_time.map(by_time).transpose()?;
    let mut assign = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for p in &parts {
        let (low, high) = consumer.fetch_watermarks(topic, *p, timeout)?;
        let start = starts
            .as_ref()
            .and_then(|s| s.get(p).copied())
            .filter(|o| *o >= 0)
            .or(*from_offset)
            .unwrap_or(low)
            .max(low);
        let end = match (&stops, to_offset) {
            (Some(s), _) => s.get(p).copied().filter(|o| *o >= 0).unwrap_or(high) - 1,
            (None, Some(o)) => (*o).min(high - 1),
            (None, None) => high - 1,
        };
        if end >= start {
            assign.add_partition_offset(topic, *p, Offset::Offset(start))?;
            ends.insert((topic.clone(), *p), end);
            println!("replaying {topic}[{p}] offsets {start}..={end}");
        }
    }
    consumer.assign(&assign)?;
    Ok(ends)
}
