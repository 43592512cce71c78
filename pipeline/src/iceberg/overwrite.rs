//! A copy-on-write overwrite of an Iceberg table — some data files
//! replaced by rewritten copies (or dropped), in one `overwrite` snapshot —
//! for erasure. The iceberg crate commits only appends, so this writes the
//! snapshot's manifests and manifest list itself, with the crate's
//! manifest writers, and moves the table's metadata pointer in the SQL
//! catalog with the same compare-and-swap the crate's SQL catalog uses:
//! the update only matches while the table is still at the metadata the
//! overwrite was built on. A REST catalog is not supported here.

use crate::config::CatalogKind;
use crate::iceberg::{Tables, files, offsets};
use iceberg::spec::{
    DataFile, ManifestFile, ManifestListWriter, ManifestWriterBuilder, Operation, Snapshot,
    Summary, TableMetadataBuilder,
};
use iceberg::table::Table;
use iceberg::{MetadataLocation, TableIdent};
use std::collections::HashMap;
use std::str::FromStr;

/// What an overwrite did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwritten {
    /// The snapshot is the table's current one.
    Committed,
    /// Another commit came first: build it again from the table's state.
    Conflict,
}

/// Replaces data files of `table`'s current snapshot: each path in
/// `replaced` by its file (or by nothing), in one snapshot with summary
/// `properties` added; the recorded Kafka offsets are carried forward.
pub async fn overwrite(
    tables: &Tables,
    table: &Table,
    replaced: &HashMap<String, Option<DataFile>>,
    properties: HashMap<String, String>,
) -> anyhow::Result<Overwritten> {
    if tables.config.catalog.kind != CatalogKind::Sql {
        anyhow::bail!(
            "rewriting files (erase) needs a sql catalog; this lake's is {:?}",
            tables.config.catalog.kind
        );
    }
    let meta = table.metadata();
    let Some(parent) = meta.current_snapshot() else {
        return Ok(Overwritten::Committed);
    };
    let base_location = table
        .metadata_location()
        .ok_or_else(|| anyhow::anyhow!("table {} has no metadata location", table.identifier()))?
        .to_owned();
    let io = table.file_io();
    let location = meta.location().trim_end_matches('/');
    let snapshot_id = loop {
        let id = (uuid::Uuid::new_v4().as_u128() as i64).wrapping_abs();
        if id > 0 && meta.snapshot_by_id(id).is_none() {
            break id;
        }
    };
    let sequence = meta.next_sequence_number();
    let schema = meta.current_schema().clone();
    let new_manifest = |n: usize| format!("{location}/metadata/{}-m{n}.avro", uuid::Uuid::now_v7());
    let mut list: Vec<ManifestFile> = Vec::new();
    let (mut deleted_files, mut deleted_rows) = (0u64, 0u64);
    let mut n = 0;
    for m in files::manifests(table).await? {
        let touched = m
            .entries
            .iter()
            .any(|e| e.is_alive() && replaced.contains_key(e.file_path()));
        if !touched {
            list.push(m.file);
            continue;
        }
        let spec = meta
            .partition_spec_by_id(m.file.partition_spec_id)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "manifest of unknown partition spec {}",
                    m.file.partition_spec_id
                )
            })?;
        n += 1;
        let mut w = ManifestWriterBuilder::new(
            io.new_output(new_manifest(n))?,
            Some(snapshot_id),
            schema.clone(),
            spec.as_ref().clone(),
        )
        .build_v2_data();
        for e in m.entries.iter().filter(|e| e.is_alive()) {
            let seq = e
                .sequence_number()
                .ok_or_else(|| anyhow::anyhow!("manifest entry without a sequence number"))?;
            if replaced.contains_key(e.file_path()) {
                deleted_files += 1;
                deleted_rows += e.record_count();
                w.add_delete_file(e.data_file().clone(), seq, e.file_sequence_number)?;
            } else {
                let added_by = e
                    .snapshot_id()
                    .ok_or_else(|| anyhow::anyhow!("manifest entry without a snapshot id"))?;
                w.add_existing_file(e.data_file().clone(), added_by, seq, e.file_sequence_number)?;
            }
        }
        list.push(w.write_manifest_file().await?);
    }
    let added: Vec<&DataFile> = replaced.values().flatten().collect();
    let added_rows: u64 = added.iter().map(|f| f.record_count()).sum();
    if !added.is_empty() {
        let mut w = ManifestWriterBuilder::new(
            io.new_output(new_manifest(0))?,
            Some(snapshot_id),
            schema.clone(),
            meta.default_partition_spec().as_ref().clone(),
        )
        .build_v2_data();
        for f in &added {
            w.add_file((*f).clone(), sequence)?;
        }
        // The new files' manifest first, as appends list theirs.
        list.insert(0, w.write_manifest_file().await?);
    }
    let list_path = format!(
        "{location}/metadata/snap-{snapshot_id}-0-{}.avro",
        uuid::Uuid::now_v7()
    );
    let mut lw = ManifestListWriter::v2(
        io.new_output(&list_path)?.writer().await?,
        snapshot_id,
        Some(parent.snapshot_id()),
        sequence,
    );
    lw.add_manifests(list.into_iter())?;
    lw.close().await?;

    let before = &parent.summary().additional_properties;
    let total = |k: &str| {
        before
            .get(k)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut summary: HashMap<String, String> = [
        ("added-data-files", added.len() as u64),
        ("deleted-data-files", deleted_files),
        ("added-records", added_rows),
        ("deleted-records", deleted_rows),
        (
            "total-records",
            (total("total-records") + added_rows).saturating_sub(deleted_rows),
        ),
        (
            "total-data-files",
            (total("total-data-files") + added.len() as u64).saturating_sub(deleted_files),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_string()))
    .collect();
    summary.insert(
        offsets::PROPERTY.to_owned(),
        serde_json::to_string(&offsets::recorded(meta))?,
    );
    summary.extend(properties);
    let snapshot = Snapshot::builder()
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(Some(parent.snapshot_id()))
        .with_sequence_number(sequence)
        .with_timestamp_ms(chrono::Utc::now().timestamp_millis())
        .with_manifest_list(list_path)
        .with_summary(Summary {
            operation: Operation::Overwrite,
            additional_properties: summary,
        })
        .with_schema_id(schema.schema_id())
        .build();
    let metadata =
        TableMetadataBuilder::new_from_metadata(meta.clone(), Some(base_location.clone()))
            .set_branch_snapshot(snapshot, "main")?
            .build()?
            .metadata;
    let next = MetadataLocation::from_str(&base_location)?
        .with_next_version()
        .with_new_metadata(&metadata);
    metadata.write_to(io, &next).await?;
    swap_pointer(
        tables,
        table.identifier(),
        &base_location,
        &next.to_string(),
    )
    .await
}

/// Moves `ident`'s metadata pointer in the SQL catalog from `from` to `to`,
/// if it is still at `from`.
async fn swap_pointer(
    tables: &Tables,
    ident: &TableIdent,
    from: &str,
    to: &str,
) -> anyhow::Result<Overwritten> {
    sqlx::any::install_default_drivers();
    let c = &tables.config.catalog;
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&crate::iceberg::catalog::sql_uri(&c.uri)?)
        .await?;
    let postgres = c.uri.starts_with("postgres");
    let p = |i: usize| {
        if postgres {
            format!("${i}")
        } else {
            "?".to_owned()
        }
    };
    let sql = format!(
        "UPDATE iceberg_tables SET metadata_location = {}, previous_metadata_location = {} \
         WHERE catalog_name = {} AND table_namespace = {} AND table_name = {} AND metadata_location = {}",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6)
    );
    let done = sqlx::query(&sql)
        .bind(to)
        .bind(from)
        .bind(&c.name)
        .bind(ident.namespace().join("."))
        .bind(ident.name())
        .bind(from)
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(if done.rows_affected() == 1 {
        Overwritten::Committed
    } else {
        Overwritten::Conflict
    })
}
