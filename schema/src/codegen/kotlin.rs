//! Kotlin for the Android / JVM SDK: an enum class per enum (with its wire
//! value), a data class per nested object (with `toMap()`), and an object
//! with one function per event whose parameters are the event's properties
//! (required first, optional ones defaulting to null), calling
//! `Tributary.track`. A null optional property is left out of the event.

use super::{Event, Field, Object, Type, doc_block, enums, function_doc, objects, required_first};
use crate::shape::names::{camel, cases, pascal, screaming};
use std::fmt::Write;

const KEYWORDS: [&str; 28] = [
    "as",
    "break",
    "class",
    "continue",
    "do",
    "else",
    "false",
    "for",
    "fun",
    "if",
    "in",
    "interface",
    "is",
    "null",
    "object",
    "package",
    "return",
    "super",
    "this",
    "throw",
    "true",
    "try",
    "typealias",
    "typeof",
    "val",
    "var",
    "when",
    "while",
];

pub(super) fn write(header: &str, app: &str, package: &str, events: &[Event]) -> String {
    let mut out = String::new();
    for l in header.lines() {
        let _ = writeln!(out, "// {l}");
    }
    let _ = write!(
        out,
        "\npackage {package}\n\nimport dev.tributary.Tributary\n"
    );
    for e in events {
        for (name, values) in enums(&e.properties) {
            let names = cases(values, screaming);
            let body: Vec<String> = names
                .iter()
                .zip(values)
                .map(|(n, v)| format!("{n}({})", quote(v)))
                .collect();
            let _ = write!(
                out,
                "\nenum class {name}(val wire: String) {{ {} }}\n",
                body.join(", ")
            );
        }
        for o in objects(&e.properties).into_iter().skip(1) {
            out.push('\n');
            let doc = o.doc_lines();
            doc_block(&mut out, "", &doc);
            data_class(&mut out, o);
        }
    }
    let _ = write!(
        out,
        "\n/** Typed tracking calls of app `{app}`: one function per event, each sending it with [Tributary.track]. */\nobject {}Tracking {{\n",
        pascal(app)
    );
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let params = required_first(&e.properties.fields);
        let doc = function_doc(e, &params, |f| {
            format!("@param {} {}", ident(&f.wire), f.doc.join(" "))
        });
        doc_block(&mut out, "    ", &doc);
        let _ = writeln!(out, "    fun {}(", ident(&camel(&e.name)));
        for f in &params {
            let _ = writeln!(out, "        {},", param(f));
        }
        let _ = writeln!(
            out,
            "    ) = Tributary.track({}, buildMap<String, Any?> {{",
            quote(&e.name)
        );
        puts(&mut out, "        ", &e.properties.fields, "");
        out.push_str("    })\n");
    }
    out.push_str("}\n");
    out
}

fn data_class(out: &mut String, o: &Object) {
    let _ = writeln!(out, "data class {}(", o.name);
    for f in required_first(&o.fields) {
        doc_block(out, "    ", &f.doc);
        let _ = writeln!(out, "    val {},", param(f));
    }
    out.push_str(") {\n    /** The JSON object the SDK sends. */\n    fun toMap(): Map<String, Any?> = buildMap<String, Any?> {\n");
    puts(out, "        ", &o.fields, "");
    out.push_str("    }\n}\n");
}

fn param(f: &Field) -> String {
    let t = ty(&f.ty);
    match (f.required, f.nullable) {
        (true, false) => format!("{}: {t}", ident(&f.wire)),
        (true, true) => format!("{}: {t}?", ident(&f.wire)),
        (false, _) => format!("{}: {t}? = null", ident(&f.wire)),
    }
}

/// `put` calls for `fields` (reading `prefix`-qualified values).
fn puts(out: &mut String, indent: &str, fields: &[Field], prefix: &str) {
    for f in fields {
        let v = format!("{prefix}{}", ident(&f.wire));
        let key = quote(&f.wire);
        if f.required && !f.nullable {
            let _ = writeln!(out, "{indent}put({key}, {})", conv(&v, &f.ty));
        } else if f.required {
            let _ = writeln!(
                out,
                "{indent}put({key}, {v}?.let {{ {} }})",
                conv("it", &f.ty)
            );
        } else {
            let _ = writeln!(
                out,
                "{indent}if ({v} != null) put({key}, {})",
                conv(&v, &f.ty)
            );
        }
    }
}

/// `v` as the SDK's JSON writer takes it.
fn conv(v: &str, t: &Type) -> String {
    match t {
        Type::Enum(..) => format!("{v}.wire"),
        Type::Object(_) => format!("{v}.toMap()"),
        Type::Array(t) if t.converted() => format!("{v}.map {{ {} }}", conv("it", t)),
        Type::Map(t) if t.converted() => format!("{v}.mapValues {{ {} }}", conv("it.value", t)),
        _ => v.to_owned(),
    }
}

fn ty(t: &Type) -> String {
    match t {
        Type::String => "String".into(),
        Type::Number => "Double".into(),
        Type::Integer => "Long".into(),
        Type::Boolean => "Boolean".into(),
        Type::Enum(name, _) => name.clone(),
        Type::Object(o) => o.name.clone(),
        Type::Array(t) => format!("List<{}>", ty(t)),
        Type::Map(t) => format!("Map<String, {}>", ty(t)),
        Type::Any => "Any".into(),
    }
}

fn ident(wire: &str) -> String {
    let n = camel(wire);
    if KEYWORDS.contains(&n.as_str()) {
        format!("`{n}`")
    } else {
        n
    }
}

fn quote(s: &str) -> String {
    // A JSON string is a Kotlin string once `$` cannot start a template.
    serde_json::Value::String(s.to_owned())
        .to_string()
        .replace('$', "\\$")
}
