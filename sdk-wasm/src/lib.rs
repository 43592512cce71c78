//! Tributary's web SDK, Rust half: the sdk-core [`Engine`] behind a small
//! interface of numbers and strings, exported to JavaScript by [`abi`].
//!
//! The engine decides everything — what to queue, what to send and when,
//! what a response means, what to drop and why — exactly as on mobile. The
//! JavaScript layer in `sdk-wasm/js/` only performs I/O and reports back:
//!
//! * storage: it fills a [`Loader`] from IndexedDB, then after each call
//!   copies [`Core::take_changes`] back (see [`journal`]);
//! * uploads: it asks [`Core::next_task`], sends the request with `fetch`
//!   (gzipping through `CompressionStream`), and reports the outcome with
//!   [`Core::on_response`] or [`Core::on_failure`];
//! * page hide: it sends [`Core::beacons`] with `navigator.sendBeacon` and
//!   confirms each with [`Core::beacon_sent`].
//!
//! Built twice (`scripts/build`): with sdk-core's `remote-settings`, the
//! core every page loads, and with `auto-capture` too, loaded by a page that
//! asks for automatic capture (`Core::app_opened`, `Core::crash`, record
//! kinds 7–9).
//!
//! The interface is shaped by the download budget (`scripts/size`: 30 KB
//! gzipped for everything a page loads). No serde code is linked: JSON is
//! read by the browser and written by hand (`tributary_sdk_core::json`).
//! Calls take and return numbers and strings; text results (upload
//! details, store changes, beacons, stats) are left in one outbox that
//! JavaScript reads with [`Core::out`]. Numbers are `f64` on the boundary
//! (JavaScript numbers); sequence numbers and times stay far below 2^53.

pub mod abi;
pub mod journal;

use journal::Journal;
use tributary_sdk_core::config::Compression;
use tributary_sdk_core::json::{write_int, write_str, write_utf8};
use tributary_sdk_core::storage::InFlightBatch;
use tributary_sdk_core::{
    Consent, DropCounts, DropReason, Engine, EnqueueError, JsonObject, SdkConfig, UploadRequest,
    UploadResult, UploadTask,
};
#[cfg(feature = "auto-capture")]
use tributary_sdk_core::{Crash, Opened};
#[cfg(feature = "remote-settings")]
use tributary_sdk_core::{RemoteSettings, settings::AutoCapture};

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// [`Core::record`]'s result when the event was queued.
pub const QUEUED: u32 = 0;
/// [`Core::record`]'s result when the call was refused; the message is in
/// [`Core::out`]. Results in between are `DropReason::ALL` positions + 1.
pub const INVALID: u32 = 255;

/// A JavaScript switch: `NaN` unset, `0` off, anything else on.
#[cfg(feature = "remote-settings")]
fn switch(v: f64) -> Option<bool> {
    (!v.is_nan()).then_some(v != 0.0)
}

/// `""` as absent.
fn text(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// A number of the server's settings (`NaN` absent; the engine holds
/// each to its bounds).
#[cfg(feature = "remote-settings")]
fn count(v: f64) -> Option<u64> {
    (!v.is_nan()).then(|| v.clamp(0.0, u32::MAX as f64) as u64)
}

fn consent_from(code: u8) -> Consent {
    match code {
        1 => Consent::Pending,
        2 => Consent::Denied,
        _ => Consent::Granted,
    }
}

/// The web's configuration: sdk-core's defaults, then compression by the
/// page (`CompressionStream`), sessions that survive page loads, library
/// `tributary-web`, then `options` (see [`Core::new`]).
fn web_config(write_key: String, endpoint: String, version: String, options: &[f64]) -> SdkConfig {
    let mut c = SdkConfig::new(write_key, endpoint);
    c.compression = Compression::Platform;
    c.new_session_on_start = false;
    c.library_name = "tributary-web".into();
    c.library_version = version;
    for (i, v) in options.iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        let n = v.max(0.0) as u64;
        match i {
            0 => c.max_queue_events = n as usize,
            1 => c.max_queue_bytes = n as usize,
            2 => c.max_event_bytes = n as usize,
            3 => c.max_batch_events = n as usize,
            4 => c.max_batch_bytes = n as usize,
            5 => c.flush_at_events = n as usize,
            6 => c.flush_interval_ms = n,
            7 => c.max_event_age_ms = n,
            8 => c.backoff_base_ms = n,
            9 => c.backoff_cap_ms = n,
            10 => c.session_timeout_ms = n,
            11 => c.sample_rate = *v,
            12 => c.consent = consent_from(n as u8),
            13 if n == 0 => c.compression = Compression::None,
            14 => c.auto_capture.lifecycle = n != 0,
            15 => c.auto_capture.screens = n != 0,
            16 => c.auto_capture.errors = n != 0,
            17 => c.auto_capture.attribution = n != 0,
            18 => c.remote_settings = n != 0,
            19 => c.debug = n != 0,
            _ => {}
        }
    }
    c
}

/// What the JavaScript layer read from its store, handed to [`Core::new`]
/// (an empty one is a first visit).
#[derive(Default)]
pub struct Loader {
    journal: Journal,
}

impl Loader {
    /// One stored event: its sequence number, creation time (ms), whether
    /// it is a health event (evicted last), and its JSON body, which the
    /// caller has checked is one JSON object.
    pub fn event(&mut self, seq: f64, created_ms: f64, high: bool, body: String) {
        self.journal
            .load_event(seq as u64, created_ms as i64, high, body);
    }

    /// A stored event that could not be read (counted as `corrupt`, and
    /// deleted with the next changes).
    pub fn corrupt(&mut self, seq: f64) {
        self.journal.discard(seq as u64);
    }

    /// The stored state, as the journal wrote it (see [`journal`]): ids
    /// (`""` absent), session id and last activity (`NaN` absent), next
    /// sequence number, consent (0–2, other: unset), the in-flight batch
    /// (`""` none) and the drop counts (report of the batch in flight, then
    /// unreported; `DropReason::ALL.len()` each, in that order), and the
    /// last open's app version and build (`""` absent) and whether there
    /// was one.
    #[allow(clippy::too_many_arguments)]
    pub fn state(
        &mut self,
        anonymous_id: String,
        user_id: String,
        session_id: f64,
        session_last_activity_ms: f64,
        next_seq: f64,
        consent: u8,
        in_flight_key: String,
        in_flight_seqs: &[f64],
        drops: &[f64],
        app_version: String,
        app_build: String,
        opened: bool,
    ) {
        let s = self.journal.state_mut();
        s.app_version = text(app_version);
        s.app_build = text(app_build);
        s.opened = opened;
        s.anonymous_id = text(anonymous_id);
        s.user_id = text(user_id);
        if !session_id.is_nan() && !session_last_activity_ms.is_nan() {
            s.session_id = Some(session_id as i64);
            s.session_last_activity_ms = Some(session_last_activity_ms as i64);
        }
        s.next_seq = next_seq as u64;
        s.consent = (consent <= 2).then(|| consent_from(consent));
        let mut report = DropCounts::default();
        for (i, n) in drops.iter().enumerate() {
            let n_reasons = DropReason::ALL.len();
            let (Some(reason), true) = (DropReason::ALL.get(i % n_reasons), *n > 0.0) else {
                continue;
            };
            if i < n_reasons {
                report.set(*reason, *n as u64);
            } else {
                s.unreported.set(*reason, *n as u64);
            }
        }
        s.in_flight = (!in_flight_key.is_empty()).then(|| InFlightBatch {
            key: in_flight_key,
            seqs: in_flight_seqs.iter().map(|s| *s as u64).collect(),
            report,
        });
    }
}

/// The SDK engine for one queue partition (one tab's queue).
pub struct Core {
    engine: Engine<Journal>,
    /// Text result (UTF-8) of the last call that has one (see the crate docs).
    out: Vec<u8>,
    /// The upload handed out by the last `next_task`, until its body is taken.
    upload: Option<UploadRequest>,
}

impl Core {
    /// Starts the engine over what `loader` read. `options` are sdk-core's
    /// numeric `SdkConfig` fields in this order, `NaN` keeping the default
    /// (`CORE_OPTIONS` in `js/tributary.js` lists the same, in camelCase):
    /// `max_queue_events`, `max_queue_bytes`, `max_event_bytes`,
    /// `max_batch_events`, `max_batch_bytes`, `flush_at_events`,
    /// `flush_interval_ms`, `max_event_age_ms`, `backoff_base_ms`,
    /// `backoff_cap_ms`, `session_timeout_ms`, `sample_rate`, then consent
    /// (0 granted, 1 pending, 2 denied), compress (0 off), and the
    /// auto-capture switches lifecycle, screens, errors, attribution (0
    /// off) and remote settings (0: never fetched). Throws
    /// `"invalid_config: …"` naming the field that is wrong.
    pub fn new(
        write_key: String,
        endpoint: String,
        version: String,
        options: &[f64],
        loader: Loader,
        seed: f64,
        now_ms: f64,
    ) -> Result<Core, String> {
        let cfg = web_config(write_key, endpoint, version, options);
        let engine = Engine::new(cfg, loader.journal, seed as u64, now_ms as i64)
            .map_err(|e| String::from("invalid_config: ") + &e)?;
        Ok(Core {
            engine,
            out: Vec::new(),
            upload: None,
        })
    }

    /// The text result of the last call that produced one, as UTF-8.
    pub fn out(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Records an event. `kind`: 0 track (`name` = event), 1 identify
    /// (`name` = user id), 2 page, 3 screen, 4 group (`name` = group id),
    /// 5 alias (`name` = new user id), 6 dropped by a page plugin (only
    /// counted), 7 a page view the SDK saw itself (a route change; nothing
    /// when screens are not captured), 8 foregrounded, 9 backgrounded (the
    /// last two are lifecycle events, nothing when lifecycle capture is
    /// off; 7–9 only in the build with `auto-capture`). `json` is the properties or traits:
    /// `JSON.stringify` of a plain object, or `""` for none. Returns
    /// [`QUEUED`], a drop reason's position in `DropReason::ALL` + 1, or
    /// [`INVALID`] with the message in `out`.
    pub fn record(&mut self, kind: u8, name: &str, json: String, now_ms: f64) -> u32 {
        let now = now_ms as i64;
        let props = if json.is_empty() {
            JsonObject::empty()
        } else {
            JsonObject::from_serialized(json)
        };
        let e = &mut self.engine;
        let result = match kind {
            0 => e.track(name, props, now),
            1 => e.identify(name, props, now),
            2 => e.page(name, props, now),
            3 => e.screen(name, props, now),
            4 => e.group(name, props, now),
            5 => e.alias(name, now),
            #[cfg(feature = "auto-capture")]
            7 => e.auto_view(true, name, props, now),
            #[cfg(feature = "auto-capture")]
            8 => e.app_foregrounded(now),
            #[cfg(feature = "auto-capture")]
            9 => e.app_backgrounded(now),
            // A plugin of the page dropped the event before it got here.
            6 => {
                e.count_drop_by_plugin();
                Err(EnqueueError::Dropped(DropReason::DroppedByPlugin))
            }
            _ => Err(EnqueueError::Invalid("unknown record kind".into())),
        };
        self.answer(result)
    }

    /// The page loaded: `Application Installed` or `Updated` as the last
    /// open's version says, then `Application Opened` (cold when this load
    /// began a session, warm on a reload); the URL's campaign goes on the
    /// next event. `""` for what is unknown. Returns as [`Core::record`].
    #[cfg(feature = "auto-capture")]
    pub fn app_opened(
        &mut self,
        version: String,
        build: String,
        url: String,
        referrer: String,
        now_ms: f64,
    ) -> u32 {
        let o = Opened {
            version: text(version),
            build: text(build),
            url: text(url),
            referrer: text(referrer),
        };
        let r = self.engine.app_opened(&o, now_ms as i64);
        self.answer(r)
    }

    /// An error escaped the page (`error`, `unhandledrejection`): its
    /// class, message, stack and where it came from, recorded as
    /// `Application Crashed` with `fatal: false` (nothing when errors are
    /// not captured). Returns as [`Core::record`].
    #[cfg(feature = "auto-capture")]
    pub fn crash(
        &mut self,
        kind: String,
        message: String,
        stack: String,
        source: String,
        now_ms: f64,
    ) -> u32 {
        let c = Crash {
            kind,
            message,
            stack,
            fatal: false,
            source,
        };
        let r = self.engine.record_crash(&c, now_ms as i64);
        self.answer(r)
    }

    fn answer(&mut self, result: Result<(), EnqueueError>) -> u32 {
        match result {
            Ok(()) => QUEUED,
            Err(EnqueueError::Dropped(r)) => DropReason::ALL
                .iter()
                .position(|x| *x == r)
                .map_or(INVALID, |i| i as u32 + 1),
            Err(EnqueueError::Invalid(m)) => {
                self.out = m.into_bytes();
                INVALID
            }
            Err(EnqueueError::Storage(s)) => {
                self.out = s.0.into_bytes();
                INVALID
            }
        }
    }

    /// Forgets the user: new anonymous id and session.
    pub fn reset(&mut self, now_ms: f64) {
        self.engine.reset(now_ms as i64);
    }

    /// Sets consent: 0 granted, 1 pending, 2 denied.
    pub fn set_consent(&mut self, code: u8) {
        self.engine.set_consent(consent_from(code));
    }

    /// Replaces the context sent with every batch (page, user agent,
    /// locale, screen, library): `JSON.stringify` of a plain object.
    pub fn set_context(&mut self, context: String) {
        self.engine
            .set_context_object(JsonObject::from_serialized(context));
    }

    /// Network hint (`online`/`offline` events).
    pub fn set_online(&mut self, online: bool) {
        self.engine.set_online(online);
    }

    /// Sends everything queued as soon as the retry policy allows.
    pub fn flush(&mut self) {
        self.engine.flush();
    }

    /// What to do next: `-1` nothing until something changes, `-2` send
    /// an upload (details in `out` as `{"id","url","headers","compress",
    /// "method"}`, body from [`Core::upload_body`]; a `GET` is a fetch of
    /// the server's settings, answered with `Core::on_settings`),
    /// otherwise wait that many ms.
    pub fn next_task(&mut self, now_ms: f64) -> f64 {
        match self.engine.next_task(now_ms as i64) {
            UploadTask::Upload(req) => {
                let mut o = b"{\"id\":".to_vec();
                write_int(&mut o, req.id as i64);
                o.extend_from_slice(b",\"url\":");
                write_str(&mut o, &req.url);
                o.extend_from_slice(b",\"events\":");
                write_int(&mut o, req.event_count as i64);
                o.extend_from_slice(b",\"compress\":");
                o.extend_from_slice(if req.compress { b"true" } else { b"false" });
                o.extend_from_slice(b",\"method\":");
                write_str(&mut o, req.kind.method());
                o.extend_from_slice(b",\"headers\":{");
                for (i, (k, v)) in req.headers.iter().enumerate() {
                    if i > 0 {
                        o.push(b',');
                    }
                    write_str(&mut o, k);
                    o.push(b':');
                    write_str(&mut o, v);
                }
                o.extend_from_slice(b"}}");
                self.out = o;
                self.upload = Some(req);
                -2.0
            }
            UploadTask::Wait(d) => d.as_millis() as f64,
            UploadTask::Done => -1.0,
        }
    }

    /// The body of the upload last handed out (once).
    pub fn upload_body(&mut self) -> Vec<u8> {
        self.upload.take().map(|u| u.body).unwrap_or_default()
    }

    /// Reports an HTTP response to request `id`: its status, the
    /// `Retry-After` header (or `""`), and for a 2xx answer the rejected
    /// events read from the body, as pairs `[index, retryable (0/1), …]`,
    /// and the `settingsVersion` it names (or `""`).
    pub fn on_response(
        &mut self,
        id: f64,
        status: u16,
        retry_after: String,
        rejected: &[f64],
        settings_version: String,
        now_ms: f64,
    ) {
        let result = if (200..300).contains(&status) {
            UploadResult::Accepted {
                rejected: rejected
                    .chunks_exact(2)
                    .map(|p| (p[0] as usize, p[1] != 0.0))
                    .collect(),
                settings_version: text(settings_version),
            }
        } else {
            UploadResult::Http {
                status,
                retry_after: (!retry_after.is_empty()).then_some(retry_after),
                body: Vec::new(),
            }
        };
        self.engine.on_response(id as u64, result, now_ms as i64);
    }

    /// Reports the answer to settings request `id`, or with `id` `-1`
    /// settings the page kept from an earlier fetch. `status` 200 carries
    /// the settings read from the body (`GET /v1/settings`): version, the
    /// kill switch (`enabled`), disabled event names, sampled names with
    /// their rates, and `nums` — `flushAtEvents`, `flushIntervalMs`,
    /// `maxBatchEvents`, `ttlSecs`, then the auto-capture switches
    /// lifecycle, screens, errors, attribution (`NaN` absent, switches
    /// 0/1; anything after them is ignored). 304 confirms the settings in
    /// force; 0 is no answer at all; anything else is a failed fetch,
    /// retried later. `at_ms`: when they were fetched.
    #[cfg(feature = "remote-settings")]
    #[allow(clippy::too_many_arguments)]
    pub fn on_settings(
        &mut self,
        id: f64,
        status: u16,
        version: String,
        enabled: bool,
        disabled_events: Vec<String>,
        sample_rates: Vec<(String, f64)>,
        nums: &[f64],
        at_ms: f64,
    ) {
        let at = at_ms as i64;
        let n = |i: usize| nums.get(i).copied().unwrap_or(f64::NAN);
        let settings = RemoteSettings {
            version,
            enabled,
            disabled_events,
            sample_rates,
            flush_at_events: count(n(0)).map(|v| v as u32),
            flush_interval_ms: count(n(1)),
            max_batch_events: count(n(2)).map(|v| v as u32),
            auto_capture: AutoCapture {
                lifecycle: switch(n(4)),
                screens: switch(n(5)),
                errors: switch(n(6)),
                attribution: switch(n(7)),
            },
            ttl_secs: count(n(3)).unwrap_or(0),
        };
        if id < 0.0 {
            self.engine.apply_settings(settings, at);
            return;
        }
        let result = match status {
            200 => UploadResult::Settings(Some(settings)),
            304 => UploadResult::Settings(None),
            0 => UploadResult::Network(String::new()),
            _ => UploadResult::Http {
                status,
                retry_after: None,
                body: Vec::new(),
            },
        };
        self.engine.on_response(id as u64, result, at);
    }

    /// Reports that request `id` got no response: a `timeout`, or a
    /// network failure.
    pub fn on_failure(&mut self, id: f64, timeout: bool, now_ms: f64) {
        let result = if timeout {
            UploadResult::Timeout
        } else {
            UploadResult::Network(String::new())
        };
        self.engine.on_response(id as u64, result, now_ms as i64);
    }

    /// Packs the waiting events into beacon payloads of at most `max_bytes`
    /// and returns how many; they are in `out` as
    /// `[{"key":"…","seqs":[…],"body":"…"}]`, the body carrying the write
    /// key. None while uploads are failing or without consent (the engine
    /// decides: `Engine::beacon_batches`).
    pub fn beacons(&mut self, max_bytes: u32, now_ms: f64) -> u32 {
        let list = self
            .engine
            .beacon_batches(max_bytes as usize, now_ms as i64);
        let mut out = vec![b'['];
        for (i, b) in list.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"key\":");
            write_str(&mut out, &b.idempotency_key);
            out.extend_from_slice(b",\"seqs\":[");
            for (j, seq) in b.seqs.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                write_int(&mut out, *seq as i64);
            }
            out.extend_from_slice(b"],\"body\":");
            write_utf8(&mut out, &b.body);
            out.push(b'}');
        }
        out.push(b']');
        self.out = out;
        list.len() as u32
    }

    /// The browser's store is out of quota: evicts the oldest waiting
    /// events to free at least `bytes` (counted as `queue_full` and
    /// reported to the gateway). Returns how many were evicted.
    pub fn evict(&mut self, bytes: u32) -> u32 {
        self.engine.evict(bytes as usize) as u32
    }

    /// Confirms that the browser accepted a beacon carrying `seqs`.
    pub fn beacon_sent(&mut self, seqs: &[f64]) {
        let seqs: Vec<u64> = seqs.iter().map(|s| *s as u64).collect();
        self.engine.beacon_sent(&seqs);
    }

    /// Whether store changes are pending; if so they are in `out` (see
    /// [`journal`]).
    pub fn take_changes(&mut self) -> bool {
        let j = self.engine.storage_mut();
        if !j.is_dirty() {
            return false;
        }
        self.out = j.take_changes();
        true
    }

    /// Leaves the debug log's new lines in `out`, one per line.
    #[cfg(feature = "debug-log")]
    pub fn debug_log(&mut self) {
        self.out = self.engine.take_debug_log().join("\n").into_bytes();
    }

    /// Leaves counters, queue size and identity in `out` as JSON:
    /// `dropped` (by reason), `enqueued`, `delivered`, `droppedTotal`,
    /// `requests`, `queued`, `queuedBytes`, `anonymousId`,
    /// `userId`, `settingsVersion` (with `remote-settings`), `idle`.
    pub fn stats(&mut self) {
        let s = self.engine.stats();
        let mut out = b"{\"dropped\":".to_vec();
        s.dropped.write_json(&mut out);
        for (name, v) in [
            ("enqueued", s.enqueued),
            ("delivered", s.delivered),
            ("droppedTotal", s.dropped_total()),
            ("requests", s.requests),
            ("queued", s.queued as u64),
            ("queuedBytes", s.queued_bytes as u64),
        ] {
            out.push(b',');
            write_str(&mut out, name);
            out.push(b':');
            write_int(&mut out, v as i64);
        }
        out.extend_from_slice(b",\"anonymousId\":");
        write_str(&mut out, self.engine.anonymous_id());
        out.extend_from_slice(b",\"userId\":");
        match self.engine.user_id() {
            Some(u) => write_str(&mut out, u),
            None => out.extend_from_slice(b"null"),
        }
        #[cfg(feature = "remote-settings")]
        {
            out.extend_from_slice(b",\"settingsVersion\":");
            match s.settings_version {
                Some(v) => write_str(&mut out, &v),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b",\"idle\":");
        out.extend_from_slice(if self.engine.is_idle() {
            b"true"
        } else {
            b"false"
        });
        out.push(b'}');
        self.out = out;
    }
}
