//! Client reports: what an SDK dropped and why, sent to the gateway in the
//! next batch (`clientReport`), so losses on devices are visible centrally.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why an SDK dropped an event instead of delivering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The on-device queue was full (events or bytes budget).
    QueueFull,
    /// The event waited longer than the maximum event age.
    TooOld,
    /// The event alone exceeded the size limit, or a one-event batch got 413.
    TooLarge,
    /// The gateway rejected it for a reason retrying cannot fix.
    RejectedByServer,
    /// The user opted out; queued events were purged.
    OptOut,
    /// Storage was damaged (torn write, corruption) and the record unreadable.
    Corrupt,
    /// The server's settings switched the SDK, or this event name, off.
    DisabledByServer,
    /// Not recorded because of sampling: the device's `sample_rate`, or
    /// the server's rate for the event name. Weight kept events by the
    /// inverse of the rate in force (see `settingsVersion` in the context).
    SampledOut,
    /// A before-send plugin of the app dropped it.
    DroppedByPlugin,
}

impl DropReason {
    /// Every reason, in report order.
    pub const ALL: [DropReason; 9] = [
        DropReason::QueueFull,
        DropReason::TooOld,
        DropReason::TooLarge,
        DropReason::RejectedByServer,
        DropReason::OptOut,
        DropReason::Corrupt,
        DropReason::DisabledByServer,
        DropReason::SampledOut,
        DropReason::DroppedByPlugin,
    ];

    /// The reason as it appears in JSON (`queue_full`, …), for code that
    /// writes reports without serde (the web SDK's core).
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::TooOld => "too_old",
            DropReason::TooLarge => "too_large",
            DropReason::RejectedByServer => "rejected_by_server",
            DropReason::OptOut => "opt_out",
            DropReason::Corrupt => "corrupt",
            DropReason::DisabledByServer => "disabled_by_server",
            DropReason::SampledOut => "sampled_out",
            DropReason::DroppedByPlugin => "dropped_by_plugin",
        }
    }
}

/// The `clientReport` object of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientReport {
    /// Events dropped since the last delivered report, by reason. Reasons
    /// this build does not know (an SDK newer than the gateway) are left
    /// out rather than refusing the batch that carries them.
    #[serde(deserialize_with = "known_reasons")]
    pub dropped: BTreeMap<DropReason, u64>,
}

fn known_reasons<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<DropReason, u64>, D::Error> {
    let all = BTreeMap::<String, u64>::deserialize(d)?;
    Ok(all
        .into_iter()
        .filter_map(|(k, n)| {
            let r = DropReason::ALL.into_iter().find(|r| r.as_str() == k)?;
            Some((r, n))
        })
        .collect())
}

impl ClientReport {
    /// Total dropped events.
    pub fn total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_reasons_are_left_out_not_refused() {
        let r: ClientReport =
            serde_json::from_str(r#"{"dropped":{"queue_full":2,"from_the_future":5}}"#).unwrap();
        assert_eq!(r.total(), 2);
    }

    #[test]
    fn names_match_the_serde_spelling() {
        for r in DropReason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }
}
