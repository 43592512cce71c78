//! A protobuf payload (the file's first message) read into the shape
//! model, with protobuf's JSON mapping: fields by their JSON names, every
//! field optional (proto3 has no required fields), enums by value name,
//! 64-bit integers as integers, `bytes` as base64 text, maps as maps,
//! `google.protobuf.Timestamp` as RFC 3339 text; other well-known types
//! and recursive messages untyped. Leading comments become doc comments.

use super::names::{event_name, pascal, words_of_pascal};
use super::{Field, Object, Type};
use crate::compiled::{compile_proto_file, payload_message};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

/// The event name and properties of the `.proto` `text` under `dir_slug`.
pub(super) fn read(dir_slug: &str, text: &str) -> Result<(String, Object), String> {
    let pool = compile_proto_file(text, true).map_err(|e| e.0)?;
    let (file, message) = payload_message(&pool).map_err(|e| e.0)?;
    let name = event_name(dir_slug, Some(&words_of_pascal(message.name())));
    let comments = Comments(
        file.file_descriptor_proto()
            .source_code_info
            .as_ref()
            .map(|i| i.location.as_slice())
            .unwrap_or_default(),
    );
    let mut stack = Vec::new();
    let event = pascal(&name);
    let r = Reader {
        comments,
        event: &event,
    };
    let properties = r.object(&message, &event, &mut stack);
    Ok((name, properties))
}

struct Comments<'a>(&'a [prost_reflect::prost_types::source_code_info::Location]);

/// Nested messages and enums are named `<Event><ProtoName>`, unique in the
/// generated file as proto names are in theirs.
struct Reader<'a> {
    comments: Comments<'a>,
    event: &'a str,
}

impl Comments<'_> {
    /// The leading (or else trailing) comment of the element at `path`.
    fn at(&self, path: &[i32]) -> Vec<String> {
        self.0
            .iter()
            .find(|l| l.path == path)
            .and_then(|l| {
                l.leading_comments
                    .as_deref()
                    .or(l.trailing_comments.as_deref())
            })
            .map(|c| {
                c.lines()
                    .map(|l| l.trim().to_owned())
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Reader<'_> {
    fn object(&self, m: &MessageDescriptor, name: &str, stack: &mut Vec<String>) -> Object {
        stack.push(m.full_name().to_owned());
        let fields = m
            .fields()
            .map(|f| {
                let mut doc = self.comments.at(f.path());
                if let Some(o) = f.containing_oneof().filter(|o| !o.is_synthetic()) {
                    doc.push(format!(
                        "One of `{}`: set at most one of its fields.",
                        o.name()
                    ));
                }
                let ty = self.field_type(&f, stack);
                if matches!(f.kind(), Kind::Bytes) {
                    doc.push("Base64 text (protobuf's JSON form of bytes).".into());
                }
                Field {
                    wire: f.json_name().to_owned(),
                    name: f.name().to_owned(),
                    doc,
                    required: false,
                    nullable: false,
                    ty,
                }
            })
            .collect();
        stack.pop();
        let doc = self.comments.at(m.path());
        Object {
            name: name.to_owned(),
            doc: (!doc.is_empty()).then(|| doc.join("\n")),
            fields,
            closed: true,
        }
    }

    fn field_type(&self, f: &FieldDescriptor, stack: &mut Vec<String>) -> Type {
        if f.is_map() {
            if let Kind::Message(entry) = f.kind() {
                let value = entry.map_entry_value_field().kind();
                return Type::Map(Box::new(self.kind(&value, stack)));
            }
            return Type::Map(Box::new(Type::Any));
        }
        let t = self.kind(&f.kind(), stack);
        if f.is_list() {
            Type::Array(Box::new(t))
        } else {
            t
        }
    }

    fn kind(&self, k: &Kind, stack: &mut Vec<String>) -> Type {
        match k {
            Kind::Double | Kind::Float => Type::Number,
            Kind::Int32
            | Kind::Sint32
            | Kind::Sfixed32
            | Kind::Uint32
            | Kind::Fixed32
            | Kind::Int64
            | Kind::Sint64
            | Kind::Sfixed64
            | Kind::Uint64
            | Kind::Fixed64 => Type::Integer,
            Kind::Bool => Type::Boolean,
            Kind::String | Kind::Bytes => Type::String,
            Kind::Enum(e) => Type::Enum(
                format!("{}{}", self.event, e.name()),
                e.values().map(|v| v.name().to_owned()).collect(),
            ),
            Kind::Message(m) => match m.full_name() {
                "google.protobuf.Timestamp"
                | "google.protobuf.Duration"
                | "google.protobuf.StringValue" => Type::String,
                "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => Type::Number,
                "google.protobuf.Int32Value"
                | "google.protobuf.Int64Value"
                | "google.protobuf.UInt32Value"
                | "google.protobuf.UInt64Value" => Type::Integer,
                "google.protobuf.BoolValue" => Type::Boolean,
                "google.protobuf.Struct" => Type::Map(Box::new(Type::Any)),
                n if n.starts_with("google.protobuf.") => Type::Any,
                n if stack.iter().any(|s| s == n) => Type::Any, // recursive
                _ => Type::Object(self.object(m, &format!("{}{}", self.event, m.name()), stack)),
            },
        }
    }
}
