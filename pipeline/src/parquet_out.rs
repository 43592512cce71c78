//! Rows → Arrow columns → Parquet bytes.
//!
//! Columns of an event file:
//!
//! * the envelope as typed columns (`message_id`, `event_type`,
//!   `event_name`, `app_id`, `schema_id`, `event_time`, `client_time`,
//!   `sent_at`, `received_at`, `kafka_time` as UTC microsecond timestamps,
//!   `user_id`, `anonymous_id`, `session_id`, `app_version`, `context`,
//!   `custom_attributes`, `extra` as JSON text, and `kafka_topic`,
//!   `kafka_partition`, `kafka_offset`);
//! * the gateway's enrichment as typed columns (`ip`, `geo_*`, `ua_*`,
//!   `is_bot`: [`crate::enrichment`]);
//! * the payload's schema-declared properties as typed columns named
//!   `p_<property>` — string, int64, double, boolean, and declared objects,
//!   arrays and maps as STRUCT, LIST and MAP columns ([`crate::column_type`]);
//!   properties of no declared shape as JSON text;
//! * `p__extra`: every undeclared property, as a JSON object text.
//!
//! The types are those Apache Iceberg has (no unsigned integers,
//! microsecond timestamps), so the plain Parquet files and an Iceberg
//! table's data files are the same columns. A file holds one schema id, so
//! its layout is fixed ([`Layout`]). Event rows go into the file's
//! [`EventColumns`] as they are read. Encoding is deterministic: the same
//! rows give the same bytes (no timestamps in the file), which is what
//! makes replays rewrite identical objects.

use crate::enrichment::EnrichmentColumns;
use crate::nested::NestedBuilder;
use crate::payload::{Cell, ColumnType, Layout};
use crate::rows::{DeadLetterRow, ErrorRow, EventRow};
use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{Array, ArrayRef, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use std::sync::Arc;

/// The zone of every timestamp column, as Iceberg's `timestamptz` writes it.
const UTC: &str = "+00:00";

fn ts_field(name: &str, nullable: bool) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        nullable,
    )
}

/// The writer settings of every file: snappy, no timestamps, `meta` as
/// key-value metadata.
pub fn props(meta: &[(&str, String)]) -> WriterProperties {
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

/// A batch as Parquet bytes, with `meta` as key-value metadata.
pub fn encode(batch: &RecordBatch, meta: &[(&str, String)]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), Some(props(meta)))?;
    w.write(batch)?;
    w.close()?;
    Ok(out)
}

/// Timestamps are read as milliseconds and stored as microseconds.
struct Timestamps(TimestampMicrosecondBuilder);

impl Timestamps {
    fn new() -> Timestamps {
        Timestamps(TimestampMicrosecondBuilder::new().with_timezone(UTC))
    }

    fn push(&mut self, ms: Option<i64>) {
        self.0.append_option(ms.map(|ms| ms.saturating_mul(1000)));
    }

    fn finish(&mut self) -> ArrayRef {
        Arc::new(self.0.finish())
    }
}

/// The builders of one payload column. A nested column keeps its cells'
/// JSON text until the file is written, when its Arrow type (with an
/// Iceberg table's field ids, if any) is known.
enum PayloadColumn {
    Str(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Nested(StringBuilder),
}

impl PayloadColumn {
    fn new(ty: &ColumnType) -> PayloadColumn {
        match ty {
            ColumnType::Str | ColumnType::Json => PayloadColumn::Str(StringBuilder::new()),
            ColumnType::Int => PayloadColumn::Int(Int64Builder::new()),
            ColumnType::Float => PayloadColumn::Float(Float64Builder::new()),
            ColumnType::Bool => PayloadColumn::Bool(BooleanBuilder::new()),
            ColumnType::Struct { .. } | ColumnType::List(_) | ColumnType::Map(_) => {
                PayloadColumn::Nested(StringBuilder::new())
            }
        }
    }

    /// Appends a cell. The cell's kind follows the column type (see
    /// `payload`), so a mismatch cannot happen; it would append a null.
    fn push(&mut self, cell: Option<&Cell<'_>>) {
        match (self, cell) {
            (PayloadColumn::Str(b), Some(Cell::Str(s) | Cell::Json(s))) => b.append_value(s),
            (PayloadColumn::Nested(b), Some(Cell::Json(s))) => b.append_value(s),
            (PayloadColumn::Str(b) | PayloadColumn::Nested(b), _) => b.append_null(),
            (PayloadColumn::Int(b), Some(Cell::Int(v))) => b.append_value(*v),
            (PayloadColumn::Int(b), _) => b.append_null(),
            (PayloadColumn::Float(b), Some(Cell::Float(v))) => b.append_value(*v),
            (PayloadColumn::Float(b), _) => b.append_null(),
            (PayloadColumn::Bool(b), Some(Cell::Bool(v))) => b.append_value(*v),
            (PayloadColumn::Bool(b), _) => b.append_null(),
        }
    }

    /// The column as `target` (the type `ColumnType::arrow` gives, or the
    /// same with field ids).
    fn finish(&mut self, target: &DataType) -> anyhow::Result<ArrayRef> {
        Ok(match self {
            PayloadColumn::Str(b) => Arc::new(b.finish()),
            PayloadColumn::Int(b) => Arc::new(b.finish()),
            PayloadColumn::Float(b) => Arc::new(b.finish()),
            PayloadColumn::Bool(b) => Arc::new(b.finish()),
            PayloadColumn::Nested(b) => {
                let texts = b.finish();
                let mut nested = NestedBuilder::new(target);
                for i in 0..texts.len() {
                    nested.append_text((!texts.is_null(i)).then(|| texts.value(i)));
                }
                nested.finish()?
            }
        })
    }
}

/// The columns of one event file, filled a row at a time as records are
/// read: rows are copied into Arrow builders at once instead of being kept
/// as structs until the file is written. All rows share one [`Layout`]
/// (one schema version).
pub struct EventColumns {
    layout: Arc<Layout>,
    message_id: StringBuilder,
    event_type: StringBuilder,
    event_name: StringBuilder,
    app_id: StringBuilder,
    schema_id: Int32Builder,
    event_time: Timestamps,
    client_time: Timestamps,
    sent_at: Timestamps,
    received_at: Timestamps,
    kafka_time: Timestamps,
    user_id: StringBuilder,
    anonymous_id: StringBuilder,
    session_id: Int64Builder,
    app_version: StringBuilder,
    context: StringBuilder,
    custom_attributes: StringBuilder,
    extra: StringBuilder,
    kafka_offset: Int64Builder,
    enrichment: EnrichmentColumns,
    payload: Vec<PayloadColumn>,
    payload_rest: StringBuilder,
}

impl std::fmt::Debug for EventColumns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventColumns")
            .field("rows", &self.len())
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl EventColumns {
    /// Empty columns for rows of `layout`.
    pub fn new(layout: Arc<Layout>) -> EventColumns {
        let payload = layout
            .columns
            .iter()
            .map(|(_, t)| PayloadColumn::new(t))
            .collect();
        EventColumns {
            layout,
            message_id: StringBuilder::new(),
            event_type: StringBuilder::new(),
            event_name: StringBuilder::new(),
            app_id: StringBuilder::new(),
            schema_id: Int32Builder::new(),
            event_time: Timestamps::new(),
            client_time: Timestamps::new(),
            sent_at: Timestamps::new(),
            received_at: Timestamps::new(),
            kafka_time: Timestamps::new(),
            user_id: StringBuilder::new(),
            anonymous_id: StringBuilder::new(),
            session_id: Int64Builder::new(),
            app_version: StringBuilder::new(),
            context: StringBuilder::new(),
            custom_attributes: StringBuilder::new(),
            extra: StringBuilder::new(),
            kafka_offset: Int64Builder::new(),
            enrichment: EnrichmentColumns::default(),
            payload,
            payload_rest: StringBuilder::new(),
        }
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.message_id.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one event. Its layout must be this file's.
    pub fn push(&mut self, r: &EventRow<'_>) {
        debug_assert!(self.layout.columns == r.layout.columns);
        self.message_id.append_value(r.message_id);
        self.event_type.append_value(r.event_type);
        self.event_name.append_value(r.event_name);
        self.app_id.append_value(r.app_id);
        // Confluent schema ids are positive 32-bit integers.
        self.schema_id
            .append_option(r.schema_id.and_then(|i| i32::try_from(i).ok()));
        self.event_time.push(Some(r.event_time_ms));
        self.client_time.push(r.client_time_ms);
        self.sent_at.push(r.sent_at_ms);
        self.received_at.push(Some(r.received_at_ms));
        self.kafka_time.push(Some(r.kafka_time_ms));
        self.user_id.append_option(r.user_id);
        self.anonymous_id.append_option(r.anonymous_id);
        self.session_id.append_option(r.session_id);
        self.app_version.append_option(r.app_version.as_deref());
        self.context.append_option(r.context.as_deref());
        self.custom_attributes.append_option(r.custom_attributes);
        self.extra.append_option(r.extra.as_deref());
        self.kafka_offset.append_value(r.offset);
        self.enrichment.push(r.enrichment);
        for (i, col) in self.payload.iter_mut().enumerate() {
            col.push(r.payload.cells.get(i).and_then(Option::as_ref));
        }
        self.payload_rest.append_option(r.payload.rest_json());
    }

    /// The file's fields, without field ids: the envelope, the enrichment,
    /// the payload columns of its layout and `p__extra`.
    pub fn fields(&self) -> Vec<Field> {
        let mut fields = vec![
            Field::new("message_id", DataType::Utf8, false),
            Field::new("event_type", DataType::Utf8, false),
            Field::new("event_name", DataType::Utf8, false),
            Field::new("app_id", DataType::Utf8, false),
            Field::new("schema_id", DataType::Int32, true),
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
        fields.extend(crate::enrichment::fields());
        for (name, ty) in &self.layout.columns {
            fields.push(Field::new(format!("p_{name}"), ty.arrow(), true));
        }
        fields.push(Field::new("p__extra", DataType::Utf8, true));
        fields
    }

    /// The rows as one batch of schema `target` — [`Self::fields`], or
    /// the same with an Iceberg table's field ids and nullability. The
    /// builders are left empty.
    pub fn finish_batch(
        &mut self,
        topic: &str,
        partition: i32,
        target: SchemaRef,
    ) -> anyhow::Result<RecordBatch> {
        let n = self.len();
        let topics: StringArray = std::iter::repeat_n(Some(topic), n).collect();
        let partitions = Int32Array::from(vec![partition; n]);
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.message_id.finish()),
            Arc::new(self.event_type.finish()),
            Arc::new(self.event_name.finish()),
            Arc::new(self.app_id.finish()),
            Arc::new(self.schema_id.finish()),
            self.event_time.finish(),
            self.client_time.finish(),
            self.sent_at.finish(),
            self.received_at.finish(),
            self.kafka_time.finish(),
            Arc::new(self.user_id.finish()),
            Arc::new(self.anonymous_id.finish()),
            Arc::new(self.session_id.finish()),
            Arc::new(self.app_version.finish()),
            Arc::new(self.context.finish()),
            Arc::new(self.custom_attributes.finish()),
            Arc::new(self.extra.finish()),
            Arc::new(topics),
            Arc::new(partitions),
            Arc::new(self.kafka_offset.finish()),
        ];
        columns.extend(self.enrichment.finish());
        let first_payload = columns.len();
        for (i, col) in self.payload.iter_mut().enumerate() {
            let field = target.fields().get(first_payload + i).ok_or_else(|| {
                anyhow::anyhow!("the target schema has fewer columns than the file")
            })?;
            columns.push(col.finish(field.data_type())?);
        }
        columns.push(Arc::new(self.payload_rest.finish()));
        Ok(RecordBatch::try_new(target, columns)?)
    }

    /// The rows as one batch of the file's own schema ([`Self::fields`]),
    /// for a plain Parquet file. The builders are left empty.
    pub fn finish(&mut self, topic: &str, partition: i32) -> anyhow::Result<RecordBatch> {
        let schema = Arc::new(ArrowSchema::new(self.fields()));
        self.finish_batch(topic, partition, schema)
    }
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
    let mut t = Timestamps::new();
    let mut off = Int64Builder::new();
    for r in rows {
        t.push(Some(r.kafka_time_ms));
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
        t.finish(),
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
    let mut t = Timestamps::new();
    let mut off = Int64Builder::new();
    for r in rows {
        reason.append_value(&r.reason);
        headers.append_value(&r.headers);
        value.append_value(&r.value);
        t.push(Some(r.kafka_time_ms));
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
        t.finish(),
        Arc::new(off.finish()),
    ];
    let batch = RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns)?;
    encode(&batch, meta)
}
