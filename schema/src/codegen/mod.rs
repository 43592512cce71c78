//! Typed tracking code from the schema directory (`tributary-schema
//! codegen`): one typed function per event of an app, from each event's
//! latest schema version, calling the SDK's `track`, so that a wrong event
//! name or a missing required property fails the app's build instead of
//! reaching the gateway's validation.
//!
//! Both schema languages are read into one model ([`Event`], [`Type`]) —
//! [`json`] and [`proto`] — and each language writes the model out —
//! [`typescript`], [`kotlin`], [`swift`]. Output is deterministic (events by
//! name, fields in schema order), so `--check` can compare it byte for byte
//! with what an app's repository has committed.

mod json;
mod kotlin;
mod names;
mod proto;
mod swift;
mod typescript;

use crate::catalog::Catalog;
use crate::schema::{RESERVED_APP, SchemaType};

/// A language code is generated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// TypeScript for `tributary-web`.
    TypeScript,
    /// Kotlin for the Android / JVM SDK.
    Kotlin,
    /// Swift for the iOS SDK.
    Swift,
}

impl Lang {
    /// Reads `typescript`, `kotlin` or `swift`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "typescript" | "ts" => Some(Lang::TypeScript),
            "kotlin" | "kt" => Some(Lang::Kotlin),
            "swift" => Some(Lang::Swift),
            _ => None,
        }
    }

    /// The name the generated file's header uses.
    fn flag(self) -> &'static str {
        match self {
            Lang::TypeScript => "typescript",
            Lang::Kotlin => "kotlin",
            Lang::Swift => "swift",
        }
    }
}

/// One event type of the app, from its latest schema version.
#[derive(Debug, Clone)]
pub struct Event {
    /// The event name the SDK sends (`Order Completed`).
    pub name: String,
    /// Registry subject (`shop.order_completed`).
    pub subject: String,
    /// The schema version the code is generated from.
    pub version: u32,
    /// Schema language, for the doc comment.
    pub schema_type: SchemaType,
    /// The payload (the event's properties).
    pub properties: Object,
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
}

/// One property.
#[derive(Debug, Clone)]
pub struct Field {
    /// The key on the wire (`orderId`, protobuf's JSON name).
    pub wire: String,
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
    /// Any JSON value (a shape the generator does not type, documented).
    Any,
}

impl Type {
    /// Whether a value of this type must be converted to what the SDK's
    /// JSON writer takes (enums to their strings, objects to maps), in
    /// Kotlin and Swift.
    fn converted(&self) -> bool {
        match self {
            Type::Enum(..) | Type::Object(_) => true,
            Type::Array(t) | Type::Map(t) => t.converted(),
            _ => false,
        }
    }
}

/// Parameters in call order: required first, so that optional ones (with
/// defaults) can be left out.
fn required_first(fields: &[Field]) -> Vec<&Field> {
    let mut v: Vec<&Field> = fields.iter().filter(|f| f.required).collect();
    v.extend(fields.iter().filter(|f| !f.required));
    v
}

/// What `generate` was asked for.
pub struct Request<'a> {
    /// The app whose events are generated.
    pub app: &'a str,
    /// The language.
    pub lang: Lang,
    /// Kotlin package (default `tributary.tracking.<app>`); unused elsewhere.
    pub package: Option<&'a str>,
}

/// Reads every event type of `app` from `catalog`, by event name.
pub fn events(catalog: &Catalog, app: &str) -> Result<Vec<Event>, String> {
    if app == RESERVED_APP {
        return Err("the reserved app-health events are recorded by the SDKs themselves".into());
    }
    let prefix = format!("{app}.");
    let mut out = Vec::new();
    for subject in catalog.subjects() {
        let Some(slug) = subject.strip_prefix(&prefix) else {
            continue;
        };
        // identify, page, screen, group, alias: not track events.
        if names::OTHER_KINDS.contains(&slug) {
            continue;
        }
        let Some(latest) = catalog.latest(subject) else {
            continue;
        };
        let (name, properties) = match latest.schema_type {
            SchemaType::Json => json::read(slug, &latest.text),
            SchemaType::Protobuf => proto::read(slug, &latest.text),
        }
        .map_err(|e| format!("{subject} v{}: {e}", latest.version))?;
        out.push(Event {
            name,
            subject: subject.to_owned(),
            version: latest.version,
            schema_type: latest.schema_type,
            properties,
        });
    }
    if out.is_empty() {
        return Err(format!("no event schemas for app {app:?}"));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The generated source file for `req`.
pub fn generate(catalog: &Catalog, req: &Request<'_>) -> Result<String, String> {
    let events = events(catalog, req.app)?;
    let header = format!(
        "Generated by `tributary-schema codegen --lang {} --app {}` from each event's\nlatest schema version. Do not edit: change the schemas and regenerate\n(`--check` fails in CI while this file is out of date).",
        req.lang.flag(),
        req.app
    );
    Ok(match req.lang {
        Lang::TypeScript => typescript::write(&header, req.app, &events),
        Lang::Kotlin => {
            let package = req.package.map_or_else(
                || format!("tributary.tracking.{}", names::ident(req.app)),
                str::to_owned,
            );
            kotlin::write(&header, req.app, &package, &events)
        }
        Lang::Swift => swift::write(&header, req.app, &events),
    })
}

/// The lines of an event's doc comment, shared by every language.
fn event_doc(e: &Event) -> Vec<String> {
    let mut doc = vec![format!("`{}`", e.name)];
    if let Some(d) = &e.properties.doc {
        doc.push(String::new());
        doc.extend(d.lines().map(str::to_owned));
    }
    doc.push(String::new());
    doc.push(format!(
        "Schema `{}` version {} ({}).",
        e.subject,
        e.version,
        match e.schema_type {
            SchemaType::Json => "JSON Schema",
            SchemaType::Protobuf => "protobuf",
        }
    ));
    doc
}

/// A `/** ... */` block (JSDoc, KDoc) of `lines`; nothing for none.
fn doc_block(out: &mut String, indent: &str, lines: &[String]) {
    use std::fmt::Write;
    let safe = |l: &String| l.replace("*/", "*\\/");
    match lines {
        [] => {}
        [one] => {
            let _ = writeln!(out, "{indent}/** {} */", safe(one));
        }
        _ => {
            let _ = writeln!(out, "{indent}/**");
            for l in lines {
                let _ = if l.is_empty() {
                    writeln!(out, "{indent} *")
                } else {
                    writeln!(out, "{indent} * {}", safe(l))
                };
            }
            let _ = writeln!(out, "{indent} */");
        }
    }
}

impl Object {
    /// The description's lines.
    fn doc_lines(&self) -> Vec<String> {
        self.doc
            .iter()
            .flat_map(|d| d.lines().map(str::to_owned))
            .collect()
    }
}

/// An event function's doc: the event's, then a line per documented
/// parameter, as `param` writes it.
fn function_doc(e: &Event, params: &[&Field], param: impl Fn(&Field) -> String) -> Vec<String> {
    let mut doc = event_doc(e);
    let documented: Vec<String> = params
        .iter()
        .filter(|f| !f.doc.is_empty())
        .map(|f| param(f))
        .collect();
    if !documented.is_empty() {
        doc.push(String::new());
        doc.extend(documented);
    }
    doc
}

/// Every object type of an event, the properties first, nested ones after
/// (depth first), each once.
fn objects(root: &Object) -> Vec<&Object> {
    fn walk<'a>(t: &'a Type, out: &mut Vec<&'a Object>) {
        match t {
            Type::Object(o) => {
                out.push(o);
                for f in &o.fields {
                    walk(&f.ty, out);
                }
            }
            Type::Array(t) | Type::Map(t) => walk(t, out),
            _ => {}
        }
    }
    let mut out = vec![root];
    for f in &root.fields {
        walk(&f.ty, &mut out);
    }
    out
}

/// Every enum of an event, each once: its name and values.
fn enums(root: &Object) -> Vec<(&str, &[String])> {
    fn walk<'a>(t: &'a Type, out: &mut Vec<(&'a str, &'a [String])>) {
        match t {
            Type::Enum(n, v) => out.push((n, v)),
            Type::Object(o) => o.fields.iter().for_each(|f| walk(&f.ty, out)),
            Type::Array(t) | Type::Map(t) => walk(t, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for f in &root.fields {
        walk(&f.ty, &mut out);
    }
    out
}

#[cfg(test)]
mod tests;
