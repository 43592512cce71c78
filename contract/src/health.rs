//! Reserved app-health event names. SDKs emit them; the pipeline computes
//! app-health metrics (sessions, crash-free users, error rates, latency)
//! from them. Their schemas ship with the schema registry
//! (`schema/reserved/`), so every app gets them without writing any.

/// First start on this device; properties `version`, `build`.
pub const APP_INSTALLED: &str = "Application Installed";
/// Started with another version or build than last time; properties
/// `version`, `build`, `previousVersion`, `previousBuild`.
pub const APP_UPDATED: &str = "Application Updated";
/// The app was opened; properties `coldStart`, `fromBackground`, `version`,
/// `build`, `url`, `referrer`, `launchDurationMs`.
pub const APP_OPENED: &str = "Application Opened";
/// The app came to the foreground.
pub const APP_FOREGROUNDED: &str = "Application Foregrounded";
/// The app went to the background.
pub const APP_BACKGROUNDED: &str = "Application Backgrounded";
/// A session began (cold start, or activity after the inactivity gap).
pub const SESSION_STARTED: &str = "Session Started";
/// A session ended; property `durationMs`.
pub const SESSION_ENDED: &str = "Session Ended";
/// An application crash; properties `type`, `stackHash`.
pub const CRASH: &str = "Application Crashed";
/// A handled error; property `type`.
pub const HANDLED_ERROR: &str = "Handled Error";
/// The outcome of one network request; properties `outcome`, `durationMs`.
pub const NETWORK_REQUEST: &str = "Network Request";
/// A screen finished rendering; properties `screen`, `renderMs`.
pub const SCREEN_RENDERED: &str = "Screen Rendered";

/// Every reserved name.
pub const ALL: [&str; 11] = [
    APP_INSTALLED,
    APP_UPDATED,
    APP_OPENED,
    APP_FOREGROUNDED,
    APP_BACKGROUNDED,
    SESSION_STARTED,
    SESSION_ENDED,
    CRASH,
    HANDLED_ERROR,
    NETWORK_REQUEST,
    SCREEN_RENDERED,
];

/// Whether an event name is a reserved health event (kept longest when a
/// device queue must evict).
pub fn is_health_event(name: &str) -> bool {
    ALL.contains(&name)
}
