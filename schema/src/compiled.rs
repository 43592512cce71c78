//! A schema made ready for the hot path: a compiled JSON Schema validator,
//! or a protobuf message descriptor. Compiling is the expensive step, so the
//! [`Registry`](crate::Registry) does it once per schema id and shares the
//! result; nothing here is compiled per request.
//!
//! [`Compiled::encode`] is the whole per-event job: check the payload
//! against the schema and write the Kafka record value in the Confluent wire
//! format. A payload that does not fit gets a [`Rejection`] naming the JSON
//! pointer of the first failing field and the rule it broke.

use crate::plan;
use crate::schema::{Schema, SchemaType};
use prost::Message;
/// Protobuf field kinds, for readers that map fields to columns.
pub use prost_reflect::Kind;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
use std::fmt;
use tributary_contract::wire;

/// A schema that cannot be compiled (a broken file in the schema directory
/// or registry). Reported at load time, never per event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError(pub String);

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SchemaError {}

/// Why one event's payload does not fit its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// JSON pointer of the first failing value in the payload (`""` for the
    /// payload itself), e.g. `/items/0/price`.
    pub pointer: String,
    /// The rule it broke: a JSON Schema keyword (`type`, `required`,
    /// `enum`, ...) or, for protobuf, `protobuf`.
    pub rule: String,
    /// What is wrong, for people.
    pub message: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "at {at}: {} ({})", self.message, self.rule)
    }
}

/// The name protobuf files get when compiled from registry text.
const PROTO_FILE_NAME: &str = "schema.proto";

/// A compiled JSON Schema: the general validator, and the one-walk plan
/// when the schema uses only planned keywords.
pub struct JsonValidator {
    general: jsonschema::Validator,
    plan: Option<plan::json_schema::Node>,
}

/// The one-walk encoder of a protobuf message (see the `plan` module).
pub struct ProtobufPlan(plan::protobuf::Plan);

/// A compiled schema.
pub enum Compiled {
    /// A JSON Schema validator.
    Json(Box<JsonValidator>),
    /// The payload message of a `.proto` schema (its first message).
    Protobuf {
        /// The message payloads are encoded as.
        message: MessageDescriptor,
        /// JSON → wire bytes in one walk, when the message allows it.
        plan: Option<ProtobufPlan>,
        /// The file as a serialized `FileDescriptorProto`, served for the
        /// registry API's `?format=serialized`.
        file_descriptor: Vec<u8>,
    },
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compiled::Json(_) => f.write_str("Compiled::Json"),
            Compiled::Protobuf { message, .. } => {
                write!(f, "Compiled::Protobuf({})", message.full_name())
            }
        }
    }
}

/// Compiles `.proto` text into a descriptor pool. Imports of Google's
/// well-known types resolve; other imports are not supported (a registry
/// subject is one self-contained file).
pub fn compile_proto(text: &str) -> Result<DescriptorPool, SchemaError> {
    compile_proto_file(text, false)
}

/// [`compile_proto`], keeping the file's comments when `comments` (codegen
/// turns them into doc comments; validation does not need them).
pub(crate) fn compile_proto_file(
    text: &str,
    comments: bool,
) -> Result<DescriptorPool, SchemaError> {
    struct OneFile<'a>(&'a str);
    impl FileResolver for OneFile<'_> {
        fn open_file(&self, name: &str) -> Result<File, protox::Error> {
            if name == PROTO_FILE_NAME {
                File::from_source(name, self.0)
            } else {
                Err(protox::Error::file_not_found(name))
            }
        }
    }
    // The resolver must be 'static: copy the text into it.
    struct Owned(String);
    impl FileResolver for Owned {
        fn open_file(&self, name: &str) -> Result<File, protox::Error> {
            OneFile(&self.0).open_file(name)
        }
    }
    let mut chain = ChainFileResolver::new();
    chain.add(Owned(text.to_owned()));
    chain.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(chain);
    compiler.include_imports(true);
    compiler.include_source_info(comments);
    compiler
        .open_file(PROTO_FILE_NAME)
        .map_err(|e| SchemaError(format!("invalid .proto: {e}")))?;
    Ok(compiler.descriptor_pool())
}

/// The compiled schema file and its payload message (the first message).
pub(crate) fn payload_message(
    pool: &DescriptorPool,
) -> Result<(prost_reflect::FileDescriptor, MessageDescriptor), SchemaError> {
    let file = pool
        .get_file_by_name(PROTO_FILE_NAME)
        .ok_or_else(|| SchemaError("compiled .proto file is missing".into()))?;
    let message = file
        .messages()
        .next()
        .ok_or_else(|| SchemaError("the .proto file declares no message".into()))?;
    Ok((file, message))
}

impl Compiled {
    /// Compiles a schema; an invalid one is an error with the reason.
    pub fn compile(schema: &Schema) -> Result<Compiled, SchemaError> {
        match schema.schema_type {
            SchemaType::Json => {
                let value: serde_json::Value = serde_json::from_str(&schema.text)
                    .map_err(|e| SchemaError(format!("schema is not JSON: {e}")))?;
                let general = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .build(&value)
                    .map_err(|e| SchemaError(format!("invalid JSON Schema: {e}")))?;
                let plan = plan::json_schema::Node::compile(&value);
                Ok(Compiled::Json(Box::new(JsonValidator { general, plan })))
            }
            SchemaType::Protobuf => {
                let (file, message) = payload_message(&compile_proto(&schema.text)?)?;
                let file_descriptor = file.file_descriptor_proto().encode_to_vec();
                let plan = plan::protobuf::Plan::compile(&message).map(ProtobufPlan);
                Ok(Compiled::Protobuf {
                    message,
                    plan,
                    file_descriptor,
                })
            }
        }
    }

    /// Whether payloads of this schema take the one-walk fast path (see
    /// the `plan` module); the others always take the general one.
    pub fn is_planned(&self) -> bool {
        match self {
            Compiled::Json(j) => j.plan.is_some(),
            Compiled::Protobuf { plan, .. } => plan.is_some(),
        }
    }

    /// The value's encoding header for records of this schema.
    pub fn encoding(&self) -> tributary_contract::Encoding {
        match self {
            Compiled::Json(_) => tributary_contract::Encoding::ConfluentJson,
            Compiled::Protobuf { .. } => tributary_contract::Encoding::ConfluentProtobuf,
        }
    }

    /// Checks `payload` (JSON text) and appends the framed record value for
    /// schema `id` to `out`. On a rejection `out` may hold a partial value.
    pub fn encode(&self, id: u32, payload: &str, out: &mut Vec<u8>) -> Result<(), Rejection> {
        match self {
            Compiled::Json(json) => {
                let JsonValidator { general, plan } = &**json;
                if plan.as_ref().is_some_and(|p| p.accepts(payload)) {
                    wire::frame_json(id, out);
                    out.extend_from_slice(payload.as_bytes());
                    return Ok(());
                }
                let validator = general;
                let value: serde_json::Value =
                    serde_json::from_str(payload).map_err(|e| Rejection {
                        pointer: String::new(),
                        rule: "json".into(),
                        message: format!("payload is not JSON: {e}"),
                    })?;
                // `is_valid` short-circuits without building errors; only
                // an invalid event pays for the detailed walk.
                if validator.is_valid(&value) {
                    wire::frame_json(id, out);
                    out.extend_from_slice(payload.as_bytes());
                    return Ok(());
                }
                if let Some(e) = validator.iter_errors(&value).next() {
                    return Err(Rejection {
                        pointer: e.instance_path().to_string(),
                        rule: keyword(&e.schema_path().to_string()),
                        message: e.to_string(),
                    });
                }
                wire::frame_json(id, out);
                out.extend_from_slice(payload.as_bytes());
                Ok(())
            }
            Compiled::Protobuf { message, plan, .. } => {
                let start = out.len();
                wire::frame_protobuf(id, &[0], out);
                if plan
                    .as_ref()
                    .is_some_and(|p| p.0.encode(payload, out).is_some())
                {
                    return Ok(());
                }
                out.truncate(start);
                // Convert untracked first; only a payload that fails is
                // converted again with path tracking, for the rejection's
                // pointer (tracking every field cost more than the
                // conversion itself).
                let fast = {
                    let mut de = serde_json::Deserializer::from_str(payload);
                    serde::de::DeserializeSeed::deserialize(message.clone(), &mut de)
                        .and_then(|m| de.end().map(|()| m))
                };
                if let Ok(msg) = fast {
                    wire::frame_protobuf(id, &[0], out);
                    return msg.encode(out).map_err(|e| Rejection {
                        pointer: String::new(),
                        rule: "protobuf".into(),
                        message: format!("cannot encode {}: {e}", message.full_name()),
                    });
                }
                let mut de = serde_json::Deserializer::from_str(payload);
                let mut track = serde_path_to_error::Track::new();
                let msg = {
                    let tracked = serde_path_to_error::Deserializer::new(&mut de, &mut track);
                    serde::de::DeserializeSeed::deserialize(message.clone(), tracked)
                };
                let msg: DynamicMessage =
                    msg.and_then(|m| de.end().map(|()| m))
                        .map_err(|e| Rejection {
                            pointer: pointer_of(&track.path()),
                            rule: "protobuf".into(),
                            message: format!("cannot convert to {}: {e}", message.full_name()),
                        })?;
                wire::frame_protobuf(id, &[0], out);
                msg.encode(out).map_err(|e| Rejection {
                    pointer: String::new(),
                    rule: "protobuf".into(),
                    message: format!("cannot encode {}: {e}", message.full_name()),
                })?;
                Ok(())
            }
        }
    }

    /// Decodes an unframed payload back to JSON (protobuf via its JSON
    /// mapping, field names as in the `.proto`).
    pub fn decode(&self, payload: &[u8]) -> Result<serde_json::Value, String> {
        match self {
            Compiled::Json(_) => {
                serde_json::from_slice(payload).map_err(|e| format!("payload is not JSON: {e}"))
            }
            Compiled::Protobuf { .. } => {
                let mut text = Vec::new();
                self.decode_to_text(payload, &mut text)?;
                serde_json::from_slice(&text).map_err(|e| format!("cannot convert to JSON: {e}"))
            }
        }
    }

    /// Like [`decode`](Self::decode), but writes the JSON as compact text
    /// into `out` (cleared first) instead of building a tree: what a reader
    /// of millions of records wants. A JSON Schema payload is copied as is.
    pub fn decode_to_text(&self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        match self {
            Compiled::Json(_) => {
                out.extend_from_slice(payload);
                Ok(())
            }
            Compiled::Protobuf { message, .. } => {
                let msg = DynamicMessage::decode(message.clone(), payload)
                    .map_err(|e| format!("not a {} message: {e}", message.full_name()))?;
                let opts = SerializeOptions::new()
                    .use_proto_field_name(true)
                    .skip_default_fields(false);
                msg.serialize_with_options(&mut serde_json::Serializer::new(out), &opts)
                    .map_err(|e| format!("cannot convert to JSON: {e}"))
            }
        }
    }

    /// The serialized `FileDescriptorProto` of a protobuf schema.
    pub fn file_descriptor(&self) -> Option<&[u8]> {
        match self {
            Compiled::Json(_) => None,
            Compiled::Protobuf {
                file_descriptor, ..
            } => Some(file_descriptor),
        }
    }
}

/// The keyword at the end of a schema path like `/properties/total/type`.
fn keyword(schema_path: &str) -> String {
    schema_path
        .rsplit('/')
        .next()
        .filter(|k| !k.is_empty())
        .unwrap_or("schema")
        .to_owned()
}

/// serde_path_to_error's path (`items[0].price`) as a JSON pointer.
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        out.push('/');
        match seg {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::content_id;

    fn schema(t: SchemaType, text: &str) -> Schema {
        Schema {
            id: content_id(t, text),
            subject: "shop.order_completed".into(),
            version: 1,
            schema_type: t,
            text: text.into(),
        }
    }

    const ORDER_JSON: &str = r#"{
        "type": "object",
        "properties": {
            "total": {"type": "number", "minimum": 0},
            "currency": {"enum": ["EUR", "USD"]},
            "items": {"type": "array", "items": {"type": "object",
                "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                "required": ["sku"]}}
        },
        "required": ["total"]
    }"#;

    const ORDER_PROTO: &str = r#"
        syntax = "proto3";
        package shop;
        message OrderCompleted {
            double total = 1;
            string currency = 2;
            repeated Item items = 3;
            int64 placed_at_ms = 4;
        }
        message Item { string sku = 1; int32 qty = 2; }
    "#;

    #[test]
    fn json_payloads_are_validated_and_framed() {
        let s = schema(SchemaType::Json, ORDER_JSON);
        let c = Compiled::compile(&s).unwrap();
        let mut out = Vec::new();
        let payload = r#"{"total":12.5,"currency":"EUR","items":[{"sku":"a","qty":2}]}"#;
        c.encode(s.id, payload, &mut out).unwrap();
        assert_eq!(out[0], 0);
        assert_eq!(&out[1..5], s.id.to_be_bytes());
        assert_eq!(&out[5..], payload.as_bytes());
        assert_eq!(c.decode(&out[5..]).unwrap()["total"], 12.5);
    }

    #[test]
    fn json_rejections_name_the_pointer_and_rule() {
        let s = schema(SchemaType::Json, ORDER_JSON);
        let c = Compiled::compile(&s).unwrap();
        let cases = [
            (r#"{"currency":"EUR"}"#, "", "required"),
            (r#"{"total":"12"}"#, "/total", "type"),
            (r#"{"total":-1}"#, "/total", "minimum"),
            (r#"{"total":1,"currency":"GBP"}"#, "/currency", "enum"),
            (r#"{"total":1,"items":[{"qty":1}]}"#, "/items/0", "required"),
            (
                r#"{"total":1,"items":[{"sku":"a","qty":1.5}]}"#,
                "/items/0/qty",
                "type",
            ),
        ];
        for (payload, pointer, rule) in cases {
            let r = c.encode(s.id, payload, &mut Vec::new()).unwrap_err();
            assert_eq!(
                (r.pointer.as_str(), r.rule.as_str()),
                (pointer, rule),
                "{payload}: {r}"
            );
        }
    }

    #[test]
    fn protobuf_payloads_convert_from_json_and_back() {
        let s = schema(SchemaType::Protobuf, ORDER_PROTO);
        let c = Compiled::compile(&s).unwrap();
        let mut out = Vec::new();
        // JSON mapping: lowerCamelCase or the proto name; int64 as string.
        c.encode(
            s.id,
            r#"{"total":12.5,"currency":"EUR","items":[{"sku":"a","qty":2}],"placedAtMs":"1700000000000"}"#,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            &out[..6],
            [
                0,
                (s.id >> 24) as u8,
                (s.id >> 16) as u8,
                (s.id >> 8) as u8,
                s.id as u8,
                0
            ]
        );
        let back = c.decode(&out[6..]).unwrap();
        assert_eq!(back["total"], 12.5);
        assert_eq!(back["items"][0]["sku"], "a");
        assert_eq!(back["placed_at_ms"], "1700000000000");
        assert!(c.file_descriptor().is_some_and(|f| !f.is_empty()));
    }

    #[test]
    fn protobuf_conversion_failures_are_rejections_with_a_pointer() {
        let s = schema(SchemaType::Protobuf, ORDER_PROTO);
        let c = Compiled::compile(&s).unwrap();
        let r = c
            .encode(
                s.id,
                r#"{"total":1,"items":[{"sku":"a","qty":"many"}]}"#,
                &mut Vec::new(),
            )
            .unwrap_err();
        assert_eq!(r.pointer, "/items/0/qty", "{r}");
        let r = c
            .encode(s.id, r#"{"total":1,"colour":"red"}"#, &mut Vec::new())
            .unwrap_err();
        assert!(r.message.contains("colour"), "{r}");
    }

    #[test]
    fn the_repositorys_event_schemas_take_the_one_walk_path() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
        let catalog = crate::dir::load(&dir).unwrap();
        let mut n = 0;
        for subject in catalog.subjects() {
            for s in catalog.versions(subject).unwrap_or_default() {
                let c = Compiled::compile(s).unwrap();
                assert!(c.is_planned(), "{} v{} has no plan", s.subject, s.version);
                n += 1;
            }
        }
        assert!(n >= 3, "{n} schemas");
    }

    #[test]
    fn a_payload_the_plan_is_unsure_of_still_gets_the_exact_answer() {
        // 64-bit integers as strings are planned; a float string is not,
        // and the dynamic path converts or rejects it as before.
        let s = schema(SchemaType::Protobuf, ORDER_PROTO);
        let c = Compiled::compile(&s).unwrap();
        let (mut planned, mut general) = (Vec::new(), Vec::new());
        c.encode(s.id, r#"{"total":1,"placedAtMs":"17"}"#, &mut planned)
            .unwrap();
        c.encode(s.id, r#"{"total":"1","placedAtMs":"17"}"#, &mut general)
            .unwrap();
        assert_eq!(planned, general);
        let json = schema(SchemaType::Json, ORDER_JSON);
        let c = Compiled::compile(&json).unwrap();
        let r = c
            .encode(json.id, r#"{"total":1e400}"#, &mut Vec::new())
            .unwrap_err();
        assert_eq!(r.rule, "json", "{r}");
    }

    #[test]
    fn broken_schemas_are_load_errors() {
        for (t, text) in [
            (SchemaType::Json, "not json"),
            (SchemaType::Json, r#"{"type": 12}"#),
            (SchemaType::Protobuf, "message {"),
            (SchemaType::Protobuf, "syntax = \"proto3\";"),
        ] {
            assert!(Compiled::compile(&schema(t, text)).is_err(), "{text}");
        }
    }
}
