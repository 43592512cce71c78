//! The reserved app-health schemas (one per name in
//! `tributary_contract::health`), built into every registry under the
//! subject `_reserved.<event>`, so every app's health events are validated
//! and typed without the app registering anything. An app may still
//! register its own subject of the same event name, which then wins.

use crate::catalog::Catalog;
use crate::schema::{RESERVED_APP, Schema, SchemaType, content_id, subject_for};
use tributary_contract::health;

/// (event name, JSON Schema text) of every reserved event.
pub const SCHEMAS: [(&str, &str); 11] = [
    (
        health::APP_INSTALLED,
        include_str!("../reserved/application_installed.json"),
    ),
    (
        health::APP_UPDATED,
        include_str!("../reserved/application_updated.json"),
    ),
    (
        health::APP_OPENED,
        include_str!("../reserved/application_opened.json"),
    ),
    (
        health::APP_FOREGROUNDED,
        include_str!("../reserved/application_foregrounded.json"),
    ),
    (
        health::APP_BACKGROUNDED,
        include_str!("../reserved/application_backgrounded.json"),
    ),
    (
        health::SESSION_STARTED,
        include_str!("../reserved/session_started.json"),
    ),
    (
        health::SESSION_ENDED,
        include_str!("../reserved/session_ended.json"),
    ),
    (
        health::CRASH,
        include_str!("../reserved/application_crashed.json"),
    ),
    (
        health::HANDLED_ERROR,
        include_str!("../reserved/handled_error.json"),
    ),
    (
        health::NETWORK_REQUEST,
        include_str!("../reserved/network_request.json"),
    ),
    (
        health::SCREEN_RENDERED,
        include_str!("../reserved/screen_rendered.json"),
    ),
];

/// The reserved schemas as version 1 of their subjects.
pub fn schemas() -> impl Iterator<Item = Schema> {
    SCHEMAS.into_iter().map(|(name, text)| Schema {
        id: content_id(SchemaType::Json, text),
        subject: subject_for(RESERVED_APP, name),
        version: 1,
        schema_type: SchemaType::Json,
        text: text.to_owned(),
    })
}

/// Adds the reserved schemas whose subject the catalog does not have.
pub fn add_missing(catalog: &mut Catalog) -> Result<(), String> {
    for s in schemas() {
        if catalog.versions(&s.subject).is_none() {
            catalog.insert(s)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiled::Compiled;

    #[test]
    fn every_reserved_name_has_a_schema_that_compiles() {
        assert_eq!(
            SCHEMAS.map(|(n, _)| n).to_vec(),
            health::ALL.to_vec(),
            "one schema per reserved name, same order"
        );
        for s in schemas() {
            let c = Compiled::compile(&s).unwrap_or_else(|e| panic!("{}: {e}", s.subject));
            assert!(matches!(c, Compiled::Json(_)));
        }
    }

    #[test]
    fn crash_events_need_type_and_stack_hash() {
        let crash = schemas()
            .find(|s| s.subject.ends_with("application_crashed"))
            .unwrap();
        let c = Compiled::compile(&crash).unwrap();
        let ok = r#"{"type":"SIGSEGV","stackHash":"ab12"}"#;
        assert!(c.encode(crash.id, ok, &mut Vec::new()).is_ok());
        let err = c
            .encode(crash.id, r#"{"type":"SIGSEGV"}"#, &mut Vec::new())
            .unwrap_err();
        assert_eq!(err.rule, "required");
    }
}
