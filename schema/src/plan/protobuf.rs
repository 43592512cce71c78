//! A protobuf message compiled into a plan that writes the wire format
//! straight from the payload's JSON text, in one walk, without building a
//! `DynamicMessage` (the dynamic tree was most of the cost of a protobuf
//! event).
//!
//! The bytes are the ones the dynamic path writes: fields in field-number
//! order, proto3 defaults left out (except for fields with presence),
//! repeated scalars packed. A unit test compares the two on generated
//! payloads. Messages with maps, real oneofs, groups, `bytes` fields,
//! well-known types or proto2 syntax get no plan; values the plan is not
//! sure of (`null`, numbers written as floats into integer fields, strings
//! into number fields, a key given twice, ...) make the walk give up, and
//! the dynamic path handles the payload, rejections included.

use prost_reflect::{Kind, MessageDescriptor, Syntax};
use tributary_contract::scan::{Reader, Token, as_f64, is_plain_integer};

/// Wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// A field's value kind, as the walk needs it.
#[derive(Debug, Clone)]
enum Scalar {
    Double,
    Float,
    Int32,
    Sint32,
    Sfixed32,
    Int64,
    Sint64,
    Sfixed64,
    Uint32,
    Fixed32,
    Uint64,
    Fixed64,
    Bool,
    String,
    /// Value names and numbers.
    Enum(Vec<(String, i32)>),
    /// Index of the message's plan.
    Message(usize),
}

impl Scalar {
    fn wire_type(&self) -> u32 {
        match self {
            Scalar::Double | Scalar::Fixed64 | Scalar::Sfixed64 => FIXED64,
            Scalar::Float | Scalar::Fixed32 | Scalar::Sfixed32 => FIXED32,
            Scalar::String | Scalar::Message(_) => LEN,
            _ => VARINT,
        }
    }
}

#[derive(Debug)]
struct Field {
    json_name: String,
    name: String,
    number: u32,
    kind: Scalar,
    repeated: bool,
    packed: bool,
    presence: bool,
}

#[derive(Debug, Default)]
struct Message {
    fields: Vec<Field>,
}

impl Message {
    /// prost-reflect looks a key up by JSON name first, then by name.
    fn field(&self, key: &str) -> Option<(usize, &Field)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.json_name == key)
            .or_else(|| self.fields.iter().enumerate().find(|(_, f)| f.name == key))
    }
}

/// The plan of a payload message and every message it contains.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The root first.
    messages: Vec<Message>,
}

/// Most fields a planned message may have (seen-fields are a u64) and most
/// fields one object may set before the walk gives up (spans on the stack).
const MAX_FIELDS: usize = 64;
const MAX_SET: usize = 32;

impl Plan {
    /// The plan of `root`, or `None` when it uses what is not planned.
    pub(crate) fn compile(root: &MessageDescriptor) -> Option<Plan> {
        if root.parent_file().syntax() != Syntax::Proto3 {
            return None;
        }
        let mut plan = Plan {
            messages: Vec::new(),
        };
        let mut names = vec![root.full_name().to_owned()];
        // First in, first out: a message's plan index is its place in
        // `names`, so plans are built in the order messages are found.
        let mut queue = std::collections::VecDeque::from([root.clone()]);
        while let Some(desc) = queue.pop_front() {
            let mut message = Message::default();
            if desc.fields().len() > MAX_FIELDS || desc.full_name().starts_with("google.protobuf.")
            {
                return None;
            }
            for f in desc.fields() {
                if f.is_map() || f.is_group() {
                    return None;
                }
                if f.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
                    return None;
                }
                let kind = match f.kind() {
                    Kind::Double => Scalar::Double,
                    Kind::Float => Scalar::Float,
                    Kind::Int32 => Scalar::Int32,
                    Kind::Sint32 => Scalar::Sint32,
                    Kind::Sfixed32 => Scalar::Sfixed32,
                    Kind::Int64 => Scalar::Int64,
                    Kind::Sint64 => Scalar::Sint64,
                    Kind::Sfixed64 => Scalar::Sfixed64,
                    Kind::Uint32 => Scalar::Uint32,
                    Kind::Fixed32 => Scalar::Fixed32,
                    Kind::Uint64 => Scalar::Uint64,
                    Kind::Fixed64 => Scalar::Fixed64,
                    Kind::Bool => Scalar::Bool,
                    Kind::String => Scalar::String,
                    Kind::Bytes => return None,
                    Kind::Enum(e) => Scalar::Enum(
                        e.values()
                            .map(|v| (v.name().to_owned(), v.number()))
                            .collect(),
                    ),
                    Kind::Message(m) => {
                        let index = match names.iter().position(|n| n == m.full_name()) {
                            Some(i) => i,
                            None => {
                                names.push(m.full_name().to_owned());
                                queue.push_back(m.clone());
                                names.len() - 1
                            }
                        };
                        Scalar::Message(index)
                    }
                };
                message.fields.push(Field {
                    json_name: f.json_name().to_owned(),
                    name: f.name().to_owned(),
                    number: f.number(),
                    kind,
                    repeated: f.is_list(),
                    packed: f.is_packed(),
                    presence: f.supports_presence(),
                });
            }
            plan.messages.push(message);
        }
        Some(plan)
    }

    /// Appends the root message's wire bytes for `payload` to `out`, or
    /// returns `None` (with `out` as it was) when the walk is not sure.
    pub(crate) fn encode(&self, payload: &str, out: &mut Vec<u8>) -> Option<()> {
        let start = out.len();
        let mut r = Reader::new(payload);
        let done = match r.value() {
            Some(Token::Object) => self.message(0, &mut r, out).filter(|()| r.at_end()),
            _ => None,
        };
        if done.is_none() {
            out.truncate(start);
        }
        done
    }

    fn message(&self, index: usize, r: &mut Reader<'_>, out: &mut Vec<u8>) -> Option<()> {
        let message = self.messages.get(index)?;
        let start = out.len();
        // (field number, start, end) of what each field wrote, to put the
        // fields in number order at the end.
        let mut spans = [(0u32, 0usize, 0usize); MAX_SET];
        let mut set = 0usize;
        let mut sorted = true;
        let mut seen = 0u64;
        let mut first = true;
        while let Some(key) = r.next_key(&mut first)? {
            let key = key.decode()?;
            let (i, field) = message.field(&key)?;
            if seen & (1 << i) != 0 {
                return None;
            }
            seen |= 1 << i;
            let from = out.len();
            if field.repeated {
                self.list(field, r, out)?;
            } else {
                let token = r.value()?;
                self.singular(field, token, r, out)?;
            }
            if out.len() > from {
                if set == MAX_SET {
                    return None;
                }
                if set > 0 && spans[set - 1].0 > field.number {
                    sorted = false;
                }
                spans[set] = (field.number, from, out.len());
                set += 1;
            }
        }
        if !sorted {
            let written = out.split_off(start);
            let spans = &mut spans[..set];
            spans.sort_by_key(|s| s.0);
            for &(_, from, to) in spans.iter() {
                out.extend_from_slice(written.get(from - start..to - start)?);
            }
        }
        Some(())
    }

    fn singular<'a>(
        &self,
        field: &Field,
        token: Token<'a>,
        r: &mut Reader<'a>,
        out: &mut Vec<u8>,
    ) -> Option<()> {
        let from = out.len();
        tag(field.number, field.kind.wire_type(), out);
        let default = self.value(&field.kind, token, r, out)?;
        if default && !field.presence {
            out.truncate(from);
        }
        Some(())
    }

    fn list(&self, field: &Field, r: &mut Reader<'_>, out: &mut Vec<u8>) -> Option<()> {
        if !matches!(r.value()?, Token::Array) {
            return None;
        }
        let mut first = true;
        if field.packed {
            let from = out.len();
            tag(field.number, LEN, out);
            let body = out.len();
            while r.next_element(&mut first)? {
                let token = r.value()?;
                self.value(&field.kind, token, r, out)?;
            }
            if out.len() == body {
                out.truncate(from);
            } else {
                prefix_length(out, body);
            }
            return Some(());
        }
        while r.next_element(&mut first)? {
            let token = r.value()?;
            tag(field.number, field.kind.wire_type(), out);
            self.value(&field.kind, token, r, out)?;
        }
        Some(())
    }

    /// Writes one value (without its tag); returns whether it is the
    /// kind's default, which a field without presence leaves out.
    fn value<'a>(
        &self,
        kind: &Scalar,
        token: Token<'a>,
        r: &mut Reader<'a>,
        out: &mut Vec<u8>,
    ) -> Option<bool> {
        match (kind, token) {
            (Scalar::Message(index), Token::Object) => {
                let body = out.len();
                self.message(*index, r, out)?;
                prefix_length(out, body);
                Some(false)
            }
            (Scalar::String, Token::Str(s)) => {
                let text = s.decode()?;
                varint(text.len() as u64, out);
                out.extend_from_slice(text.as_bytes());
                Some(text.is_empty())
            }
            (Scalar::Bool, Token::Bool(b)) => {
                out.push(u8::from(b));
                Some(!b)
            }
            (Scalar::Enum(values), Token::Str(s)) => {
                let name = s.decode()?;
                let n = values.iter().find(|(v, _)| *v == *name)?.1;
                varint(n as i64 as u64, out);
                Some(n == 0)
            }
            (Scalar::Enum(_), Token::Num(lit)) => {
                let n: i32 = integer(lit)?;
                varint(n as i64 as u64, out);
                Some(n == 0)
            }
            (Scalar::Double, Token::Num(lit)) => {
                let v = as_f64(lit)?;
                // -0.0 equals the default but is not written as one by
                // every encoder: leave it to the dynamic path.
                if v == 0.0 && v.is_sign_negative() {
                    return None;
                }
                out.extend_from_slice(&v.to_le_bytes());
                Some(v == 0.0)
            }
            (Scalar::Float, Token::Num(lit)) => {
                // An integer rounds to f32 directly in the dynamic path but
                // through f64 here: the same only for short ones.
                if is_plain_integer(lit) && lit.len() > 7 {
                    return None;
                }
                let v = as_f64(lit)?;
                if v < f64::from(f32::MIN)
                    || v > f64::from(f32::MAX)
                    || (v == 0.0 && v.is_sign_negative())
                {
                    return None;
                }
                let f = v as f32;
                out.extend_from_slice(&f.to_le_bytes());
                Some(f == 0.0)
            }
            (kind, Token::Num(lit)) => self.integer_text(kind, lit, out),
            // A decimal string for an integer field (the JSON mapping of
            // 64-bit integers); other kinds refuse it in integer_text.
            (kind, Token::Str(s)) => self.integer_text(kind, &s.decode()?, out),
            _ => None,
        }
    }

    fn integer_text(&self, kind: &Scalar, text: &str, out: &mut Vec<u8>) -> Option<bool> {
        if !is_plain_integer(text) {
            return None;
        }
        let zero = match kind {
            Scalar::Int32 => {
                let v: i32 = integer(text)?;
                varint(v as i64 as u64, out);
                v == 0
            }
            Scalar::Sint32 => {
                let v: i32 = integer(text)?;
                varint(u64::from(((v << 1) ^ (v >> 31)) as u32), out);
                v == 0
            }
            Scalar::Sfixed32 => {
                let v: i32 = integer(text)?;
                out.extend_from_slice(&v.to_le_bytes());
                v == 0
            }
            Scalar::Int64 => {
                let v: i64 = integer(text)?;
                varint(v as u64, out);
                v == 0
            }
            Scalar::Sint64 => {
                let v: i64 = integer(text)?;
                varint(((v << 1) ^ (v >> 63)) as u64, out);
                v == 0
            }
            Scalar::Sfixed64 => {
                let v: i64 = integer(text)?;
                out.extend_from_slice(&v.to_le_bytes());
                v == 0
            }
            Scalar::Uint32 => {
                let v: u32 = integer(text)?;
                varint(u64::from(v), out);
                v == 0
            }
            Scalar::Fixed32 => {
                let v: u32 = integer(text)?;
                out.extend_from_slice(&v.to_le_bytes());
                v == 0
            }
            Scalar::Uint64 => {
                let v: u64 = integer(text)?;
                varint(v, out);
                v == 0
            }
            Scalar::Fixed64 => {
                let v: u64 = integer(text)?;
                out.extend_from_slice(&v.to_le_bytes());
                v == 0
            }
            _ => return None,
        };
        Some(zero)
    }
}

/// A plain integer literal in the target type's range.
fn integer<T: std::str::FromStr>(text: &str) -> Option<T> {
    if !is_plain_integer(text) || text.starts_with('+') {
        return None;
    }
    text.parse().ok()
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn tag(number: u32, wire_type: u32, out: &mut Vec<u8>) {
    varint(u64::from((number << 3) | wire_type), out);
}

/// Puts the length of `out[body..]` in front of it as a varint.
fn prefix_length(out: &mut Vec<u8>, body: usize) {
    let len = (out.len() - body) as u64;
    if len < 0x80 {
        out.insert(body, len as u8);
        return;
    }
    let mut prefix = Vec::with_capacity(10);
    varint(len, &mut prefix);
    out.splice(body..body, prefix);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiled::compile_proto;
    use prost::Message as _;
    use prost_reflect::DynamicMessage;

    const PROTO: &str = r#"
        syntax = "proto3";
        package t;
        message Root {
            string cart_id = 1;
            double value = 2;
            repeated Item items = 4;
            int64 item_count = 5;
            int32 small = 3;
            bool flag = 6;
            Colour colour = 7;
            repeated int32 counts = 8;
            optional int32 maybe = 9;
            sint64 delta = 10;
            uint64 big = 11;
            float ratio = 12;
            fixed32 f32 = 13;
            sfixed64 sf64 = 14;
            repeated string tags = 15;
            Item main = 16;
        }
        message Item { string sku = 1; int32 quantity = 2; double price = 3; }
        enum Colour { NONE = 0; RED = 1; BLUE = -2; }
    "#;

    fn root() -> MessageDescriptor {
        compile_proto(PROTO)
            .unwrap()
            .get_message_by_name("t.Root")
            .unwrap()
    }

    fn dynamic(desc: &MessageDescriptor, payload: &str) -> Option<Vec<u8>> {
        let mut de = serde_json::Deserializer::from_str(payload);
        let msg: DynamicMessage =
            serde::de::DeserializeSeed::deserialize(desc.clone(), &mut de).ok()?;
        de.end().ok()?;
        Some(msg.encode_to_vec())
    }

    fn payloads() -> Vec<String> {
        let values = [
            (
                "cartId",
                vec![r#""c-1""#, r#""""#, r#""é\"\u0041""#, "1", "null"],
            ),
            ("value", vec!["0", "12.5", "-0.0", "1e3", "3", r#""1.5""#]),
            (
                "items",
                vec![
                    "[]",
                    r#"[{"sku":"a","quantity":2},{}]"#,
                    r#"[{"price":1.25,"sku":"b"}]"#,
                    "{}",
                ],
            ),
            (
                "itemCount",
                vec!["0", "2", r#""9007199254740993""#, "-1", "1.0", "1e2"],
            ),
            ("small", vec!["-1", "2147483648", "7", r#""-5""#]),
            ("flag", vec!["true", "false", r#""true""#]),
            (
                "colour",
                vec![r#""RED""#, r#""BLUE""#, "1", r#""GREEN""#, "0"],
            ),
            ("counts", vec!["[1,0,-3,300]", "[]", "[1.5]"]),
            ("maybe", vec!["0", "5"]),
            ("delta", vec!["-3", "0", "64"]),
            ("big", vec!["18446744073709551615", "-1"]),
            ("ratio", vec!["0.1", "1e39", "2"]),
            ("f32", vec!["7", "0"]),
            ("sf64", vec!["-7", "0"]),
            ("tags", vec![r#"["a",""]"#, "[]"]),
            ("main", vec!["{}", r#"{"sku":"x"}"#]),
            ("cart_id", vec![r#""by-name""#]),
            ("unknown", vec!["1"]),
        ];
        let mut out = vec!["{}".to_owned()];
        // Each value alone, then in pairs in both orders (so fields come
        // out of number order).
        for (k, vs) in &values {
            for v in vs {
                out.push(format!(r#"{{"{k}":{v}}}"#));
            }
        }
        for (i, (k1, v1)) in values.iter().enumerate() {
            for (k2, v2) in values.iter().skip(i + 1) {
                for a in v1.iter().take(3) {
                    for b in v2.iter().take(3) {
                        out.push(format!(r#"{{"{k1}":{a},"{k2}":{b}}}"#));
                        out.push(format!(r#"{{"{k2}":{b}, "{k1}":{a}}}"#));
                    }
                }
            }
        }
        out.push(r#"{"cartId":"a","cart_id":"b"}"#.into());
        out.push(r#"{"small":1,"small":2}"#.into());
        out
    }

    #[test]
    fn the_plan_writes_the_bytes_the_dynamic_path_writes() {
        let desc = root();
        let plan = Plan::compile(&desc).expect("planned");
        let (mut planned, mut total) = (0, 0);
        for p in payloads() {
            let expected = dynamic(&desc, &p);
            let mut out = vec![9];
            let got = plan.encode(&p, &mut out);
            total += usize::from(expected.is_some());
            match got {
                Some(()) => {
                    planned += 1;
                    assert_eq!(Some(&out[1..]), expected.as_deref(), "{p}");
                }
                None => assert_eq!(out, [9], "{p}: a walk that gave up wrote nothing"),
            }
        }
        // Most valid payloads must take the plan.
        assert!(planned * 10 >= total * 7, "planned {planned} of {total}");
    }

    #[test]
    fn messages_the_plan_does_not_cover_are_left_to_the_dynamic_path() {
        for proto in [
            "syntax = \"proto3\"; message A { map<string, int32> m = 1; }",
            "syntax = \"proto3\"; message A { oneof o { int32 a = 1; string b = 2; } }",
            "syntax = \"proto3\"; message A { bytes b = 1; }",
            "syntax = \"proto3\"; import \"google/protobuf/timestamp.proto\"; message A { google.protobuf.Timestamp t = 1; }",
            "syntax = \"proto2\"; message A { optional int32 a = 1; }",
        ] {
            let pool = compile_proto(proto).unwrap();
            let a = pool.get_message_by_name("A").unwrap();
            assert!(Plan::compile(&a).is_none(), "{proto}");
        }
    }
}
