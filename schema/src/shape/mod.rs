//! The shape of an event's payload — its properties, their types, which
//! are required — read from either schema language into one model: a JSON
//! Schema ([`json`]) or a `.proto` file's first message ([`proto`]). The
//! typed tracking code (`codegen`) writes it out per language; the
//! pipeline types the lake's columns by it.

mod json;
pub(crate) mod names;
mod proto;

use crate::schema::SchemaType;

/// The event name (from the schema's `title` or message name, else the
/// event directory `dir_slug`) and the payload's shape of schema `text`.
pub fn read(
    schema_type: SchemaType,
    dir_slug: &str,
    text: &str,
) -> Result<(String, Object), String> {
    match schema_type {
        SchemaType::Json => json::read(dir_slug, text),
        SchemaType::Protobuf => proto::read(dir_slug, text),
    }
}

/// An object type: the properties of an event or a nested object.
#[derive(Debug, Clone)]
pub struct Object {
    /// Type name in the generated code (`OrderCompleted`, `OrderCompletedItem`).
    pub name: String,
    /// The schema's description.
    pub doc: Option<String>,
    /// Fields in schema order.
    pub fields: Vec<Field>,
    /// No keys but the fields' are allowed (JSON Schema's
    /// `additionalProperties: false`; every protobuf message).
    pub closed: bool,
}

/// One property.
#[derive(Debug, Clone)]
pub struct Field {
    /// The key on the wire (`orderId`, protobuf's JSON name).
    pub wire: String,
    /// The schema's own name for it: the JSON Schema key, or the protobuf
    /// field name (`order_id`, the key of protobuf's JSON mapping with
    /// proto names, as the pipeline reads payloads).
    pub name: String,
    /// Description and constraints, one sentence per line.
    pub doc: Vec<String>,
    /// The schema requires it.
    pub required: bool,
    /// `null` is allowed as a value.
    pub nullable: bool,
    /// Its type.
    pub ty: Type,
}

/// A property's type.
#[derive(Debug, Clone)]
pub enum Type {
    /// Text.
    String,
    /// Any number.
    Number,
    /// A whole number (64-bit in Kotlin and Swift).
    Integer,
    /// true or false.
    Boolean,
    /// One of these strings; the name is the generated enum's.
    Enum(String, Vec<String>),
    /// A list.
    Array(Box<Type>),
    /// A nested object.
    Object(Object),
    /// Keys chosen at run time, values of one type.
    Map(Box<Type>),
    /// Any JSON value (a shape the model does not type).
    Any,
}

impl Type {
    /// Whether a value of this type must be converted to what the SDK's
    /// JSON writer takes (enums to their strings, objects to maps), in
    /// Kotlin and Swift.
    pub(crate) fn converted(&self) -> bool {
        match self {
            Type::Enum(..) | Type::Object(_) => true,
            Type::Array(t) | Type::Map(t) => t.converted(),
            _ => false,
        }
    }
}

impl Object {
    /// The description's lines.
    pub(crate) fn doc_lines(&self) -> Vec<String> {
        self.doc
            .iter()
            .flat_map(|d| d.lines().map(str::to_owned))
            .collect()
    }
}
