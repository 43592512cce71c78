//! Tributary's schema registry: the contract between the apps that produce
//! events and the teams that consume them.
//!
//! * [`schema`] — one registered version, subject naming and ids;
//! * [`catalog`] — an immutable snapshot of every version;
//! * [`dir`] — the schema directory source (schemas kept in git);
//! * [`confluent`] — a Confluent Schema Registry client (the other source,
//!   and the target of `tributary-schema register`);
//! * [`registry`] — what a gateway or pipeline holds: the catalog in force
//!   and compiled validators, shared, reloaded without a restart;
//! * [`compiled`] — validation and schema encoding of one payload into the
//!   Confluent wire format, and decoding back;
//! * [`plan`] (private) — the one-walk fast path of `compiled`;
//! * [`compat`] — BACKWARD / FORWARD / FULL compatibility rules for JSON
//!   Schema and protobuf, run in CI by `tributary-schema check`;
//! * [`reserved`] — the app-health schemas every app gets;
//! * [`shape`] — a payload's properties and their types, from either
//!   schema language (one model for codegen and the pipeline's columns);
//! * [`codegen`] — typed tracking code (TypeScript, Kotlin, Swift) from an
//!   app's schemas, run by `tributary-schema codegen`.
//!
//! The record framing itself is part of the wire contract
//! (`tributary_contract::wire`).

pub mod catalog;
pub mod codegen;
pub mod compat;
pub mod compiled;
pub mod confluent;
pub mod dir;
mod plan;
pub mod registry;
pub mod reserved;
pub mod schema;
pub mod shape;

pub use catalog::Catalog;
pub use compiled::{Compiled, JsonValidator, Rejection, SchemaError};
pub use registry::{Registry, Resolved, Source};
pub use schema::{Schema, SchemaType, subject_for};
