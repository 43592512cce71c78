//! The disk spool: a local write-ahead log for records Kafka cannot take
//! right now (cluster unreachable, queue full, deliveries timing out).
//!
//! Records are appended to segment files as
//! `[len: u32 LE][crc32: u32 LE][payload]`; a crash can only tear the last
//! record, which the checksum exposes and [`Spool::open`] truncates. When
//! the cluster is back, whole segments are replayed in order and deleted
//! once Kafka has acknowledged every record in them. A replay interrupted
//! by a crash is replayed again from the start of its segment: records
//! acknowledged before the crash then arrive twice (same `tb-message-id`),
//! the documented crash-window duplicates.
//!
//! The spool is bounded (`spool.max_bytes`); when full, the gateway answers
//! 503 rather than accepting what it could not keep.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Segments are sealed past this size.
const SEGMENT_BYTES: u64 = 64 << 20;
const HEADER: usize = 8;

/// One Kafka record waiting in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolRecord {
    /// Topic.
    pub topic: String,
    /// Partitioning key.
    pub key: Vec<u8>,
    /// Value.
    pub payload: Vec<u8>,
    /// Headers (the envelope).
    pub headers: Vec<(String, Vec<u8>)>,
    /// Record timestamp, ms.
    pub timestamp_ms: i64,
}

/// Why an append failed.
#[derive(Debug)]
pub enum SpoolError {
    /// `spool.max_bytes` reached.
    Full,
    /// The disk failed.
    Io(std::io::Error),
}

impl std::fmt::Display for SpoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpoolError::Full => f.write_str("spool is full"),
            SpoolError::Io(e) => write!(f, "spool I/O: {e}"),
        }
    }
}

struct Inner {
    active: Option<(u64, File, u64)>,
    next_name: u64,
    /// Bytes in all segments.
    bytes: u64,
    /// Records appended and not yet replayed (approximate after a restart:
    /// counted when segments are read).
    records: u64,
}

/// The spool of one gateway process.
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    inner: Mutex<Inner>,
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn encode(r: &SpoolRecord) -> Vec<u8> {
    let mut p = Vec::with_capacity(64 + r.key.len() + r.payload.len());
    put(&mut p, r.topic.as_bytes());
    put(&mut p, &r.key);
    put(&mut p, &r.payload);
    p.extend_from_slice(&r.timestamp_ms.to_le_bytes());
    p.extend_from_slice(&(r.headers.len() as u32).to_le_bytes());
    for (k, v) in &r.headers {
        put(&mut p, k.as_bytes());
        put(&mut p, v);
    }
    let mut rec = Vec::with_capacity(HEADER + p.len());
    rec.extend_from_slice(&(p.len() as u32).to_le_bytes());
    rec.extend_from_slice(&crc32fast::hash(&p).to_le_bytes());
    rec.extend_from_slice(&p);
    rec
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

fn decode(p: &[u8]) -> Option<SpoolRecord> {
    let mut c = Cursor(p);
    let topic = String::from_utf8(c.bytes()?.to_vec()).ok()?;
    let key = c.bytes()?.to_vec();
    let payload = c.bytes()?.to_vec();
    let timestamp_ms = i64::from_le_bytes(c.take(8)?.try_into().ok()?);
    let n = c.u32()?;
    let mut headers = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let k = String::from_utf8(c.bytes()?.to_vec()).ok()?;
        headers.push((k, c.bytes()?.to_vec()));
    }
    Some(SpoolRecord {
        topic,
        key,
        payload,
        headers,
        timestamp_ms,
    })
}

/// Splits a segment into records; returns them and the intact length.
fn read_segment(data: &[u8]) -> (Vec<SpoolRecord>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while data.len() - at >= HEADER {
        let len = u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        let crc = u32::from_le_bytes([data[at + 4], data[at + 5], data[at + 6], data[at + 7]]);
        let Some(p) = data.get(at + HEADER..at + HEADER + len) else {
            break;
        };
        if crc32fast::hash(p) != crc {
            break;
        }
        match decode(p) {
            Some(r) => out.push(r),
            None => break,
        }
        at += HEADER + len;
    }
    (out, at)
}

impl Spool {
    /// Opens the spool in `dir`, repairing torn tails left by a crash.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> std::io::Result<Spool> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let mut bytes = 0;
        let mut records = 0;
        let names = list(&dir)?;
        for name in &names {
            let path = segment_path(&dir, *name);
            let data = fs::read(&path)?;
            let (recs, good) = read_segment(&data);
            if good < data.len() {
                tracing::warn!(segment = %path.display(), lost_bytes = data.len() - good, "spool: truncating a torn tail");
                let f = OpenOptions::new().write(true).open(&path)?;
                f.set_len(good as u64)?;
                f.sync_all()?;
            }
            bytes += good as u64;
            records += recs.len() as u64;
        }
        Ok(Spool {
            max_bytes,
            inner: Mutex::new(Inner {
                active: None,
                next_name: names.last().map_or(0, |n| n + 1),
                bytes,
                records,
            }),
            dir,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Appends records; with `sync`, returns only once they are on stable
    /// storage (fdatasync).
    pub fn append(&self, records: &[SpoolRecord], sync: bool) -> Result<(), SpoolError> {
        let mut buf = Vec::new();
        for r in records {
            buf.extend_from_slice(&encode(r));
        }
        let mut inner = self.lock();
        if inner.bytes + buf.len() as u64 > self.max_bytes {
            return Err(SpoolError::Full);
        }
        if inner
            .active
            .as_ref()
            .is_none_or(|(_, _, size)| *size >= SEGMENT_BYTES)
        {
            let name = inner.next_name;
            inner.next_name += 1;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(segment_path(&self.dir, name))
                .map_err(SpoolError::Io)?;
            inner.active = Some((name, file, 0));
        }
        let Some((_, file, size)) = inner.active.as_mut() else {
            return Err(SpoolError::Io(std::io::Error::other("no active segment")));
        };
        file.write_all(&buf).map_err(SpoolError::Io)?;
        if sync {
            file.sync_data().map_err(SpoolError::Io)?;
        }
        *size += buf.len() as u64;
        inner.bytes += buf.len() as u64;
        inner.records += records.len() as u64;
        Ok(())
    }

    /// The oldest segment and its records, sealing the active one first if
    /// it is the only one. `None` when the spool is empty.
    pub fn oldest(&self) -> std::io::Result<Option<(u64, Vec<SpoolRecord>)>> {
        let mut inner = self.lock();
        let names = list(&self.dir)?;
        let Some(first) = names.first().copied() else {
            return Ok(None);
        };
        if inner.active.as_ref().is_some_and(|(n, _, _)| *n == first) {
            if let Some((_, f, _)) = inner.active.take() {
                f.sync_data()?;
            }
        }
        drop(inner);
        let mut data = Vec::new();
        File::open(segment_path(&self.dir, first))?.read_to_end(&mut data)?;
        Ok(Some((first, read_segment(&data).0)))
    }

    /// Deletes a replayed segment.
    pub fn remove(&self, name: u64, records: usize) -> std::io::Result<()> {
        let path = segment_path(&self.dir, name);
        let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        fs::remove_file(path)?;
        let mut inner = self.lock();
        inner.bytes = inner.bytes.saturating_sub(len);
        inner.records = inner.records.saturating_sub(records as u64);
        Ok(())
    }

    /// Records waiting for replay.
    pub fn records(&self) -> u64 {
        self.lock().records
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// Whether appends would be refused.
    pub fn is_full(&self) -> bool {
        self.lock().bytes >= self.max_bytes
    }
}

fn segment_path(dir: &Path, name: u64) -> PathBuf {
    dir.join(format!("spool-{name:020}.log"))
}

fn list(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let name = e?.file_name();
        if let Some(n) = name
            .to_string_lossy()
            .strip_prefix("spool-")
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u8) -> SpoolRecord {
        SpoolRecord {
            topic: "t".into(),
            key: vec![i],
            payload: vec![i; 100],
            headers: vec![("tb-message-id".into(), vec![b'm', i])],
            timestamp_ms: i64::from(i),
        }
    }

    #[test]
    fn appends_replay_in_order_and_survive_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path(), 1 << 20).unwrap();
        s.append(&[rec(1), rec(2)], true).unwrap();
        s.append(&[rec(3)], false).unwrap();
        assert_eq!(s.records(), 3);
        drop(s);
        // A crash tore the last record.
        let seg = list(dir.path()).unwrap()[0];
        let path = segment_path(dir.path(), seg);
        let len = fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 7)
            .unwrap();
        let s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.records(), 2);
        let (name, recs) = s.oldest().unwrap().unwrap();
        assert_eq!(recs, vec![rec(1), rec(2)]);
        s.remove(name, recs.len()).unwrap();
        assert!(s.oldest().unwrap().is_none());
        assert_eq!((s.records(), s.bytes()), (0, 0));
    }

    #[test]
    fn a_full_spool_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path(), 350).unwrap(); // room for two ~157-byte records
        s.append(&[rec(1)], false).unwrap();
        s.append(&[rec(2)], false).unwrap();
        assert!(matches!(s.append(&[rec(3)], false), Err(SpoolError::Full)));
    }
}
