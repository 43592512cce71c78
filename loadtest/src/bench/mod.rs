//! `tributary-loadtest bench`: the performance benchmark, in one run, on
//! one machine, against the real Kafka on loopback.
//!
//! Throughput figures are events per second per CPU core of the process
//! doing the work, from its CPU time in `/proc/<pid>/stat` (not wall time:
//! the machines are shared and noisy, and here the generator, the broker
//! and the server share two cores). Side by side:
//!
//! * the gateway, standard mix (100-event gzip batches, ~500-byte events,
//!   schema validation on), `ack = "buffered"` and `ack = "broker"`;
//! * the same records produced directly by an rdkafka producer (the
//!   broker-side ceiling) and the ratio gateway / direct;
//! * a minimal hyper server that reads and discards the same requests (the
//!   HTTP-only ceiling) and the ratio gateway / sink;
//! * the gateway with every edge stage (enrichment, privacy rules) off
//!   and on, alternating in the same run ([`edge`]): the CPU they add per
//!   event;
//! * the pipeline's Kafka → Parquet rate on the local store, and over the
//!   direct producer's unique-id records with `[dedup]` on and off, and
//!   into an Iceberg table with it on;
//! * latency percentiles (from intended send time) at 25, 50, 75 and 90 %
//!   of the gateway's measured maximum.
//!
//! Every measurement is checked for delivery: the events the gateway
//! acknowledged (the `accepted` counts of its answers) against the records
//! that reached the run's topics (their high watermarks, before and after,
//! once the producer has drained). A measurement that lost acknowledged
//! events is flagged, its throughput is not reported as a result, and the
//! command exits 12. Throughput without that check proves nothing: a
//! producer that only reports errors can look fast while dropping records.
//!
//! Results: JSON, a Markdown table and an SVG plot of latency against
//! offered rate, in `--out` (the repository keeps the latest in
//! `bench/results/`).

mod direct;
mod edge;

use crate::drive::{self, Pool};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::Serialize;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where things are.
#[derive(Debug, Clone)]
pub struct Args {
    /// Kafka bootstrap servers.
    pub kafka: String,
    /// The gateway binary (release build).
    pub gateway: PathBuf,
    /// The pipeline binary (release build).
    pub pipeline: PathBuf,
    /// The schema directory (the repository's `schemas/`).
    pub schemas: PathBuf,
    /// Seconds per measurement.
    pub seconds: f64,
    /// Concurrent connections of the closed-loop driver.
    pub connections: usize,
    /// Output directory.
    pub out: PathBuf,
}

/// Acknowledged events against records found in Kafka, for one
/// measurement.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Delivery {
    /// Events the server acknowledged (200/202 `accepted`).
    pub acknowledged: u64,
    /// Records that reached the topics during the measurement.
    pub in_kafka: u64,
    /// Acknowledged events missing from Kafka.
    pub lost: u64,
    /// Records beyond those acknowledged: from requests that timed out or
    /// failed after producing, or duplicates.
    pub extra: u64,
}

impl Delivery {
    pub(crate) fn new(acknowledged: u64, in_kafka: u64) -> Self {
        Delivery {
            acknowledged,
            in_kafka,
            lost: acknowledged.saturating_sub(in_kafka),
            extra: in_kafka.saturating_sub(acknowledged),
        }
    }

    /// Whether every acknowledged event arrived.
    pub fn complete(&self) -> bool {
        self.lost == 0
    }

    fn cell(&self) -> String {
        if self.complete() && self.extra > 0 {
            format!("{0} of {0}, {1} extra", self.acknowledged, self.extra)
        } else if self.complete() {
            format!("{0} of {0}", self.acknowledged)
        } else {
            format!(
                "**{} of {}: {} LOST, throughput does not count**",
                self.in_kafka, self.acknowledged, self.lost
            )
        }
    }
}

/// One latency point.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyPoint {
    /// Share of the measured maximum.
    pub fraction: f64,
    /// Offered events per second.
    pub offered_eps: f64,
    /// Achieved events per second (accepted).
    pub achieved_eps: f64,
    /// p50 latency, ms.
    pub p50_ms: f64,
    /// p90 latency, ms.
    pub p90_ms: f64,
    /// p99 latency, ms.
    pub p99_ms: f64,
    /// Requests not answered 200/202.
    pub failed: u64,
    /// Acknowledged events against records in Kafka.
    pub delivery: Delivery,
}

/// The whole result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When (UTC).
    pub date: String,
    /// CPU model, cores, memory, kernel.
    pub machine: String,
    /// Mean event size, bytes (uncompressed JSON).
    pub event_bytes: usize,
    /// Events per batch.
    pub batch_events: usize,
    /// Gateway, buffered: events/s per gateway core.
    pub gateway_buffered_eps_per_core: f64,
    /// Gateway, buffered: events/s wall (all cores, shared machine).
    pub gateway_buffered_eps_wall: f64,
    /// Gateway, buffered: delivery of the measurement.
    pub gateway_buffered_delivery: Delivery,
    /// Gateway, broker: events/s per gateway core.
    pub gateway_broker_eps_per_core: f64,
    /// Gateway, broker: events/s wall.
    pub gateway_broker_eps_wall: f64,
    /// Gateway, broker: delivery of the measurement.
    pub gateway_broker_delivery: Delivery,
    /// Direct rdkafka producer: records/s per producer-process core.
    pub direct_producer_eps_per_core: f64,
    /// Direct producer: records sent (and flushed) against records found.
    pub direct_producer_delivery: Delivery,
    /// Minimal hyper sink: events/s per sink core.
    pub http_sink_eps_per_core: f64,
    /// Pipeline Kafka → Parquet: events/s per pipeline core.
    pub pipeline_eps_per_core: f64,
    /// Events the pipeline offloaded in its measurement.
    pub pipeline_events: u64,
    /// Over the direct producer's records (a unique message id each):
    /// events/s per pipeline core with `[dedup]` on (the default), and off.
    #[serde(default)]
    pub pipeline_unique_dedup_eps_per_core: f64,
    /// The same with `[dedup]` off.
    #[serde(default)]
    pub pipeline_unique_no_dedup_eps_per_core: f64,
    /// Records in the direct producer's topic.
    #[serde(default)]
    pub pipeline_unique_events: u64,
    /// The same records into an Apache Iceberg table (a SQLite catalog,
    /// one snapshot per segment), `[dedup]` on: events/s per pipeline core.
    #[serde(default)]
    pub pipeline_iceberg_eps_per_core: f64,
    /// Generator: events/s per generator core while driving the gateway.
    pub generator_eps_per_core: f64,
    /// gateway (buffered) / direct producer.
    pub ratio_gateway_to_direct: f64,
    /// gateway (broker) / direct producer.
    pub ratio_gateway_broker_to_direct: f64,
    /// gateway (buffered) / HTTP sink.
    pub ratio_gateway_to_http_sink: f64,
    /// The edge stages off against on.
    pub edge: edge::EdgeCost,
    /// Latency at fractions of the buffered maximum.
    pub latency: Vec<LatencyPoint>,
    /// The direct producer under other settings and record layouts.
    pub producer_sweep: Vec<direct::SweepRow>,
}

impl Report {
    /// Whether every measurement delivered every acknowledged event.
    pub fn delivered_all(&self) -> bool {
        self.gateway_buffered_delivery.complete()
            && self.gateway_broker_delivery.complete()
            && self.edge.on_delivery.complete()
            && self.direct_producer_delivery.complete()
            && self.latency.iter().all(|p| p.delivery.complete())
            && self.producer_sweep.iter().all(|p| p.delivery.complete())
    }
}

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds (user + system) a process has used so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    ticks / clk_tck()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpu}, {cores} cores, {mem_gib:.0} GiB, Linux {}",
        kernel.trim()
    )
}

/// A child process that is killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn terminate(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// Starts `cmd`, returning it and the URL in the first stdout line that
/// has one.
fn spawn_with_url(mut cmd: Command) -> anyhow::Result<(Proc, String)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let proc = Proc(child);
    let mut lines = BufReader::new(out).lines();
    let url = loop {
        let line = lines
            .next()
            .ok_or_else(|| anyhow::anyhow!("process exited before printing its address"))??;
        if let Some(i) = line.find("http://") {
            break line[i..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((proc, url))
}

/// The gateway's configuration in `dir` (its spool there too), with
/// `extra` TOML sections appended.
fn gateway_config(args: &Args, dir: &Path, prefix: &str, extra: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("gateway.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
[kafka]
brokers = "{kafka}"
topic_partitions = 3
[routing]
topic_prefix = "{prefix}"
[[routing.routes]]
event = "Order Completed"
[[routing.routes]]
event = "Checkout Started"
[schemas]
source = "dir"
dir = "{schemas}"
[delivery]
ack = "buffered"
[rate_limits]
key_requests_per_second = 0
key_events_per_second = 0
ip_requests_per_second = 0
[spool]
dir = "{spool}"
[log]
filter = "warn"
[[keys]]
key = "bench-buffered"
app_id = "shop"
ack = "buffered"
[[keys]]
key = "bench-broker"
app_id = "shop"
ack = "broker"
{extra}
"#,
            kafka = args.kafka,
            schemas = args.schemas.display(),
            spool = dir.join("spool").display(),
        ),
    )?;
    Ok(path)
}

fn basic(key: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

/// Gateway throughput in one mode, checked for delivery: (events/s per
/// gateway core, wall events/s, generator events/s per core, delivery).
async fn measure_gateway(
    pool: &Arc<Pool>,
    url: &str,
    key: &str,
    args: &Args,
    pid: u32,
    counter: &Arc<RecordCounter>,
) -> anyhow::Result<(f64, f64, f64, Delivery)> {
    let me = std::process::id();
    let before = counter.count().await?;
    let (g0, m0) = (cpu_seconds(pid), cpu_seconds(me));
    let o = drive::closed_loop(
        pool,
        &format!("{url}/v1/batch"),
        &basic(key),
        args.connections,
        args.seconds,
    )
    .await;
    let (g1, m1) = (cpu_seconds(pid), cpu_seconds(me));
    let delivery = counter.delivery(before, o.acknowledged).await?;
    let events = o.acknowledged as f64;
    if o.failed > 0 {
        eprintln!("  warning: {} requests failed", o.failed);
    }
    Ok((
        events / (g1 - g0).max(0.01),
        events / o.seconds,
        events / (m1 - m0).max(0.01),
        delivery,
    ))
}

/// Creates `topic` with `partitions` partitions (replication 1: the
/// benchmark's broker is a single node).
async fn create_topic(kafka: &str, topic: &str, partitions: i32) -> anyhow::Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", kafka)
        .create()?;
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await?;
    for r in results {
        if let Err((t, e)) = r {
            anyhow::bail!("creating topic {t}: {e}");
        }
    }
    Ok(())
}

/// Counts the records in a set of topics (the sum of their partitions'
/// high watermarks; the run's topics are new, so nothing has been deleted
/// from them), with one Kafka client for the whole benchmark.
struct RecordCounter {
    consumer: BaseConsumer,
    topics: Vec<String>,
}

impl RecordCounter {
    fn new(kafka: &str, topics: Vec<String>) -> anyhow::Result<RecordCounter> {
        let consumer = ClientConfig::new()
            .set("bootstrap.servers", kafka)
            .create()?;
        Ok(RecordCounter { consumer, topics })
    }

    /// The count now (blocking).
    fn count_now(&self) -> anyhow::Result<u64> {
        // Topics the gateway has just created may not have a leader yet:
        // the broker answers "not leader" for a moment, then counts.
        let mut tries = 0;
        loop {
            match self.count_once() {
                Err(e) if tries < 20 => {
                    tries += 1;
                    eprintln!("bench: counting records: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(500));
                }
                done => return done,
            }
        }
    }

    fn count_once(&self) -> anyhow::Result<u64> {
        let mut total = 0i64;
        for t in &self.topics {
            let md = self
                .consumer
                .fetch_metadata(Some(t), Duration::from_secs(10))?;
            for p in md.topics().iter().flat_map(|t| t.partitions()) {
                let (lo, hi) =
                    self.consumer
                        .fetch_watermarks(t, p.id(), Duration::from_secs(10))?;
                total += hi - lo;
            }
        }
        Ok(total.max(0) as u64)
    }

    /// The count now, off the async runtime.
    async fn count(self: &Arc<Self>) -> anyhow::Result<u64> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.count_now()).await?
    }

    /// The delivery of a measurement that started at `before` records and
    /// had `acknowledged` events acknowledged. Waits until the topics hold
    /// them all, or their count has not moved for 10 s (what is missing
    /// then is lost): `ack = "buffered"` answers before the producer has
    /// delivered, so the count catches up after the measurement ends.
    async fn delivery(
        self: &Arc<Self>,
        before: u64,
        acknowledged: u64,
    ) -> anyhow::Result<Delivery> {
        let me = self.clone();
        let expected = before + acknowledged;
        let after = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
            let mut last = me.count_now()?;
            let mut still = Instant::now();
            let deadline = Instant::now() + Duration::from_secs(120);
            while last < expected
                && still.elapsed() < Duration::from_secs(10)
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(250));
                let now = me.count_now()?;
                if now != last {
                    last = now;
                    still = Instant::now();
                }
            }
            Ok(last)
        })
        .await??;
        Ok(Delivery::new(acknowledged, after.saturating_sub(before)))
    }
}

fn metric(url: &str, name: &str) -> Option<f64> {
    let addr = url.strip_prefix("http://")?.split('/').next()?;
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    use std::io::{Read, Write};
    write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Runs the pipeline over `topics` until it has read every record in them,
/// with `[dedup]` on or off, into plain Parquet or (`iceberg`) Iceberg
/// tables: (events/s per pipeline core, events).
fn pipeline(
    args: &Args,
    dir: &Path,
    prefix: &str,
    topics: &[String],
    dedup: bool,
    iceberg: bool,
) -> anyhow::Result<(f64, u64)> {
    let total = RecordCounter::new(&args.kafka, topics.to_vec())?.count_now()?;
    let run = format!(
        "{}-{}{}",
        topics.len(),
        if dedup { "dedup" } else { "no-dedup" },
        if iceberg { "-iceberg" } else { "" }
    );
    let lake = if iceberg {
        format!(
            "[lake]\nformat = \"iceberg\"\n[lake.catalog]\nuri = \"sqlite://{}\"\n",
            dir.join(format!("catalog-{run}.db")).display()
        )
    } else {
        String::new()
    };
    let config = dir.join(format!("pipeline-{run}.toml"));
    let list: Vec<String> = topics.iter().map(|t| format!("\"{t}\"")).collect();
    std::fs::write(
        &config,
        format!(
            r#"
[kafka]
brokers = "{kafka}"
group_id = "{prefix}pipeline-{run}"
topics = [{topics}]
dead_letter_topic = "{prefix}dead_letter"
statistics_interval_ms = 1000
[store]
url = "file://{store}"
{lake}
[dedup]
window_secs = {window}
[schemas]
dir = "{schemas}"
[server]
listen = "127.0.0.1:0"
"#,
            kafka = args.kafka,
            topics = list.join(", "),
            store = dir.join(format!("lake-{run}")).display(),
            window = if dedup { 86_400 } else { 0 },
            schemas = args.schemas.display(),
        ),
    )?;
    let mut cmd = Command::new(&args.pipeline);
    cmd.arg("--config").arg(&config).env("RUST_LOG", "warn");
    let (proc, url) = spawn_with_url(cmd)?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        anyhow::ensure!(
            Instant::now() < deadline,
            "pipeline did not finish within 600 s"
        );
        if metric(&url, "tributary_pipeline_records_total").unwrap_or(0.0) >= total as f64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let cpu = cpu_seconds(proc.pid());
    proc.terminate();
    Ok((total as f64 / cpu.max(0.01), total))
}

/// Runs the benchmark and writes its results.
pub async fn run(args: Args) -> anyhow::Result<Report> {
    let run_id = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );
    let prefix = format!("bench.{run_id}.");
    let work = std::env::temp_dir().join(format!("tributary-bench-{run_id}"));
    std::fs::create_dir_all(&work)?;
    let pool = Arc::new(drive::standard_pool(64, &run_id));
    eprintln!(
        "bench: standard mix {} events/batch, ~{} bytes/event",
        pool.events_per_batch, pool.event_bytes
    );

    // Gateway.
    let mut cmd = Command::new(&args.gateway);
    cmd.arg("--config")
        .arg(gateway_config(&args, &work, &prefix, edge::OFF)?);
    let (gw, url) = spawn_with_url(cmd)?;
    let topics = vec![
        format!("{prefix}order_completed"),
        format!("{prefix}checkout_started"),
    ];
    let counter = Arc::new(RecordCounter::new(&args.kafka, topics.clone())?);
    // Warm up both modes: a broker that just started is still loading its
    // coordinators, and the first seconds of producing are not the steady
    // state (with a 2 s warm-up, buffered mode once measured half its rate).
    for key in ["bench-buffered", "bench-broker"] {
        let before = counter.count().await?;
        let o = drive::closed_loop(
            &pool,
            &format!("{url}/v1/batch"),
            &basic(key),
            args.connections,
            5.0,
        )
        .await;
        counter.delivery(before, o.acknowledged).await?;
    }
    eprintln!("bench: gateway, ack = buffered");
    let (buf_core, buf_wall, gen_core, buf_delivery) =
        measure_gateway(&pool, &url, "bench-buffered", &args, gw.pid(), &counter).await?;
    eprintln!(
        "  {buf_core:.0} events/s per gateway core ({buf_wall:.0} wall); delivered {}",
        buf_delivery.cell()
    );
    eprintln!("bench: gateway, ack = broker");
    let (brk_core, brk_wall, _, brk_delivery) =
        measure_gateway(&pool, &url, "bench-broker", &args, gw.pid(), &counter).await?;
    eprintln!(
        "  {brk_core:.0} events/s per gateway core ({brk_wall:.0} wall); delivered {}",
        brk_delivery.cell()
    );
    let max_rps = buf_wall / pool.events_per_batch as f64;
    let mut latency = Vec::new();
    for fraction in [0.25, 0.5, 0.75, 0.9] {
        let rps = max_rps * fraction;
        let before = counter.count().await?;
        let o = drive::open_loop(
            &pool,
            &format!("{url}/v1/batch"),
            &basic("bench-buffered"),
            rps,
            args.seconds,
        )
        .await?;
        let delivery = counter.delivery(before, o.acknowledged).await?;
        let point = LatencyPoint {
            fraction,
            offered_eps: rps * pool.events_per_batch as f64,
            achieved_eps: o.acknowledged as f64 / o.seconds,
            p50_ms: o.p50_ms,
            p90_ms: o.p90_ms,
            p99_ms: o.p99_ms,
            failed: o.failed,
            delivery,
        };
        eprintln!(
            "  {:.0}% of max ({:.0} events/s): p50 {:.1} ms, p99 {:.1} ms; delivered {}",
            fraction * 100.0,
            point.offered_eps,
            point.p50_ms,
            point.p99_ms,
            point.delivery.cell()
        );
        latency.push(point);
    }

    // The edge stages: a second gateway with them on, measured in turn
    // with the first (off).
    eprintln!("bench: edge stages off and on (ack = buffered)");
    let on_dir = work.join("edge-on");
    std::fs::create_dir_all(&on_dir)?;
    let mut cmd = Command::new(&args.gateway);
    cmd.arg("--config")
        .arg(gateway_config(&args, &on_dir, &prefix, &edge::on(&on_dir))?);
    let (gw_on, url_on) = spawn_with_url(cmd)?;
    let before = counter.count().await?;
    let o = drive::closed_loop(
        &pool,
        &format!("{url_on}/v1/batch"),
        &basic("bench-buffered"),
        args.connections,
        5.0,
    )
    .await;
    counter.delivery(before, o.acknowledged).await?;
    let key = "bench-buffered";
    let (on1, _, _, d1) =
        measure_gateway(&pool, &url_on, key, &args, gw_on.pid(), &counter).await?;
    let (off2, _, _, _) = measure_gateway(&pool, &url, key, &args, gw.pid(), &counter).await?;
    let (on2, _, _, d2) =
        measure_gateway(&pool, &url_on, key, &args, gw_on.pid(), &counter).await?;
    let on_delivery = if d1.complete() { d2 } else { d1 };
    let (off_runs, on_runs) = ([buf_core, off2], [on1, on2]);
    let edge_cost = edge::EdgeCost::new(off_runs, on_runs, on_delivery);
    eprintln!(
        "  off {:.0}, on {:.0} events/s per gateway core: {:+.1} % CPU per event; delivered {}",
        edge_cost.off_eps_per_core,
        edge_cost.on_eps_per_core,
        edge_cost.cpu_overhead * 100.0,
        edge_cost.on_delivery.cell()
    );
    gw_on.terminate();
    gw.terminate();

    // HTTP-only ceiling.
    eprintln!("bench: minimal hyper sink");
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["sink", "--listen", "127.0.0.1:0"]);
    let (sink, sink_url) = spawn_with_url(cmd)?;
    let s0 = cpu_seconds(sink.pid());
    let o = drive::closed_loop(
        &pool,
        &format!("{sink_url}/v1/batch"),
        "Basic x",
        args.connections,
        args.seconds,
    )
    .await;
    let sink_core = o.acknowledged as f64 / (cpu_seconds(sink.pid()) - s0).max(0.01);
    eprintln!("  {sink_core:.0} events/s per sink core");
    drop(sink);

    // Broker-side ceiling.
    eprintln!("bench: direct rdkafka producer");
    let direct_topic = format!("{prefix}direct");
    // The brokers do not create topics on first use (neither does a
    // production cluster), so the direct producer's topic is made like the
    // gateway's: three partitions.
    create_topic(&args.kafka, &direct_topic, 3).await?;
    let a = args.clone();
    let eb = pool.event_bytes;
    let row = tokio::task::spawn_blocking(move || {
        direct::produce(&a, &direct_topic, eb, direct::GATEWAY, a.seconds, false)
    })
    .await??;
    let (direct, direct_delivery) = (row.records_per_core, row.delivery);
    eprintln!(
        "  {direct:.0} records/s per producer core; delivered {}",
        direct_delivery.cell()
    );

    // What librdkafka's settings and the record layout cost.
    eprintln!("bench: producer settings sweep");
    let mut producer_sweep = Vec::new();
    for (i, variant) in direct::SWEEP.iter().enumerate() {
        let topic = format!("{prefix}sweep{i}");
        create_topic(&args.kafka, &topic, 3).await?;
        let a = args.clone();
        let v = *variant;
        let row = tokio::task::spawn_blocking(move || {
            direct::produce(&a, &topic, eb, v, (a.seconds / 2.0).max(2.0), true)
        })
        .await??;
        eprintln!(
            "  {}: {:.0} records/s per core, {:.0} bytes sent per record; delivered {}",
            row.name,
            row.records_per_core,
            row.wire_bytes_per_record,
            row.delivery.cell()
        );
        producer_sweep.push(row);
    }

    // Pipeline over what the gateway wrote.
    eprintln!("bench: pipeline Kafka -> Parquet");
    // The standard mix repeats its pool's message ids, which dedup would
    // drop: this row is measured with it off.
    let (a, w, p) = (args.clone(), work.clone(), prefix.clone());
    let (pipe_core, pipe_events) =
        tokio::task::spawn_blocking(move || pipeline(&a, &w, &p, &topics, false, false)).await??;
    eprintln!("  {pipe_core:.0} events/s per pipeline core ({pipe_events} events)");
    // Dedup's cost, over records with a unique id each, on and off.
    // And into an Iceberg table, dedup on: the lake the issue's target
    // names (≥ 100,000 events/s per core).
    let mut unique = [(0.0, 0); 3];
    for (slot, dedup, iceberg) in [(0, true, false), (1, false, false), (2, true, true)] {
        let (a, w, p) = (args.clone(), work.clone(), prefix.clone());
        let t = vec![format!("{prefix}direct")];
        unique[slot] =
            tokio::task::spawn_blocking(move || pipeline(&a, &w, &p, &t, dedup, iceberg)).await??;
        eprintln!(
            "  {:.0} events/s per pipeline core over unique ids, dedup {}, {}",
            unique[slot].0,
            if dedup { "on" } else { "off" },
            if iceberg { "Iceberg table" } else { "Parquet" }
        );
    }
    let _ = std::fs::remove_dir_all(&work);

    let report = Report {
        date: tributary_contract::time::format(tributary_contract::time::now()),
        machine: machine(),
        event_bytes: pool.event_bytes,
        batch_events: pool.events_per_batch,
        gateway_buffered_eps_per_core: buf_core,
        gateway_buffered_eps_wall: buf_wall,
        gateway_buffered_delivery: buf_delivery,
        gateway_broker_eps_per_core: brk_core,
        gateway_broker_eps_wall: brk_wall,
        gateway_broker_delivery: brk_delivery,
        direct_producer_eps_per_core: direct,
        direct_producer_delivery: direct_delivery,
        http_sink_eps_per_core: sink_core,
        pipeline_eps_per_core: pipe_core,
        pipeline_events: pipe_events,
        pipeline_unique_dedup_eps_per_core: unique[0].0,
        pipeline_unique_no_dedup_eps_per_core: unique[1].0,
        pipeline_unique_events: unique[0].1,
        pipeline_iceberg_eps_per_core: unique[2].0,
        generator_eps_per_core: gen_core,
        ratio_gateway_to_direct: buf_core / direct.max(1.0),
        ratio_gateway_broker_to_direct: brk_core / direct.max(1.0),
        ratio_gateway_to_http_sink: buf_core / sink_core.max(1.0),
        latency,
        edge: edge_cost,
        producer_sweep,
    };
    write(&report, &args.out)?;
    Ok(report)
}

/// The Markdown table.
pub fn markdown(r: &Report) -> String {
    let mut s = format!(
        "# Tributary benchmark\n\n{} on {}\n\nStandard mix: {}-event gzip batches, ~{}-byte events, schema validation on (3 JSON Schema : 1 protobuf). Throughput is per CPU core of the process doing the work (CPU time from /proc), so the figures hold on a shared machine. Delivery: events acknowledged in the measurement against records that reached Kafka.\n\n| What | events/s per core | ratio | delivered |\n|---|---:|---:|---:|\n",
        r.date, r.machine, r.batch_events, r.event_bytes
    );
    // A measurement that lost acknowledged events has no throughput.
    let rate = |eps: f64, d: &Delivery| {
        if d.complete() {
            format!("{eps:.0}")
        } else {
            "—".to_owned()
        }
    };
    s += &format!(
        "| gateway, ack = buffered | {} | | {} |\n",
        rate(
            r.gateway_buffered_eps_per_core,
            &r.gateway_buffered_delivery
        ),
        r.gateway_buffered_delivery.cell()
    );
    s += &format!(
        "| gateway, ack = broker | {} | | {} |\n",
        rate(r.gateway_broker_eps_per_core, &r.gateway_broker_delivery),
        r.gateway_broker_delivery.cell()
    );
    s += &format!(
        "| gateway, ack = buffered, every edge stage on (geo, agent, privacy rules) | {} | {:+.1} % CPU per event vs off ({:.0}) | {} |\n",
        rate(r.edge.on_eps_per_core, &r.edge.on_delivery),
        r.edge.cpu_overhead * 100.0,
        r.edge.off_eps_per_core,
        r.edge.on_delivery.cell()
    );
    s += &format!(
        "| direct rdkafka producer (broker-side ceiling, the gateway's producer settings) | {} | gateway / direct = {:.2} buffered, {:.2} broker | {} |\n",
        rate(r.direct_producer_eps_per_core, &r.direct_producer_delivery),
        r.ratio_gateway_to_direct,
        r.ratio_gateway_broker_to_direct,
        r.direct_producer_delivery.cell()
    );
    s += &format!(
        "| minimal hyper server (HTTP-only ceiling) | {:.0} | gateway / sink = {:.2} | (discards) |\n",
        r.http_sink_eps_per_core, r.ratio_gateway_to_http_sink
    );
    s += &format!(
        "| pipeline Kafka → Parquet, local store (`[dedup]` off: the mix repeats its pool's ids) | {:.0} | | {} records read |\n",
        r.pipeline_eps_per_core, r.pipeline_events
    );
    s += &format!(
        "| pipeline over the direct producer's records (a unique id each), `[dedup]` on (default) | {:.0} | {:.2} of dedup off ({:.0}) | {} records read |\n",
        r.pipeline_unique_dedup_eps_per_core,
        r.pipeline_unique_dedup_eps_per_core / r.pipeline_unique_no_dedup_eps_per_core.max(1.0),
        r.pipeline_unique_no_dedup_eps_per_core,
        r.pipeline_unique_events
    );
    s += &format!(
        "| pipeline over the same records into an Apache Iceberg table (SQLite catalog, a snapshot per segment), `[dedup]` on | {:.0} | {:.2} of Parquet with dedup on | {} records read |\n",
        r.pipeline_iceberg_eps_per_core,
        r.pipeline_iceberg_eps_per_core / r.pipeline_unique_dedup_eps_per_core.max(1.0),
        r.pipeline_unique_events
    );
    s += &format!(
        "| load generator (driving the gateway) | {:.0} | | |\n",
        r.generator_eps_per_core
    );
    if !r.delivered_all() {
        s += "\n**This run lost acknowledged events: its throughput figures do not count.**\n";
    }
    s += &format!(
        "\nWall-clock gateway throughput on this shared machine (generator, Kafka and gateway on the same cores): {:.0} events/s buffered, {:.0} broker.\n\n| offered (share of max) | offered events/s | achieved events/s | p50 ms | p90 ms | p99 ms | failed requests | delivered |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        r.gateway_buffered_eps_wall, r.gateway_broker_eps_wall
    );
    for p in &r.latency {
        s += &format!(
            "| {:.0}% | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} |\n",
            p.fraction * 100.0,
            p.offered_eps,
            p.achieved_eps,
            p.p50_ms,
            p.p90_ms,
            p.p99_ms,
            p.failed,
            p.delivery.cell()
        );
    }
    s += "\n![latency against offered rate](latest.svg)\n";
    if let Some(base) = r.producer_sweep.first() {
        s += "\n## librdkafka's part\n\nThe direct producer under one changed setting or record layout at a time (statistics every second, to count the bytes sent). Bytes sent per record is what the brokers receive, store and replicate.\n\n| variant | records/s per core | vs defaults | bytes sent per record | delivered |\n|---|---:|---:|---:|---:|\n";
        for p in &r.producer_sweep {
            s += &format!(
                "| {} | {} | {:.2} | {:.0} | {} |\n",
                p.name,
                rate(p.records_per_core, &p.delivery),
                p.records_per_core / base.records_per_core.max(1.0),
                p.wire_bytes_per_record,
                p.delivery.cell()
            );
        }
    }
    s
}

/// An SVG plot of latency percentiles against offered rate.
pub fn svg(r: &Report) -> String {
    let (w, h, m) = (640.0, 400.0, 60.0);
    let max_x = r.latency.iter().map(|p| p.offered_eps).fold(1.0, f64::max);
    let max_y = r.latency.iter().map(|p| p.p99_ms).fold(1.0, f64::max) * 1.1;
    let x = |v: f64| m + v / max_x * (w - 2.0 * m);
    let y = |v: f64| h - m - v / max_y * (h - 2.0 * m);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="20" text-anchor="middle" font-size="14">Gateway latency against offered rate ({})</text>
<line x1="{m}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{m}" y1="{m}" x2="{m}" y2="{}" stroke="black"/>
<text x="{}" y="{}" text-anchor="middle">offered events/s</text>
<text x="15" y="{}" transform="rotate(-90 15 {})" text-anchor="middle">latency, ms</text>
"#,
        w / 2.0,
        r.date,
        h - m,
        w - m,
        h - m,
        h - m,
        w / 2.0,
        h - 15.0,
        h / 2.0,
        h / 2.0
    );
    for i in 0..=4 {
        let v = max_y * f64::from(i) / 4.0;
        s += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v:.1}</text>\n",
            m - 5.0,
            y(v) + 4.0
        );
        let xv = max_x * f64::from(i) / 4.0;
        s += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{xv:.0}</text>\n",
            x(xv),
            h - m + 16.0
        );
    }
    for (name, color, get) in [
        (
            "p50",
            "#1b9e77",
            (|p: &LatencyPoint| p.p50_ms) as fn(&LatencyPoint) -> f64,
        ),
        ("p90", "#7570b3", |p: &LatencyPoint| p.p90_ms),
        ("p99", "#d95f02", |p: &LatencyPoint| p.p99_ms),
    ] {
        let pts: Vec<String> = r
            .latency
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.offered_eps), y(get(p))))
            .collect();
        s += &format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n",
            pts.join(" ")
        );
        for p in &r.latency {
            s += &format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>\n",
                x(p.offered_eps),
                y(get(p))
            );
        }
        if let Some(last) = r.latency.last() {
            s += &format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{name}</text>\n",
                x(last.offered_eps) - 30.0,
                y(get(last)) - 6.0
            );
        }
    }
    s += "</svg>\n";
    s
}

fn write(r: &Report, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("latest.json"), serde_json::to_string_pretty(r)?)?;
    std::fs::write(out.join("latest.md"), markdown(r))?;
    std::fs::write(out.join("latest.svg"), svg(r))?;
    Ok(())
}
