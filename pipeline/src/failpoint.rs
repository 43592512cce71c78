//! Fault injection for the crash tests: `TRIBUTARY_FAILPOINTS` names steps
//! of the commit and the pass at which each fails, e.g.
//! `after-table-files=2,commit-answer-lost=1`. Unset (always, outside
//! tests) every check is one relaxed load of an empty list.
//!
//! The steps, in commit order: `after-table-files` (data files written, no
//! snapshot yet), `commit-answer-lost` (the snapshot committed, but the
//! catalog's answer treated as lost, so the commit is retried),
//! `after-table-commit` (snapshot committed, Kafka offset not). A process
//! that reaches a crash point aborts at once, as `kill -9` would stop it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable.
pub const VAR: &str = "TRIBUTARY_FAILPOINTS";

struct Point {
    name: String,
    at: usize,
    passes: AtomicUsize,
}

fn points() -> &'static [Point] {
    static POINTS: OnceLock<Vec<Point>> = OnceLock::new();
    POINTS.get_or_init(|| {
        std::env::var(VAR)
            .unwrap_or_default()
            .split(',')
            .filter_map(|p| {
                let (name, at) = p.trim().split_once('=')?;
                Some(Point {
                    name: name.to_owned(),
                    at: at.parse().ok()?,
                    passes: AtomicUsize::new(0),
                })
            })
            .collect()
    })
}

/// Whether this pass through step `name` is the one configured to fail.
pub fn fails(name: &str) -> bool {
    points()
        .iter()
        .any(|p| p.name == name && p.passes.fetch_add(1, Ordering::Relaxed) + 1 == p.at)
}

/// Aborts the process at step `name` when configured to.
pub fn crash(name: &str) {
    if fails(name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}
