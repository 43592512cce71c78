//! The SDK settings in force, per app: built from `[sdk_settings]` and its
//! reloadable file, served by `GET /v1/settings` and named (by version) on
//! every ingest answer. Each app's settings are serialised once per
//! reload, so serving them costs a map lookup.

use crate::config::{AppSdkSettings, SdkSettingsConfig};
use crate::reload::mtime;
use bytes::Bytes;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

/// The app id of the section that applies to apps without one.
pub const ANY_APP: &str = "*";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    #[serde(default)]
    apps: BTreeMap<String, AppSdkSettings>,
}

/// One app's settings as served.
#[derive(Debug, Clone)]
pub struct Served {
    /// The settings version (also the ETag, quoted).
    pub version: Arc<str>,
    /// The JSON body of `GET /v1/settings`.
    pub body: Bytes,
    /// `Cache-Control: max-age`, s.
    pub ttl_secs: u64,
}

impl Served {
    fn of(s: &AppSdkSettings) -> Served {
        let remote = s.to_remote();
        Served {
            version: remote.version.as_str().into(),
            body: Bytes::from(serde_json::to_vec(&remote).unwrap_or_default()),
            ttl_secs: remote.ttl_secs,
        }
    }
}

/// Where the settings come from, and those in force.
pub struct SdkSettings {
    inline: BTreeMap<String, AppSdkSettings>,
    file: Option<PathBuf>,
    seen: Mutex<Option<SystemTime>>,
    current: RwLock<Arc<HashMap<String, Served>>>,
    fallback: Served,
    poll: Duration,
}

impl SdkSettings {
    /// Loads the settings of `config`; fails if the file cannot be read or
    /// a setting is out of bounds.
    pub fn load(config: &SdkSettingsConfig) -> Result<SdkSettings, String> {
        let s = SdkSettings {
            inline: config.apps.clone(),
            file: config.file.clone(),
            seen: Mutex::new(None),
            current: RwLock::new(Arc::default()),
            fallback: Served::of(&AppSdkSettings::default()),
            poll: Duration::from_secs(config.poll_secs.max(1)),
        };
        s.reload()?;
        Ok(s)
    }

    /// The settings served to `app`: its own section, else `"*"`, else the
    /// defaults (everything on, the SDK's own batching).
    pub fn for_app(&self, app: &str) -> Served {
        let current = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        current
            .get(app)
            .or_else(|| current.get(ANY_APP))
            .unwrap_or(&self.fallback)
            .clone()
    }

    /// Reads the file again and installs the result; on error keeps the
    /// settings in force.
    pub fn reload(&self) -> Result<(), String> {
        let seen = self.file.as_deref().and_then(mtime);
        let mut sections = self.inline.clone();
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read SDK settings {}: {e}", path.display()))?;
            let file: SettingsFile = toml::from_str(&text)
                .map_err(|e| format!("SDK settings {}: {e}", path.display()))?;
            let problems: Vec<String> = file
                .apps
                .iter()
                .flat_map(|(app, s)| s.check(&format!("{} apps.{app}", path.display())))
                .collect();
            if !problems.is_empty() {
                return Err(problems.join("; "));
            }
            sections.extend(file.apps);
        }
        let served = sections
            .iter()
            .map(|(app, s)| (app.clone(), Served::of(s)))
            .collect();
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(served);
        *self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = seen;
        Ok(())
    }

    /// Starts the task that reloads on SIGHUP and when the file changes;
    /// it ends when the store is dropped. Nothing to watch without a file.
    pub fn spawn_reloader(self: &Arc<Self>) {
        if self.file.is_some() {
            crate::reload::spawn_reloader(self, self.poll);
        }
    }
}

impl crate::reload::Reloadable for SdkSettings {
    const WHAT: &'static str = "SDK settings";

    fn changed(&self) -> bool {
        let seen = *self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.file.as_deref().and_then(mtime) != seen
    }

    fn reload(&self) -> Result<(), String> {
        SdkSettings::reload(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_fall_back_to_star_then_defaults_and_versions_follow_content() {
        let mut cfg = SdkSettingsConfig::default();
        let off = AppSdkSettings {
            disabled_events: vec!["Spam".into()],
            ..AppSdkSettings::default()
        };
        cfg.apps.insert("shop".into(), off.clone());
        let s = SdkSettings::load(&cfg).unwrap();
        let shop = s.for_app("shop");
        let other = s.for_app("blog");
        assert_ne!(shop.version, other.version);
        assert_eq!(
            shop.version,
            Served::of(&off).version,
            "stable across loads"
        );
        let body: serde_json::Value = serde_json::from_slice(&shop.body).unwrap();
        assert_eq!(body["disabledEvents"], serde_json::json!(["Spam"]));
        assert_eq!(body["enabled"], true);
        cfg.apps.insert(ANY_APP.into(), off);
        let s = SdkSettings::load(&cfg).unwrap();
        assert_eq!(s.for_app("blog").version, shop.version);
    }

    #[test]
    fn a_bad_file_keeps_the_settings_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.toml");
        std::fs::write(&path, "[apps.shop]\ndisabled_events = [\"A\"]\n").unwrap();
        let cfg = SdkSettingsConfig {
            file: Some(path.clone()),
            ..SdkSettingsConfig::default()
        };
        let s = SdkSettings::load(&cfg).unwrap();
        let before = s.for_app("shop").version;
        std::fs::write(&path, "[apps.shop]\nflush_at_events = 0\n").unwrap();
        let e = s.reload().unwrap_err();
        assert!(
            e.contains("flush_at_events must be between 1 and 1000"),
            "{e}"
        );
        assert_eq!(s.for_app("shop").version, before);
    }
}
