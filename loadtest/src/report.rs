//! The run's summary: a human report on stderr, a JSON document (schema:
//! [`Summary`], documented field by field) and the exit code decided by the
//! scenario's thresholds.
//!
//! Exit codes: `0` every threshold passed; `10` latency (`p99_ms`); `11`
//! errors (`error_rate`); `12` delivery (`delivery_rate`); when several
//! fail, the first in that order. `1` the tool itself failed; `2` the
//! scenario is invalid.

use crate::run::Observed;
use crate::scenario::Scenario;
use crate::verify::{Delivery, Percentiles};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Exit code when `p99_ms` fails.
pub const EXIT_LATENCY: i32 = 10;
/// Exit code when `error_rate` fails.
pub const EXIT_ERRORS: i32 = 11;
/// Exit code when `delivery_rate` fails.
pub const EXIT_DELIVERY: i32 = 12;

/// One threshold's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    /// `p99_ms`, `error_rate` or `delivery_rate`.
    pub name: String,
    /// The limit from the scenario.
    pub limit: f64,
    /// The measured value.
    pub actual: f64,
    /// Whether it passed.
    pub passed: bool,
    /// Exit code if it failed.
    pub exit_code: i32,
}

/// The JSON summary of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// `i/n` when this run was one segment of a split scenario.
    #[serde(default)]
    pub segment: Option<String>,
    /// Worst lag of a send behind its intended time, seconds.
    #[serde(default)]
    pub max_send_lag_s: f64,
    /// The latency histogram (HDR V2, base64), so `merge` can combine
    /// segments exactly.
    pub latency_hdr: String,
    /// Requests planned by the schedule.
    pub requests_planned: usize,
    /// Requests that got an HTTP answer.
    pub requests_answered: u64,
    /// Events sent.
    pub events_sent: u64,
    /// Planned request rate, per second.
    pub requested_rps: f64,
    /// Achieved request rate, per second.
    pub achieved_rps: f64,
    /// True when the generator could not keep to the schedule (achieved
    /// rate under 95% of requested, or a send more than 1 s late): the
    /// figures then understate what the schedule asked for.
    pub generator_fell_behind: bool,
    /// Responses by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// The delivery mode the gateway answered in, read from its success
    /// statuses (docs/contract.md): `broker` (200: events were in Kafka),
    /// `buffered` (202: events were in the gateway's producer queue),
    /// `mixed`, or `unknown` when nothing succeeded.
    #[serde(default)]
    pub delivery_mode: String,
    /// Requests with no HTTP answer (connection refused, reset, …).
    pub transport_errors: u64,
    /// Share of requests answered with a non-2xx status or not at all.
    pub error_rate: f64,
    /// Request latency from the intended send time, ms (good traffic).
    pub latency_ms: Percentiles,
    /// Hostile requests by kind: sent, refused with a 4xx, other.
    #[serde(default)]
    pub hostile: BTreeMap<crate::scenario::Hostile, crate::run::HostileOutcome>,
    /// Faults injected during the run (chaos scenarios).
    #[serde(default)]
    pub chaos: Vec<crate::run::ChaosOutcome>,
    /// End-to-end delivery, when verification ran.
    pub delivery: Option<Delivery>,
    /// Threshold verdicts.
    pub thresholds: Vec<Verdict>,
    /// The process exit code.
    pub exit_code: i32,
}

/// Builds the summary and decides the exit code.
pub fn summarize(s: &Scenario, o: &Observed, delivery: Option<Delivery>) -> Summary {
    let bad: u64 = o
        .statuses
        .iter()
        .filter(|(k, _)| !(200..300).contains(*k))
        .map(|(_, v)| v)
        .sum::<u64>()
        + o.transport_errors;
    let hostile: u64 = o.hostile.values().map(|h| h.sent).sum();
    let good = (o.planned as u64).saturating_sub(hostile);
    let error_rate = if good == 0 {
        0.0
    } else {
        bad as f64 / good as f64
    };
    let latency_ms = Percentiles::from_us(&o.latency_us);
    let count = |code: u16| o.statuses.get(&code).copied().unwrap_or(0);
    let delivery_mode = match (count(200), count(202)) {
        (0, 0) => "unknown",
        (_, 0) => "broker",
        (0, _) => "buffered",
        _ => "mixed",
    };
    let mut thresholds = Vec::new();
    let t = &s.thresholds;
    if let Some(limit) = t.p99_ms {
        thresholds.push(Verdict {
            name: "p99_ms".into(),
            limit,
            actual: latency_ms.p99,
            passed: latency_ms.p99 < limit,
            exit_code: EXIT_LATENCY,
        });
    }
    if let Some(limit) = t.error_rate {
        thresholds.push(Verdict {
            name: "error_rate".into(),
            limit,
            actual: error_rate,
            passed: error_rate < limit,
            exit_code: EXIT_ERRORS,
        });
    }
    if let Some(limit) = t.delivery_rate {
        let actual = delivery.as_ref().map_or(0.0, |d| d.rate);
        thresholds.push(Verdict {
            name: "delivery_rate".into(),
            limit,
            actual,
            passed: actual >= limit,
            exit_code: EXIT_DELIVERY,
        });
    }
    if let Some(lake) = delivery.as_ref().and_then(|d| d.lake.as_ref()) {
        thresholds.push(Verdict {
            name: "lake_exactly_once".into(),
            limit: 0.0,
            actual: (lake.missing + lake.duplicated) as f64,
            passed: lake.exactly_once(),
            exit_code: EXIT_DELIVERY,
        });
    }
    let exit_code = thresholds
        .iter()
        .find(|v| !v.passed)
        .map_or(0, |v| v.exit_code);
    Summary {
        scenario: s.name.clone(),
        segment: None,
        max_send_lag_s: o.max_send_lag_s,
        latency_hdr: crate::verify::hdr_to_base64(&o.latency_us),
        requests_planned: o.planned,
        requests_answered: o.answered,
        events_sent: o.events_sent,
        requested_rps: o.requested_rps,
        achieved_rps: o.achieved_rps,
        generator_fell_behind: o.achieved_rps < 0.95 * o.requested_rps || o.max_send_lag_s > 1.0,
        statuses: o.statuses.clone(),
        delivery_mode: delivery_mode.to_owned(),
        transport_errors: o.transport_errors,
        error_rate,
        latency_ms,
        hostile: o.hostile.clone(),
        chaos: o.chaos.clone(),
        delivery,
        thresholds,
        exit_code,
    }
}

/// Combines the summaries of the segments of one split run (`--segment
/// i/n` on several generators) and applies the scenario's thresholds to the
/// whole: counts add up, histograms merge exactly, delivery figures add up.
pub fn merge(s: &Scenario, parts: &[Summary]) -> anyhow::Result<Summary> {
    anyhow::ensure!(!parts.is_empty(), "nothing to merge");
    let mut latency = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut kafka_latency = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    let mut o = Observed {
        planned: 0,
        answered: 0,
        transport_errors: 0,
        statuses: BTreeMap::new(),
        latency_us: hdrhistogram::Histogram::new(3)?,
        events_sent: 0,
        acked: Vec::new(),
        requested_rps: 0.0,
        achieved_rps: 0.0,
        max_send_lag_s: 0.0,
        hostile: BTreeMap::new(),
        chaos: Vec::new(),
    };
    let mut delivery: Option<Delivery> = None;
    for p in parts {
        latency.add(crate::verify::hdr_from_base64(&p.latency_hdr)?)?;
        o.planned += p.requests_planned;
        o.answered += p.requests_answered;
        o.transport_errors += p.transport_errors;
        o.events_sent += p.events_sent;
        o.requested_rps += p.requested_rps;
        o.achieved_rps += p.achieved_rps;
        o.max_send_lag_s = o.max_send_lag_s.max(p.max_send_lag_s);
        for (k, v) in &p.statuses {
            *o.statuses.entry(*k).or_default() += v;
        }
        for (k, h) in &p.hostile {
            let e = o.hostile.entry(*k).or_default();
            e.sent += h.sent;
            e.refused += h.refused;
            e.other += h.other;
        }
        if let Some(d) = &p.delivery {
            kafka_latency.add(crate::verify::hdr_from_base64(&d.kafka_latency_hdr)?)?;
            let m = delivery.get_or_insert_with(|| Delivery {
                acknowledged: 0,
                delivered: 0,
                lost: 0,
                duplicated: 0,
                misrouted: 0,
                undecodable: 0,
                rate: 1.0,
                kafka_latency_ms: Percentiles::default(),
                kafka_latency_hdr: String::new(),
                lake: None,
            });
            if let Some(l) = &d.lake {
                m.lake.get_or_insert_with(Default::default).add(l);
            }
            m.acknowledged += d.acknowledged;
            m.delivered += d.delivered;
            m.lost += d.lost;
            m.duplicated += d.duplicated;
            m.misrouted += d.misrouted;
            m.undecodable += d.undecodable;
        }
    }
    if let Some(d) = delivery.as_mut() {
        d.rate = if d.acknowledged == 0 {
            1.0
        } else {
            d.delivered as f64 / d.acknowledged as f64
        };
        if !kafka_latency.is_empty() {
            d.kafka_latency_ms = Percentiles::from_us(&kafka_latency);
        }
        d.kafka_latency_hdr = crate::verify::hdr_to_base64(&kafka_latency);
    }
    o.latency_us = latency;
    let mut merged = summarize(s, &o, delivery);
    merged.segment = Some(format!("merged from {} segments", parts.len()));
    Ok(merged)
}

/// The human report.
pub fn print(s: &Summary) {
    eprintln!("\n== {} ==", s.scenario);
    if s.generator_fell_behind {
        eprintln!(
            "!! WARNING: the generator fell behind its schedule: the offered load was lower than requested !!"
        );
    }
    eprintln!(
        "requests {} planned, {} answered; events {} sent; rate {:.1}/s requested, {:.1}/s achieved",
        s.requests_planned, s.requests_answered, s.events_sent, s.requested_rps, s.achieved_rps
    );
    eprintln!(
        "statuses {:?}; transport errors {}; error rate {:.4}; delivery mode {}",
        s.statuses, s.transport_errors, s.error_rate, s.delivery_mode
    );
    let l = &s.latency_ms;
    eprintln!(
        "latency ms (from intended send): p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        l.p50, l.p90, l.p99, l.p999, l.max
    );
    if let Some(d) = &s.delivery {
        eprintln!(
            "delivery: {} acknowledged, {} delivered, {} lost, {} duplicated, {} misrouted, {} undecodable; rate {:.6}; send->Kafka p50 {:.1} ms p99 {:.1} ms",
            d.acknowledged,
            d.delivered,
            d.lost,
            d.duplicated,
            d.misrouted,
            d.undecodable,
            d.rate,
            d.kafka_latency_ms.p50,
            d.kafka_latency_ms.p99
        );
        if let Some(l) = &d.lake {
            eprintln!(
                "lake: {} rows of acknowledged events in {} files, {} distinct, {} missing, {} duplicated",
                l.rows, l.files, l.distinct, l.missing, l.duplicated
            );
        }
    }
    for c in &s.chaos {
        eprintln!(
            "chaos: {} at {:.1} s (done at {:.1} s, {})",
            c.label,
            c.at_s,
            c.done_s,
            if c.ok { "ok" } else { "COMMAND FAILED" }
        );
    }
    for (kind, h) in &s.hostile {
        eprintln!(
            "hostile {kind:?}: {} sent, {} refused with 4xx, {} other",
            h.sent, h.refused, h.other
        );
    }
    for v in &s.thresholds {
        eprintln!(
            "threshold {}: limit {} actual {:.4} -> {}",
            v.name,
            v.limit,
            v.actual,
            if v.passed { "pass" } else { "FAIL" }
        );
    }
    eprintln!("exit code {}", s.exit_code);
}
