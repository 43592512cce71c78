//! The registry a gateway or pipeline holds: the current [`Catalog`] from
//! its source, and the compiled form of every schema, shared by all
//! requests.
//!
//! Compiled schemas are cached by id in a sharded map. Ids never change
//! meaning, so an entry stays valid across reloads; a reload compiles only
//! the schemas it has not seen. [`Registry::compilations`] counts compiles,
//! which is how tests and the `/metrics` endpoint show there is no
//! per-request compilation.

use crate::catalog::Catalog;
use crate::compiled::Compiled;
use crate::confluent::ConfluentClient;
use crate::dir;
use crate::schema::Schema;
use dashmap::DashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Where schemas come from.
#[derive(Debug)]
pub enum Source {
    /// A schema directory (see [`dir`]); reloaded when a file changes.
    Dir(PathBuf),
    /// A Confluent-compatible registry; refreshed on a timer.
    Confluent(ConfluentClient),
}

/// A schema together with its compiled form.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The registered schema.
    pub schema: Arc<Schema>,
    /// Its validator / descriptor.
    pub compiled: Arc<Compiled>,
}

/// Schemas in force, and their compiled forms.
pub struct Registry {
    source: Source,
    catalog: RwLock<Arc<Catalog>>,
    compiled: DashMap<u32, Arc<Compiled>>,
    compilations: AtomicU64,
    fingerprint: Mutex<Option<dir::Fingerprint>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("source", &self.source)
            .field("schemas", &self.catalog().len())
            .finish()
    }
}

/// Subjects of a shared Confluent registry that are Tributary's:
/// `<app>.<event>` names (other teams' `<topic>-value` subjects are left
/// alone).
fn is_event_subject(subject: &str) -> bool {
    subject.contains('.') && !subject.ends_with("-value") && !subject.ends_with("-key")
}

impl Registry {
    /// Opens a registry and loads it; fails when the source cannot be read
    /// or a schema does not compile (with the schema named).
    pub fn open(source: Source) -> Result<Registry, String> {
        let r = Registry {
            source,
            catalog: RwLock::new(Arc::new(Catalog::default())),
            compiled: DashMap::new(),
            compilations: AtomicU64::new(0),
            fingerprint: Mutex::new(None),
        };
        r.reload()?;
        Ok(r)
    }

    /// A registry over a fixed catalog (tests, tools).
    pub fn from_catalog(catalog: Catalog) -> Result<Registry, String> {
        let r = Registry {
            source: Source::Dir(PathBuf::new()),
            catalog: RwLock::new(Arc::new(Catalog::default())),
            compiled: DashMap::new(),
            compilations: AtomicU64::new(0),
            fingerprint: Mutex::new(None),
        };
        r.install(catalog)?;
        Ok(r)
    }

    /// The source's description, for logs.
    pub fn describe(&self) -> String {
        match &self.source {
            Source::Dir(d) => format!("schema directory {}", d.display()),
            Source::Confluent(c) => format!("schema registry {}", c.url()),
        }
    }

    /// Reads the source again. Returns `Ok(true)` when a new catalog is in
    /// force, `Ok(false)` when nothing changed; on error the catalog in
    /// force is kept (a registry outage or a broken file never takes
    /// validation down).
    pub fn reload(&self) -> Result<bool, String> {
        match &self.source {
            Source::Dir(path) => {
                let fp = dir::fingerprint(path)?;
                let mut seen = self
                    .fingerprint
                    .lock()
                    .map_err(|_| "registry lock poisoned".to_owned())?;
                if seen.as_ref() == Some(&fp) {
                    return Ok(false);
                }
                self.install(dir::load(path)?)?;
                // Only a set that loaded is remembered: a broken file keeps
                // being reported until it is fixed.
                *seen = Some(fp);
            }
            Source::Confluent(client) => self.install(client.catalog(is_event_subject)?)?,
        }
        Ok(true)
    }

    /// Compiles what is new in `catalog` and puts it in force.
    fn install(&self, catalog: Catalog) -> Result<(), String> {
        for subject in catalog.subjects() {
            for s in catalog.versions(subject).unwrap_or_default() {
                self.compile(s)
                    .map_err(|e| format!("{} version {}: {e}", s.subject, s.version))?;
            }
        }
        if let Ok(mut c) = self.catalog.write() {
            *c = Arc::new(catalog);
        }
        Ok(())
    }

    fn compile(&self, s: &Schema) -> Result<Arc<Compiled>, String> {
        if let Some(c) = self.compiled.get(&s.id) {
            return Ok(c.clone());
        }
        let c = Arc::new(Compiled::compile(s).map_err(|e| e.0)?);
        self.compilations.fetch_add(1, Ordering::Relaxed);
        self.compiled.insert(s.id, c.clone());
        Ok(c)
    }

    /// The catalog in force.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// The schema events of `app` named `event_name` must follow, if any.
    pub fn for_event(&self, app: &str, event_name: &str) -> Option<Resolved> {
        let catalog = self.catalog();
        let schema = catalog.for_event(app, event_name)?.clone();
        let compiled = self.compiled.get(&schema.id)?.clone();
        Some(Resolved { schema, compiled })
    }

    /// A schema by id, for readers of records. An id the catalog does not
    /// know yet (registered after the last refresh) needs a [`reload`](Self::reload).
    pub fn by_id(&self, id: u32) -> Option<Resolved> {
        if let Some(schema) = self.catalog().by_id(id).cloned() {
            let compiled = self.compile(&schema).ok()?;
            return Some(Resolved { schema, compiled });
        }
        None
    }

    /// How many schemas have been compiled since start.
    pub fn compilations(&self) -> u64 {
        self.compilations.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_compiles_only_new_schemas_and_keeps_the_old_set_on_error() {
        let d = tempfile::tempdir().unwrap();
        let e = d.path().join("shop").join("order_completed");
        std::fs::create_dir_all(&e).unwrap();
        std::fs::write(e.join("1.json"), r#"{"type":"object"}"#).unwrap();
        let r = Registry::open(Source::Dir(d.path().into())).unwrap();
        let first = r.compilations();
        assert!(r.for_event("shop", "Order Completed").is_some());
        // Nothing changed: nothing happens.
        assert!(!r.reload().unwrap());
        // A new version: one compile.
        std::fs::write(e.join("2.json"), r#"{"type":"object","required":["a"]}"#).unwrap();
        assert!(r.reload().unwrap());
        assert_eq!(r.compilations(), first + 1);
        assert_eq!(
            r.for_event("shop", "Order Completed")
                .unwrap()
                .schema
                .version,
            2
        );
        // A broken file: an error, and version 2 stays in force.
        std::fs::write(e.join("3.json"), r#"{"type": 5}"#).unwrap();
        assert!(r.reload().is_err());
        assert_eq!(
            r.for_event("shop", "Order Completed")
                .unwrap()
                .schema
                .version,
            2
        );
    }
}
