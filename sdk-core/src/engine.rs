//! The engine: the SDK's public API and its upload state machine.
//!
//! Calls that record events (`track`, `identify`, …) build the event,
//! persist it and queue it; they never block on the network. The platform
//! drives uploads with [`Engine::next_task`] / [`Engine::on_response`]
//! (see the crate docs). At most one batch is in flight at a time; it keeps
//! its idempotency key and its exact events across retries and restarts, so
//! the gateway can recognise a retry and answer it without producing twice.

pub mod capture;

use crate::config::{Compression, Consent, SdkConfig};
use crate::context::Context;
use crate::debug::{self, DebugLog};
use crate::drops::DropCounts;
use crate::event::EventDraft;
use crate::ids::{Rng, stable_hash};
use crate::json::{JsonObject, write_int, write_str};
#[cfg(feature = "plugins")]
use crate::plugins::{Chain, Outcome};
use crate::policy::{self, Verdict};
use crate::queue::Queue;
use crate::session::{Boundary, Sessions};
use crate::settings::ServerSettings;
use crate::storage::{InFlightBatch, PersistedState, Priority, Storage, StorageError, StoredEvent};
use crate::upload::{RequestKind, UploadRequest, UploadResult, UploadTask};
use std::time::Duration;
use tributary_contract::event::field;
use tributary_contract::{DropReason, EventType, health, time};

/// Why an event was not queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnqueueError {
    /// Dropped, and counted under this reason.
    Dropped(DropReason),
    /// Refused: the call's arguments are invalid (e.g. an empty event name).
    Invalid(String),
    /// The store failed; the event is not queued.
    Storage(StorageError),
}

impl std::fmt::Display for EnqueueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnqueueError::Dropped(r) => write!(f, "event dropped: {r:?}"),
            EnqueueError::Invalid(m) => write!(f, "invalid call: {m}"),
            EnqueueError::Storage(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for EnqueueError {}

/// Counters since the engine started, plus the queue's current size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Events accepted into the queue.
    pub enqueued: u64,
    /// Events the gateway took.
    pub delivered: u64,
    /// Events dropped, by reason (whether or not they were ever queued).
    pub dropped: DropCounts,
    /// Of those, events that had been queued (evicted, expired, rejected
    /// by the server, purged). `enqueued = delivered + dropped_queued + queued`
    /// holds over the life of a store.
    pub dropped_queued: u64,
    /// Requests handed to the platform.
    pub requests: u64,
    /// Events queued now.
    pub queued: usize,
    /// Bytes queued now.
    pub queued_bytes: usize,
    /// The version of the server's settings in force, if any.
    #[cfg(feature = "remote-settings")]
    pub settings_version: Option<String>,
}

impl EngineStats {
    /// All drops.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.total()
    }
}

/// One `sendBeacon` payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeaconBatch {
    /// JSON body with the write key inside.
    pub body: Vec<u8>,
    /// Events it carries.
    pub seqs: Vec<u64>,
    /// Idempotency key, sent as the `idempotency_key` query parameter.
    pub idempotency_key: String,
}

struct InFlight {
    batch: InFlightBatch,
    /// The id of the outstanding request; `None` between attempts.
    request: Option<u64>,
}

/// The SDK engine over a platform's storage.
pub struct Engine<S: Storage> {
    cfg: SdkConfig,
    storage: S,
    queue: Queue,
    state: PersistedState,
    sessions: Sessions,
    context: JsonObject,
    auth_header: String,
    rng: Rng,
    in_flight: Option<InFlight>,
    /// The events of the last beacons handed out, and their keys: a page
    /// hidden twice (`visibilitychange`, then `pagehide`)
    /// whose first beacons the browser refused, yet sent, beacons the same
    /// events under the same keys, which the gateway answers once.
    beacon_keys: (Vec<Vec<u64>>, Vec<String>),
    failures: u32,
    /// A request got no answer at all (no network, timeout) and none has
    /// been answered since. Beacons are held then, like while uploads are
    /// failing: the gateway is likely unreachable, and a beacon's loss is
    /// never known. A settings fetch is often the first request of a
    /// visit, before any upload has had the chance to fail.
    unanswered: bool,
    not_before_ms: i64,
    flush_requested: bool,
    online: bool,
    batch_cap: usize,
    next_request: u64,
    sampled_in: bool,
    stats: EngineStats,
    settings: ServerSettings,
    #[cfg(feature = "plugins")]
    plugins: Chain,
    /// Campaign context waiting for the next recorded event.
    #[cfg(feature = "auto-capture")]
    campaign: Option<JsonObject>,
    /// This start began a new session (a cold open).
    cold_start: bool,
    /// A line per decision, when `cfg.debug`.
    debug: DebugLog,
}

impl<S: Storage> Engine<S> {
    /// Starts the engine: loads the store, resumes a batch left in flight,
    /// and — when `new_session_on_start` says a start is a cold start —
    /// ends the previous session and starts a new one. `seed` feeds ids and jitter (any value; use entropy in
    /// production, a constant in tests).
    pub fn new(
        cfg: SdkConfig,
        mut storage: S,
        seed: u64,
        now_ms: i64,
    ) -> Result<Engine<S>, String> {
        cfg.validate()?;
        let loaded = storage.load().map_err(|e| e.0)?;
        let mut rng = Rng::new(seed);
        let mut state = loaded.state;
        if state.anonymous_id.is_none() {
            state.anonymous_id = Some(rng.uuid_v7(now_ms));
        }
        let mut queue = Queue::new(loaded.events);
        state.next_seq = state.next_seq.max(queue.all().last().map_or(0, |s| s + 1));
        let in_flight = state.in_flight.clone().and_then(|mut b| {
            b.seqs.retain(|s| queue.contains(*s));
            if b.seqs.is_empty() {
                return None;
            }
            queue.mark_in_flight(&b.seqs);
            Some(InFlight {
                batch: b,
                request: None,
            })
        });
        state.in_flight = in_flight.as_ref().map(|f| f.batch.clone());
        // Concatenation, not format!: see crate::json on the wasm budget.
        let auth = base64((cfg.write_key.clone() + ":").as_bytes());
        let sessions = Sessions {
            id: state.session_id,
            last_activity_ms: state.session_last_activity_ms,
        };
        let consent = state.consent.unwrap_or(cfg.consent);
        let anon = state.anonymous_id.clone().unwrap_or_default();
        let sampled_in = (stable_hash(&anon) as f64 / u64::MAX as f64) < cfg.sample_rate
            || cfg.sample_rate >= 1.0;
        // (A unit struct without `remote-settings`.)
        #[allow(clippy::default_constructed_unit_structs)]
        let settings = if S::KEEPS_SETTINGS {
            ServerSettings::restored(&state)
        } else {
            ServerSettings::default()
        };
        let mut engine = Engine {
            debug: DebugLog::new(cfg.debug),
            settings,
            #[cfg(feature = "plugins")]
            plugins: Chain::default(),
            #[cfg(feature = "auto-capture")]
            campaign: None,
            cold_start: false,
            context: library_context(&cfg.library_name, &cfg.library_version),
            auth_header: String::from("Basic ") + &auth,
            batch_cap: cfg.max_batch_events,
            cfg,
            storage,
            queue,
            state,
            sessions,
            rng,
            in_flight,
            beacon_keys: (Vec::new(), Vec::new()),
            failures: 0,
            unanswered: false,
            not_before_ms: 0,
            flush_requested: false,
            online: true,
            next_request: 1,
            sampled_in,
            stats: EngineStats::default(),
        };
        engine.state.consent = Some(consent);
        if loaded.corrupt > 0 {
            engine.count_drop(DropReason::Corrupt, loaded.corrupt);
        }
        if consent != Consent::Denied {
            let cold = engine.cfg.new_session_on_start;
            let before = engine.sessions.id;
            engine.touch_session(now_ms, cold);
            engine.cold_start = engine.sessions.id != before;
        }
        engine.save_state();
        Ok(engine)
    }

    // ---- recording ----

    /// Records a named user action.
    pub fn track(
        &mut self,
        name: &str,
        properties: impl Into<JsonObject>,
        now_ms: i64,
    ) -> Result<(), EnqueueError> {
        if name.is_empty() {
            return Err(EnqueueError::Invalid("event name must not be empty".into()));
        }
        let priority = if health::is_health_event(name) {
            Priority::High
        } else {
            Priority::Normal
        };
        let mut e = self.base_event(EventType::Track, now_ms);
        e.event = Some(name.to_owned());
        e.properties = Some(properties.into());
        self.record(e, priority, now_ms)
    }

    /// Ties the device to a user and records the user's traits.
    pub fn identify(
        &mut self,
        user_id: &str,
        traits: impl Into<JsonObject>,
        now_ms: i64,
    ) -> Result<(), EnqueueError> {
        if user_id.is_empty() {
            return Err(EnqueueError::Invalid("user id must not be empty".into()));
        }
        self.state.user_id = Some(user_id.to_owned());
        self.save_state();
        let mut e = self.base_event(EventType::Identify, now_ms);
        e.traits = Some(traits.into());
        self.record(e, Priority::Normal, now_ms)
    }

    /// Records a mobile screen view.
    pub fn screen(
        &mut self,
        name: &str,
        properties: impl Into<JsonObject>,
        now_ms: i64,
    ) -> Result<(), EnqueueError> {
        let mut e = self.base_event(EventType::Screen, now_ms);
        e.name = Some(name.to_owned());
        e.properties = Some(properties.into());
        self.record(e, Priority::Normal, now_ms)
    }

    /// Records a web page view.
    pub fn page(
        &mut self,
        name: &str,
        properties: impl Into<JsonObject>,
        now_ms: i64,
    ) -> Result<(), EnqueueError> {
        let mut e = self.base_event(EventType::Page, now_ms);
        e.name = (!name.is_empty()).then(|| name.to_owned());
        e.properties = Some(properties.into());
        self.record(e, Priority::Normal, now_ms)
    }

    /// Ties the user to a group (account) with its traits.
    pub fn group(
        &mut self,
        group_id: &str,
        traits: impl Into<JsonObject>,
        now_ms: i64,
    ) -> Result<(), EnqueueError> {
        if group_id.is_empty() {
            return Err(EnqueueError::Invalid("group id must not be empty".into()));
        }
        let mut e = self.base_event(EventType::Group, now_ms);
        e.group_id = Some(group_id.to_owned());
        e.traits = Some(traits.into());
        self.record(e, Priority::Normal, now_ms)
    }

    /// Merges the current identity into `new_user_id`.
    pub fn alias(&mut self, new_user_id: &str, now_ms: i64) -> Result<(), EnqueueError> {
        if new_user_id.is_empty() {
            return Err(EnqueueError::Invalid("user id must not be empty".into()));
        }
        let previous = self
            .state
            .user_id
            .clone()
            .or_else(|| self.state.anonymous_id.clone())
            .unwrap_or_default();
        let mut e = self.base_event(EventType::Alias, now_ms);
        e.previous_id = Some(previous);
        e.user_id = Some(new_user_id.to_owned());
        self.state.user_id = Some(new_user_id.to_owned());
        self.save_state();
        self.record(e, Priority::Normal, now_ms)
    }

    /// Forgets the user (logout): clears the user id and starts a new
    /// anonymous id and session. Queued events keep their identities.
    pub fn reset(&mut self, now_ms: i64) {
        self.state.user_id = None;
        self.state.anonymous_id = Some(self.rng.uuid_v7(now_ms));
        self.sessions = Sessions::default();
        self.touch_session(now_ms, true);
        self.save_state();
    }

    // ---- settings ----

    /// Sets consent. `Denied` purges the queue (counted as `opt_out`);
    /// `Pending` keeps collecting but stops uploading.
    pub fn set_consent(&mut self, consent: Consent) {
        self.state.consent = Some(consent);
        if consent == Consent::Denied {
            self.in_flight = None;
            self.state.in_flight = None;
            let all = self.queue.all();
            self.queue.release(&all);
            self.drop_events(&all, DropReason::OptOut);
        }
        self.save_state();
    }

    /// Current consent.
    pub fn consent(&self) -> Consent {
        self.state.consent.unwrap_or(self.cfg.consent)
    }

    /// Replaces the device context sent with every batch.
    pub fn set_context(&mut self, context: &Context) {
        self.context = context
            .to_json(&self.cfg.library_name, &self.cfg.library_version)
            .into();
    }

    /// Replaces the context with an object the platform built itself (the
    /// web SDK's page, user agent, locale and screen), sent as it is; it
    /// should carry `library` like [`Context::to_json`] does.
    pub fn set_context_object(&mut self, context: JsonObject) {
        self.context = context;
    }

    /// Network hint from the platform. Offline: no uploads are attempted.
    /// Back online: the retry wait is cut short.
    pub fn set_online(&mut self, online: bool) {
        if online && !self.online {
            self.not_before_ms = 0;
            self.failures = 0;
        }
        self.online = online;
    }

    /// Sends everything queued as soon as possible, ignoring the batching
    /// thresholds (not the retry wait) until the queue is empty.
    pub fn flush(&mut self) {
        self.flush_requested = true;
    }

    /// Packs the waiting events (not the batch in flight, whose request may
    /// still complete) into bodies of at most `max_body_bytes` each, for
    /// `navigator.sendBeacon` when a page is hidden. Beacons cannot set
    /// headers, so the write key is in the body and the idempotency key is
    /// returned for the URL. Nothing is removed until [`Engine::beacon_sent`].
    ///
    /// Empty without consent to upload, and while the engine is backing off
    /// after a failed upload: a beacon's outcome is never known, so events
    /// stay stored for the next start rather than go to a gateway that is
    /// likely unreachable.
    pub fn beacon_batches(&mut self, max_body_bytes: usize, now_ms: i64) -> Vec<BeaconBatch> {
        if self.failures > 0 || self.unanswered || self.consent() != Consent::Granted {
            return Vec::new();
        }
        let overhead = 256 + self.context.as_bytes().len() + self.cfg.write_key.len();
        let budget = max_body_bytes.saturating_sub(overhead);
        let in_flight: Vec<u64> = self
            .in_flight
            .as_ref()
            .map(|f| f.batch.seqs.clone())
            .unwrap_or_default();
        let mut out = Vec::new();
        let mut current: Vec<u64> = Vec::new();
        let mut size = 0;
        for seq in self.queue.all() {
            if in_flight.contains(&seq) {
                continue;
            }
            let cost = self.queue.get(seq).map_or(0, |e| e.cost() + 1);
            if cost > budget {
                continue; // cannot ever fit a beacon; left for a normal upload
            }
            if size + cost > budget && !current.is_empty() {
                out.push(std::mem::take(&mut current));
                size = 0;
            }
            size += cost;
            current.push(seq);
        }
        if !current.is_empty() {
            out.push(current);
        }
        let report = DropCounts::default();
        if self.beacon_keys.0 != out {
            self.beacon_keys = (out.clone(), Vec::new());
        }
        let mut beacons = Vec::with_capacity(out.len());
        for (i, seqs) in out.into_iter().enumerate() {
            if i == self.beacon_keys.1.len() {
                let key = self.rng.uuid_v7(now_ms);
                self.beacon_keys.1.push(key);
            }
            let (body, _) = self.batch_body(&seqs, &report, now_ms, true);
            beacons.push(BeaconBatch {
                idempotency_key: self.beacon_keys.1[i].clone(),
                body,
                seqs,
            });
        }
        beacons
    }

    /// Records that the browser accepted a beacon: its events leave the
    /// queue as delivered (a beacon's outcome is never known; the
    /// idempotency key protects against it being sent again).
    pub fn beacon_sent(&mut self, seqs: &[u64]) {
        let gone = self.queue.remove(seqs);
        let _ = self.storage.remove(&gone);
        self.stats.delivered += gone.len() as u64;
    }

    /// Frees at least `bytes` of queue by evicting the oldest waiting
    /// events, `Normal` before `High`, counted as `queue_full` (a platform
    /// whose store ran out of quota calls this, then stores again).
    /// Returns how many events were evicted.
    pub fn evict(&mut self, bytes: usize) -> usize {
        let victims = self
            .queue
            .plan_eviction(bytes, usize::MAX, self.queue.bytes())
            .unwrap_or_else(|| {
                let mut all = self.queue.all();
                if let Some(f) = &self.in_flight {
                    all.retain(|s| !f.batch.seqs.contains(s));
                }
                all
            });
        self.drop_events(&victims, DropReason::QueueFull);
        self.save_state();
        victims.len()
    }

    /// Counters and queue size.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            queued: self.queue.len(),
            queued_bytes: self.queue.bytes(),
            #[cfg(feature = "remote-settings")]
            settings_version: self.settings.version().map(str::to_owned),
            ..self.stats.clone()
        }
    }

    /// The store, for platforms that mirror it elsewhere (the web SDK
    /// copies its changes to IndexedDB after each call).
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// The device's anonymous id.
    pub fn anonymous_id(&self) -> &str {
        self.state.anonymous_id.as_deref().unwrap_or_default()
    }

    /// The identified user, if any.
    pub fn user_id(&self) -> Option<&str> {
        self.state.user_id.as_deref()
    }

    /// Nothing queued and nothing in flight.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_none()
    }

    // ---- uploading ----

    /// What the platform should do next.
    pub fn next_task(&mut self, now_ms: i64) -> UploadTask {
        if self.consent() != Consent::Granted || !self.online {
            return UploadTask::Done;
        }
        if self.settings.request().is_some()
            || self.in_flight.as_ref().is_some_and(|f| f.request.is_some())
        {
            return UploadTask::Done;
        }
        if self.cfg.remote_settings && self.settings.due(now_ms) {
            self.debug.note(|| "fetching settings".into());
            return UploadTask::Upload(self.settings_request());
        }
        if self.settings.killed() {
            // Nothing goes out while the server says so; the settings are
            // fetched again at their TTL (or after a failed fetch).
            return UploadTask::Wait(Duration::from_secs(60));
        }
        if now_ms < self.not_before_ms {
            return UploadTask::Wait(ms(self.not_before_ms - now_ms));
        }
        if self.in_flight.is_none() {
            let expired = self
                .queue
                .older_than(now_ms.saturating_sub(self.cfg.max_event_age_ms as i64));
            if !expired.is_empty() {
                self.drop_events(&expired, DropReason::TooOld);
            }
            let Some(oldest) = self.queue.oldest_waiting() else {
                self.flush_requested = false;
                return UploadTask::Done;
            };
            let due = oldest.created_ms
                + self.settings.flush_interval_ms(self.cfg.flush_interval_ms) as i64;
            let ready = self.flush_requested
                || self.queue.waiting() >= self.settings.flush_at(self.cfg.flush_at_events)
                || self.queue.waiting_bytes() >= self.cfg.max_batch_bytes
                || now_ms >= due;
            if !ready {
                return UploadTask::Wait(ms(due - now_ms));
            }
            let cap = self
                .batch_cap
                .min(self.settings.max_batch(self.cfg.max_batch_events));
            let seqs = self.queue.take_batch(cap, self.cfg.max_batch_bytes);
            let batch = InFlightBatch {
                key: self.rng.uuid_v7(now_ms),
                seqs,
                report: self.state.unreported,
            };
            self.state.in_flight = Some(batch.clone());
            self.in_flight = Some(InFlight {
                batch,
                request: None,
            });
            self.save_state();
        }
        // What goes out must be on disk first: a crash after this point
        // re-sends the same batch with the same key.
        let _ = self.storage.sync();
        let id = self.next_request;
        self.next_request += 1;
        let request = match self.in_flight.as_mut() {
            Some(f) => {
                f.request = Some(id);
                let batch = f.batch.clone();
                self.build_request(id, &batch, now_ms)
            }
            None => return UploadTask::Done,
        };
        self.stats.requests += 1;
        self.debug.note(|| {
            format!(
                "sending batch {}: {} events, {} bytes",
                request.idempotency_key,
                request.event_count,
                request.body.len()
            )
        });
        UploadTask::Upload(request)
    }

    /// The debug lines written since the last call (empty unless
    /// `debug` is on and the `debug-log` feature built in).
    pub fn take_debug_log(&mut self) -> Vec<String> {
        self.debug.take()
    }

    /// Reports the result of request `id`.
    pub fn on_response(&mut self, id: u64, result: UploadResult, now_ms: i64) {
        self.unanswered = matches!(result, UploadResult::Timeout | UploadResult::Network(_));
        if self.settings.request() == Some(id) {
            self.on_settings(result, now_ms);
            return;
        }
        self.settings.observe_answer(&result);
        let Some(flight) = self.in_flight.as_mut() else {
            return;
        };
        if flight.request != Some(id) {
            return; // a late answer to an abandoned request
        }
        flight.request = None;
        let seqs = flight.batch.seqs.clone();
        let report = flight.batch.report;
        let key = &flight.batch.key;
        self.debug
            .note(|| format!("answer to batch {key}: {}", debug::answer(&result)));
        match policy::classify(&result) {
            Verdict::Delivered { drop, retry } => {
                let pick = |idx: &[usize]| -> Vec<u64> {
                    idx.iter().filter_map(|i| seqs.get(*i).copied()).collect()
                };
                let (drop, retry) = (pick(&drop), pick(&retry));
                let delivered: Vec<u64> = seqs
                    .iter()
                    .copied()
                    .filter(|s| !drop.contains(s) && !retry.contains(s))
                    .collect();
                self.finish_batch(&report);
                let gone = self.queue.remove(&delivered);
                let _ = self.storage.remove(&gone);
                self.stats.delivered += gone.len() as u64;
                self.drop_events(&drop, DropReason::RejectedByServer);
                self.queue.release(&retry);
                let (n, retried) = (gone.len(), retry.len());
                self.debug
                    .note(|| format!("{n} delivered, {retried} to retry"));
                if retry.is_empty() {
                    self.failures = 0;
                    self.batch_cap =
                        (self.batch_cap.saturating_mul(2)).min(self.cfg.max_batch_events);
                } else {
                    self.back_off(None, now_ms);
                }
            }
            Verdict::Split => {
                self.in_flight = None;
                self.state.in_flight = None;
                if seqs.len() > 1 {
                    self.batch_cap = (seqs.len() / 2).max(1);
                    self.queue.release(&seqs);
                    let cap = self.batch_cap;
                    self.debug
                        .note(|| format!("too large: sending at most {cap} events per batch"));
                } else {
                    self.drop_events(&seqs, DropReason::TooLarge);
                }
            }
            Verdict::RetryLater { after_ms } => self.back_off(after_ms, now_ms),
            Verdict::DropBatch => {
                self.finish_batch(&report);
                self.drop_events(&seqs, DropReason::RejectedByServer);
                self.failures = 0;
            }
        }
        self.save_state();
    }

    // ---- internals ----

    fn back_off(&mut self, after_ms: Option<u64>, now_ms: i64) {
        self.failures += 1;
        let delay = after_ms.unwrap_or_else(|| {
            policy::backoff_ms(
                self.failures,
                self.cfg.backoff_base_ms,
                self.cfg.backoff_cap_ms,
                &mut self.rng,
            )
        });
        self.not_before_ms = now_ms.saturating_add(delay as i64);
        let failures = self.failures;
        self.debug
            .note(|| format!("retrying in {delay} ms (failure {failures})"));
    }

    /// Closes the batch in flight; its client report has been delivered.
    fn finish_batch(&mut self, report: &DropCounts) {
        self.in_flight = None;
        self.state.in_flight = None;
        self.state.unreported.subtract(report);
    }

    fn base_event(&mut self, kind: EventType, now_ms: i64) -> EventDraft {
        let mut e = EventDraft::new(kind, self.rng.uuid_v7(now_ms), time::format_millis(now_ms));
        e.anonymous_id = self.state.anonymous_id.clone();
        e.user_id = self.state.user_id.clone();
        e
    }

    fn record(
        &mut self,
        event: EventDraft,
        priority: Priority,
        now_ms: i64,
    ) -> Result<(), EnqueueError> {
        // Only a debugging build and engine pay for the name's copy.
        #[cfg(feature = "debug-log")]
        let name = self.cfg.debug.then(|| {
            event
                .event
                .clone()
                .unwrap_or_else(|| event.kind.as_str().to_owned())
        });
        let r = self.decide(event, priority, now_ms);
        #[cfg(feature = "debug-log")]
        if let Some(name) = name {
            self.note_recorded(&name, &r);
        }
        r
    }

    #[cfg(feature = "debug-log")]
    fn note_recorded(&mut self, name: &str, r: &Result<(), EnqueueError>) {
        let dropped = match r {
            Err(EnqueueError::Dropped(why)) => Some(*why),
            _ => None,
        };
        let waiting = self.queue.waiting();
        self.debug.note(|| debug::recorded(name, dropped, waiting));
    }

    /// What becomes of an event: dropped (and why), or queued.
    fn decide(
        &mut self,
        mut event: EventDraft,
        priority: Priority,
        now_ms: i64,
    ) -> Result<(), EnqueueError> {
        if self.consent() == Consent::Denied {
            self.count_drop(DropReason::OptOut, 1);
            return Err(EnqueueError::Dropped(DropReason::OptOut));
        }
        let name = event.event.as_deref().unwrap_or(event.kind.as_str());
        let health = priority == Priority::High;
        let verdict = self
            .settings
            .verdict(name, health, &mut self.rng)
            .or((!health && !self.sampled_in).then_some(DropReason::SampledOut));
        if let Some(reason) = verdict {
            self.count_drop(reason, 1);
            return Err(EnqueueError::Dropped(reason));
        }
        self.touch_session(now_ms, false);
        event.session_id = self.sessions.id;
        #[cfg(feature = "auto-capture")]
        if event.context.is_none() {
            event.context = self.campaign.take().map(|c| {
                let mut out = b"{\"campaign\":".to_vec();
                out.extend_from_slice(c.as_bytes());
                out.push(b'}');
                JsonObject::written(out)
            });
        }
        #[cfg_attr(not(feature = "plugins"), allow(unused_mut))]
        let mut body = event.to_json();
        #[cfg(feature = "plugins")]
        if !self.plugins.is_empty() {
            match self.plugins.run(body) {
                Outcome::Keep(b) => body = b,
                Outcome::Dropped => {
                    self.count_drop(DropReason::DroppedByPlugin, 1);
                    return Err(EnqueueError::Dropped(DropReason::DroppedByPlugin));
                }
            }
        }
        self.enqueue_body(body, priority, now_ms)
    }

    fn enqueue(
        &mut self,
        event: &EventDraft,
        priority: Priority,
        now_ms: i64,
    ) -> Result<(), EnqueueError> {
        let r = self.enqueue_body(event.to_json(), priority, now_ms);
        #[cfg(feature = "debug-log")]
        self.note_recorded(event.event.as_deref().unwrap_or(event.kind.as_str()), &r);
        r
    }

    fn enqueue_body(
        &mut self,
        body: Vec<u8>,
        priority: Priority,
        now_ms: i64,
    ) -> Result<(), EnqueueError> {
        if body.len() > self.cfg.max_event_bytes {
            self.count_drop(DropReason::TooLarge, 1);
            return Err(EnqueueError::Dropped(DropReason::TooLarge));
        }
        let Some(victims) = self.queue.plan_eviction(
            body.len(),
            self.cfg.max_queue_events,
            self.cfg.max_queue_bytes,
        ) else {
            self.count_drop(DropReason::QueueFull, 1);
            return Err(EnqueueError::Dropped(DropReason::QueueFull));
        };
        if !victims.is_empty() {
            self.drop_events(&victims, DropReason::QueueFull);
        }
        let stored = StoredEvent {
            seq: self.state.next_seq,
            created_ms: now_ms,
            priority,
            body,
        };
        self.storage
            .append(&stored)
            .map_err(EnqueueError::Storage)?;
        self.state.next_seq += 1;
        self.queue.push(stored);
        self.stats.enqueued += 1;
        Ok(())
    }

    fn touch_session(&mut self, now_ms: i64, cold: bool) {
        let boundaries = self
            .sessions
            .touch(now_ms, self.cfg.session_timeout_ms, cold);
        self.state.session_last_activity_ms = self.sessions.last_activity_ms;
        if boundaries.is_empty() {
            return;
        }
        self.state.session_id = self.sessions.id;
        for b in boundaries {
            let (name, props, session) = match b {
                Boundary::Ended { id, duration_ms } => {
                    let mut p = b"{\"durationMs\":".to_vec();
                    write_int(&mut p, duration_ms);
                    p.push(b'}');
                    let p = JsonObject::written(p);
                    (health::SESSION_ENDED, p, id)
                }
                Boundary::Started { id } => (health::SESSION_STARTED, JsonObject::empty(), id),
            };
            let mut e = self.base_event(EventType::Track, now_ms);
            e.event = Some(name.to_owned());
            e.properties = Some(props);
            e.session_id = Some(session);
            // Health events are bookkeeping: a failure here is already counted.
            let _ = self.enqueue(&e, Priority::High, now_ms);
        }
        self.save_state();
    }

    fn drop_events(&mut self, seqs: &[u64], reason: DropReason) {
        let gone = self.queue.remove(seqs);
        let _ = self.storage.remove(&gone);
        if !gone.is_empty() {
            self.stats.dropped_queued += gone.len() as u64;
            self.count_drop(reason, gone.len() as u64);
            let n = gone.len();
            self.debug
                .note(|| format!("dropped {n} queued event(s): {}", reason.as_str()));
        }
    }

    fn count_drop(&mut self, reason: DropReason, n: u64) {
        self.stats.dropped.add(reason, n);
        self.state.unreported.add(reason, n);
    }

    fn save_state(&mut self) {
        // A failed state write is not fatal: at worst a restart re-sends a
        // batch under a new key (duplicates carry the same messageId).
        let _ = self.storage.save_state(&self.state);
    }

    /// The JSON body of a batch: events, `sentAt` (now), context, and the
    /// client report; with `write_key` for senders that cannot set headers.
    fn batch_body(
        &self,
        seqs: &[u64],
        report: &DropCounts,
        now_ms: i64,
        write_key: bool,
    ) -> (Vec<u8>, usize) {
        let mut body = Vec::with_capacity(seqs.len() * 300 + 256);
        body.extend_from_slice(b"{\"batch\":[");
        let mut count = 0;
        for seq in seqs {
            if let Some(e) = self.queue.get(*seq) {
                if count > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(&e.body);
                count += 1;
            }
        }
        body.extend_from_slice(b"]");
        let key = |body: &mut Vec<u8>, name: &str| {
            body.push(b',');
            write_str(body, name);
            body.push(b':');
        };
        key(&mut body, field::SENT_AT);
        write_str(&mut body, &time::format_millis(now_ms));
        key(&mut body, field::CONTEXT);
        let context = self.context.as_bytes();
        match (self.settings.version(), context.split_last()) {
            // The settings in force, for re-weighting sampled events.
            (Some(v), Some((&b'}', head))) => {
                body.extend_from_slice(head);
                if head.len() > 1 {
                    body.push(b',');
                }
                body.extend_from_slice(b"\"settingsVersion\":");
                write_str(&mut body, v);
                body.push(b'}');
            }
            _ => body.extend_from_slice(context),
        }
        if !report.is_empty() {
            // The contract's `ClientReport`: {"dropped":{"<reason>":n,…}}.
            key(&mut body, field::CLIENT_REPORT);
            body.extend_from_slice(b"{\"dropped\":");
            report.write_json(&mut body);
            body.push(b'}');
        }
        if write_key {
            key(&mut body, field::WRITE_KEY);
            write_str(&mut body, &self.cfg.write_key);
        }
        body.push(b'}');
        (body, count)
    }

    fn build_request(&mut self, id: u64, batch: &InFlightBatch, now_ms: i64) -> UploadRequest {
        let (mut body, count) = self.batch_body(&batch.seqs, &batch.report, now_ms, false);
        let mut headers = vec![
            ("Authorization".to_owned(), self.auth_header.clone()),
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("Idempotency-Key".to_owned(), batch.key.clone()),
        ];
        let mut compress = false;
        match self.cfg.compression {
            Compression::Gzip => {
                if let Some(gz) = gzip(&body) {
                    body = gz;
                    headers.push(("Content-Encoding".to_owned(), "gzip".to_owned()));
                }
            }
            Compression::Platform => compress = true,
            Compression::None => {}
        }
        UploadRequest {
            id,
            kind: RequestKind::Batch,
            url: String::from(self.cfg.endpoint.trim_end_matches('/')) + "/v1/batch",
            headers,
            body,
            compress,
            event_count: count,
            idempotency_key: batch.key.clone(),
        }
    }
}

/// Standard base64 with padding (for the Basic authorization header).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The context before the platform sets one: just the library.
fn library_context(name: &str, version: &str) -> JsonObject {
    let mut out = b"{\"library\":{\"name\":".to_vec();
    write_str(&mut out, name);
    out.extend_from_slice(b",\"version\":");
    write_str(&mut out, version);
    out.extend_from_slice(b"}}");
    JsonObject::written(out)
}

fn ms(n: i64) -> Duration {
    Duration::from_millis(n.max(0) as u64)
}

#[cfg(feature = "gzip")]
fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::fast(),
    );
    e.write_all(data).ok()?;
    e.finish().ok()
}

#[cfg(not(feature = "gzip"))]
fn gzip(_: &[u8]) -> Option<Vec<u8>> {
    None
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        for s in ["", "a", "ab", "abc", "abcd", "wk-123:", "\u{ff}\u{1}é"] {
            let want = base64::engine::general_purpose::STANDARD.encode(s);
            assert_eq!(super::base64(s.as_bytes()), want, "{s:?}");
        }
    }
}
