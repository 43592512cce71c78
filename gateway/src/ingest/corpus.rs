//! The fixed event-path corpus (`gateway/tests/data`): the configuration it
//! is decided under and its batches, shared by the decide step's tests
//! (which compare its records with aff7db2's byte for byte) and the
//! `event_path` and `ingest_event` benches (`scripts/bench-instructions`).
//! Not used when serving traffic.

use crate::config::{Config, RouteConfig, SchemaSourceKind, UnregisteredPolicy};
use std::collections::HashSet;
use std::path::PathBuf;
use tributary_contract::time::Timestamp;

/// The app every corpus event is sent as.
pub const APP: &str = "shop";

/// A route for each of `events`, to its default topic.
pub fn routes(events: &[&str]) -> Vec<RouteConfig> {
    events
        .iter()
        .map(|e| RouteConfig {
            event: (*e).into(),
            app: None,
            topic: None,
            ack: None,
            cluster: None,
        })
        .collect()
}

/// The repository's schema directory.
pub fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

/// Routes for the two shop events and, `with_registry`, the repository's
/// schemas with unregistered events accepted.
pub fn config(with_registry: bool) -> Config {
    let mut config = Config::default();
    config.routing.routes = routes(&["Order Completed", "Checkout Started"]);
    if with_registry {
        config.schemas.source = SchemaSourceKind::Dir;
        config.schemas.dir = schemas_dir();
        config.schemas.unregistered = UnregisteredPolicy::Accept;
    }
    config
}

/// The event names the corpus's write key may send.
pub fn allowed_events() -> HashSet<String> {
    [
        "Order Completed",
        "Checkout Started",
        "Unknown Thing",
        "identify",
        "page",
        "screen",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// The corpus's receipt time and batches (the first eight are the
/// benchmark's standard mix).
pub fn load() -> Result<(Timestamp, Vec<String>), String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/event_path_corpus.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let at = v["received_at"]
        .as_str()
        .and_then(tributary_contract::time::parse)
        .ok_or("corpus: no received_at")?;
    let batches = v["batches"]
        .as_array()
        .ok_or("corpus: no batches")?
        .iter()
        .filter_map(|b| b.as_str().map(str::to_owned))
        .collect();
    Ok((at, batches))
}
