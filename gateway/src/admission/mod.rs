//! Admission: deciding whether a request may enter, before and while its
//! body is read.
//!
//! * [`client_ip`] — the client's address, through trusted proxies only;
//! * [`overload`] — bounded requests and bytes in progress, load shedding;
//! * [`auth`] — write keys (hashed, constant-time), per-key bindings;
//! * [`key_store`] — the keys in force, reloaded on SIGHUP or file change;
//! * [`rate_limit`] — GCRA limits per key and per client IP;
//! * [`quota`] — events per app per day and per month, shared by replicas
//!   through Redis;
//! * [`signature`] — optional HMAC request signing with a replay window.

pub mod auth;
pub mod client_ip;
pub mod key_store;
pub mod overload;
pub mod quota;
pub mod rate_limit;
pub mod signature;

pub use auth::{Principal, WriteKeys};
pub use overload::Overload;
pub use rate_limit::{IpLimiter, Limited};
