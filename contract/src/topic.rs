//! Topic names derived from event names, so producers (the gateway) and
//! consumers (the pipeline, the load test's verifier) agree on where an
//! event type lives without sharing configuration.

/// Derives a topic-safe name: lower case, runs of characters Kafka does not
/// allow become one `_`. `"Order Completed"` → `order_completed`.
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    let mut slug = if trimmed.is_empty() {
        "_".to_owned()
    } else {
        trimmed.to_owned()
    };
    slug.truncate(200);
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_valid_topic_names() {
        assert_eq!(slug("Order Completed"), "order_completed");
        assert_eq!(slug("  Übung / 2  "), "bung_2");
        assert_eq!(slug("!!!"), "_");
        assert_eq!(slug(&"x".repeat(400)).len(), 200);
    }
}
