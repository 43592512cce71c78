//! `[debugger]`: the live event debugger (`GET /debug`), off by default.

use serde::Deserialize;

/// `[debugger]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DebuggerConfig {
    /// Serve `/debug` and `/debug/stream` (behind `privacy.admin_token`,
    /// which must then be set). Default `false`: both answer 404.
    pub enabled: bool,
    /// Decisions kept per watched app, shown to a viewer who connects.
    /// Default `100`.
    pub ring_events: usize,
    /// Most events shown per second per app; past it the rest are counted
    /// as skipped, so a busy app costs the ingest path no more. Default `50`.
    pub events_per_second: u32,
    /// Most viewers at once, over all apps. Default `8`.
    pub max_viewers: usize,
    /// Longest value or header shown, in bytes; longer ones are cut.
    /// Default `4096`.
    pub max_shown_bytes: usize,
}

impl Default for DebuggerConfig {
    fn default() -> Self {
        DebuggerConfig {
            enabled: false,
            ring_events: 100,
            events_per_second: 50,
            max_viewers: 8,
            max_shown_bytes: 4096,
        }
    }
}
