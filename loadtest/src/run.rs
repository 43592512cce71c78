//! The generator: pre-builds every request (so producing load costs almost
//! nothing while it runs), sends each at its intended time, and records
//! latency from that intended time into an HDR histogram — a stalled server
//! cannot hide its latency by slowing the generator down (no coordinated
//! omission).

use crate::scenario::{Hostile, Scenario};
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// One prepared request.
struct Prepared {
    target: usize,
    auth: Arc<str>,
    body: Bytes,
    /// (messageId, event name) of each event.
    events: Vec<(String, Arc<str>)>,
    /// Set for a hostile request: which kind.
    hostile: Option<Hostile>,
}

/// What happened to the hostile requests of one kind.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct HostileOutcome {
    /// Sent.
    pub sent: u64,
    /// Refused with a 4xx, as they should be.
    pub refused: u64,
    /// Anything else: accepted, 5xx, or no answer.
    pub other: u64,
}

/// An event the gateway acknowledged.
#[derive(Debug, Clone)]
pub struct Acked {
    /// Its messageId.
    pub message_id: String,
    /// Its event name.
    pub event: Arc<str>,
    /// When its request was meant to be sent, ms since the epoch.
    pub intended_ms: i64,
}

/// What the run observed.
pub struct Observed {
    /// Requests planned.
    pub planned: usize,
    /// Requests answered (any status).
    pub answered: u64,
    /// Requests that got no HTTP answer.
    pub transport_errors: u64,
    /// Responses by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Latency from intended send time to the full response, microseconds.
    pub latency_us: Histogram<u64>,
    /// Events sent.
    pub events_sent: u64,
    /// Events acknowledged (200/202, not rejected).
    pub acked: Vec<Acked>,
    /// Planned request rate, per second.
    pub requested_rps: f64,
    /// Achieved request rate, per second.
    pub achieved_rps: f64,
    /// Worst lag of an actual send behind its intended time, seconds.
    pub max_send_lag_s: f64,
    /// Hostile requests by kind (not in the figures above).
    pub hostile: BTreeMap<Hostile, HostileOutcome>,
    /// Faults injected, in order.
    pub chaos: Vec<ChaosOutcome>,
}

/// One injected fault and how its command went.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ChaosOutcome {
    /// The scenario's label.
    pub label: String,
    /// Planned time, seconds from the start.
    pub at_s: f64,
    /// When the command finished, seconds from the start.
    pub done_s: f64,
    /// Whether it exited 0.
    pub ok: bool,
}

/// Runs the scenario's fault injections at their times.
fn spawn_chaos(s: &Scenario, start: Instant) -> tokio::task::JoinHandle<Vec<ChaosOutcome>> {
    let actions = s.chaos.clone();
    tokio::spawn(async move {
        let mut out = Vec::new();
        for a in actions {
            tokio::time::sleep_until((start + Duration::from_secs_f64(a.at_s)).into()).await;
            eprintln!(
                "  [{:>5.1}s] chaos: {} ({})",
                start.elapsed().as_secs_f64(),
                a.label,
                a.run
            );
            let cmd = a.run.clone();
            let ok = tokio::task::spawn_blocking(move || {
                std::process::Command::new("sh")
                    .args(["-c", &cmd])
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .await
            .unwrap_or(false);
            out.push(ChaosOutcome {
                label: a.label,
                at_s: a.at_s,
                done_s: start.elapsed().as_secs_f64(),
                ok,
            });
        }
        out
    })
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    let _ = e.write_all(raw);
    e.finish().unwrap_or_default()
}

/// The hostile bodies, built once and shared by every request of a kind.
struct HostileBodies {
    malformed: Bytes,
    oversized: Bytes,
    bomb: Bytes,
}

impl HostileBodies {
    fn new() -> HostileBodies {
        // Incompressible filler (an LCG), so the oversized body stays big.
        let mut x: u32 = 12345;
        let oversized: Vec<u8> = (0..6 << 20)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 24) as u8
            })
            .collect();
        HostileBodies {
            malformed: Bytes::from(gzip(br#"{"batch":[{"type":"track","event":"#)),
            oversized: Bytes::from(oversized),
            bomb: Bytes::from(gzip(&vec![0u8; 64 << 20])),
        }
    }
}

fn event_body(id: &str, name: &str, device: usize, pad: usize) -> serde_json::Value {
    json!({
        "type": "track",
        "event": name,
        "messageId": id,
        "anonymousId": format!("device-{device}"),
        "properties": {"device": device, "pad": "x".repeat(pad)},
    })
}

fn prepare(s: &Scenario, run_id: &str, n: usize) -> Vec<Prepared> {
    use base64::Engine as _;
    let names: Vec<Arc<str>> = s
        .events
        .iter()
        .map(|e| Arc::from(e.name.as_str()))
        .collect();
    let weights: Vec<u32> = s.events.iter().map(|e| e.weight).collect();
    let total: u32 = weights.iter().sum();
    let pick = |k: usize| {
        let mut x = (k as u32).wrapping_mul(2_654_435_761) % total.max(1);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return names[i].clone();
            }
            x -= w;
        }
        names[0].clone()
    };
    let auths: Vec<Arc<str>> = s
        .write_keys
        .iter()
        .map(|k| {
            Arc::from(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{k}:"))
            ))
        })
        .collect();
    let pad = s.event_bytes.saturating_sub(180);
    let hostile = (s.hostile_share > 0.0).then(HostileBodies::new);
    let bad_auth: Arc<str> = Arc::from("Basic bm90LWEta2V5Og==");
    let mut next_kind = 0usize;
    (0..n)
        .map(|i| {
            // Spread hostile requests evenly: request i is hostile when the
            // running share crosses a whole number.
            let is_hostile = hostile.is_some()
                && ((i + 1) as f64 * s.hostile_share).floor()
                    > (i as f64 * s.hostile_share).floor();
            if let (true, Some(h)) = (is_hostile, &hostile) {
                let kind = s.hostile_kinds[next_kind % s.hostile_kinds.len()];
                next_kind += 1;
                let (auth, body) = match kind {
                    Hostile::MalformedJson => (auths[0].clone(), h.malformed.clone()),
                    Hostile::Oversized => (auths[0].clone(), h.oversized.clone()),
                    Hostile::GzipBomb => (auths[0].clone(), h.bomb.clone()),
                    Hostile::BadKey => (bad_auth.clone(), h.malformed.clone()),
                };
                return Prepared {
                    target: i % s.targets.len(),
                    auth,
                    body,
                    events: Vec::new(),
                    hostile: Some(kind),
                };
            }
            let device = s.device_of(i);
            let events: Vec<(String, Arc<str>)> = (0..s.batch_size)
                .map(|j| (format!("{run_id}-{i}-{j}"), pick(i * s.batch_size + j)))
                .collect();
            let batch: Vec<_> = events
                .iter()
                .map(|(id, name)| event_body(id, name, device, pad))
                .collect();
            let raw = serde_json::to_vec(&json!({ "batch": batch })).unwrap_or_default();
            let body = if s.gzip { gzip(&raw) } else { raw };
            Prepared {
                target: i % s.targets.len(),
                auth: auths[(device - s.device_offset) % auths.len()].clone(),
                body: Bytes::from(body),
                events,
                hostile: None,
            }
        })
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Runs the scenario and returns what it observed.
pub async fn run(s: &Scenario, run_id: &str) -> anyhow::Result<Observed> {
    let schedule = s.schedule();
    let prepared = prepare(s, run_id, schedule.len());
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(s.max_in_flight)
        .build_http();
    let permits = Arc::new(Semaphore::new(s.max_in_flight.max(1)));
    let shared = Arc::new(Mutex::new(Observed {
        planned: schedule.len(),
        answered: 0,
        transport_errors: 0,
        statuses: BTreeMap::new(),
        latency_us: Histogram::new_with_bounds(1, 600_000_000, 3)?,
        events_sent: 0,
        acked: Vec::new(),
        requested_rps: schedule.len() as f64 / s.duration_s(),
        achieved_rps: 0.0,
        max_send_lag_s: 0.0,
        hostile: BTreeMap::new(),
        chaos: Vec::new(),
    }));
    let start = Instant::now();
    let chaos = spawn_chaos(s, start);
    let start_ms = now_ms();
    let mut tasks = Vec::with_capacity(prepared.len());
    let mut last_sent = start;
    let progress_every = (schedule.len() / 10).max(1);
    for (i, (at, p)) in schedule.iter().zip(prepared).enumerate() {
        let intended = start + Duration::from_secs_f64(*at);
        tokio::time::sleep_until(intended.into()).await;
        let permit = permits.clone().acquire_owned().await?;
        let lag = intended.elapsed().as_secs_f64();
        last_sent = Instant::now();
        let url = format!("{}/v1/batch", s.targets[p.target].trim_end_matches('/'));
        let client = client.clone();
        let shared = shared.clone();
        let gzip = s.gzip;
        let intended_ms = start_ms + (*at * 1000.0) as i64;
        if i % progress_every == 0 {
            let o = shared.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            eprintln!(
                "  [{:>5.1}s] sent {i}/{} requests, answered {}, errors {}, p99 {:.1} ms",
                start.elapsed().as_secs_f64(),
                schedule.len(),
                o.answered,
                o.transport_errors
                    + o.statuses
                        .iter()
                        .filter(|(k, _)| **k >= 300)
                        .map(|(_, v)| v)
                        .sum::<u64>(),
                o.latency_us.value_at_quantile(0.99) as f64 / 1000.0
            );
        }
        tasks.push(tokio::spawn(async move {
            let mut req = http::Request::post(url)
                .header("authorization", &*p.auth)
                .header("content-type", "application/json");
            let bad_gzip = matches!(
                p.hostile,
                Some(Hostile::MalformedJson | Hostile::GzipBomb | Hostile::BadKey)
            );
            if (gzip && p.hostile != Some(Hostile::Oversized)) || bad_gzip {
                req = req.header("content-encoding", "gzip");
            }
            let result = async {
                let req = req.body(Full::new(p.body.clone()))?;
                let resp = client.request(req).await?;
                let status = resp.status().as_u16();
                let body = resp.into_body().collect().await?.to_bytes();
                Ok::<_, anyhow::Error>((status, body))
            }
            .await;
            let latency = intended.elapsed().as_micros() as u64;
            drop(permit);
            let Ok(mut o) = shared.lock() else { return };
            if let Some(kind) = p.hostile {
                let h = o.hostile.entry(kind).or_default();
                h.sent += 1;
                match result {
                    Ok((status, _)) if (400..500).contains(&status) => h.refused += 1,
                    _ => h.other += 1,
                }
                return;
            }
            let _ = o.latency_us.record(latency.max(1));
            o.events_sent += p.events.len() as u64;
            o.max_send_lag_s = o.max_send_lag_s.max(lag);
            match result {
                Ok((status, body)) => {
                    o.answered += 1;
                    *o.statuses.entry(status).or_default() += 1;
                    if status == 200 || status == 202 {
                        let v: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        let rejected: Vec<u64> = v["rejected"]
                            .as_array()
                            .map(|a| a.iter().filter_map(|r| r["index"].as_u64()).collect())
                            .unwrap_or_default();
                        for (j, (id, event)) in p.events.into_iter().enumerate() {
                            if !rejected.contains(&(j as u64)) {
                                o.acked.push(Acked {
                                    message_id: id,
                                    event,
                                    intended_ms,
                                });
                            }
                        }
                    }
                }
                Err(_) => o.transport_errors += 1,
            }
        }));
    }
    // Rate over the span the schedule asked for, or longer if the sends
    // fell behind it.
    let last_intended = schedule.last().copied().unwrap_or(0.0);
    let send_span = last_sent
        .duration_since(start)
        .as_secs_f64()
        .max(last_intended);
    for t in tasks {
        let _ = t.await;
    }
    let chaos = chaos.await.unwrap_or_default();
    let mut o = Arc::try_unwrap(shared)
        .map_err(|_| anyhow::anyhow!("requests still running"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("poisoned"))?;
    o.achieved_rps = o.planned as f64 / send_span.max(0.001);
    o.chaos = chaos;
    Ok(o)
}
