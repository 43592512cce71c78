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
    /// Share of requests that are hostile (0 to 1). Default `0`. Hostile
    /// requests must be refused with a 4xx; they do not count in the
    /// latency, error rate or delivery of the good traffic, which is what
    /// the thresholds judge.
    #[serde(default)]
    pub hostile_share: f64,
    /// Kinds of hostile request, used in turn: `malformed_json`,
    /// `oversized` (a 6 MiB body), `bad_key`, `gzip_bomb` (64 MiB of zeros
    /// gzipped). Default: all four.
    #[serde(default = "default_hostile")]
    pub hostile_kinds: Vec<Hostile>,
    /// Load phases, in order.
    pub phases: Vec<Phase>,
    /// Pass/fail criteria.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// End-to-end verification against Kafka.
    #[serde(default)]
    pub verify: Option<Verify>,
    /// Faults injected during the run: shell commands run at set times
    /// (stop the broker, SIGTERM or SIGKILL the gateway, start it again).
    /// Their outcome is in the report next to the delivery figures.
    #[serde(default)]
    pub chaos: Vec<ChaosAction>,
    /// One device (the segment's first) sends this many times as many
    /// requests as each other device: a hot user, for the gateway's
    /// `[hot_keys]` protection. `0` (default) or `1`: all devices alike.
    #[serde(default)]
    pub hot_device_factor: usize,
    /// First device number of this generator (set by `--segment`).
    #[serde(skip)]
    pub device_offset: usize,
}

/// One fault injection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaosAction {
    /// When, seconds from the start of the run.
    pub at_s: f64,
    /// What to say in the report (`broker stopped`, ...).
    pub label: String,
    /// Shell command (`sh -c`); environment variables are expanded by the
    /// shell, e.g. `$TRIBUTARY_CHAOS_GATEWAY kill`.
    pub run: String,
}

/// A kind of hostile request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hostile {
    /// A gzip body that is not JSON.
    MalformedJson,
    /// A body over the gateway's size limit.
    Oversized,
    /// A valid batch with an unknown write key.
    BadKey,
    /// A small gzip body that inflates to 64 MiB.
    GzipBomb,
}

fn default_hostile() -> Vec<Hostile> {
    vec![
        Hostile::MalformedJson,
        Hostile::Oversized,
        Hostile::BadKey,
        Hostile::GzipBomb,
    ]
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
    /// The pipeline's lake, a local directory (its `file://` store): when
    /// set, every event delivered to Kafka must also be there as exactly
    /// one row (`lake_exactly_once`, exit code 12), waited for up to
    /// `timeout_s`. Overridden by `--lake`. Default: not checked.
    #[serde(default)]
    pub lake: Option<std::path::PathBuf>,
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
            (0.0..1.0).contains(&self.hostile_share),
            "hostile_share must be in [0, 1)"
        );
        anyhow::ensure!(
            self.hostile_share == 0.0 || !self.hostile_kinds.is_empty(),
            "hostile_share is set but hostile_kinds is empty"
        );
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

    /// Makes this scenario segment `i` of `n` (1-based): a 1/n share of
    /// every phase's rate and of the device population, with device
    /// numbers of its own, so `n` generators together offer the whole load.
    pub fn take_segment(&mut self, i: usize, n: usize) -> anyhow::Result<()> {
        anyhow::ensure!(
            n >= 1 && (1..=n).contains(&i),
            "segment must be i/n with 1 <= i <= n"
        );
        let share = 1.0 / n as f64;
        for p in &mut self.phases {
            p.events_per_second *= share;
            p.ramp_to = p.ramp_to.map(|r| r * share);
        }
        let per = self.devices.div_ceil(n);
        self.device_offset = (i - 1) * per;
        self.devices = per.max(1);
        Ok(())
    }

    /// The device of request `i`: round robin, the hot device (if any)
    /// taking `hot_device_factor` turns of every round.
    pub fn device_of(&self, i: usize) -> usize {
        let f = self.hot_device_factor.max(1);
        if f == 1 || self.devices < 2 {
            return self.device_offset + i % self.devices.max(1);
        }
        let r = i % (self.devices - 1 + f);
        self.device_offset + r.saturating_sub(f - 1)
    }

    /// Total length, seconds.
    pub fn duration_s(&self) -> f64 {
        self.phases.iter().map(|p| p.duration_s).sum()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hot_device_takes_its_factor_of_every_round() {
        let mut s: Scenario = toml::from_str(
            "name = \"h\"\ntargets = [\"http://x\"]\ndevices = 4\nhot_device_factor = 50\n[[phases]]\nduration_s = 1\nevents_per_second = 1\n",
        )
        .unwrap();
        let mut n = [0usize; 4];
        for i in 0..5300 {
            n[s.device_of(i)] += 1;
        }
        assert_eq!(n, [5000, 100, 100, 100]);
        s.hot_device_factor = 0;
        assert_eq!(
            (0..8).map(|i| s.device_of(i)).collect::<Vec<_>>(),
            [0, 1, 2, 3, 0, 1, 2, 3]
        );
    }

    use super::*;

    fn scenario(phases: &str) -> Scenario {
        toml::from_str(&format!("name = \"t\"\nbatch_size = 10\n{phases}")).unwrap()
    }

    #[test]
    fn shipped_scenarios_parse_and_validate() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        for name in [
            "smoke",
            "steady",
            "spike",
            "soak",
            "abuse",
            "chaos-broker",
            "chaos-gateway-term",
            "chaos-gateway-kill",
            "chaos-leader",
            "chaos-replica-kill",
        ] {
            let s = Scenario::load(&dir.join(format!("{name}.toml"))).unwrap();
            s.validate().unwrap();
            assert_eq!(s.name, name);
        }
    }

    #[test]
    fn segments_share_the_rate_and_the_devices() {
        let mut s = scenario(
            "devices = 10\n[[phases]]\nduration_s = 2\nevents_per_second = 100\nramp_to = 300",
        );
        s.take_segment(2, 4).unwrap();
        assert_eq!(s.phases[0].events_per_second, 25.0);
        assert_eq!(s.phases[0].ramp_to, Some(75.0));
        assert_eq!((s.devices, s.device_offset), (3, 3));
        assert!(s.clone().take_segment(5, 4).is_err());
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
