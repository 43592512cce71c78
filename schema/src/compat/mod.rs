//! Schema evolution rules: is a new version compatible with the old ones?
//!
//! The vocabulary is Confluent's:
//!
//! * **BACKWARD** — consumers using the new schema can read data written
//!   with the old one (deploy consumers first);
//! * **FORWARD** — consumers still on the old schema can read data written
//!   with the new one (deploy producers first);
//! * **FULL** — both;
//! * `*_TRANSITIVE` — against every earlier version, not only the latest;
//! * **NONE** — no check.
//!
//! Each rule set reports every [`Violation`] with the path of the field
//! that broke it, so a CI log says what to change. The JSON Schema rules
//! are in [`json`], the protobuf rules in [`proto`].

pub mod json;
pub mod proto;
mod rules_file;

pub use rules_file::Rules;

use crate::schema::{Schema, SchemaType};
use std::fmt;

/// A compatibility rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// New readers read old data.
    Backward,
    /// Old readers read new data.
    Forward,
    /// Both.
    Full,
    /// [`Rule::Backward`] against every earlier version.
    BackwardTransitive,
    /// [`Rule::Forward`] against every earlier version.
    ForwardTransitive,
    /// [`Rule::Full`] against every earlier version.
    FullTransitive,
    /// Anything goes.
    None,
}

impl Rule {
    /// Parses `BACKWARD`, `FORWARD_TRANSITIVE`, ... (case-insensitive).
    pub fn parse(s: &str) -> Option<Rule> {
        Some(match s.to_ascii_uppercase().as_str() {
            "BACKWARD" => Rule::Backward,
            "FORWARD" => Rule::Forward,
            "FULL" => Rule::Full,
            "BACKWARD_TRANSITIVE" => Rule::BackwardTransitive,
            "FORWARD_TRANSITIVE" => Rule::ForwardTransitive,
            "FULL_TRANSITIVE" => Rule::FullTransitive,
            "NONE" => Rule::None,
            _ => return None,
        })
    }

    /// The registry's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Backward => "BACKWARD",
            Rule::Forward => "FORWARD",
            Rule::Full => "FULL",
            Rule::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Rule::ForwardTransitive => "FORWARD_TRANSITIVE",
            Rule::FullTransitive => "FULL_TRANSITIVE",
            Rule::None => "NONE",
        }
    }

    /// Whether the new version must be checked against every earlier one.
    pub fn transitive(self) -> bool {
        matches!(
            self,
            Rule::BackwardTransitive | Rule::ForwardTransitive | Rule::FullTransitive
        )
    }

    fn backward(self) -> bool {
        matches!(
            self,
            Rule::Backward | Rule::Full | Rule::BackwardTransitive | Rule::FullTransitive
        )
    }

    fn forward(self) -> bool {
        matches!(
            self,
            Rule::Forward | Rule::Full | Rule::ForwardTransitive | Rule::FullTransitive
        )
    }
}

/// One incompatibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `BACKWARD` or `FORWARD`: which reader would fail.
    pub direction: &'static str,
    /// Where in the schema: a JSON pointer for JSON Schema
    /// (`/properties/total`), `Message.field` for protobuf.
    pub path: String,
    /// What changed.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {}", self.direction, self.path, self.message)
    }
}

/// Checks `new` against `old` under `rule`. Errors when a schema does not
/// parse or the two are of different types (itself incompatible).
pub fn check(rule: Rule, old: &Schema, new: &Schema) -> Result<Vec<Violation>, String> {
    if old.schema_type != new.schema_type {
        return Ok(vec![Violation {
            direction: "BACKWARD",
            path: String::new(),
            message: format!(
                "schema type changed from {} to {}",
                old.schema_type.as_str(),
                new.schema_type.as_str()
            ),
        }]);
    }
    let mut out = Vec::new();
    match old.schema_type {
        SchemaType::Json => {
            let o: serde_json::Value = serde_json::from_str(&old.text)
                .map_err(|e| format!("{} v{} is not JSON: {e}", old.subject, old.version))?;
            let n: serde_json::Value = serde_json::from_str(&new.text)
                .map_err(|e| format!("{} v{} is not JSON: {e}", new.subject, new.version))?;
            if rule.backward() {
                json::reader_accepts(&n, &o, "BACKWARD", &mut out);
            }
            if rule.forward() {
                json::reader_accepts(&o, &n, "FORWARD", &mut out);
            }
        }
        SchemaType::Protobuf => {
            if rule.backward() {
                out.extend(proto::check(&old.text, &new.text, "BACKWARD")?);
            }
            if rule.forward() {
                // Protobuf's rules are about the wire and the JSON mapping,
                // which break the same way in both directions.
                for mut v in proto::check(&old.text, &new.text, "FORWARD")? {
                    if !out
                        .iter()
                        .any(|o| o.path == v.path && o.message == v.message)
                    {
                        v.direction = "FORWARD";
                        out.push(v);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Checks a new version against a subject's earlier versions (oldest
/// first) under `rule`: the latest only, or all of them when transitive.
pub fn check_subject(
    rule: Rule,
    earlier: &[&Schema],
    new: &Schema,
) -> Result<Vec<Violation>, String> {
    if rule == Rule::None {
        return Ok(Vec::new());
    }
    let against: Vec<&Schema> = if rule.transitive() {
        earlier.to_vec()
    } else {
        earlier.last().copied().into_iter().collect()
    };
    let mut out = Vec::new();
    for old in against {
        for mut v in check(rule, old, new)? {
            if rule.transitive() {
                v.message = format!("{} (against version {})", v.message, old.version);
            }
            out.push(v);
        }
    }
    Ok(out)
}
