//! A JSON Schema (2020-12) payload read into the shape model: `type`
//! (with `null` in a type list as nullable), `properties` / `required`,
//! `items`, `additionalProperties` as a map, string `enum` and `const`,
//! local `$ref`s. Other shapes (`oneOf`, mixed enums, tuples) become an
//! untyped value whose doc comment says so. Constraints (`minLength`,
//! `minimum`, `format`, `pattern`, ...) go into the doc comments.

use super::names::{event_name, pascal, singular};
use super::{Field, Object, Type};
use crate::compat::json::deref;
use serde_json::{Map, Value};

/// Nesting deeper than this (or a `$ref` cycle) is left untyped.
const MAX_DEPTH: usize = 16;

/// The event name and properties of the schema `text` under `dir_slug`.
pub(super) fn read(dir_slug: &str, text: &str) -> Result<(String, Object), String> {
    let root: Value = serde_json::from_str(text).map_err(|e| format!("schema is not JSON: {e}"))?;
    let name = event_name(dir_slug, root.get("title").and_then(Value::as_str));
    let r = Reader { root: &root };
    match r.ty(&root, &pascal(&name), 0) {
        (Type::Object(o), _) => Ok((name, o)),
        _ => Err("the payload schema must be an object (\"type\": \"object\")".into()),
    }
}

struct Reader<'a> {
    root: &'a Value,
}

impl Reader<'_> {
    /// The type of schema `v` (named `name` if it is an object or enum) and
    /// whether it allows null.
    fn ty(&self, v: &Value, name: &str, depth: usize) -> (Type, bool) {
        let v = deref(self.root, v);
        let Some(m) = v.as_object() else {
            return (Type::Any, false); // `true` / `{}`-like schemas
        };
        if depth > MAX_DEPTH {
            return (Type::Any, false);
        }
        let types: Vec<&str> = match m.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let nullable = types.contains(&"null");
        let types: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
        if let Some(values) = strings(m.get("enum")).or_else(|| {
            m.get("const")
                .and_then(Value::as_str)
                .map(|c| vec![c.to_owned()])
        }) {
            return (Type::Enum(name.to_owned(), values), nullable);
        }
        let t = match types.as_slice() {
            ["string"] => Type::String,
            ["number"] | ["integer", "number"] | ["number", "integer"] => Type::Number,
            ["integer"] => Type::Integer,
            ["boolean"] => Type::Boolean,
            ["array"] => {
                let item = m.get("items").map_or((Type::Any, false), |i| {
                    self.ty(i, &singular(name), depth + 1)
                });
                Type::Array(Box::new(item.0))
            }
            ["object"] => self.object(m, name, depth),
            [] if m.contains_key("properties") => self.object(m, name, depth),
            _ => Type::Any,
        };
        (t, nullable)
    }

    fn object(&self, m: &Map<String, Value>, name: &str, depth: usize) -> Type {
        let props = m.get("properties").and_then(Value::as_object);
        if props.is_none_or(Map::is_empty) {
            // No named fields: a map when its values have a schema.
            return match m.get("additionalProperties") {
                Some(v @ Value::Object(_)) => {
                    Type::Map(Box::new(self.ty(v, &format!("{name}Value"), depth + 1).0))
                }
                _ => Type::Map(Box::new(Type::Any)),
            };
        }
        let required = strings(m.get("required")).unwrap_or_default();
        let fields = props
            .into_iter()
            .flatten()
            .map(|(key, schema)| {
                let (ty, nullable) = self.ty(schema, &format!("{name}{}", pascal(key)), depth + 1);
                Field {
                    wire: key.clone(),
                    name: key.clone(),
                    doc: doc(deref(self.root, schema)),
                    required: required.contains(key),
                    nullable,
                    ty,
                }
            })
            .collect();
        Type::Object(Object {
            name: name.to_owned(),
            doc: m
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            fields,
            closed: m.get("additionalProperties") == Some(&Value::Bool(false)),
        })
    }
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    let a = v?.as_array()?;
    a.iter().map(|s| s.as_str().map(str::to_owned)).collect()
}

/// A field's description, then its constraints in words.
fn doc(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .get("description")
        .and_then(Value::as_str)
        .map(|d| d.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    let num = |k: &str| v.get(k).filter(|n| n.is_number()).map(Value::to_string);
    let mut rules = Vec::new();
    if let Some(f) = v.get("format").and_then(Value::as_str) {
        rules.push(format!("format `{f}`"));
    }
    for (k, words) in [
        ("minLength", "length ≥ {}"),
        ("maxLength", "length ≤ {}"),
        ("minimum", "≥ {}"),
        ("exclusiveMinimum", "> {}"),
        ("maximum", "≤ {}"),
        ("exclusiveMaximum", "< {}"),
        ("minItems", "count ≥ {}"),
        ("maxItems", "count ≤ {}"),
        ("multipleOf", "a multiple of {}"),
    ] {
        if let Some(n) = num(k) {
            rules.push(words.replace("{}", &n));
        }
    }
    if let Some(p) = v.get("pattern").and_then(Value::as_str) {
        rules.push(format!("matches `{p}`"));
    }
    let shaped = ["oneOf", "anyOf", "allOf", "not", "if", "prefixItems"];
    if let Some(k) = shaped.iter().find(|k| v.get(**k).is_some()) {
        rules.push(format!(
            "untyped here: the schema's `{k}` is checked by the gateway"
        ));
    }
    if !rules.is_empty() {
        out.push(format!("Constraints: {}.", rules.join(", ")));
    }
    out
}
