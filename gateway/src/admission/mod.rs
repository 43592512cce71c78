//! Admission: deciding whether a request may enter at all, before its body
//! is read. Today that is authentication by write key.

pub mod auth;

pub use auth::{Principal, WriteKeys};
