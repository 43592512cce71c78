//! SDK configuration: limits and policy, every field with its default.
//!
//! Defaults follow what the anchors converged on (Segment, PostHog,
//! Snowplow: batches of about 20 events or 30 s; a queue of a few MB; a
//! 30-minute session gap) while staying under the gateway's own limits.

use serde::{Deserialize, Serialize};

/// Whether the user allows collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// Collect and upload. Default.
    Granted,
    /// Collect and keep events on the device, but upload nothing until
    /// consent is granted.
    Pending,
    /// Opted out: queued events are purged, new ones are dropped.
    Denied,
}

/// How request bodies are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// gzip in the core (needs the `gzip` feature). Default.
    Gzip,
    /// The platform gzips (e.g. the browser's `CompressionStream`); requests
    /// are marked [`crate::UploadRequest::compress`].
    Platform,
    /// Send plain JSON.
    None,
}

/// Everything the engine needs to know.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SdkConfig {
    /// The app's write key. Required.
    pub write_key: String,
    /// Gateway base URL, e.g. `https://events.example.com`. Required.
    pub endpoint: String,
    /// Most events kept on the device. Default `10000`.
    pub max_queue_events: usize,
    /// Most bytes of events kept on the device. Default `5 MiB`.
    pub max_queue_bytes: usize,
    /// Largest single event (JSON bytes); larger ones are dropped
    /// (`too_large`). Default `32768`.
    pub max_event_bytes: usize,
    /// Most events per request. Default `100`.
    pub max_batch_events: usize,
    /// Most uncompressed bytes per request; keep below the gateway's
    /// `limits.max_decompressed_bytes`. Default `512 KiB`.
    pub max_batch_bytes: usize,
    /// Send once this many events are queued. Default `20`.
    pub flush_at_events: usize,
    /// Send once the oldest queued event is this old, in ms. Default `30000`.
    pub flush_interval_ms: u64,
    /// Events older than this are dropped (`too_old`), in ms. Default 7 days.
    pub max_event_age_ms: u64,
    /// First retry delay, in ms; doubles per failure, with full jitter.
    /// Default `1000`.
    pub backoff_base_ms: u64,
    /// Longest retry delay, in ms. Default `300000` (5 min).
    pub backoff_cap_ms: u64,
    /// Inactivity after which a new session starts, in ms. Default 30 min.
    pub session_timeout_ms: u64,
    /// Whether starting the engine starts a new session (an app's cold
    /// start). Default `true`. The web SDK sets `false`: a page load or
    /// reload continues the session, which ends only by inactivity.
    pub new_session_on_start: bool,
    /// Share of devices that send non-health events, 0.0–1.0, decided per
    /// device. Default `1.0`.
    pub sample_rate: f64,
    /// Initial consent. Default `granted`.
    pub consent: Consent,
    /// Body compression. Default `gzip`.
    pub compression: Compression,
    /// Library name in the context. Default `tributary-sdk-core`.
    pub library_name: String,
    /// Library version in the context. Default: this crate's version.
    pub library_version: String,
    /// What is captured without being asked (lifecycle, screens, errors,
    /// attribution); each on by default, each switchable by the server.
    pub auto_capture: crate::autocapture::AutoCaptureConfig,
    /// Fetch the server's settings (`GET /v1/settings`). Default `true`;
    /// turn off for an endpoint that is not a Tributary gateway.
    pub remote_settings: bool,
    /// Write a line per decision to the debug log ([`crate::debug`]), for
    /// the platform's console while developing. Default `false`.
    pub debug: bool,
}

impl Default for SdkConfig {
    fn default() -> Self {
        SdkConfig {
            write_key: String::new(),
            endpoint: String::new(),
            max_queue_events: 10_000,
            max_queue_bytes: 5 << 20,
            max_event_bytes: 32 << 10,
            max_batch_events: 100,
            max_batch_bytes: 512 << 10,
            flush_at_events: 20,
            flush_interval_ms: 30_000,
            max_event_age_ms: 7 * 24 * 3600 * 1000,
            backoff_base_ms: 1_000,
            backoff_cap_ms: 300_000,
            session_timeout_ms: 30 * 60 * 1000,
            new_session_on_start: true,
            sample_rate: 1.0,
            consent: Consent::Granted,
            compression: if cfg!(feature = "gzip") {
                Compression::Gzip
            } else {
                Compression::None
            },
            library_name: "tributary-sdk-core".into(),
            library_version: env!("CARGO_PKG_VERSION").into(),
            auto_capture: crate::autocapture::AutoCaptureConfig::default(),
            remote_settings: true,
            debug: false,
        }
    }
}

impl SdkConfig {
    /// A configuration with the defaults and the two required fields.
    pub fn new(write_key: impl Into<String>, endpoint: impl Into<String>) -> SdkConfig {
        SdkConfig {
            write_key: write_key.into(),
            endpoint: endpoint.into(),
            ..SdkConfig::default()
        }
    }

    /// Checks the configuration; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.write_key.trim_ascii().is_empty() {
            return Err("write_key is required".into());
        }
        if !(self.endpoint.starts_with("http://") || self.endpoint.starts_with("https://")) {
            return Err(String::from("endpoint \"") + &self.endpoint + "\" must be an http(s) URL");
        }
        for (name, v) in [
            ("max_queue_events", self.max_queue_events),
            ("max_queue_bytes", self.max_queue_bytes),
            ("max_event_bytes", self.max_event_bytes),
            ("max_batch_events", self.max_batch_events),
            ("max_batch_bytes", self.max_batch_bytes),
            ("flush_at_events", self.flush_at_events),
        ] {
            if v == 0 {
                return Err(String::from(name) + " must be greater than 0");
            }
        }
        if self.max_event_bytes > self.max_batch_bytes
            || self.max_event_bytes > self.max_queue_bytes
        {
            return Err(
                "max_event_bytes must not exceed max_batch_bytes or max_queue_bytes".into(),
            );
        }
        if !(0.0..=1.0).contains(&self.sample_rate) {
            return Err("sample_rate must be between 0 and 1".into());
        }
        if self.compression == Compression::Gzip && !cfg!(feature = "gzip") {
            return Err("compression = gzip needs the `gzip` feature".into());
        }
        Ok(())
    }
}
