//! What the edge stages cost: the same gateway build measured with
//! enrichment and privacy rules off and on, in one run, alternating
//! (off, on, off, on) so a drift of the shared machine falls on both.
//!
//! "On" is what a privacy-minded app would configure: the client address
//! truncated after a geo and ASN lookup (in databases this bench builds,
//! covering loopback, so every lookup finds a city), the user agent
//! parsed, the e-mail, card and phone detectors over every string, and
//! path rules that hash, mask and drop.

#[allow(dead_code, missing_docs, clippy::expect_used)]
#[path = "../../../gateway/src/enrich/geo/test_db.rs"]
mod test_db;

use super::Delivery;
use serde::Serialize;
use std::path::Path;

/// The `[enrichment]` section that turns every edge stage off.
pub const OFF: &str = "[enrichment]\nip = false\nuser_agent = false\n";

/// The sections that turn every edge stage on, with geo databases
/// written into `dir`.
pub fn on(dir: &Path) -> String {
    let (city, asn) = test_db::write_example(dir, "127.0.0.0/8");
    format!(
        r#"[enrichment]
geo_city_db = "{city}"
geo_asn_db = "{asn}"
[privacy.apps.shop]
ip = "truncate"
hash_key = "bench-hash-key-0123456789"
patterns = {{ email = "hash", card = "mask", phone = "mask" }}
rules = [
  {{ path = "properties.email", action = "hash" }},
  {{ path = "traits.*", action = "mask" }},
  {{ path = "context.device.advertisingId", action = "drop" }},
]
"#,
        city = city.display(),
        asn = asn.display()
    )
}

/// The two sides of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeCost {
    /// Buffered events/s per gateway core, edge stages off (mean of two).
    pub off_eps_per_core: f64,
    /// The same with every edge stage on (mean of two).
    pub on_eps_per_core: f64,
    /// More CPU per event with the stages on: `off / on − 1`.
    pub cpu_overhead: f64,
    /// Delivery of the "on" measurements.
    pub on_delivery: Delivery,
}

impl EdgeCost {
    /// From the two measurements of each side.
    pub fn new(off: [f64; 2], on: [f64; 2], on_delivery: Delivery) -> EdgeCost {
        let (off, on) = ((off[0] + off[1]) / 2.0, (on[0] + on[1]) / 2.0);
        EdgeCost {
            off_eps_per_core: off,
            on_eps_per_core: on,
            cpu_overhead: off / on.max(1.0) - 1.0,
            on_delivery,
        }
    }
}
