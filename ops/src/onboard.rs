//! Onboarding an event type in one step — what the design does by hand for
//! each new event:
//!
//! 1. **schema**: the file compiled and checked against the subject's
//!    earlier versions under its compatibility rule, then added to the
//!    gateway's schema directory (or registered with its registry);
//! 2. **topic**: `<topic_prefix><event slug>` created with the gateway's
//!    partitions, replication and topic settings (`kafka.topic_config`,
//!    e.g. retention);
//! 3. **route**: the event added to the gateway's routes file, which
//!    running gateways read again without a restart;
//! 4. **table**: the pipeline's Iceberg table created with the event's
//!    columns (a plain Parquet lake needs none);
//! 5. **warehouse**: the table's warehouse objects, as
//!    `tributary-pipeline warehouse` writes them.
//!
//! Every step finds what is already there and leaves it: running it twice
//! changes nothing. `--dry-run` says what each step would do.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tributary_gateway::config::{Config as GatewayConfig, RouteConfig, SchemaSourceKind};
use tributary_gateway::delivery::routes_file::RoutesFile;
use tributary_gateway::delivery::topics::{TopicSpec, ensure_topics};
use tributary_pipeline::config::{Config as PipelineConfig, LakeFormat};
use tributary_pipeline::iceberg::Tables;
use tributary_pipeline::parquet_out::EventColumns;
use tributary_pipeline::payload::Layout;
use tributary_pipeline::warehouse::{self, Dialect};
use tributary_schema::confluent::ConfluentClient;
use tributary_schema::dir::{self, Added};
use tributary_schema::{SchemaType, subject_for};

/// What to onboard, and where (the command's arguments).
#[derive(Debug, clap::Args)]
pub struct Request {
    /// The app id (of the write keys that send it).
    pub app: String,
    /// The event name as apps send it (`Coupon Redeemed`).
    pub event: String,
    /// The schema: a JSON Schema (`.json`) or a `.proto` file.
    #[arg(long)]
    pub schema: PathBuf,
    /// The gateway's configuration (schemas, Kafka, the routes file).
    #[arg(long, env = "TRIBUTARY_CONFIG")]
    pub gateway_config: PathBuf,
    /// The pipeline's configuration (the lake), when it should get a table
    /// and warehouse objects.
    #[arg(long, env = "TRIBUTARY_PIPELINE_CONFIG")]
    pub pipeline_config: Option<PathBuf>,
    /// The warehouse the objects are written for.
    #[arg(long, value_enum, default_value = "snowflake")]
    pub dialect: Dialect,
    /// Write the warehouse objects to this file (standard output without
    /// it).
    #[arg(long)]
    pub warehouse_out: Option<PathBuf>,
    /// Print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done now.
    Done,
    /// Found already done.
    Exists,
    /// Would be done (`--dry-run`).
    Planned,
    /// Not needed here.
    Skipped,
}

/// One step's line.
#[derive(Debug, Clone)]
pub struct Step {
    /// `schema`, `topic`, `route`, `table`, `warehouse`.
    pub name: &'static str,
    /// What happened.
    pub outcome: Outcome,
    /// What, in words.
    pub detail: String,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match self.outcome {
            Outcome::Done => "done",
            Outcome::Exists => "exists",
            Outcome::Planned => "planned",
            Outcome::Skipped => "skipped",
        };
        write!(f, "{:<10} {:<8} {}", self.name, outcome, self.detail)
    }
}

fn step(name: &'static str, outcome: Outcome, detail: impl Into<String>) -> Step {
    Step {
        name,
        outcome,
        detail: detail.into(),
    }
}

/// Runs every step, reporting each as it ends.
pub async fn run(r: &Request, report: &mut dyn FnMut(&Step)) -> anyhow::Result<()> {
    let gateway = GatewayConfig::load(&r.gateway_config)?;
    let text = std::fs::read_to_string(&r.schema)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", r.schema.display()))?;
    let schema_type = match r.schema.extension().and_then(|e| e.to_str()) {
        Some("json") => SchemaType::Json,
        Some("proto") => SchemaType::Protobuf,
        _ => anyhow::bail!(
            "{}: a schema file ends in .json or .proto",
            r.schema.display()
        ),
    };
    report(&schema_step(r, &gateway, schema_type, &text)?);
    let topic = format!(
        "{}{}",
        gateway.routing.topic_prefix,
        tributary_gateway::delivery::route::topic_slug(&r.event)
    );
    report(&topic_step(r, &gateway, &topic).await?);
    report(&route_step(r, &gateway)?);
    let Some(path) = &r.pipeline_config else {
        report(&step("table", Outcome::Skipped, "no --pipeline-config"));
        return Ok(());
    };
    let pipeline = PipelineConfig::load(path)?;
    let layout = Arc::new(Layout::with_columns(
        tributary_pipeline::column_type::columns(schema_type, &text),
    ));
    let fields = EventColumns::new(layout).fields();
    let slug = tributary_gateway::delivery::route::topic_slug(&r.event);
    let (table_step, described) = table_step(r, &pipeline, &slug, fields).await?;
    report(&table_step);
    if !pipeline_reads(&pipeline, &topic) {
        report(&step(
            "pipeline",
            Outcome::Skipped,
            format!(
                "kafka.topics of {} does not name {topic}: add it",
                path.display()
            ),
        ));
    }
    report(&warehouse_step(r, &pipeline, described)?);
    Ok(())
}

fn schema_step(
    r: &Request,
    gateway: &GatewayConfig,
    schema_type: SchemaType,
    text: &str,
) -> anyhow::Result<Step> {
    let subject = subject_for(&r.app, &r.event);
    match gateway.schemas.source {
        SchemaSourceKind::Dir => {
            let d = &gateway.schemas.dir;
            let added = dir::add_version(d, &r.app, &r.event, schema_type, text, r.dry_run)
                .map_err(anyhow::Error::msg)?;
            Ok(match added {
                Added::Existing(v) => step(
                    "schema",
                    Outcome::Exists,
                    format!("{subject} v{v} in {}", d.display()),
                ),
                Added::New(v) if r.dry_run => step(
                    "schema",
                    Outcome::Planned,
                    format!(
                        "{subject} v{v} compatible; would be added to {}",
                        d.display()
                    ),
                ),
                Added::New(v) => step(
                    "schema",
                    Outcome::Done,
                    format!("{subject} v{v} added to {}", d.display()),
                ),
            })
        }
        SchemaSourceKind::Registry => {
            let url = gateway
                .schemas
                .registry_url
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("schemas.registry_url is not set"))?;
            let client = ConfluentClient::new(url, None, std::time::Duration::from_secs(10));
            let registered = client
                .catalog(|s| s == subject)
                .map_err(anyhow::Error::msg)?;
            let same = registered
                .versions(&subject)
                .unwrap_or_default()
                .iter()
                .find(|v| v.text == text)
                .map(|v| v.version);
            if let Some(v) = same {
                return Ok(step(
                    "schema",
                    Outcome::Exists,
                    format!("{subject} v{v} in {url}"),
                ));
            }
            if r.dry_run {
                return Ok(step(
                    "schema",
                    Outcome::Planned,
                    format!("{subject} would be registered with {url} (it checks compatibility)"),
                ));
            }
            let id = client
                .register(&subject, schema_type, text)
                .map_err(anyhow::Error::msg)?;
            Ok(step(
                "schema",
                Outcome::Done,
                format!("{subject} registered with {url} as id {id}"),
            ))
        }
        SchemaSourceKind::None => anyhow::bail!(
            "the gateway validates no schemas (schemas.source = \"none\"): onboarding registers one; set schemas.source"
        ),
    }
}

async fn topic_step(r: &Request, gateway: &GatewayConfig, topic: &str) -> anyhow::Result<Step> {
    let mut spec = TopicSpec::of(gateway, "default", &gateway.kafka.brokers);
    let settings = spec
        .config
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let shape = format!(
        "{topic} ({} partitions, replication {}{}{settings})",
        spec.partitions,
        spec.replication,
        if settings.is_empty() { "" } else { ", " }
    );
    spec.create = !r.dry_run;
    match ensure_topics(&spec, &[topic.to_owned()].into()).await {
        Ok(e) if e.created.is_empty() => Ok(step("topic", Outcome::Exists, topic)),
        Ok(_) => Ok(step("topic", Outcome::Done, format!("created {shape}"))),
        Err(_) if r.dry_run => Ok(step(
            "topic",
            Outcome::Planned,
            format!("would create {shape}"),
        )),
        Err(e) => Err(e),
    }
}

fn route_step(r: &Request, gateway: &GatewayConfig) -> anyhow::Result<Step> {
    let routed = |routes: &[RouteConfig]| {
        routes
            .iter()
            .any(|x| x.event == r.event && x.app.as_ref().is_none_or(|a| *a == r.app))
    };
    if routed(&gateway.routing.routes) {
        return Ok(step(
            "route",
            Outcome::Exists,
            format!("{} in {}", r.event, r.gateway_config.display()),
        ));
    }
    let path = gateway.routing.routes_file.as_deref().ok_or_else(|| {
        anyhow::anyhow!(
            "routing.routes_file is not set: the gateway has no routes file to add the route to"
        )
    })?;
    let mut file = RoutesFile::read(path)?;
    if routed(&file.routes) {
        return Ok(step(
            "route",
            Outcome::Exists,
            format!("{} in {}", r.event, path.display()),
        ));
    }
    if r.dry_run {
        return Ok(step(
            "route",
            Outcome::Planned,
            format!(
                "{} for app {} would be added to {}",
                r.event,
                r.app,
                path.display()
            ),
        ));
    }
    file.routes.push(RouteConfig {
        event: r.event.clone(),
        app: Some(r.app.clone()),
        topic: None,
        ack: None,
        cluster: None,
    });
    write_whole(path, &toml::to_string(&file)?)?;
    Ok(step(
        "route",
        Outcome::Done,
        format!(
            "{} for app {} added to {} (gateways read it again within routing.routes_file_poll_secs)",
            r.event,
            r.app,
            path.display()
        ),
    ))
}

/// Writes `text` to `path` through a temporary file and a rename, so a
/// gateway reading it never sees half of it.
fn write_whole(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

async fn table_step(
    r: &Request,
    pipeline: &PipelineConfig,
    slug: &str,
    fields: Vec<tributary_pipeline::arrow_schema::Field>,
) -> anyhow::Result<(Step, Vec<warehouse::Table>)> {
    let store = tributary_pipeline::store::Store::open(&pipeline.store)?;
    if pipeline.lake.format == LakeFormat::Parquet {
        let table = warehouse::plain_table(&store, &pipeline.offload.prefix, slug, fields)?;
        let detail = match &table.source {
            warehouse::Source::Folder(f) => {
                format!("plain Parquet lake: {f} appears with the first file")
            }
            warehouse::Source::Iceberg { .. } => String::new(),
        };
        return Ok((step("table", Outcome::Skipped, detail), vec![table]));
    }
    let (metrics, _) = tributary_pipeline::metrics::PipelineMetrics::new(pipeline.health.clone());
    let tables = Tables::open(
        &pipeline.lake,
        &pipeline.offload.prefix,
        &store,
        metrics,
        Default::default(),
    )
    .await?;
    let ident = tables.ident(slug);
    let s = if tables.catalog().table_exists(&ident).await? {
        step("table", Outcome::Exists, ident.to_string())
    } else if r.dry_run {
        step("table", Outcome::Planned, format!("would create {ident}"))
    } else {
        tables.ensure_table(slug, fields).await?;
        step("table", Outcome::Done, format!("created {ident}"))
    };
    let described = warehouse::iceberg_tables(&tables, Some(slug)).await?;
    Ok((s, described))
}

/// Whether `pipeline` consumes `topic` (a regular expression is taken to).
fn pipeline_reads(pipeline: &PipelineConfig, topic: &str) -> bool {
    pipeline
        .kafka
        .topics
        .iter()
        .any(|t| t == topic || t.starts_with('^'))
}

fn warehouse_step(
    r: &Request,
    pipeline: &PipelineConfig,
    tables: Vec<warehouse::Table>,
) -> anyhow::Result<Step> {
    if tables.is_empty() {
        return Ok(step(
            "warehouse",
            Outcome::Planned,
            "objects written once the table exists",
        ));
    }
    let store = tributary_pipeline::store::Store::open(&pipeline.store)?;
    let target = warehouse::Target::of_lake(
        pipeline,
        &store,
        "tributary",
        "tributary_lake",
        "tributary_lake",
        "tributary_catalog",
    );
    let sql = warehouse::statements(r.dialect, &tables, &target);
    match &r.warehouse_out {
        Some(p) if !r.dry_run => {
            std::fs::write(p, &sql)?;
            Ok(step(
                "warehouse",
                Outcome::Done,
                format!("{:?} objects written to {}", r.dialect, p.display()),
            ))
        }
        _ => {
            print!("{sql}");
            Ok(step(
                "warehouse",
                Outcome::Done,
                format!("{:?} objects printed above", r.dialect),
            ))
        }
    }
}
