//! Tributary's device SDK engine: one Rust core that buffers, batches,
//! compresses and retries analytics events identically on every platform
//! (web via WASM, iOS and Android via UniFFI, desktop and servers natively).
//!
//! # Sans-IO
//!
//! The [`Engine`] owns the queue, batching, retry policy and every decision,
//! but never opens a socket, reads a clock or sleeps. A platform drives it:
//!
//! ```text
//! loop {
//!     match engine.next_task(clock.now_ms()) {
//!         UploadTask::Upload(req) => {
//!             let result = http.send(&req);            // platform I/O
//!             engine.on_response(req.id, result, clock.now_ms());
//!         }
//!         UploadTask::Wait(d) => sleep_or_wake_on_new_events(d),
//!         UploadTask::Done => sleep_until_new_events(),
//!     }
//! }
//! ```
//!
//! The platform supplies a [`Storage`] (where queued events persist) and the
//! current time with each call. Everything else — what to send, when, what a
//! response means, what to drop and why — is decided here, so every platform
//! behaves the same.
//!
//! # Modules
//!
//! * [`config`] — limits and policy knobs, with defaults;
//! * [`settings`] — the server's settings: fetching, bounds, per-event verdicts;
//! * [`autocapture`] — what lifecycle, screens, crashes and campaigns become;
//! * [`plugins`] — the app's before-send hooks;
//! * [`engine`] — the public API (`track`, `identify`, …) and the upload state machine;
//! * [`drops`] — drop counts by reason;
//! * [`debug`] — the debug log: a line per decision for the platform console;
//! * [`event`] — an event as recorded, written to JSON;
//! * [`json`] — the little JSON the engine reads and writes by hand;
//! * [`queue`] — the bounded in-memory index of stored events and eviction;
//! * [`storage`] — the persistence trait, its record types, and an in-memory store;
//! * [`upload`] — upload tasks, requests and results;
//! * [`policy`] — backoff and the meaning of each response;
//! * [`session`] — session tracking;
//! * [`context`] — device and app context, sent once per batch;
//! * [`ids`] — message ids (UUIDv7) and the engine's PRNG;
//! * `native` (feature `native`) — file storage, HTTP transport, worker thread.

pub mod autocapture;
pub mod config;
pub mod context;
pub mod debug;
pub mod drops;
pub mod engine;
pub mod event;
pub mod ids;
pub mod json;
#[cfg(feature = "plugins")]
pub mod plugins;
pub mod policy;
pub mod queue;
pub mod session;
pub mod settings;
pub mod storage;
pub mod upload;

#[cfg(feature = "native")]
pub mod native;

pub use autocapture::{AutoCaptureConfig, AutoKind, Crash, Opened};
pub use config::{Consent, SdkConfig};
pub use context::Context;
pub use drops::DropCounts;
pub use engine::{Engine, EngineStats, EnqueueError};
pub use json::JsonObject;
#[cfg(feature = "plugins")]
pub use plugins::BeforeSend;
pub use storage::{MemoryStorage, Priority, Storage, StorageError, StoredEvent};
pub use tributary_contract::{DropReason, RemoteSettings};
pub use upload::{RequestKind, UploadRequest, UploadResult, UploadTask};
