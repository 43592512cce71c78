//! Gateway configuration: one TOML file, one typed struct per section.
//!
//! Every field has a default, written in its doc comment, so an empty file
//! (or no file, with `--dev`) is a valid configuration. [`Config::validate`]
//! runs at start-up and reports every problem at once, naming the field.
//! `gateway/tributary.example.toml` is the annotated reference copy.

mod debugger;
mod edge;
mod hot_keys;
mod quotas;
mod sdk_settings;

pub use debugger::*;
pub use edge::*;
pub use hot_keys::*;
pub use quotas::*;
pub use sdk_settings::*;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[server]`: listener and shutdown.
    pub server: ServerConfig,
    /// `[limits]`: caps on request and event sizes.
    pub limits: LimitsConfig,
    /// `[kafka]`: the cluster and its producer.
    pub kafka: KafkaConfig,
    /// `[routing]`: which topic each event goes to.
    pub routing: RoutingConfig,
    /// `[schemas]`: schema registry, validation and schema encoding.
    pub schemas: SchemasConfig,
    /// `[delivery]`: acknowledgement mode and retries.
    pub delivery: DeliveryConfig,
    /// `[rate_limits]`: per write key and per client IP.
    pub rate_limits: RateLimitsConfig,
    /// `[overload]`: load shedding before the gateway degrades.
    pub overload: OverloadConfig,
    /// `[idempotency]`: memory of recent batch answers.
    pub idempotency: IdempotencyConfig,
    /// `[spool]`: the disk write-ahead log used while Kafka is unreachable.
    pub spool: SpoolConfig,
    /// `[auth]`: request signing and keys files.
    pub auth: AuthConfig,
    /// `[tls]`: TLS termination; absent = plain HTTP (e.g. behind a load
    /// balancer that terminates TLS).
    pub tls: Option<TlsConfig>,
    /// `[[keys]]`: the write keys this gateway accepts.
    pub keys: Vec<WriteKeyConfig>,
    /// `[log]`: log format and filter.
    pub log: LogConfig,
    /// `[enrichment]`: client IP, user agent, geo and bots on every event.
    pub enrichment: EnrichmentConfig,
    /// `[privacy]`: per-app privacy rules and suppression.
    pub privacy: PrivacyConfig,
    /// `[sdk_settings]`: what `GET /v1/settings` tells each app's SDKs.
    pub sdk_settings: SdkSettingsConfig,
    /// `[debugger]`: the live event debugger page.
    pub debugger: DebuggerConfig,
    /// `[hot_keys]`: the per-user rate past which events are spread.
    pub hot_keys: HotKeysConfig,
    /// `[quotas]`: per-app events per day and per month.
    pub quotas: QuotasConfig,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on. Default `0.0.0.0:8080`. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Time allowed on SIGTERM to finish in-flight requests and flush Kafka,
    /// in milliseconds. Default `10000`.
    pub shutdown_grace_ms: u64,
    /// Most open connections; past it the gateway stops accepting until one
    /// closes (clients queue in the TCP backlog). Default `25000`.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, and the longest an
    /// idle keep-alive connection waits for the next request, in ms.
    /// Default `10000`.
    pub header_timeout_ms: u64,
    /// Time a client has to send a request's body, in ms; slower gets 408
    /// `request_timeout`. Default `30000`.
    pub body_timeout_ms: u64,
    /// Most request headers; more gets 431. Default `64`.
    pub max_headers: usize,
    /// Largest request head (request line and headers), in bytes; larger
    /// gets 431. Default `16384`.
    pub max_header_bytes: usize,
    /// Proxies (CIDRs, or single addresses) whose `Forwarded` /
    /// `X-Forwarded-For` is believed: the client is the rightmost hop that
    /// is not one of them. Empty (the default): the connection's peer is
    /// the client, whatever the headers say.
    pub trusted_proxies: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            shutdown_grace_ms: 10_000,
            max_connections: 25_000,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            max_headers: 64,
            max_header_bytes: 16 << 10,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body as sent (compressed), in bytes; larger gets 413
    /// `payload_too_large`. Default `5242880` (5 MiB).
    pub max_body_bytes: usize,
    /// Largest body after decompression, in bytes; inflation stops at this
    /// size with 413 `decompressed_too_large`. Default `20971520` (20 MiB).
    pub max_decompressed_bytes: usize,
    /// Most inflated bytes per compressed byte; a body that inflates
    /// further is stopped while inflating (413 `decompressed_too_large`).
    /// Real telemetry compresses 5-20x. Default `200`.
    pub max_compression_ratio: usize,
    /// Most events in one batch; more gets 413 `too_many_events`.
    /// Default `5000`.
    pub max_events_per_batch: usize,
    /// Largest single event as JSON, in bytes; a larger event is rejected
    /// alone with `event_too_large`. Must stay below the topic's
    /// `max.message.bytes`. Default `524288` (512 KiB).
    pub max_event_bytes: usize,
    /// Deepest nesting of objects and arrays inside one event (the event
    /// object itself is level 1); deeper: `nesting_too_deep`, that event
    /// alone. Default `32`. The body is read without recursion, so any
    /// depth costs only its own bytes.
    pub max_nesting_depth: usize,
    /// Longest string (key or value) inside one event, in bytes as sent;
    /// longer: `string_too_long`, that event alone. Default `65536`.
    pub max_string_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: 5 << 20,
            max_decompressed_bytes: 20 << 20,
            max_compression_ratio: 200,
            max_events_per_batch: 5000,
            max_event_bytes: 512 << 10,
            max_nesting_depth: 32,
            max_string_bytes: 64 << 10,
        }
    }
}

/// `[kafka]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma-separated. Default empty, which starts the
    /// embedded in-memory cluster (as `--dev` does). Env: `TRIBUTARY_KAFKA_BROKERS`.
    pub brokers: String,
    /// Time the producer waits to fill a Kafka batch, in milliseconds. This
    /// is what merges events from many small requests into large Kafka
    /// batches. Default `5`.
    pub linger_ms: u64,
    /// Largest Kafka batch per partition, in bytes. Default `1000000`.
    pub batch_size: u64,
    /// Producer compression: `none`, `gzip`, `snappy` or `lz4` (this
    /// build's librdkafka has no zstd; the bench's sweep compares the rest).
    /// Default `lz4`.
    pub compression: String,
    /// Time Kafka has to acknowledge a record, including librdkafka's own
    /// retries, in milliseconds. Default `30000`.
    pub message_timeout_ms: u64,
    /// Bound of the producer queue in KiB: memory the gateway may hold for
    /// records not yet acknowledged. Default `262144` (256 MiB).
    pub queue_max_kbytes: u64,
    /// Bound of the producer queue in records. Default `1000000`.
    pub queue_max_messages: u64,
    /// Create missing topics at start-up. Default `true`.
    pub create_topics: bool,
    /// Partitions of topics the gateway creates. Default `3`.
    pub topic_partitions: i32,
    /// Replication factor of topics the gateway creates; `-1` takes the
    /// broker's default. Default `-1`.
    pub topic_replication: i32,
    /// Topic settings of topics the gateway (or `tributary onboard`)
    /// creates, e.g. `"retention.ms" = "604800000"`; the broker's defaults
    /// otherwise. Default none.
    pub topic_config: BTreeMap<String, String>,
    /// Extra librdkafka producer properties, passed through as given (e.g.
    /// `"security.protocol" = "SASL_SSL"`). They win over the fields above.
    pub producer: BTreeMap<String, String>,
    /// How often librdkafka reports its statistics (broker states, queue,
    /// round-trip times) to `/metrics`, in ms; 0 turns them off.
    /// Default `10000`.
    pub statistics_interval_ms: u64,
    /// Further clusters by name (`[kafka.clusters.<name>]`); routes choose
    /// one with `cluster = "<name>"`. The cluster above is named `default`.
    /// Each gets its own producer, health and spool, and shares the tuning
    /// above.
    pub clusters: BTreeMap<String, NamedClusterConfig>,
}

/// `[kafka.clusters.<name>]`: another Kafka cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedClusterConfig {
    /// Bootstrap servers. Required.
    pub brokers: String,
    /// Extra librdkafka properties for this cluster (security, …).
    #[serde(default)]
    pub producer: BTreeMap<String, String>,
}

/// Name of the cluster configured directly under `[kafka]`.
pub const DEFAULT_CLUSTER: &str = "default";

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: String::new(),
            linger_ms: 5,
            batch_size: 1_000_000,
            compression: "lz4".into(),
            message_timeout_ms: 30_000,
            queue_max_kbytes: 256 * 1024,
            queue_max_messages: 1_000_000,
            create_topics: true,
            topic_partitions: 3,
            topic_replication: -1,
            topic_config: BTreeMap::new(),
            producer: BTreeMap::new(),
            statistics_interval_ms: 10_000,
            clusters: BTreeMap::new(),
        }
    }
}

impl KafkaConfig {
    /// Cluster names in index order: `default` first, then the named ones.
    pub fn cluster_names(&self) -> Vec<String> {
        std::iter::once(DEFAULT_CLUSTER.to_owned())
            .chain(self.clusters.keys().cloned())
            .collect()
    }

    /// Whether the embedded in-memory cluster is used.
    pub fn embedded(&self) -> bool {
        self.brokers.trim().is_empty()
    }
}

/// What happens to a track event whose name has no route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnroutedPolicy {
    /// Send it to `routing.catch_all_topic` with header `tb-unrouted: true`.
    CatchAll,
    /// Reject the event with `unrouted_event`.
    Reject,
}

/// `[routing]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Prefix of every topic name the gateway derives. Default `tributary.`.
    pub topic_prefix: String,
    /// Policy for track events with no route: `catch_all` or `reject`.
    /// Default `catch_all`.
    pub unrouted: UnroutedPolicy,
    /// Topic for unrouted events. Default `<topic_prefix>unrouted`.
    pub catch_all_topic: Option<String>,
    /// Topic for dead letters: events rejected at ingest and records Kafka
    /// refused for good, with headers saying why. Default
    /// `<topic_prefix>dead_letter`.
    pub dead_letter_topic: Option<String>,
    /// One entry per event type that gets its own topic.
    pub routes: Vec<RouteConfig>,
    /// More routes from a file of `[[routes]]` entries (what `tributary
    /// onboard` adds to), read at start-up and again when it changes
    /// (checked every `routes_file_poll_secs`) or on SIGHUP: new routes'
    /// topics are checked (or created) first, then the routes are in
    /// force. A route of the file wins over one of this section for the
    /// same event. Default none.
    pub routes_file: Option<std::path::PathBuf>,
    /// Default `5`.
    pub routes_file_poll_secs: u64,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            topic_prefix: "tributary.".into(),
            unrouted: UnroutedPolicy::CatchAll,
            catch_all_topic: None,
            dead_letter_topic: None,
            routes: Vec::new(),
            routes_file: None,
            routes_file_poll_secs: 5,
        }
    }
}

/// `[[routing.routes]]`: one event type and its topic.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The track event name (`"Order Completed"`), or a kind other than
    /// track (`"identify"`, `"page"`, ...) to move that kind's topic.
    pub event: String,
    /// Limit the route to one app id. Default: every app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Topic. Default: `<topic_prefix>` + the event name in lower case with
    /// runs of characters Kafka does not allow replaced by `_`
    /// (`tributary.order_completed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Delivery mode for this event type, overriding the write key's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<AckMode>,
    /// The Kafka cluster of this event type (a `[kafka.clusters]` name).
    /// Default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// Where the gateway's schemas come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaSourceKind {
    /// No registry: events are not validated; values are the normalised
    /// event JSON with `tb-schema: none`.
    None,
    /// A schema directory (`schemas.dir`), reloaded when a file changes.
    Dir,
    /// A Confluent-compatible registry (`schemas.registry_url`), refreshed
    /// every `schemas.refresh_secs`.
    Registry,
}

/// What happens to an event with no registered schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnregisteredPolicy {
    /// Reject it with `unregistered_event` (and dead-letter it).
    Reject,
    /// Send it, unvalidated and as plain JSON, to `schemas.unvalidated_topic`
    /// with header `tb-unvalidated: true`.
    Accept,
}

/// `[schemas]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemasConfig {
    /// `none`, `dir` or `registry`. Default `none`.
    pub source: SchemaSourceKind,
    /// Schema directory for `source = "dir"`. Default `schemas`.
    pub dir: std::path::PathBuf,
    /// Registry URL for `source = "registry"`. No default.
    pub registry_url: Option<String>,
    /// `user:password` for a registry that needs basic auth. Default none.
    pub registry_basic_auth: Option<String>,
    /// Seconds between checks of the directory for changes, or refreshes
    /// from the registry. While the registry is unreachable the schemas
    /// already loaded stay in force. Default 10.
    pub refresh_secs: u64,
    /// Policy for events with no schema: `reject` or `accept`. Default
    /// `reject`.
    pub unregistered: UnregisteredPolicy,
    /// Per-app override of `unregistered`: `[schemas.apps.<app_id>]`.
    pub apps: BTreeMap<String, AppSchemaConfig>,
    /// Topic of events accepted without a schema. Default
    /// `<topic_prefix>unvalidated`.
    pub unvalidated_topic: Option<String>,
    /// Serve the read side of the Confluent Schema Registry API
    /// (`GET /schemas/ids/{id}`, `/subjects`, ...) so consumers' Confluent
    /// deserializers can point at the gateway. Unauthenticated, like
    /// `/metrics`: expose it on internal networks only. Default `true`.
    pub serve_registry_api: bool,
}

impl Default for SchemasConfig {
    fn default() -> Self {
        SchemasConfig {
            source: SchemaSourceKind::None,
            dir: "schemas".into(),
            registry_url: None,
            registry_basic_auth: None,
            refresh_secs: 10,
            unregistered: UnregisteredPolicy::Reject,
            apps: BTreeMap::new(),
            unvalidated_topic: None,
            serve_registry_api: true,
        }
    }
}

impl SchemasConfig {
    /// The unregistered-event policy of `app`.
    pub fn unregistered_policy(&self, app: &str) -> UnregisteredPolicy {
        self.apps
            .get(app)
            .and_then(|a| a.unregistered)
            .unwrap_or(self.unregistered)
    }
}

/// `[schemas.apps.<app_id>]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSchemaConfig {
    /// This app's policy for events with no schema. Default: `schemas.unregistered`.
    #[serde(default)]
    pub unregistered: Option<UnregisteredPolicy>,
}

/// When the gateway answers a request, relative to Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AckMode {
    /// Answer 200 once Kafka has acknowledged every event of the request.
    Broker,
    /// Answer 202 once events are in the producer's bounded queue; the
    /// gateway retries failed deliveries itself.
    Buffered,
}

/// `[delivery]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Default delivery mode: `broker` or `buffered`. Default `broker`.
    pub ack: AckMode,
    /// In `buffered` mode, how many times the gateway re-produces a record
    /// Kafka failed to take, each time to its key's partition (a keyless
    /// record: a random one). Default `3`.
    pub buffered_retries: u32,
    /// Bound of the queue of records waiting for such a retry; a failure
    /// that finds it full is counted as lost. Default `100000`.
    pub retry_queue: usize,
    /// Seconds between heartbeat records (header `tb-heartbeat: true`, empty
    /// value) written to every partition of every event topic, so the
    /// pipeline closes files of quiet partitions by record time. With
    /// several gateway replicas one of them is enough. `0` is off.
    /// Default `0`.
    pub heartbeat_secs: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            ack: AckMode::Broker,
            buffered_retries: 3,
            retry_queue: 100_000,
            heartbeat_secs: 0,
        }
    }
}

/// `[rate_limits]`: GCRA limits (the `governor` crate). A limit of 0 is off.
/// Key limits are defaults that each `[[keys]]` entry may override.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// Requests per second per write key. Default `1000`.
    pub key_requests_per_second: u32,
    /// Burst of requests per write key. Default `2000`.
    pub key_requests_burst: u32,
    /// Events per second per write key. Default `100000`.
    pub key_events_per_second: u32,
    /// Burst of events per write key. Default `200000`.
    pub key_events_burst: u32,
    /// Requests per second per client IP. Default `200`.
    pub ip_requests_per_second: u32,
    /// Burst of requests per client IP. Default `400`.
    pub ip_requests_burst: u32,
    /// Removed: it took the first `X-Forwarded-For` hop, which any client
    /// can write. Setting it is an error naming `server.trusted_proxies`.
    pub trust_forwarded_for: Option<bool>,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig {
            key_requests_per_second: 1000,
            key_requests_burst: 2000,
            key_events_per_second: 100_000,
            key_events_burst: 200_000,
            ip_requests_per_second: 200,
            ip_requests_burst: 400,
            trust_forwarded_for: None,
        }
    }
}

/// `[overload]`: bounds on work in progress. Past them the gateway answers
/// 503 `overloaded` with `Retry-After` instead of queueing without bound.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OverloadConfig {
    /// Requests being processed at once. Default `4096`.
    pub max_inflight_requests: usize,
    /// Request bytes (as sent) held at once. Default `536870912` (512 MiB).
    pub max_inflight_bytes: usize,
    /// Shed load once the producer queue holds this share of
    /// `kafka.queue_max_messages`… Default `0.8`.
    pub producer_high_watermark: f64,
    /// …and resume once it is back below this share. Default `0.5`.
    pub producer_low_watermark: f64,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        OverloadConfig {
            max_inflight_requests: 4096,
            max_inflight_bytes: 512 << 20,
            producer_high_watermark: 0.8,
            producer_low_watermark: 0.5,
        }
    }
}

/// `[tls]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: std::path::PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: std::path::PathBuf,
    /// PEM CA certificates; when set, clients must present a certificate
    /// signed by one of them (mTLS). Default: no client certificates.
    #[serde(default)]
    pub client_ca_file: Option<std::path::PathBuf>,
    /// How often the certificate and key files are checked for changes and
    /// reloaded, in seconds. Default `30`.
    #[serde(default = "default_tls_poll")]
    pub reload_poll_secs: u64,
}

fn default_tls_poll() -> u64 {
    30
}

/// `[auth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Signed requests are accepted only if their timestamp is within this
    /// many seconds of the gateway's clock, and each signature only once in
    /// that window. Default `300`.
    pub hmac_window_secs: u64,
    /// A TOML file of `[[keys]]` entries, read at start-up and again on
    /// SIGHUP or when it changes (checked every `keys_file_poll_secs`),
    /// without a restart. Its keys are added to those of this file.
    /// Default: none.
    pub keys_file: Option<std::path::PathBuf>,
    /// How often the keys file is checked for changes. Default `5`.
    pub keys_file_poll_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            hmac_window_secs: 300,
            keys_file: None,
            keys_file_poll_secs: 5,
        }
    }
}

/// `[spool]`: where accepted events wait out a Kafka outage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// Directory of the spool's segment files; must survive a restart (and
    /// belong to one gateway process). Default `tributary-spool`.
    pub dir: std::path::PathBuf,
    /// Most bytes on disk; when full, requests get 503. Default `1073741824` (1 GiB).
    pub max_bytes: u64,
    /// fsync `buffered`-mode appends too (`broker`-mode ones always are).
    /// Default `true`.
    pub fsync: bool,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            dir: "tributary-spool".into(),
            max_bytes: 1 << 30,
            fsync: true,
        }
    }
}

/// `[idempotency]`: how long and how many batch answers are remembered so a
/// retried batch (same `Idempotency-Key`) is answered without producing
/// again. Per gateway process; see `api::idempotency` for the limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdempotencyConfig {
    /// Seconds an answer is remembered. Default `600`.
    pub window_secs: u64,
    /// Most answers remembered; the oldest are forgotten first. Default `100000`.
    pub max_entries: usize,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        IdempotencyConfig {
            window_secs: 600,
            max_entries: 100_000,
        }
    }
}

/// `[[keys]]`: one write key. Give either `key` or `key_sha256` (the hex
/// SHA-256 of the key, so the configuration need not hold the secret).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteKeyConfig {
    /// The key as clients send it.
    #[serde(default)]
    pub key: String,
    /// Hex SHA-256 of the key, instead of `key`.
    #[serde(default)]
    pub key_sha256: Option<String>,
    /// The app the key belongs to; stamped in `tb-app-id`.
    pub app_id: String,
    /// Delivery mode for this key, overriding `[delivery].ack`.
    #[serde(default)]
    pub ack: Option<AckMode>,
    /// Event names (track `event`, or a kind such as `identify`) the key may
    /// send; others are rejected per event with `event_not_allowed`.
    /// Default: all.
    #[serde(default)]
    pub allowed_events: Vec<String>,
    /// Requests per second, overriding `[rate_limits]`.
    #[serde(default)]
    pub requests_per_second: Option<u32>,
    /// Request burst, overriding `[rate_limits]`.
    #[serde(default)]
    pub requests_burst: Option<u32>,
    /// Events per second, overriding `[rate_limits]`.
    #[serde(default)]
    pub events_per_second: Option<u32>,
    /// Event burst, overriding `[rate_limits]`.
    #[serde(default)]
    pub events_burst: Option<u32>,
    /// Shared secret for HMAC request signing (server-side senders). When
    /// set, every request with this key must be signed; see
    /// `admission::signature`.
    #[serde(default)]
    pub hmac_secret: Option<String>,
    /// The key of a server library sending on behalf of its users: the
    /// `context.ip` and `context.userAgent` its events carry are the end
    /// user's and are kept (and enriched) instead of the sending server's
    /// own address and agent. Default `false`.
    #[serde(default)]
    pub server_side: bool,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`. Default `text`. Env: `TRIBUTARY_LOG_FORMAT`.
    pub format: LogFormat,
    /// `tracing` filter directive. Default `info`. Env: `RUST_LOG` wins.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

/// A network as configured: a CIDR (`10.0.0.0/8`, `fd00::/8`) or a single
/// address (`192.0.2.1`, taken as its /32 or /128).
pub fn parse_network(text: &str) -> Result<ipnet::IpNet, String> {
    let t = text.trim();
    t.parse::<ipnet::IpNet>()
        .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| format!("{text:?} is not an address or a CIDR network"))
}

/// The write key `--dev` accepts when the configuration lists none.
pub const DEV_WRITE_KEY: &str = "dev-write-key";
/// The app id of [`DEV_WRITE_KEY`].
pub const DEV_APP_ID: &str = "dev";

impl Config {
    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        Config::parse(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// The catch-all topic name, derived when not set.
    pub fn catch_all_topic(&self) -> String {
        self.routing
            .catch_all_topic
            .clone()
            .unwrap_or_else(|| format!("{}unrouted", self.routing.topic_prefix))
    }

    /// The topic of events accepted without a schema, derived when not set.
    pub fn unvalidated_topic(&self) -> String {
        self.schemas
            .unvalidated_topic
            .clone()
            .unwrap_or_else(|| format!("{}unvalidated", self.routing.topic_prefix))
    }

    /// The hot-key overflow topic (default `<prefix>overflow`).
    pub fn overflow_topic(&self) -> String {
        self.hot_keys
            .overflow_topic
            .clone()
            .unwrap_or_else(|| format!("{}overflow", self.routing.topic_prefix))
    }

    /// The dead-letter topic name, derived when not set.
    pub fn dead_letter_topic(&self) -> String {
        self.routing
            .dead_letter_topic
            .clone()
            .unwrap_or_else(|| format!("{}dead_letter", self.routing.topic_prefix))
    }

    /// Checks the configuration and returns every problem found, one per
    /// line, or `Ok` if there is none.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = String::new();
        let mut bad = |m: String| {
            let _ = writeln!(problems, "  - {m}");
        };
        let l = &self.limits;
        for (name, v) in [
            ("limits.max_body_bytes", l.max_body_bytes),
            ("limits.max_decompressed_bytes", l.max_decompressed_bytes),
            ("limits.max_events_per_batch", l.max_events_per_batch),
            ("limits.max_event_bytes", l.max_event_bytes),
        ] {
            if v == 0 {
                bad(format!("{name} must be greater than 0"));
            }
        }
        if l.max_decompressed_bytes < l.max_body_bytes {
            bad("limits.max_decompressed_bytes must be at least limits.max_body_bytes".into());
        }
        if !["none", "gzip", "snappy", "lz4"].contains(&self.kafka.compression.as_str()) {
            bad(format!(
                "kafka.compression {:?} must be one of none, gzip, snappy, lz4 (zstd is not built into this gateway's librdkafka)",
                self.kafka.compression
            ));
        }
        if self.kafka.topic_partitions < 1 {
            bad("kafka.topic_partitions must be at least 1".into());
        }
        if self.keys.is_empty() && !self.kafka.embedded() && self.auth.keys_file.is_none() {
            bad("no [[keys]]: the gateway would refuse every request".into());
        }
        let mut seen = HashSet::new();
        for (i, k) in self.keys.iter().enumerate() {
            match (&k.key_sha256, k.key.trim().is_empty()) {
                (None, true) => bad(format!("keys[{i}]: give `key` or `key_sha256`")),
                (Some(_), false) => bad(format!("keys[{i}]: give `key` or `key_sha256`, not both")),
                (Some(h), true) if h.len() != 64 || hex::decode(h).is_err() => {
                    bad(format!("keys[{i}].key_sha256 must be 64 hex digits"))
                }
                _ => {}
            }
            if k.app_id.trim().is_empty() {
                bad(format!("keys[{i}].app_id is empty"));
            }
            if !seen.insert(k.key_sha256.clone().unwrap_or_else(|| k.key.clone())) {
                bad(format!("keys[{i}] is listed twice"));
            }
        }
        let o = &self.overload;
        if !(0.0 < o.producer_low_watermark
            && o.producer_low_watermark < o.producer_high_watermark
            && o.producer_high_watermark <= 1.0)
        {
            bad("overload watermarks must satisfy 0 < low < high <= 1".into());
        }
        if o.max_inflight_requests == 0 || o.max_inflight_bytes < self.limits.max_body_bytes {
            bad("overload.max_inflight_requests must be > 0 and max_inflight_bytes >= limits.max_body_bytes".into());
        }
        if let Err(e) = check_topic_name(&self.dead_letter_topic()) {
            bad(format!("routing.dead_letter_topic: {e}"));
        }
        if let Err(e) = check_topic_name(&self.catch_all_topic()) {
            bad(format!("routing.catch_all_topic: {e}"));
        }
        if let Err(e) = check_topic_name(&self.overflow_topic()) {
            bad(format!("hot_keys.overflow_topic: {e}"));
        }
        let q = &self.quotas;
        if q.sync_ms < 10 {
            bad("quotas.sync_ms must be at least 10".into());
        }
        if let Some(url) = &q.redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            bad(format!(
                "quotas.redis_url {url:?} must start with redis:// or rediss://"
            ));
        }
        let h = &self.hot_keys;
        if h.events_per_second > 0 && (h.burst == 0 || h.max_keys < 64) {
            bad("hot_keys: burst must be at least 1 and max_keys at least 64".into());
        }
        let sc = &self.schemas;
        if let Err(e) = check_topic_name(&self.unvalidated_topic()) {
            bad(format!("schemas.unvalidated_topic: {e}"));
        }
        if sc.source == SchemaSourceKind::Registry
            && sc
                .registry_url
                .as_deref()
                .is_none_or(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            bad(
                "schemas.registry_url must be an http(s) URL when schemas.source = \"registry\""
                    .into(),
            );
        }
        if sc.source != SchemaSourceKind::None && sc.refresh_secs == 0 {
            bad("schemas.refresh_secs must be at least 1".into());
        }
        for (name, c) in &self.kafka.clusters {
            if name == DEFAULT_CLUSTER {
                bad(format!(
                    "kafka.clusters.{name}: the name `default` is the [kafka] cluster"
                ));
            }
            if c.brokers.trim().is_empty() {
                bad(format!("kafka.clusters.{name}.brokers is empty"));
            }
            if check_topic_name(name).is_err() {
                bad(format!(
                    "kafka.clusters.{name}: names may use only [a-zA-Z0-9._-]"
                ));
            }
        }
        for (i, r) in self.routing.routes.iter().enumerate() {
            if r.event.is_empty() {
                bad(format!("routing.routes[{i}].event is empty"));
            }
            if let Some(c) = &r.cluster
                && c != DEFAULT_CLUSTER
                && !self.kafka.clusters.contains_key(c)
            {
                bad(format!(
                    "routing.routes[{i}].cluster {c:?} is not a [kafka.clusters] name"
                ));
            }
            if let Some(t) = &r.topic
                && let Err(e) = check_topic_name(t)
            {
                bad(format!("routing.routes[{i}].topic: {e}"));
            }
        }
        if self.rate_limits.trust_forwarded_for.is_some() {
            bad("rate_limits.trust_forwarded_for was removed: it believed the first X-Forwarded-For hop, which clients forge; list your proxies in server.trusted_proxies instead".into());
        }
        for (i, p) in self.server.trusted_proxies.iter().enumerate() {
            if let Err(e) = parse_network(p) {
                bad(format!("server.trusted_proxies[{i}]: {e}"));
            }
        }
        for (i, p) in self.enrichment.bot_networks.iter().enumerate() {
            if let Err(e) = parse_network(p) {
                bad(format!("enrichment.bot_networks[{i}]: {e}"));
            }
        }
        let e = &self.enrichment;
        for (name, path) in [
            ("geo_city_db", &e.geo_city_db),
            ("geo_asn_db", &e.geo_asn_db),
        ] {
            if let Some(p) = path
                && !p.is_file()
            {
                bad(format!("enrichment.{name}: {} is not a file", p.display()));
            }
        }
        if e.geo_reload_poll_secs == 0 || self.privacy.poll_secs == 0 {
            bad("enrichment.geo_reload_poll_secs and privacy.poll_secs must be at least 1".into());
        }
        if self
            .privacy
            .admin_token
            .as_deref()
            .is_some_and(|t| t.len() < 16)
        {
            bad("privacy.admin_token must be at least 16 characters".into());
        }
        let d = &self.debugger;
        if d.enabled && self.privacy.admin_token.is_none() {
            bad("debugger.enabled needs privacy.admin_token (the debugger's password)".into());
        }
        if d.enabled
            && (d.ring_events == 0
                || d.events_per_second == 0
                || d.max_viewers == 0
                || d.max_shown_bytes < 64)
        {
            bad("debugger: ring_events, events_per_second and max_viewers must be at least 1, max_shown_bytes at least 64".into());
        }
        for (app, rules) in &self.privacy.apps {
            for p in rules.check(&format!("privacy.apps.{app}")) {
                bad(p);
            }
        }
        if self.sdk_settings.poll_secs == 0 {
            bad("sdk_settings.poll_secs must be at least 1".into());
        }
        for (app, s) in &self.sdk_settings.apps {
            for p in s.check(&format!("sdk_settings.apps.{app}")) {
                bad(p);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("invalid configuration:\n{problems}"))
        }
    }
}

/// Kafka's own rule for topic names.
pub fn check_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 249 {
        return Err(format!("{name:?} must be 1 to 249 characters"));
    }
    if name == "." || name == ".." {
        return Err(format!("{name:?} is not allowed"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "{name:?} contains {c:?}; only [a-zA-Z0-9._-] are allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_documented_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.server.listen.port(), 8080);
        assert_eq!(c.delivery.ack, AckMode::Broker);
        assert_eq!(c.catch_all_topic(), "tributary.unrouted");
        assert!(c.kafka.embedded());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../tributary.example.toml");
        let c = Config::parse(text).unwrap();
        c.validate().unwrap();
        assert_eq!(c.routing.routes.len(), 2);
    }

    #[test]
    fn unknown_fields_and_bad_values_are_reported() {
        assert!(Config::parse("[server]\nlisten_addr = 1").is_err());
        let c = Config::parse(
            r#"
            [kafka]
            brokers = "127.0.0.1:9092"
            compression = "brotli"
            [[routing.routes]]
            event = "x"
            topic = "bad topic"
            "#,
        )
        .unwrap();
        let err = c.validate().unwrap_err();
        assert!(err.contains("kafka.compression"), "{err}");
        assert!(err.contains("routing.routes[0].topic"), "{err}");
        assert!(err.contains("no [[keys]]"), "{err}");
    }
}
