//! `[sdk_settings]`: what the SDKs of each app are told by
//! `GET /v1/settings` — kill switches, sampling, batching, auto-capture.
//! The per-app part has the same shape inline (`[sdk_settings.apps.<app>]`)
//! and in the reloadable file (`[apps.<app>]`); [`AppSdkSettings::check`]
//! holds both to the bounds of `tributary_contract::settings`.

use serde::Deserialize;
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tributary_contract::settings::{AutoCapture, RemoteSettings};

/// `[sdk_settings]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SdkSettingsConfig {
    /// A TOML file of `[apps.<app>]` sections, read again on SIGHUP and
    /// when it changes (every `poll_secs`); its sections replace the inline
    /// ones of the same app. A file that fails to parse or check is
    /// reported and the settings in force are kept. Default: none.
    pub file: Option<PathBuf>,
    /// How often the file's modification time is checked, s. Default `5`.
    pub poll_secs: u64,
    /// Settings per app id; `"*"` applies to apps without a section of
    /// their own. Default: none (every SDK keeps its built-in behaviour).
    pub apps: BTreeMap<String, AppSdkSettings>,
}

impl Default for SdkSettingsConfig {
    fn default() -> Self {
        SdkSettingsConfig {
            file: None,
            poll_secs: 5,
            apps: BTreeMap::new(),
        }
    }
}

/// One app's SDK settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppSdkSettings {
    /// `false` is the kill switch: SDKs record and send nothing until it
    /// is `true` again. Default `true`.
    pub enabled: bool,
    /// Event names SDKs stop recording. Default none.
    pub disabled_events: Vec<String>,
    /// Share of each named event SDKs keep, 0–1, decided per event.
    /// Default none (all kept).
    pub sample_rates: BTreeMap<String, f64>,
    /// Overrides the SDK's flush threshold (1–1000 events). Default: the SDK's.
    pub flush_at_events: Option<u32>,
    /// Overrides the SDK's flush interval (1000–3600000 ms). Default: the SDK's.
    pub flush_interval_ms: Option<u64>,
    /// Caps the SDK's batch size (1–1000 events). Default: the SDK's.
    pub max_batch_events: Option<u32>,
    /// Turns automatic capture of lifecycle events on or off. Default: the SDK's.
    pub auto_lifecycle: Option<bool>,
    /// Turns automatic page and screen views on or off. Default: the SDK's.
    pub auto_screens: Option<bool>,
    /// Turns automatic crash and uncaught-error events on or off. Default: the SDK's.
    pub auto_errors: Option<bool>,
    /// Turns UTM and deep-link attribution on or off. Default: the SDK's.
    pub auto_attribution: Option<bool>,
    /// How long an SDK uses these settings before fetching them again
    /// (60–86400 s); it also fetches as soon as an upload's answer names
    /// another version. Default `300`.
    pub ttl_secs: u64,
}

impl Default for AppSdkSettings {
    fn default() -> Self {
        AppSdkSettings {
            enabled: true,
            disabled_events: Vec::new(),
            sample_rates: BTreeMap::new(),
            flush_at_events: None,
            flush_interval_ms: None,
            max_batch_events: None,
            auto_lifecycle: None,
            auto_screens: None,
            auto_errors: None,
            auto_attribution: None,
            ttl_secs: 300,
        }
    }
}

impl AppSdkSettings {
    /// The settings as served, their version a hash of their content, so
    /// every replica with the same configuration names the same version.
    pub fn to_remote(&self) -> RemoteSettings {
        let mut s = RemoteSettings {
            version: String::new(),
            enabled: self.enabled,
            disabled_events: self.disabled_events.clone(),
            sample_rates: self
                .sample_rates
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            flush_at_events: self.flush_at_events,
            flush_interval_ms: self.flush_interval_ms,
            max_batch_events: self.max_batch_events,
            auto_capture: AutoCapture {
                lifecycle: self.auto_lifecycle,
                screens: self.auto_screens,
                errors: self.auto_errors,
                attribution: self.auto_attribution,
            },
            ttl_secs: self.ttl_secs,
        };
        s.disabled_events.sort();
        s.disabled_events.dedup();
        let text = serde_json::to_vec(&s).unwrap_or_default();
        let digest = sha2::Sha256::digest(&text);
        s.version = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        s
    }

    /// Every problem with these settings, each prefixed with `at`.
    pub fn check(&self, at: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .to_remote()
            .problems()
            .into_iter()
            .map(|p| format!("{at}: {p}"))
            .collect();
        if self.disabled_events.iter().any(|e| e.is_empty()) {
            out.push(format!("{at}: disabled_events must not hold an empty name"));
        }
        out
    }
}
