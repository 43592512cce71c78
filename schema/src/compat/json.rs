//! JSON Schema compatibility: can every document valid under the *writer*
//! schema be read by the *reader* schema (is the reader's set of valid
//! documents a superset)?
//!
//! Checked keyword by keyword, recursively through `properties`,
//! `additionalProperties`, `items` and local `$ref`s:
//!
//! * `type` — the reader must allow every type the writer allows
//!   (`integer` is within `number`);
//! * `required` — a field the reader requires, the writer must require;
//! * `properties` under a closed content model (`additionalProperties:
//!   false`) — a property the writer may send, the reader must declare;
//! * `additionalProperties: false` added by the reader — narrows;
//! * `enum` / `const` — the reader must keep every writer value;
//! * bounds (`minimum`, `maximum`, `exclusive*`, `minLength`, `maxLength`,
//!   `minItems`, `maxItems`, `minProperties`, `maxProperties`) — the reader
//!   may widen them, not narrow them;
//! * `pattern`, `format`, `multipleOf` — a new or changed one narrows;
//! * combinators (`anyOf`, `oneOf`, `allOf`, `not`, `if`) — compared as a
//!   whole: any change is reported, since proving it safe is out of scope.
//!
//! One deliberate leniency: a property added to an *open* content model
//! is compatible. Confluent reports it (old data could hold any value under
//! that name), but tracking plans grow by adding optional properties, and
//! the gateway validated old data against the old schema.

use super::Violation;
use serde_json::{Map, Value};

const MAX_DEPTH: usize = 64;

struct Ctx<'a> {
    reader_root: &'a Value,
    writer_root: &'a Value,
    direction: &'static str,
    out: &'a mut Vec<Violation>,
}

impl Ctx<'_> {
    fn flag(&mut self, path: &str, message: String) {
        self.out.push(Violation {
            direction: self.direction,
            path: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
            message,
        });
    }
}

/// Appends to `out` every way in which `reader` rejects documents `writer`
/// accepts.
pub fn reader_accepts(
    reader: &Value,
    writer: &Value,
    direction: &'static str,
    out: &mut Vec<Violation>,
) {
    let mut ctx = Ctx {
        reader_root: reader,
        writer_root: writer,
        direction,
        out,
    };
    compare(&mut ctx, reader, writer, "", 0);
}

/// Follows a local `$ref` (`#/$defs/x`, `#/definitions/x`).
pub(crate) fn deref<'a>(root: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..MAX_DEPTH {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with('#') => match root.pointer(&r[1..]) {
                Some(target) => v = target,
                None => return v,
            },
            _ => return v,
        }
    }
    v
}

fn types(v: &Map<String, Value>) -> Option<Vec<&str>> {
    match v.get("type")? {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(a) => Some(a.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn required(v: &Map<String, Value>) -> Vec<&str> {
    v.get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn closed(v: &Map<String, Value>) -> bool {
    matches!(v.get("additionalProperties"), Some(Value::Bool(false)))
        || matches!(v.get("unevaluatedProperties"), Some(Value::Bool(false)))
}

fn compare(ctx: &mut Ctx<'_>, reader: &Value, writer: &Value, path: &str, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let reader = deref(ctx.reader_root, reader);
    let writer = deref(ctx.writer_root, writer);
    if reader == writer {
        return;
    }
    let (r, w) = match (reader, writer) {
        (Value::Bool(true), _) | (_, Value::Bool(false)) => return,
        (Value::Bool(false), _) => {
            ctx.flag(path, "the reader accepts nothing here".into());
            return;
        }
        (Value::Object(r), Value::Bool(true)) => {
            if r.keys().any(|k| is_assertion(k)) {
                ctx.flag(path, "constraints added where any value was allowed".into());
            }
            return;
        }
        (Value::Object(r), Value::Object(w)) => (r, w),
        _ => {
            ctx.flag(path, "schema is not an object or boolean".into());
            return;
        }
    };

    // type
    if let Some(rt) = types(r) {
        match types(w) {
            None => ctx.flag(path, format!("type narrowed from any to {rt:?}")),
            Some(wt) => {
                for t in wt {
                    let ok = rt.contains(&t) || (t == "integer" && rt.contains(&"number"));
                    if !ok {
                        ctx.flag(
                            path,
                            format!("type narrowed: {t:?} is no longer allowed (now {rt:?})"),
                        );
                    }
                }
            }
        }
    }

    // enum / const
    if let Some(re) = r.get("enum").and_then(Value::as_array) {
        match w.get("enum").and_then(Value::as_array) {
            Some(we) => {
                let removed: Vec<&Value> = we.iter().filter(|v| !re.contains(v)).collect();
                if !removed.is_empty() {
                    ctx.flag(path, format!("enum narrowed: values {removed:?} removed"));
                }
            }
            None => ctx.flag(path, "enum added where any value was allowed".into()),
        }
    }
    if let Some(rc) = r.get("const")
        && w.get("const") != Some(rc)
    {
        ctx.flag(path, format!("const {rc} added or changed"));
    }

    // bounds: (keyword, reader may only lower it)
    for (k, lower_is_wider) in [
        ("minimum", true),
        ("exclusiveMinimum", true),
        ("minLength", true),
        ("minItems", true),
        ("minProperties", true),
        ("maximum", false),
        ("exclusiveMaximum", false),
        ("maxLength", false),
        ("maxItems", false),
        ("maxProperties", false),
    ] {
        let Some(rb) = r.get(k).and_then(Value::as_f64) else {
            continue;
        };
        match w.get(k).and_then(Value::as_f64) {
            None => ctx.flag(path, format!("{k} {rb} added")),
            Some(wb) if (lower_is_wider && rb > wb) || (!lower_is_wider && rb < wb) => {
                ctx.flag(path, format!("{k} narrowed from {wb} to {rb}"));
            }
            Some(_) => {}
        }
    }
    for k in ["pattern", "format", "multipleOf"] {
        if let Some(rv) = r.get(k)
            && w.get(k) != Some(rv)
        {
            ctx.flag(path, format!("{k} {rv} added or changed"));
        }
    }
    for k in ["anyOf", "oneOf", "allOf", "not", "if", "then", "else"] {
        if r.get(k).is_some() && r.get(k) != w.get(k) {
            ctx.flag(
                path,
                format!("{k} changed; Tributary cannot prove it compatible"),
            );
        }
    }

    // required
    let wreq = required(w);
    for f in required(r) {
        if !wreq.contains(&f) {
            ctx.flag(&format!("{path}/properties/{f}"), format!("required field {f:?} may be missing: the reader requires it, the writer does not"));
        }
    }

    // properties
    let empty = Map::new();
    let rp = r
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let wp = w
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let r_additional = r.get("additionalProperties");
    for (name, ws) in wp {
        let p = format!("{path}/properties/{name}");
        match rp.get(name) {
            Some(rs) => compare(ctx, rs, ws, &p, depth + 1),
            None if closed(r) => ctx.flag(
                &p,
                format!("property {name:?} removed under a closed content model (additionalProperties: false)"),
            ),
            None => {
                if let Some(ra @ Value::Object(_)) = r_additional {
                    compare(ctx, ra, ws, &p, depth + 1);
                }
            }
        }
    }
    if closed(r) && !closed(w) {
        ctx.flag(
            path,
            "content model closed (additionalProperties: false added)".into(),
        );
    } else if let (Some(ra @ Value::Object(_)), false) = (r_additional, closed(w)) {
        let wa = w.get("additionalProperties").unwrap_or(&Value::Bool(true));
        compare(
            ctx,
            ra,
            wa,
            &format!("{path}/additionalProperties"),
            depth + 1,
        );
    }

    // items
    match (r.get("items"), w.get("items")) {
        (Some(ri), Some(wi)) => compare(ctx, ri, wi, &format!("{path}/items"), depth + 1),
        (Some(ri), None) => compare(
            ctx,
            ri,
            &Value::Bool(true),
            &format!("{path}/items"),
            depth + 1,
        ),
        _ => {}
    }
}

/// Keywords that restrict values (as opposed to annotations).
fn is_assertion(k: &str) -> bool {
    !matches!(
        k,
        "$schema"
            | "$id"
            | "$comment"
            | "title"
            | "description"
            | "default"
            | "examples"
            | "$defs"
            | "definitions"
            | "deprecated"
            | "readOnly"
            | "writeOnly"
    )
}

#[cfg(test)]
mod tests {
    use super::super::{Rule, check};
    use crate::schema::{Schema, SchemaType, content_id};
    use serde_json::json;

    fn s(v: serde_json::Value) -> Schema {
        let text = v.to_string();
        Schema {
            id: content_id(SchemaType::Json, &text),
            subject: "shop.order_completed".into(),
            version: 1,
            schema_type: SchemaType::Json,
            text,
        }
    }

    fn base() -> serde_json::Value {
        json!({
            "type": "object",
            "properties": {
                "total": {"type": "number", "minimum": 0},
                "currency": {"enum": ["EUR", "USD"]},
                "coupon": {"type": "string", "maxLength": 20},
                "items": {"type": "array", "items": {"type": "object",
                    "properties": {"sku": {"type": "string"}}}}
            },
            "required": ["total"]
        })
    }

    fn closed() -> serde_json::Value {
        let mut b = base();
        b["additionalProperties"] = json!(false);
        b
    }

    /// (name, old, new, rule, expected: None = compatible, Some(fragment of
    /// the violation))
    #[test]
    fn the_rule_table() {
        type Edit = fn(&mut serde_json::Value);
        let cases: Vec<(&str, Edit, Rule, Option<&str>)> = vec![
            ("identical", |_| {}, Rule::Full, None),
            (
                "add optional property (open model)",
                |v| {
                    v["properties"]["note"] = json!({"type": "string"});
                },
                Rule::Full,
                None,
            ),
            (
                "add required field",
                |v| {
                    v["properties"]["store"] = json!({"type": "string"});
                    v["required"] = json!(["total", "store"]);
                },
                Rule::Backward,
                Some("required field \"store\""),
            ),
            (
                "add required field is forward-compatible",
                |v| {
                    v["properties"]["store"] = json!({"type": "string"});
                    v["required"] = json!(["total", "store"]);
                },
                Rule::Forward,
                None,
            ),
            (
                "remove required",
                |v| {
                    v["required"] = json!([]);
                },
                Rule::Backward,
                None,
            ),
            (
                "remove required breaks old readers",
                |v| {
                    v["required"] = json!([]);
                },
                Rule::Forward,
                Some("required field \"total\""),
            ),
            (
                "narrow type number -> integer",
                |v| {
                    v["properties"]["total"]["type"] = json!("integer");
                },
                Rule::Backward,
                Some("\"number\" is no longer allowed"),
            ),
            (
                "widen type integer-in-number",
                |v| {
                    v["properties"]["total"]["type"] = json!(["number", "string"]);
                },
                Rule::Backward,
                None,
            ),
            (
                "change type",
                |v| {
                    v["properties"]["coupon"]["type"] = json!("integer");
                },
                Rule::Backward,
                Some("/properties/coupon"),
            ),
            (
                "remove enum value",
                |v| {
                    v["properties"]["currency"]["enum"] = json!(["EUR"]);
                },
                Rule::Backward,
                Some("enum narrowed"),
            ),
            (
                "add enum value",
                |v| {
                    v["properties"]["currency"]["enum"] = json!(["EUR", "USD", "GBP"]);
                },
                Rule::Backward,
                None,
            ),
            (
                "add enum value breaks old readers",
                |v| {
                    v["properties"]["currency"]["enum"] = json!(["EUR", "USD", "GBP"]);
                },
                Rule::Forward,
                Some("enum narrowed"),
            ),
            (
                "tighten maxLength",
                |v| {
                    v["properties"]["coupon"]["maxLength"] = json!(10);
                },
                Rule::Backward,
                Some("maxLength narrowed from 20 to 10"),
            ),
            (
                "raise minimum",
                |v| {
                    v["properties"]["total"]["minimum"] = json!(1);
                },
                Rule::Backward,
                Some("minimum narrowed"),
            ),
            (
                "add pattern",
                |v| {
                    v["properties"]["coupon"]["pattern"] = json!("^[A-Z]+$");
                },
                Rule::Backward,
                Some("pattern"),
            ),
            (
                "close the content model",
                |v| {
                    v["additionalProperties"] = json!(false);
                },
                Rule::Backward,
                Some("content model closed"),
            ),
            (
                "nested item type change",
                |v| {
                    v["properties"]["items"]["items"]["properties"]["sku"]["type"] =
                        json!("integer");
                },
                Rule::Backward,
                Some("/properties/items/items/properties/sku"),
            ),
            (
                "remove a property (open model)",
                |v| {
                    v["properties"].as_object_mut().unwrap().remove("coupon");
                },
                Rule::Full,
                None,
            ),
        ];
        for (name, edit, rule, expect) in cases {
            let old = s(base());
            let mut n = base();
            edit(&mut n);
            let v = check(rule, &old, &s(n)).unwrap();
            match expect {
                None => assert!(v.is_empty(), "{name}: expected compatible, got {v:?}"),
                Some(frag) => assert!(
                    v.iter().any(|x| x.to_string().contains(frag)),
                    "{name}: expected {frag:?} in {v:?}"
                ),
            }
        }
    }

    #[test]
    fn closed_model_rules() {
        let old = s(closed());
        let mut n = closed();
        n["properties"].as_object_mut().unwrap().remove("coupon");
        let v = check(Rule::Backward, &old, &s(n)).unwrap();
        assert!(
            v.iter()
                .any(|x| x.message.contains("removed under a closed content model")),
            "{v:?}"
        );
        // Adding a property to a closed model: old readers cannot read it.
        let mut n = closed();
        n["properties"]["note"] = json!({"type": "string"});
        let v = check(Rule::Forward, &old, &s(n.clone())).unwrap();
        assert!(v.iter().any(|x| x.path == "/properties/note"), "{v:?}");
        assert!(check(Rule::Backward, &old, &s(n)).unwrap().is_empty());
    }

    #[test]
    fn local_refs_are_followed() {
        let old = s(json!({"$defs": {"money": {"type": "number"}},
            "type": "object", "properties": {"total": {"$ref": "#/$defs/money"}}}));
        let new = s(json!({"$defs": {"money": {"type": "integer"}},
            "type": "object", "properties": {"total": {"$ref": "#/$defs/money"}}}));
        let v = check(Rule::Backward, &old, &new).unwrap();
        assert!(v.iter().any(|x| x.path == "/properties/total"), "{v:?}");
    }
}
