//! Opening the Iceberg catalog named by `[lake.catalog]`, and the guard
//! that makes an append's commit conditional on the table state its
//! offsets were checked against.
//!
//! Why the guard: Iceberg's `Transaction::commit` reloads the table and
//! re-applies the append when the table moved since it was loaded — right
//! for a blind append, wrong for ours, whose snapshot records the Kafka
//! offsets it covers and must not be applied over a state in which another
//! writer already committed those offsets (a zombie instance of a
//! rebalanced partition). [`Guarded`] refuses the reload when the table's
//! metadata is no longer the one the caller checked, so the caller checks
//! again; the catalog's own compare-and-swap covers the rest of the window.

use crate::config::{CatalogConfig, CatalogKind};
use crate::iceberg::storage::LakeStorage;
use crate::store::Store;
use iceberg::{
    Catalog, CatalogBuilder, Error, ErrorKind, Namespace, NamespaceIdent, Result, TableCommit,
    TableCreation, TableIdent, table::Table,
};
use iceberg_catalog_rest::RestCatalogBuilder;
use iceberg_catalog_sql::SqlCatalogBuilder;
use std::collections::HashMap;
use std::sync::Arc;

/// Opens the catalog; the warehouse (where a SQL catalog puts new tables)
/// is `warehouse`.
pub async fn open(
    config: &CatalogConfig,
    store: &Store,
    warehouse: &str,
) -> anyhow::Result<Arc<dyn Catalog>> {
    let storage = Arc::new(LakeStorage::of(store));
    let mut props: HashMap<String, String> = config
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match config.kind {
        CatalogKind::Sql => {
            props.insert("uri".into(), sql_uri(&config.uri)?);
            props.insert("warehouse".into(), warehouse.to_owned());
            let style = if config.uri.starts_with("postgres") {
                "DollarNumeric"
            } else {
                "QMark"
            };
            props.insert("sql_bind_style".into(), style.into());
            let c = SqlCatalogBuilder::default()
                .with_storage_factory(storage)
                .load(&config.name, props)
                .await
                .map_err(|e| anyhow::anyhow!("iceberg catalog {}: {e}", config.uri))?;
            Ok(Arc::new(c))
        }
        CatalogKind::Rest => {
            props.insert("uri".into(), config.uri.clone());
            let c = RestCatalogBuilder::default()
                .with_storage_factory(storage)
                .load(&config.name, props)
                .await
                .map_err(|e| anyhow::anyhow!("iceberg catalog {}: {e}", config.uri))?;
            Ok(Arc::new(c))
        }
    }
}

/// A SQLite URL names a file the driver may create (`mode=rwc`), in a
/// folder made here.
pub(crate) fn sql_uri(uri: &str) -> anyhow::Result<String> {
    let Some(path) = uri.strip_prefix("sqlite://") else {
        return Ok(uri.to_owned());
    };
    let file = path.split('?').next().unwrap_or(path);
    if let Some(dir) = std::path::Path::new(file).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("catalog {uri}: cannot create {}: {e}", dir.display()))?;
    }
    Ok(if path.contains('?') {
        uri.to_owned()
    } else {
        format!("{uri}?mode=rwc")
    })
}

/// `inner`, except that `load_table` fails unless the table is still at
/// metadata `base` (see the module comment).
#[derive(Debug)]
pub struct Guarded<'a> {
    /// The catalog.
    pub inner: &'a dyn Catalog,
    /// The metadata location the caller checked.
    pub base: String,
}

/// The error [`Guarded`] answers with when the table moved.
pub fn moved() -> Error {
    Error::new(
        ErrorKind::CatalogCommitConflicts,
        "the table changed after its offsets were checked",
    )
    .with_retryable(false)
}

/// Whether `e` means another commit came first (check again and retry).
pub fn is_conflict(e: &Error) -> bool {
    e.kind() == ErrorKind::CatalogCommitConflicts
}

#[async_trait::async_trait]
impl Catalog for Guarded<'_> {
    async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
    ) -> Result<Vec<NamespaceIdent>> {
        self.inner.list_namespaces(parent).await
    }
    async fn create_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<Namespace> {
        self.inner.create_namespace(namespace, properties).await
    }
    async fn get_namespace(&self, namespace: &NamespaceIdent) -> Result<Namespace> {
        self.inner.get_namespace(namespace).await
    }
    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> Result<bool> {
        self.inner.namespace_exists(namespace).await
    }
    async fn update_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<()> {
        self.inner.update_namespace(namespace, properties).await
    }
    async fn drop_namespace(&self, namespace: &NamespaceIdent) -> Result<()> {
        self.inner.drop_namespace(namespace).await
    }
    async fn list_tables(&self, namespace: &NamespaceIdent) -> Result<Vec<TableIdent>> {
        self.inner.list_tables(namespace).await
    }
    async fn create_table(
        &self,
        namespace: &NamespaceIdent,
        creation: TableCreation,
    ) -> Result<Table> {
        self.inner.create_table(namespace, creation).await
    }
    async fn load_table(&self, table: &TableIdent) -> Result<Table> {
        let t = self.inner.load_table(table).await?;
        match t.metadata_location() {
            Some(l) if l == self.base => Ok(t),
            _ => Err(moved()),
        }
    }
    async fn drop_table(&self, table: &TableIdent) -> Result<()> {
        self.inner.drop_table(table).await
    }
    async fn purge_table(&self, table: &TableIdent) -> Result<()> {
        self.inner.purge_table(table).await
    }
    async fn table_exists(&self, table: &TableIdent) -> Result<bool> {
        self.inner.table_exists(table).await
    }
    async fn rename_table(&self, src: &TableIdent, dest: &TableIdent) -> Result<()> {
        self.inner.rename_table(src, dest).await
    }
    async fn register_table(&self, table: &TableIdent, metadata_location: String) -> Result<Table> {
        self.inner.register_table(table, metadata_location).await
    }
    async fn update_table(&self, commit: TableCommit) -> Result<Table> {
        self.inner.update_table(commit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_may_create_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("sqlite://{}/sub/catalog.db", dir.path().display());
        assert_eq!(sql_uri(&uri).unwrap(), format!("{uri}?mode=rwc"));
        assert!(dir.path().join("sub").is_dir());
        assert_eq!(sql_uri("postgres://h/db").unwrap(), "postgres://h/db");
    }
}
