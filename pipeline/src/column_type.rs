//! The type of one payload column, from the event's registered schema as
//! the schema crate reads it ([`tributary_schema::shape`], one model for
//! both schema languages): a scalar, or a nested STRUCT, LIST or MAP whose
//! parts are typed the same way, so an array property such as `items`
//! lands as a list of structs, not as JSON text.
//!
//! Strings and enums → string, integers → int64, numbers → double,
//! booleans → boolean; objects with declared properties → struct (plus an
//! `_extra` text child for undeclared keys, unless the object is closed:
//! `additionalProperties: false`, or any protobuf message); objects of
//! one value type → map from string; arrays → lists. What the model leaves
//! untyped (unions of types, `oneOf`, well-known protobuf types, deep
//! recursion) is JSON text. Columns and struct fields are named by the
//! schema's own names (protobuf field names, as the payload's JSON text
//! has them).

use arrow_schema::{DataType, Field, Fields};
use std::sync::Arc;
use tributary_schema::SchemaType;
use tributary_schema::shape::{self, Object, Type};

/// The name of a struct's child holding its undeclared keys as JSON text.
pub const STRUCT_EXTRA: &str = "_extra";

/// The type of a payload column or of a part of one.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnType {
    /// Text.
    Str,
    /// 64-bit integer.
    Int,
    /// Double.
    Float,
    /// Boolean.
    Bool,
    /// A value of no declared shape, as compact JSON text.
    Json,
    /// An object of declared properties: (name, type), by name;
    /// `extra` adds the [`STRUCT_EXTRA`] child.
    Struct {
        /// The declared properties.
        fields: Arc<[(String, ColumnType)]>,
        /// Whether undeclared keys are kept, as JSON text.
        extra: bool,
    },
    /// An array of one element type.
    List(Arc<ColumnType>),
    /// An object of string keys and one value type.
    Map(Arc<ColumnType>),
}

impl ColumnType {
    /// The Arrow type of a column of this type. Every part is nullable: a
    /// property may be absent.
    pub fn arrow(&self) -> DataType {
        match self {
            ColumnType::Str | ColumnType::Json => DataType::Utf8,
            ColumnType::Int => DataType::Int64,
            ColumnType::Float => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Struct { fields, extra } => {
                let mut f: Vec<Field> = fields
                    .iter()
                    .map(|(n, t)| Field::new(n, t.arrow(), true))
                    .collect();
                if *extra {
                    f.push(Field::new(STRUCT_EXTRA, DataType::Utf8, true));
                }
                DataType::Struct(Fields::from(f))
            }
            ColumnType::List(e) => DataType::List(Arc::new(Field::new("element", e.arrow(), true))),
            ColumnType::Map(v) => DataType::Map(
                Arc::new(Field::new(
                    "key_value",
                    DataType::Struct(Fields::from(vec![
                        Field::new("key", DataType::Utf8, false),
                        Field::new("value", v.arrow(), true),
                    ])),
                    false,
                )),
                false,
            ),
        }
    }

    /// Whether values of this type are Arrow nested arrays (built from the
    /// value's JSON, see `nested`).
    pub fn is_nested(&self) -> bool {
        matches!(
            self,
            ColumnType::Struct { .. } | ColumnType::List(_) | ColumnType::Map(_)
        )
    }
}

/// The payload columns of schema `text`: its properties, typed. A schema
/// the model cannot read gives none (every property then lands in
/// `p__extra`).
pub fn columns(schema_type: SchemaType, text: &str) -> Vec<(String, ColumnType)> {
    shape::read(schema_type, "", text)
        .map(|(_, o)| fields(&o))
        .unwrap_or_default()
}

fn fields(o: &Object) -> Vec<(String, ColumnType)> {
    o.fields
        .iter()
        .map(|f| (f.name.clone(), ColumnType::of(&f.ty)))
        .collect()
}

impl ColumnType {
    /// The column type of a model type.
    pub fn of(t: &Type) -> ColumnType {
        match t {
            Type::String | Type::Enum(..) => ColumnType::Str,
            Type::Integer => ColumnType::Int,
            Type::Number => ColumnType::Float,
            Type::Boolean => ColumnType::Bool,
            Type::Any => ColumnType::Json,
            Type::Array(e) => ColumnType::List(Arc::new(ColumnType::of(e))),
            Type::Map(v) => ColumnType::Map(Arc::new(ColumnType::of(v))),
            // Parquet has no struct without fields.
            Type::Object(o) if o.fields.is_empty() => ColumnType::Json,
            Type::Object(o) => ColumnType::Struct {
                fields: fields(o).into(),
                extra: !o.closed,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColumnType::*;

    fn st(fields: Vec<(&str, ColumnType)>, extra: bool) -> ColumnType {
        Struct {
            fields: fields
                .into_iter()
                .map(|(n, t)| (n.to_owned(), t))
                .collect::<Vec<_>>()
                .into(),
            extra,
        }
    }

    #[test]
    fn json_schema_objects_arrays_and_maps_are_typed() {
        let text = r##"{"type":"object","$defs":{"item":{"type":"object","additionalProperties":false,
              "properties":{"sku":{"type":"string"},"qty":{"type":"integer"}}}},
            "properties":{
              "items":{"type":"array","items":{"$ref":"#/$defs/item"}},
              "tags":{"type":["array","null"],"items":{"type":"string"}},
              "address":{"type":"object","properties":{"city":{"type":"string"}}},
              "prices":{"type":"object","additionalProperties":{"type":"number"}},
              "amount":{"type":["integer","number"]},
              "bare":{"type":"array"},
              "either":{"oneOf":[{"type":"string"},{"type":"integer"}]}}}"##;
        let cols = columns(SchemaType::Json, text);
        // serde_json's maps are sorted: columns and struct fields by name.
        let item = st(vec![("qty", Int), ("sku", Str)], false);
        assert_eq!(
            cols,
            vec![
                ("address".to_owned(), st(vec![("city", Str)], true)),
                ("amount".to_owned(), Float),
                ("bare".to_owned(), List(Arc::new(Json))),
                ("either".to_owned(), Json),
                ("items".to_owned(), List(Arc::new(item))),
                ("prices".to_owned(), Map(Arc::new(Float))),
                ("tags".to_owned(), List(Arc::new(Str))),
            ]
        );
        assert!(cols[4].1.is_nested() && !cols[3].1.is_nested());
    }

    #[test]
    fn protobuf_messages_are_closed_structs_by_field_name() {
        let proto = r#"syntax = "proto3";
            message M { repeated Line line_items = 1; map<string, int64> counts = 2; E e = 3; }
            message Line { string sku = 1; int32 qty = 2; }
            enum E { E_ZERO = 0; }"#;
        let cols = columns(SchemaType::Protobuf, proto);
        assert_eq!(
            cols,
            vec![
                (
                    "line_items".to_owned(),
                    List(Arc::new(st(vec![("sku", Str), ("qty", Int)], false)))
                ),
                ("counts".to_owned(), Map(Arc::new(Int))),
                ("e".to_owned(), Str),
            ]
        );
    }

    #[test]
    fn arrow_types_name_list_elements_and_map_entries_as_iceberg_does() {
        let t = List(Arc::new(st(vec![("sku", Str)], false)));
        let DataType::List(e) = t.arrow() else {
            panic!()
        };
        assert_eq!(e.name(), "element");
        let DataType::Map(kv, _) = Map(Arc::new(Int)).arrow() else {
            panic!()
        };
        assert_eq!(kv.name(), "key_value");
    }
}
