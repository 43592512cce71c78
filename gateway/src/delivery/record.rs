//! The records of one request, as the ingest step decided them and
//! delivery sends them: topic, cluster, delivery mode, key, envelope
//! headers and value.
//!
//! Every record's bytes (key, value, header values) live in one buffer per
//! request, written once by the decide step and read in place by the
//! producer, the spool and the dead-letter path: no owned string per field
//! and no copy between stages. This is also the one place record headers
//! are converted, to librdkafka's [`OwnedHeaders`] and to the spool's
//! pairs.

use super::spool::SpoolRecord;
use crate::config::AckMode;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use std::ops::Range;
use std::sync::Arc;

/// One record of a request.
#[derive(Debug, Clone)]
pub struct Record {
    /// The event's position in the request's batch.
    pub index: usize,
    /// Kafka topic.
    pub topic: Arc<str>,
    /// Index of the Kafka cluster the topic lives on.
    pub cluster: usize,
    /// Whether the client waits for Kafka's acknowledgement.
    pub mode: AckMode,
    /// Record timestamp, ms since the epoch (gateway receipt time).
    pub timestamp_ms: i64,
    key: Range<usize>,
    value: Range<usize>,
    headers: Range<usize>,
}

/// One header: its name and where its value is in the buffer.
#[derive(Debug, Clone)]
struct HeaderAt {
    name: &'static str,
    value: Range<usize>,
}

/// The records of one request and the bytes they point into.
#[derive(Debug, Default)]
pub struct RecordBatch {
    bytes: Vec<u8>,
    headers: Vec<HeaderAt>,
    records: Vec<Record>,
}

/// Where the record being written starts, so a rejected event can be
/// rolled back.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    bytes: usize,
    headers: usize,
}

impl RecordBatch {
    /// A batch sized for `events` events of about `event_bytes` each.
    pub fn with_capacity(events: usize, event_bytes: usize) -> RecordBatch {
        RecordBatch {
            bytes: Vec::with_capacity(events * event_bytes),
            headers: Vec::with_capacity(events * 12),
            records: Vec::with_capacity(events),
        }
    }

    /// The records, in the order they were decided.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Starts a record; what is written until [`finish`](Self::finish) or
    /// [`roll_back`](Self::roll_back) belongs to it.
    pub fn mark(&self) -> Mark {
        Mark {
            bytes: self.bytes.len(),
            headers: self.headers.len(),
        }
    }

    /// Forgets everything written since `mark`.
    pub fn roll_back(&mut self, mark: Mark) {
        self.bytes.truncate(mark.bytes);
        self.headers.truncate(mark.headers);
    }

    /// The buffer to append the record's value (or any bytes) to; the
    /// caller notes the range with [`written_since`](Self::written_since).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// The bytes appended since position `from`, as a range.
    pub fn written_since(&self, from: usize) -> Range<usize> {
        from..self.bytes.len()
    }

    /// Appends one header.
    pub fn header(&mut self, name: &'static str, value: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.headers.push(HeaderAt {
            name,
            value: start..self.bytes.len(),
        });
    }

    /// Appends bytes and returns their range (the key).
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        start..self.bytes.len()
    }

    /// Completes the record started at `mark`.
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        &mut self,
        mark: Mark,
        index: usize,
        topic: Arc<str>,
        cluster: usize,
        mode: AckMode,
        timestamp_ms: i64,
        key: Range<usize>,
        value: Range<usize>,
    ) {
        self.records.push(Record {
            index,
            topic,
            cluster,
            mode,
            timestamp_ms,
            key,
            value,
            headers: mark.headers..self.headers.len(),
        });
    }

    /// A record's key.
    pub fn key(&self, r: &Record) -> &[u8] {
        self.bytes.get(r.key.clone()).unwrap_or_default()
    }

    /// A record's value.
    pub fn value(&self, r: &Record) -> &[u8] {
        self.bytes.get(r.value.clone()).unwrap_or_default()
    }

    /// A record's headers, in the order they were written.
    pub fn headers<'b>(
        &'b self,
        r: &Record,
    ) -> impl Iterator<Item = (&'b str, &'b [u8])> + use<'b> {
        self.headers
            .get(r.headers.clone())
            .unwrap_or_default()
            .iter()
            .map(|h| {
                let name: &'b str = h.name;
                (name, self.bytes.get(h.value.clone()).unwrap_or_default())
            })
    }

    /// The record as the spool keeps it.
    pub fn spool_record(&self, r: &Record) -> SpoolRecord {
        SpoolRecord {
            topic: r.topic.to_string(),
            key: self.key(r).to_vec(),
            payload: self.value(r).to_vec(),
            headers: owned_pairs(self.headers(r)),
            timestamp_ms: r.timestamp_ms,
        }
    }
}

/// Headers for librdkafka, from `(name, value)` pairs: the one conversion
/// every produce path uses.
pub fn kafka_headers<'h>(pairs: impl IntoIterator<Item = (&'h str, &'h [u8])>) -> OwnedHeaders {
    let pairs = pairs.into_iter();
    let mut out = OwnedHeaders::new_with_capacity(pairs.size_hint().0.max(4));
    for (key, value) in pairs {
        out = out.insert(Header {
            key,
            value: Some(value),
        });
    }
    out
}

/// Header pairs as the spool keeps them.
pub fn owned_pairs<'h>(
    pairs: impl IntoIterator<Item = (&'h str, &'h [u8])>,
) -> Vec<(String, Vec<u8>)> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_vec()))
        .collect()
}

/// The `(name, value)` pairs of librdkafka headers.
pub fn pairs_of(h: &impl Headers) -> impl Iterator<Item = (&str, &[u8])> {
    h.iter().map(|x| (x.key, x.value.unwrap_or_default()))
}

/// The `(name, value)` pairs of a spooled record's headers.
pub fn spooled_pairs(r: &SpoolRecord) -> impl Iterator<Item = (&str, &[u8])> {
    r.headers.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rolled_back_record_leaves_no_trace() {
        let mut b = RecordBatch::default();
        let m = b.mark();
        b.header("tb-a", b"1");
        let key = b.push_bytes(b"k");
        let from = b.buffer().len();
        b.buffer().extend_from_slice(b"value");
        let value = b.written_since(from);
        b.finish(m, 0, Arc::from("t"), 0, AckMode::Broker, 5, key, value);
        let m = b.mark();
        b.header("tb-b", b"2");
        b.roll_back(m);
        let r = &b.records()[0];
        assert_eq!(b.key(r), b"k");
        assert_eq!(b.value(r), b"value");
        assert_eq!(b.headers(r).collect::<Vec<_>>(), [("tb-a", &b"1"[..])]);
        let s = b.spool_record(r);
        assert_eq!(s.headers, [("tb-a".to_owned(), b"1".to_vec())]);
        let k = kafka_headers(spooled_pairs(&s));
        assert_eq!(pairs_of(&k).collect::<Vec<_>>(), [("tb-a", &b"1"[..])]);
    }
}
