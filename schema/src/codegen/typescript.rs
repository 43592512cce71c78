//! TypeScript for `tributary-web`: a type per object and enum, and a class
//! with one method per event that calls `Tributary.track`. Properties are
//! plain objects already, so nothing is converted at run time.

use super::{Event, Field, Object, Type, doc_block, enums, event_doc, objects};
use crate::shape::names::{camel, pascal};
use std::fmt::Write;

pub(super) fn write(header: &str, app: &str, events: &[Event]) -> String {
    let mut out = String::new();
    for l in header.lines() {
        let _ = writeln!(out, "// {l}");
    }
    let body_at = out.len();
    for e in events {
        for (name, values) in enums(&e.properties) {
            let union: Vec<String> = values.iter().map(|v| quote(v)).collect();
            let _ = write!(out, "\nexport type {name} = {};\n", union.join(" | "));
        }
        for (i, o) in objects(&e.properties).into_iter().enumerate() {
            out.push('\n');
            let doc = if i == 0 { event_doc(e) } else { o.doc_lines() };
            doc_block(&mut out, "", &doc);
            object(&mut out, o);
        }
    }
    let class = format!("{}Tracking", pascal(app));
    let _ = write!(
        out,
        "\n/** Typed tracking calls of app `{app}`: one method per event, each sending it with `track`. */\nexport class {class} {{\n  constructor(private readonly sdk: Tributary) {{}}\n"
    );
    for e in events {
        let mut doc = event_doc(e);
        doc.push("@returns false if the SDK dropped the event (see `stats().dropped`).".into());
        out.push('\n');
        doc_block(&mut out, "  ", &doc);
        let optional = e.properties.fields.iter().all(|f| !f.required);
        let _ = write!(
            out,
            "  {}(properties: {}{}): boolean {{\n    return this.sdk.track({}, properties);\n  }}\n",
            camel(&e.name),
            e.properties.name,
            if optional { " = {}" } else { "" },
            quote(&e.name)
        );
    }
    out.push_str("}\n");
    // Untyped values need the SDK's JSON type, and only they.
    let import = if out[body_at..].contains("JsonValue") {
        "JsonValue, Tributary"
    } else {
        "Tributary"
    };
    out.insert_str(
        body_at,
        &format!("\nimport type {{ {import} }} from 'tributary-web';\n"),
    );
    out
}

fn object(out: &mut String, o: &Object) {
    // A type alias, not an interface: only aliases are assignable to the
    // SDK's `Properties` index signature.
    let _ = writeln!(out, "export type {} = {{", o.name);
    for f in &o.fields {
        doc_block(out, "  ", &f.doc);
        let _ = writeln!(
            out,
            "  {}{}: {};",
            key(&f.wire),
            if f.required { "" } else { "?" },
            field_type(f)
        );
    }
    out.push_str("};\n");
}

fn field_type(f: &Field) -> String {
    let t = ty(&f.ty);
    if f.nullable { format!("{t} | null") } else { t }
}

fn ty(t: &Type) -> String {
    match t {
        Type::String => "string".into(),
        Type::Number | Type::Integer => "number".into(),
        Type::Boolean => "boolean".into(),
        Type::Enum(name, _) => name.clone(),
        Type::Object(o) => o.name.clone(),
        Type::Array(t) => match **t {
            Type::Array(_) | Type::Map(_) => format!("Array<{}>", ty(t)),
            _ => format!("{}[]", ty(t)),
        },
        Type::Map(t) => format!("{{ [key: string]: {} }}", ty(t)),
        Type::Any => "JsonValue".into(),
    }
}

/// A property key: bare when it is an identifier, else quoted.
fn key(k: &str) -> String {
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident { k.to_owned() } else { quote(k) }
}

fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}
