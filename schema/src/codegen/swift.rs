//! Swift for the iOS SDK: a `String` enum per enum, a struct per nested
//! object (with `json`), and an enum namespace with one static function
//! per event whose parameters are the event's properties (optional ones
//! defaulting to nil), calling `Tributary.track`. Generated and checked
//! for drift here; no Swift toolchain compiles it on these machines.

use super::{Event, Field, Object, Type, enums, function_doc, objects, required_first};
use crate::shape::names::{camel, cases, pascal};
use std::fmt::Write;

const KEYWORDS: [&str; 30] = [
    "associatedtype",
    "break",
    "case",
    "catch",
    "class",
    "continue",
    "default",
    "defer",
    "do",
    "else",
    "enum",
    "extension",
    "false",
    "for",
    "func",
    "if",
    "import",
    "in",
    "init",
    "is",
    "let",
    "nil",
    "protocol",
    "repeat",
    "return",
    "self",
    "static",
    "struct",
    "switch",
    "true",
];

pub(super) fn write(header: &str, app: &str, events: &[Event]) -> String {
    let mut out = String::new();
    for l in header.lines() {
        let _ = writeln!(out, "// {l}");
    }
    out.push_str("\nimport Foundation\nimport Tributary\n");
    for e in events {
        for (name, values) in enums(&e.properties) {
            let _ = write!(out, "\npublic enum {name}: String {{\n");
            for (c, v) in cases(values, camel).iter().zip(values) {
                let _ = writeln!(out, "    case {} = {}", ident(c), quote(v));
            }
            out.push_str("}\n");
        }
        for o in objects(&e.properties).into_iter().skip(1) {
            out.push('\n');
            let doc = o.doc_lines();
            doc_lines(&mut out, "", &doc);
            structure(&mut out, o);
        }
    }
    let _ = write!(
        out,
        "\n/// Typed tracking calls of app `{app}`: one function per event, each sending it with `Tributary.track`.\npublic enum {}Tracking {{\n",
        pascal(app)
    );
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let params = required_first(&e.properties.fields);
        let doc = function_doc(e, &params, |f| {
            format!("- Parameter {}: {}", camel(&f.wire), f.doc.join(" "))
        });
        doc_lines(&mut out, "    ", &doc);
        let list: Vec<String> = params.iter().map(|f| param(f)).collect();
        let _ = writeln!(
            out,
            "    public static func {}({}) {{",
            ident(&camel(&e.name)),
            list.join(", ")
        );
        out.push_str("        var p: [String: Any] = [:]\n");
        sets(&mut out, "        ", &e.properties.fields);
        let _ = writeln!(
            out,
            "        Tributary.track({}, p)\n    }}",
            quote(&e.name)
        );
    }
    out.push_str("}\n");
    out
}

fn structure(out: &mut String, o: &Object) {
    let _ = writeln!(out, "public struct {} {{", o.name);
    let fields = required_first(&o.fields);
    for f in &fields {
        doc_lines(out, "    ", &f.doc);
        let _ = writeln!(
            out,
            "    public var {}: {}",
            ident(&camel(&f.wire)),
            field_type(f)
        );
    }
    let list: Vec<String> = fields.iter().map(|f| param(f)).collect();
    let _ = writeln!(out, "\n    public init({}) {{", list.join(", "));
    for f in &fields {
        let n = camel(&f.wire);
        let _ = writeln!(out, "        self.{} = {}", ident(&n), ident(&n));
    }
    out.push_str("    }\n\n    /// The JSON object the SDK sends.\n    public var json: [String: Any] {\n        var p: [String: Any] = [:]\n");
    sets(out, "        ", &o.fields);
    out.push_str("        return p\n    }\n}\n");
}

fn field_type(f: &Field) -> String {
    let t = ty(&f.ty);
    if f.required && !f.nullable {
        t
    } else {
        format!("{t}?")
    }
}

fn param(f: &Field) -> String {
    let n = ident(&camel(&f.wire));
    if f.required {
        format!("{n}: {}", field_type(f))
    } else {
        format!("{n}: {} = nil", field_type(f))
    }
}

/// Assignments of `fields` into `p`, leaving out nil ones (`NSNull()` for
/// a required nullable property).
fn sets(out: &mut String, indent: &str, fields: &[Field]) {
    for f in fields {
        let v = ident(&camel(&f.wire));
        let key = quote(&f.wire);
        if f.required && !f.nullable {
            let _ = writeln!(out, "{indent}p[{key}] = {}", conv(&v, &f.ty));
        } else if f.required {
            let _ = writeln!(
                out,
                "{indent}p[{key}] = {v}.map {{ {} }} ?? NSNull()",
                conv("$0", &f.ty)
            );
        } else {
            let _ = writeln!(
                out,
                "{indent}if let v = {v} {{ p[{key}] = {} }}",
                conv("v", &f.ty)
            );
        }
    }
}

fn conv(v: &str, t: &Type) -> String {
    match t {
        Type::Enum(..) => format!("{v}.rawValue"),
        Type::Object(_) => format!("{v}.json"),
        Type::Array(t) if t.converted() => format!("{v}.map {{ {} }}", conv("$0", t)),
        Type::Map(t) if t.converted() => format!("{v}.mapValues {{ {} }}", conv("$0", t)),
        _ => v.to_owned(),
    }
}

fn ty(t: &Type) -> String {
    match t {
        Type::String => "String".into(),
        Type::Number => "Double".into(),
        Type::Integer => "Int64".into(),
        Type::Boolean => "Bool".into(),
        Type::Enum(name, _) => name.clone(),
        Type::Object(o) => o.name.clone(),
        Type::Array(t) => format!("[{}]", ty(t)),
        Type::Map(t) => format!("[String: {}]", ty(t)),
        Type::Any => "Any".into(),
    }
}

fn ident(n: &str) -> String {
    if KEYWORDS.contains(&n) {
        format!("`{n}`")
    } else {
        n.to_owned()
    }
}

fn quote(s: &str) -> String {
    // A JSON string is a Swift string once `\(` cannot interpolate.
    serde_json::Value::String(s.to_owned()).to_string()
}

fn doc_lines(out: &mut String, indent: &str, lines: &[String]) {
    for l in lines {
        let _ = if l.is_empty() {
            writeln!(out, "{indent}///")
        } else {
            writeln!(out, "{indent}/// {l}")
        };
    }
}
