//! `find-max`: the highest constant arrival rate at which the gateway still
//! meets the scenario's latency (`p99_ms`) and error (`error_rate`)
//! thresholds. Short open-model probes: double the rate until a probe
//! fails, then bisect between the last pass and the first failure until
//! they are within 10 %. A probe where the generator itself fell behind
//! stops the search and says so, rather than blaming the gateway.

use crate::report;
use crate::run;
use crate::scenario::{Phase, Scenario};
use serde::Serialize;

/// One probe.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// Offered events per second.
    pub events_per_second: f64,
    /// p99 latency, ms.
    pub p99_ms: f64,
    /// Error rate.
    pub error_rate: f64,
    /// Met the thresholds.
    pub passed: bool,
    /// The generator could not keep the schedule.
    pub generator_fell_behind: bool,
}

/// The result.
#[derive(Debug, Clone, Serialize)]
pub struct FindMax {
    /// Highest passing rate, events per second (0 if none passed).
    pub max_events_per_second: f64,
    /// Why the search stopped: `thresholds` or `generator`.
    pub limited_by: &'static str,
    /// Every probe, in order.
    pub probes: Vec<Probe>,
}

async fn probe(base: &Scenario, eps: f64, seconds: f64, n: usize) -> anyhow::Result<Probe> {
    let mut s = base.clone();
    s.phases = vec![Phase {
        duration_s: seconds,
        events_per_second: eps,
        ramp_to: None,
    }];
    s.verify = None;
    s.thresholds.delivery_rate = None;
    let o = run::run(
        &s,
        &format!("findmax-{n}-{}", uuid::Uuid::new_v4().simple()),
    )
    .await?;
    let sum = report::summarize(&s, &o, None);
    let p = Probe {
        events_per_second: eps,
        p99_ms: sum.latency_ms.p99,
        error_rate: sum.error_rate,
        passed: sum.exit_code == 0,
        generator_fell_behind: sum.generator_fell_behind,
    };
    eprintln!(
        "  probe {eps:.0} events/s: p99 {:.1} ms, error rate {:.4} -> {}{}",
        p.p99_ms,
        p.error_rate,
        if p.passed { "pass" } else { "fail" },
        if p.generator_fell_behind {
            " (generator fell behind)"
        } else {
            ""
        }
    );
    Ok(p)
}

/// Searches from `start` events/s with probes of `seconds` each.
pub async fn find_max(base: &Scenario, start: f64, seconds: f64) -> anyhow::Result<FindMax> {
    anyhow::ensure!(
        base.thresholds.p99_ms.is_some() || base.thresholds.error_rate.is_some(),
        "find-max needs p99_ms or error_rate thresholds in the scenario"
    );
    let mut probes = Vec::new();
    let (mut lo, mut hi) = (0.0_f64, None::<f64>);
    let mut rate = start;
    let mut limited_by = "thresholds";
    for n in 0..16 {
        let p = probe(base, rate, seconds, n).await?;
        let (passed, behind) = (p.passed, p.generator_fell_behind);
        probes.push(p);
        if behind {
            limited_by = "generator";
            break;
        }
        if passed {
            lo = lo.max(rate);
        } else {
            hi = Some(hi.map_or(rate, |h: f64| h.min(rate)));
        }
        rate = match hi {
            None => rate * 2.0,
            Some(h) if lo > 0.0 && (h - lo) / lo <= 0.1 => break,
            Some(h) if lo == 0.0 && h <= start / 16.0 => break,
            Some(h) => (lo + h) / 2.0,
        };
        if lo == 0.0 && hi.is_some() {
            rate = hi.unwrap_or(start) / 2.0;
        }
    }
    Ok(FindMax {
        max_events_per_second: lo,
        limited_by,
        probes,
    })
}
