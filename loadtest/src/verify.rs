//! End-to-end verification: read the event topics and the dead-letter
//! topic back from Kafka and match every acknowledged `messageId` against
//! what arrived — delivered, lost, duplicated, misrouted — and how long each
//! took from its intended send time to Kafka.

use crate::run::Acked;
use crate::scenario::Verify;
use hdrhistogram::Histogram;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};
use tributary_contract::envelope::header;
use tributary_contract::topic::slug;
use tributary_contract::wire::decode_record;

/// Delivery figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// Events the gateway acknowledged.
    pub acknowledged: u64,
    /// Of those, found in Kafka (on any topic).
    pub delivered: u64,
    /// Acknowledged but never found.
    pub lost: u64,
    /// Found more than once (extra copies).
    pub duplicated: u64,
    /// Found on a topic other than the event's own.
    pub misrouted: u64,
    /// Records of acknowledged events whose headers and value do not read
    /// as a Tributary record (`tributary_contract::wire::decode_record`);
    /// not counted as delivered.
    pub undecodable: u64,
    /// delivered / acknowledged (1.0 when nothing was acknowledged).
    pub rate: f64,
    /// Intended send → Kafka record timestamp, ms.
    pub kafka_latency_ms: Percentiles,
    /// The same as an HDR V2 histogram (µs), base64, for `merge`.
    #[serde(default)]
    pub kafka_latency_hdr: String,
    /// What the lake holds of them, when `[verify] lake` is set.
    #[serde(default)]
    pub lake: Option<crate::lake::LakeDelivery>,
}

/// A histogram as base64 of its HDR V2 serialization.
pub fn hdr_to_base64(h: &Histogram<u64>) -> String {
    use base64::Engine as _;
    let mut buf = Vec::new();
    let _ = hdrhistogram::serialization::Serializer::serialize(
        &mut hdrhistogram::serialization::V2Serializer::new(),
        h,
        &mut buf,
    );
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Reads [`hdr_to_base64`]'s output.
pub fn hdr_from_base64(s: &str) -> anyhow::Result<Histogram<u64>> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(s)?;
    Ok(hdrhistogram::serialization::Deserializer::new().deserialize(&mut bytes.as_slice())?)
}

/// Latency percentiles, ms.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th.
    pub p90: f64,
    /// 99th.
    pub p99: f64,
    /// 99.9th.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

impl Percentiles {
    /// From a histogram of microseconds.
    pub fn from_us(h: &Histogram<u64>) -> Percentiles {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Percentiles {
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            max: h.max() as f64 / 1000.0,
        }
    }
}

/// Reads the topics and matches them against `acked`.
pub fn verify(v: &Verify, acked: &[Acked]) -> anyhow::Result<Delivery> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &v.kafka)
        .set(
            "group.id",
            format!("tributary-loadtest-{}", uuid::Uuid::new_v4()),
        )
        .set("enable.auto.commit", "false")
        .create()?;
    let mut topics: BTreeSet<String> = acked
        .iter()
        .map(|a| format!("{}{}", v.topic_prefix, slug(&a.event)))
        .collect();
    topics.insert(format!("{}unrouted", v.topic_prefix));
    topics.insert(format!("{}dead_letter", v.topic_prefix));
    let mut tpl = TopicPartitionList::new();
    let md = consumer.fetch_metadata(None, Duration::from_secs(10))?;
    for t in md.topics().iter().filter(|t| topics.contains(t.name())) {
        for p in t.partitions() {
            tpl.add_partition_offset(t.name(), p.id(), Offset::Beginning)?;
        }
    }
    consumer.assign(&tpl)?;
    let wanted: HashMap<&str, &Acked> = acked.iter().map(|a| (a.message_id.as_str(), a)).collect();
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut misrouted = 0u64;
    let mut undecodable = 0u64;
    let mut latency = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    let settle = Duration::from_secs_f64(v.settle_s);
    let give_up = Instant::now() + Duration::from_secs_f64(v.timeout_s);
    // Nothing acknowledged: only duplicates could show, and there are none.
    let mut complete_at: Option<Instant> = acked.is_empty().then(|| Instant::now() - settle);
    while Instant::now() < give_up && complete_at.is_none_or(|t| t.elapsed() < settle) {
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg?;
        let Some(id) = msg
            .headers()
            .and_then(|h| h.iter().find(|x| x.key == header::MESSAGE_ID))
            .and_then(|x| x.value)
            .and_then(|v| std::str::from_utf8(v).ok())
        else {
            continue;
        };
        let Some(a) = wanted.get(id) else { continue };
        // Every record must read back through the contract library.
        let headers: Vec<(&str, &[u8])> = msg
            .headers()
            .map(|h| {
                h.iter()
                    .map(|x| (x.key, x.value.unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        if decode_record(headers, msg.payload().unwrap_or_default()).is_err() {
            undecodable += 1;
            continue;
        }
        let n = seen.entry(id.to_owned()).or_default();
        *n += 1;
        if *n == 1 {
            if msg.topic() != format!("{}{}", v.topic_prefix, slug(&a.event)) {
                misrouted += 1;
            }
            if let Some(ts) = msg.timestamp().to_millis() {
                let _ = latency.record(((ts - a.intended_ms).max(0) as u64 * 1000).max(1));
            }
        }
        if complete_at.is_none() && seen.len() == wanted.len() {
            complete_at = Some(Instant::now());
        }
    }
    let delivered = seen.len() as u64;
    let acknowledged = acked.len() as u64;
    Ok(Delivery {
        acknowledged,
        delivered,
        lost: acknowledged - delivered,
        duplicated: seen.values().map(|n| u64::from(n - 1)).sum(),
        misrouted,
        undecodable,
        rate: if acknowledged == 0 {
            1.0
        } else {
            delivered as f64 / acknowledged as f64
        },
        kafka_latency_ms: if latency.is_empty() {
            Percentiles::default()
        } else {
            Percentiles::from_us(&latency)
        },
        kafka_latency_hdr: hdr_to_base64(&latency),
        lake: match &v.lake {
            Some(dir) => {
                let ids: Vec<&str> = acked.iter().map(|a| a.message_id.as_str()).collect();
                Some(crate::lake::verify_lake(
                    dir,
                    &ids,
                    delivered,
                    settle,
                    give_up.saturating_duration_since(Instant::now()) + settle,
                )?)
            }
            None => None,
        },
    })
}
