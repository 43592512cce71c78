//! `tributary-schema check` as a schema repository's CI runs it: against a
//! base directory and a git revision, passing compatible changes and
//! failing incompatible ones with the field named and exit code 1.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;
use tributary_tests::workspace_binary;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn check(args: &[&str]) -> (i32, String) {
    let out = Command::new(workspace_binary("tributary-schema"))
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

const V1: &str = r#"{"type":"object","properties":{"total":{"type":"number"},"note":{"type":"string"}},"required":["total"]}"#;
const V2_OK: &str = r#"{"type":"object","properties":{"total":{"type":"number"},"note":{"type":"string"},"coupon":{"type":"string"}},"required":["total"]}"#;
const V2_BAD: &str = r#"{"type":"object","properties":{"total":{"type":"number"},"note":{"type":"string"},"store":{"type":"string"}},"required":["total","store"]}"#;

#[test]
fn the_repository_schemas_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    let (code, out) = check(&["--dir", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("all compatible"), "{out}");
}

#[test]
fn compatible_and_incompatible_versions_against_a_base_directory() {
    let base = tempfile::tempdir().unwrap();
    write(base.path(), "shop/order_completed/1.json", V1);
    let ok = tempfile::tempdir().unwrap();
    write(ok.path(), "shop/order_completed/1.json", V1);
    write(ok.path(), "shop/order_completed/2.json", V2_OK);
    let (code, out) = check(&[
        "--dir",
        ok.path().to_str().unwrap(),
        "--base",
        base.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("shop.order_completed v2"), "{out}");

    let bad = tempfile::tempdir().unwrap();
    write(bad.path(), "shop/order_completed/1.json", V1);
    write(bad.path(), "shop/order_completed/2.json", V2_BAD);
    let (code, out) = check(&[
        "--dir",
        bad.path().to_str().unwrap(),
        "--base",
        base.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("/properties/store") && out.contains("required field \"store\""),
        "{out}"
    );
    // Under FORWARD the same change is fine (old readers ignore the field).
    let (code, out) = check(&["--dir", bad.path().to_str().unwrap(), "--rule", "FORWARD"]);
    assert_eq!(code, 0, "{out}");

    // Editing a deployed version is refused whatever the rule.
    let edited = tempfile::tempdir().unwrap();
    write(edited.path(), "shop/order_completed/1.json", V2_OK);
    let (code, out) = check(&[
        "--dir",
        edited.path().to_str().unwrap(),
        "--base",
        base.path().to_str().unwrap(),
        "--rule",
        "NONE",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("edited after it was deployed"), "{out}");
}

#[test]
fn a_git_revision_is_a_base() {
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let s = Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            s.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&s.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["config", "user.email", "ci@example.invalid"]);
    git(&["config", "user.name", "ci"]);
    write(
        repo.path(),
        "schemas/shop/checkout_started/1.proto",
        "syntax = \"proto3\"; message Checkout { string cart_id = 1; double value = 2; }",
    );
    write(
        repo.path(),
        "schemas/compatibility.toml",
        "default = \"FULL\"\n",
    );
    git(&["add", "."]);
    git(&["commit", "-qm", "v1"]);
    // Change the field number: a wire break.
    write(
        repo.path(),
        "schemas/shop/checkout_started/2.proto",
        "syntax = \"proto3\"; message Checkout { string cart_id = 1; double value = 3; }",
    );
    let dir = repo.path().join("schemas");
    let (code, out) = check(&["--dir", dir.to_str().unwrap(), "--base", "git:HEAD"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Checkout.value") && out.contains("field number changed from 2 to 3"),
        "{out}"
    );
    assert!(
        !out.contains("checkout_started v1:"),
        "deployed versions are not re-reported: {out}"
    );
}
