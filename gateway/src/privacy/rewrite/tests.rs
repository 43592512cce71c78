//! Rewriting raw JSON under an app's rules.

use super::*;
use crate::config::AppPrivacyConfig;

fn policy(toml_text: &str) -> AppPolicy {
    let c: AppPrivacyConfig = toml::from_str(toml_text).unwrap();
    assert!(c.check("test").is_empty(), "{:?}", c.check("test"));
    AppPolicy::compile(&c)
}

const KEY: &str = "hash_key = \"0123456789abcdef\"\n";

fn run(p: &AppPolicy, root: &str, text: &str) -> Option<String> {
    let node = p.root.child_of_root(root);
    rewrite(text, node, p, &Edit::default()).unwrap().text
}

#[test]
fn path_rules_drop_mask_and_hash_and_wildcards_reach_every_member() {
    let p = policy(&format!(
        "{KEY}rules = [
          {{ path = \"properties.email\", action = \"hash\" }},
          {{ path = \"properties.items.*.sku\", action = \"drop\" }},
          {{ path = \"properties.name\", action = \"mask\" }},
          {{ path = \"traits.*\", action = \"mask\" }},
        ]"
    ));
    let out = run(
        &p,
        "properties",
        r#"{ "email": "a@b.io", "name": "Jane", "items": [{"sku":"x","q":1},{"q":2,"sku":"y"}], "n": 1 }"#,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["email"].as_str().unwrap().len(), 64);
    assert_ne!(v["email"], "a@b.io");
    assert_eq!(v["name"], "****");
    assert_eq!(v["items"], serde_json::json!([{"q":1},{"q":2}]));
    assert_eq!(v["n"], 1);
    let again = run(&p, "properties", r#"{"email":"a@b.io"}"#).unwrap();
    assert!(
        again.contains(v["email"].as_str().unwrap()),
        "hashes are stable"
    );
    let traits = run(&p, "traits", r#"{"a":"x","b":{"c":1}}"#).unwrap();
    assert_eq!(traits, r#"{"a":"*","b":"*******"}"#);
}

#[test]
fn unchanged_objects_come_back_as_none() {
    let p = policy("rules = [{ path = \"properties.email\", action = \"drop\" }]");
    assert_eq!(
        run(&p, "properties", r#"{"other": [1, {"email": 2}]}"#),
        None
    );
    assert_eq!(run(&p, "traits", r#"{"email":"x@y.io"}"#), None);
}

#[test]
fn detectors_replace_only_what_they_find_or_drop_the_value() {
    let p = policy(&format!(
        "{KEY}patterns = {{ email = \"hash\", card = \"mask\", phone = \"drop\" }}"
    ));
    let out = run(
        &p,
        "properties",
        r#"{"note":"mail a@b.io please","pay":"4111 1111 1111 1111","tel":"+49 30 1234567","list":["+1 555 123 4567","ok"],"id":"1733100000000"}"#,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let note = v["note"].as_str().unwrap();
    assert!(note.starts_with("mail ") && note.ends_with(" please") && !note.contains("a@b.io"));
    assert_eq!(v["pay"], "*******************");
    assert!(v.get("tel").is_none());
    assert_eq!(v["list"], serde_json::json!(["ok"]));
    assert_eq!(v["id"], "1733100000000");
}

#[test]
fn top_level_members_are_set_removed_and_captured() {
    let p = policy("");
    let text = r#"{"userAgent":"UA \"1\"","ip":"6.6.6.6","locale":"de"}"#;
    let edit = Edit {
        set: &[("ip", Some("\"203.0.113.0\""))],
        capture: &["userAgent", "ip"],
    };
    let r = rewrite(text, None, &p, &edit).unwrap();
    assert_eq!(
        r.text.as_deref(),
        Some(r#"{"userAgent":"UA \"1\"","ip":"203.0.113.0","locale":"de"}"#)
    );
    assert_eq!(
        r.captured,
        [Some("UA \"1\"".to_owned()), Some("6.6.6.6".to_owned())]
    );
    let added = rewrite(r#"{}"#, None, &p, &edit).unwrap();
    assert_eq!(added.text.as_deref(), Some(r#"{"ip":"203.0.113.0"}"#));
    let removed = rewrite(
        text,
        None,
        &p,
        &Edit {
            set: &[("ip", None)],
            capture: &[],
        },
    )
    .unwrap();
    assert_eq!(
        removed.text.as_deref(),
        Some(r#"{"userAgent":"UA \"1\"","locale":"de"}"#)
    );
}

#[test]
fn a_whole_rejected_event_is_scrubbed_from_the_root() {
    let p = policy(&format!(
        "{KEY}ip = \"drop\"\npatterns = {{ email = \"mask\" }}\nrules = [{{ path = \"context.device.advertisingId\", action = \"hash\" }}]"
    ));
    let event = r#"{"type":"track","event":"E","properties":{"to":"x@y.io"},"context":{"ip":"6.6.6.6","device":{"advertisingId":"AD-1"}}}"#;
    let r = rewrite(event, Some(&p.root), &p, &Edit::default()).unwrap();
    let out = r.text.unwrap();
    assert!(
        !out.contains("x@y.io") && !out.contains("6.6.6.6") && !out.contains("AD-1"),
        "{out}"
    );
    assert!(r.replaced.contains(&"x@y.io".to_owned()));
}
