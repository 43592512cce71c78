//! Pipeline configuration: one TOML file, one typed struct per section,
//! every field documented with its default. [`Config::validate`] runs at
//! start-up and names every problem. `pipeline/tributary-pipeline.example.toml`
//! is the annotated reference copy (parsed by a test).

use serde::Deserialize;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[kafka]`: the cluster, consumer group and topics.
    pub kafka: KafkaConfig,
    /// `[store]`: where Parquet objects go.
    pub store: StoreConfig,
    /// `[lake]`: plain Parquet files or Apache Iceberg tables.
    pub lake: LakeConfig,
    /// `[offload]`: segment rotation.
    pub offload: OffloadConfig,
    /// `[dedup]`: repeated events dropped.
    pub dedup: DedupConfig,
    /// `[erasure]`: erased users' rows kept out of the lake.
    pub erasure: ErasureConfig,
    /// `[schemas]`: how schema-encoded values are decoded and typed.
    pub schemas: SchemasConfig,
    /// `[health]`: app-health metrics.
    pub health: HealthConfig,
    /// `[server]`: the metrics and health endpoint.
    pub server: ServerConfig,
}

/// `[kafka]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers. Default `127.0.0.1:9092`.
    pub brokers: String,
    /// Consumer group; every replica of one pipeline uses the same one and
    /// Kafka spreads the partitions. Default `tributary-pipeline`.
    pub group_id: String,
    /// Topics to offload: names, or one regular expression starting with
    /// `^`. Default `["^tributary\\..*"]` (every topic the gateway writes
    /// with its default prefix, including the dead-letter topic).
    pub topics: Vec<String>,
    /// The gateway's dead-letter topic, offloaded to its own layout.
    /// Default `tributary.dead_letter`.
    pub dead_letter_topic: String,
    /// librdkafka statistics interval (consumer lag metrics), ms. Default 5000.
    pub statistics_interval_ms: u64,
    /// Extra librdkafka consumer settings.
    pub consumer: std::collections::BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            group_id: "tributary-pipeline".into(),
            topics: vec!["^tributary\\..*".into()],
            dead_letter_topic: "tributary.dead_letter".into(),
            statistics_interval_ms: 5000,
            consumer: Default::default(),
        }
    }
}

/// `[store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Object store URL: `file:///var/lib/tributary/lake` (local
    /// filesystem), `s3://bucket/prefix` (S3 and S3-compatible endpoints,
    /// credentials from the usual `AWS_*` environment variables), or
    /// `memory://` (tests). Default `file://./lake`.
    pub url: String,
    /// Custom S3 endpoint (MinIO, Ceph, R2, ...). Default: AWS.
    pub s3_endpoint: Option<String>,
    /// S3 region. Default `AWS_REGION` or `us-east-1`.
    pub s3_region: Option<String>,
    /// Allow plain-HTTP S3 endpoints. Default `false`.
    pub s3_allow_http: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "file://./lake".into(),
            s3_endpoint: None,
            s3_region: None,
            s3_allow_http: false,
        }
    }
}

/// What the lake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LakeFormat {
    /// Plain Parquet objects under `event=<slug>/dt=/hr=/` (docs/pipeline.md,
    /// Layout); an object is in the lake once written.
    Parquet,
    /// One Apache Iceberg table per event type; a segment's data files are
    /// in the lake once appended in a snapshot, the exactly-once commit.
    Iceberg,
}

/// `[lake]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeConfig {
    /// `parquet` or `iceberg`. Default `parquet`.
    pub format: LakeFormat,
    /// The Iceberg namespace of the event tables. Default `tributary`.
    pub namespace: String,
    /// Where new tables' files go: a URL inside `store.url`. Default
    /// `<store.url>/iceberg`.
    pub warehouse: Option<String>,
    /// `[lake.catalog]`: the Iceberg catalog.
    pub catalog: CatalogConfig,
}

impl Default for LakeConfig {
    fn default() -> Self {
        LakeConfig {
            format: LakeFormat::Parquet,
            namespace: "tributary".into(),
            warehouse: None,
            catalog: CatalogConfig::default(),
        }
    }
}

/// The kind of Iceberg catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogKind {
    /// A SQL database (the JDBC catalog's tables, shared with Spark,
    /// Trino, PyIceberg): SQLite for development, Postgres in production.
    Sql,
    /// An Iceberg REST catalog (Apache Polaris, Snowflake Open Catalog,
    /// AWS Glue's REST endpoint, Nessie, ...).
    Rest,
}

/// `[lake.catalog]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogConfig {
    /// `sql` or `rest`. Default `sql`.
    pub kind: CatalogKind,
    /// `sql`: `sqlite:///path/catalog.db` or
    /// `postgres://user:password@host/database`; `rest`: the catalog's base
    /// URL. Default `sqlite://./lake/catalog.db`.
    pub uri: String,
    /// The catalog's name (the SQL catalog's `catalog_name` column).
    /// Default `tributary`.
    pub name: String,
    /// Further catalog properties (REST: `token`, `credential`,
    /// `warehouse`, `oauth2-server-uri`, `scope`; SQL:
    /// `pool.max-connections`). Default none.
    pub properties: std::collections::BTreeMap<String, String>,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig {
            kind: CatalogKind::Sql,
            uri: "sqlite://./lake/catalog.db".into(),
            name: "tributary".into(),
            properties: Default::default(),
        }
    }
}

/// `[offload]`: when a segment of a partition closes. Only facts of the
/// records themselves count (never the wall clock), so a replay from the
/// same offset closes at the same record and writes the same objects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OffloadConfig {
    /// Records per segment. Default 100000.
    pub max_records: usize,
    /// Encoded bytes (Kafka values) per segment; bounds memory per
    /// partition. Default 64 MiB.
    pub max_bytes: usize,
    /// Record-time span of a segment (Kafka record timestamps), seconds.
    /// Default 600.
    pub max_span_secs: u64,
    /// A record this much later (record time) than the previous one starts
    /// a new segment, so a partition that went quiet has its files closed
    /// by the next record or gateway heartbeat. Seconds. Default 60.
    pub idle_gap_secs: u64,
    /// Object name prefix inside the store. Default empty.
    pub prefix: String,
}

impl Default for OffloadConfig {
    fn default() -> Self {
        OffloadConfig {
            max_records: 100_000,
            max_bytes: 64 << 20,
            max_span_secs: 600,
            idle_gap_secs: 60,
            prefix: String::new(),
        }
    }
}

/// `[dedup]`: a repeated `(app, messageId)` in a partition within the
/// window of its first copy's receipt is dropped (see `dedup`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupConfig {
    /// Window, seconds of gateway receipt time; `0` turns dedup off.
    /// Default 86400 (24 hours).
    pub window_secs: u64,
    /// Hashes kept per partition (about 40 bytes each): past it the oldest
    /// go first, and the window a partition covers shrinks to
    /// `max_ids_per_partition / its event rate`. Default 1000000.
    pub max_ids_per_partition: usize,
    /// How far a partition's receipt times may step back (gateway replicas'
    /// clocks) and still be compared with hashes reloaded after a restart,
    /// seconds. Default 3600.
    pub reload_slack_secs: u64,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            window_secs: 86_400,
            max_ids_per_partition: 1_000_000,
            reload_slack_secs: 3600,
        }
    }
}

/// `[erasure]`: how the pipeline learns of erasure requests
/// (`tributary-pipeline erase`) in a plain Parquet lake (an Iceberg lake's
/// tables tell it at once).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErasureConfig {
    /// How often the requests are read again, seconds. Default 10.
    pub refresh_secs: u64,
    /// How long `erase` waits after recording a request before it rewrites
    /// a plain lake's files, so that files the pipeline was writing without
    /// knowing of it are finished; above `refresh_secs`. Seconds.
    /// Default 30.
    pub grace_secs: u64,
}

impl Default for ErasureConfig {
    fn default() -> Self {
        ErasureConfig {
            refresh_secs: 10,
            grace_secs: 30,
        }
    }
}

/// `[schemas]`: the same sources as the gateway's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemasConfig {
    /// Schema directory (the gateway's `schemas.dir`). Default none.
    pub dir: Option<PathBuf>,
    /// Or a Confluent-compatible registry URL (the gateway's registry API
    /// works too). Default none.
    pub registry_url: Option<String>,
}

/// `[health]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// App versions labelled per app; the rest are `other`. Default 10.
    pub top_versions: usize,
    /// Apps labelled; the rest are `other`. Default 50.
    pub max_apps: usize,
    /// Event names labelled per app; the rest are `other`. Default 50.
    pub max_event_names: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            top_versions: 10,
            max_apps: 50,
            max_event_names: 50,
        }
    }
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// `/metrics`, `/healthz`, `/readyz`. Default `127.0.0.1:9464`.
    pub listen: SocketAddr,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

impl Config {
    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))
    }

    /// Every problem, one per line.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = String::new();
        let mut bad = |m: &str| {
            let _ = writeln!(problems, "  - {m}");
        };
        if self.kafka.brokers.trim().is_empty() {
            bad("kafka.brokers is empty");
        }
        if self.kafka.topics.is_empty() {
            bad("kafka.topics is empty");
        }
        if self.kafka.topics.len() > 1 && self.kafka.topics.iter().any(|t| t.starts_with('^')) {
            bad("kafka.topics: give one regular expression or a list of names, not both");
        }
        let o = &self.offload;
        if o.max_records == 0 || o.max_bytes == 0 || o.max_span_secs == 0 || o.idle_gap_secs == 0 {
            bad("offload.max_records, max_bytes, max_span_secs and idle_gap_secs must be > 0");
        }
        if !(self.store.url.starts_with("file://")
            || self.store.url.starts_with("s3://")
            || self.store.url.starts_with("memory://"))
        {
            bad("store.url must start with file://, s3:// or memory://");
        }
        if self.lake.format == LakeFormat::Iceberg {
            let c = &self.lake.catalog;
            let sql = c.uri.starts_with("sqlite:") || c.uri.starts_with("postgres");
            match c.kind {
                CatalogKind::Sql if !sql => {
                    bad("lake.catalog.uri: a sql catalog takes sqlite:// or postgres:// URLs")
                }
                CatalogKind::Rest if !c.uri.starts_with("http") => {
                    bad("lake.catalog.uri: a rest catalog takes an http(s):// URL")
                }
                _ => {}
            }
            if self.lake.namespace.trim().is_empty() {
                bad("lake.namespace is empty");
            }
            if self.store.url.starts_with("memory://") {
                bad(
                    "lake.format = \"iceberg\" needs a file:// or s3:// store: other readers open the tables",
                );
            }
        }
        if self.schemas.dir.is_some() && self.schemas.registry_url.is_some() {
            bad("schemas: give dir or registry_url, not both");
        }
        if self.dedup.window_secs > 0 && self.dedup.max_ids_per_partition == 0 {
            bad("dedup.max_ids_per_partition must be > 0 (or window_secs = 0 for no dedup)");
        }
        if self.erasure.grace_secs <= self.erasure.refresh_secs {
            bad("erasure.grace_secs must be above erasure.refresh_secs");
        }
        if self.health.top_versions == 0 {
            bad("health.top_versions must be > 0");
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("invalid configuration:\n{problems}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tributary-pipeline.example.toml");
        let cfg = Config::load(&path).unwrap();
        cfg.validate().unwrap();
    }

    #[test]
    fn problems_are_named() {
        let mut c = Config::default();
        c.store.url = "ftp://x".into();
        c.offload.max_records = 0;
        let e = c.validate().unwrap_err();
        assert!(e.contains("store.url") && e.contains("max_records"), "{e}");
    }
}
