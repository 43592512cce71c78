//! Quotas: events each app may have accepted per UTC day and per UTC month.
//!
//! A request of an app already at a quota is answered per the app's
//! `over`: 429 `quota_exceeded` with `Retry-After` to the next window, or
//! 200 with its events dropped and counted (`over_quota`). A request that
//! starts below the quota is taken whole, so an app ends at most one
//! request past it on each process.
//!
//! The counts are the state. With `quotas.redis_url` every replica adds
//! what it accepted to one counter per app and window in Redis every
//! `sync_ms` (`INCRBY`, keys expiring after their window) and learns the
//! fleet's total in the same round trip; it decides on that total plus
//! what it accepted since. So the fleet can pass a quota by at most what
//! N replicas accept in one sync interval (plus one request each), and a
//! restart loses nothing already synced. If Redis cannot be reached the
//! counts wait and are added once it is back (counted as sync failures);
//! requests are not refused for it. Without Redis each process counts
//! alone and writes its counts to `state_file` every `sync_ms`: a restart
//! (even `kill -9`) forgets at most one interval, and N replicas each
//! admit up to the whole quota — give each replica quota / N instead.

use crate::config::{AppQuota, QuotaAction, QuotasConfig};
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tributary_contract::time::Timestamp;

/// An app at its quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverQuota {
    /// `day` or `month`.
    pub window: &'static str,
    /// Seconds until that window ends.
    pub retry_after_secs: u64,
    /// What the app's requests get meanwhile.
    pub action: QuotaAction,
}

/// One app's counts in the current windows: the last total learnt from
/// the shared store (or the state file) plus what this process accepted
/// since, not yet added there.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
struct Counts {
    day: String,
    month: String,
    day_used: u64,
    month_used: u64,
    #[serde(skip)]
    day_pending: u64,
    #[serde(skip)]
    month_pending: u64,
}

impl Counts {
    /// Starts new windows when `now` is past the ones counted.
    fn roll(&mut self, day: &str, month: &str) {
        if self.day != day {
            self.day = day.to_owned();
            self.day_used = 0;
            self.day_pending = 0;
        }
        if self.month != month {
            self.month = month.to_owned();
            self.month_used = 0;
            self.month_pending = 0;
        }
    }
}

/// What `/stats` shows of one app.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct QuotaUsage {
    /// UTC day counted (`YYYY-MM-DD`).
    pub day: String,
    /// Events accepted that day, as far as this process knows.
    pub day_used: u64,
    /// The daily quota; 0 = none.
    pub day_limit: u64,
    /// UTC month counted (`YYYY-MM`).
    pub month: String,
    /// Events accepted that month.
    pub month_used: u64,
    /// The monthly quota; 0 = none.
    pub month_limit: u64,
    /// `reject` or `drop`.
    pub over: &'static str,
    /// Whether the app is at a quota now.
    pub exceeded: bool,
}

/// Where the counts are kept.
enum Store {
    Redis(redis::Client),
    File(PathBuf),
}

/// The quotas in force and their counts.
pub struct Quotas {
    apps: HashMap<String, (AppQuota, Mutex<Counts>)>,
    store: Store,
    sync_failures: AtomicU64,
}

fn windows(now: Timestamp) -> (String, String) {
    (
        now.format("%Y-%m-%d").to_string(),
        now.format("%Y-%m").to_string(),
    )
}

/// Seconds from `now` to the end of its UTC day or month.
fn until_end(now: Timestamp, window: &'static str) -> u64 {
    let date = now.date_naive();
    let next = if window == "day" {
        date.succ_opt()
    } else if date.month() == 12 {
        NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
    };
    next.and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
        .map_or(1, |t| (t - now).num_seconds().max(1) as u64)
}

impl Quotas {
    /// The quotas of `config`, their counts loaded (from Redis or the
    /// state file), and the task that keeps them; `None` when no app has
    /// one. `spool_dir` is the default home of the state file.
    pub async fn start(
        config: &QuotasConfig,
        spool_dir: &std::path::Path,
    ) -> anyhow::Result<Option<Arc<Quotas>>> {
        let apps: HashMap<String, (AppQuota, Mutex<Counts>)> = config
            .apps
            .iter()
            .filter(|(_, q)| q.events_per_day > 0 || q.events_per_month > 0)
            .map(|(app, q)| (app.clone(), (q.clone(), Mutex::new(Counts::default()))))
            .collect();
        if apps.is_empty() {
            return Ok(None);
        }
        let store = match &config.redis_url {
            Some(url) => Store::Redis(
                redis::Client::open(url.as_str())
                    .map_err(|e| anyhow::anyhow!("quotas.redis_url {url:?}: {e}"))?,
            ),
            None => Store::File(
                config
                    .state_file
                    .clone()
                    .unwrap_or_else(|| spool_dir.join("quotas.json")),
            ),
        };
        let q = Arc::new(Quotas {
            apps,
            store,
            sync_failures: AtomicU64::new(0),
        });
        if let Store::File(path) = &q.store {
            q.load_file(path);
        }
        // The first round learns the fleet's totals before any request.
        if let Err(e) = q.sync(tributary_contract::time::now()).await {
            tracing::warn!(error = %e, "quotas: cannot read the shared counts yet; counting from zero meanwhile");
        }
        q.spawn_sync(Duration::from_millis(config.sync_ms.max(10)));
        Ok(Some(q))
    }

    fn lock(m: &Mutex<Counts>) -> std::sync::MutexGuard<'_, Counts> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `app` is at one of its quotas at `now`.
    pub fn check(&self, app: &str, now: Timestamp) -> Result<(), OverQuota> {
        let Some((quota, counts)) = self.apps.get(app) else {
            return Ok(());
        };
        let (day, month) = windows(now);
        let mut c = Self::lock(counts);
        c.roll(&day, &month);
        let over = |window| OverQuota {
            window,
            retry_after_secs: until_end(now, window),
            action: quota.over,
        };
        // The month first: its wait is the longer one.
        if quota.events_per_month > 0 && c.month_used >= quota.events_per_month {
            return Err(over("month"));
        }
        if quota.events_per_day > 0 && c.day_used >= quota.events_per_day {
            return Err(over("day"));
        }
        Ok(())
    }

    /// Counts `n` events accepted for `app` at `now`.
    pub fn charge(&self, app: &str, n: u64, now: Timestamp) {
        let Some((_, counts)) = self.apps.get(app) else {
            return;
        };
        let (day, month) = windows(now);
        let mut c = Self::lock(counts);
        c.roll(&day, &month);
        c.day_used += n;
        c.month_used += n;
        c.day_pending += n;
        c.month_pending += n;
    }

    /// Every app's quota and counts, for `/stats`.
    pub fn usage(&self, now: Timestamp) -> BTreeMap<String, QuotaUsage> {
        self.apps
            .iter()
            .map(|(app, (quota, counts))| {
                let exceeded = self.check(app, now).is_err();
                let c = Self::lock(counts);
                let usage = QuotaUsage {
                    day: c.day.clone(),
                    day_used: c.day_used,
                    day_limit: quota.events_per_day,
                    month: c.month.clone(),
                    month_used: c.month_used,
                    month_limit: quota.events_per_month,
                    over: match quota.over {
                        QuotaAction::Reject => "reject",
                        QuotaAction::Drop => "drop",
                    },
                    exceeded,
                };
                (app.clone(), usage)
            })
            .collect()
    }

    /// Failed syncs with the store since start.
    pub fn sync_failures(&self) -> u64 {
        self.sync_failures.load(Ordering::Relaxed)
    }

    fn spawn_sync(self: &Arc<Self>, every: Duration) {
        let quotas = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(q) = quotas.upgrade() else { break };
                if let Err(e) = q.sync(tributary_contract::time::now()).await {
                    q.sync_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "quotas: sync failed; the counts wait for the next one");
                }
            }
        });
    }

    /// Adds what was accepted since the last sync to the store, and learns
    /// the totals (Redis) or writes this process's counts (file).
    pub async fn sync(&self, now: Timestamp) -> anyhow::Result<()> {
        match &self.store {
            Store::Redis(client) => self.sync_redis(client, now).await,
            Store::File(path) => self.write_file(path),
        }
    }

    async fn sync_redis(&self, client: &redis::Client, now: Timestamp) -> anyhow::Result<()> {
        let (day, month) = windows(now);
        // Take what is pending, per app, with the windows it belongs to.
        let mut taken = Vec::with_capacity(self.apps.len());
        for (app, (_, counts)) in &self.apps {
            let mut c = Self::lock(counts);
            c.roll(&day, &month);
            taken.push((
                app.as_str(),
                c.day.clone(),
                c.month.clone(),
                std::mem::take(&mut c.day_pending),
                std::mem::take(&mut c.month_pending),
            ));
        }
        let result = async {
            let mut con = client.get_multiplexed_async_connection().await?;
            let mut pipe = redis::pipe();
            for (app, d, m, dn, mn) in &taken {
                let dk = format!("tributary:quota:{app}:day:{d}");
                let mk = format!("tributary:quota:{app}:month:{m}");
                // Kept a little past their window, for a late replica.
                pipe.cmd("INCRBY").arg(&dk).arg(*dn);
                pipe.cmd("EXPIRE").arg(&dk).arg(3 * 86_400).ignore();
                pipe.cmd("INCRBY").arg(&mk).arg(*mn);
                pipe.cmd("EXPIRE").arg(&mk).arg(35 * 86_400).ignore();
            }
            pipe.query_async::<Vec<u64>>(&mut con).await
        };
        let totals = tokio::time::timeout(Duration::from_secs(2), result).await;
        let totals = match totals {
            Ok(Ok(t)) if t.len() == 2 * taken.len() => t,
            failed => {
                // Put the counts back for the next round.
                for (app, d, m, dn, mn) in &taken {
                    if let Some((_, counts)) = self.apps.get(*app) {
                        let mut c = Self::lock(counts);
                        if c.day == *d {
                            c.day_pending += dn;
                        }
                        if c.month == *m {
                            c.month_pending += mn;
                        }
                    }
                }
                return Err(match failed {
                    Ok(Err(e)) => anyhow::anyhow!("redis: {e}"),
                    Err(_) => anyhow::anyhow!("redis: no answer within 2 s"),
                    Ok(Ok(t)) => {
                        anyhow::anyhow!("redis: {} answers for {} apps", t.len(), taken.len())
                    }
                });
            }
        };
        for ((app, d, m, _, _), pair) in taken.into_iter().zip(totals.chunks(2)) {
            if let Some((_, counts)) = self.apps.get(app) {
                let mut c = Self::lock(counts);
                // What was accepted during the round trip stays on top.
                if c.day == d {
                    c.day_used = pair[0] + c.day_pending;
                }
                if c.month == m {
                    c.month_used = pair[1] + c.month_pending;
                }
            }
        }
        Ok(())
    }

    fn load_file(&self, path: &std::path::Path) {
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        match serde_json::from_str::<BTreeMap<String, Counts>>(&text) {
            Ok(saved) => {
                for (app, counts) in saved {
                    if let Some((_, c)) = self.apps.get(&app) {
                        *Self::lock(c) = counts;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "quotas: unreadable state file; counting from zero")
            }
        }
    }

    fn write_file(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let all: BTreeMap<&str, Counts> = self
            .apps
            .iter()
            .map(|(app, (_, c))| (app.as_str(), Self::lock(c).clone()))
            .collect();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Written whole then renamed, so a crash leaves the old file or the new.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&all)?)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_contract::time::parse;

    fn quotas(day: u64, month: u64, dir: &std::path::Path) -> Quotas {
        let mut apps = HashMap::new();
        apps.insert(
            "shop".to_owned(),
            (
                AppQuota {
                    events_per_day: day,
                    events_per_month: month,
                    over: QuotaAction::Reject,
                },
                Mutex::new(Counts::default()),
            ),
        );
        Quotas {
            apps,
            store: Store::File(dir.join("q.json")),
            sync_failures: AtomicU64::new(0),
        }
    }

    #[test]
    fn a_day_quota_stops_the_app_until_midnight_and_a_month_quota_until_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let q = quotas(100, 250, dir.path());
        let t = parse("2026-12-31T23:00:00Z").unwrap();
        q.check("shop", t).unwrap();
        q.charge("shop", 100, t);
        let over = q.check("shop", t).unwrap_err();
        assert_eq!((over.window, over.retry_after_secs), ("day", 3600));
        assert!(q.check("other", t).is_ok(), "apps without a quota pass");
        // A new day, the same month... which ends at the year's end.
        let next = parse("2027-01-01T00:00:01Z").unwrap();
        q.check("shop", next).unwrap();
        let t = parse("2026-12-15T12:00:00Z").unwrap();
        let q = quotas(100, 250, dir.path());
        for _ in 0..3 {
            q.charge("shop", 90, t);
        }
        let over = q.check("shop", t).unwrap_err();
        assert_eq!(over.window, "month");
        assert_eq!(over.retry_after_secs, 16 * 86_400 + 12 * 3600);
        let u = &q.usage(t)["shop"];
        assert_eq!((u.day_used, u.month_used, u.exceeded), (270, 270, true));
    }

    #[test]
    fn counts_survive_a_restart_through_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let t = parse("2026-12-03T10:00:00Z").unwrap();
        let q = quotas(100, 0, dir.path());
        q.charge("shop", 60, t);
        q.write_file(&dir.path().join("q.json")).unwrap();
        let again = quotas(100, 0, dir.path());
        again.load_file(&dir.path().join("q.json"));
        again.charge("shop", 40, t);
        assert!(again.check("shop", t).is_err());
        // Yesterday's counts do not count today.
        let tomorrow = parse("2026-12-04T00:00:00Z").unwrap();
        assert!(again.check("shop", tomorrow).is_ok());
    }
}
