//! Tributary for iOS and Android: the sdk-core engine and its native
//! platform pack (file storage, rustls HTTP, worker thread) behind a small,
//! stable UniFFI interface. Swift and Kotlin bindings are generated from the
//! built library (`scripts/gen-bindings`); thin idiomatic layers in
//! `kotlin/` and `swift/` sit on top.
//!
//! The interface, in one place:
//!
//! * [`Tributary`] — the client: `track`, `identify`, `screen`, `group`,
//!   `alias`, `flush(deadline)`, `reset`, consent, lifecycle, network hints;
//! * [`TributaryConfig`] — write key, endpoint, storage directory, limits;
//! * [`TributaryError`] — typed errors (no field is called `message`: it
//!   would clash with Kotlin's `Throwable.message`);
//! * [`HttpSender`] — the HTTP stack that performs uploads. The Kotlin and
//!   Swift layers pass a default (`HttpURLConnection`, `URLSession`); an app
//!   may pass its own (OkHttp, a configured session).
//!
//! Why the platform does HTTP on mobile: the OS stack brings the device's
//! trust store, proxy settings and certificate pinning policies, and the
//! library stays small — rustls, ring and a root store would add about
//! 1 MB to every app (measured: 2.4 MB with them, under 1.5 MB without).
//! The engine still decides what to send and what every response means.
//!
//! Properties and traits cross the boundary as a JSON object string,
//! checked on entry: the idiomatic layers turn `Map<String, Any?>` /
//! `[String: Any]` into it, which reads naturally on both sides and keeps
//! the FFI surface small.

mod client;
mod transport;
mod types;

pub use client::{BeforeSendPlugin, Tributary};
pub use transport::{HttpOutcome, HttpRequest, HttpSender};
pub use types::{
    Consent, DeviceContext, FlushReport, Lifecycle, Stats, TributaryConfig, TributaryError,
};

uniffi::setup_scaffolding!("tributary");
