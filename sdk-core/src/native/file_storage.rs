//! Crash-safe file storage: append-only segment files with a checksum on
//! every record, plus a small state file replaced atomically.
//!
//! Why segments and not SQLite: SQLite would add about 600 KB to every
//! mobile binary (measured in Glean's library) to store what is, here, a
//! FIFO. An append-only log needs no page cache, and its failure mode is
//! simple: a crash can only tear the *last* record, which the checksum
//! detects; recovery truncates it.
//!
//! Layout of a directory:
//!
//! * `seg-<first seq>.log` — records, each
//!   `[0xEB][kind][len: u32 LE][crc32(kind ‖ payload): u32 LE][payload]`;
//!   kind 1 = event (`seq u64, created_ms i64, priority u8, body`),
//!   kind 2 = removal (`seq u64` repeated).
//! * `state.json` — [`PersistedState`], written to a temp file and renamed.
//!
//! Appends go straight to the file (they survive the app being killed);
//! [`Storage::sync`] adds `fdatasync` (they survive power loss), and the
//! engine calls it before every upload. A segment is deleted once it is the
//! oldest and holds no live event; when dead records outweigh live ones the
//! live events are rewritten into a fresh segment (compaction).

use crate::storage::{Loaded, PersistedState, Priority, Storage, StorageError, StoredEvent};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: u8 = 0xEB;
const KIND_EVENT: u8 = 1;
const KIND_REMOVE: u8 = 2;
const HEADER: usize = 10;
/// A segment is closed and a new one begun past this size.
const SEGMENT_BYTES: u64 = 1 << 20;
/// Largest record accepted on read; anything larger is damage.
const MAX_RECORD: usize = 16 << 20;

fn err(context: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError(format!("{context}: {e}"))
}

/// Event storage in a directory.
pub struct FileStorage {
    dir: PathBuf,
    /// Segments by first sequence number; value = live events in it.
    segments: BTreeMap<u64, usize>,
    /// Which segment holds each live event.
    home: HashMap<u64, u64>,
    active: Option<(u64, File, u64)>,
    /// Every new segment's name is above every earlier one, so names sort
    /// in creation order (removal records must be read after the events
    /// they remove).
    next_segment: u64,
    live_bytes: u64,
    disk_bytes: u64,
}

impl FileStorage {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<FileStorage, StorageError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| err("create storage dir", e))?;
        Ok(FileStorage {
            dir,
            segments: BTreeMap::new(),
            home: HashMap::new(),
            active: None,
            next_segment: 0,
            live_bytes: 0,
            disk_bytes: 0,
        })
    }

    fn segment_path(&self, first: u64) -> PathBuf {
        self.dir.join(format!("seg-{first:020}.log"))
    }

    fn list_segments(&self) -> Result<Vec<u64>, StorageError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| err("list storage dir", e))? {
            let name = entry.map_err(|e| err("list storage dir", e))?.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name
                .strip_prefix("seg-")
                .and_then(|n| n.strip_suffix(".log"))
                && let Ok(first) = n.parse::<u64>()
            {
                out.push(first);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    fn write_record(&mut self, kind: u8, payload: &[u8]) -> Result<u64, StorageError> {
        let rotate = self
            .active
            .as_ref()
            .is_none_or(|(_, _, size)| *size >= SEGMENT_BYTES);
        if rotate {
            let name = self.next_segment;
            self.next_segment += 1;
            let path = self.segment_path(name);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| err("open segment", e))?;
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            if let Some((_, old, _)) = self.active.take() {
                let _ = old.sync_data();
            }
            self.segments.entry(name).or_insert(0);
            self.active = Some((name, file, size));
        }
        let rec = encode_record(kind, payload);
        let Some((seg, file, size)) = self.active.as_mut() else {
            return Err(StorageError("no active segment".into()));
        };
        // One write call per record: a kill between records never leaves a
        // half record except at the very end, which recovery truncates.
        file.write_all(&rec).map_err(|e| err("append", e))?;
        *size += rec.len() as u64;
        self.disk_bytes += rec.len() as u64;
        Ok(*seg)
    }

    /// Deletes leading segments with no live events, and compacts when the
    /// files hold much more dead data than live.
    fn collect_garbage(&mut self) -> Result<(), StorageError> {
        let active = self.active.as_ref().map(|(s, _, _)| *s);
        while let Some((&first, &live)) = self.segments.iter().next() {
            if live > 0 || Some(first) == active {
                break;
            }
            let path = self.segment_path(first);
            let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            fs::remove_file(&path).map_err(|e| err("delete segment", e))?;
            self.disk_bytes = self.disk_bytes.saturating_sub(len);
            self.segments.remove(&first);
        }
        if self.segments.len() > 2 && self.disk_bytes > 4 * self.live_bytes + 4 * SEGMENT_BYTES {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites every live event into one new segment, then deletes the old ones.
    fn compact(&mut self) -> Result<(), StorageError> {
        let loaded = self.read_all()?;
        let old: Vec<u64> = self.segments.keys().copied().collect();
        // The compacted segment sorts after every segment it replaces.
        let name = self.next_segment;
        self.next_segment += 1;
        let tmp = self.dir.join("compact.tmp");
        {
            let mut f = File::create(&tmp).map_err(|e| err("compact", e))?;
            for e in &loaded.events {
                f.write_all(&encode_record(KIND_EVENT, &encode_event(e)))
                    .map_err(|e| err("compact", e))?;
            }
            f.sync_all().map_err(|e| err("compact", e))?;
        }
        self.active = None;
        fs::rename(&tmp, self.segment_path(name)).map_err(|e| err("compact", e))?;
        for s in old {
            let _ = fs::remove_file(self.segment_path(s));
        }
        self.segments.clear();
        self.home.clear();
        self.segments.insert(name, loaded.events.len());
        for e in &loaded.events {
            self.home.insert(e.seq, name);
        }
        self.disk_bytes = fs::metadata(self.segment_path(name))
            .map(|m| m.len())
            .unwrap_or(0);
        Ok(())
    }

    /// Reads all segments, truncating torn tails. Rebuilds the indexes.
    fn read_all(&mut self) -> Result<Loaded, StorageError> {
        let mut events: BTreeMap<u64, StoredEvent> = BTreeMap::new();
        let mut corrupt = 0u64;
        self.segments.clear();
        self.home.clear();
        self.disk_bytes = 0;
        let names = self.list_segments()?;
        self.next_segment = self.next_segment.max(names.last().map_or(0, |l| l + 1));
        for first in names {
            let path = self.segment_path(first);
            let mut data = Vec::new();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut data))
                .map_err(|e| err("read segment", e))?;
            let (records, good_len, damaged) = decode_records(&data);
            if damaged {
                // Everything after the first bad record is unreadable: count
                // the event records we can still recognise, drop the rest.
                corrupt += 1.max(count_event_markers(&data[good_len..]));
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| err("repair", e))?;
                f.set_len(good_len as u64).map_err(|e| err("repair", e))?;
                let _ = f.sync_all();
            }
            self.disk_bytes += good_len as u64;
            self.segments.insert(first, 0);
            for (kind, payload) in records {
                match kind {
                    KIND_EVENT => match decode_event(payload) {
                        Some(e) => {
                            self.home.insert(e.seq, first);
                            events.insert(e.seq, e);
                        }
                        None => corrupt += 1,
                    },
                    KIND_REMOVE => {
                        for chunk in payload.chunks_exact(8) {
                            let mut b = [0u8; 8];
                            b.copy_from_slice(chunk);
                            let seq = u64::from_le_bytes(b);
                            events.remove(&seq);
                            self.home.remove(&seq);
                        }
                    }
                    _ => corrupt += 1,
                }
            }
        }
        for seg in self.home.values() {
            *self.segments.entry(*seg).or_default() += 1;
        }
        self.live_bytes = events.values().map(|e| e.body.len() as u64).sum();
        Ok(Loaded {
            events: events.into_values().collect(),
            state: PersistedState::default(),
            corrupt,
        })
    }
}

impl Storage for FileStorage {
    fn load(&mut self) -> Result<Loaded, StorageError> {
        let mut loaded = self.read_all()?;
        loaded.state = match fs::read(self.dir.join("state.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => PersistedState::default(),
        };
        // Appends continue in a fresh segment; old ones are only read.
        self.active = None;
        self.collect_garbage()?;
        Ok(loaded)
    }

    fn append(&mut self, event: &StoredEvent) -> Result<(), StorageError> {
        let seg = self.write_record(KIND_EVENT, &encode_event(event))?;
        self.home.insert(event.seq, seg);
        *self.segments.entry(seg).or_default() += 1;
        self.live_bytes += event.body.len() as u64;
        Ok(())
    }

    fn remove(&mut self, seqs: &[u64]) -> Result<(), StorageError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let mut payload = Vec::with_capacity(seqs.len() * 8);
        for s in seqs {
            payload.extend_from_slice(&s.to_le_bytes());
        }
        self.write_record(KIND_REMOVE, &payload)?;
        for s in seqs {
            if let Some(seg) = self.home.remove(s)
                && let Some(n) = self.segments.get_mut(&seg)
            {
                *n = n.saturating_sub(1);
            }
        }
        self.collect_garbage()
    }

    fn save_state(&mut self, state: &PersistedState) -> Result<(), StorageError> {
        let tmp = self.dir.join("state.json.tmp");
        let bytes = serde_json::to_vec(state).map_err(|e| err("encode state", e))?;
        fs::write(&tmp, bytes).map_err(|e| err("write state", e))?;
        fs::rename(&tmp, self.dir.join("state.json")).map_err(|e| err("write state", e))
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        if let Some((_, f, _)) = self.active.as_ref() {
            f.sync_data().map_err(|e| err("sync", e))?;
        }
        Ok(())
    }
}

fn encode_event(e: &StoredEvent) -> Vec<u8> {
    let mut p = Vec::with_capacity(17 + e.body.len());
    p.extend_from_slice(&e.seq.to_le_bytes());
    p.extend_from_slice(&e.created_ms.to_le_bytes());
    p.push(e.priority as u8);
    p.extend_from_slice(&e.body);
    p
}

fn decode_event(p: &[u8]) -> Option<StoredEvent> {
    if p.len() < 17 {
        return None;
    }
    let seq = u64::from_le_bytes(p[0..8].try_into().ok()?);
    let created_ms = i64::from_le_bytes(p[8..16].try_into().ok()?);
    let priority = match p[16] {
        0 => Priority::Normal,
        1 => Priority::High,
        _ => return None,
    };
    Some(StoredEvent {
        seq,
        created_ms,
        priority,
        body: p[17..].to_vec(),
    })
}

fn encode_record(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut rec = Vec::with_capacity(HEADER + payload.len());
    rec.push(MAGIC);
    rec.push(kind);
    rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&[kind]);
    h.update(payload);
    rec.extend_from_slice(&h.finalize().to_le_bytes());
    rec.extend_from_slice(payload);
    rec
}

/// Splits a segment into records. Returns them, the length of the intact
/// prefix, and whether anything after it was damaged.
fn decode_records(data: &[u8]) -> (Vec<(u8, &[u8])>, usize, bool) {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        if data.len() - at < HEADER || data[at] != MAGIC {
            return (out, at, true);
        }
        let kind = data[at + 1];
        let len =
            u32::from_le_bytes([data[at + 2], data[at + 3], data[at + 4], data[at + 5]]) as usize;
        let crc = u32::from_le_bytes([data[at + 6], data[at + 7], data[at + 8], data[at + 9]]);
        if len > MAX_RECORD || data.len() - at - HEADER < len {
            return (out, at, true);
        }
        let payload = &data[at + HEADER..at + HEADER + len];
        let mut h = crc32fast::Hasher::new();
        h.update(&[kind]);
        h.update(payload);
        if h.finalize() != crc {
            return (out, at, true);
        }
        out.push((kind, payload));
        at += HEADER + len;
    }
    (out, at, false)
}

/// Rough count of event records in a damaged tail, for drop accounting.
fn count_event_markers(tail: &[u8]) -> u64 {
    tail.windows(2)
        .filter(|w| w[0] == MAGIC && w[1] == KIND_EVENT)
        .count() as u64
}

/// Whether `dir` holds any segment (for tests and diagnostics).
pub fn has_segments(dir: &Path) -> bool {
    fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("seg-"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64) -> StoredEvent {
        StoredEvent {
            seq,
            created_ms: 1000 + seq as i64,
            priority: if seq % 5 == 0 {
                Priority::High
            } else {
                Priority::Normal
            },
            body: format!("{{\"messageId\":\"m{seq}\"}}").into_bytes(),
        }
    }

    #[test]
    fn events_survive_reopen_and_removals_stick() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStorage::open(dir.path()).unwrap();
        s.load().unwrap();
        for i in 0..100 {
            s.append(&ev(i)).unwrap();
        }
        s.remove(&(0..40).collect::<Vec<_>>()).unwrap();
        let state = PersistedState {
            user_id: Some("u".into()),
            ..PersistedState::default()
        };
        s.save_state(&state).unwrap();
        drop(s);
        let mut s = FileStorage::open(dir.path()).unwrap();
        let loaded = s.load().unwrap();
        assert_eq!(loaded.events.len(), 60);
        assert_eq!(loaded.events[0], ev(40));
        assert_eq!(loaded.state.user_id.as_deref(), Some("u"));
        assert_eq!(loaded.corrupt, 0);
    }

    #[test]
    fn old_segments_are_deleted_once_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStorage::open(dir.path()).unwrap();
        s.load().unwrap();
        let big = |seq| StoredEvent {
            body: vec![b'x'; 100_000],
            ..ev(seq)
        };
        for i in 0..40 {
            s.append(&big(i)).unwrap();
        }
        assert!(s.list_segments().unwrap().len() >= 3);
        s.remove(&(0..40).collect::<Vec<_>>()).unwrap();
        assert!(
            s.list_segments().unwrap().len() <= 1,
            "{:?}",
            s.list_segments()
        );
        drop(s);
        let mut s = FileStorage::open(dir.path()).unwrap();
        assert!(s.load().unwrap().events.is_empty());
    }
}
