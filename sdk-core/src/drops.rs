//! Drop counts by reason: what the engine counts, reports to the gateway
//! (`clientReport`) and persists until a report is delivered.
//!
//! A fixed array over `DropReason::ALL` rather than a map: six counters
//! need no allocation, and a generic map costs kilobytes in the web SDK's
//! WebAssembly. It is stored and serialised as the map `{"queue_full": 3, …}`
//! (zero counts left out), as the contract's `ClientReport` spells it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use tributary_contract::DropReason;

const N: usize = DropReason::ALL.len();

/// Events dropped, per reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts([u64; N]);

fn slot(reason: DropReason) -> usize {
    DropReason::ALL
        .iter()
        .position(|r| *r == reason)
        .unwrap_or_default()
}

impl DropCounts {
    /// The count for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[slot(reason)]
    }

    /// Adds `n` drops for `reason`.
    pub fn add(&mut self, reason: DropReason, n: u64) {
        let c = &mut self.0[slot(reason)];
        *c = c.saturating_add(n);
    }

    /// Sets the count for `reason`.
    pub fn set(&mut self, reason: DropReason, n: u64) {
        self.0[slot(reason)] = n;
    }

    /// Subtracts `other` (counts that were reported), never below zero.
    pub fn subtract(&mut self, other: &DropCounts) {
        for (c, o) in self.0.iter_mut().zip(other.0) {
            *c = c.saturating_sub(o);
        }
    }

    /// The non-zero counts, in `DropReason::ALL` order.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .into_iter()
            .zip(self.0)
            .filter(|(_, n)| *n > 0)
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Whether nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Appends the counts as the JSON object `{"queue_full":3,…}` (zero
    /// counts left out), without serde (see [`crate::json`]).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (reason, n)) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            crate::json::write_str(out, reason.as_str());
            out.push(b':');
            crate::json::write_int(out, n as i64);
        }
        out.push(b'}');
    }
}

impl Serialize for DropCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for DropCounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DropCounts, D::Error> {
        let map = BTreeMap::<DropReason, u64>::deserialize(d)?;
        let mut out = DropCounts::default();
        for (r, n) in map {
            out.add(r, n);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_the_contract_client_report_map() {
        let mut c = DropCounts::default();
        c.add(DropReason::TooOld, 2);
        c.add(DropReason::Corrupt, 1);
        let json = serde_json::to_value(c).unwrap();
        assert_eq!(json, serde_json::json!({"too_old": 2, "corrupt": 1}));
        let mut written = Vec::new();
        c.write_json(&mut written);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&written).unwrap(),
            json
        );
        let report: tributary_contract::ClientReport =
            serde_json::from_value(serde_json::json!({ "dropped": json })).unwrap();
        assert_eq!(report.total(), 3);
        let back: DropCounts = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn subtracting_a_report_never_goes_negative() {
        let mut c = DropCounts::default();
        c.add(DropReason::QueueFull, 5);
        let mut r = DropCounts::default();
        r.add(DropReason::QueueFull, 3);
        r.add(DropReason::OptOut, 4);
        c.subtract(&r);
        assert_eq!(c.get(DropReason::QueueFull), 2);
        assert_eq!(c.get(DropReason::OptOut), 0);
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            vec![(DropReason::QueueFull, 2)]
        );
    }
}
