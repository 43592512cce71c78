//! Scenario files: what load to offer, for how long, and what counts as a
//! pass. Every field has a default so a scenario states only what matters
//! to it; `loadtest/scenarios/*.toml` are the shipped ones.

use serde::Deserialize;

/// One scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name shown in reports.
    pub name: String,
    /// Gateway base URLs; requests are spread over them. Overridden by `--target`.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Write keys; each virtual device uses one. Overridden by `--write-key`.
    #[serde(default)]
    pub write_keys: Vec<String>,
    /// Send gzip bodies. Default `true`.
    #[serde(default = "yes")]
    pub gzip: bool,
    /// Virtual devices, each with its own anonymousId and session. Default `100`.
    #[serde(default = "default_devices")]
    pub devices: usize,
    /// Events per request. Default `100`.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Approximate size of each event's JSON, bytes. Default `500`.
    #[serde(default = "default_event_bytes")]
    pub event_bytes: usize,
    /// Requests in flight at most; past it the generator waits (and the
    /// wait counts in latency, measured from the intended send time).
    /// Default `256`.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
    /// Event mix.
    #[serde(default = "default_events")]
    pub events: Vec<EventMix>,
    /// Load phases, in order.
    pub phases: Vec<Phase>,
    /// Pass/fail criteria.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// End-to-end verification against Kafka.
    #[serde(default)]
    pub verify: Option<Verify>,
}

/// One event name and its share of the mix.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMix {
    /// Track event name.
    pub name: String,
    /// Relative weight. Default `1`.
    #[serde(default = "one")]
    pub weight: u32,
}

/// A phase of open-model load: arrivals follow the clock, not the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Length, seconds.
    pub duration_s: f64,
    /// Events per second at the start of the phase.
    pub events_per_second: f64,
    /// Events per second at the end (linear ramp). Default: constant.
    #[serde(default)]
    pub ramp_to: Option<f64>,
}

/// Pass criteria; an absent one is not checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// p99 request latency must be below, ms.
    pub p99_ms: Option<f64>,
    /// Share of requests answered with an error (non-2xx or no answer)
    /// must be below.
    pub error_rate: Option<f64>,
    /// Share of acknowledged events found in Kafka must be at least.
    pub delivery_rate: Option<f64>,
}

/// Where to look for the events afterwards.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// Kafka bootstrap servers. Overridden by `--kafka`.
    #[serde(default)]
    pub kafka: String,
    /// The gateway's `routing.topic_prefix`; event topics are derived from
    /// it. Overridden by `--topic-prefix`. Default `tributary.`.
    #[serde(default = "default_prefix")]
    pub topic_prefix: String,
    /// Seconds to keep reading after every acknowledged event was seen (to
    /// catch duplicates), or to give up waiting. Default `5`.
    #[serde(default = "default_settle")]
    pub settle_s: f64,
    /// Longest wait for acknowledged events to appear, seconds; what has
    /// not arrived by then counts as lost. Default `60`.
    #[serde(default = "default_verify_timeout")]
    pub timeout_s: f64,
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_devices() -> usize {
    100
}
fn default_batch() -> usize {
    100
}
fn default_event_bytes() -> usize {
    500
}
fn default_in_flight() -> usize {
    256
}
fn default_prefix() -> String {
    "tributary.".into()
}
fn default_settle() -> f64 {
    5.0
}
fn default_verify_timeout() -> f64 {
    60.0
}
fn default_events() -> Vec<EventMix> {
    vec![EventMix {
        name: "Order Completed".into(),
        weight: 1,
    }]
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read scenario {}: {e}", path.display()))?;
        let s: Scenario = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("scenario {}: {e}", path.display()))?;
        Ok(s)
    }

    /// Checks the scenario after command-line overrides.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.targets.is_empty(),
            "no targets (scenario `targets` or --target)"
        );
        anyhow::ensure!(
            !self.write_keys.is_empty(),
            "no write keys (scenario `write_keys` or --write-key)"
        );
        anyhow::ensure!(!self.phases.is_empty(), "no phases");
        anyhow::ensure!(
            self.batch_size > 0 && self.devices > 0,
            "batch_size and devices must be > 0"
        );
        anyhow::ensure!(
            self.events.iter().any(|e| e.weight > 0),
            "the event mix is empty"
        );
        for (i, p) in self.phases.iter().enumerate() {
            anyhow::ensure!(
                p.duration_s > 0.0
                    && p.events_per_second > 0.0
                    && p.ramp_to.is_none_or(|r| r > 0.0),
                "phases[{i}]: duration and rates must be positive"
            );
        }
        if let Some(v) = &self.verify {
            anyhow::ensure!(
                !v.kafka.is_empty(),
                "verify.kafka is empty (or pass --kafka)"
            );
        }
        Ok(())
    }

    /// The intended send times of every request, seconds from the start:
    /// open-model arrivals at the phase's rate (linear within a ramp).
    pub fn schedule(&self) -> Vec<f64> {
        let mut out = Vec::new();
        let mut offset = 0.0;
        for p in &self.phases {
            let start = p.events_per_second / self.batch_size as f64;
            let end = p.ramp_to.unwrap_or(p.events_per_second) / self.batch_size as f64;
            // Requests are emitted where the integral of the rate crosses
            // each whole number.
            let mut t = 0.0;
            let mut emitted = 0.0;
            let step = 0.001;
            while t < p.duration_s {
                let rate = start + (end - start) * (t / p.duration_s);
                emitted += rate * step;
                while emitted >= 1.0 {
                    out.push(offset + t);
                    emitted -= 1.0;
                }
                t += step;
            }
            offset += p.duration_s;
        }
        out
    }

    /// Total length, seconds.
    pub fn duration_s(&self) -> f64 {
        self.phases.iter().map(|p| p.duration_s).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(phases: &str) -> Scenario {
        toml::from_str(&format!("name = \"t\"\nbatch_size = 10\n{phases}")).unwrap()
    }

    #[test]
    fn shipped_scenarios_parse_and_validate() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        for name in ["smoke", "steady", "spike", "soak"] {
            let s = Scenario::load(&dir.join(format!("{name}.toml"))).unwrap();
            s.validate().unwrap();
            assert_eq!(s.name, name);
        }
    }

    #[test]
    fn constant_and_ramping_schedules() {
        let s = scenario("[[phases]]\nduration_s = 2\nevents_per_second = 100");
        let t = s.schedule();
        assert_eq!(t.len(), 20, "10 requests/s for 2 s");
        assert!(t.windows(2).all(|w| w[1] >= w[0]));
        let r = scenario("[[phases]]\nduration_s = 2\nevents_per_second = 100\nramp_to = 300");
        let t = r.schedule();
        assert_eq!(t.len(), 40, "the ramp's mean rate is 20 requests/s");
        let first_half = t.iter().filter(|x| **x < 1.0).count();
        assert!(
            first_half < 20,
            "fewer arrivals early in an up-ramp: {first_half}"
        );
    }
}
