//! The direct producer: the gateway's records (schema-framed payload,
//! envelope headers, key) produced straight to Kafka by a plain rdkafka
//! producer with the gateway's own settings — the broker-side ceiling the
//! gateway is compared with — and the sweep of producer settings and
//! record layouts from which the gateway's defaults were chosen.

use super::{Args, Delivery, RecordCounter, cpu_seconds};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Statistics};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tributary_contract::envelope::HeaderScratch;
use tributary_contract::{header, wire};

/// Which of the envelope's headers a record carries.
#[derive(Debug, Clone, Copy)]
pub enum Headers {
    /// All of them, as the gateway writes a standard-mix record (11).
    Envelope,
    /// Only what a consumer needs to decode and place it (6).
    Required,
    /// None.
    None,
}

/// One point of the sweep: librdkafka settings over the gateway's, and
/// the record layout.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// What it is, for the table.
    pub name: &'static str,
    /// librdkafka properties set over the gateway's.
    pub settings: &'static [(&'static str, &'static str)],
    /// The headers of each record.
    pub headers: Headers,
}

/// The gateway's settings and records.
pub const GATEWAY: Variant = Variant {
    name: "gateway defaults: lz4, linger.ms 5, batch.size 1 MB, 11 headers",
    settings: &[],
    headers: Headers::Envelope,
};

/// What the sweep measures, one setting changed at a time.
pub const SWEEP: &[Variant] = &[
    GATEWAY,
    Variant {
        name: "compression none",
        settings: &[("compression.type", "none")],
        headers: Headers::Envelope,
    },
    Variant {
        name: "compression snappy",
        settings: &[("compression.type", "snappy")],
        headers: Headers::Envelope,
    },
    Variant {
        name: "compression lz4, level 12",
        settings: &[("compression.level", "12")],
        headers: Headers::Envelope,
    },
    Variant {
        name: "compression gzip (level 6)",
        settings: &[("compression.type", "gzip")],
        headers: Headers::Envelope,
    },
    Variant {
        name: "linger.ms 0",
        settings: &[("linger.ms", "0")],
        headers: Headers::Envelope,
    },
    Variant {
        name: "linger.ms 50",
        settings: &[("linger.ms", "50")],
        headers: Headers::Envelope,
    },
    Variant {
        name: "batch.size 64 KB",
        settings: &[("batch.size", "65536")],
        headers: Headers::Envelope,
    },
    Variant {
        name: "delivery reports for errors only",
        settings: &[("delivery.report.only.error", "true")],
        headers: Headers::Envelope,
    },
    Variant {
        name: "6 required headers",
        settings: &[],
        headers: Headers::Required,
    },
    Variant {
        name: "no headers",
        settings: &[],
        headers: Headers::None,
    },
];

/// One measured point of the sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    /// The variant's name.
    pub name: String,
    /// Records/s per core of the producing process.
    pub records_per_core: f64,
    /// Bytes sent to the brokers per record (librdkafka's `txbytes`):
    /// the network and the broker's disk.
    pub wire_bytes_per_record: f64,
    /// Records sent against records found.
    pub delivery: Delivery,
}

/// Counts the bytes librdkafka sent, from its statistics.
#[derive(Default)]
struct WireBytes(AtomicU64);

impl ClientContext for WireBytes {
    fn stats(&self, statistics: Statistics) {
        let sent = statistics.brokers.values().map(|b| b.txbytes).sum();
        self.0.store(sent, Ordering::Relaxed);
    }
}

impl ProducerContext for WireBytes {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &DeliveryResult<'_>, _: ()) {}
}

/// The standard-mix record's envelope headers, written by the contract as
/// the gateway writes them; only the message id changes per record.
fn template(headers: Headers) -> Vec<(&'static str, Vec<u8>)> {
    let at = tributary_contract::time::now();
    let e = tributary_contract::envelope::EnvelopeRef {
        event_type: tributary_contract::EventType::Track,
        event_name: "Order Completed",
        message_id: "direct-0",
        app_id: "shop",
        schema_id: Some(1_648_861_406),
        encoding: tributary_contract::Encoding::ConfluentJson,
        timestamp: at,
        client_timestamp: None,
        sent_at: Some(at),
        received_at: at,
        custom_attributes: None,
        unrouted: false,
        user_id: None,
        anonymous_id: Some("device-17"),
        context: Some(
            r#"{"app":{"version":"4.2.0","build":"4200"},"os":{"name":"Android","version":"15"},"locale":"de-DE","userAgent":"Mozilla/5.0 (Linux; Android 15; Pixel 9 Build/AP4A.250105.002) ShopApp/4.2.0 okhttp/4.12.0"}"#,
        ),
        extra: Some(r#"{"sessionId":1764000000017}"#),
        unvalidated: false,
        enrichment: None,
        hot_key: false,
    };
    let required = [
        header::EVENT_TYPE,
        header::EVENT_NAME,
        header::MESSAGE_ID,
        header::APP_ID,
        header::SCHEMA,
        header::TIMESTAMP,
    ];
    let mut out = Vec::new();
    e.write_headers(&mut HeaderScratch::default(), |k, v| {
        let keep = match headers {
            Headers::Envelope => true,
            Headers::Required => required.contains(&k),
            Headers::None => false,
        };
        if keep {
            out.push((k, v.to_vec()));
        }
    });
    out
}

/// Schema-framed payloads of about `event_bytes`, differing in their
/// padding (words drawn pseudo-randomly), so that compression meets text
/// that repeats like real properties do, not one record over and over.
fn values(event_bytes: usize) -> Vec<Vec<u8>> {
    const WORDS: [&str; 16] = [
        "order", "basket", "sku", "delivery", "store", "eur", "item", "promo", "rider", "eta",
        "cart", "tip", "zone", "menu", "price", "fee",
    ];
    let mut seed = 0x2545_f491_u64;
    (0..256)
        .map(|i| {
            let mut pad = String::new();
            while pad.len() + 420 < event_bytes {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                pad.push_str(WORDS[(seed >> 60) as usize]);
                pad.push('-');
            }
            let mut value = Vec::new();
            wire::frame_json(1_648_861_406, &mut value);
            value.extend_from_slice(
                format!(
                    r#"{{"orderId":"order-{i}","total":42.5,"currency":"EUR","items":[{{"sku":"sku-000123","quantity":1}}],"pad":"{pad}"}}"#
                )
                .as_bytes(),
            );
            value
        })
        .collect()
}

/// Produces `variant`'s records to `topic` for `secs`: records/s per core
/// of this process (librdkafka's threads included), bytes sent per record
/// (when `count_bytes`, which reads librdkafka's statistics every second
/// instead of the gateway's every ten), and the delivery of what it sent.
pub fn produce(
    args: &Args,
    topic: &str,
    event_bytes: usize,
    variant: Variant,
    secs: f64,
    count_bytes: bool,
) -> anyhow::Result<SweepRow> {
    // The gateway's own librdkafka settings (its defaults, as the bench
    // runs it), not a hand-tuned copy.
    let config = tributary_gateway::config::Config::default();
    let spec = tributary_gateway::delivery::producer::ProducerSpec::new(
        &config,
        &args.kafka,
        &Default::default(),
    );
    let mut client = spec.client_config();
    if count_bytes {
        client.set("statistics.interval.ms", "1000");
    }
    for (k, v) in variant.settings {
        client.set(*k, *v);
    }
    let producer: BaseProducer<WireBytes> = client.create_with_context(WireBytes::default())?;
    let values = values(event_bytes);
    let template = template(variant.headers);
    let me = std::process::id();
    let c0 = cpu_seconds(me);
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        let id = format!("direct-{sent}");
        let mut h = OwnedHeaders::new_with_capacity(template.len());
        for (k, v) in &template {
            let value = if *k == header::MESSAGE_ID {
                id.as_bytes()
            } else {
                v.as_slice()
            };
            h = h.insert(Header {
                key: k,
                value: Some(value),
            });
        }
        let value = &values[sent as usize % values.len()];
        let mut rec = BaseRecord::to(topic).key("device-17").payload(value);
        if !template.is_empty() {
            rec = rec.headers(h);
        }
        match producer.send(rec) {
            Ok(()) => sent += 1,
            Err(_) => {
                // Queue full: wait without spinning, so CPU time measures
                // the work per record, not a busy loop at saturation.
                producer.poll(Duration::ZERO);
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if sent.is_multiple_of(1000) {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(30))?;
    let c1 = cpu_seconds(me);
    // One more statistics interval, for the final byte count.
    let settle = Instant::now();
    while count_bytes && settle.elapsed() < Duration::from_millis(1500) {
        producer.poll(Duration::from_millis(100));
    }
    let wire = producer.context().0.load(Ordering::Relaxed);
    let found = RecordCounter::new(&args.kafka, vec![topic.to_owned()])?.count_now()?;
    Ok(SweepRow {
        name: variant.name.to_owned(),
        records_per_core: sent as f64 / (c1 - c0).max(0.01),
        wire_bytes_per_record: wire as f64 / sent.max(1) as f64,
        delivery: Delivery::new(sent, found),
    })
}
