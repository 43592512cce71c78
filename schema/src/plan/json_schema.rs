//! A JSON Schema compiled into a plan the payload's text can be checked
//! against in one walk, without building a `serde_json::Value` tree (the
//! tree and the general validator were about half of the gateway's work
//! per validated event).
//!
//! Only the keywords event schemas use are planned: `type`, `properties`,
//! `required`, `additionalProperties`, `enum` of strings, `minimum`,
//! `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minLength`,
//! `maxLength`, `items`, `minItems`, `maxItems`, and the annotations. A
//! schema with any other keyword gets no plan and is always checked by the
//! general validator. The walk answers only "valid for sure"; anything
//! else (invalid, or a value it is not sure of) goes to the general
//! validator, which then names the pointer and rule. So a plan can make
//! the check cheaper but can never change its verdict or its rejection.

use serde_json::{Map, Value};
use tributary_contract::scan::{JsonStr, Reader, Token, as_f64, is_plain_integer};

/// Keywords that never affect validity.
const ANNOTATIONS: [&str; 10] = [
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// JSON types as bits of [`Node::types`].
const NULL: u8 = 1;
const BOOLEAN: u8 = 2;
const OBJECT: u8 = 4;
const ARRAY: u8 = 8;
const NUMBER: u8 = 16;
const INTEGER: u8 = 32;
const STRING: u8 = 64;

/// What members not named in `properties` may be.
#[derive(Debug)]
enum Additional {
    Any,
    Forbidden,
    Schema(Box<Node>),
}

/// One (sub)schema's checks.
#[derive(Debug)]
pub(crate) struct Node {
    /// Allowed types; 0 for any.
    types: u8,
    /// The schema `false`: nothing is valid.
    never: bool,
    properties: Vec<(String, Node)>,
    required: Vec<String>,
    additional: Additional,
    enum_strings: Option<Vec<String>>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    items: Option<Box<Node>>,
    min_items: Option<u64>,
    max_items: Option<u64>,
}

/// Integers past this are compared inexactly as `f64`: not planned.
const EXACT_F64: f64 = 9_007_199_254_740_992.0;

fn limit(v: &Value) -> Option<f64> {
    let f = v.as_f64()?;
    (f.abs() <= EXACT_F64).then_some(f)
}

fn type_bit(name: &str) -> Option<u8> {
    Some(match name {
        "null" => NULL,
        "boolean" => BOOLEAN,
        "object" => OBJECT,
        "array" => ARRAY,
        "number" => NUMBER,
        "integer" => INTEGER,
        "string" => STRING,
        _ => return None,
    })
}

impl Node {
    /// The plan of a schema, or `None` when it uses a keyword (or a form
    /// of one) that is not planned.
    pub(crate) fn compile(schema: &Value) -> Option<Node> {
        let mut node = Node {
            types: 0,
            never: false,
            properties: Vec::new(),
            required: Vec::new(),
            additional: Additional::Any,
            enum_strings: None,
            minimum: None,
            maximum: None,
            exclusive_minimum: None,
            exclusive_maximum: None,
            min_length: None,
            max_length: None,
            items: None,
            min_items: None,
            max_items: None,
        };
        let map: &Map<String, Value> = match schema {
            Value::Bool(b) => {
                node.never = !b;
                return Some(node);
            }
            Value::Object(m) => m,
            _ => return None,
        };
        for (key, v) in map {
            match key.as_str() {
                "type" => {
                    node.types = match v {
                        Value::String(s) => type_bit(s)?,
                        Value::Array(list) => list
                            .iter()
                            .try_fold(0, |bits, t| Some(bits | type_bit(t.as_str()?)?))?,
                        _ => return None,
                    };
                }
                "properties" => {
                    for (name, sub) in v.as_object()? {
                        node.properties.push((name.clone(), Node::compile(sub)?));
                    }
                }
                "required" => {
                    for name in v.as_array()? {
                        node.required.push(name.as_str()?.to_owned());
                    }
                    // The walk keeps the required names it has seen in a u64.
                    if node.required.len() > 64 {
                        return None;
                    }
                }
                "additionalProperties" => {
                    node.additional = match v {
                        Value::Bool(true) => Additional::Any,
                        Value::Bool(false) => Additional::Forbidden,
                        other => Additional::Schema(Box::new(Node::compile(other)?)),
                    };
                }
                "enum" => {
                    let list = v.as_array()?;
                    let strings = list
                        .iter()
                        .map(|s| s.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()?;
                    node.enum_strings = Some(strings);
                }
                "minimum" => node.minimum = Some(limit(v)?),
                "maximum" => node.maximum = Some(limit(v)?),
                "exclusiveMinimum" => node.exclusive_minimum = Some(limit(v)?),
                "exclusiveMaximum" => node.exclusive_maximum = Some(limit(v)?),
                "minLength" => node.min_length = Some(v.as_u64()?),
                "maxLength" => node.max_length = Some(v.as_u64()?),
                "minItems" => node.min_items = Some(v.as_u64()?),
                "maxItems" => node.max_items = Some(v.as_u64()?),
                "items" => node.items = Some(Box::new(Node::compile(v)?)),
                k if ANNOTATIONS.contains(&k) => {}
                _ => return None,
            }
        }
        Some(node)
    }

    /// Whether `payload` is valid for sure. `false` means "invalid or not
    /// sure": ask the general validator.
    pub(crate) fn accepts(&self, payload: &str) -> bool {
        let mut r = Reader::new(payload);
        r.value()
            .and_then(|t| self.walk(&mut r, t))
            .is_some_and(|()| r.at_end())
    }

    fn allows(&self, bit: u8) -> Option<()> {
        (self.types == 0 || self.types & bit != 0).then_some(())
    }

    fn walk<'a>(&self, r: &mut Reader<'a>, token: Token<'a>) -> Option<()> {
        if self.never {
            return None;
        }
        match token {
            Token::Null => self.allows(NULL).and(self.no_enum()),
            Token::Bool(_) => self.allows(BOOLEAN).and(self.no_enum()),
            Token::Num(lit) => self.number(lit),
            Token::Str(s) => self.string(s),
            Token::Array => self.array(r),
            Token::Object => self.object(r),
        }
    }

    fn no_enum(&self) -> Option<()> {
        self.enum_strings.is_none().then_some(())
    }

    fn number(&self, literal: &str) -> Option<()> {
        self.no_enum()?;
        let integral = is_plain_integer(literal);
        // Long integers lose digits as f64; the general validator is exact.
        if integral && literal.trim_start_matches('-').len() > 15 {
            return None;
        }
        let v = as_f64(literal)?;
        let is_integer = integral || v.fract() == 0.0;
        if self.types != 0 && self.types & NUMBER == 0 {
            (is_integer && self.types & INTEGER != 0).then_some(())?;
        }
        let ok = self.minimum.is_none_or(|m| v >= m)
            && self.maximum.is_none_or(|m| v <= m)
            && self.exclusive_minimum.is_none_or(|m| v > m)
            && self.exclusive_maximum.is_none_or(|m| v < m);
        ok.then_some(())
    }

    fn string(&self, s: JsonStr<'_>) -> Option<()> {
        self.allows(STRING)?;
        if self.enum_strings.is_none() && self.min_length.is_none() && self.max_length.is_none() {
            return Some(());
        }
        let text = s.decode()?;
        if let Some(list) = &self.enum_strings
            && !list.iter().any(|e| *e == *text)
        {
            return None;
        }
        if self.min_length.is_some() || self.max_length.is_some() {
            let chars = text.chars().count() as u64;
            let ok = self.min_length.is_none_or(|m| chars >= m)
                && self.max_length.is_none_or(|m| chars <= m);
            ok.then_some(())?;
        }
        Some(())
    }

    fn array<'a>(&self, r: &mut Reader<'a>) -> Option<()> {
        self.allows(ARRAY).and(self.no_enum())?;
        let mut first = true;
        let mut count = 0u64;
        while r.next_element(&mut first)? {
            let t = r.value()?;
            match &self.items {
                Some(item) => item.walk(r, t)?,
                None => r.skip(t)?,
            }
            count += 1;
        }
        let ok =
            self.min_items.is_none_or(|m| count >= m) && self.max_items.is_none_or(|m| count <= m);
        ok.then_some(())
    }

    fn object<'a>(&self, r: &mut Reader<'a>) -> Option<()> {
        self.allows(OBJECT).and(self.no_enum())?;
        let mut first = true;
        let mut seen = 0u64;
        // A repeated key is checked every time it appears, which is
        // stricter than the last-one-wins reading of the general validator:
        // "valid for sure" still holds.
        while let Some(key) = r.next_key(&mut first)? {
            let key = key.decode()?;
            let t = r.value()?;
            match self.properties.iter().find(|(name, _)| *name == *key) {
                Some((_, sub)) => sub.walk(r, t)?,
                None => match &self.additional {
                    Additional::Any => r.skip(t)?,
                    Additional::Forbidden => return None,
                    Additional::Schema(sub) => sub.walk(r, t)?,
                },
            }
            if let Some(i) = self.required.iter().position(|n| *n == *key) {
                seen |= 1 << i;
            }
        }
        let all = if self.required.len() == 64 {
            u64::MAX
        } else {
            (1u64 << self.required.len()) - 1
        };
        (seen == all).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn general(schema: &Value) -> jsonschema::Validator {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(schema)
            .unwrap()
    }

    /// Payloads built from a small grammar: every combination the schemas
    /// below care about, valid and not.
    fn payloads() -> Vec<String> {
        let scalars = [
            "null",
            "true",
            "0",
            "-1",
            "1.0",
            "1.5",
            "2e2",
            "-0",
            "12.5",
            "1e400",
            "123456789012345678",
            r#""""#,
            r#""EUR""#,
            r#""E\u0055R""#,
            r#""ab""#,
            r#""héé""#,
            r#""x""#,
            "[]",
            "{}",
        ];
        let mut out = Vec::new();
        for a in scalars {
            out.push(a.to_owned());
            for b in scalars {
                out.push(format!(r#"{{"orderId":{a},"total":{b}}}"#));
                out.push(format!(r#"{{"orderId":"o","total":1,"currency":{a}}}"#));
                out.push(format!(
                    r#"{{"orderId":"o","total":1,"items":[{{"sku":{a},"quantity":{b}}}]}}"#
                ));
                out.push(format!(r#"{{"orderId":"o","total":{a},"extra":{b}}}"#));
                out.push(format!(r#"[{a},{b}]"#));
            }
        }
        out.push(r#"{"orderId":"o","orderId":"p","total":1}"#.into());
        out.push(r#"{"total":1}"#.into());
        out.push(r#" { "orderId" : "o" , "total" : 1 } "#.into());
        out
    }

    #[test]
    fn the_plan_never_accepts_what_the_general_validator_refuses() {
        let schemas = [
            json!({"type":"object","properties":{
                "orderId":{"type":"string","minLength":1},
                "total":{"type":"number","minimum":0},
                "currency":{"enum":["EUR","USD","GBP"]},
                "items":{"type":"array","maxItems":2,"items":{"type":"object",
                    "properties":{"sku":{"type":"string","maxLength":2},
                        "quantity":{"type":"integer","exclusiveMinimum":0}},
                    "required":["sku"]}}},
                "required":["orderId","total"]}),
            json!({"type":"object","additionalProperties":false,
                "properties":{"orderId":{"type":["string","integer"]},"total":{"type":"integer","maximum":100}}}),
            json!({"type":["array","null","boolean"],"items":{"type":"number","exclusiveMaximum":2},"minItems":1}),
            json!({"additionalProperties":{"type":"string"}}),
            json!(true),
            json!(false),
        ];
        let payloads = payloads();
        for schema in &schemas {
            let plan = Node::compile(schema).expect("planned");
            let validator = general(schema);
            for p in &payloads {
                let Ok(value) = serde_json::from_str::<Value>(p) else {
                    assert!(!plan.accepts(p), "{p} is not JSON for serde_json");
                    continue;
                };
                let valid = validator.is_valid(&value);
                if plan.accepts(p) {
                    assert!(valid, "{schema}: plan accepted {p}");
                } else {
                    // The plan must carry every valid payload but those
                    // with integers too long for f64, which it leaves to
                    // the general validator by design.
                    assert!(
                        !valid || p.contains("123456789012345678"),
                        "{schema}: plan refused valid {p}"
                    );
                }
            }
        }
    }

    #[test]
    fn unplanned_keywords_leave_the_schema_to_the_general_validator() {
        for schema in [
            json!({"$ref":"#/$defs/a"}),
            json!({"anyOf":[{"type":"string"}]}),
            json!({"type":"string","format":"email"}),
            json!({"type":"string","pattern":"^a"}),
            json!({"enum":[1,2]}),
            json!({"items":[{"type":"string"}]}),
            json!({"properties":{"a":{"const":1}}}),
        ] {
            assert!(Node::compile(&schema).is_none(), "{schema}");
        }
    }
}
