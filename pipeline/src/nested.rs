//! Nested payload columns (STRUCT, LIST, MAP) built from their values'
//! JSON text, for a target Arrow type — the one `column_type` derives, or
//! the same with an Iceberg table's field ids on every child field.
//!
//! The leaves follow the scalar columns' rules (`docs/pipeline.md`,
//! "Columns"): a string leaf takes a string as it is and any other value as
//! its compact JSON text; an int64 leaf takes an integer or a string holding
//! one (protobuf's JSON mapping writes 64-bit integers so); a double leaf a
//! number or a string holding one; a boolean leaf `true`/`false`. Any other
//! combination, and `null`, is a null. A struct keeps its undeclared keys in
//! its `_extra` child when it has one.

use crate::column_type::STRUCT_EXTRA;
use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, ListArray, MapArray, StructArray};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Fields};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Builds one nested column of Arrow type `target`.
pub enum NestedBuilder {
    /// A string leaf.
    Str(StringBuilder),
    /// An int64 leaf.
    Int(Int64Builder),
    /// A double leaf.
    Float(Float64Builder),
    /// A boolean leaf.
    Bool(BooleanBuilder),
    /// A struct: its fields, one builder each, and which rows are present.
    Struct(Fields, Vec<NestedBuilder>, Vec<bool>),
    /// A list: its type, element builder, offsets and presence.
    List(DataType, Box<NestedBuilder>, Vec<i32>, Vec<bool>),
    /// A map: its type, keys, value builder, offsets and presence.
    Map(
        DataType,
        StringBuilder,
        Box<NestedBuilder>,
        Vec<i32>,
        Vec<bool>,
    ),
}

impl NestedBuilder {
    /// A builder for `target`; types the payload never produces are built
    /// as strings.
    pub fn new(target: &DataType) -> NestedBuilder {
        match target {
            DataType::Int64 => NestedBuilder::Int(Int64Builder::new()),
            DataType::Float64 => NestedBuilder::Float(Float64Builder::new()),
            DataType::Boolean => NestedBuilder::Bool(BooleanBuilder::new()),
            DataType::Struct(fields) => NestedBuilder::Struct(
                fields.clone(),
                fields
                    .iter()
                    .map(|f| NestedBuilder::new(f.data_type()))
                    .collect(),
                Vec::new(),
            ),
            DataType::List(e) => NestedBuilder::List(
                target.clone(),
                Box::new(NestedBuilder::new(e.data_type())),
                vec![0],
                Vec::new(),
            ),
            DataType::Map(entries, _) => {
                let value = match entries.data_type() {
                    DataType::Struct(kv) if kv.len() == 2 => kv[1].data_type().clone(),
                    _ => DataType::Utf8,
                };
                NestedBuilder::Map(
                    target.clone(),
                    StringBuilder::new(),
                    Box::new(NestedBuilder::new(&value)),
                    vec![0],
                    Vec::new(),
                )
            }
            _ => NestedBuilder::Str(StringBuilder::new()),
        }
    }

    /// Appends the value of a cell's JSON text; `None`, `null` and text
    /// that is not JSON append a null.
    pub fn append_text(&mut self, text: Option<&str>) {
        match text.and_then(|t| serde_json::from_str::<Value>(t).ok()) {
            Some(v) => self.append(&v),
            None => self.append(&Value::Null),
        }
    }

    /// Appends one value.
    pub fn append(&mut self, v: &Value) {
        match self {
            NestedBuilder::Str(b) => match v {
                Value::Null => b.append_null(),
                Value::String(s) => b.append_value(s),
                other => b.append_value(other.to_string()),
            },
            NestedBuilder::Int(b) => b.append_option(match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            }),
            NestedBuilder::Float(b) => b.append_option(match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            }),
            NestedBuilder::Bool(b) => b.append_option(v.as_bool()),
            NestedBuilder::Struct(fields, children, present) => {
                let object = v.as_object();
                present.push(object.is_some());
                let empty = Map::new();
                let object = object.unwrap_or(&empty);
                for (f, child) in fields.iter().zip(children.iter_mut()) {
                    if f.name() == STRUCT_EXTRA {
                        let rest: Map<String, Value> = object
                            .iter()
                            .filter(|(k, _)| !fields.iter().any(|f| f.name() == *k))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        match rest.is_empty() {
                            true => child.append(&Value::Null),
                            false => child.append(&Value::String(Value::Object(rest).to_string())),
                        }
                    } else {
                        child.append(object.get(f.name()).unwrap_or(&Value::Null));
                    }
                }
            }
            NestedBuilder::List(_, element, offsets, present) => {
                let items = v.as_array();
                present.push(items.is_some());
                for item in items.into_iter().flatten() {
                    element.append(item);
                }
                let last = offsets.last().copied().unwrap_or(0);
                let n = items.map_or(0, Vec::len);
                offsets.push(last + i32::try_from(n).unwrap_or(i32::MAX - last));
            }
            NestedBuilder::Map(_, keys, values, offsets, present) => {
                let object = v.as_object();
                present.push(object.is_some());
                for (k, item) in object.into_iter().flatten() {
                    keys.append_value(k);
                    values.append(item);
                }
                let last = offsets.last().copied().unwrap_or(0);
                let n = object.map_or(0, Map::len);
                offsets.push(last + i32::try_from(n).unwrap_or(i32::MAX - last));
            }
        }
    }

    /// The column; the builder is left empty.
    pub fn finish(&mut self) -> anyhow::Result<ArrayRef> {
        Ok(match self {
            NestedBuilder::Str(b) => Arc::new(b.finish()),
            NestedBuilder::Int(b) => Arc::new(b.finish()),
            NestedBuilder::Float(b) => Arc::new(b.finish()),
            NestedBuilder::Bool(b) => Arc::new(b.finish()),
            NestedBuilder::Struct(fields, children, present) => {
                let arrays = children
                    .iter_mut()
                    .map(NestedBuilder::finish)
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let nulls = NullBuffer::from(std::mem::take(present));
                if fields.is_empty() {
                    Arc::new(StructArray::new_empty_fields(nulls.len(), Some(nulls)))
                } else {
                    Arc::new(StructArray::try_new(fields.clone(), arrays, Some(nulls))?)
                }
            }
            NestedBuilder::List(target, element, offsets, present) => {
                let DataType::List(field) = target else {
                    anyhow::bail!("list builder of type {target}")
                };
                let values = element.finish()?;
                let offsets = OffsetBuffer::new(std::mem::replace(offsets, vec![0]).into());
                let nulls = NullBuffer::from(std::mem::take(present));
                Arc::new(ListArray::try_new(
                    field.clone(),
                    offsets,
                    values,
                    Some(nulls),
                )?)
            }
            NestedBuilder::Map(target, keys, values, offsets, present) => {
                let DataType::Map(entries, sorted) = target else {
                    anyhow::bail!("map builder of type {target}")
                };
                let DataType::Struct(kv) = entries.data_type() else {
                    anyhow::bail!("map entries of type {}", entries.data_type())
                };
                let keys: ArrayRef = Arc::new(keys.finish());
                let values = values.finish()?;
                let entries_array = StructArray::try_new(kv.clone(), vec![keys, values], None)?;
                let offsets = OffsetBuffer::new(std::mem::replace(offsets, vec![0]).into());
                let nulls = NullBuffer::from(std::mem::take(present));
                Arc::new(MapArray::try_new(
                    entries.clone(),
                    offsets,
                    entries_array,
                    Some(nulls),
                    *sorted,
                )?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column_type::ColumnType;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    #[test]
    fn a_list_of_structs_is_typed_and_keeps_undeclared_keys() {
        let item = ColumnType::Struct {
            fields: vec![
                ("sku".to_owned(), ColumnType::Str),
                ("qty".to_owned(), ColumnType::Int),
            ]
            .into(),
            extra: true,
        };
        let t = ColumnType::List(Arc::new(item)).arrow();
        let mut b = NestedBuilder::new(&t);
        b.append_text(Some(
            r#"[{"sku":"a","qty":2},{"sku":7,"qty":"9","note":"x"}]"#,
        ));
        b.append_text(None);
        b.append_text(Some(r#"[]"#));
        b.append_text(Some(r#"{"not":"a list"}"#));
        let a = b.finish().unwrap();
        assert_eq!(a.data_type(), &t);
        let list = a.as_list::<i32>();
        assert_eq!(list.len(), 4);
        assert!(list.is_null(1) && list.is_null(3) && !list.is_null(2));
        let first = list.value(0);
        let s = first.as_struct();
        assert_eq!(
            s.column(0).as_string::<i32>().value(1),
            "7",
            "non-string as its JSON"
        );
        assert_eq!(
            s.column(1).as_primitive::<Int64Type>().value(1),
            9,
            "integer from a string"
        );
        assert!(s.column(2).is_null(0));
        assert_eq!(s.column(2).as_string::<i32>().value(1), r#"{"note":"x"}"#);
    }

    #[test]
    fn a_map_of_numbers_is_typed() {
        let t = ColumnType::Map(Arc::new(ColumnType::Float)).arrow();
        let mut b = NestedBuilder::new(&t);
        b.append_text(Some(r#"{"eur":1.5,"usd":"2","bad":true}"#));
        b.append_text(Some("null"));
        let a = b.finish().unwrap();
        let m = a.as_map();
        assert_eq!(m.value_length(0), 3);
        assert!(m.is_null(1));
        // Keys in the order serde_json keeps them: sorted.
        let k = m.keys().as_string::<i32>();
        assert_eq!((k.value(0), k.value(1), k.value(2)), ("bad", "eur", "usd"));
        let v = m.values().as_primitive::<arrow_array::types::Float64Type>();
        assert!(v.is_null(0), "a boolean in a double map is null");
        assert_eq!((v.value(1), v.value(2)), (1.5, 2.0));
    }
}
