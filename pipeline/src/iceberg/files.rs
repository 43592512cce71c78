//! The live data files of a table's current snapshot, read from its
//! manifest list and manifests (the loading recipe lists them; erasure
//! rewrites some of them).

use iceberg::spec::{ManifestEntryRef, ManifestFile, ManifestList};
use iceberg::table::Table;

/// One manifest of the current snapshot and its entries (live or not).
pub struct Manifest {
    /// The manifest as the manifest list names it.
    pub file: ManifestFile,
    /// Its entries, with inherited snapshot ids and sequence numbers filled.
    pub entries: Vec<ManifestEntryRef>,
}

/// Every manifest of the current snapshot (none for an empty table).
pub async fn manifests(table: &Table) -> anyhow::Result<Vec<Manifest>> {
    let Some(snapshot) = table.metadata().current_snapshot() else {
        return Ok(Vec::new());
    };
    let io = table.file_io();
    let bytes = io.new_input(snapshot.manifest_list())?.read().await?;
    let list = ManifestList::parse_with_version(&bytes, table.metadata().format_version())?;
    let mut out = Vec::new();
    for file in list.consume_entries() {
        let manifest = file.load_manifest(io).await?;
        out.push(Manifest {
            entries: manifest.entries().to_vec(),
            file,
        });
    }
    Ok(out)
}

/// The URLs of the current snapshot's live data files.
pub async fn live_paths(table: &Table) -> anyhow::Result<Vec<String>> {
    Ok(manifests(table)
        .await?
        .iter()
        .flat_map(|m| &m.entries)
        .filter(|e| e.is_alive())
        .map(|e| e.file_path().to_owned())
        .collect())
}
