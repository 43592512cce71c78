//! The records, enums and errors that cross the FFI boundary, and their
//! conversions to sdk-core's types.

use std::collections::HashMap;
use tributary_sdk_core::SdkConfig;
use tributary_sdk_core::engine::EngineStats;

/// How the SDK is set up. Defaults match sdk-core's.
#[derive(Debug, Clone, uniffi::Record)]
pub struct TributaryConfig {
    /// The app's write key.
    pub write_key: String,
    /// Gateway base URL, e.g. `https://events.example.com`.
    pub endpoint: String,
    /// Directory for the on-device queue (app-private storage).
    pub storage_dir: String,
    /// Send once this many events are queued.
    #[uniffi(default = 20)]
    pub flush_at_events: u32,
    /// Send once the oldest queued event is this old (ms).
    #[uniffi(default = 30000)]
    pub flush_interval_ms: u64,
    /// Most events kept on the device.
    #[uniffi(default = 10000)]
    pub max_queue_events: u32,
    /// Most bytes kept on the device.
    #[uniffi(default = 5242880)]
    pub max_queue_bytes: u64,
    /// Most events per request.
    #[uniffi(default = 100)]
    pub max_batch_events: u32,
    /// Inactivity that starts a new session (ms).
    #[uniffi(default = 1800000)]
    pub session_timeout_ms: u64,
    /// Share of devices sending non-health events (0.0–1.0).
    #[uniffi(default = 1.0)]
    pub sample_rate: f64,
    /// Consent at first start; afterwards the last value set is remembered.
    #[uniffi(default = None)]
    pub initial_consent: Option<Consent>,
    /// Capture installed/updated/opened/foregrounded/backgrounded.
    #[uniffi(default = true)]
    pub auto_lifecycle: bool,
    /// Capture screen views the platform layer reports (activities).
    #[uniffi(default = true)]
    pub auto_screens: bool,
    /// Capture crashes (uncaught exceptions).
    #[uniffi(default = true)]
    pub auto_errors: bool,
    /// Campaign (UTM) context from deep links.
    #[uniffi(default = true)]
    pub auto_attribution: bool,
    /// Fetch the gateway's settings for this write key.
    #[uniffi(default = true)]
    pub remote_settings: bool,
    /// Write a line per decision (queued, dropped and why, batch sent,
    /// answer) to the logger set with `set_debug_logger`.
    #[uniffi(default = false)]
    pub debug: bool,
}

impl TributaryConfig {
    pub(crate) fn to_core(&self) -> SdkConfig {
        SdkConfig {
            flush_at_events: self.flush_at_events as usize,
            flush_interval_ms: self.flush_interval_ms,
            max_queue_events: self.max_queue_events as usize,
            max_queue_bytes: self.max_queue_bytes as usize,
            max_batch_events: self.max_batch_events as usize,
            session_timeout_ms: self.session_timeout_ms,
            sample_rate: self.sample_rate,
            consent: self.initial_consent.unwrap_or(Consent::Granted).into(),
            library_name: "tributary-mobile".into(),
            auto_capture: tributary_sdk_core::AutoCaptureConfig {
                lifecycle: self.auto_lifecycle,
                screens: self.auto_screens,
                errors: self.auto_errors,
                attribution: self.auto_attribution,
            },
            remote_settings: self.remote_settings,
            debug: self.debug,
            ..SdkConfig::new(self.write_key.clone(), self.endpoint.clone())
        }
    }
}

/// Whether the user allows collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Consent {
    /// Collect and upload.
    Granted,
    /// Collect and keep on the device; upload nothing yet.
    Pending,
    /// Opted out: queued events are purged, new ones dropped.
    Denied,
}

impl From<Consent> for tributary_sdk_core::Consent {
    fn from(c: Consent) -> Self {
        match c {
            Consent::Granted => tributary_sdk_core::Consent::Granted,
            Consent::Pending => tributary_sdk_core::Consent::Pending,
            Consent::Denied => tributary_sdk_core::Consent::Denied,
        }
    }
}

/// App lifecycle transitions the platform layer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Lifecycle {
    /// The app came to the foreground.
    Foreground,
    /// The app went to the background: queued events are sent now.
    Background,
    /// The process is about to end: a short final flush.
    Terminate,
}

/// Device and app facts sent with every batch.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct DeviceContext {
    /// `iOS`, `Android`, …
    #[uniffi(default = None)]
    pub os_name: Option<String>,
    /// OS version.
    #[uniffi(default = None)]
    pub os_version: Option<String>,
    /// App version.
    #[uniffi(default = None)]
    pub app_version: Option<String>,
    /// App build.
    #[uniffi(default = None)]
    pub app_build: Option<String>,
    /// Device model.
    #[uniffi(default = None)]
    pub device_model: Option<String>,
    /// Device manufacturer.
    #[uniffi(default = None)]
    pub device_manufacturer: Option<String>,
    /// Locale, e.g. `en-GB`.
    #[uniffi(default = None)]
    pub locale: Option<String>,
    /// IANA time zone.
    #[uniffi(default = None)]
    pub timezone: Option<String>,
    /// `wifi`, `cellular`, …
    #[uniffi(default = None)]
    pub network: Option<String>,
    /// Screen width (points).
    #[uniffi(default = None)]
    pub screen_width: Option<u32>,
    /// Screen height (points).
    #[uniffi(default = None)]
    pub screen_height: Option<u32>,
    /// Screen scale.
    #[uniffi(default = None)]
    pub screen_density: Option<f64>,
}

impl From<DeviceContext> for tributary_sdk_core::Context {
    fn from(d: DeviceContext) -> Self {
        tributary_sdk_core::Context {
            os_name: d.os_name,
            os_version: d.os_version,
            app_version: d.app_version,
            app_build: d.app_build,
            device_model: d.device_model,
            device_manufacturer: d.device_manufacturer,
            locale: d.locale,
            timezone: d.timezone,
            network: d.network,
            screen_width: d.screen_width,
            screen_height: d.screen_height,
            screen_density: d.screen_density,
        }
    }
}

/// What a flush achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct FlushReport {
    /// Events the gateway took during the flush.
    pub delivered: u64,
    /// Events still queued at its end.
    pub remaining: u64,
    /// Events dropped during it.
    pub dropped: u64,
}

impl From<tributary_sdk_core::native::FlushReport> for FlushReport {
    fn from(r: tributary_sdk_core::native::FlushReport) -> Self {
        FlushReport {
            delivered: r.delivered,
            remaining: r.remaining,
            dropped: r.dropped,
        }
    }
}

/// Counters since start and the queue's size.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Stats {
    /// Events queued now.
    pub queued: u64,
    /// Bytes queued now.
    pub queued_bytes: u64,
    /// Events accepted into the queue since start.
    pub enqueued: u64,
    /// Events delivered since start.
    pub delivered: u64,
    /// Events dropped since start, by reason (`queue_full`, `too_old`, …).
    pub dropped: HashMap<String, u64>,
    /// The version of the gateway's settings in force, if any were fetched.
    pub settings_version: Option<String>,
}

impl From<EngineStats> for Stats {
    fn from(s: EngineStats) -> Self {
        Stats {
            queued: s.queued as u64,
            queued_bytes: s.queued_bytes as u64,
            enqueued: s.enqueued,
            delivered: s.delivered,
            dropped: s
                .dropped
                .iter()
                .map(|(r, n)| (r.as_str().to_owned(), n))
                .collect(),
            settings_version: s.settings_version,
        }
    }
}

/// Errors the SDK reports to the app.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum TributaryError {
    /// The configuration is unusable (names the field).
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// Properties or traits are not a JSON object.
    #[error("invalid properties: {reason}")]
    InvalidProperties {
        /// What is wrong.
        reason: String,
    },
    /// An argument is invalid (e.g. an empty event name).
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// What is wrong.
        reason: String,
    },
    /// The client was shut down.
    #[error("the client is shut down")]
    Closed,
    /// The on-device store could not be written (a crash file, say).
    #[error("storage: {reason}")]
    Storage {
        /// What failed.
        reason: String,
    },
}
