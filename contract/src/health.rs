//! Reserved app-health event names. SDKs emit them; the pipeline computes
//! app-health metrics (sessions, crash-free users) from them. Their schemas
//! arrive with the schema registry.

/// A session began (cold start, or activity after the inactivity gap).
pub const SESSION_STARTED: &str = "Session Started";
/// A session ended; property `durationMs`.
pub const SESSION_ENDED: &str = "Session Ended";
/// An application crash; properties `type`, `stackHash`.
pub const CRASH: &str = "Application Crashed";
/// A handled error; property `type`.
pub const HANDLED_ERROR: &str = "Handled Error";

/// Whether an event name is a reserved health event (kept longest when a
/// device queue must evict).
pub fn is_health_event(name: &str) -> bool {
    matches!(
        name,
        SESSION_STARTED | SESSION_ENDED | CRASH | HANDLED_ERROR
    )
}
