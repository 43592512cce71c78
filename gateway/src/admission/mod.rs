//! Admission: deciding whether a request may enter, before and while its
//! body is read.
//!
//! * [`overload`] — bounded requests and bytes in progress, load shedding;
//! * [`auth`] — write keys (hashed, constant-time), per-key bindings;
//! * [`rate_limit`] — GCRA limits per key and per client IP.

pub mod auth;
pub mod overload;
pub mod rate_limit;

pub use auth::{Principal, WriteKeys};
pub use overload::Overload;
pub use rate_limit::{IpLimiter, Limited};
