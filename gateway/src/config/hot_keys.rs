//! `[hot_keys]`: the per-user rate past which a user's events stop being
//! keyed by the user, so one looping client cannot pile onto one partition.

use serde::Deserialize;

/// Where a hot user's events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HotKeyOverflow {
    /// Their own topic, without a key: spread over its partitions.
    Spread,
    /// The overflow topic (`hot_keys.overflow_topic`), without a key.
    Topic,
}

/// `[hot_keys]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HotKeysConfig {
    /// Sustained events per second one `(app, userId or anonymousId)` may
    /// send keyed by its user; past it (and the burst) its events are
    /// marked `tb-hot-key` and not keyed. `0` turns the check off. Default
    /// `0` (off); a real user stays far below 100.
    pub events_per_second: u32,
    /// Events one user may send at once above the rate. Default `1000`.
    pub burst: u32,
    /// Users remembered at most; past it the idle ones are forgotten first,
    /// then any (a forgotten user starts again with a full burst). About
    /// 40 bytes each. Default `200000`.
    pub max_keys: usize,
    /// `spread` (default): over the partitions of the event's own topic.
    /// `topic`: to `overflow_topic`, which a separate consumer can drain
    /// without holding back anyone else's events.
    pub overflow: HotKeyOverflow,
    /// The overflow topic for `overflow = "topic"`. Default
    /// `<routing.topic_prefix>overflow`.
    pub overflow_topic: Option<String>,
}

impl Default for HotKeysConfig {
    fn default() -> Self {
        HotKeysConfig {
            events_per_second: 0,
            burst: 1000,
            max_keys: 200_000,
            overflow: HotKeyOverflow::Spread,
            overflow_topic: None,
        }
    }
}
