//! Schemas compiled into plans for one walk over a payload's JSON text
//! (with `tributary_contract::scan::Reader`): the fast path of
//! [`Compiled::encode`](crate::Compiled::encode).
//!
//! * [`json_schema`] — "valid for sure" for the JSON Schema keywords event
//!   schemas use;
//! * [`protobuf`] — JSON straight to protobuf wire bytes.
//!
//! A plan only ever answers "done" or "not sure"; "not sure" sends the
//! payload down the general path, which alone writes rejections. So the
//! plans change the cost of an event, never its outcome.

pub(crate) mod json_schema;
pub(crate) mod protobuf;
