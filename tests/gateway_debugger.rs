//! The live event debugger (`/debug`) against the real gateway and Kafka,
//! in headless Chromium (`tests/browser/debugger.mjs`): a developer opens
//! the page with the admin token, watches a write key, and sees a valid
//! event (accepted, with its topic and its value after the app's privacy
//! rules) and an invalid one (rejected, with its code and JSON pointer)
//! within a second of sending them. Also: off by default (404), and the
//! page and its stream refuse a request without the token (401, with a
//! Basic challenge). With `DEBUGGER_SCREENSHOT=<path>` the test saves the
//! page (docs/debugger.png was made so).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;
use tributary_tests::*;

const TOKEN: &str = "debugger-test-token-0123";

/// The repository's `Order Completed` schema, for the test app.
fn schema_dir(dir: &Path) -> std::path::PathBuf {
    let schemas = dir.join("schemas");
    let event = schemas.join(APP).join("order_completed");
    std::fs::create_dir_all(&event).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/shop/order_completed/2.json");
    std::fs::copy(repo, event.join("1.json")).unwrap();
    schemas
}

/// Status and `WWW-Authenticate` of `GET path` (only answers with a whole
/// body: errors, or the page).
fn get(addr: std::net::SocketAddr, path: &str, auth: Option<&str>) -> (u16, String) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
    let r = rt.block_on(HttpClient::new(addr).request("GET", path, &headers, vec![]));
    let challenge = r
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (r.status, challenge)
}

#[test]
fn the_debugger_shows_accepted_and_rejected_events_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("dbg");
    let schemas = schema_dir(dir.path());

    // Off by default.
    let off = GatewayProcess::start(&write_process_config(dir.path(), &prefix, ""));
    assert_eq!(
        get(off.addr, "/debug", Some(&format!("Bearer {TOKEN}"))).0,
        404
    );
    drop(off);

    let config = write_process_config(
        dir.path(),
        &prefix,
        &format!(
            "[schemas]\nsource = \"dir\"\ndir = {schemas:?}\nunregistered = \"accept\"\n\
             [privacy]\nadmin_token = \"{TOKEN}\"\n[privacy.apps.{APP}]\npatterns = {{ email = \"mask\" }}\n\
             [debugger]\nenabled = true\n"
        ),
    );
    let gw = GatewayProcess::start(&config);
    let (status, challenge) = get(gw.addr, "/debug", None);
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with("Basic realm="),
        "a browser is asked for the token: {challenge}"
    );
    assert_eq!(
        get(
            gw.addr,
            &format!("/debug/stream?writeKey={KEY_BROKER}"),
            Some("Bearer wrong-token-0123456789")
        )
        .0,
        401
    );
    assert_eq!(
        get(
            gw.addr,
            "/debug/stream?writeKey=nope",
            Some(&format!("Bearer {TOKEN}"))
        )
        .0,
        404
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("../sdk-wasm/node_modules/puppeteer-core")
            .exists(),
        "install the web SDK's tools first: sdk-wasm/scripts/build (scripts/test does)"
    );
    let mut node = Command::new("node");
    node.arg(root.join("browser/debugger.mjs")).args([
        &format!("http://{}", gw.addr),
        TOKEN,
        KEY_BROKER,
    ]);
    if let Ok(path) = std::env::var("DEBUGGER_SCREENSHOT") {
        node.env("SCREENSHOT", path);
    }
    let out = node.output().expect("node runs (scripts/test installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let done = stdout
        .lines()
        .find_map(|l| l.strip_prefix("@done "))
        .unwrap_or_else(|| panic!("the page did not show both events in time: {stdout}"));
    let done: serde_json::Value = serde_json::from_str(done).unwrap();
    let shown = done["shownMs"].as_u64().unwrap();
    assert_eq!(done["status"], 200, "{done}");
    assert_eq!(done["body"]["accepted"], 1, "{done}");
    let rows = done["rows"].as_array().unwrap();
    let row = |o: &str| {
        rows.iter()
            .find(|r| r["outcome"] == o)
            .unwrap_or_else(|| panic!("no {o} row: {done}"))
    };
    let rejected = row("rejected");
    assert_eq!(rejected["code"], "schema_violation", "{rejected}");
    assert_eq!(rejected["pointer"], "/total", "{rejected}");
    assert!(
        rejected["text"].as_str().unwrap().contains("dbg-invalid"),
        "{rejected}"
    );
    let accepted = row("accepted");
    let text = accepted["text"].as_str().unwrap();
    assert!(
        text.contains("dbg-valid") && text.contains(&format!("{prefix}order_completed")),
        "{accepted}"
    );
    let details = accepted["details"].to_string();
    assert!(
        details.contains("o-1") && details.contains("tb-event-name"),
        "value and headers shown: {details}"
    );
    assert!(
        !details.contains("ada@example.com"),
        "the app's privacy rules apply before display: {details}"
    );
    report(format_args!(
        "debugger: accepted and rejected (schema_violation at /total) shown {shown} ms after sending"
    ));
    assert!(shown <= 1000, "shown after {shown} ms");
}
