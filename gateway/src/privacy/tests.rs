//! The rules store: inline and file sections, reloads, suppression.

use super::suppression::Id;
use super::*;

fn config(dir: &Path) -> PrivacyConfig {
    let mut c = PrivacyConfig::default();
    c.apps.insert(
        "shop".into(),
        toml::from_str("ip = \"truncate\"\nsuppressed_user_ids = [\"gone\"]").unwrap(),
    );
    c.rules_file = Some(dir.join("rules.toml"));
    c.suppression_file = Some(dir.join("suppressed.jsonl"));
    c
}

#[test]
fn file_sections_replace_inline_ones_and_a_bad_file_keeps_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.toml"), "").unwrap();
    let p = Privacy::load(&config(dir.path())).unwrap();
    let ip = "203.0.113.9".parse().unwrap();
    let stored = |p: &Privacy| p.current().policy("shop").and_then(|a| a.stored_ip(ip));
    assert_eq!(stored(&p), Some("203.0.113.0".parse().unwrap()));
    assert!(p.current().policy("other").is_none());
    std::fs::write(
        dir.path().join("rules.toml"),
        "[apps.shop]\nip = \"drop\"\n[apps.\"*\"]\nip = \"keep\"\n",
    )
    .unwrap();
    p.reload().unwrap();
    assert_eq!(stored(&p), None);
    assert!(
        p.current().policy("other").is_some(),
        "`*` covers other apps"
    );
    std::fs::write(
        dir.path().join("rules.toml"),
        "[apps.shop]\nrules = [{ path = \"properties.email\", action = \"hash\" }]\n",
    )
    .unwrap();
    let err = p.reload().unwrap_err();
    assert!(err.contains("hash_key"), "{err}");
    assert_eq!(stored(&p), None, "the rules in force stay");
}

#[test]
fn suppressed_ids_come_from_config_the_file_and_the_endpoint_and_survive_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.toml"), "").unwrap();
    std::fs::write(
        dir.path().join("suppressed.jsonl"),
        "{\"app\":\"shop\",\"anonymousId\":\"a1\"}\n{\"app\":\"shop\",\"userId\":\n",
    )
    .unwrap();
    let p = Privacy::load(&config(dir.path())).unwrap();
    let holds = |p: &Privacy, u: Option<&str>, a: Option<&str>| {
        p.current()
            .suppressed("shop")
            .is_some_and(|s| s.holds(u, a))
    };
    assert!(holds(&p, Some("gone"), None));
    assert!(holds(&p, None, Some("a1")), "the torn last line is skipped");
    assert!(!holds(&p, Some("u2"), None));
    p.suppress("shop", Id::User("u2".into())).unwrap();
    assert!(holds(&p, Some("u2"), None));
    p.reload().unwrap();
    assert!(
        holds(&p, Some("u2"), None),
        "the appended line is read back"
    );
    assert!(p.current().suppressed("other").is_none());
}
