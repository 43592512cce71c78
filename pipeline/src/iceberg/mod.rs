//! The lake as Apache Iceberg tables (`[lake] format = "iceberg"`): one
//! table per event type (named by the event's slug, in `[lake] namespace`),
//! partitioned by the hour of the event time. A closed segment's rows of a
//! table become one data file per (hour, schema id) and are appended in
//! one snapshot, whose summary records the Kafka offsets the table now
//! holds ([`offsets`]). That commit is the exactly-once commit:
//!
//! * a crash after writing data files but before the commit leaves them
//!   unreferenced; the restart re-derives the segment, writes files of the
//!   same names and bytes (create-only, compared) and commits;
//! * a crash after the commit but before the Kafka offset commit re-reads
//!   the segment, finds its last offset in the table and appends nothing;
//! * a commit that raced another writer (the catalog's compare-and-swap
//!   failed, or the table moved after the offsets were checked) is checked
//!   again from the new table state ([`catalog::Guarded`]); if another
//!   writer committed this partition meanwhile (a zombie of a rebalance),
//!   the segment is left to it.
//!
//! Module map: [`storage`] (Iceberg's file I/O over the lake's store),
//! [`catalog`] (SQL or REST catalog, the commit guard), [`schema`] (table
//! schema from the files, evolution), [`offsets`] (the offsets in
//! snapshots), [`files`] (a snapshot's data files), [`overwrite`] (files
//! replaced, for erasure).

pub mod catalog;
pub mod files;
pub mod offsets;
pub mod overwrite;
pub mod schema;
pub mod storage;

use crate::config::LakeConfig;
use crate::erasure::Erasures;
use crate::metrics::PipelineMetrics;
use crate::parquet_out::{self, EventColumns};
use crate::retry::with_retry;
use crate::rows::date_hour;
use crate::store::{Store, Written};
use arrow_array::{Int64Array, RecordBatch};
use arrow_schema::Schema as ArrowSchema;
use iceberg::arrow::{arrow_schema_to_schema_auto_assign_ids, schema_to_arrow_schema};
use iceberg::io::FileIO;
use iceberg::spec::{DataFile, Literal, Schema, Struct, Transform, UnboundPartitionSpec};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::writer::file_writer::{FileWriter, FileWriterBuilder, ParquetWriterBuilder};
use iceberg::{Catalog, NamespaceIdent, TableCreation, TableIdent};
use std::collections::HashMap;
use std::sync::Arc;

/// The column the tables are partitioned by (hour transform).
const PARTITION_SOURCE: &str = "event_time";

/// One bucket of a closed segment bound for a table: the rows of one event
/// time hour and one schema id.
#[derive(Debug)]
pub struct TableRows {
    /// The table (the event's slug).
    pub table: Arc<str>,
    /// Hours since the epoch of the rows' event time.
    pub hour: i64,
    /// Schema id of the rows.
    pub schema_id: Option<u32>,
    /// The rows.
    pub columns: Box<EventColumns>,
}

/// The segment a commit covers.
#[derive(Debug, Clone, Copy)]
pub struct Covered<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// First offset of the segment.
    pub start: i64,
    /// Last offset of the segment.
    pub end: i64,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// A snapshot with the segment's files (this many rows).
    Committed(usize),
    /// The table already held the segment's last offset (a restart).
    AlreadyHeld,
    /// Another writer committed this partition past what this one checked:
    /// the partition moved to it.
    TakenOver,
}

/// How a commit attempt ended.
enum Committed {
    /// Appended, or found held, or taken over.
    Done(Appended),
    /// The table's erasure mark moved (to this) since the rows were
    /// filtered.
    ErasuresChanged(Option<String>),
}

/// The table's erasure mark (see `erasure`).
fn erasure_mark(table: &Table) -> Option<String> {
    table
        .metadata()
        .properties()
        .get(crate::erasure::TABLE_PROPERTY)
        .cloned()
}

/// The event tables.
pub struct Tables {
    catalog: Arc<dyn Catalog>,
    config: LakeConfig,
    store: Store,
    namespace: NamespaceIdent,
    metrics: Arc<PipelineMetrics>,
    /// The erasure requests the pipeline leaves out of its files.
    erasures: Arc<tokio::sync::Mutex<Erasures>>,
    /// The erasure mark they were last read at (`None`: not read yet).
    erasure_mark: tokio::sync::Mutex<Option<Option<String>>>,
    /// The `[offload] prefix` as an object prefix.
    prefix: String,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tables({:?})", self.namespace)
    }
}

impl Tables {
    /// Opens the catalog of `config` and makes sure the namespace exists.
    pub async fn open(
        config: &LakeConfig,
        prefix: &str,
        store: &Store,
        metrics: Arc<PipelineMetrics>,
        erasures: Arc<tokio::sync::Mutex<Erasures>>,
    ) -> anyhow::Result<Tables> {
        let warehouse = config
            .warehouse
            .clone()
            .unwrap_or_else(|| format!("{}/iceberg", store.root_url()));
        let catalog = catalog::open(&config.catalog, store, &warehouse).await?;
        let namespace = NamespaceIdent::from_strs(config.namespace.split('.'))?;
        if !catalog.namespace_exists(&namespace).await? {
            match catalog.create_namespace(&namespace, HashMap::new()).await {
                Ok(_) => {}
                // Another instance made it meanwhile.
                Err(_) if catalog.namespace_exists(&namespace).await? => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Tables {
            catalog,
            config: config.clone(),
            store: store.clone(),
            namespace,
            metrics,
            erasures,
            erasure_mark: tokio::sync::Mutex::new(None),
            prefix: crate::segment::object_prefix(prefix),
        })
    }

    /// The catalog.
    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }

    /// The lake's store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The namespace of the event tables.
    pub fn namespace(&self) -> &NamespaceIdent {
        &self.namespace
    }

    /// The identifier of table `name`.
    pub fn ident(&self, name: &str) -> TableIdent {
        TableIdent::new(self.namespace.clone(), name.to_owned())
    }

    /// Writes `rows` (every bucket of one table from one segment) as data
    /// files and appends them in one snapshot covering `covered`.
    pub async fn append(
        &self,
        covered: Covered<'_>,
        rows: Vec<TableRows>,
    ) -> anyhow::Result<Appended> {
        let Some(first) = rows.first() else {
            return Ok(Appended::AlreadyHeld);
        };
        let ident = self.ident(&first.table);
        let m = &self.metrics.store_errors;
        // Every bucket's columns, as an Iceberg schema (ids arbitrary).
        let files: Vec<Schema> = rows
            .iter()
            .map(|r| arrow_schema_to_schema_auto_assign_ids(&ArrowSchema::new(r.columns.fields())))
            .collect::<Result<_, _>>()?;
        let mut table = with_retry("load or create the table", m, || {
            self.load_or_create(&ident, &files[0])
        })
        .await?;
        let plans: Vec<schema::Plan> = rows
            .iter()
            .zip(&files)
            .map(|(r, f)| schema::plan(table.metadata().current_schema(), f, r.schema_id))
            .collect();
        if plans.iter().any(schema::Plan::changes_schema) {
            table = with_retry("evolve the table schema", m, || {
                self.evolve(&ident, &files, &rows)
            })
            .await?;
        }
        let held = offsets::last(
            &offsets::recorded(table.metadata()),
            covered.topic,
            covered.partition,
        );
        if held >= covered.end {
            return Ok(Appended::AlreadyHeld);
        }
        // The rows of each bucket with the table's field ids, after `held`.
        let mut buckets = Vec::new();
        for ((mut bucket, file), plan) in rows.into_iter().zip(&files).zip(&plans) {
            let target = schema::file_schema(table.metadata().current_schema(), file, plan)?;
            let arrow = Arc::new(schema_to_arrow_schema(&target)?);
            let mut batch = bucket
                .columns
                .finish_batch(covered.topic, covered.partition, arrow)?;
            if held >= covered.start {
                batch = after(&batch, held)?;
            }
            buckets.push((bucket.hour, bucket.schema_id, target, batch));
        }
        let mut mark = erasure_mark(&table);
        loop {
            self.sync_erasures(&mark).await?;
            let mut data_files = Vec::new();
            for (hour, schema_id, target, batch) in &buckets {
                let (batch, erased) = self.erasures.lock().await.filter(batch.clone())?;
                self.metrics.erased_rows.inc_by(erased as u64);
                if batch.num_rows() == 0 {
                    continue;
                }
                let df = self
                    .write_bucket(&table, covered, held, *hour, *schema_id, target, &batch)
                    .await?;
                data_files.push(df);
            }
            crate::failpoint::crash("after-table-files");
            let outcome = with_retry("commit the append", m, || {
                self.commit(&ident, covered, held, &mark, data_files.clone())
            })
            .await?;
            match outcome {
                Committed::Done(a) => return Ok(a),
                // An erase command marked the table after the rows were
                // filtered: filter them again by the requests now recorded.
                Committed::ErasuresChanged(now) => mark = now,
            }
        }
    }

    /// Reads the erasure requests again when the table's mark is not the
    /// one they were last read at.
    async fn sync_erasures(&self, mark: &Option<String>) -> anyhow::Result<()> {
        let mut seen = self.erasure_mark.lock().await;
        if seen.as_ref() == Some(mark) {
            return Ok(());
        }
        let mut e = self.erasures.lock().await;
        let known = e.known();
        let new = with_retry(
            "read the erasure requests",
            &self.metrics.store_errors,
            || Erasures::read_new(&self.store, &self.prefix, &known),
        )
        .await?;
        let added = e.add(new)?;
        if added > 0 {
            tracing::info!(requests = e.len(), added, "erasure requests read");
        }
        *seen = Some(mark.clone());
        Ok(())
    }

    /// One bucket's rows written as a data file of `table`; its description.
    #[allow(clippy::too_many_arguments)]
    async fn write_bucket(
        &self,
        table: &Table,
        covered: Covered<'_>,
        held: i64,
        hour: i64,
        schema_id: Option<u32>,
        target: &Schema,
        batch: &RecordBatch,
    ) -> anyhow::Result<DataFile> {
        let first = if held >= covered.start {
            held + 1
        } else {
            covered.start
        };
        let sid = schema_id.map_or_else(|| "none".to_owned(), |i| i.to_string());
        let meta = [
            ("tributary.topic", covered.topic.to_owned()),
            ("tributary.partition", covered.partition.to_string()),
            ("tributary.start_offset", first.to_string()),
            ("tributary.end_offset", covered.end.to_string()),
            ("tributary.schema_id", sid.clone()),
        ];
        let (date, h) = date_hour(hour);
        let folder = format!(
            "{}/data/{PARTITION_SOURCE}_hour={date}-{h}",
            table.metadata().location().trim_end_matches('/')
        );
        let stem = format!(
            "{}+{}+{first:020}-{:020}+{sid}",
            covered.topic, covered.partition, covered.end
        );
        let hour =
            i32::try_from(hour).map_err(|_| anyhow::anyhow!("event hour {hour} out of range"))?;
        let partition = Struct::from_iter([Some(Literal::int(hour))]);
        self.write_data_file(table, &folder, &stem, target, batch, &meta, partition)
            .await
    }

    /// Writes `batch` (schema `target`) as a Parquet data file of `table`
    /// in `folder`, named `<stem>-<hash of its bytes>.parquet` — so a file
    /// written again with other bytes never replaces one a snapshot may
    /// hold — and returns its description (statistics, partition).
    #[allow(clippy::too_many_arguments)]
    pub async fn write_data_file(
        &self,
        table: &Table,
        folder: &str,
        stem: &str,
        target: &Schema,
        batch: &RecordBatch,
        meta: &[(&str, String)],
        partition: Struct,
    ) -> anyhow::Result<DataFile> {
        let memory = FileIO::new_with_memory();
        let scratch = "memory:///file.parquet";
        let mut w = ParquetWriterBuilder::new(parquet_out::props(meta), Arc::new(target.clone()))
            .build(memory.new_output(scratch)?)
            .await?;
        w.write(batch).await?;
        let mut builders = w.close().await?;
        let bytes = memory.new_input(scratch)?.read().await?.to_vec();
        let mut b = builders
            .pop()
            .ok_or_else(|| anyhow::anyhow!("the Parquet writer wrote no file"))?;
        let path = format!(
            "{folder}/{stem}-{:016x}.parquet",
            xxhash_rust::xxh3::xxh3_64(&bytes)
        );
        let name = self
            .store
            .name_of(&path)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "table location {} is outside the lake's store",
                    table.metadata().location()
                )
            })?
            .to_owned();
        let written = with_retry(&name, &self.metrics.store_errors, || {
            self.store.put(&name, bytes.clone())
        })
        .await?;
        self.metrics.objects.inc();
        self.metrics.bytes.inc_by(bytes.len() as u64);
        if written != Written::Created {
            self.metrics.rewrites.inc();
        }
        b.file_path(path)
            .partition(partition)
            .partition_spec_id(table.metadata().default_partition_spec_id());
        Ok(b.build()?)
    }

    /// Makes sure table `name` exists, created with the columns `fields`
    /// (an event file's) if it does not; whether it was created. (Columns
    /// added later are added by the appends that bring them.)
    pub async fn ensure_table(
        &self,
        name: &str,
        fields: Vec<arrow_schema::Field>,
    ) -> anyhow::Result<bool> {
        let ident = self.ident(name);
        if self.catalog.table_exists(&ident).await? {
            return Ok(false);
        }
        let file = arrow_schema_to_schema_auto_assign_ids(&ArrowSchema::new(fields))?;
        self.load_or_create(&ident, &file).await?;
        Ok(true)
    }

    async fn load_or_create(&self, ident: &TableIdent, file: &Schema) -> anyhow::Result<Table> {
        if self.catalog.table_exists(ident).await? {
            return Ok(self.catalog.load_table(ident).await?);
        }
        let source = file
            .field_by_name(PARTITION_SOURCE)
            .ok_or_else(|| anyhow::anyhow!("event files have no {PARTITION_SOURCE} column"))?
            .id;
        let spec = UnboundPartitionSpec::builder()
            .add_partition_field(source, format!("{PARTITION_SOURCE}_hour"), Transform::Hour)?
            .build();
        let creation = TableCreation::builder()
            .name(ident.name().to_owned())
            .schema(file.clone())
            .partition_spec(spec)
            .properties([
                ("write.format.default".to_owned(), "parquet".to_owned()),
                (
                    "write.parquet.compression-codec".to_owned(),
                    "snappy".to_owned(),
                ),
            ])
            .build();
        match self.catalog.create_table(&self.namespace, creation).await {
            Ok(t) => {
                tracing::info!(table = %ident, location = t.metadata().location(), "created table");
                Ok(t)
            }
            // Another instance created it meanwhile.
            Err(_) if self.catalog.table_exists(ident).await? => {
                Ok(self.catalog.load_table(ident).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Adds what the files need to the table's schema, from the table's
    /// current state (another instance may have added some meanwhile).
    async fn evolve(
        &self,
        ident: &TableIdent,
        files: &[Schema],
        rows: &[TableRows],
    ) -> anyhow::Result<Table> {
        loop {
            let table = self.catalog.load_table(ident).await?;
            let mut tx = Transaction::new(&table);
            let mut update = tx.update_schema();
            let mut changes = 0;
            let mut seen: Vec<schema::Addition> = Vec::new();
            for (file, r) in files.iter().zip(rows) {
                for a in
                    schema::plan(table.metadata().current_schema(), file, r.schema_id).additions
                {
                    // Two buckets of one schema id want the same columns.
                    if !seen.contains(&a) {
                        update = update.add_column(a.to_add_column());
                        seen.push(a);
                        changes += 1;
                    }
                }
            }
            if changes == 0 {
                return Ok(table);
            }
            tx = update.apply(tx)?;
            match tx.commit(self.catalog.as_ref()).await {
                Ok(t) => {
                    self.metrics.table_schema_updates.inc();
                    tracing::info!(table = %ident, columns = changes, "table schema evolved");
                    return Ok(t);
                }
                Err(e) if catalog::is_conflict(&e) => {
                    self.metrics.table_conflicts.inc();
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Appends `files` in one snapshot, if the table still holds what was
    /// checked (`held` for this partition, erasure `mark`); checks again
    /// after a race.
    async fn commit(
        &self,
        ident: &TableIdent,
        covered: Covered<'_>,
        held: i64,
        mark: &Option<String>,
        files: Vec<DataFile>,
    ) -> anyhow::Result<Committed> {
        loop {
            let table = self.catalog.load_table(ident).await?;
            let recorded = offsets::recorded(table.metadata());
            let now = offsets::last(&recorded, covered.topic, covered.partition);
            if now >= covered.end {
                return Ok(Committed::Done(Appended::AlreadyHeld));
            }
            if now != held {
                return Ok(Committed::Done(Appended::TakenOver));
            }
            let now_mark = erasure_mark(&table);
            if now_mark != *mark {
                return Ok(Committed::ErasuresChanged(now_mark));
            }
            let base = table
                .metadata_location()
                .ok_or_else(|| anyhow::anyhow!("table {ident} has no metadata location"))?
                .to_owned();
            let properties = HashMap::from([(
                offsets::PROPERTY.to_owned(),
                offsets::with(recorded, covered.topic, covered.partition, covered.end),
            )]);
            let tx = Transaction::new(&table);
            let tx = tx
                .fast_append()
                // The recorded offsets already rule out a file twice;
                // checking would read every manifest of the table.
                .with_check_duplicate(false)
                .add_data_files(files.clone())
                .set_snapshot_properties(properties)
                .apply(tx)?;
            let guarded = catalog::Guarded {
                inner: self.catalog.as_ref(),
                base,
            };
            match tx.commit(&guarded).await {
                Ok(_) if crate::failpoint::fails("commit-answer-lost") => {
                    anyhow::bail!("failpoint: the catalog's answer was lost")
                }
                Ok(_) => {
                    let rows = files.iter().map(|f| f.record_count() as usize).sum();
                    return Ok(Committed::Done(Appended::Committed(rows)));
                }
                Err(e) if catalog::is_conflict(&e) => {
                    self.metrics.table_conflicts.inc();
                    tracing::info!(table = %ident, "commit raced another writer; checking again");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The rows of `batch` after Kafka offset `held`.
fn after(batch: &RecordBatch, held: i64) -> anyhow::Result<RecordBatch> {
    let offsets = batch
        .column_by_name("kafka_offset")
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .ok_or_else(|| anyhow::anyhow!("event files have a kafka_offset column"))?;
    let keep = arrow_array::BooleanArray::from_iter(
        offsets.iter().map(|o| Some(o.is_some_and(|o| o > held))),
    );
    Ok(arrow_select::filter::filter_record_batch(batch, &keep)?)
}
