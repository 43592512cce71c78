//! `[quotas]`: per-app event volume per UTC day and per UTC month.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a request of an app past its quota gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaAction {
    /// 429 `quota_exceeded` with `Retry-After` to the start of the next
    /// window: SDKs keep the events and send them then.
    Reject,
    /// 200, the events counted as dropped (`over_quota`) and not sent: for
    /// analytics that would rather lose the excess than have every device
    /// hold it.
    Drop,
}

/// One app's quota.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppQuota {
    /// Events accepted per UTC day; `0` = no daily quota. Default `0`.
    pub events_per_day: u64,
    /// Events accepted per UTC calendar month; `0` = none. Default `0`.
    pub events_per_month: u64,
    /// `reject` (default) or `drop`.
    pub over: QuotaAction,
}

impl Default for AppQuota {
    fn default() -> Self {
        AppQuota {
            events_per_day: 0,
            events_per_month: 0,
            over: QuotaAction::Reject,
        }
    }
}

/// `[quotas]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotasConfig {
    /// `[quotas.apps.<app id>]`: the apps with a quota; others have none.
    pub apps: BTreeMap<String, AppQuota>,
    /// Counters shared by every gateway replica, in Redis
    /// (`redis://host:port/db`). Unset: each process counts alone and
    /// keeps its counts in `state_file` (docs/contract.md, Quotas).
    pub redis_url: Option<String>,
    /// How often each process adds what it accepted to the shared counts
    /// (or writes its state file), in ms. The error bound grows with it.
    /// Default `1000`.
    pub sync_ms: u64,
    /// Without Redis: this process's counts across restarts. Default
    /// `<spool.dir>/quotas.json`.
    pub state_file: Option<PathBuf>,
}

impl Default for QuotasConfig {
    fn default() -> Self {
        QuotasConfig {
            apps: BTreeMap::new(),
            redis_url: None,
            sync_ms: 1000,
            state_file: None,
        }
    }
}
