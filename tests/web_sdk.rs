//! The web SDK (sdk-wasm's npm package, built browser entry) in Chromium,
//! Firefox ESR and WebKit against the real gateway and the real Kafka (each
//! scenario once per engine, in a module named after it): every event
//! arrives exactly once when the gateway is unreachable for a while and the
//! page reloads; when a page closes with events pending (beacons); and when
//! a tab closes with its queue unsent (another tab adopts it); and what
//! automatic capture records in a single-page app.
//!
//! `sdk-wasm/test/browser/e2e.js` drives the page; this side owns the
//! gateway process (it stops and starts it when the script asks, on a fixed
//! port so the page's endpoint stays valid) and reads Kafka. scripts/test
//! builds the package first (sdk-wasm/scripts/build).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use tributary_contract::envelope::header;
use tributary_tests::*;

fn sdk_wasm() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sdk-wasm")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What a scenario ran: its topic prefix, its run id (in every event's
/// properties), how many events the page tracked, and all it reported.
struct Run {
    prefix: String,
    run: String,
    sent: i64,
    done: serde_json::Value,
}

/// A browser engine of sdk-wasm/test/browser/engines.js, and what its
/// user agent says.
#[derive(Clone, Copy)]
struct Engine {
    name: &'static str,
    user_agent: &'static str,
}

/// One browser at a time: the scenarios wait on timers, and three
/// browsers on a 2-core machine make them slow for no gain.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs one browser scenario in `engine`.
fn run_scenario(engine: Engine, scenario: &str, gateway_up_at_start: bool) -> Run {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let root = sdk_wasm();
    assert!(
        root.join("dist/tributary.js").exists()
            && root.join("node_modules/puppeteer-core").exists(),
        "build the web SDK first: sdk-wasm/scripts/build (scripts/test does)"
    );
    let prefix = unique_prefix("web");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Server settings from a file the settings scenario rewrites.
    let settings = dir.path().join("sdk-settings.toml");
    std::fs::write(&settings, "").unwrap();
    let config = write_process_config_at(
        dir.path(),
        &prefix,
        &format!("127.0.0.1:{port}"),
        &format!(
            "[rate_limits]\nip_requests_per_second = 0\n[sdk_settings]\nfile = {:?}\npoll_secs = 1",
            settings.display().to_string()
        ),
    );
    let mut gateway = gateway_up_at_start.then(|| GatewayProcess::start(&config));
    let mut node = Command::new("node")
        .arg(root.join("test/browser/e2e.js"))
        .args([
            scenario,
            &format!("http://127.0.0.1:{port}"),
            KEY_BROKER,
            &run,
        ])
        .current_dir(&root)
        .env("BROWSER", engine.name)
        .env("SETTINGS_FILE", &settings)
        .env("SETTINGS_APP", APP)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs (scripts/test installs it)");
    let mut to_node = node.stdin.take().unwrap();
    let from_node = BufReader::new(node.stdout.take().unwrap());
    let mut done = None;
    for line in from_node.lines() {
        let line = line.unwrap();
        println!(
            "{scenario}: {}",
            line.chars().take(2000).collect::<String>()
        );
        match line.as_str() {
            "@gateway up" => {
                gateway = Some(GatewayProcess::start(&config));
                writeln!(to_node, "ok").unwrap();
            }
            "@gateway down" => {
                drop(gateway.take());
                writeln!(to_node, "ok").unwrap();
            }
            l if l.starts_with("@done ") => {
                done = Some(serde_json::from_str::<serde_json::Value>(&l[6..]).unwrap());
            }
            l if l.starts_with("@failed ") => panic!("{scenario} failed in the browser: {l}"),
            _ => {}
        }
    }
    let status = node.wait().unwrap();
    assert!(
        status.success(),
        "{scenario}: the browser script exited with {status}"
    );
    drop(gateway);
    let done = done.expect("the script reported what it did");
    Run {
        prefix,
        run,
        sent: done["sent"].as_i64().unwrap_or(0),
        done,
    }
}

/// Reads the run's `Order Completed` events from Kafka and asserts each
/// `properties.n` in `0..sent` arrived exactly once.
fn assert_exactly_once(engine: Engine, scenario: &str, r: &Run) {
    let (prefix, run, sent) = (&r.prefix, &r.run, r.sent);
    let got = consume(
        &kafka(),
        &[format!("{prefix}order_completed")],
        sent as usize,
        Duration::from_secs(3),
        Duration::from_secs(90),
    );
    let mut arrived: BTreeMap<i64, usize> = BTreeMap::new();
    let mut ids = BTreeMap::new();
    // Per event, each copy's messageId and received-at: a failure then
    // says whether a batch went out twice or the page tracked twice.
    let mut copies: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
    for r in got
        .iter()
        .filter(|r| r.value["properties"]["run"] == run.as_str())
    {
        let n = r.value["properties"]["n"].as_i64().unwrap();
        *arrived.entry(n).or_default() += 1;
        copies.entry(n).or_default().push((
            r.headers[header::MESSAGE_ID].clone(),
            r.headers[header::RECEIVED_AT].clone(),
        ));
        *ids.entry(r.headers[header::MESSAGE_ID].clone())
            .or_insert(0usize) += 1;
        assert_eq!(r.value["context"]["library"]["name"], "tributary-web");
        assert!(
            r.value["context"]["userAgent"]
                .as_str()
                .is_some_and(|ua| ua.contains(engine.user_agent)),
            "the page's context travels with the event"
        );
    }
    let missing: Vec<i64> = (0..sent).filter(|n| !arrived.contains_key(n)).collect();
    let duplicated: Vec<_> = copies.iter().filter(|(_, c)| c.len() > 1).collect();
    report(format_args!(
        "web sdk {} {scenario}: sent {sent}, arrived {} distinct, {} duplicated, {} missing",
        engine.name,
        arrived.len(),
        duplicated.len(),
        missing.len()
    ));
    assert!(missing.is_empty(), "{scenario}: missing {missing:?}");
    assert!(
        duplicated.is_empty(),
        "{scenario}: duplicated {duplicated:?}"
    );
    assert_eq!(ids.len() as i64, sent, "one messageId per event");
}

/// The scenarios, as tests of each engine.
macro_rules! in_each_engine {
    ($($engine:ident: $user_agent:literal),*) => {$(
        mod $engine {
            const E: super::Engine = super::Engine { name: stringify!($engine), user_agent: $user_agent };
            #[test]
            fn offline_then_reload_delivers_every_event_exactly_once() {
                super::offline_then_reload_delivers_every_event_exactly_once(E)
            }
            #[test]
            fn a_page_closed_with_events_pending_sends_them_by_beacon() {
                super::a_page_closed_with_events_pending_sends_them_by_beacon(E)
            }
            #[test]
            fn a_closed_tabs_queue_is_delivered_by_another_tab() {
                super::a_closed_tabs_queue_is_delivered_by_another_tab(E)
            }
            #[test]
            fn a_single_page_app_is_captured_on_its_own() {
                super::a_single_page_app_is_captured_on_its_own(E)
            }
            #[test]
            fn a_page_obeys_a_kill_switch_and_a_sampling_rate_flipped_while_it_sends() {
                super::a_page_obeys_a_kill_switch_and_a_sampling_rate_flipped_while_it_sends(E)
            }
        }
    )*};
}
// Chrome's user agent names AppleWebKit/537 and Safari/537 too.
in_each_engine!(chromium: "Chrome/", firefox: "Firefox/", webkit: "AppleWebKit/605");

fn offline_then_reload_delivers_every_event_exactly_once(e: Engine) {
    let r = run_scenario(e, "offline-reload", false);
    let has: Vec<String> = r.done["features"]
        .as_object()
        .expect("the page reports its engine's features")
        .iter()
        .map(|(k, v)| format!("{k} {}", if v == true { "yes" } else { "NO" }))
        .collect();
    report(format_args!("web engine {}: {}", e.name, has.join(", ")));
    assert_eq!(r.done["stats"]["storage"], "indexeddb");
    assert_eq!(r.sent, 120);
    assert_exactly_once(e, "offline-reload", &r);
}

fn a_page_closed_with_events_pending_sends_them_by_beacon(e: Engine) {
    let r = run_scenario(e, "close-pending", true);
    assert_eq!(r.sent, 40);
    assert_exactly_once(e, "close-pending", &r);
}

fn a_closed_tabs_queue_is_delivered_by_another_tab(e: Engine) {
    let r = run_scenario(e, "closed-tab", false);
    assert_eq!(r.sent, 30);
    assert_exactly_once(e, "closed-tab", &r);
}

/// A single-page app with automatic capture on: one page view per
/// distinct URL (the load, each route change, the reload), one error event
/// per uncaught error or unhandled rejection, `Application Installed` and a
/// cold `Application Opened` on the first load and a warm one on the
/// reload, the landing's campaign once, nothing twice.
fn a_single_page_app_is_captured_on_its_own(e: Engine) {
    let r = run_scenario(e, "auto-capture", true);
    let got = consume(
        &kafka(),
        &[format!("{}page", r.prefix), format!("{}unrouted", r.prefix)],
        12,
        Duration::from_secs(5),
        Duration::from_secs(90),
    );
    let mut ids = BTreeMap::new();
    let mut by_name: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for e in &got {
        *ids.entry(e.headers[header::MESSAGE_ID].clone())
            .or_insert(0usize) += 1;
        let v = &e.value;
        let name = match v["type"].as_str() {
            Some("page") => "page".to_owned(),
            _ => v["event"].as_str().unwrap_or("?").to_owned(),
        };
        by_name.entry(name).or_default().push(v);
    }
    let count = |n: &str| by_name.get(n).map_or(0, Vec::len);
    report(format_args!(
        "web auto-capture ({}): {}",
        e.name,
        by_name
            .iter()
            .map(|(k, v)| format!("{k} {}", v.len()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    assert!(ids.values().all(|n| *n == 1), "an event arrived twice");

    let mut pages = by_name["page"].clone();
    pages.sort_by_key(|v| v["originalTimestamp"].as_str().unwrap().to_owned());
    let urls: Vec<String> = pages
        .iter()
        .map(|v| {
            let url = v["properties"]["url"].as_str().unwrap();
            url[url.find('?').unwrap()..].replace(&r.run, "R")
        })
        .collect();
    assert_eq!(
        urls,
        [
            "?utm_source=news&utm_campaign=launch",
            "?route=cart&run=R",
            "?route=checkout&run=R",
            "?route=cart&run=R",
            "?route=cart&run=R#/paid",
            "?route=cart&run=R#/paid",
        ],
        "one page view per route change and one per load"
    );

    assert_eq!(count("Application Installed"), 1);
    assert_eq!(count("Application Updated"), 0);
    let mut opened = by_name["Application Opened"].clone();
    opened.sort_by_key(|v| v["originalTimestamp"].as_str().unwrap().to_owned());
    let cold: Vec<bool> = opened
        .iter()
        .map(|v| v["properties"]["coldStart"].as_bool().unwrap())
        .collect();
    assert_eq!(
        cold,
        [true, false],
        "cold on the first load, warm on the reload"
    );
    assert_eq!(opened[0]["properties"]["version"], "2.0.0");
    let session = &opened[0]["sessionId"];
    assert!(session.is_i64(), "{}", opened[0]);
    assert_eq!(
        &opened[1]["sessionId"], session,
        "a reload continues the session"
    );

    let crashes = &by_name["Application Crashed"];
    let mut sources: Vec<&str> = crashes
        .iter()
        .map(|v| v["properties"]["source"].as_str().unwrap())
        .collect();
    sources.sort_unstable();
    assert_eq!(sources, ["error", "unhandledrejection"]);
    for c in crashes {
        let p = &c["properties"];
        assert_eq!(p["fatal"], false);
        assert_eq!(p["appVersion"], "2.0.0");
        assert_eq!(p["stackHash"].as_str().map(str::len), Some(16), "{c}");
        // The engine's own stack format, frames in the page's code.
        let stack = p["stack"].as_str().unwrap();
        assert!(stack.contains("/test/browser/page.html"), "{c}");
        if e.name == "chromium" {
            assert!(
                stack.starts_with(p["type"].as_str().unwrap()) && stack.contains("\n    at "),
                "{c}"
            );
        } else {
            assert!(stack.contains("@http://"), "{c}");
        }
        assert_eq!(&c["sessionId"], session, "a crash is tied to its session");
    }
    let boom = crashes
        .iter()
        .find(|c| c["properties"]["source"] == "error")
        .unwrap();
    assert!(
        boom["properties"]["message"]
            .as_str()
            .unwrap()
            .contains("boom in a click handler")
    );
    let nope = crashes
        .iter()
        .find(|c| c["properties"]["source"] == "unhandledrejection")
        .unwrap();
    assert_eq!(nope["properties"]["type"], "TypeError");

    // The landing's campaign goes on the first event recorded once the page
    // has opened (the session began a moment before, with the core), only.
    let tagged: Vec<_> = got
        .iter()
        .map(|e| &e.value)
        .filter(|v| !v["context"]["campaign"].is_null())
        .collect();
    assert_eq!(tagged.len(), 1, "{tagged:?}");
    assert_eq!(tagged[0]["event"], "Application Installed");
    assert_eq!(tagged[0]["context"]["campaign"]["source"], "news");
    assert_eq!(tagged[0]["context"]["campaign"]["name"], "launch");
}

/// Server settings flipped while the page sends: a kill switch for one
/// event (stops after the next upload, counted `disabled_by_server`,
/// resumed when cleared) and a sampling rate (the kept share within 5 %),
/// checked in Kafka and in the gateway's count of the client reports.
fn a_page_obeys_a_kill_switch_and_a_sampling_rate_flipped_while_it_sends(e: Engine) {
    let r = run_scenario(e, "settings", true);
    let (noisy, often) = (
        r.done["noisy"].as_u64().unwrap(),
        r.done["often"].as_u64().unwrap(),
    );
    let stats = &r.done["stats"];
    let sampled = stats["dropped"]["sampled_out"].as_u64().unwrap_or(0);
    let kept = often as f64 / 2_000.0;
    report(format_args!(
        "web settings ({}): Noisy sent {noisy} (10 disabled_by_server), sampling at 0.3 kept {kept:.3} of 2000, {sampled} sampled_out",
        e.name
    ));
    assert_eq!(noisy, 15);
    assert_eq!(stats["dropped"]["disabled_by_server"], 10);
    assert!((kept - 0.3).abs() < 0.05, "kept share {kept}");
    assert_eq!(sampled + often, 2_000);
    assert!(stats["settingsVersion"].is_string());

    // What the page kept is what reached Kafka, once each.
    let got = consume(
        &kafka(),
        &[format!("{}unrouted", r.prefix)],
        (noisy + often) as usize,
        Duration::from_secs(3),
        Duration::from_secs(90),
    );
    let mine = |name: &str| {
        got.iter()
            .filter(|e| e.value["event"] == name && e.value["properties"]["run"] == r.run.as_str())
            .count() as u64
    };
    assert_eq!(mine("Noisy"), noisy);
    assert_eq!(mine("Often"), often);

    // The page's drops reached the gateway in its client reports.
    let metrics = r.done["metrics"].as_str().unwrap();
    let reported = |reason: &str| client_dropped(metrics, reason);
    assert_eq!(reported("disabled_by_server"), 10);
    assert_eq!(reported("sampled_out"), sampled);
}
