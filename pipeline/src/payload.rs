//! A record's payload, read into the typed columns its schema declares.
//!
//! A schema version fixes a [`Layout`]: one typed column per declared
//! property (`p_<name>` in the Parquet file), everything else in one JSON
//! object text (`p__extra`). [`Payload`] holds one record's values for
//! those columns. It is read in one pass over the payload's JSON text, and
//! the values stay slices of that text: no JSON tree is built per record.
//! (Building and dropping that tree was the largest cost of the offload
//! loop.) A protobuf payload is first written as JSON text by its JSON
//! mapping ([`Compiled::decode_to_text`]), so both encodings fill the
//! columns by the same rules.
//!
//! Which value fills which cell is the table in `docs/pipeline.md`
//! ("Columns"); the private `cell` implements it, and the tests check it against the
//! same rules written over a parsed JSON tree. Protobuf's JSON mapping
//! writes 64-bit integers as strings, which the int64 rule reads back.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use tributary_contract::view::compact;
use tributary_schema::{Compiled, Resolved};

pub use crate::column_type::ColumnType;
use crate::column_type::columns;

/// The typed payload columns of one schema version, and how to decode its
/// payloads.
#[derive(Debug, Default)]
pub struct Layout {
    /// (property name, type), in schema order.
    pub columns: Vec<(String, ColumnType)>,
    /// Property name → position in `columns`.
    index: HashMap<String, usize>,
    /// The compiled schema, for protobuf payloads.
    compiled: Option<Arc<Compiled>>,
}

impl Layout {
    /// The layout of a registered schema; `None` (no schema) gives no typed
    /// columns, so every property lands in `p__extra`.
    pub fn of(resolved: Option<&Resolved>) -> Layout {
        let Some(r) = resolved else {
            return Layout::default();
        };
        Layout {
            compiled: matches!(&*r.compiled, Compiled::Protobuf { .. }).then(|| r.compiled.clone()),
            ..Layout::with_columns(columns(r.schema.schema_type, &r.schema.text))
        }
    }

    /// A layout of these columns, for no schema in particular (describing a
    /// table that unites several versions); payloads are read as JSON.
    pub fn with_columns(columns: Vec<(String, ColumnType)>) -> Layout {
        let index = columns
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i))
            .collect();
        Layout {
            columns,
            index,
            compiled: None,
        }
    }

    /// The column of property `name`. Schemas mostly declare a handful of
    /// properties, and comparing a few short names beats hashing one.
    fn position(&self, name: &str) -> Option<usize> {
        if self.columns.len() <= 16 {
            self.columns.iter().position(|(n, _)| n == name)
        } else {
            self.index.get(name).copied()
        }
    }

    /// The payload's JSON text: `payload` itself, or for a protobuf schema
    /// the message written by its JSON mapping into `scratch`.
    pub fn json_text<'p>(
        &self,
        payload: &'p [u8],
        scratch: &'p mut Vec<u8>,
    ) -> Result<&'p [u8], String> {
        match &self.compiled {
            Some(c) => {
                c.decode_to_text(payload, scratch)?;
                Ok(scratch)
            }
            None => Ok(payload),
        }
    }
}

/// One typed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// A string column's value.
    Str(Cow<'a, str>),
    /// An int64 column's value.
    Int(i64),
    /// A double column's value.
    Float(f64),
    /// A boolean column's value.
    Bool(bool),
    /// A JSON column's value, compact text.
    Json(Cow<'a, str>),
}

/// One record's payload, split by a [`Layout`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload<'a> {
    /// One cell per layout column; `None` when absent, `null` or of
    /// another type (see the module's table).
    pub cells: Vec<Option<Cell<'a>>>,
    /// Undeclared properties: (name, compact JSON text), sorted by name.
    pub rest: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Payload<'a> {
    /// Reads a JSON object text by `layout`. A repeated property keeps its
    /// last value, as a JSON parser building a map would.
    pub fn read(layout: &Layout, json: &'a [u8]) -> Result<Payload<'a>, String> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let payload = de
            .deserialize_map(PayloadVisitor { layout })
            .map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        Ok(payload)
    }

    /// The `p__extra` text: the undeclared properties as one JSON object,
    /// or `None` when there are none.
    pub fn rest_json(&self) -> Option<String> {
        json_object(self.rest.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
    }

    /// A numeric property, declared or not (for health metrics that read
    /// one field of a few reserved events).
    pub fn number(&self, layout: &Layout, name: &str) -> Option<f64> {
        if let Some(i) = layout.position(name) {
            return match self.cells.get(i)? {
                Some(Cell::Int(n)) => Some(*n as f64),
                Some(Cell::Float(f)) => Some(*f),
                _ => None,
            };
        }
        let (_, v) = self.rest.iter().find(|(k, _)| k == name)?;
        serde_json::from_str::<f64>(v).ok()
    }
}

/// A JSON object of `(name, JSON text)` entries, in the order given;
/// `None` when there are none. Values must be valid JSON already.
pub(crate) fn json_object<'e>(entries: impl Iterator<Item = (&'e str, &'e str)>) -> Option<String> {
    let mut out = String::new();
    for (k, v) in entries {
        out.push(if out.is_empty() { '{' } else { ',' });
        if k.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            // Escaping a string cannot fail.
            out.push_str(&serde_json::to_string(k).unwrap_or_default());
        } else {
            out.push('"');
            out.push_str(k);
            out.push('"');
        }
        out.push(':');
        out.push_str(v);
    }
    (!out.is_empty()).then(|| out + "}")
}

/// A JSON string's text (`raw` is the quoted JSON): borrowed when it has
/// no escapes; `None` if `raw` is not a string.
pub(crate) fn string_value(raw: &str) -> Option<Cow<'_, str>> {
    match serde_json::from_str::<&str>(raw) {
        Ok(s) => Some(Cow::Borrowed(s)),
        Err(_) => serde_json::from_str::<String>(raw).ok().map(Cow::Owned),
    }
}

/// The cell of one raw JSON value in a column of type `ty`. A nested
/// column's cell is the value's compact JSON text, typed when the file is
/// written (`nested`).
fn cell<'a>(ty: &ColumnType, raw: &'a str) -> Option<Cell<'a>> {
    let first = *raw.as_bytes().first()?;
    if first == b'n' {
        return None; // null
    }
    match ty {
        ColumnType::Str => match first {
            b'"' => string_value(raw).map(Cell::Str),
            _ => Some(Cell::Str(compact(raw))),
        },
        ColumnType::Int => match first {
            b'"' => string_value(raw)?.parse().ok().map(Cell::Int),
            b'-' | b'0'..=b'9' => serde_json::from_str::<i64>(raw).ok().map(Cell::Int),
            _ => None,
        },
        ColumnType::Float => match first {
            b'"' => string_value(raw)?.parse().ok().map(Cell::Float),
            b'-' | b'0'..=b'9' => serde_json::from_str::<f64>(raw).ok().map(Cell::Float),
            _ => None,
        },
        ColumnType::Bool => match raw {
            "true" => Some(Cell::Bool(true)),
            "false" => Some(Cell::Bool(false)),
            _ => None,
        },
        ColumnType::Json | ColumnType::Struct { .. } | ColumnType::List(_) | ColumnType::Map(_) => {
            Some(Cell::Json(compact(raw)))
        }
    }
}

/// An object key, borrowed from the text unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a property name")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

struct PayloadVisitor<'l> {
    layout: &'l Layout,
}

impl<'de> Visitor<'de> for PayloadVisitor<'_> {
    type Value = Payload<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Payload<'de>, A::Error> {
        let mut cells = vec![None; self.layout.columns.len()];
        let mut rest: Vec<(Cow<'de, str>, Cow<'de, str>)> = Vec::new();
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            let raw: &'de RawValue = map.next_value()?;
            let raw = raw.get();
            match self.layout.position(&name) {
                Some(i) => cells[i] = cell(&self.layout.columns[i].1, raw),
                None => {
                    rest.retain(|(k, _)| *k != name);
                    rest.push((name, compact(raw)));
                }
            }
        }
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Payload { cells, rest })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use tributary_schema::schema::content_id;
    use tributary_schema::{Schema, SchemaType};

    fn resolved(schema_type: SchemaType, text: &str) -> Resolved {
        let schema = Schema {
            id: content_id(schema_type, text),
            subject: "a.b".into(),
            version: 1,
            schema_type,
            text: text.into(),
        };
        let compiled = Compiled::compile(&schema).unwrap();
        Resolved {
            schema: Arc::new(schema),
            compiled: Arc::new(compiled),
        }
    }

    #[test]
    fn layouts_follow_the_schema() {
        let text = r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"},
            "c":{"type":"number"},"d":{"type":"boolean"},"e":{"type":"array"},"f":{"enum":["x","y"]},
            "g":{"type":["number","null"]}}}"#;
        let l = Layout::of(Some(&resolved(SchemaType::Json, text)));
        use ColumnType::*;
        let types: Vec<ColumnType> = l.columns.iter().map(|c| c.1.clone()).collect();
        assert_eq!(
            types,
            [Str, Int, Float, Bool, List(Arc::new(Json)), Str, Float]
        );
        let proto = "syntax = \"proto3\"; message M { string a = 1; int64 b = 2; double c = 3; repeated string d = 4; bool e = 5; }";
        let l = Layout::of(Some(&resolved(SchemaType::Protobuf, proto)));
        let types: Vec<ColumnType> = l.columns.iter().map(|c| c.1.clone()).collect();
        assert_eq!(types, [Str, Int, Float, List(Arc::new(Str)), Bool]);
    }

    /// The rules of the module's table, written against a parsed JSON tree
    /// (how the pipeline used to fill the columns): the single-pass reader
    /// must agree with them.
    fn expected(layout: &Layout, json: &str) -> (Vec<Option<Cell<'static>>>, Option<String>) {
        let Value::Object(map) = serde_json::from_str::<Value>(json).unwrap() else {
            panic!("not an object")
        };
        let cells = layout
            .columns
            .iter()
            .map(|(name, ty)| {
                let v = map.get(name).filter(|v| !v.is_null())?;
                match ty {
                    ColumnType::Str => Some(Cell::Str(Cow::Owned(match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }))),
                    ColumnType::Int => match v {
                        Value::Number(n) => n.as_i64(),
                        Value::String(s) => s.parse().ok(),
                        _ => None,
                    }
                    .map(Cell::Int),
                    ColumnType::Float => match v {
                        Value::Number(n) => n.as_f64(),
                        Value::String(s) => s.parse().ok(),
                        _ => None,
                    }
                    .map(Cell::Float),
                    ColumnType::Bool => v.as_bool().map(Cell::Bool),
                    _ => Some(Cell::Json(Cow::Owned(v.to_string()))),
                }
            })
            .collect();
        let rest: serde_json::Map<String, Value> = map
            .into_iter()
            .filter(|(k, _)| !layout.index.contains_key(k))
            .collect();
        (
            cells,
            (!rest.is_empty()).then(|| Value::Object(rest).to_string()),
        )
    }

    /// Equal as JSON: the reader keeps the text's key order and escapes,
    /// a parsed tree sorts keys and re-escapes.
    fn same_json(a: &str, b: &str) -> bool {
        a == b
            || matches!((serde_json::from_str::<Value>(a), serde_json::from_str::<Value>(b)),
                (Ok(x), Ok(y)) if x == y)
    }

    fn same(a: &[Option<Cell<'_>>], b: &[Option<Cell<'_>>]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| match (x, y) {
                (Some(Cell::Float(x)), Some(Cell::Float(y))) => {
                    x == y || (x.is_nan() && y.is_nan())
                }
                (Some(Cell::Str(x)), Some(Cell::Str(y)))
                | (Some(Cell::Json(x)), Some(Cell::Json(y))) => same_json(x, y),
                _ => x == y,
            })
    }

    fn same_rest(a: Option<String>, b: Option<String>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => same_json(&a, &b),
            (a, b) => a == b,
        }
    }

    #[test]
    fn json_payloads_fill_cells_by_the_table() {
        let text = r#"{"type":"object","properties":{"s":{"type":"string"},"i":{"type":"integer"},
            "f":{"type":"number"},"b":{"type":"boolean"},"j":{"type":"array"}}}"#;
        let layout = Layout::of(Some(&resolved(SchemaType::Json, text)));
        let cases = [
            r#"{"s":"x","i":3,"f":2.5,"b":true,"j":[1, {"a" : 2}]}"#,
            r#"{"s":"tab\tand \"quote\"","i":"42","f":"NaN","b":false,"j":{}}"#,
            r#"{"s":7,"i":1.5,"f":"Infinity","b":"true","j":"text"}"#,
            r#"{"s":{"n" : [1, 2]},"i":18446744073709551615,"f":-1e300,"b":null,"j":null}"#,
            r#"{"s":null,"i":"x","f":true,"extra":{"b" : 1, "a": [ ]},"another":"é\u00e9"}"#,
            r#"{"i":-9223372036854775808,"f":12,"z":1,"a":2,"z":3}"#,
            r#"{"s":"first","s":"second","i":"-7"}"#,
            r#"{"a\"b":1,"tab\u0009":2,"sl\\":3,"\u00e9":4}"#,
            r#"{}"#,
        ];
        for json in cases {
            let p = Payload::read(&layout, json.as_bytes()).unwrap();
            let (cells, rest) = expected(&layout, json);
            assert!(same(&p.cells, &cells), "{json}: {:?} != {cells:?}", p.cells);
            assert!(
                same_rest(p.rest_json(), rest.clone()),
                "{json}: {:?} != {rest:?}",
                p.rest_json()
            );
            // Compact text whatever the input's spacing.
            if let Some(r) = p.rest_json() {
                assert!(!r.contains(' '), "{r}");
            }
        }
    }

    #[test]
    fn bad_payloads_are_errors() {
        let layout = Layout::default();
        for bad in [&b"[1]"[..], b"\"x\"", b"{\"a\":}", b"{} {}", b"\xff", b""] {
            assert!(Payload::read(&layout, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn protobuf_payloads_fill_cells_through_the_json_mapping() {
        let proto = r#"syntax = "proto3";
            message M {
              string s = 1; int64 big = 2; uint64 huge = 3; double d = 4; float f = 5; bool b = 6;
              E e = 7; bytes raw = 8; repeated N items = 9; map<string, int32> m = 10;
              optional int32 maybe = 11; N one = 12; sint32 small = 13;
            }
            message N { string k = 1; int64 v = 2; }
            enum E { E_ZERO = 0; E_ONE = 1; }"#;
        let r = resolved(SchemaType::Protobuf, proto);
        let layout = Layout::of(Some(&r));
        let mut framed = Vec::new();
        r.compiled
            .encode(
                1,
                r#"{"s":"x","big":"-5","huge":"18446744073709551615","d":"NaN","f":0.5,"b":true,
                   "e":"E_ONE","raw":"AAE=","items":[{"k":"a","v":"9"}],"m":{"k":1},"small":-3}"#,
                &mut framed,
            )
            .unwrap();
        // Confluent framing: magic, id, one message index.
        let message = &framed[6..];
        let mut scratch = Vec::new();
        let text = layout.json_text(message, &mut scratch).unwrap();
        let text = std::str::from_utf8(text).unwrap().to_owned();
        let p = Payload::read(&layout, text.as_bytes()).unwrap();
        let (cells, rest) = expected(&layout, &text);
        assert!(same(&p.cells, &cells), "{text}: {:?} != {cells:?}", p.cells);
        assert!(same_rest(p.rest_json(), rest));
        let get = |n: &str| p.cells[layout.index[n]].clone();
        assert_eq!(get("big"), Some(Cell::Int(-5)));
        assert_eq!(get("huge"), None, "out of int64 range");
        assert_eq!(get("e"), Some(Cell::Str("E_ONE".into())));
        assert_eq!(get("raw"), Some(Cell::Str("AAE=".into())));
        assert_eq!(get("maybe"), None, "unset optional field");
        assert_eq!(get("small"), Some(Cell::Int(-3)));
        assert_eq!(
            get("items"),
            Some(Cell::Json(r#"[{"k":"a","v":"9"}]"#.into()))
        );
        assert_eq!(get("one"), None, "unset message field");
        assert!(matches!(get("d"), Some(Cell::Float(x)) if x.is_nan()));
        assert_eq!(p.number(&layout, "f"), Some(0.5));
    }
}
