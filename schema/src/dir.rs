//! The schema directory source: schemas kept in git as
//! `<dir>/<app>/<event>/<version>.json` (JSON Schema 2020-12) or
//! `<version>.proto` (protobuf; the file's first message is the payload).
//!
//! `<event>` is the event's routing name or its slug (`order_completed` for
//! `Order Completed`; `identify`, `page`, ... for the other kinds). Ids are
//! derived from the schema text ([`content_id`]), so every replica reading
//! the same directory agrees on them. The reserved app-health schemas are
//! added unless the directory has its own `_reserved/` versions.

use crate::catalog::Catalog;
use crate::reserved;
use crate::schema::{Schema, SchemaType, content_id, subject_for};
use std::path::Path;
use std::time::SystemTime;

/// What changes when any schema file changes: every file's path, length
/// and modification time. Reloads are skipped while it stays the same.
pub type Fingerprint = Vec<(String, u64, Option<SystemTime>)>;

fn entries(dir: &Path) -> Result<Vec<std::fs::DirEntry>, String> {
    let mut v = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read schema directory {}: {e}", dir.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot read schema directory {}: {e}", dir.display()))?;
    v.retain(|e| !e.file_name().to_string_lossy().starts_with('.'));
    v.sort_by_key(std::fs::DirEntry::file_name);
    Ok(v)
}

/// Every schema file under `dir` as (app, event, path).
fn files(dir: &Path) -> Result<Vec<(String, String, std::path::PathBuf)>, String> {
    let mut out = Vec::new();
    for app in entries(dir)? {
        if !app.path().is_dir() {
            continue; // README and the like
        }
        let app_name = app.file_name().to_string_lossy().into_owned();
        for event in entries(&app.path())? {
            if !event.path().is_dir() {
                continue;
            }
            let event_name = event.file_name().to_string_lossy().into_owned();
            for f in entries(&event.path())? {
                out.push((app_name.clone(), event_name.clone(), f.path()));
            }
        }
    }
    Ok(out)
}

/// The directory's current fingerprint.
pub fn fingerprint(dir: &Path) -> Result<Fingerprint, String> {
    Ok(files(dir)?
        .into_iter()
        .map(|(_, _, p)| {
            let m = std::fs::metadata(&p).ok();
            (
                p.display().to_string(),
                m.as_ref().map_or(0, std::fs::Metadata::len),
                m.and_then(|m| m.modified().ok()),
            )
        })
        .collect())
}

/// Reads the schema files under `dir` into a catalog (without the reserved
/// schemas). A file that is not `<number>.json` or `<number>.proto`, or
/// cannot be read, is an error naming it.
pub fn read(dir: &Path) -> Result<Catalog, String> {
    let mut catalog = Catalog::default();
    for (app, event, path) in files(dir)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".md") {
            continue;
        }
        let (stem, ext) = name.rsplit_once('.').unwrap_or((&name, ""));
        let schema_type = match ext {
            "json" => SchemaType::Json,
            "proto" => SchemaType::Protobuf,
            _ => {
                return Err(format!(
                    "{}: schema files are <version>.json or <version>.proto",
                    path.display()
                ));
            }
        };
        let version: u32 = stem.parse().ok().filter(|v| *v > 0).ok_or_else(|| {
            format!(
                "{}: the file name must be a version number from 1",
                path.display()
            )
        })?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        catalog
            .insert(Schema {
                id: content_id(schema_type, &text),
                subject: subject_for(&app, &event),
                version,
                schema_type,
                text,
            })
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(catalog)
}

/// [`read`] plus the reserved app-health schemas.
pub fn load(dir: &Path) -> Result<Catalog, String> {
    let mut catalog = read(dir)?;
    reserved::add_missing(&mut catalog)?;
    Ok(catalog)
}

/// Writes a catalog out as a schema directory (used by tests and by
/// `tributary-schema export`).
pub fn write(catalog: &Catalog, dir: &Path) -> Result<(), String> {
    for subject in catalog.subjects() {
        let (app, event) = subject
            .split_once('.')
            .ok_or_else(|| format!("subject {subject:?} is not <app>.<event>"))?;
        let folder = dir.join(app).join(event);
        std::fs::create_dir_all(&folder)
            .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        for s in catalog.versions(subject).unwrap_or_default() {
            let path = folder.join(format!("{}.{}", s.version, s.schema_type.extension()));
            std::fs::write(&path, &s.text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_versions_and_adds_reserved_schemas() {
        let d = tempfile::tempdir().unwrap();
        let e = d.path().join("shop").join("order_completed");
        std::fs::create_dir_all(&e).unwrap();
        std::fs::write(e.join("1.json"), r#"{"type":"object"}"#).unwrap();
        std::fs::write(
            e.join("2.json"),
            r#"{"type":"object","required":["total"]}"#,
        )
        .unwrap();
        std::fs::write(d.path().join("README.md"), "hi").unwrap();
        let c = load(d.path()).unwrap();
        assert_eq!(c.for_event("shop", "Order Completed").unwrap().version, 2);
        assert!(c.for_event("shop", "Application Crashed").is_some());
        let before = fingerprint(d.path()).unwrap();
        std::fs::write(e.join("3.proto"), "syntax = \"proto3\"; message A {}").unwrap();
        assert_ne!(before, fingerprint(d.path()).unwrap());
    }

    #[test]
    fn bad_file_names_are_named_in_the_error() {
        let d = tempfile::tempdir().unwrap();
        let e = d.path().join("shop").join("x");
        std::fs::create_dir_all(&e).unwrap();
        std::fs::write(e.join("latest.json"), "{}").unwrap();
        let err = read(d.path()).unwrap_err();
        assert!(err.contains("latest.json"), "{err}");
    }
}
