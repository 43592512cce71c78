//! Rows → Parquet bytes.
//!
//! Columns of an event file:
//!
//! * the envelope as typed columns (`message_id`, `event_type`,
//!   `event_name`, `app_id`, `schema_id`, `event_time`, `client_time`,
//!   `sent_at`, `received_at`, `kafka_time` as UTC millisecond timestamps,
//!   `user_id`, `anonymous_id`, `session_id`, `app_version`, `context`,
//!   `custom_attributes`, `extra` as JSON text, and `kafka_topic`,
//!   `kafka_partition`, `kafka_offset`);
//! * the payload's schema-declared properties as typed columns named
//!   `p_<property>` — string, int64, double, boolean; declared nested
//!   objects and arrays as JSON text;
//! * `p__extra`: every undeclared property, as a JSON object text.
//!
//! A file holds one schema id, so its layout is fixed ([`Layout`]).
//! Encoding is deterministic: the same rows give the same bytes (no
//! timestamps in the file), which is what makes replays rewrite identical
//! objects.

use crate::rows::{DeadLetterRow, ErrorRow, EventRow};
use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder, UInt32Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema as ArrowSchema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::{Map, Value};
use std::sync::Arc;
use tributary_schema::{Schema, SchemaType};

/// The Arrow type of one payload column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Text.
    Str,
    /// 64-bit integer.
    Int,
    /// Double.
    Float,
    /// Boolean.
    Bool,
    /// Nested value as JSON text.
    Json,
}

/// The typed payload columns of one schema version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// (property name, type), in schema order.
    pub columns: Vec<(String, ColumnType)>,
}

impl Layout {
    /// The layout a schema declares; `None` (no schema) gives no typed
    /// columns.
    pub fn of(schema: Option<&Schema>) -> Layout {
        let Some(s) = schema else {
            return Layout::default();
        };
        let columns = match s.schema_type {
            SchemaType::Json => json_columns(&s.text),
            SchemaType::Protobuf => proto_columns(&s.text),
        };
        Layout { columns }
    }
}

fn json_type(v: &Value) -> ColumnType {
    let types: Vec<&str> = match v.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => Vec::new(),
    };
    if types.is_empty()
        && let Some(Value::Array(e)) = v.get("enum")
    {
        if e.iter().all(Value::is_string) {
            return ColumnType::Str;
        }
        return ColumnType::Json;
    }
    match types.as_slice() {
        ["string"] => ColumnType::Str,
        ["integer"] => ColumnType::Int,
        ["number"] | ["integer", "number"] | ["number", "integer"] => ColumnType::Float,
        ["boolean"] => ColumnType::Bool,
        _ => ColumnType::Json,
    }
}

fn json_columns(text: &str) -> Vec<(String, ColumnType)> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    v.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.iter().map(|(k, s)| (k.clone(), json_type(s))).collect())
        .unwrap_or_default()
}

fn proto_columns(text: &str) -> Vec<(String, ColumnType)> {
    use prost_reflect_kind as k;
    let Ok(pool) = tributary_schema::compiled::compile_proto(text) else {
        return Vec::new();
    };
    let Some(msg) = pool
        .get_file_by_name("schema.proto")
        .and_then(|f| f.messages().next())
    else {
        return Vec::new();
    };
    msg.fields()
        .map(|f| {
            let t = if f.is_list() || f.is_map() {
                ColumnType::Json
            } else {
                k::column(&f.kind())
            };
            (f.name().to_owned(), t)
        })
        .collect()
}

/// Protobuf kinds → column types (64-bit integers are text in protobuf's
/// JSON mapping and are parsed back to numbers here).
mod prost_reflect_kind {
    use super::ColumnType;
    use tributary_schema::compiled::Kind;

    pub fn column(kind: &Kind) -> ColumnType {
        match kind {
            Kind::String | Kind::Bytes | Kind::Enum(_) => ColumnType::Str,
            Kind::Int32
            | Kind::Sint32
            | Kind::Sfixed32
            | Kind::Uint32
            | Kind::Fixed32
            | Kind::Int64
            | Kind::Sint64
            | Kind::Sfixed64
            | Kind::Uint64
            | Kind::Fixed64 => ColumnType::Int,
            Kind::Float | Kind::Double => ColumnType::Float,
            Kind::Bool => ColumnType::Bool,
            Kind::Message(_) => ColumnType::Json,
        }
    }
}

fn ts_field(name: &str, nullable: bool) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        nullable,
    )
}

fn props(meta: &[(&str, String)]) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by("tributary-pipeline".into())
        .set_key_value_metadata(Some(
            meta.iter()
                .map(|(k, v)| KeyValue::new((*k).to_owned(), v.clone()))
                .collect(),
        ))
        .build()
}

fn encode(batch: &RecordBatch, meta: &[(&str, String)]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), Some(props(meta)))?;
    w.write(batch)?;
    w.close()?;
    Ok(out)
}

fn ts(b: &mut TimestampMillisecondBuilder, v: Option<i64>) {
    b.append_option(v);
}

fn new_ts() -> TimestampMillisecondBuilder {
    TimestampMillisecondBuilder::new().with_timezone("UTC")
}

/// An event file for `rows` (all of one schema), with `meta` as Parquet
/// key-value metadata.
pub fn events(
    rows: &[&EventRow],
    layout: &Layout,
    topic: &str,
    partition: i32,
    meta: &[(&str, String)],
) -> anyhow::Result<Vec<u8>> {
    let mut fields = vec![
        Field::new("message_id", DataType::Utf8, false),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("event_name", DataType::Utf8, false),
        Field::new("app_id", DataType::Utf8, false),
        Field::new("schema_id", DataType::UInt32, true),
        ts_field("event_time", false),
        ts_field("client_time", true),
        ts_field("sent_at", true),
        ts_field("received_at", false),
        ts_field("kafka_time", false),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("anonymous_id", DataType::Utf8, true),
        Field::new("session_id", DataType::Int64, true),
        Field::new("app_version", DataType::Utf8, true),
        Field::new("context", DataType::Utf8, true),
        Field::new("custom_attributes", DataType::Utf8, true),
        Field::new("extra", DataType::Utf8, true),
        Field::new("kafka_topic", DataType::Utf8, false),
        Field::new("kafka_partition", DataType::Int32, false),
        Field::new("kafka_offset", DataType::Int64, false),
    ];
    let s = |f: fn(&EventRow) -> Option<&str>| {
        let mut b = StringBuilder::new();
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish()) as ArrayRef
    };
    let t = |f: fn(&EventRow) -> Option<i64>| {
        let mut b = new_ts();
        for r in rows {
            ts(&mut b, f(r));
        }
        Arc::new(b.finish()) as ArrayRef
    };
    let mut schema_id = UInt32Builder::new();
    let mut session = Int64Builder::new();
    let mut part = Int32Builder::new();
    let mut offset = Int64Builder::new();
    let mut topic_b = StringBuilder::new();
    for r in rows {
        schema_id.append_option(r.schema_id);
        session.append_option(r.session_id);
        part.append_value(partition);
        offset.append_value(r.offset);
        topic_b.append_value(topic);
    }
    let mut columns: Vec<ArrayRef> = vec![
        s(|r| Some(&r.message_id)),
        s(|r| Some(&r.event_type)),
        s(|r| Some(&r.event_name)),
        s(|r| Some(&r.app_id)),
        Arc::new(schema_id.finish()),
        t(|r| Some(r.event_time_ms)),
        t(|r| r.client_time_ms),
        t(|r| r.sent_at_ms),
        t(|r| Some(r.received_at_ms)),
        t(|r| Some(r.kafka_time_ms)),
        s(|r| r.user_id.as_deref()),
        s(|r| r.anonymous_id.as_deref()),
        Arc::new(session.finish()),
        s(|r| r.app_version.as_deref()),
        s(|r| r.context.as_deref()),
        s(|r| r.custom_attributes.as_deref()),
        s(|r| r.extra.as_deref()),
        Arc::new(topic_b.finish()),
        Arc::new(part.finish()),
        Arc::new(offset.finish()),
    ];
    // Typed payload columns, then the undeclared rest.
    for (name, ty) in &layout.columns {
        let get = |r: &EventRow| r.payload.get(name).filter(|v| !v.is_null()).cloned();
        let (dt, col): (DataType, ArrayRef) = match ty {
            ColumnType::Str => {
                let mut b = StringBuilder::new();
                for r in rows {
                    b.append_option(get(r).map(|v| match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    }));
                }
                (DataType::Utf8, Arc::new(b.finish()))
            }
            ColumnType::Int => {
                let mut b = Int64Builder::new();
                for r in rows {
                    b.append_option(get(r).and_then(|v| match v {
                        Value::Number(n) => n.as_i64(),
                        Value::String(s) => s.parse().ok(),
                        _ => None,
                    }));
                }
                (DataType::Int64, Arc::new(b.finish()))
            }
            ColumnType::Float => {
                let mut b = Float64Builder::new();
                for r in rows {
                    b.append_option(get(r).and_then(|v| match v {
                        Value::Number(n) => n.as_f64(),
                        Value::String(s) => s.parse().ok(),
                        _ => None,
                    }));
                }
                (DataType::Float64, Arc::new(b.finish()))
            }
            ColumnType::Bool => {
                let mut b = BooleanBuilder::new();
                for r in rows {
                    b.append_option(get(r).and_then(|v| v.as_bool()));
                }
                (DataType::Boolean, Arc::new(b.finish()))
            }
            ColumnType::Json => {
                let mut b = StringBuilder::new();
                for r in rows {
                    b.append_option(get(r).map(|v| v.to_string()));
                }
                (DataType::Utf8, Arc::new(b.finish()))
            }
        };
        fields.push(Field::new(format!("p_{name}"), dt, true));
        columns.push(col);
    }
    let mut rest = StringBuilder::new();
    for r in rows {
        let undeclared: Map<String, Value> = r
            .payload
            .iter()
            .filter(|(k, _)| !layout.columns.iter().any(|(n, _)| n == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        rest.append_option((!undeclared.is_empty()).then(|| Value::Object(undeclared).to_string()));
    }
    fields.push(Field::new("p__extra", DataType::Utf8, true));
    columns.push(Arc::new(rest.finish()));
    let batch = RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns)?;
    encode(&batch, meta)
}

/// A file of gateway dead letters.
pub fn dead_letters(rows: &[&DeadLetterRow], meta: &[(&str, String)]) -> anyhow::Result<Vec<u8>> {
    let s = |f: fn(&DeadLetterRow) -> Option<&str>| {
        let mut b = StringBuilder::new();
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish()) as ArrayRef
    };
    let mut t = new_ts();
    let mut off = Int64Builder::new();
    for r in rows {
        t.append_value(r.kafka_time_ms);
        off.append_value(r.offset);
    }
    let fields = vec![
        Field::new("reason", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
        Field::new("stage", DataType::Utf8, false),
        Field::new("original_topic", DataType::Utf8, false),
        Field::new("app_id", DataType::Utf8, true),
        Field::new("pointer", DataType::Utf8, true),
        Field::new("rule", DataType::Utf8, true),
        Field::new("value", DataType::Utf8, false),
        ts_field("kafka_time", false),
        Field::new("kafka_offset", DataType::Int64, false),
    ];
    let columns: Vec<ArrayRef> = vec![
        s(|r| Some(&r.reason)),
        s(|r| Some(&r.message)),
        s(|r| Some(&r.stage)),
        s(|r| Some(&r.original_topic)),
        s(|r| r.app_id.as_deref()),
        s(|r| r.pointer.as_deref()),
        s(|r| r.rule.as_deref()),
        s(|r| Some(&r.value)),
        Arc::new(t.finish()),
        Arc::new(off.finish()),
    ];
    let batch = RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns)?;
    encode(&batch, meta)
}

/// A file of records the pipeline could not read.
pub fn errors(rows: &[&ErrorRow], meta: &[(&str, String)]) -> anyhow::Result<Vec<u8>> {
    let mut reason = StringBuilder::new();
    let mut headers = StringBuilder::new();
    let mut value = BinaryBuilder::new();
    let mut t = new_ts();
    let mut off = Int64Builder::new();
    for r in rows {
        reason.append_value(&r.reason);
        headers.append_value(&r.headers);
        value.append_value(&r.value);
        t.append_value(r.kafka_time_ms);
        off.append_value(r.offset);
    }
    let fields = vec![
        Field::new("reason", DataType::Utf8, false),
        Field::new("headers", DataType::Utf8, false),
        Field::new("value", DataType::Binary, false),
        ts_field("kafka_time", false),
        Field::new("kafka_offset", DataType::Int64, false),
    ];
    let columns: Vec<ArrayRef> = vec![
        Arc::new(reason.finish()),
        Arc::new(headers.finish()),
        Arc::new(value.finish()),
        Arc::new(t.finish()),
        Arc::new(off.finish()),
    ];
    let batch = RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns)?;
    encode(&batch, meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_schema::schema::content_id;

    #[test]
    fn layouts_follow_the_schema() {
        let text = r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"},
            "c":{"type":"number"},"d":{"type":"boolean"},"e":{"type":"array"},"f":{"enum":["x","y"]},
            "g":{"type":["number","null"]}}}"#;
        let s = Schema {
            id: content_id(SchemaType::Json, text),
            subject: "a.b".into(),
            version: 1,
            schema_type: SchemaType::Json,
            text: text.into(),
        };
        let l = Layout::of(Some(&s));
        use ColumnType::*;
        let types: Vec<ColumnType> = l.columns.iter().map(|c| c.1).collect();
        assert_eq!(types, [Str, Int, Float, Bool, Json, Str, Float]);
        let proto = "syntax = \"proto3\"; message M { string a = 1; int64 b = 2; double c = 3; repeated string d = 4; bool e = 5; }";
        let p = Schema {
            id: 1,
            subject: "a.c".into(),
            version: 1,
            schema_type: SchemaType::Protobuf,
            text: proto.into(),
        };
        let types: Vec<ColumnType> = Layout::of(Some(&p)).columns.iter().map(|c| c.1).collect();
        assert_eq!(types, [Str, Int, Float, Json, Bool]);
    }
}
