//! The lake's object store as Apache Iceberg's file I/O, so table metadata,
//! manifests and data files go through the same `object_store` client (and
//! the same S3 settings and credentials) as every other object of the lake.
//!
//! Iceberg names files by URL (`file:///lake/iceberg/…`,
//! `s3://bucket/lake/iceberg/…`); a URL outside the store's root is an
//! error.

use crate::store::Store;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use iceberg::io::{
    FileIO, FileIOBuilder, FileMetadata, FileRead, FileWrite, InputFile, OutputFile, Storage,
    StorageConfig, StorageFactory,
};
use iceberg::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::Arc;

/// Iceberg's storage over the lake's store. Serialised (Iceberg requires
/// it) as its root URL only; a deserialised copy has no store and fails
/// every call.
#[derive(Clone, Serialize, Deserialize)]
pub struct LakeStorage {
    root: String,
    #[serde(skip)]
    store: Option<Store>,
}

impl std::fmt::Debug for LakeStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LakeStorage({})", self.root)
    }
}

fn fail(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Unexpected, e.to_string())
}

impl LakeStorage {
    /// Iceberg file I/O over `store`.
    pub fn file_io(store: &Store) -> FileIO {
        FileIOBuilder::new(Arc::new(Self::of(store))).build()
    }

    /// The storage of `store`.
    pub fn of(store: &Store) -> LakeStorage {
        LakeStorage {
            root: store.root_url().to_owned(),
            store: Some(store.clone()),
        }
    }

    fn at<'u>(&self, url: &'u str) -> Result<(&Store, &'u str)> {
        let store = self
            .store
            .as_ref()
            .ok_or_else(|| fail("a deserialised LakeStorage has no store"))?;
        let name = store.name_of(url).ok_or_else(|| {
            Error::new(
                ErrorKind::DataInvalid,
                format!("{url} is outside the lake's store {}", self.root),
            )
        })?;
        Ok((store, name))
    }
}

#[async_trait::async_trait]
#[typetag::serde]
impl Storage for LakeStorage {
    async fn exists(&self, path: &str) -> Result<bool> {
        let (store, name) = self.at(path)?;
        Ok(store.size(name).await.map_err(fail)?.is_some())
    }

    async fn metadata(&self, path: &str) -> Result<FileMetadata> {
        let (store, name) = self.at(path)?;
        match store.size(name).await.map_err(fail)? {
            Some(size) => Ok(FileMetadata { size }),
            None => Err(Error::new(
                ErrorKind::DataInvalid,
                format!("file not found: {path}"),
            )),
        }
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        let (store, name) = self.at(path)?;
        Ok(Bytes::from(store.get(name).await.map_err(fail)?))
    }

    async fn reader(&self, path: &str) -> Result<Box<dyn FileRead>> {
        let (store, name) = self.at(path)?;
        Ok(Box::new(Reader {
            store: store.clone(),
            name: name.to_owned(),
        }))
    }

    async fn write(&self, path: &str, bs: Bytes) -> Result<()> {
        let (store, name) = self.at(path)?;
        store.put_over(name, bs).await.map_err(fail)
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn FileWrite>> {
        let (store, name) = self.at(path)?;
        Ok(Box::new(Writer {
            store: store.clone(),
            name: name.to_owned(),
            buf: Vec::new(),
            closed: false,
        }))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let (store, name) = self.at(path)?;
        store.delete(name).await.map_err(fail)
    }

    async fn delete_prefix(&self, path: &str) -> Result<()> {
        let (store, name) = self.at(path)?;
        let prefix = format!("{}/", name.trim_end_matches('/'));
        for n in store.list(&prefix).await.map_err(fail)? {
            store.delete(&n).await.map_err(fail)?;
        }
        Ok(())
    }

    async fn delete_stream(&self, mut paths: BoxStream<'static, String>) -> Result<()> {
        while let Some(p) = paths.next().await {
            self.delete(&p).await?;
        }
        Ok(())
    }

    fn new_input(&self, path: &str) -> Result<InputFile> {
        Ok(InputFile::new(Arc::new(self.clone()), path.to_owned()))
    }

    fn new_output(&self, path: &str) -> Result<OutputFile> {
        Ok(OutputFile::new(Arc::new(self.clone()), path.to_owned()))
    }
}

#[typetag::serde]
impl StorageFactory for LakeStorage {
    fn build(&self, _: &StorageConfig) -> Result<Arc<dyn Storage>> {
        Ok(Arc::new(self.clone()))
    }
}

struct Reader {
    store: Store,
    name: String,
}

#[async_trait::async_trait]
impl FileRead for Reader {
    async fn read(&self, range: Range<u64>) -> Result<Bytes> {
        self.store.get_range(&self.name, range).await.map_err(fail)
    }
}

/// Buffers a file and writes it whole on close: Iceberg's metadata files
/// and manifests are small, and an object store has no appends.
struct Writer {
    store: Store,
    name: String,
    buf: Vec<u8>,
    closed: bool,
}

#[async_trait::async_trait]
impl FileWrite for Writer {
    async fn write(&mut self, bs: Bytes) -> Result<()> {
        self.buf.extend_from_slice(&bs);
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        if self.closed {
            return Err(fail(format!("{} closed twice", self.name)));
        }
        self.closed = true;
        let bytes = Bytes::from(std::mem::take(&mut self.buf));
        self.store.put_over(&self.name, bytes).await.map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StoreConfig;

    #[tokio::test]
    async fn files_by_url_are_objects_of_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig {
            url: format!("file://{}", dir.path().display()),
            ..StoreConfig::default()
        })
        .unwrap();
        let io = LakeStorage::file_io(&store);
        let url = format!("{}/t/metadata/v1.json", store.root_url());
        let out = io.new_output(&url).unwrap();
        let mut w = out.writer().await.unwrap();
        w.write(Bytes::from_static(b"{\"a\":")).await.unwrap();
        w.write(Bytes::from_static(b"1}")).await.unwrap();
        w.close().await.unwrap();
        assert_eq!(store.get("t/metadata/v1.json").await.unwrap(), b"{\"a\":1}");
        let input = io.new_input(&url).unwrap();
        assert_eq!(input.metadata().await.unwrap().size, 7);
        assert_eq!(
            &input.reader().await.unwrap().read(1..4).await.unwrap()[..],
            b"\"a\""
        );
        assert!(
            io.new_input("file:///elsewhere/x")
                .unwrap()
                .exists()
                .await
                .is_err()
        );
        io.delete(&url).await.unwrap();
        assert!(!io.exists(&url).await.unwrap());
    }
}
