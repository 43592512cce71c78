//! Health metrics from a synthetic stream with known counts: crash-free
//! sessions and users, handled errors per session, session length, event
//! counts, and bounded labels (top-N versions, no user ids).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use serde_json::json;
use std::borrow::Cow;
use std::sync::Arc;
use tributary_pipeline::config::HealthConfig;
use tributary_pipeline::metrics::PipelineMetrics;
use tributary_pipeline::payload::{Layout, Payload};
use tributary_pipeline::rows::EventRow;

/// Rows borrow their text from the Kafka record; a test's rows live for the
/// whole test.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn event(
    name: &str,
    user: &str,
    session: i64,
    version: &str,
    props: serde_json::Value,
) -> EventRow<'static> {
    // No schema: `durationMs` is read from the undeclared properties.
    let layout = Arc::new(Layout::default());
    let payload = Payload::read(&layout, leak(props.to_string()).as_bytes()).unwrap();
    EventRow {
        offset: 0,
        message_id: leak(format!("{user}-{name}-{session}")),
        event_type: "track",
        event_name: leak(name.to_owned()),
        app_id: "shop",
        schema_id: None,
        event_time_ms: 1_764_064_800_000,
        client_time_ms: Some(1_764_064_799_000),
        sent_at_ms: None,
        received_at_ms: 1_764_064_800_000,
        kafka_time_ms: 1_764_064_800_005,
        user_id: Some(leak(user.to_owned())),
        anonymous_id: None,
        session_id: Some(session),
        app_version: Some(Cow::Owned(version.to_owned())),
        context: None,
        custom_attributes: None,
        extra: None,
        enrichment: None,
        layout,
        payload,
    }
}

fn value(text: &str, metric: &str, labels: &str) -> f64 {
    let prefix = format!("{metric}{{{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn crash_free_rates_error_rates_and_sessions_from_a_known_stream() {
    let (metrics, health) = PipelineMetrics::new(HealthConfig {
        top_versions: 1,
        ..HealthConfig::default()
    });
    let now = 1_764_064_801_000;
    // Version 1.0: 8 users, one session each; users 0 and 1 crash (user 0
    // twice in the same session); 3 handled errors; 8 sessions end after 60 s.
    for u in 0..8 {
        let user = format!("user-{u}");
        health.observe(
            &event("Session Started", &user, 100 + u, "1.0", json!({})),
            now,
        );
        health.observe(
            &event(
                "Order Completed",
                &user,
                100 + u,
                "1.0",
                json!({"total": 1}),
            ),
            now,
        );
        health.observe(
            &event(
                "Session Ended",
                &user,
                100 + u,
                "1.0",
                json!({"durationMs": 60_000}),
            ),
            now,
        );
    }
    for (u, times) in [(0, 2), (1, 1)] {
        for _ in 0..times {
            health.observe(
                &event(
                    "Application Crashed",
                    &format!("user-{u}"),
                    100 + u,
                    "1.0",
                    json!({"type": "SIGSEGV", "stackHash": "ab"}),
                ),
                now,
            );
        }
    }
    for u in 2..5 {
        health.observe(
            &event(
                "Handled Error",
                &format!("user-{u}"),
                100 + u,
                "1.0",
                json!({"type": "Timeout"}),
            ),
            now,
        );
    }
    // Version 2.0: 2 users, no crash; past top_versions = 1, so `other`.
    for u in 0..2 {
        health.observe(
            &event(
                "Session Started",
                &format!("new-{u}"),
                900 + u,
                "2.0",
                json!({}),
            ),
            now,
        );
    }

    let text = metrics.render();
    let v1 = r#"app="shop",app_version="1.0""#;
    let other = r#"app="shop",app_version="other""#;
    let p = "tributary_pipeline_health_";
    assert_eq!(value(&text, &format!("{p}sessions"), v1), 8.0);
    assert_eq!(value(&text, &format!("{p}crashed_sessions"), v1), 2.0);
    assert_eq!(
        value(&text, &format!("{p}crash_free_sessions_ratio"), v1),
        0.75
    );
    assert_eq!(value(&text, &format!("{p}users"), v1), 8.0);
    assert_eq!(
        value(&text, &format!("{p}crash_free_users_ratio"), v1),
        0.75
    );
    assert_eq!(value(&text, &format!("{p}crashes"), v1), 3.0);
    assert_eq!(value(&text, &format!("{p}handled_errors"), v1), 3.0);
    assert_eq!(
        value(&text, &format!("{p}handled_errors_per_session"), v1),
        0.375
    );
    assert_eq!(
        value(&text, &format!("{p}crash_free_sessions_ratio"), other),
        1.0
    );
    assert_eq!(value(&text, &format!("{p}users"), other), 2.0);
    assert!(
        !text.contains(r#"app_version="2.0""#),
        "only the top version is labelled"
    );
    assert_eq!(
        value(
            &text,
            &format!("{p}events_total"),
            r#"app="shop",event="Order Completed""#
        ),
        8.0
    );
    assert_eq!(
        value(
            &text,
            &format!("{p}session_length_seconds_count"),
            r#"app="shop""#
        ),
        8.0
    );
    assert_eq!(
        value(
            &text,
            &format!("{p}session_length_seconds_sum"),
            r#"app="shop""#
        ),
        480.0
    );
    assert_eq!(
        value(
            &text,
            &format!("{p}latency_seconds_count"),
            r#"stage="device_to_gateway""#
        ),
        32.0
    );
    assert!(!text.contains("user-"), "user ids never become labels");
}

#[test]
fn event_names_past_the_limit_are_counted_as_other() {
    let (metrics, health) = PipelineMetrics::new(HealthConfig {
        max_event_names: 2,
        ..HealthConfig::default()
    });
    let now = 1_764_064_801_000;
    for name in ["A", "B", "C", "D", "A", "C"] {
        health.observe(&event(name, "u", 1, "1.0", json!({})), now);
    }
    let text = metrics.render();
    let count = |event: &str| {
        value(
            &text,
            "tributary_pipeline_health_events_total",
            &format!(r#"app="shop",event="{event}""#),
        )
    };
    assert_eq!((count("A"), count("B"), count("other")), (2.0, 1.0, 3.0));
    assert!(!text.contains(r#"event="C""#), "{text}");
}
