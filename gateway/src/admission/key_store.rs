//! The write keys in force, reloadable without a restart.
//!
//! Keys come from the configuration's `[[keys]]` and, optionally, from
//! `auth.keys_file` (a TOML file of `[[keys]]` entries). The file is read
//! again on SIGHUP and whenever its modification time changes; a file that
//! fails to parse or validate is reported and the keys in force are kept.
//! Rotating a key is: add the new one, deploy clients, remove the old one.

use super::auth::WriteKeys;
use crate::config::{Config, RateLimitsConfig, WriteKeyConfig};
use crate::reload::mtime;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    keys: Vec<WriteKeyConfig>,
}

/// The current key set and where it comes from.
pub struct KeyStore {
    inline: Vec<WriteKeyConfig>,
    file: Option<PathBuf>,
    limits: RateLimitsConfig,
    current: RwLock<Arc<WriteKeys>>,
    seen_mtime: Mutex<Option<SystemTime>>,
}

fn read_file(path: &Path) -> Result<Vec<WriteKeyConfig>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read keys file {}: {e}", path.display()))?;
    let parsed: KeysFile =
        toml::from_str(&text).map_err(|e| format!("keys file {}: {e}", path.display()))?;
    Ok(parsed.keys)
}

impl KeyStore {
    /// Loads the keys of `config` (and its keys file); fails if the file
    /// cannot be read or any key is invalid.
    pub fn load(config: &Config) -> Result<KeyStore, String> {
        let store = KeyStore {
            inline: config.keys.clone(),
            file: config.auth.keys_file.clone(),
            limits: config.rate_limits.clone(),
            current: RwLock::new(Arc::new(WriteKeys::default())),
            seen_mtime: Mutex::new(None),
        };
        store.reload()?;
        Ok(store)
    }

    /// Starts the task that reloads the keys file on SIGHUP and when it
    /// changes (polled every `poll`); it ends when the store is dropped.
    pub fn spawn_reloader(self: &Arc<Self>, poll: std::time::Duration) {
        crate::reload::spawn_watch(Arc::downgrade(self), poll, |store, by_signal| {
            if by_signal {
                store.reload_logged("SIGHUP");
            } else {
                store.reload_if_changed();
            }
        });
    }

    /// The keys in force.
    pub fn current(&self) -> Arc<WriteKeys> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Re-reads the keys file; on error keeps the keys in force. Returns
    /// the number of keys now in force.
    pub fn reload(&self) -> Result<usize, String> {
        let mut all = self.inline.clone();
        if let Some(path) = &self.file {
            if let Ok(mut m) = self.seen_mtime.lock() {
                *m = mtime(path);
            }
            all.extend(read_file(path)?);
        }
        let mut check = Config::default();
        check.kafka.brokers = "validation-only".into();
        check.keys = all.clone();
        check
            .validate()
            .map_err(|e| format!("keys rejected, keeping the previous set: {e}"))?;
        let n = all.len();
        let keys = Arc::new(WriteKeys::new(&all, &self.limits));
        match self.current.write() {
            Ok(mut g) => *g = keys,
            Err(p) => *p.into_inner() = keys,
        }
        Ok(n)
    }

    /// Reloads if the keys file changed since it was last read.
    pub fn reload_if_changed(&self) {
        let Some(path) = &self.file else { return };
        let now = mtime(path);
        let changed = self.seen_mtime.lock().map(|m| *m != now).unwrap_or(false);
        if changed {
            self.reload_logged("file changed");
        }
    }

    /// Reloads and logs the outcome.
    pub fn reload_logged(&self, why: &str) {
        match self.reload() {
            Ok(n) => tracing::info!(keys = n, why, "write keys reloaded"),
            Err(e) => tracing::error!(why, "{e}"),
        }
    }

    /// Whether a keys file is configured.
    pub fn has_file(&self) -> bool {
        self.file.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_are_added_reloaded_and_bad_files_keep_the_old_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        std::fs::write(&path, "[[keys]]\nkey = \"k1\"\napp_id = \"a\"\n").unwrap();
        let mut c = Config::default();
        c.auth.keys_file = Some(path.clone());
        let store = KeyStore::load(&c).unwrap();
        assert!(store.current().lookup("k1").is_some());
        std::fs::write(&path, "[[keys]]\nkey = \"k2\"\napp_id = \"a\"\n").unwrap();
        store.reload().unwrap();
        assert!(
            store.current().lookup("k1").is_none(),
            "removed keys stop working"
        );
        assert!(store.current().lookup("k2").is_some());
        std::fs::write(&path, "[[keys]]\nkey = \"\"\napp_id = \"a\"\n").unwrap();
        assert!(store.reload().is_err());
        assert!(
            store.current().lookup("k2").is_some(),
            "a bad file keeps the keys in force"
        );
    }
}
