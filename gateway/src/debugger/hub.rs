//! Who watches which app, and what they are sent.
//!
//! Each viewer has a bounded channel; an entry is offered to it with
//! `try_send`, so a slow viewer loses entries (counted, and told) instead
//! of slowing a request. Each watched app has a ring of its latest entries,
//! sent first to a viewer who connects, and a per-second budget past which
//! entries are counted, not built. An app's ring goes when its last viewer
//! does. A background task pings every viewer (which also finds the ones
//! that left) and is started with the hub.

use crate::config::DebuggerConfig;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Entries waiting for one viewer's connection.
const VIEWER_BUFFER: usize = 256;
/// How often viewers are pinged (an SSE comment), so that idle proxies keep
/// the stream open and viewers that left are noticed.
const PING_EVERY: Duration = Duration::from_secs(15);

/// The debugger's viewers and rings.
pub struct Hub {
    config: DebuggerConfig,
    /// Viewers over all apps: the ingest path's only cost while it is 0.
    viewers: AtomicUsize,
    apps: Mutex<HashMap<Arc<str>, Watched>>,
}

struct Watched {
    ring: VecDeque<Bytes>,
    viewers: Vec<Viewer>,
    /// Entries still allowed in the current second, and when it began.
    budget: u32,
    second: Instant,
    /// Entries not shown for the budget since the last notice.
    skipped: u64,
}

struct Viewer {
    tx: mpsc::Sender<Bytes>,
    /// Entries this viewer's full channel refused since its last notice.
    lost: u64,
}

/// Why a viewer was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// `debugger.max_viewers` are watching already.
    TooManyViewers,
}

impl Hub {
    /// A hub for `config`; its ping task runs while the hub lives.
    pub fn start(config: &DebuggerConfig) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            config: config.clone(),
            viewers: AtomicUsize::new(0),
            apps: Mutex::new(HashMap::new()),
        });
        if config.enabled {
            let weak: Weak<Hub> = Arc::downgrade(&hub);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(PING_EVERY);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(hub) = weak.upgrade() else { return };
                    hub.ping();
                }
            });
        }
        hub
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &DebuggerConfig {
        &self.config
    }

    /// Whether anyone watches `app` (cheap while nobody watches anything).
    pub fn watching(&self, app: &str) -> bool {
        self.viewers.load(Ordering::Relaxed) > 0 && self.lock().contains_key(app)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Watched>> {
        self.apps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new viewer of `app`: its channel, already holding `hello` and the
    /// app's ring.
    pub fn subscribe(
        &self,
        app: &Arc<str>,
        hello: Bytes,
    ) -> Result<mpsc::Receiver<Bytes>, Refused> {
        let mut apps = self.lock();
        for w in apps.values_mut() {
            w.viewers.retain(|v| !v.tx.is_closed());
        }
        let live: usize = apps.values().map(|w| w.viewers.len()).sum();
        if live >= self.config.max_viewers {
            self.viewers.store(live, Ordering::Relaxed);
            return Err(Refused::TooManyViewers);
        }
        let (tx, rx) = mpsc::channel(VIEWER_BUFFER.max(self.config.ring_events + 1));
        let w = apps.entry(app.clone()).or_insert_with(|| Watched {
            ring: VecDeque::new(),
            viewers: Vec::new(),
            budget: self.config.events_per_second,
            second: Instant::now(),
            skipped: 0,
        });
        let _ = tx.try_send(hello);
        for e in &w.ring {
            let _ = tx.try_send(e.clone());
        }
        w.viewers.push(Viewer { tx, lost: 0 });
        apps.retain(|_, w| !w.viewers.is_empty());
        self.viewers.store(live + 1, Ordering::Relaxed);
        Ok(rx)
    }

    /// How many of `wanted` entries of `app` may be built now (the rest
    /// are counted as skipped); 0 when nobody watches it.
    pub fn admit(&self, app: &str, wanted: usize) -> usize {
        let mut apps = self.lock();
        let Some(w) = apps.get_mut(app) else { return 0 };
        if w.second.elapsed() >= Duration::from_secs(1) {
            w.second = Instant::now();
            w.budget = self.config.events_per_second;
        }
        let n = wanted.min(w.budget as usize);
        w.budget -= n as u32;
        w.skipped += (wanted - n) as u64;
        n
    }

    /// Sends `entries` of `app` to its viewers and keeps them in its ring,
    /// after a notice of what was skipped or lost since the last one.
    pub fn publish(&self, app: &str, entries: Vec<Bytes>) {
        let mut apps = self.lock();
        let Some(w) = apps.get_mut(app) else { return };
        let skipped = std::mem::take(&mut w.skipped);
        let busy = (skipped > 0).then(|| notice("busy", skipped));
        for e in busy.into_iter().chain(entries) {
            w.ring.push_back(e.clone());
            while w.ring.len() > self.config.ring_events {
                w.ring.pop_front();
            }
            for v in &mut w.viewers {
                if v.lost > 0 && v.tx.try_send(notice("slow viewer", v.lost)).is_ok() {
                    v.lost = 0;
                }
                if v.tx.try_send(e.clone()).is_err() {
                    v.lost += 1;
                }
            }
        }
        w.viewers.retain(|v| !v.tx.is_closed());
        if w.viewers.is_empty() {
            apps.remove(app);
        }
        self.recount(&apps);
    }

    fn ping(&self) {
        let mut apps = self.lock();
        for w in apps.values_mut() {
            w.viewers.retain(|v| !v.tx.is_closed());
            for v in &w.viewers {
                let _ = v.tx.try_send(Bytes::from_static(b": ping\n\n"));
            }
        }
        apps.retain(|_, w| !w.viewers.is_empty());
        self.recount(&apps);
    }

    fn recount(&self, apps: &HashMap<Arc<str>, Watched>) {
        let n = apps.values().map(|w| w.viewers.len()).sum();
        self.viewers.store(n, Ordering::Relaxed);
    }

    /// Ends every stream (at shutdown, so that draining does not wait for
    /// viewers who never hang up).
    pub fn close(&self) {
        self.lock().clear();
        self.viewers.store(0, Ordering::Relaxed);
    }
}

/// An SSE message of `json`.
pub fn sse(json: &serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {json}\n\n"))
}

fn notice(why: &str, count: u64) -> Bytes {
    sse(&serde_json::json!({ "outcome": "skipped", "why": why, "count": count }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(per_second: u32, ring: usize) -> Arc<Hub> {
        let config = DebuggerConfig {
            enabled: false, // no ping task in a unit test
            events_per_second: per_second,
            ring_events: ring,
            max_viewers: 2,
            ..DebuggerConfig::default()
        };
        Hub::start(&config)
    }

    fn text(rx: &mut mpsc::Receiver<Bytes>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(b) = rx.try_recv() {
            out.push(String::from_utf8_lossy(&b).into_owned());
        }
        out
    }

    #[tokio::test]
    async fn only_watched_apps_are_built_and_the_ring_greets_a_new_viewer() {
        let h = hub(100, 2);
        let shop: Arc<str> = "shop".into();
        assert!(!h.watching("shop"));
        assert_eq!(h.admit("shop", 5), 0, "nobody watches");
        let mut a = h.subscribe(&shop, sse(&0.into())).unwrap();
        assert!(h.watching("shop") && !h.watching("other"));
        assert_eq!(h.admit("shop", 3), 3);
        h.publish("shop", vec![sse(&1.into()), sse(&2.into()), sse(&3.into())]);
        assert_eq!(
            text(&mut a),
            ["data: 0\n\n", "data: 1\n\n", "data: 2\n\n", "data: 3\n\n"]
        );
        let mut b = h.subscribe(&shop, sse(&0.into())).unwrap();
        assert_eq!(
            text(&mut b),
            ["data: 0\n\n", "data: 2\n\n", "data: 3\n\n"],
            "the ring keeps 2"
        );
        assert_eq!(
            h.subscribe(&shop, sse(&0.into())).unwrap_err(),
            Refused::TooManyViewers
        );
        drop((a, b));
        h.publish("shop", vec![sse(&4.into())]);
        assert!(!h.watching("shop"), "gone with its last viewer");
    }

    #[tokio::test]
    async fn past_the_budget_entries_are_counted_and_announced() {
        let h = hub(2, 10);
        let mut a = h.subscribe(&"shop".into(), sse(&0.into())).unwrap();
        let _ = a.try_recv();
        assert_eq!(h.admit("shop", 5), 2);
        h.publish("shop", vec![sse(&1.into()), sse(&2.into())]);
        assert_eq!(h.admit("shop", 1), 0, "the second's budget is spent");
        h.publish("shop", vec![]);
        let got = text(&mut a);
        assert_eq!(got.len(), 4, "notice, 1, 2, notice: {got:?}");
        assert!(
            got[0].contains(r#""count":3"#) && got[0].contains("busy"),
            "{got:?}"
        );
        assert_eq!(got[1], "data: 1\n\n");
        assert!(got[3].contains(r#""count":1"#), "{got:?}");
    }
}
