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
            // Hidden files are editors' and add_version's, half written.
            for f in entries(&event.path())?
                .into_iter()
                .filter(|f| !f.file_name().to_string_lossy().starts_with('.'))
            {
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

/// What [`add_version`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// The same text is already this version.
    Existing(u32),
    /// Written (or, dry, would be) as this version.
    New(u32),
}

/// Adds `text` as the next version of `app`'s event `event_name` in `dir`
/// (`<dir>/<app>/<slug>/<n>.json|.proto`), after compiling it and checking
/// it against the subject's versions under the directory's rule
/// (`compatibility.toml`, else BACKWARD); `dry` checks without writing.
/// The same text as a version already there is that version: adding
/// twice changes nothing. An incompatible or broken schema is an error
/// naming what broke.
pub fn add_version(
    dir: &Path,
    app: &str,
    event_name: &str,
    schema_type: SchemaType,
    text: &str,
    dry: bool,
) -> Result<Added, String> {
    let catalog = read(dir)?;
    let subject = subject_for(app, event_name);
    let versions = catalog.versions(&subject).unwrap_or_default();
    if let Some(v) = versions.iter().find(|v| v.text == text) {
        return Ok(Added::Existing(v.version));
    }
    let version = versions.last().map_or(1, |v| v.version + 1);
    let new = Schema {
        id: content_id(schema_type, text),
        subject: subject.clone(),
        version,
        schema_type,
        text: text.to_owned(),
    };
    crate::Compiled::compile(&new).map_err(|e| format!("{subject} v{version}: {e}"))?;
    let rule = crate::compat::Rules::load(dir, "BACKWARD")?.of(&subject);
    let earlier: Vec<&Schema> = versions.iter().map(AsRef::as_ref).collect();
    let violations = crate::compat::check_subject(rule, &earlier, &new)?;
    if !violations.is_empty() {
        let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
        return Err(format!(
            "{subject} v{version} is not {} compatible: {}",
            rule.as_str(),
            list.join("; ")
        ));
    }
    if !dry {
        let folder = dir
            .join(app)
            .join(tributary_contract::topic::slug(event_name));
        std::fs::create_dir_all(&folder)
            .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        let path = folder.join(format!("{version}.{}", schema_type.extension()));
        // Written whole, then renamed: a gateway reloading the directory
        // never reads half a schema.
        let tmp = folder.join(format!(".{version}.tmp"));
        std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(Added::New(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_added_once_and_only_when_compatible() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = r#"{"type":"object","properties":{"code":{"type":"string"}},"required":["code"]}"#;
        let add = |text: &str, dry| {
            add_version(
                dir.path(),
                "shop",
                "Coupon Redeemed",
                SchemaType::Json,
                text,
                dry,
            )
        };
        assert_eq!(add(v1, true), Ok(Added::New(1)));
        assert!(read(dir.path()).unwrap().is_empty(), "dry writes nothing");
        assert_eq!(add(v1, false), Ok(Added::New(1)));
        assert_eq!(add(v1, false), Ok(Added::Existing(1)));
        let breaking = r#"{"type":"object","properties":{"code":{"type":"string"},"store":{"type":"string"}},"required":["code","store"]}"#;
        let e = add(breaking, false).unwrap_err();
        assert!(
            e.contains("shop.coupon_redeemed v2") && e.contains("BACKWARD"),
            "{e}"
        );
        let adds = r#"{"type":"object","properties":{"code":{"type":"string"},"store":{"type":"string"}},"required":["code"]}"#;
        assert_eq!(add(adds, false), Ok(Added::New(2)));
        assert!(dir.path().join("shop/coupon_redeemed/2.json").is_file());
    }

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
