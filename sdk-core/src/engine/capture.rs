//! The engine's side of server settings, automatic capture and plugins:
//! the settings fetch as an upload task, and the facts platforms report
//! (opened, backgrounded, a route, a crash) turned into events.

use super::Engine;
use crate::autocapture::{self, AutoCaptureConfig, AutoKind, Crash, Opened};
use crate::json::JsonObject;
#[cfg(feature = "plugins")]
use crate::plugins::BeforeSend;
use crate::storage::{Priority, Storage};
use crate::upload::{RequestKind, UploadRequest, UploadResult};
use crate::{EnqueueError, event::EventDraft};
use tributary_contract::{EventType, RemoteSettings, health};

/// What a crash handler needs to write a crash event without the engine:
/// the identity and session at the time (see `native::crash_file`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashContext {
    /// Device id.
    pub anonymous_id: Option<String>,
    /// Known user.
    pub user_id: Option<String>,
    /// Current session.
    pub session_id: Option<i64>,
    /// App version of the last open.
    pub app_version: Option<String>,
    /// App build of the last open.
    pub app_build: Option<String>,
    /// Whether crashes are captured now.
    pub enabled: bool,
}

impl CrashContext {
    /// The `Application Crashed` event for `c` under this context.
    pub fn event(&self, c: &Crash, message_id: String, now_ms: i64) -> Vec<u8> {
        let mut e = EventDraft::new(
            EventType::Track,
            message_id,
            tributary_contract::time::format_millis(now_ms),
        );
        e.event = Some(health::CRASH.to_owned());
        e.anonymous_id = self.anonymous_id.clone();
        e.user_id = self.user_id.clone();
        e.session_id = self.session_id;
        e.properties = Some(autocapture::crash_properties(
            c,
            self.app_version.as_deref(),
            self.app_build.as_deref(),
        ));
        e.to_json()
    }
}

impl<S: Storage> Engine<S> {
    // ---- server settings ----

    pub(super) fn settings_request(&mut self) -> UploadRequest {
        let id = self.next_request;
        self.next_request += 1;
        self.settings.set_request(Some(id));
        self.stats.requests += 1;
        let mut headers = vec![("Authorization".to_owned(), self.auth_header.clone())];
        if let Some(v) = self.settings.version() {
            headers.push(("If-None-Match".to_owned(), String::from("\"") + v + "\""));
        }
        UploadRequest {
            id,
            kind: RequestKind::Settings,
            url: String::from(self.cfg.endpoint.trim_end_matches('/')) + "/v1/settings",
            headers,
            body: Vec::new(),
            compress: false,
            event_count: 0,
            idempotency_key: String::new(),
        }
    }

    pub(super) fn on_settings(&mut self, result: UploadResult, now_ms: i64) {
        self.settings.set_request(None);
        let got = match result {
            UploadResult::Settings(s) => Some(s),
            UploadResult::Http { status: 304, .. } => Some(None),
            #[cfg(feature = "read-responses")]
            UploadResult::Http {
                status: 200,
                ref body,
                ..
            } => crate::settings::parse(body).map(Some),
            _ => None,
        };
        match got {
            // A settings object outside the bounds is still applied: the
            // engine clamps every value it uses.
            Some(s) => {
                self.settings.received(s, now_ms);
                let v = self.settings.version().unwrap_or("none").to_owned();
                self.debug.note(|| format!("settings {v} in force"));
                if S::KEEPS_SETTINGS {
                    self.settings.persist(&mut self.state);
                }
                self.save_state();
            }
            None => {
                self.debug
                    .note(|| "settings fetch failed; the last ones stay in force".into());
                self.settings.failed(now_ms, &mut self.rng);
            }
        }
    }

    /// Applies settings the platform fetched itself or restored from its
    /// own store (the web SDK keeps them apart from the queue).
    pub fn apply_settings(&mut self, settings: RemoteSettings, fetched_ms: i64) {
        self.settings.received(Some(settings), fetched_ms);
        if S::KEEPS_SETTINGS {
            self.settings.persist(&mut self.state);
        }
        self.save_state();
    }

    /// The settings in force, if the server sent any.
    pub fn server_settings(&self) -> Option<&RemoteSettings> {
        self.settings.current()
    }

    // ---- plugins ----

    /// Adds a before-send plugin at the end of the chain.
    #[cfg(feature = "plugins")]
    pub fn add_plugin(&mut self, plugin: Box<dyn BeforeSend + Send>) {
        self.plugins.add(plugin);
    }

    /// Counts an event a platform-side plugin dropped before it reached
    /// the engine (the web SDK's plugins run in JavaScript).
    pub fn count_drop_by_plugin(&mut self) {
        self.count_drop(tributary_contract::DropReason::DroppedByPlugin, 1);
        self.save_state();
    }

    // ---- automatic capture ----

    /// The auto-capture switches in force: the app's, overridden by the
    /// server's; all off while the kill switch is on.
    pub fn auto_capture(&self) -> AutoCaptureConfig {
        self.cfg
            .auto_capture
            .with_server(self.settings.auto_capture())
    }

    /// Whether `kind` is captured now.
    pub fn auto_enabled(&self, kind: AutoKind) -> bool {
        let a = self.auto_capture();
        match kind {
            AutoKind::Lifecycle => a.lifecycle,
            AutoKind::Screens => a.screens,
            AutoKind::Errors => a.errors,
            AutoKind::Attribution => a.attribution,
        }
    }

    /// The app opened (a process start, or a page load): `Application
    /// Installed` on the first open on this device, `Application Updated`
    /// when the version or build differs from the last open, then
    /// `Application Opened` — cold when this start began a session, warm
    /// when it continues one (a page reload). Call once per start; the
    /// URL's campaign, if any, goes on the next event.
    pub fn app_opened(&mut self, o: &Opened, now_ms: i64) -> Result<(), EnqueueError> {
        #[cfg(feature = "auto-capture")]
        if self.auto_enabled(AutoKind::Attribution)
            && let Some(c) = o.url.as_deref().and_then(autocapture::campaign)
        {
            self.campaign = Some(c);
        }
        let previous = (self.state.app_version.clone(), self.state.app_build.clone());
        let first = !self.state.opened;
        self.state.opened = true;
        if o.version.is_some() {
            self.state.app_version = o.version.clone();
        }
        if o.build.is_some() {
            self.state.app_build = o.build.clone();
        }
        self.save_state();
        if !self.auto_enabled(AutoKind::Lifecycle) {
            return Ok(());
        }
        let version = |out: &mut Vec<u8>| {
            autocapture::write_fields(
                out,
                &[
                    ("version", o.version.as_deref()),
                    ("build", o.build.as_deref()),
                ],
            )
        };
        if first {
            let mut p = b"{".to_vec();
            version(&mut p);
            p.push(b'}');
            self.track_health(health::APP_INSTALLED, p, now_ms)?;
        } else if (o.version.is_some() && o.version != previous.0)
            || (o.build.is_some() && o.build != previous.1)
        {
            let mut p = b"{".to_vec();
            version(&mut p);
            autocapture::write_fields(
                &mut p,
                &[
                    ("previousVersion", previous.0.as_deref()),
                    ("previousBuild", previous.1.as_deref()),
                ],
            );
            p.push(b'}');
            self.track_health(health::APP_UPDATED, p, now_ms)?;
        }
        let mut p = b"{".to_vec();
        version(&mut p);
        autocapture::write_fields(
            &mut p,
            &[
                ("url", o.url.as_deref()),
                ("referrer", o.referrer.as_deref()),
            ],
        );
        p.extend_from_slice(if p.len() > 1 { b"," } else { b"" });
        p.extend_from_slice(if self.cold_start {
            b"\"coldStart\":true,\"fromBackground\":false}"
        } else {
            b"\"coldStart\":false,\"fromBackground\":false}"
        });
        self.track_health(health::APP_OPENED, p, now_ms)
    }

    /// The app came to the foreground.
    pub fn app_foregrounded(&mut self, now_ms: i64) -> Result<(), EnqueueError> {
        if !self.auto_enabled(AutoKind::Lifecycle) {
            return Ok(());
        }
        self.track_health(health::APP_FOREGROUNDED, b"{}".to_vec(), now_ms)
    }

    /// The app went to the background: recorded, and what is queued is
    /// sent now (the OS may end the process soon).
    pub fn app_backgrounded(&mut self, now_ms: i64) -> Result<(), EnqueueError> {
        self.flush();
        if !self.auto_enabled(AutoKind::Lifecycle) {
            return Ok(());
        }
        self.track_health(health::APP_BACKGROUNDED, b"{}".to_vec(), now_ms)
    }

    /// A screen or page the platform saw (an activity, a route change).
    /// Nothing when screens are not captured; `page` selects a page view.
    pub fn auto_view(
        &mut self,
        page: bool,
        name: &str,
        properties: JsonObject,
        now_ms: i64,
    ) -> Result<(), EnqueueError> {
        if !self.auto_enabled(AutoKind::Screens) {
            return Ok(());
        }
        if page {
            self.page(name, properties, now_ms)
        } else {
            self.screen(name, properties, now_ms)
        }
    }

    /// A deep link or landing URL outside an open: its campaign goes on
    /// the next event.
    #[cfg_attr(not(feature = "auto-capture"), allow(unused_variables))]
    pub fn opened_url(&mut self, url: &str) {
        #[cfg(feature = "auto-capture")]
        if self.auto_enabled(AutoKind::Attribution) {
            self.campaign = autocapture::campaign(url).or(self.campaign.take());
        }
    }

    /// An error escaped the app while it lives on (web `error`,
    /// `unhandledrejection`): `Application Crashed` with `fatal: false`
    /// (as given), recorded and made durable at once.
    pub fn record_crash(&mut self, c: &Crash, now_ms: i64) -> Result<(), EnqueueError> {
        if !self.auto_enabled(AutoKind::Errors) {
            return Ok(());
        }
        let p = autocapture::crash_properties(
            c,
            self.state.app_version.as_deref(),
            self.state.app_build.as_deref(),
        );
        self.track(health::CRASH, p, now_ms)?;
        let _ = self.storage.sync();
        Ok(())
    }

    /// The identity, session and version a crash handler writes into a
    /// crash event when the process is dying (`native::crash_file`).
    pub fn crash_context(&self) -> CrashContext {
        CrashContext {
            anonymous_id: self.state.anonymous_id.clone(),
            user_id: self.state.user_id.clone(),
            session_id: self.sessions.id,
            app_version: self.state.app_version.clone(),
            app_build: self.state.app_build.clone(),
            enabled: self.auto_enabled(AutoKind::Errors) && !self.settings.killed(),
        }
    }

    /// Queues a crash event written by a crash handler of an earlier
    /// process, as it was written (its session and time are those of the
    /// crash). The caller deletes the crash file once this returns.
    pub fn adopt_crash(&mut self, body: Vec<u8>, created_ms: i64) -> Result<(), EnqueueError> {
        if JsonObject::parse(std::str::from_utf8(&body).unwrap_or_default()).is_err() {
            self.count_drop(tributary_contract::DropReason::Corrupt, 1);
            return Err(EnqueueError::Dropped(
                tributary_contract::DropReason::Corrupt,
            ));
        }
        // High priority: a crash outlives the eviction of ordinary events.
        self.enqueue_body(body, Priority::High, created_ms)?;
        self.save_state();
        let _ = self.storage.sync();
        Ok(())
    }

    fn track_health(
        &mut self,
        name: &str,
        props: Vec<u8>,
        now_ms: i64,
    ) -> Result<(), EnqueueError> {
        self.track(name, JsonObject::written(props), now_ms)
    }
}
