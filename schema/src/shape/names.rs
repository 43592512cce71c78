//! Names: event names from schemas (`shape`), identifiers in generated
//! code from wire keys (`codegen`).

use tributary_contract::topic::slug;

/// Event directories that are not track events (their calls take no event
/// name): no tracking function is generated for them.
pub(crate) const OTHER_KINDS: [&str; 5] = ["identify", "page", "screen", "group", "alias"];

/// The event name for a schema under event directory `dir_slug`: the
/// schema's own name for it (`title`, the message name split into words)
/// when it routes to the same topic, else the slug's words capitalised.
pub(crate) fn event_name(dir_slug: &str, own: Option<&str>) -> String {
    if let Some(n) = own
        .map(str::trim)
        .filter(|n| !n.is_empty() && slug(n) == dir_slug)
    {
        return n.to_owned();
    }
    dir_slug
        .split(['_', '-', '.'])
        .filter(|w| !w.is_empty())
        .map(capitalised)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `CheckoutStarted` → `Checkout Started`.
pub(crate) fn words_of_pascal(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.char_indices() {
        if i > 0 && c.is_ascii_uppercase() && !name[..i].ends_with(|p: char| p.is_ascii_uppercase())
        {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn capitalised(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The words of any name: `Order Completed`, `order_id`, `orderId`,
/// `first-name` all split at separators and lower-to-upper case changes.
fn words(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `order_completed` → `orderCompleted`; never empty, never starts with a
/// digit.
pub(crate) fn camel(s: &str) -> String {
    let mut out = String::new();
    for (i, w) in words(s).iter().enumerate() {
        if i == 0 {
            out.push_str(&w.to_lowercase());
        } else {
            out.push_str(&capitalised(&w.to_lowercase()));
        }
    }
    guard(out)
}

/// `order completed` → `OrderCompleted`.
pub(crate) fn pascal(s: &str) -> String {
    guard(words(s).iter().map(|w| capitalised(w)).collect())
}

/// An identifier for the app in a package or type name.
pub(crate) fn ident(s: &str) -> String {
    camel(s).to_lowercase()
}

fn guard(s: String) -> String {
    if s.is_empty() {
        "value".into()
    } else if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("n{s}")
    } else {
        s
    }
}

/// The item type name of a list property: `items` → `Item`,
/// `categories` → `Category`.
pub(crate) fn singular(s: &str) -> String {
    if let Some(stem) = s.strip_suffix("ies") {
        format!("{stem}y")
    } else if s.ends_with("ss") {
        s.to_owned()
    } else if let Some(stem) = s.strip_suffix('s') {
        stem.to_owned()
    } else {
        format!("{s}Item")
    }
}

/// Enum case names: `EUR` → `EUR`-ish identifiers in the language's style,
/// made unique.
pub(crate) fn cases(values: &[String], style: fn(&str) -> String) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        let mut n = style(v);
        while out.contains(&n) {
            n.push('_');
        }
        out.push(n);
    }
    out
}

/// `EUR` → `EUR`, `in progress` → `IN_PROGRESS`.
pub(crate) fn screaming(s: &str) -> String {
    guard(
        words(s)
            .iter()
            .map(|w| w.to_uppercase())
            .collect::<Vec<_>>()
            .join("_"),
    )
}
