//! Server-driven SDK settings: what `GET /v1/settings` answers for a write
//! key, and the bounds a device holds them to.
//!
//! A mobile release takes weeks to reach devices; these let a team turn an
//! event (or the whole SDK) off, sample it, or change batching now. Every
//! ingest answer names the settings version in force (`settingsVersion`
//! in the body, [`VERSION_HEADER`]), so a device learns of a change on its
//! next upload without polling; it also fetches again when `ttlSecs` has
//! passed. The version is also the ETag: a device sends it back in
//! `If-None-Match` and gets `304` while nothing changed.

use serde::{Deserialize, Serialize};

/// Response header carrying the settings version on ingest answers.
pub const VERSION_HEADER: &str = "tributary-settings-version";

/// Fewest / most events a server may ask a device to batch before sending.
pub const FLUSH_AT_EVENTS: (u32, u32) = (1, 1000);
/// Shortest / longest flush interval a server may set, ms.
pub const FLUSH_INTERVAL_MS: (u64, u64) = (1_000, 3_600_000);
/// Smallest / largest batch a server may set (never above the device's own).
pub const MAX_BATCH_EVENTS: (u32, u32) = (1, 1000);
/// Shortest / longest time a device keeps settings before fetching again, s.
pub const TTL_SECS: (u64, u64) = (60, 86_400);

/// Automatic capture switches; `None` keeps what the app configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoCapture {
    /// Installed, updated, opened, foregrounded, backgrounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<bool>,
    /// Page views and screen views (web routes, Android activities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screens: Option<bool>,
    /// Crashes and uncaught errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<bool>,
    /// UTM parameters and deep links as campaign context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<bool>,
}

/// The settings of one app, as served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteSettings {
    /// Changes whenever anything below changes (a hash of it).
    pub version: String,
    /// `false`: the kill switch; the SDK records and sends nothing
    /// (counted as `disabled_by_server`) until settings say otherwise.
    pub enabled: bool,
    /// Event names not recorded (`disabled_by_server`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_events: Vec<String>,
    /// Share of each named event kept, 0–1 (`sampled_out` for the rest);
    /// a JSON object on the wire, a list here (a map costs kilobytes of
    /// the web SDK's WebAssembly for a handful of entries).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "as_map")]
    pub sample_rates: Vec<(String, f64)>,
    /// Overrides the device's `flush_at_events`, within [`FLUSH_AT_EVENTS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flush_at_events: Option<u32>,
    /// Overrides the device's flush interval, within [`FLUSH_INTERVAL_MS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flush_interval_ms: Option<u64>,
    /// Caps the device's batch size, within [`MAX_BATCH_EVENTS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_events: Option<u32>,
    /// Automatic capture switches.
    #[serde(default)]
    pub auto_capture: AutoCapture,
    /// How long a device may use these before fetching again, s.
    pub ttl_secs: u64,
}

impl RemoteSettings {
    /// What is wrong with these settings against the bounds above, if
    /// anything (the gateway refuses such a configuration).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let within = |v: u64, (lo, hi): (u64, u64)| (lo..=hi).contains(&v);
        if let Some(n) = self.flush_at_events
            && !within(n.into(), widen(FLUSH_AT_EVENTS))
        {
            out.push(bounds("flush_at_events", widen(FLUSH_AT_EVENTS)));
        }
        if let Some(n) = self.flush_interval_ms
            && !within(n, FLUSH_INTERVAL_MS)
        {
            out.push(bounds("flush_interval_ms", FLUSH_INTERVAL_MS));
        }
        if let Some(n) = self.max_batch_events
            && !within(n.into(), widen(MAX_BATCH_EVENTS))
        {
            out.push(bounds("max_batch_events", widen(MAX_BATCH_EVENTS)));
        }
        if !within(self.ttl_secs, TTL_SECS) {
            out.push(bounds("ttl_secs", TTL_SECS));
        }
        for (name, rate) in &self.sample_rates {
            if !(0.0..=1.0).contains(rate) {
                out.push(format!("sample_rates.\"{name}\" must be between 0 and 1"));
            }
        }
        out
    }
}

/// `sample_rates` as the JSON object `{"name": rate}`, in name order.
mod as_map {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(v: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
        let m: BTreeMap<&str, f64> = v.iter().map(|(k, r)| (k.as_str(), *r)).collect();
        s.collect_map(m)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
        Ok(BTreeMap::<String, f64>::deserialize(d)?
            .into_iter()
            .collect())
    }
}

fn widen((lo, hi): (u32, u32)) -> (u64, u64) {
    (lo.into(), hi.into())
}

fn bounds(name: &str, (lo, hi): (u64, u64)) -> String {
    format!("{name} must be between {lo} and {hi}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_shape_is_camel_case_and_bounds_are_checked() {
        let s: RemoteSettings = serde_json::from_str(
            r#"{"version":"v1","enabled":true,"disabledEvents":["A"],"sampleRates":{"B":0.25},
                "flushAtEvents":5000,"autoCapture":{"screens":false},"ttlSecs":300}"#,
        )
        .unwrap();
        assert_eq!(s.disabled_events, ["A"]);
        assert_eq!(s.sample_rates, [("B".to_owned(), 0.25)]);
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back["sampleRates"], serde_json::json!({"B": 0.25}));
        assert_eq!(s.auto_capture.screens, Some(false));
        assert_eq!(s.auto_capture.lifecycle, None);
        assert_eq!(s.problems(), ["flush_at_events must be between 1 and 1000"]);
    }
}
