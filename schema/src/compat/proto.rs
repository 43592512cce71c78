//! Protobuf compatibility, message by message (matched by full name):
//!
//! * a field's number changed (same name, new number);
//! * a field removed without `reserved` for its number (a later field could
//!   reuse it with another type);
//! * a field's type changed to one with another wire encoding (compatible
//!   groups: `int32 uint32 int64 uint64 bool` and enums; `sint32 sint64`;
//!   `fixed32 sfixed32`; `fixed64 sfixed64`; `string bytes`; a message
//!   type only to the same message);
//! * a field renamed (same number): the wire is fine, but Tributary
//!   converts JSON payloads by field name, so producers break;
//! * singular ↔ repeated, or moved into or out of a `oneof`;
//! * a `required` field added (proto2);
//! * a message that existed removed, an enum value removed without
//!   reservation.
//!
//! These break readers whichever side is newer, so BACKWARD and FORWARD
//! report the same violations.

use super::Violation;
use crate::compiled::compile_proto;
use prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor};

fn wire_group(kind: &Kind) -> String {
    match kind {
        Kind::Int32 | Kind::Uint32 | Kind::Int64 | Kind::Uint64 | Kind::Bool | Kind::Enum(_) => {
            "varint".into()
        }
        Kind::Sint32 | Kind::Sint64 => "zigzag".into(),
        Kind::Fixed32 | Kind::Sfixed32 => "fixed32".into(),
        Kind::Fixed64 | Kind::Sfixed64 => "fixed64".into(),
        Kind::Float => "float".into(),
        Kind::Double => "double".into(),
        Kind::String | Kind::Bytes => "length-delimited".into(),
        Kind::Message(m) => format!("message {}", m.full_name()),
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => m.full_name().to_owned(),
        Kind::Enum(e) => e.full_name().to_owned(),
        k => format!("{k:?}").to_lowercase(),
    }
}

fn reserved_number(m: &MessageDescriptor, n: u32) -> bool {
    m.reserved_ranges().any(|r| r.contains(&n))
}

fn reserved_name(m: &MessageDescriptor, name: &str) -> bool {
    m.reserved_names().any(|r| r == name)
}

fn oneof_of(f: &FieldDescriptor) -> Option<String> {
    f.containing_oneof()
        .filter(|o| !o.is_synthetic())
        .map(|o| o.name().to_owned())
}

/// Every incompatibility between two `.proto` texts.
pub fn check(old: &str, new: &str, direction: &'static str) -> Result<Vec<Violation>, String> {
    let old_pool = compile_proto(old).map_err(|e| format!("old version: {e}"))?;
    let new_pool = compile_proto(new).map_err(|e| format!("new version: {e}"))?;
    let mut out = Vec::new();
    let mut flag = |path: String, message: String| {
        out.push(Violation {
            direction,
            path,
            message,
        });
    };
    let old_file = old_pool
        .get_file_by_name("schema.proto")
        .ok_or("old version: no file")?;
    let mut messages: Vec<MessageDescriptor> = old_file.messages().collect();
    let mut i = 0;
    while i < messages.len() {
        let nested: Vec<_> = messages[i].child_messages().collect();
        messages.extend(nested.into_iter().filter(|m| !m.is_map_entry()));
        i += 1;
    }
    // The payload message is the file's first; renaming it is a change of
    // the whole contract.
    let new_file = new_pool
        .get_file_by_name("schema.proto")
        .ok_or("new version: no file")?;
    if let (Some(o), Some(n)) = (old_file.messages().next(), new_file.messages().next())
        && o.full_name() != n.full_name()
    {
        flag(
            o.full_name().to_owned(),
            format!(
                "payload message changed from {} to {}",
                o.full_name(),
                n.full_name()
            ),
        );
    }
    for om in messages {
        let name = om.full_name();
        let Some(nm) = new_pool.get_message_by_name(name) else {
            flag(name.to_owned(), "message removed".into());
            continue;
        };
        for of in om.fields() {
            let path = format!("{name}.{}", of.name());
            if let Some(nf) = nm.get_field_by_name(of.name())
                && nf.number() != of.number()
            {
                flag(
                    path,
                    format!(
                        "field number changed from {} to {}",
                        of.number(),
                        nf.number()
                    ),
                );
                continue;
            }
            let Some(nf) = nm.get_field(of.number()) else {
                if !reserved_number(&nm, of.number()) {
                    flag(
                        path,
                        format!(
                            "field {} = {} removed without `reserved {};`",
                            of.name(),
                            of.number(),
                            of.number()
                        ),
                    );
                }
                continue;
            };
            if nf.name() != of.name() {
                flag(
                    path.clone(),
                    format!(
                        "field {} renamed to {}: JSON payloads are converted by name",
                        of.name(),
                        nf.name()
                    ),
                );
            }
            let (ok, nk) = (of.kind(), nf.kind());
            if wire_group(&ok) != wire_group(&nk) {
                flag(
                    path.clone(),
                    format!("type changed from {} to {}", kind_name(&ok), kind_name(&nk)),
                );
            }
            if of.is_list() != nf.is_list() || of.is_map() != nf.is_map() {
                flag(path.clone(), "changed between singular and repeated".into());
            }
            if oneof_of(&of) != oneof_of(&nf) {
                flag(path.clone(), "moved into or out of a oneof".into());
            }
        }
        for nf in nm.fields() {
            if nf.cardinality() == Cardinality::Required && om.get_field(nf.number()).is_none() {
                flag(
                    format!("{name}.{}", nf.name()),
                    "required field added".into(),
                );
            }
            if om.get_field(nf.number()).is_none()
                && (reserved_number(&om, nf.number()) || reserved_name(&om, nf.name()))
            {
                flag(
                    format!("{name}.{}", nf.name()),
                    format!("field reuses reserved number or name ({})", nf.number()),
                );
            }
        }
    }
    for oe in old_file.enums() {
        let Some(ne) = new_pool.get_enum_by_name(oe.full_name()) else {
            flag(oe.full_name().to_owned(), "enum removed".into());
            continue;
        };
        for v in oe.values() {
            let reserved = ne.reserved_ranges().any(|r| r.contains(&v.number()));
            if ne.get_value(v.number()).is_none() && !reserved {
                flag(
                    format!("{}.{}", oe.full_name(), v.name()),
                    "enum value removed without reservation".into(),
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{Rule, check as check_rule};
    use crate::schema::{Schema, SchemaType, content_id};

    const BASE: &str = r#"
        syntax = "proto3";
        package shop;
        message OrderCompleted {
            double total = 1;
            string currency = 2;
            repeated Item items = 3;
            int32 count = 4;
            Status status = 5;
        }
        message Item { string sku = 1; int32 qty = 2; }
        enum Status { UNKNOWN = 0; PAID = 1; REFUNDED = 2; }
    "#;

    fn s(text: &str) -> Schema {
        Schema {
            id: content_id(SchemaType::Protobuf, text),
            subject: "shop.order_completed".into(),
            version: 1,
            schema_type: SchemaType::Protobuf,
            text: text.into(),
        }
    }

    /// (name, replacement applied to BASE, expected fragment or None)
    #[test]
    fn the_rule_table() {
        let cases: &[(&str, (&str, &str), Option<&str>)] = &[
            ("identical", ("", ""), None),
            (
                "add a field",
                ("int32 count = 4;", "int32 count = 4; string note = 6;"),
                None,
            ),
            (
                "remove with reservation",
                ("string currency = 2;", "reserved 2; reserved \"currency\";"),
                None,
            ),
            (
                "widen int32 to int64",
                ("int32 count = 4;", "int64 count = 4;"),
                None,
            ),
            (
                "add an enum value",
                ("REFUNDED = 2;", "REFUNDED = 2; DISPUTED = 3;"),
                None,
            ),
            (
                "remove without reservation",
                ("string currency = 2;", ""),
                Some("currency = 2 removed without `reserved 2;`"),
            ),
            (
                "change field number",
                ("string currency = 2;", "string currency = 7;"),
                Some("field number changed from 2 to 7"),
            ),
            (
                "change type across wire types",
                ("double total = 1;", "string total = 1;"),
                Some("type changed from double to string"),
            ),
            (
                "change message type",
                ("repeated Item items = 3;", "repeated string items = 3;"),
                Some("type changed from shop.Item to string"),
            ),
            (
                "singular to repeated",
                ("int32 count = 4;", "repeated int32 count = 4;"),
                Some("singular and repeated"),
            ),
            (
                "rename",
                ("string currency = 2;", "string currency_code = 2;"),
                Some("renamed to currency_code"),
            ),
            (
                "nested message field removed",
                ("int32 qty = 2;", ""),
                Some("shop.Item.qty"),
            ),
            (
                "into a oneof",
                ("int32 count = 4;", "oneof amount { int32 count = 4; }"),
                Some("oneof"),
            ),
            (
                "enum value removed",
                ("REFUNDED = 2;", ""),
                Some("enum value removed"),
            ),
            (
                "reuse a reserved number",
                (
                    "string currency = 2;",
                    "reserved 2; string currency_v2 = 2;",
                ),
                Some(""),
            ),
        ];
        for (name, (from, to), expect) in cases {
            let new = if from.is_empty() {
                BASE.to_owned()
            } else {
                BASE.replace(from, to)
            };
            let v = check_rule(Rule::Full, &s(BASE), &s(&new));
            let v = match v {
                Ok(v) => v,
                // protox itself refuses some broken edits (e.g. a reserved
                // number in use): that is a failed check too.
                Err(e) => {
                    assert!(expect.is_some(), "{name}: unexpected error {e}");
                    continue;
                }
            };
            match expect {
                None => assert!(v.is_empty(), "{name}: expected compatible, got {v:?}"),
                Some(frag) => assert!(
                    v.iter().any(|x| x.to_string().contains(frag)),
                    "{name}: expected {frag:?} in {v:?}"
                ),
            }
        }
    }
}
