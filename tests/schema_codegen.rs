//! `tributary-schema codegen` as an app's repository uses it: the typed
//! tracking code committed in `examples/tracking/` (generated from this
//! repository's `schemas/`, app `shop`) is up to date in all three
//! languages; a schema change without regeneration makes `--check` fail
//! (exit 1) until the code is regenerated; and the TypeScript type-checks
//! under `tsc --strict` against tributary-web's own types, refusing a
//! missing required property, a wrong enum value, a wrong type and a
//! nested object without its required field (`examples/tracking/usage.ts`).
//! The Kotlin is compiled and sent through a validating gateway by
//! sdk-mobile/scripts/test-kotlin.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;
use tributary_tests::workspace_binary;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const GENERATED: [(&str, &str); 3] = [
    ("typescript", "shop.ts"),
    ("kotlin", "ShopTracking.kt"),
    ("swift", "ShopTracking.swift"),
];

fn codegen(dir: &Path, lang: &str, out: &Path, check: bool) -> (i32, String) {
    let mut cmd = Command::new(workspace_binary("tributary-schema"));
    cmd.args(["codegen", "--lang", lang, "--app", "shop", "--dir"])
        .arg(dir)
        .arg("--out")
        .arg(out);
    if check {
        cmd.arg("--check");
    }
    let o = cmd.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn the_committed_tracking_code_is_up_to_date() {
    for (lang, file) in GENERATED {
        let out = root().join("examples/tracking").join(file);
        let (code, text) = codegen(&root().join("schemas"), lang, &out, true);
        assert_eq!(
            code, 0,
            "{lang}: {text}(regenerate: tributary-schema codegen --lang {lang} --app shop --out examples/tracking/{file})"
        );
        assert!(text.contains("is up to date"), "{text}");
    }
}

#[test]
fn a_schema_change_without_regeneration_fails_the_check() {
    let tmp = tempfile::tempdir().unwrap();
    let schemas = tmp.path().join("schemas");
    copy_dir(&root().join("schemas"), &schemas);
    let code_dir = tmp.path().join("tracking");
    copy_dir(&root().join("examples/tracking"), &code_dir);
    // A new version with one more optional property.
    let v2 = std::fs::read_to_string(schemas.join("shop/order_completed/2.json")).unwrap();
    let mut v3: serde_json::Value = serde_json::from_str(&v2).unwrap();
    v3["properties"]["coupon"] =
        serde_json::json!({"type": "string", "description": "A coupon code."});
    std::fs::write(
        schemas.join("shop/order_completed/3.json"),
        serde_json::to_string_pretty(&v3).unwrap(),
    )
    .unwrap();
    for (lang, file) in GENERATED {
        let out = code_dir.join(file);
        let (code, text) = codegen(&schemas, lang, &out, true);
        assert_eq!(code, 1, "{lang}: a stale file must fail the check: {text}");
        assert!(text.contains("is out of date"), "{text}");
        let (code, text) = codegen(&schemas, lang, &out, false);
        assert_eq!(code, 0, "{text}");
        let regenerated = std::fs::read_to_string(&out).unwrap();
        assert!(
            regenerated.contains("coupon") && regenerated.contains("A coupon code."),
            "{lang}: the new property, documented:\n{regenerated}"
        );
        assert!(regenerated.contains("version 3"), "{regenerated}");
        let (code, text) = codegen(&schemas, lang, &out, true);
        assert_eq!(code, 0, "{lang} after regeneration: {text}");
    }
}

#[test]
fn an_unknown_app_or_language_is_a_clear_error() {
    let out = tempfile::tempdir().unwrap();
    let (code, text) = codegen(
        &root().join("schemas"),
        "cobol",
        &out.path().join("x"),
        false,
    );
    assert_eq!(code, 2);
    assert!(text.contains("unknown --lang \"cobol\""), "{text}");
    let o = Command::new(workspace_binary("tributary-schema"))
        .args(["codegen", "--lang", "kotlin", "--app", "nobody", "--dir"])
        .arg(root().join("schemas"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no event schemas for app \"nobody\""));
}

#[test]
fn the_typescript_compiles_strictly_against_the_web_sdk_types() {
    let tsc = root().join("sdk-wasm/node_modules/.bin/tsc");
    assert!(
        tsc.exists(),
        "install the web SDK's tools first: sdk-wasm/scripts/build (scripts/test does)"
    );
    let o = Command::new(&tsc)
        .args(["-p", "examples/tracking"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "tsc --strict: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );

    // The checks are real: the same call without its `@ts-expect-error`
    // is a compile error naming the missing property.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tracking");
    copy_dir(&root().join("examples/tracking"), &dir);
    let usage = std::fs::read_to_string(dir.join("usage.ts")).unwrap();
    let marker = "  // @ts-expect-error orderId and total are required\n";
    assert!(usage.contains(marker));
    std::fs::write(dir.join("usage.ts"), usage.replace(marker, "")).unwrap();
    let config = std::fs::read_to_string(dir.join("tsconfig.json")).unwrap();
    let types = root().join("sdk-wasm/js/index.d.ts");
    std::fs::write(
        dir.join("tsconfig.json"),
        config.replace("../../sdk-wasm/js/index.d.ts", types.to_str().unwrap()),
    )
    .unwrap();
    let o = Command::new(&tsc).arg("-p").arg(&dir).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        !o.status.success(),
        "tsc accepted a missing required property"
    );
    assert!(text.contains("orderId"), "{text}");
}
