//! Shared helpers for Tributary's end-to-end tests: finding the real Kafka,
//! starting a gateway on an ephemeral port, sending requests, and reading
//! topics back.
//!
//! The broker is the real Apache Kafka started by `scripts/kafka start`
//! (`scripts/test` does it), or any cluster named by `TRIBUTARY_TEST_KAFKA`.
//! A test that cannot reach it fails with a message saying so; it is never
//! skipped.

mod lake;
mod minio;
mod redis;
pub use lake::*;
pub use minio::MinioServer;
pub use redis::RedisServer;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tributary_gateway::Gateway;
use tributary_gateway::config::{AckMode, Config, RouteConfig, WriteKeyConfig};

/// The variable naming an external Kafka cluster for tests.
pub const KAFKA_ENV: &str = "TRIBUTARY_TEST_KAFKA";
/// Write key of the test app whose default mode is `broker`.
pub const KEY_BROKER: &str = "test-key-broker";
/// Write key of the test app whose default mode is `buffered`.
pub const KEY_BUFFERED: &str = "test-key-buffered";
/// App id bound to both test keys.
pub const APP: &str = "testapp";

/// Bootstrap servers of the test cluster, after checking it answers.
pub fn kafka() -> String {
    let bootstrap = std::env::var(KAFKA_ENV).unwrap_or_else(|_| "127.0.0.1:9092".into());
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("create Kafka client");
    if let Err(e) = consumer.fetch_metadata(None, Duration::from_secs(15)) {
        panic!(
            "Kafka is not reachable at {bootstrap} ({e}). These tests need a real broker: \
             run `scripts/kafka start` (scripts/test does), or set {KAFKA_ENV} to a cluster's bootstrap servers."
        );
    }
    bootstrap
}

/// Runs `scripts/kafka <action>` (`stop`, `start`) on the local broker,
/// for the tests that take Kafka away; such a test runs alone in its own
/// test binary.
pub fn kafka_script(action: &str) {
    assert!(
        std::env::var(KAFKA_ENV).is_err(),
        "this test stops and starts the local broker with scripts/kafka; unset {KAFKA_ENV}"
    );
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka");
    let status = std::process::Command::new(script)
        .arg(action)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run scripts/kafka");
    assert!(status.success(), "scripts/kafka {action} failed");
}

/// A topic prefix no other test (or earlier run) uses.
pub fn unique_prefix(name: &str) -> String {
    format!("t.{name}.{}.", uuid::Uuid::new_v4().simple())
}

/// A gateway configuration for tests: ephemeral port, the given cluster,
/// both test keys, and routes for the events the tests send.
pub fn test_config(bootstrap: &str, prefix: &str) -> Config {
    let mut c = Config::default();
    c.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    c.server.shutdown_grace_ms = 10_000;
    c.kafka.brokers = bootstrap.to_owned();
    c.kafka.topic_partitions = 3;
    c.kafka.statistics_interval_ms = 500;
    c.routing.topic_prefix = prefix.to_owned();
    // Each gateway gets its own spool: a spool belongs to one process.
    c.spool.dir = std::env::temp_dir().join(format!("tributary-spool-{prefix}"));
    for event in ["Order Completed", "Product Viewed"] {
        c.routing.routes.push(RouteConfig {
            event: event.into(),
            app: None,
            topic: None,
            ack: None,
            cluster: None,
        });
    }
    c.keys = vec![
        WriteKeyConfig {
            key: KEY_BROKER.into(),
            app_id: APP.into(),
            ack: Some(AckMode::Broker),
            ..WriteKeyConfig::default()
        },
        WriteKeyConfig {
            key: KEY_BUFFERED.into(),
            app_id: APP.into(),
            ack: Some(AckMode::Buffered),
            ..WriteKeyConfig::default()
        },
    ];
    c
}

/// Starts a gateway in-process.
pub async fn start_gateway(config: Config) -> Gateway {
    Gateway::start(config).await.expect("gateway starts")
}

/// The gateway's event topics (all but the dead-letter topic).
pub fn event_topics(gw: &Gateway) -> Vec<String> {
    gw.topics()
        .into_iter()
        .filter(|t| !t.ends_with("dead_letter"))
        .collect()
}

/// A response: status, headers and body parsed as JSON (or `Null`).
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: http::HeaderMap,
    /// JSON body, or `Value::Null` if the body was not JSON.
    pub json: serde_json::Value,
}

/// A small HTTP client for the gateway.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl HttpClient {
    /// A client for the gateway at `addr`.
    pub fn new(addr: SocketAddr) -> HttpClient {
        HttpClient {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{addr}"),
        }
    }

    /// Sends a request with the given method, path, headers and body.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body))).expect("request");
        let resp = self.client.request(req).await.expect("gateway answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Reply {
            status,
            headers,
            json,
        }
    }

    /// Sends a body-less request and returns the response body as text.
    pub async fn request_text(&self, method: &str, path: &str) -> String {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let resp = self.client.request(req).await.expect("gateway answers");
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// POSTs `body` to `path` with a Basic write key, gzipped if asked.
    pub async fn post(&self, path: &str, key: &str, body: &[u8], gzip_it: bool) -> Reply {
        self.post_with(path, key, body, gzip_it, &[]).await
    }

    /// Posts `events` as one `/v1/batch` request with write key `key`.
    pub async fn post_events(
        &self,
        key: &str,
        events: &[serde_json::Value],
        gzip_it: bool,
    ) -> Reply {
        let body = serde_json::to_vec(&serde_json::json!({ "batch": events })).expect("JSON");
        self.post("/v1/batch", key, &body, gzip_it).await
    }

    /// [`HttpClient::post`] with `extra` request headers
    /// (`X-Forwarded-For`, `User-Agent`, …).
    pub async fn post_with(
        &self,
        path: &str,
        key: &str,
        body: &[u8],
        gzip_it: bool,
        extra: &[(&str, &str)],
    ) -> Reply {
        use base64::Engine as _;
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
        );
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        headers.extend_from_slice(extra);
        let body = if gzip_it {
            headers.push(("content-encoding", "gzip"));
            gzip(body)
        } else {
            body.to_vec()
        };
        self.request("POST", path, &headers, body).await
    }
}

/// Gzips bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// One record read back from Kafka.
#[derive(Debug, Clone)]
pub struct Received {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Record key as text.
    pub key: String,
    /// Headers by name (UTF-8).
    pub headers: BTreeMap<String, String>,
    /// Value parsed as JSON (`Null` when it is not JSON, e.g. framed).
    pub value: serde_json::Value,
    /// Value bytes as written.
    pub raw: Vec<u8>,
}

/// Reads every record of `topics` from the beginning until `expected`
/// records have arrived, then keeps reading for `settle` more to catch
/// duplicates, or gives up after `timeout`.
pub fn consume(
    bootstrap: &str,
    topics: &[String],
    expected: usize,
    settle: Duration,
    timeout: Duration,
) -> Vec<Received> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("test-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for t in topics {
        let md = consumer
            .fetch_metadata(Some(t), Duration::from_secs(10))
            .expect("topic metadata");
        for topic in md.topics() {
            for p in topic.partitions() {
                tpl.add_partition_offset(t, p.id(), Offset::Beginning)
                    .expect("partition");
            }
        }
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let start = Instant::now();
    let mut reached: Option<Instant> = None;
    loop {
        if let Some(t) = reached
            && t.elapsed() >= settle
        {
            break;
        }
        if start.elapsed() >= timeout {
            break;
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let mut headers = BTreeMap::new();
                if let Some(h) = m.headers() {
                    for hd in h.iter() {
                        let v = hd
                            .value
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                            .unwrap_or_default();
                        headers.insert(hd.key.to_owned(), v);
                    }
                }
                out.push(Received {
                    topic: m.topic().to_owned(),
                    partition: m.partition(),
                    key: m
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned())
                        .unwrap_or_default(),
                    headers,
                    value: m
                        .payload()
                        .and_then(|p| serde_json::from_slice(p).ok())
                        .unwrap_or(serde_json::Value::Null),
                    raw: m.payload().unwrap_or_default().to_vec(),
                });
                if out.len() >= expected && reached.is_none() {
                    reached = Some(Instant::now());
                }
            }
            Some(Err(e)) => panic!("consume error: {e}"),
            None => {}
        }
    }
    out
}

/// A gateway running as a separate process (for kills and memory checks).
pub struct GatewayProcess {
    /// The process.
    pub child: std::process::Child,
    /// Its listening address.
    pub addr: SocketAddr,
    /// Every line it has printed (its JSON log) so far.
    pub output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl GatewayProcess {
    /// Starts the binary with `--config path` and waits for its address.
    pub fn start(config: &std::path::Path) -> GatewayProcess {
        GatewayProcess::start_with(config, &[])
    }

    /// [`GatewayProcess::start`] with extra environment (`RUST_LOG`, say).
    pub fn start_with(config: &std::path::Path, env: &[(&str, &str)]) -> GatewayProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(gateway_binary())
            .args(["--config", config.to_str().expect("utf-8 path")])
            .env("TRIBUTARY_LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn gateway");
        let out = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(out).lines();
        let line = lines.next().expect("address line").expect("read");
        let addr = line
            .rsplit("http://")
            .next()
            .expect("address")
            .parse()
            .expect("address");
        // Keep reading: a closed pipe would fail the gateway's later prints.
        let output = std::sync::Arc::new(std::sync::Mutex::new(vec![line]));
        let keep = output.clone();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                keep.lock().expect("log lines").push(l);
            }
        });
        let err = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        let keep = output.clone();
        std::thread::spawn(move || {
            for l in err.lines().map_while(Result::ok) {
                keep.lock().expect("log lines").push(l);
            }
        });
        GatewayProcess {
            child,
            addr,
            output,
        }
    }

    /// Peak resident memory of the process so far, in KiB (VmHWM).
    pub fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
            })
            .unwrap_or(0)
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a gateway config for a process under test: the test cluster,
/// both test keys, one route, its own spool; `extra` is appended verbatim.
pub fn write_process_config(dir: &std::path::Path, prefix: &str, extra: &str) -> PathBuf {
    write_process_config_at(dir, prefix, "127.0.0.1:0", extra)
}

/// [`write_process_config`] listening on `listen` (a fixed port, for tests
/// that stop the gateway and start it again where clients expect it).
pub fn write_process_config_at(
    dir: &std::path::Path,
    prefix: &str,
    listen: &str,
    extra: &str,
) -> PathBuf {
    let kafka = format!("brokers = \"{}\"\nmessage_timeout_ms = 5000", kafka());
    write_process_config_with_kafka(dir, prefix, listen, &kafka, extra)
}

/// [`write_process_config_at`] with its own `[kafka]` section body (another
/// cluster, other timeouts).
pub fn write_process_config_with_kafka(
    dir: &std::path::Path,
    prefix: &str,
    listen: &str,
    kafka_section: &str,
    extra: &str,
) -> PathBuf {
    let path = dir.join("gateway.toml");
    let text = format!(
        r#"
[server]
listen = "{listen}"
[kafka]
{kafka_section}
[routing]
topic_prefix = "{prefix}"
[[routing.routes]]
event = "Order Completed"
[spool]
dir = "{spool}"
[[keys]]
key = "{KEY_BROKER}"
app_id = "{APP}"
ack = "broker"
[[keys]]
key = "{KEY_BUFFERED}"
app_id = "{APP}"
ack = "buffered"
{extra}
"#,
        spool = dir.join("spool").display(),
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// Path of the built `tributary-gateway` binary: `TRIBUTARY_GATEWAY_BIN`,
/// else next to the test executable's `deps/` directory.
pub fn gateway_binary() -> PathBuf {
    if let Ok(p) = std::env::var("TRIBUTARY_GATEWAY_BIN") {
        return PathBuf::from(p);
    }
    workspace_binary("tributary-gateway")
}

/// Path of a workspace binary built next to the test executable.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} not found: build the workspace binaries first with `cargo build --workspace --bins` (scripts/test does)",
        bin.display()
    );
    bin
}

/// The repository's example schemas (`schemas/shop/`), installed for the
/// test app [`APP`] in a temporary schema directory.
pub fn app_schema_dir() -> tempfile::TempDir {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/shop");
    let dir = tempfile::tempdir().expect("temp dir");
    for event in ["order_completed", "checkout_started"] {
        let to = dir.path().join(APP).join(event);
        std::fs::create_dir_all(&to).expect("schema dir");
        for f in std::fs::read_dir(repo.join(event))
            .expect("repo schemas")
            .flatten()
        {
            std::fs::copy(f.path(), to.join(f.file_name())).expect("copy schema");
        }
    }
    dir
}

/// [`test_config`] with a route for `Checkout Started` and schema
/// validation against the schema directory `dir` (see [`app_schema_dir`]).
pub fn schema_test_config(prefix: &str, dir: &std::path::Path) -> Config {
    let mut cfg = test_config(&kafka(), prefix);
    cfg.routing.routes.push(RouteConfig {
        event: "Checkout Started".into(),
        app: None,
        topic: None,
        ack: None,
        cluster: None,
    });
    cfg.schemas.source = tributary_gateway::config::SchemaSourceKind::Dir;
    cfg.schemas.dir = dir.to_path_buf();
    cfg
}

/// Sends SIGTERM to `child` and asserts it exits 0.
pub fn terminate_gracefully(child: &mut std::process::Child) {
    let pid = child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "SIGTERM to {pid}");
    let status = child.wait().expect("wait");
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
}

/// Prints a test's headline figures (events delivered, rows read, …) to
/// the process's stderr directly, past the test harness's output capture,
/// so the test run's log (and CI's) carries them without `--nocapture`.
pub fn report(line: impl std::fmt::Display) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The gateway's count of events SDKs reported dropped for `reason` (their
/// client reports), read from a `/metrics` text; 0 when absent.
pub fn client_dropped(metrics: &str, reason: &str) -> u64 {
    let line = format!("tributary_client_dropped_events_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&line))
        .map_or(0, |v| v.trim().parse().unwrap_or(0))
}

/// What one load-test chaos run reported.
pub struct ChaosRun {
    /// The loadtest's exit code.
    pub code: i32,
    /// Its JSON report.
    pub report: serde_json::Value,
}

impl ChaosRun {
    /// Runs `cmd` (a `tributary-loadtest run … --json out` command) and
    /// checks what every chaos run must show: it answered in `mode`, all
    /// `faults` ran, and more than 1,000 events were acknowledged.
    pub fn run(
        mut cmd: std::process::Command,
        out: &std::path::Path,
        mode: &str,
        faults: usize,
    ) -> ChaosRun {
        let code = cmd
            .status()
            .expect("run tributary-loadtest")
            .code()
            .unwrap_or(-1);
        let text = std::fs::read_to_string(out).expect("the load test wrote its report");
        let report: serde_json::Value = serde_json::from_str(&text).expect("report JSON");
        assert_eq!(
            report["delivery_mode"], mode,
            "answered in another mode: {report}"
        );
        let chaos = report["chaos"].as_array().cloned().unwrap_or_default();
        assert!(
            chaos.len() == faults && chaos.iter().all(|c| c["ok"] == true),
            "{mode}: the faults ran: {chaos:?}"
        );
        let d = &report["delivery"];
        assert!(
            d["acknowledged"].as_u64().unwrap_or(0) > 1000,
            "{mode}: {d}"
        );
        ChaosRun { code, report }
    }

    /// The delivery figures.
    pub fn delivery(&self) -> &serde_json::Value {
        &self.report["delivery"]
    }

    /// One row of a table of runs: `label`, mode, delivery figures, exit code.
    pub fn row(&self, label: &str, mode: &str) -> String {
        let d = self.delivery();
        format!(
            "{label:<20} {mode:<9} acknowledged {:>6} delivered {:>6} lost {:>4} duplicated {:>4} exit {}",
            d["acknowledged"], d["delivered"], d["lost"], d["duplicated"], self.code
        )
    }
}

/// `tributary-loadtest run` of the shipped scenario `name` against
/// `targets`, with `key`, verifying in `kafka` under `prefix`, writing its
/// JSON report to `out`.
pub fn loadtest_command(
    name: &str,
    targets: &[String],
    key: &str,
    kafka: &str,
    prefix: &str,
    out: &std::path::Path,
) -> std::process::Command {
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../loadtest/scenarios")
        .join(format!("{name}.toml"));
    let mut c = std::process::Command::new(workspace_binary("tributary-loadtest"));
    c.arg("run").arg(scenario);
    for t in targets {
        c.args(["--target", t]);
    }
    c.args([
        "--write-key",
        key,
        "--kafka",
        kafka,
        "--topic-prefix",
        prefix,
    ])
    .arg("--json")
    .arg(out);
    c
}
