//! `<dir>/compatibility.toml`: the rule every subject of a schema
//! directory is checked under — a default, and rules per subject.
//!
//! ```toml
//! default = "BACKWARD"
//! [subjects]
//! "shop.order_completed" = "FULL"
//! ```

use super::Rule;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    default: Option<String>,
    #[serde(default)]
    subjects: BTreeMap<String, String>,
}

/// The rules of a schema directory.
#[derive(Debug, Clone)]
pub struct Rules {
    default: Rule,
    per_subject: BTreeMap<String, Rule>,
}

fn parse(s: &str) -> Result<Rule, String> {
    Rule::parse(s).ok_or_else(|| {
        format!("unknown rule {s:?}; use BACKWARD, FORWARD, FULL, *_TRANSITIVE or NONE")
    })
}

impl Rules {
    /// Reads `<dir>/compatibility.toml`; without one every subject gets
    /// `fallback`.
    pub fn load(dir: &Path, fallback: &str) -> Result<Rules, String> {
        let path = dir.join("compatibility.toml");
        let file: File = match std::fs::read_to_string(&path) {
            Ok(t) => toml::from_str(&t).map_err(|e| format!("{}: {e}", path.display()))?,
            Err(_) => File::default(),
        };
        let mut per_subject = BTreeMap::new();
        for (s, r) in file.subjects {
            per_subject.insert(s, parse(&r)?);
        }
        Ok(Rules {
            default: parse(file.default.as_deref().unwrap_or(fallback))?,
            per_subject,
        })
    }

    /// The rule of `subject`.
    pub fn of(&self, subject: &str) -> Rule {
        self.per_subject
            .get(subject)
            .copied()
            .unwrap_or(self.default)
    }
}
