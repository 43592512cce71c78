//! The live event debugger: what a developer watches while instrumenting
//! an app (Segment's Debugger, Snowplow Micro, Glean's Debug View). For the
//! app of one write key it shows every event's decision as it is made —
//! accepted (the enriched envelope, the value and the topic) or rejected
//! (code, JSON pointer, rule) — on a page the gateway serves
//! (`GET /debug`, [`PAGE`]), streamed as Server-Sent Events.
//!
//! * [`hub`] — the viewers and a bounded ring per watched app; publishing
//!   never waits, and past `debugger.events_per_second` events are only
//!   counted;
//! * [`entry`] — one decided request turned into the entries viewers see,
//!   after the edge stage, so the app's privacy rules are already applied.
//!
//! Off by default; with `debugger.enabled` the page and its stream need
//! `privacy.admin_token` (HTTP Basic password, or a Bearer token). Nothing is
//! built for an app that nobody watches.

pub mod entry;
pub mod hub;

pub use hub::Hub;

/// The debugger page: one HTML file, no external resources.
pub const PAGE: &str = include_str!("page.html");
