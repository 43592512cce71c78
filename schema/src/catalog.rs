//! An immutable snapshot of every registered schema: subjects with their
//! versions, and ids. A source (schema directory or Confluent registry)
//! builds one; the [`Registry`](crate::Registry) swaps in a new one on
//! reload, so readers never see a half-loaded set.

use crate::schema::{RESERVED_APP, Schema, subject_for};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Every schema version, by subject and by id.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    subjects: BTreeMap<String, Vec<Arc<Schema>>>,
    by_id: HashMap<u32, Arc<Schema>>,
}

impl Catalog {
    /// Adds one version. Versions of a subject may arrive in any order; a
    /// repeated version, or an id that already names a different schema
    /// text, is an error.
    pub fn insert(&mut self, schema: Schema) -> Result<(), String> {
        if let Some(other) = self.by_id.get(&schema.id)
            && (other.text != schema.text || other.schema_type != schema.schema_type)
        {
            return Err(format!(
                "schema id {} names two different schemas ({} v{} and {} v{})",
                schema.id, other.subject, other.version, schema.subject, schema.version
            ));
        }
        let versions = self.subjects.entry(schema.subject.clone()).or_default();
        if versions.iter().any(|v| v.version == schema.version) {
            return Err(format!(
                "{} has version {} twice",
                schema.subject, schema.version
            ));
        }
        let schema = Arc::new(schema);
        self.by_id
            .entry(schema.id)
            .or_insert_with(|| schema.clone());
        versions.push(schema);
        versions.sort_by_key(|s| s.version);
        Ok(())
    }

    /// Every subject, sorted.
    pub fn subjects(&self) -> impl Iterator<Item = &str> {
        self.subjects.keys().map(String::as_str)
    }

    /// A subject's versions, oldest first.
    pub fn versions(&self, subject: &str) -> Option<&[Arc<Schema>]> {
        self.subjects.get(subject).map(Vec::as_slice)
    }

    /// One version of a subject.
    pub fn version(&self, subject: &str, version: u32) -> Option<&Arc<Schema>> {
        self.versions(subject)?
            .iter()
            .find(|s| s.version == version)
    }

    /// The newest version of a subject.
    pub fn latest(&self, subject: &str) -> Option<&Arc<Schema>> {
        self.versions(subject)?.last()
    }

    /// A schema by id.
    pub fn by_id(&self, id: u32) -> Option<&Arc<Schema>> {
        self.by_id.get(&id)
    }

    /// The schema events of `app` named `event_name` are validated against:
    /// the app's own subject, else the reserved one of that name.
    pub fn for_event(&self, app: &str, event_name: &str) -> Option<&Arc<Schema>> {
        self.latest(&subject_for(app, event_name))
            .or_else(|| self.latest(&subject_for(RESERVED_APP, event_name)))
    }

    /// Number of schema versions.
    pub fn len(&self) -> usize {
        self.subjects.values().map(Vec::len).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{SchemaType, content_id};

    fn s(subject: &str, version: u32, text: &str) -> Schema {
        Schema {
            id: content_id(SchemaType::Json, text),
            subject: subject.into(),
            version,
            schema_type: SchemaType::Json,
            text: text.into(),
        }
    }

    #[test]
    fn latest_wins_and_reserved_schemas_are_the_fallback() {
        let mut c = Catalog::default();
        c.insert(s("shop.order_completed", 2, r#"{"b":2}"#))
            .unwrap();
        c.insert(s("shop.order_completed", 1, r#"{"a":1}"#))
            .unwrap();
        c.insert(s("_reserved.application_crashed", 1, "{}"))
            .unwrap();
        assert_eq!(c.for_event("shop", "Order Completed").unwrap().version, 2);
        assert!(c.for_event("shop", "Application Crashed").is_some());
        assert!(c.for_event("shop", "Nope").is_none());
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn duplicates_and_id_collisions_are_refused() {
        let mut c = Catalog::default();
        c.insert(s("a.b", 1, "{}")).unwrap();
        assert!(c.insert(s("a.b", 1, "{ }")).is_err());
        let mut clash = s("a.c", 1, "{ }");
        clash.id = content_id(SchemaType::Json, "{}");
        assert!(c.insert(clash).is_err());
        // The same text under another subject shares its id.
        c.insert(s("a.d", 1, "{}")).unwrap();
    }
}
