//! The crash-safe store: one small file per crash, written by the thread
//! that is dying, before the process ends, and queued by the next start.
//!
//! A crash handler cannot count on the worker thread (it may be inside a
//! request for seconds) or on the process living long enough to flush
//! anything. So the handler writes the finished `Application Crashed`
//! event itself: to a temporary file, fsync, rename to `crash-<ms>.json`,
//! fsync the directory. The next start queues each such file through the
//! engine (durably) and only then deletes it; a process that dies in
//! between queues it again on the start after, under the same
//! `messageId`, which the gateway's and the lake's de-duplication absorb.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const PREFIX: &str = "crash-";
const SUFFIX: &str = ".json";
/// Most crash files kept: a crash loop must not fill the disk.
pub const MAX_FILES: usize = 16;
/// Largest crash file read back, bytes.
const MAX_BYTES: u64 = 64 << 10;

/// Writes `event` (its JSON) as a crash file in `dir`, durably.
pub fn write(dir: &Path, event: &[u8], now_ms: i64) -> std::io::Result<PathBuf> {
    if pending(dir).len() >= MAX_FILES {
        return Err(std::io::Error::other("too many unsent crash files"));
    }
    let name = format!("{PREFIX}{now_ms}-{}{SUFFIX}", std::process::id());
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(&name);
    let mut f = fs::File::create(&tmp)?;
    f.write_all(event)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, &path)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(path)
}

/// Crash files waiting in `dir`, oldest first, with the time each was written.
pub fn pending(dir: &Path) -> Vec<(PathBuf, i64)> {
    let mut out: Vec<(PathBuf, i64)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
            let ms = stem.split('-').next()?.parse().ok()?;
            Some((e.path(), ms))
        })
        .collect();
    out.sort_by_key(|(p, ms)| (*ms, p.clone()));
    out
}

/// Reads a crash file back (`None` if unreadable or too large).
pub fn read(path: &Path) -> Option<Vec<u8>> {
    let meta = fs::metadata(path).ok()?;
    if meta.len() > MAX_BYTES {
        return None;
    }
    fs::read(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_oldest_first_and_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), b"{\"b\":2}", 20).unwrap();
        write(dir.path(), b"{\"a\":1}", 10).unwrap();
        let p = pending(dir.path());
        assert_eq!(p.iter().map(|(_, ms)| *ms).collect::<Vec<_>>(), [10, 20]);
        assert_eq!(read(&p[0].0).unwrap(), b"{\"a\":1}");
        for i in 0..MAX_FILES - 2 {
            write(dir.path(), b"{}", 30 + i as i64).unwrap();
        }
        assert!(write(dir.path(), b"{}", 99).is_err());
    }
}
