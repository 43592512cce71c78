//! App-health metrics from the reserved health events, per app and app
//! version, for Prometheus.
//!
//! * crash-free sessions = 1 − sessions with a crash / sessions, and
//!   crash-free users = 1 − users with a crash / users (Sentry's
//!   definitions), counted since start with HyperLogLog sketches (4 KiB
//!   each, about 1.6 % error; exact-ish for small counts);
//! * handled errors, and handled errors per session;
//! * sessions started and session length;
//! * events by name;
//! * end-to-end latency: device → gateway, gateway → Kafka, Kafka →
//!   pipeline.
//!
//! Labels are bounded: `app` (the first `max_apps` apps, then `other`),
//! `app_version` (the `top_versions` versions with the most users at scrape
//! time, then `other`), `event` (the first `max_event_names` names per app,
//! then `other`). Never user or session ids. Memory is bounded the same
//! way: at most 200 versions per app are tracked, the smallest folded into
//! `other`.
//!
//! Records re-read after a crash count again: these are operational
//! metrics (at least once), not the lake's exactly-once data.

use crate::config::HealthConfig;
use crate::rows::EventRow;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use tributary_contract::health as names;

const OTHER: &str = "other";
const MAX_TRACKED_VERSIONS: usize = 200;
const MAX_TRACKED_APPS: usize = 1000;

/// A HyperLogLog sketch with 2^12 registers.
#[derive(Clone)]
pub struct Distinct {
    registers: Box<[u8; 4096]>,
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct {
            registers: Box::new([0; 4096]),
        }
    }
}

impl Distinct {
    /// Counts `item`.
    pub fn add<T: Hash + ?Sized>(&mut self, item: &T) {
        // SipHash with fixed keys: the same estimate on every replica.
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new();
        item.hash(&mut h);
        let x = h.finish();
        let idx = (x >> 52) as usize;
        let rank = ((x << 12) | (1 << 11)).leading_zeros() as u8 + 1;
        if self.registers[idx] < rank {
            self.registers[idx] = rank;
        }
    }

    /// Merges another sketch in.
    pub fn merge(&mut self, o: &Distinct) {
        for (a, b) in self.registers.iter_mut().zip(o.registers.iter()) {
            *a = (*a).max(*b);
        }
    }

    /// The estimated count, rounded.
    pub fn estimate(&self) -> f64 {
        let m = 4096.0_f64;
        let zeros = self.registers.iter().filter(|r| **r == 0).count() as f64;
        let sum: f64 = self
            .registers
            .iter()
            .map(|r| 2f64.powi(-i32::from(*r)))
            .sum();
        let raw = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
        let e = if raw <= 2.5 * m && zeros > 0.0 {
            m * (m / zeros).ln()
        } else {
            raw
        };
        e.round()
    }
}

#[derive(Clone, Default)]
struct VersionAgg {
    events: u64,
    sessions: Distinct,
    crashed_sessions: Distinct,
    users: Distinct,
    crashed_users: Distinct,
    crashes: u64,
    handled_errors: u64,
    sessions_started: u64,
}

impl VersionAgg {
    fn merge(&mut self, o: &VersionAgg) {
        self.events += o.events;
        self.sessions.merge(&o.sessions);
        self.crashed_sessions.merge(&o.crashed_sessions);
        self.users.merge(&o.users);
        self.crashed_users.merge(&o.crashed_users);
        self.crashes += o.crashes;
        self.handled_errors += o.handled_errors;
        self.sessions_started += o.sessions_started;
    }
}

#[derive(Default)]
struct AppAgg {
    /// Order of first sight: the first `max_apps` apps are labelled.
    rank: usize,
    versions: HashMap<String, VersionAgg>,
    /// The counters of the first `max_event_names` event names, so
    /// counting an event neither builds labels nor searches the family.
    event_counters: HashMap<String, Counter>,
    /// The counter every later name shares (`event="other"`).
    other_events: Option<Counter>,
}

/// Labels of per-version gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabels {
    /// App id (bounded).
    pub app: String,
    /// App version (top-N, else `other`).
    pub app_version: String,
}

/// Labels of event counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// App id (bounded).
    pub app: String,
    /// Event name (bounded).
    pub event: String,
}

/// Labels of session-length histograms.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppLabels {
    /// App id (bounded).
    pub app: String,
}

/// Labels of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    /// `device_to_gateway`, `gateway_to_kafka`, `kafka_to_pipeline`.
    pub stage: &'static str,
}

/// A per-version ratio or count, as a float gauge family.
type VersionGauge = Family<VersionLabels, Gauge<f64, AtomicU64>>;

/// Health aggregates and their Prometheus families.
pub struct Health {
    cfg: HealthConfig,
    state: Mutex<HashMap<String, AppAgg>>,
    events: Family<EventLabels, Counter>,
    session_length: Family<AppLabels, Histogram, fn() -> Histogram>,
    /// The latency histograms of the three stages, looked up once.
    latency: [Histogram; 3],
    gauges: [(&'static str, VersionGauge); 9],
}

fn session_histogram() -> Histogram {
    // 1 s .. ~9 h.
    Histogram::new(exponential_buckets(1.0, 2.0, 16))
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~9 h: devices send late when offline.
    Histogram::new(exponential_buckets(0.001, 2.0, 26))
}

impl Health {
    /// Creates the aggregates and registers their metrics in `registry`.
    pub fn new(cfg: HealthConfig, registry: &mut Registry) -> Health {
        let gauge_names = [
            ("sessions", "Distinct sessions seen (HyperLogLog estimate)"),
            ("crashed_sessions", "Distinct sessions with a crash"),
            (
                "crash_free_sessions_ratio",
                "1 - crashed sessions / sessions",
            ),
            ("users", "Distinct users seen (userId, else anonymousId)"),
            ("crashed_users", "Distinct users with a crash"),
            ("crash_free_users_ratio", "1 - crashed users / users"),
            ("crashes", "Application Crashed events"),
            ("handled_errors", "Handled Error events"),
            ("handled_errors_per_session", "Handled errors / sessions"),
        ];
        let gauges = gauge_names.map(|(n, help)| {
            let f = VersionGauge::default();
            registry.register(format!("health_{n}"), help, f.clone());
            (n, f)
        });
        let events = Family::<EventLabels, Counter>::default();
        registry.register("health_events", "Events by app and name", events.clone());
        let session_length =
            Family::<AppLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                session_histogram,
            );
        registry.register(
            "health_session_length_seconds",
            "Session length from Session Ended durationMs",
            session_length.clone(),
        );
        let latency = Family::<StageLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "health_latency_seconds",
            "End-to-end latency by stage: device event time to gateway receipt, receipt to Kafka append, append to pipeline",
            latency.clone(),
        );
        let stage = |stage| latency.get_or_create(&StageLabels { stage }).clone();
        Health {
            cfg,
            state: Mutex::new(HashMap::new()),
            events,
            session_length,
            latency: [
                stage("device_to_gateway"),
                stage("gateway_to_kafka"),
                stage("kafka_to_pipeline"),
            ],
            gauges,
        }
    }

    /// Counts one event; `now_ms` is the pipeline's clock. Called for every
    /// record, so the common case (app, version and event name seen
    /// before) allocates nothing.
    pub fn observe(&self, e: &EventRow<'_>, now_ms: i64) {
        let secs = |ms: i64| (ms.max(0) as f64) / 1000.0;
        let [device_to_gateway, gateway_to_kafka, kafka_to_pipeline] = &self.latency;
        if let Some(c) = e.client_time_ms {
            device_to_gateway.observe(secs(e.received_at_ms - c));
        }
        gateway_to_kafka.observe(secs(e.kafka_time_ms - e.received_at_ms));
        kafka_to_pipeline.observe(secs(now_ms - e.kafka_time_ms));

        let Ok(mut apps) = self.state.lock() else {
            return;
        };
        let app_key = if apps.contains_key(e.app_id) || apps.len() < MAX_TRACKED_APPS {
            e.app_id
        } else {
            OTHER
        };
        if !apps.contains_key(app_key) {
            let rank = apps.len();
            apps.insert(
                app_key.to_owned(),
                AppAgg {
                    rank,
                    ..AppAgg::default()
                },
            );
        }
        let Some(app) = apps.get_mut(app_key) else {
            return;
        };
        let app_label = || {
            if app.rank < self.cfg.max_apps {
                app_key.to_owned()
            } else {
                OTHER.to_owned()
            }
        };
        let counter = match app.event_counters.get(e.event_name) {
            Some(c) => c,
            None if app.event_counters.len() < self.cfg.max_event_names => {
                let c = self.events.get_or_create(&EventLabels {
                    app: app_label(),
                    event: e.event_name.to_owned(),
                });
                app.event_counters
                    .entry(e.event_name.to_owned())
                    .or_insert(c.clone())
            }
            None => app.other_events.get_or_insert_with(|| {
                self.events
                    .get_or_create(&EventLabels {
                        app: app_label(),
                        event: OTHER.to_owned(),
                    })
                    .clone()
            }),
        };
        counter.inc();
        let version = e.app_version.as_deref().unwrap_or("unknown");
        if !app.versions.contains_key(version) && app.versions.len() >= MAX_TRACKED_VERSIONS {
            // Fold the version with the fewest events into `other`.
            if let Some(smallest) = app
                .versions
                .iter()
                .filter(|(k, _)| k.as_str() != OTHER)
                .min_by_key(|(_, v)| v.events)
                .map(|(k, _)| k.clone())
                && let Some(gone) = app.versions.remove(&smallest)
            {
                app.versions.entry(OTHER.into()).or_default().merge(&gone);
            }
        }
        if !app.versions.contains_key(version) {
            app.versions
                .insert(version.to_owned(), VersionAgg::default());
        }
        let Some(v) = app.versions.get_mut(version) else {
            return;
        };
        v.events += 1;
        let user = e.user_id.or(e.anonymous_id);
        if let Some(u) = user {
            v.users.add(u);
        }
        // A session id is only unique per user (devices pick it).
        let session = e.session_id.map(|s| (user.unwrap_or_default(), s));
        if let Some(s) = &session {
            v.sessions.add(s);
        }
        match e.event_name {
            names::CRASH => {
                v.crashes += 1;
                if let Some(s) = &session {
                    v.crashed_sessions.add(s);
                }
                if let Some(u) = user {
                    v.crashed_users.add(u);
                }
            }
            names::HANDLED_ERROR => v.handled_errors += 1,
            names::SESSION_STARTED => v.sessions_started += 1,
            names::SESSION_ENDED => {
                if let Some(ms) = e.payload.number(&e.layout, "durationMs") {
                    self.session_length
                        .get_or_create(&AppLabels { app: app_label() })
                        .observe(ms / 1000.0);
                }
            }
            _ => {}
        }
    }

    /// Recomputes the per-version gauges (top-N versions by users per app,
    /// the rest as `other`; apps past `max_apps` merged into one `other`
    /// app). Called before each scrape.
    pub fn refresh(&self) {
        for (_, f) in &self.gauges {
            f.clear();
        }
        let Ok(apps) = self.state.lock() else { return };
        let mut app_names: Vec<&String> = apps.keys().collect();
        app_names.sort_by_key(|a| apps[*a].rank);
        let mut rows: Vec<(String, String, VersionAgg)> = Vec::new();
        let mut overflow: Option<VersionAgg> = None;
        for app in app_names {
            let agg = &apps[app];
            if agg.rank >= self.cfg.max_apps || app == OTHER {
                let o = overflow.get_or_insert_with(VersionAgg::default);
                for v in agg.versions.values() {
                    o.merge(v);
                }
                continue;
            }
            let mut versions: Vec<(&String, &VersionAgg)> = agg.versions.iter().collect();
            versions.sort_by(|a, b| {
                b.1.users
                    .estimate()
                    .total_cmp(&a.1.users.estimate())
                    .then(b.1.events.cmp(&a.1.events))
                    .then(a.0.cmp(b.0))
            });
            let mut other: Option<VersionAgg> = None;
            for (n, (name, v)) in versions.into_iter().enumerate() {
                if n < self.cfg.top_versions && name != OTHER {
                    rows.push((app.clone(), name.clone(), v.clone()));
                } else {
                    other.get_or_insert_with(VersionAgg::default).merge(v);
                }
            }
            if let Some(o) = other {
                rows.push((app.clone(), OTHER.into(), o));
            }
        }
        if let Some(o) = overflow {
            rows.push((OTHER.into(), OTHER.into(), o));
        }
        for (app, app_version, v) in rows {
            let labels = VersionLabels { app, app_version };
            let sessions = v.sessions.estimate();
            let crashed_s = v.crashed_sessions.estimate().min(sessions);
            let users = v.users.estimate();
            let crashed_u = v.crashed_users.estimate().min(users);
            let ratio = |bad: f64, all: f64| if all > 0.0 { 1.0 - bad / all } else { 1.0 };
            let values = [
                sessions,
                crashed_s,
                ratio(crashed_s, sessions),
                users,
                crashed_u,
                ratio(crashed_u, users),
                v.crashes as f64,
                v.handled_errors as f64,
                if sessions > 0.0 {
                    v.handled_errors as f64 / sessions
                } else {
                    0.0
                },
            ];
            for ((_, f), value) in self.gauges.iter().zip(values) {
                f.get_or_create(&labels).set(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_counts_are_close() {
        for n in [1usize, 10, 100, 1000, 50_000] {
            let mut d = Distinct::default();
            for i in 0..n {
                d.add(&format!("user-{i}"));
                d.add(&format!("user-{i}")); // repeats do not count
            }
            let e = d.estimate();
            let err = (e - n as f64).abs() / n as f64;
            assert!(err < 0.03, "n={n} estimate={e}");
            if n <= 10 {
                assert_eq!(e, n as f64, "small counts are exact");
            }
        }
    }
}
