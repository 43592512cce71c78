//! The client object apps hold: one per app process, shared by all threads.

use crate::transport::{ForeignTransport, HttpSender};
use crate::types::{
    Consent, DeviceContext, FlushReport, Lifecycle, Stats, TributaryConfig, TributaryError,
};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tributary_sdk_core::native::{HttpTransport, NativeClient};

/// Time a `Terminate` lifecycle event may spend sending.
const TERMINATE_FLUSH: Duration = Duration::from_secs(2);

/// The Tributary SDK. Recording calls return immediately; uploads happen
/// on a background thread; events persist in `storage_dir` until delivered.
#[derive(uniffi::Object)]
pub struct Tributary {
    client: Mutex<Option<NativeClient>>,
}

fn properties(json: Option<String>) -> Result<Map<String, Value>, TributaryError> {
    let Some(json) = json.filter(|j| !j.trim().is_empty()) else {
        return Ok(Map::new());
    };
    match serde_json::from_str::<Value>(&json) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(TributaryError::InvalidProperties {
            reason: "must be a JSON object".into(),
        }),
        Err(e) => Err(TributaryError::InvalidProperties {
            reason: format!("not valid JSON: {e}"),
        }),
    }
}

fn non_empty(what: &str, v: &str) -> Result<(), TributaryError> {
    if v.is_empty() {
        return Err(TributaryError::InvalidArgument {
            reason: format!("{what} must not be empty"),
        });
    }
    Ok(())
}

impl Tributary {
    fn start(
        config: TributaryConfig,
        transport: Box<dyn HttpTransport>,
    ) -> Result<Arc<Tributary>, TributaryError> {
        if config.storage_dir.is_empty() {
            return Err(TributaryError::InvalidConfig {
                reason: "storage_dir is required".into(),
            });
        }
        let core = config.to_core();
        core.validate()
            .map_err(|reason| TributaryError::InvalidConfig { reason })?;
        let client = NativeClient::start_with(core, &config.storage_dir, transport)
            .map_err(|reason| TributaryError::InvalidConfig { reason })?;
        Ok(Arc::new(Tributary {
            client: Mutex::new(Some(client)),
        }))
    }

    fn with<T>(&self, f: impl FnOnce(&NativeClient) -> T) -> Result<T, TributaryError> {
        let guard: MutexGuard<'_, Option<NativeClient>> = match self.client.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        guard.as_ref().map(f).ok_or(TributaryError::Closed)
    }
}

#[uniffi::export]
impl Tributary {
    /// Starts the SDK. `transport` performs the uploads with the
    /// platform's HTTP stack; the idiomatic layers pass a default one
    /// (`HttpURLConnection` on Kotlin, `URLSession` on Swift) unless the app
    /// gives its own.
    #[uniffi::constructor]
    pub fn new(
        config: TributaryConfig,
        transport: Arc<dyn HttpSender>,
    ) -> Result<Arc<Tributary>, TributaryError> {
        Tributary::start(config, Box::new(ForeignTransport(transport)))
    }

    /// Records a named action. `properties_json` is a JSON object or null.
    pub fn track(
        &self,
        event: String,
        properties_json: Option<String>,
    ) -> Result<(), TributaryError> {
        non_empty("event", &event)?;
        let p = properties(properties_json)?;
        self.with(|c| c.track(&event, p))
    }

    /// Ties this device to a user, with traits.
    pub fn identify(
        &self,
        user_id: String,
        traits_json: Option<String>,
    ) -> Result<(), TributaryError> {
        non_empty("user id", &user_id)?;
        let t = properties(traits_json)?;
        self.with(|c| c.identify(&user_id, t))
    }

    /// Records a screen view.
    pub fn screen(
        &self,
        name: String,
        properties_json: Option<String>,
    ) -> Result<(), TributaryError> {
        non_empty("screen name", &name)?;
        let p = properties(properties_json)?;
        self.with(|c| c.screen(&name, p))
    }

    /// Ties the user to a group.
    pub fn group(
        &self,
        group_id: String,
        traits_json: Option<String>,
    ) -> Result<(), TributaryError> {
        non_empty("group id", &group_id)?;
        let t = properties(traits_json)?;
        self.with(|c| c.group(&group_id, t))
    }

    /// Merges the current identity into `new_user_id`.
    pub fn alias(&self, new_user_id: String) -> Result<(), TributaryError> {
        non_empty("user id", &new_user_id)?;
        self.with(|c| c.alias(&new_user_id))
    }

    /// Forgets the user (logout).
    pub fn reset(&self) -> Result<(), TributaryError> {
        self.with(NativeClient::reset)
    }

    /// Sends what is queued, waiting at most `deadline_ms`.
    pub fn flush(&self, deadline_ms: u64) -> Result<FlushReport, TributaryError> {
        self.with(|c| c.flush(Duration::from_millis(deadline_ms)).into())
    }

    /// Sets consent; `Denied` purges the queue.
    pub fn set_consent(&self, consent: Consent) -> Result<(), TributaryError> {
        self.with(|c| c.set_consent(consent.into()))
    }

    /// Network hint: offline pauses uploads; online resumes them at once.
    pub fn set_online(&self, online: bool) -> Result<(), TributaryError> {
        self.with(|c| c.set_online(online))
    }

    /// Replaces the device context sent with each batch.
    pub fn set_context(&self, context: DeviceContext) -> Result<(), TributaryError> {
        self.with(|c| c.set_context(context.into()))
    }

    /// Reports an app lifecycle transition (recorded as `Application
    /// Foregrounded` / `Backgrounded` when lifecycle capture is on).
    pub fn lifecycle(&self, event: Lifecycle) -> Result<(), TributaryError> {
        self.with(|c| match event {
            Lifecycle::Foreground => c.app_foregrounded(),
            Lifecycle::Background => c.app_backgrounded(),
            Lifecycle::Terminate => {
                let _ = c.flush(TERMINATE_FLUSH);
            }
        })
    }

    /// The app started (once per process): `Application Installed` or
    /// `Updated` when that is what happened, then `Application Opened`.
    /// `url` is a deep link it was opened with, if any (its UTM
    /// parameters become the campaign of the next event).
    pub fn app_opened(
        &self,
        version: Option<String>,
        build: Option<String>,
        url: Option<String>,
    ) -> Result<(), TributaryError> {
        self.with(|c| {
            c.app_opened(tributary_sdk_core::Opened {
                version,
                build,
                url,
                referrer: None,
            })
        })
    }

    /// A screen the platform layer saw (an activity, a view controller);
    /// recorded when screen capture is on.
    pub fn screen_viewed(
        &self,
        name: String,
        properties_json: Option<String>,
    ) -> Result<(), TributaryError> {
        non_empty("screen name", &name)?;
        let p = properties(properties_json)?;
        self.with(|c| c.auto_view(false, &name, p))
    }

    /// A deep link opened while the app runs.
    pub fn opened_url(&self, url: String) -> Result<(), TributaryError> {
        self.with(|c| c.opened_url(&url))
    }

    /// Records a crash from the thread that is dying: written durably
    /// before this returns, delivered by the next start. Call from an
    /// uncaught-exception handler, then hand on to the previous handler.
    pub fn record_crash(
        &self,
        kind: String,
        message: String,
        stack: String,
        source: String,
    ) -> Result<(), TributaryError> {
        let crash = tributary_sdk_core::Crash {
            kind,
            message,
            stack,
            fatal: true,
            source,
        };
        self.with(|c| c.record_crash(&crash))?
            .map_err(|reason| TributaryError::Storage { reason })
    }

    /// Adds a before-send plugin: it sees each event's JSON as recorded and
    /// returns it (changed or not), or null to drop it.
    pub fn add_plugin(&self, plugin: Arc<dyn BeforeSendPlugin>) -> Result<(), TributaryError> {
        self.with(|c| c.add_plugin(Box::new(ForeignPlugin(plugin))))
    }

    /// Where the debug lines go (with `debug` in the config): the
    /// platform's console. Called on the SDK's worker thread.
    pub fn set_debug_logger(&self, logger: Arc<dyn DebugLogger>) -> Result<(), TributaryError> {
        self.with(|c| c.set_debug_sink(Box::new(move |line: &str| logger.log(line.to_owned()))))
    }

    /// Counters and queue size.
    pub fn stats(&self) -> Result<Stats, TributaryError> {
        self.with(|c| c.stats().into())
    }

    /// Flushes for at most `deadline_ms`, then stops. Undelivered events
    /// stay on disk for the next start. Later calls fail with `Closed`.
    pub fn shutdown(&self, deadline_ms: u64) -> Result<FlushReport, TributaryError> {
        let client = match self.client.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        let client = client.ok_or(TributaryError::Closed)?;
        Ok(client.shutdown(Duration::from_millis(deadline_ms)).into())
    }
}

/// A before-send hook written in Kotlin or Swift.
#[uniffi::export(foreign)]
pub trait BeforeSendPlugin: Send + Sync {
    /// The event to keep (its JSON object text), or null to drop it.
    fn process(&self, event_json: String) -> Option<String>;
}

/// The platform's console for the debug log, written in Kotlin or Swift.
#[uniffi::export(foreign)]
pub trait DebugLogger: Send + Sync {
    /// One line of the debug log.
    fn log(&self, line: String);
}

struct ForeignPlugin(Arc<dyn BeforeSendPlugin>);

impl tributary_sdk_core::BeforeSend for ForeignPlugin {
    fn process(&mut self, event: &str) -> Option<String> {
        self.0.process(event.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path) -> TributaryConfig {
        TributaryConfig {
            write_key: "wk".into(),
            endpoint: "http://127.0.0.1:9".into(),
            storage_dir: dir.to_string_lossy().into_owned(),
            flush_at_events: 20,
            flush_interval_ms: 30_000,
            max_queue_events: 100,
            max_queue_bytes: 1 << 20,
            max_batch_events: 100,
            session_timeout_ms: 1_800_000,
            sample_rate: 1.0,
            initial_consent: None,
            auto_lifecycle: true,
            auto_screens: true,
            auto_errors: true,
            auto_attribution: true,
            remote_settings: false,
            debug: false,
        }
    }

    struct Down;
    impl HttpSender for Down {
        fn send(&self, _: crate::HttpRequest) -> crate::HttpOutcome {
            crate::HttpOutcome::NetworkError {
                reason: "down".into(),
            }
        }
    }

    #[test]
    fn errors_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let mut bad = config(dir.path());
        bad.write_key = String::new();
        assert!(matches!(
            Tributary::new(bad, Arc::new(Down)),
            Err(TributaryError::InvalidConfig { .. })
        ));
        let t = Tributary::new(config(dir.path()), Arc::new(Down)).unwrap();
        assert!(matches!(
            t.track("e".into(), Some("[1]".into())),
            Err(TributaryError::InvalidProperties { .. })
        ));
        assert!(matches!(
            t.track(String::new(), None),
            Err(TributaryError::InvalidArgument { .. })
        ));
        t.track("e".into(), Some(r#"{"a":1}"#.into())).unwrap();
        t.shutdown(100).unwrap();
        assert_eq!(t.track("e".into(), None), Err(TributaryError::Closed));
    }
}
