//! `tributary-pipeline erase`: records the request, then removes the
//! user's rows from what the lake already holds.
//!
//! * Iceberg lakes: every event table is marked first (so a pipeline
//!   committing at the same time filters again, see `erasure`), then each
//!   table's data files that may hold the user's rows (their app and id
//!   columns' bounds allow it) are read, and those that do are replaced by
//!   copies without the rows in one `overwrite` snapshot
//!   (`iceberg::overwrite`), retried from the table's new state if another
//!   commit came first. Older snapshots still reference the old files
//!   until they are expired (`expire_snapshots` in Spark or PyIceberg),
//!   which is what removes the data from storage.
//! * Plain Parquet lakes: after `[erasure] grace_secs`, each event file
//!   holding the user's rows is rewritten in place without them.

use crate::config::Config;
use crate::erasure::{Erasures, Kind, Record, TABLE_PROPERTY};
use crate::iceberg::overwrite::{Overwritten, overwrite};
use crate::iceberg::{Tables, files};
use crate::store::Store;
use arrow_array::{RecordBatch, RecordBatchReader};
use bytes::Bytes;
use iceberg::arrow::{arrow_schema_to_schema, schema_to_arrow_schema};
use iceberg::spec::{DataFile, Datum};
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Whose data to erase.
#[derive(Debug, Clone)]
pub struct Request {
    /// The app.
    pub app: String,
    /// User or anonymous id.
    pub kind: Kind,
    /// The id.
    pub id: String,
}

/// What erase changed in one table (or, in a plain lake, one event folder).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Touched {
    /// The table or folder.
    pub table: String,
    /// Data files read.
    pub files_read: usize,
    /// Data files replaced (or dropped, when nothing else was in them).
    pub files_rewritten: usize,
    /// Rows removed.
    pub rows_removed: usize,
}

/// Records `request` and removes its rows; one entry per table touched.
pub async fn erase(
    config: &Config,
    store: &Store,
    tables: Option<&Tables>,
    request: &Request,
) -> anyhow::Result<Vec<Touched>> {
    let prefix = crate::segment::object_prefix(&config.offload.prefix);
    let record = Record::new(
        &request.app,
        request.kind,
        &request.id,
        chrono::Utc::now().timestamp_millis(),
    );
    store
        .put(&record.path(&prefix), serde_json::to_vec(&record)?)
        .await?;
    let mut one = Erasures::default();
    one.add(vec![(record.path(&prefix), record.clone())])?;
    match tables {
        Some(t) => erase_tables(t, &one, &record, request).await,
        None => {
            tokio::time::sleep(Duration::from_secs(config.erasure.grace_secs)).await;
            erase_files(store, &prefix, &one).await
        }
    }
}

/// The bytes of a Parquet object as one batch, and its key-value
/// metadata (kept when the file is rewritten).
fn read_parquet(bytes: Vec<u8>) -> anyhow::Result<(RecordBatch, Vec<(String, String)>)> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes))?;
    let meta = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let reader = builder.build()?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    Ok((
        arrow_select::concat::concat_batches(&schema, &batches)?,
        meta,
    ))
}

/// Key-value metadata as the writers take it.
fn as_meta(kv: &[(String, String)]) -> Vec<(&str, String)> {
    kv.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
}

async fn erase_tables(
    tables: &Tables,
    one: &Erasures,
    record: &Record,
    request: &Request,
) -> anyhow::Result<Vec<Touched>> {
    let idents = tables.catalog().list_tables(tables.namespace()).await?;
    // Mark first: a pipeline that commits from now on reads the request.
    for ident in &idents {
        loop {
            let t = tables.catalog().load_table(ident).await?;
            let tx = Transaction::new(&t);
            let tx = tx
                .update_table_properties()
                .set(TABLE_PROPERTY.to_owned(), record.hash.clone())
                .apply(tx)?;
            match tx.commit(tables.catalog().as_ref()).await {
                Ok(_) => break,
                Err(e) if crate::iceberg::catalog::is_conflict(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
    let mut out = Vec::new();
    for ident in &idents {
        for _attempt in 0..20 {
            let table = tables.catalog().load_table(ident).await?;
            let schema = table.metadata().current_schema().clone();
            let id_of = |name: &str| schema.field_by_name(name).map(|f| f.id);
            let (Some(app_field), Some(id_field)) = (id_of("app_id"), id_of(request.kind.column()))
            else {
                break;
            };
            let mut touched = Touched {
                table: ident.name().to_owned(),
                ..Touched::default()
            };
            let mut replaced: HashMap<String, Option<DataFile>> = HashMap::new();
            for m in files::manifests(&table).await? {
                for e in m.entries.iter().filter(|e| e.is_alive()) {
                    let f = e.data_file();
                    if !may_hold(f, app_field, &request.app) || !may_hold(f, id_field, &request.id)
                    {
                        continue;
                    }
                    touched.files_read += 1;
                    let name = tables
                        .store()
                        .name_of(f.file_path())
                        .ok_or_else(|| anyhow::anyhow!("{} is outside the store", f.file_path()))?
                        .to_owned();
                    let (batch, kv) = read_parquet(tables.store().get(&name).await?)?;
                    let (kept, removed) = one.filter(batch)?;
                    if removed == 0 {
                        continue;
                    }
                    touched.rows_removed += removed;
                    touched.files_rewritten += 1;
                    let new = if kept.num_rows() == 0 {
                        None
                    } else {
                        let iceberg_schema = arrow_schema_to_schema(&kept.schema())?;
                        let arrow = Arc::new(schema_to_arrow_schema(&iceberg_schema)?);
                        let kept = RecordBatch::try_new(arrow, kept.columns().to_vec())?;
                        let (folder, file) = f
                            .file_path()
                            .rsplit_once('/')
                            .unwrap_or(("", f.file_path()));
                        let stem = file
                            .strip_suffix(".parquet")
                            .map_or(file, |s| s.rsplit_once('-').map_or(s, |(stem, _)| stem));
                        Some(
                            tables
                                .write_data_file(
                                    &table,
                                    folder,
                                    stem,
                                    &iceberg_schema,
                                    &kept,
                                    &as_meta(&kv),
                                    f.partition().clone(),
                                )
                                .await?,
                        )
                    };
                    replaced.insert(f.file_path().to_owned(), new);
                }
            }
            if replaced.is_empty() {
                out.push(touched);
                break;
            }
            let props = HashMap::from([("tributary.erasure".to_owned(), record.hash.clone())]);
            match overwrite(tables, &table, &replaced, props).await? {
                Overwritten::Committed => {
                    out.push(touched);
                    break;
                }
                Overwritten::Conflict => {
                    tracing::info!(table = %ident, "another commit came first; erasing again");
                }
            }
        }
    }
    Ok(out)
}

/// Whether a data file's bounds for column `field` allow `value` (no
/// bounds: it may).
fn may_hold(f: &DataFile, field: i32, value: &str) -> bool {
    let v = Datum::string(value);
    f.lower_bounds().get(&field).is_none_or(|l| *l <= v)
        && f.upper_bounds().get(&field).is_none_or(|u| *u >= v)
}

async fn erase_files(store: &Store, prefix: &str, one: &Erasures) -> anyhow::Result<Vec<Touched>> {
    let mut by_event: HashMap<String, Touched> = HashMap::new();
    for name in store.list(prefix).await? {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let Some(event) = rest
            .strip_prefix("event=")
            .and_then(|r| r.split('/').next())
        else {
            continue;
        };
        if !name.ends_with(".parquet") {
            continue;
        }
        let touched = by_event.entry(event.to_owned()).or_insert_with(|| Touched {
            table: event.to_owned(),
            ..Touched::default()
        });
        touched.files_read += 1;
        let (batch, kv) = read_parquet(store.get(&name).await?)?;
        let (kept, removed) = one.filter(batch)?;
        if removed == 0 {
            continue;
        }
        touched.rows_removed += removed;
        touched.files_rewritten += 1;
        if kept.num_rows() == 0 {
            store.delete(&name).await?;
        } else {
            let bytes = crate::parquet_out::encode(&kept, &as_meta(&kv))?;
            store.put_over(&name, Bytes::from(bytes)).await?;
        }
    }
    let mut out: Vec<Touched> = by_event.into_values().collect();
    out.sort_by(|a, b| a.table.cmp(&b.table));
    Ok(out)
}
