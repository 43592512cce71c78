//! Server-driven settings on the device: which are in force, when to fetch
//! them again, and what they decide for each event.
//!
//! The engine asks for `GET /v1/settings` as an upload task of its own
//! ([`crate::upload::RequestKind::Settings`]) when it has none, when they
//! are older than their `ttlSecs`, or as soon as an ingest answer names
//! another `settingsVersion` — so a change reaches a device on its next
//! upload, without polling. What arrives is held to the bounds of
//! `tributary_contract::settings` (a device never trusts a server to set
//! a flush interval of zero), persisted with the engine's state, and
//! applied at once. Events the settings turn away are counted
//! (`disabled_by_server`, `sampled_out`) and reported like every drop.

use crate::ids::Rng;
use crate::storage::PersistedState;
use crate::upload::UploadResult;
use tributary_contract::DropReason;
pub use tributary_contract::settings::AutoCapture;
use tributary_contract::settings::RemoteSettings;
#[cfg(feature = "remote-settings")]
use tributary_contract::settings::{self as bounds};

/// The first retry after a failed fetch, ms; it doubles up to the TTL.
#[cfg(feature = "remote-settings")]
const RETRY_BASE_MS: i64 = 30_000;

/// The settings in force and the fetch schedule.
#[cfg(feature = "remote-settings")]
#[derive(Debug, Clone, Default)]
pub struct ServerSettings {
    /// The last settings received (persisted).
    pub current: Option<RemoteSettings>,
    /// When they were fetched or confirmed (304), ms (persisted).
    pub fetched_ms: Option<i64>,
    /// An answer named another version: fetch before the next batch.
    pub stale: bool,
    request: Option<u64>,
    failures: u32,
    not_before_ms: i64,
}

#[cfg(feature = "remote-settings")]
impl ServerSettings {
    /// Settings loaded from the store.
    pub fn restored(state: &PersistedState) -> ServerSettings {
        ServerSettings {
            current: state.settings.clone(),
            fetched_ms: state.settings_fetched_ms,
            ..ServerSettings::default()
        }
    }

    /// Copies what must survive a restart into `state`.
    pub fn persist(&self, state: &mut PersistedState) {
        state.settings = self.current.clone();
        state.settings_fetched_ms = self.fetched_ms;
    }

    /// The outstanding fetch's request id.
    pub fn request(&self) -> Option<u64> {
        self.request
    }

    /// Records the fetch handed out (or answered, with `None`).
    pub fn set_request(&mut self, id: Option<u64>) {
        self.request = id;
    }

    /// Whether a fetch should go out now.
    pub fn due(&self, now_ms: i64) -> bool {
        if self.request.is_some() || now_ms < self.not_before_ms {
            return false;
        }
        let ttl_ms = self.current.as_ref().map_or(0, |s| {
            s.ttl_secs.clamp(bounds::TTL_SECS.0, bounds::TTL_SECS.1) * 1000
        });
        self.stale
            || match self.fetched_ms {
                None => true,
                Some(at) => now_ms.saturating_sub(at) >= ttl_ms as i64 || now_ms < at,
            }
    }

    /// The settings in force, if any.
    pub fn current(&self) -> Option<&RemoteSettings> {
        self.current.as_ref()
    }

    /// When they were fetched or confirmed, ms.
    pub fn fetched_ms(&self) -> Option<i64> {
        self.fetched_ms
    }

    /// The version in force, as sent back in `If-None-Match`.
    pub fn version(&self) -> Option<&str> {
        self.current.as_ref().map(|s| s.version.as_str())
    }

    /// An ingest answer named `version`.
    pub fn observe_version(&mut self, version: &str) {
        if self.version() != Some(version) {
            self.stale = true;
        }
    }

    /// Reads the `settingsVersion` an ingest answer names, if any.
    pub fn observe_answer(&mut self, result: &UploadResult) {
        let named = match result {
            UploadResult::Accepted {
                settings_version: Some(v),
                ..
            } => Some(v.clone()),
            #[cfg(feature = "read-responses")]
            UploadResult::Http {
                status: 200..=299,
                body,
                ..
            } => crate::json::settings_version(body),
            _ => None,
        };
        if let Some(v) = named {
            self.observe_version(&v);
        }
    }

    /// New settings arrived (or, with `None`, a 304 confirmed ours).
    pub fn received(&mut self, settings: Option<RemoteSettings>, now_ms: i64) {
        if let Some(s) = settings {
            self.current = Some(s);
        }
        self.fetched_ms = Some(now_ms);
        self.stale = false;
        self.failures = 0;
        self.not_before_ms = 0;
    }

    /// The fetch failed: try again later, backing off (jittered) up to the
    /// TTL; the settings in force stay.
    pub fn failed(&mut self, now_ms: i64, rng: &mut Rng) {
        self.failures = self.failures.saturating_add(1);
        let cap = bounds::TTL_SECS.1 as i64 * 1000;
        let delay = (RETRY_BASE_MS << self.failures.min(12).saturating_sub(1)).min(cap);
        let jitter = rng.below_or_eq((delay / 2) as u64) as i64;
        self.not_before_ms = now_ms.saturating_add(delay / 2 + jitter);
    }

    /// Whether the kill switch is on.
    pub fn killed(&self) -> bool {
        self.current.as_ref().is_some_and(|s| !s.enabled)
    }

    /// Why an event called `name` must not be recorded, if it must not.
    /// Health events are exempt from sampling (the health metrics need
    /// them whole) but not from the switches.
    pub fn verdict(&self, name: &str, health: bool, rng: &mut Rng) -> Option<DropReason> {
        let s = self.current.as_ref()?;
        if !s.enabled || s.disabled_events.iter().any(|e| e == name) {
            return Some(DropReason::DisabledByServer);
        }
        if health {
            return None;
        }
        let rate = s.sample_rates.iter().find(|(n, _)| n == name)?.1;
        (rng.unit() >= rate).then_some(DropReason::SampledOut)
    }

    /// `flush_at_events` as the server sets it, within bounds.
    pub fn flush_at(&self, own: usize) -> usize {
        self.current
            .as_ref()
            .and_then(|s| s.flush_at_events)
            .map_or(own, |n| {
                n.clamp(bounds::FLUSH_AT_EVENTS.0, bounds::FLUSH_AT_EVENTS.1) as usize
            })
    }

    /// The flush interval as the server sets it, within bounds.
    pub fn flush_interval_ms(&self, own: u64) -> u64 {
        self.current
            .as_ref()
            .and_then(|s| s.flush_interval_ms)
            .map_or(own, |n| {
                n.clamp(bounds::FLUSH_INTERVAL_MS.0, bounds::FLUSH_INTERVAL_MS.1)
            })
    }

    /// The batch cap: the server's, never above the device's own.
    pub fn max_batch(&self, own: usize) -> usize {
        self.current
            .as_ref()
            .and_then(|s| s.max_batch_events)
            .map_or(own, |n| {
                (n.clamp(bounds::MAX_BATCH_EVENTS.0, bounds::MAX_BATCH_EVENTS.1) as usize).min(own)
            })
    }

    /// The server's auto-capture switches (unset ones keep the app's).
    pub fn auto_capture(&self) -> AutoCapture {
        self.current
            .as_ref()
            .map(|s| s.auto_capture)
            .unwrap_or_default()
    }
}

/// Without the `remote-settings` feature: no settings, ever; every method
/// answers as if the server had never said anything, so the engine's uses
/// of it compile away.
#[cfg(not(feature = "remote-settings"))]
#[derive(Debug, Clone, Default)]
pub struct ServerSettings;

#[cfg(not(feature = "remote-settings"))]
#[allow(missing_docs, clippy::unused_self)]
impl ServerSettings {
    pub fn restored(_: &PersistedState) -> ServerSettings {
        ServerSettings
    }
    pub fn persist(&self, _: &mut PersistedState) {}
    pub fn request(&self) -> Option<u64> {
        None
    }
    pub fn set_request(&mut self, _: Option<u64>) {}
    pub fn due(&self, _: i64) -> bool {
        false
    }
    pub fn version(&self) -> Option<&str> {
        None
    }
    pub fn observe_version(&mut self, _: &str) {}
    pub fn observe_answer(&mut self, _: &UploadResult) {}
    pub fn current(&self) -> Option<&RemoteSettings> {
        None
    }
    pub fn received(&mut self, _: Option<RemoteSettings>, _: i64) {}
    pub fn failed(&mut self, _: i64, _: &mut Rng) {}
    pub fn killed(&self) -> bool {
        false
    }
    pub fn verdict(&self, _: &str, _: bool, _: &mut Rng) -> Option<DropReason> {
        None
    }
    pub fn flush_at(&self, own: usize) -> usize {
        own
    }
    pub fn flush_interval_ms(&self, own: u64) -> u64 {
        own
    }
    pub fn max_batch(&self, own: usize) -> usize {
        own
    }
    pub fn auto_capture(&self) -> AutoCapture {
        AutoCapture::default()
    }
    pub fn fetched_ms(&self) -> Option<i64> {
        None
    }
}

/// Reads a `GET /v1/settings` body.
#[cfg(feature = "read-responses")]
pub fn parse(body: &[u8]) -> Option<RemoteSettings> {
    serde_json::from_slice(body).ok()
}

#[cfg(all(test, feature = "remote-settings"))]
mod tests {
    use super::*;

    fn settings(f: impl FnOnce(&mut RemoteSettings)) -> RemoteSettings {
        let mut s = RemoteSettings {
            version: "v1".into(),
            enabled: true,
            disabled_events: vec![],
            sample_rates: Vec::new(),
            flush_at_events: None,
            flush_interval_ms: None,
            max_batch_events: None,
            auto_capture: AutoCapture::default(),
            ttl_secs: 300,
        };
        f(&mut s);
        s
    }

    #[test]
    fn fetches_first_then_at_ttl_or_on_a_new_version() {
        let mut s = ServerSettings::default();
        assert!(s.due(0));
        s.received(Some(settings(|_| {})), 1_000);
        assert!(!s.due(2_000));
        assert!(s.due(1_000 + 300_000));
        s.observe_version("v1");
        assert!(!s.due(2_000));
        s.observe_version("v2");
        assert!(s.due(2_000));
        s.set_request(Some(7));
        assert!(!s.due(2_000), "one fetch at a time");
        s.set_request(None);
        s.failed(2_000, &mut Rng::new(1));
        assert!(!s.due(2_001) && s.due(2_000 + RETRY_BASE_MS));
    }

    #[test]
    fn switches_sampling_and_bounds() {
        let mut s = ServerSettings::default();
        let mut rng = Rng::new(3);
        assert_eq!(s.verdict("A", false, &mut rng), None);
        s.received(
            Some(settings(|s| {
                s.disabled_events = vec!["A".into()];
                s.sample_rates.push(("B".into(), 0.25));
                s.flush_at_events = Some(0);
                s.max_batch_events = Some(500);
                s.flush_interval_ms = Some(10);
            })),
            0,
        );
        assert_eq!(
            s.verdict("A", false, &mut rng),
            Some(DropReason::DisabledByServer)
        );
        let kept = (0..10_000)
            .filter(|_| s.verdict("B", false, &mut rng).is_none())
            .count();
        assert!((2_200..2_800).contains(&kept), "{kept}");
        assert_eq!(
            s.verdict("B", true, &mut rng),
            None,
            "health events are not sampled"
        );
        assert_eq!(s.flush_at(20), 1);
        assert_eq!(s.max_batch(100), 100);
        assert_eq!(s.flush_interval_ms(30_000), 1_000);
        s.received(Some(settings(|s| s.enabled = false)), 0);
        assert!(s.killed());
        assert_eq!(
            s.verdict("C", true, &mut rng),
            Some(DropReason::DisabledByServer)
        );
    }
}
