//! Loading the lake into a warehouse (`tributary-pipeline warehouse`): for
//! each event table, the statements the design's warehouse path uses,
//! written from the table's columns.
//!
//! * Plain Parquet lakes: Snowflake's table, stage and Snowpipe
//!   (`COPY INTO … MATCH_BY_COLUMN_NAME`, one pipe per event type, as the
//!   Iguazu design loads S3 → Snowpipe → Snowflake); Trino's and Spark's
//!   external tables over the event's folder.
//! * Iceberg lakes: the table read in place — Snowflake's
//!   `CREATE ICEBERG TABLE` through a catalog integration, and the catalog
//!   configuration Trino and Spark take.
//! * DuckDB, either way: the same load as Snowflake's — a typed table, then
//!   the Parquet files inserted by column name — in DuckDB's dialect. It
//!   runs here, so a test can prove the column mapping.
//!
//! Columns are described as an Iceberg schema (the table's in an Iceberg
//! lake; in a plain lake the files' columns from the registered schemas),
//! so one type mapping per dialect serves both.

use crate::column_type;
use crate::config::{CatalogConfig, CatalogKind, Config};
use crate::iceberg::{Tables, files};
use crate::parquet_out::EventColumns;
use crate::payload::Layout;
use crate::store::Store;
use arrow_schema::{Field, Schema as ArrowSchema};
use iceberg::arrow::arrow_schema_to_schema_auto_assign_ids;
use iceberg::spec::{PrimitiveType, Schema, Type};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use tributary_schema::Registry;

/// A SQL dialect (or configuration format) written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    /// Snowflake.
    Snowflake = 0,
    /// DuckDB.
    Duckdb,
    /// Trino.
    Trino,
    /// Apache Spark SQL.
    Spark,
}

/// Where a table's rows are.
#[derive(Debug, Clone)]
pub enum Source {
    /// Plain Parquet files under this folder URL (`…/event=<slug>`).
    Folder(String),
    /// An Iceberg table: its namespace and the data files of its current
    /// snapshot.
    Iceberg {
        /// The namespace (`tributary`).
        namespace: String,
        /// Data file URLs.
        files: Vec<String>,
    },
}

/// One event table to load.
#[derive(Debug, Clone)]
pub struct Table {
    /// Its name (the event's slug).
    pub name: String,
    /// Its columns.
    pub schema: Schema,
    /// Where its rows are.
    pub source: Source,
}

/// The event tables of an Iceberg lake: each table's schema and the data
/// files of its current snapshot (`only`: one table).
pub async fn iceberg_tables(tables: &Tables, only: Option<&str>) -> anyhow::Result<Vec<Table>> {
    let mut out = Vec::new();
    for ident in tables.catalog().list_tables(tables.namespace()).await? {
        if only.is_some_and(|o| o != ident.name()) {
            continue;
        }
        let t = tables.catalog().load_table(&ident).await?;
        out.push(Table {
            name: ident.name().to_owned(),
            schema: t.metadata().current_schema().as_ref().clone(),
            source: Source::Iceberg {
                namespace: tables.namespace().join("."),
                files: files::live_paths(&t).await?,
            },
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The event tables of a plain Parquet lake, from the registered schemas:
/// per event slug, the envelope and every property any version of any
/// app's schema declares (the first type seen wins), and the event's
/// folder under `prefix` in `store`.
pub fn parquet_tables(
    registry: Option<&Registry>,
    store: &Store,
    prefix: &str,
    only: Option<&str>,
) -> anyhow::Result<Vec<Table>> {
    let mut events: BTreeMap<String, Vec<(String, column_type::ColumnType)>> = BTreeMap::new();
    if let Some(r) = registry {
        let catalog = r.catalog();
        for subject in catalog.subjects() {
            let Some((_, slug)) = subject.split_once('.') else {
                continue;
            };
            let columns = events.entry(slug.to_owned()).or_default();
            for v in catalog.versions(subject).unwrap_or_default() {
                for (name, ty) in column_type::columns(v.schema_type, &v.text) {
                    if !columns.iter().any(|(n, _)| *n == name) {
                        columns.push((name, ty));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for (slug, columns) in events {
        if only.is_some_and(|o| o != slug) {
            continue;
        }
        let fields = EventColumns::new(Arc::new(Layout::with_columns(columns))).fields();
        out.push(plain_table(store, prefix, &slug, fields)?);
    }
    Ok(out)
}

/// The table of event `slug` in a plain Parquet lake: the folder of its
/// files, with columns `fields`.
pub fn plain_table(
    store: &Store,
    prefix: &str,
    slug: &str,
    fields: Vec<Field>,
) -> anyhow::Result<Table> {
    let folder = format!(
        "{}/{}event={slug}",
        store.root_url().trim_end_matches('/'),
        crate::segment::object_prefix(prefix)
    );
    Ok(Table {
        name: slug.to_owned(),
        schema: arrow_schema_to_schema_auto_assign_ids(&ArrowSchema::new(fields))?,
        source: Source::Folder(folder),
    })
}

/// Settings the statements need that the lake does not know.
#[derive(Debug, Clone)]
pub struct Target {
    /// The warehouse schema / database tables are created in.
    pub schema: String,
    /// Snowflake: the storage integration of the stage (plain lakes).
    pub storage_integration: String,
    /// Snowflake: the external volume and catalog integration of Iceberg
    /// tables.
    pub external_volume: String,
    /// Snowflake: the catalog integration of Iceberg tables.
    pub catalog_integration: String,
    /// The lake's store URL (stage URL; file lists are made relative to it).
    pub store_url: String,
    /// Trino and Spark, Iceberg lakes: the catalog's URI (JDBC URL or REST
    /// endpoint) and kind (`jdbc` / `rest`).
    pub catalog_uri: String,
    /// `jdbc` or `rest`.
    pub catalog_kind: String,
    /// The Iceberg warehouse URL.
    pub warehouse: String,
}

impl Target {
    /// The target of a lake configured by `config` (store `store`), with
    /// the warehouse-side names given.
    pub fn of_lake(
        config: &Config,
        store: &Store,
        schema: &str,
        storage_integration: &str,
        external_volume: &str,
        catalog_integration: &str,
    ) -> Target {
        Target {
            schema: schema.to_owned(),
            storage_integration: storage_integration.to_owned(),
            external_volume: external_volume.to_owned(),
            catalog_integration: catalog_integration.to_owned(),
            store_url: store.root_url().to_owned(),
            catalog_uri: jdbc_uri(&config.lake.catalog),
            catalog_kind: match config.lake.catalog.kind {
                CatalogKind::Sql => "jdbc".into(),
                CatalogKind::Rest => "rest".into(),
            },
            warehouse: config
                .lake
                .warehouse
                .clone()
                .unwrap_or_else(|| format!("{}/iceberg", store.root_url())),
        }
    }
}

/// The JDBC URL of a SQL catalog (what Trino and Spark take); a REST
/// catalog's URL as it is.
fn jdbc_uri(c: &CatalogConfig) -> String {
    if c.kind == CatalogKind::Rest {
        return c.uri.clone();
    }
    let bare = c.uri.split('?').next().unwrap_or(&c.uri);
    if let Some(path) = bare.strip_prefix("sqlite://") {
        return format!("jdbc:sqlite:{path}");
    }
    match bare
        .split_once("://")
        .map(|(_, rest)| rest.rsplit_once('@'))
    {
        Some(Some((credentials, host))) => {
            let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
            format!("jdbc:postgresql://{host}?user={user}&password={password}")
        }
        _ => format!(
            "jdbc:postgresql://{}",
            bare.split_once("://").map_or(bare, |(_, r)| r)
        ),
    }
}

/// The statements for `tables` in `dialect`.
pub fn statements(dialect: Dialect, tables: &[Table], target: &Target) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- Generated by `tributary-pipeline warehouse --dialect {}`.\n-- Re-running it is safe: every statement is idempotent.",
        format!("{dialect:?}").to_lowercase()
    );
    if let (Dialect::Trino | Dialect::Spark, Some(Source::Iceberg { .. })) =
        (dialect, tables.first().map(|t| &t.source))
    {
        catalog_config(&mut out, dialect, target);
        return out;
    }
    match dialect {
        Dialect::Snowflake => {
            let _ = writeln!(out, "CREATE SCHEMA IF NOT EXISTS {};", target.schema);
            if tables.iter().any(|t| matches!(t.source, Source::Folder(_))) {
                let _ = writeln!(
                    out,
                    "CREATE STAGE IF NOT EXISTS {s}.tributary_lake\n  URL = '{url}/'\n  STORAGE_INTEGRATION = {i}\n  FILE_FORMAT = (TYPE = PARQUET);",
                    s = target.schema,
                    url = target.store_url.trim_end_matches('/'),
                    i = target.storage_integration
                );
            }
        }
        Dialect::Trino | Dialect::Spark => {
            let _ = writeln!(out, "CREATE SCHEMA IF NOT EXISTS {};", target.schema);
        }
        Dialect::Duckdb => {
            let _ = writeln!(out, "CREATE SCHEMA IF NOT EXISTS {};", target.schema);
        }
    }
    for t in tables {
        out.push('\n');
        table(&mut out, dialect, t, target);
    }
    out
}

fn table(out: &mut String, dialect: Dialect, t: &Table, target: &Target) {
    let name = format!("{}.{}", target.schema, ident(dialect, &t.name));
    if let (Dialect::Snowflake, Source::Iceberg { namespace, .. }) = (dialect, &t.source) {
        // Read in place: Snowflake follows the catalog's snapshots.
        let _ = writeln!(
            out,
            "CREATE ICEBERG TABLE IF NOT EXISTS {name}\n  EXTERNAL_VOLUME = '{v}'\n  CATALOG = '{c}'\n  CATALOG_NAMESPACE = '{namespace}'\n  CATALOG_TABLE_NAME = '{n}'\n  AUTO_REFRESH = TRUE;",
            v = target.external_volume,
            c = target.catalog_integration,
            n = t.name
        );
        return;
    }
    let columns: Vec<String> = t
        .schema
        .as_struct()
        .fields()
        .iter()
        .map(|f| {
            format!(
                "  {} {}{}",
                ident(dialect, &f.name),
                sql_type(dialect, &f.field_type),
                if f.required { " NOT NULL" } else { "" }
            )
        })
        .collect();
    let columns = columns.join(",\n");
    match (dialect, &t.source) {
        (Dialect::Trino, Source::Folder(url)) => {
            let _ = writeln!(
                out,
                "CREATE TABLE IF NOT EXISTS {name} (\n{}\n)\nWITH (format = 'PARQUET', external_location = '{}');",
                columns.replace(" NOT NULL", ""),
                s3a(url)
            );
        }
        (Dialect::Spark, Source::Folder(url)) => {
            let _ = writeln!(
                out,
                "CREATE TABLE IF NOT EXISTS {name} (\n{}\n)\nUSING PARQUET\nOPTIONS (recursiveFileLookup 'true')\nLOCATION '{}';",
                columns.replace(" NOT NULL", ""),
                s3a(url)
            );
        }
        (Dialect::Snowflake, Source::Folder(url)) => {
            let folder = url
                .strip_prefix(target.store_url.trim_end_matches('/'))
                .unwrap_or(url)
                .trim_matches('/');
            let _ = writeln!(out, "CREATE TABLE IF NOT EXISTS {name} (\n{columns}\n);");
            // One pipe per event type; Snowpipe loads each file once by its
            // name, and the lake's files are create-only.
            let _ = writeln!(
                out,
                "CREATE PIPE IF NOT EXISTS {s}.{p}\n  AUTO_INGEST = TRUE\n  AS COPY INTO {name}\n  FROM @{s}.tributary_lake/{folder}/\n  FILE_FORMAT = (TYPE = PARQUET)\n  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE\n  PATTERN = '.*[.]parquet';",
                s = target.schema,
                p = ident(dialect, &format!("{}_pipe", t.name)),
            );
        }
        (Dialect::Duckdb, source) => {
            let _ = writeln!(out, "CREATE TABLE IF NOT EXISTS {name} (\n{columns}\n);");
            // The same load as Snowpipe's COPY INTO … MATCH_BY_COLUMN_NAME:
            // every file's columns inserted by name.
            let from = match source {
                Source::Folder(url) => format!("'{}/**/*.parquet'", local(url)),
                Source::Iceberg { files, .. } => {
                    let list: Vec<String> =
                        files.iter().map(|f| format!("'{}'", local(f))).collect();
                    format!("[{}]", list.join(", "))
                }
            };
            if matches!(source, Source::Iceberg { files, .. } if files.is_empty()) {
                let _ = writeln!(out, "-- {name}: no data files yet.");
                return;
            }
            let _ = writeln!(
                out,
                "INSERT INTO {name} BY NAME\n  SELECT * FROM read_parquet({from}, union_by_name = true, hive_partitioning = false);"
            );
        }
        (_, Source::Iceberg { .. }) => {}
    }
}

/// Trino's and Spark's catalog settings for an Iceberg lake.
fn catalog_config(out: &mut String, dialect: Dialect, target: &Target) {
    let jdbc = target.catalog_kind == "jdbc";
    match dialect {
        Dialect::Trino => {
            let _ = writeln!(out, "-- etc/catalog/tributary.properties");
            let _ = writeln!(out, "connector.name=iceberg");
            if jdbc {
                let _ = writeln!(
                    out,
                    "iceberg.catalog.type=jdbc\niceberg.jdbc-catalog.catalog-name=tributary\niceberg.jdbc-catalog.connection-url={}\niceberg.jdbc-catalog.default-warehouse-dir={}",
                    target.catalog_uri,
                    s3a(&target.warehouse)
                );
            } else {
                let _ = writeln!(
                    out,
                    "iceberg.catalog.type=rest\niceberg.rest-catalog.uri={}",
                    target.catalog_uri
                );
            }
        }
        _ => {
            let _ = writeln!(out, "-- spark-defaults.conf");
            let _ = writeln!(
                out,
                "spark.sql.catalog.tributary org.apache.iceberg.spark.SparkCatalog"
            );
            if jdbc {
                let _ = writeln!(
                    out,
                    "spark.sql.catalog.tributary.type jdbc\nspark.sql.catalog.tributary.uri {}\nspark.sql.catalog.tributary.warehouse {}",
                    target.catalog_uri,
                    s3a(&target.warehouse)
                );
            } else {
                let _ = writeln!(
                    out,
                    "spark.sql.catalog.tributary.type rest\nspark.sql.catalog.tributary.uri {}",
                    target.catalog_uri
                );
            }
        }
    }
}

/// A path DuckDB opens (it reads `s3://` itself, with its httpfs
/// extension; `file://` URLs are plain paths).
fn local(url: &str) -> &str {
    url.strip_prefix("file://").unwrap_or(url)
}

/// Hadoop's name for S3.
fn s3a(url: &str) -> String {
    match url.strip_prefix("s3://") {
        Some(rest) => format!("s3a://{rest}"),
        None => url.to_owned(),
    }
}

/// An identifier: bare when it is a plain lower-case name, else quoted.
fn ident(dialect: Dialect, name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        return name.to_owned();
    }
    match dialect {
        Dialect::Spark => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// A column type in `dialect`.
fn sql_type(dialect: Dialect, t: &Type) -> String {
    use Dialect::*;
    match t {
        Type::Primitive(p) => primitive(dialect, p).to_owned(),
        Type::Struct(s) => {
            // Snowflake's semi-structured types: nested Parquet loads into
            // OBJECT / ARRAY as is.
            let (open, sep, close) = match dialect {
                Snowflake => return "OBJECT".into(),
                Duckdb => ("STRUCT(", " ", ")"),
                Trino => ("ROW(", " ", ")"),
                Spark => ("STRUCT<", ": ", ">"),
            };
            let fields: Vec<String> = s
                .fields()
                .iter()
                .map(|f| {
                    let t = sql_type(dialect, &f.field_type);
                    format!("{}{sep}{t}", ident(dialect, &f.name))
                })
                .collect();
            format!("{open}{}{close}", fields.join(", "))
        }
        Type::List(l) => {
            let e = sql_type(dialect, &l.element_field.field_type);
            match dialect {
                Snowflake => "ARRAY".into(),
                Duckdb => format!("{e}[]"),
                Trino => format!("ARRAY({e})"),
                Spark => format!("ARRAY<{e}>"),
            }
        }
        Type::Map(m) => {
            let k = sql_type(dialect, &m.key_field.field_type);
            let v = sql_type(dialect, &m.value_field.field_type);
            match dialect {
                Snowflake => "OBJECT".into(),
                Duckdb => format!("MAP({k}, {v})"),
                Trino => format!("MAP({k}, {v})"),
                Spark => format!("MAP<{k}, {v}>"),
            }
        }
    }
}

/// A primitive type's name in each dialect: Snowflake, DuckDB, Trino,
/// Spark.
fn primitive(dialect: Dialect, p: &PrimitiveType) -> &'static str {
    use PrimitiveType as P;
    let names: [&'static str; 4] = match p {
        P::String | P::Uuid => ["VARCHAR", "VARCHAR", "VARCHAR", "STRING"],
        P::Long => ["BIGINT", "BIGINT", "BIGINT", "BIGINT"],
        P::Int => ["INT", "INTEGER", "INTEGER", "INT"],
        P::Float => ["FLOAT", "FLOAT", "REAL", "FLOAT"],
        P::Double => ["FLOAT", "DOUBLE", "DOUBLE", "DOUBLE"],
        P::Boolean => ["BOOLEAN", "BOOLEAN", "BOOLEAN", "BOOLEAN"],
        P::Timestamptz | P::TimestamptzNs => [
            "TIMESTAMP_TZ(6)",
            "TIMESTAMPTZ",
            "TIMESTAMP(6) WITH TIME ZONE",
            "TIMESTAMP",
        ],
        P::Timestamp | P::TimestampNs => [
            "TIMESTAMP_NTZ(6)",
            "TIMESTAMP",
            "TIMESTAMP(6)",
            "TIMESTAMP_NTZ",
        ],
        P::Date => ["DATE", "DATE", "DATE", "DATE"],
        P::Time | P::Decimal { .. } | P::Fixed(_) | P::Binary => {
            ["VARIANT", "BLOB", "VARBINARY", "BINARY"]
        }
    };
    names[dialect as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column_type::ColumnType;
    use arrow_schema::{DataType, Field, Schema as ArrowSchema};
    use iceberg::arrow::arrow_schema_to_schema_auto_assign_ids;
    use std::sync::Arc;

    fn table(source: Source) -> Table {
        let items = ColumnType::List(Arc::new(ColumnType::Struct {
            fields: vec![
                ("sku".to_owned(), ColumnType::Str),
                ("qty".to_owned(), ColumnType::Int),
            ]
            .into(),
            extra: false,
        }));
        let schema = arrow_schema_to_schema_auto_assign_ids(&ArrowSchema::new(vec![
            Field::new("message_id", DataType::Utf8, false),
            Field::new("p_items", items.arrow(), true),
            Field::new("p_Odd Name", DataType::Float64, true),
        ]))
        .unwrap();
        Table {
            name: "order_completed".into(),
            schema,
            source,
        }
    }

    fn target() -> Target {
        Target {
            schema: "tributary".into(),
            storage_integration: "lake_s3".into(),
            external_volume: "lake_volume".into(),
            catalog_integration: "lake_catalog".into(),
            store_url: "s3://bucket/lake".into(),
            catalog_uri: "jdbc:postgresql://db/lake".into(),
            catalog_kind: "jdbc".into(),
            warehouse: "s3://bucket/lake/iceberg".into(),
        }
    }

    #[test]
    fn snowflake_gets_a_table_a_stage_and_a_pipe_per_event() {
        let sql = statements(
            Dialect::Snowflake,
            &[table(Source::Folder(
                "s3://bucket/lake/event=order_completed".into(),
            ))],
            &target(),
        );
        assert!(sql.contains("message_id VARCHAR NOT NULL"), "{sql}");
        assert!(sql.contains("p_items ARRAY"), "{sql}");
        assert!(sql.contains("\"p_Odd Name\" FLOAT"), "{sql}");
        assert!(
            sql.contains("FROM @tributary.tributary_lake/event=order_completed/"),
            "{sql}"
        );
        assert!(
            sql.contains("MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE"),
            "{sql}"
        );
    }

    #[test]
    fn duckdb_inserts_an_iceberg_tables_files_by_name_into_typed_columns() {
        let sql = statements(
            Dialect::Duckdb,
            &[table(Source::Iceberg {
                namespace: "tributary".into(),
                files: vec![
                    "file:///lake/a.parquet".into(),
                    "file:///lake/b.parquet".into(),
                ],
            })],
            &target(),
        );
        assert!(
            sql.contains("p_items STRUCT(sku VARCHAR, qty BIGINT)[]"),
            "{sql}"
        );
        assert!(
            sql.contains("INSERT INTO tributary.order_completed BY NAME"),
            "{sql}"
        );
        assert!(
            sql.contains("read_parquet(['/lake/a.parquet', '/lake/b.parquet']"),
            "{sql}"
        );
        let trino = statements(
            Dialect::Trino,
            &[table(Source::Iceberg {
                namespace: "tributary".into(),
                files: vec![],
            })],
            &target(),
        );
        assert!(trino.contains("iceberg.catalog.type=jdbc"), "{trino}");
        assert!(trino.contains("s3a://bucket/lake/iceberg"), "{trino}");
    }
}
