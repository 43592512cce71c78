//! The object store the lake lives in (`object_store`): local filesystem,
//! S3 and S3-compatible endpoints, or memory for tests.
//!
//! Objects are written create-only: when an object of that name already
//! exists (a replay after a crash between writing and committing), the
//! existing bytes are compared — identical means the earlier attempt
//! finished, and nothing is written; different means the earlier attempt
//! saw a different cut (another configuration), and the replay's object,
//! which starts at the same offset, replaces it.

use crate::config::StoreConfig;
use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use std::sync::Arc;

/// What a put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// A new object.
    Created,
    /// Already there with the same bytes.
    AlreadyThere,
    /// Already there with other bytes; replaced.
    Replaced,
}

/// The lake's store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    prefix: String,
    /// The store's root as a URL other readers can open (`file:///abs`,
    /// `s3://bucket/prefix`, `memory://`).
    root: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.inner)
    }
}

impl Store {
    /// Opens the store named by `config.url`.
    pub fn open(config: &StoreConfig) -> anyhow::Result<Store> {
        let url = &config.url;
        if let Some(path) = url.strip_prefix("file://") {
            std::fs::create_dir_all(path)
                .map_err(|e| anyhow::anyhow!("store {url}: cannot create {path}: {e}"))?;
            let fs = LocalFileSystem::new_with_prefix(path)?;
            let abs = std::fs::canonicalize(path)
                .map_err(|e| anyhow::anyhow!("store {url}: {path}: {e}"))?;
            return Ok(Store {
                inner: Arc::new(fs),
                prefix: String::new(),
                root: format!("file://{}", abs.display()),
            });
        }
        if url.starts_with("memory://") {
            return Ok(Store::from_object_store(Arc::new(InMemory::new())));
        }
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| anyhow::anyhow!("store.url {url}: use file://, s3:// or memory://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_allow_http(config.s3_allow_http)
            .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch);
        if let Some(e) = &config.s3_endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(r) = &config.s3_region {
            b = b.with_region(r);
        }
        let prefix = prefix.trim_matches('/').to_owned();
        Ok(Store {
            inner: Arc::new(b.build()?),
            root: match prefix.as_str() {
                "" => format!("s3://{bucket}"),
                p => format!("s3://{bucket}/{p}"),
            },
            prefix,
        })
    }

    /// A store over an existing `object_store` (tests), rooted at
    /// `memory://`.
    pub fn from_object_store(inner: Arc<dyn ObjectStore>) -> Store {
        Store {
            inner,
            prefix: String::new(),
            root: "memory://".into(),
        }
    }

    /// The store's root as a URL (`file:///abs/path`, `s3://bucket/prefix`,
    /// `memory://`): Iceberg metadata names files by such URLs.
    pub fn root_url(&self) -> &str {
        &self.root
    }

    /// The object name of `url`, a URL inside the store; `None` outside it.
    pub fn name_of<'u>(&self, url: &'u str) -> Option<&'u str> {
        let rest = url.strip_prefix(self.root.as_str())?;
        match rest.strip_prefix('/') {
            Some(name) => Some(name),
            None if self.root.ends_with('/') => Some(rest),
            None => None,
        }
    }

    fn path(&self, name: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(name)
        } else {
            Path::from(format!("{}/{name}", self.prefix))
        }
    }

    /// Writes `bytes` as `name`, create-only (see the module comment).
    pub async fn put(&self, name: &str, bytes: Vec<u8>) -> anyhow::Result<Written> {
        let path = self.path(name);
        let bytes = Bytes::from(bytes);
        let create = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .inner
            .put_opts(&path, PutPayload::from_bytes(bytes.clone()), create)
            .await
        {
            Ok(_) => Ok(Written::Created),
            Err(object_store::Error::AlreadyExists { .. }) => {
                let existing = self.inner.get(&path).await?.bytes().await?;
                if existing == bytes {
                    Ok(Written::AlreadyThere)
                } else {
                    self.inner.put(&path, PutPayload::from_bytes(bytes)).await?;
                    Ok(Written::Replaced)
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every object name under `prefix`.
    pub async fn list(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        use futures_util::TryStreamExt;
        let p = self.path(prefix);
        let metas: Vec<_> = self.inner.list(Some(&p)).try_collect().await?;
        // Names as `put` and `get` take them: without the store's prefix.
        let own = format!("{}/", self.prefix);
        Ok(metas
            .into_iter()
            .map(|m| {
                let name = m.location.to_string();
                match name.strip_prefix(&own) {
                    Some(rest) if !self.prefix.is_empty() => rest.to_owned(),
                    _ => name,
                }
            })
            .collect())
    }

    /// Writes `bytes` as `name`, replacing what is there.
    pub async fn put_over(&self, name: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.inner
            .put(&self.path(name), PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    /// An object's size; `None` when there is no such object.
    pub async fn size(&self, name: &str) -> anyhow::Result<Option<u64>> {
        match self.inner.head(&self.path(name)).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Bytes `range` of an object.
    pub async fn get_range(
        &self,
        name: &str,
        range: std::ops::Range<u64>,
    ) -> anyhow::Result<Bytes> {
        Ok(self.inner.get_range(&self.path(name), range).await?)
    }

    /// Deletes an object (nothing when there is none).
    pub async fn delete(&self, name: &str) -> anyhow::Result<()> {
        match self.inner.delete(&self.path(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// One object's bytes.
    pub async fn get(&self, name: &str) -> anyhow::Result<Vec<u8>> {
        Ok(self
            .inner
            .get(&self.path(name))
            .await?
            .bytes()
            .await?
            .to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn puts_are_create_only_and_replays_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig {
            url: format!("file://{}", dir.path().display()),
            ..StoreConfig::default()
        })
        .unwrap();
        assert_eq!(
            store.put("a/b.parquet", b"one".to_vec()).await.unwrap(),
            Written::Created
        );
        assert_eq!(
            store.put("a/b.parquet", b"one".to_vec()).await.unwrap(),
            Written::AlreadyThere
        );
        assert_eq!(
            store.put("a/b.parquet", b"two".to_vec()).await.unwrap(),
            Written::Replaced
        );
        assert_eq!(store.get("a/b.parquet").await.unwrap(), b"two");
        assert_eq!(store.list("a").await.unwrap(), ["a/b.parquet"]);
        assert!(dir.path().join("a/b.parquet").exists());
    }
}
