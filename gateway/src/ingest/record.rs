//! The decide step: one event of a request in, one record to send (or the
//! event's rejection) out. It is pure — no I/O, no Kafka — so every
//! rejection and every header is unit-tested here; delivery then only
//! sends what was decided.
//!
//! Per event, in order: checks and stamps ([`event::check`]), the write
//! key's permission, the route, validation and the value in its schema
//! encoding ([`validate::check`]), then the envelope headers and the key.
//! Everything is written into the request's [`RecordBatch`], borrowing
//! from the request body; a rejected event leaves nothing behind.

use super::batch::RawBatch;
use super::event;
use super::validate::{self, Checked, Lookup};
use crate::config::{AckMode, LimitsConfig, UnregisteredPolicy};
use crate::delivery::{RecordBatch, Router};
use std::collections::HashSet;
use tributary_contract::envelope::EnvelopeRef;
use tributary_contract::time::Timestamp;
use tributary_contract::{Encoding, ErrorCode, EventRejection};
use tributary_schema::{Registry, Resolved};

/// What the decision depends on besides the event: fixed for the gateway
/// (until a reload).
#[derive(Clone, Copy)]
pub struct Rules<'s> {
    /// Size and shape limits.
    pub limits: &'s LimitsConfig,
    /// Event → topic.
    pub router: &'s Router,
    /// The schemas; `None` when validation is off.
    pub registry: Option<&'s Registry>,
    /// `[delivery] ack`.
    pub default_ack: AckMode,
}

/// Who sent the request, as far as the decision is concerned.
#[derive(Clone, Copy)]
pub struct Sender<'s> {
    /// App id of the write key.
    pub app_id: &'s str,
    /// The key's own delivery mode.
    pub ack: Option<AckMode>,
    /// Event names the key may send; `None` = all.
    pub allowed_events: Option<&'s HashSet<String>>,
    /// The app's policy for events without a schema.
    pub unregistered: UnregisteredPolicy,
}

/// Schemas looked up per request are remembered by event name: a batch
/// holds few event types, and a registry lookup builds the subject name.
const REMEMBERED_SCHEMAS: usize = 16;

/// Decides the events of one request.
pub struct Decider<'s> {
    rules: Rules<'s>,
    sender: Sender<'s>,
    received_at: Timestamp,
    schemas: Vec<(String, Option<Resolved>)>,
    /// Reused for the `tb-extra` object and formatted header values.
    scratch: Vec<u8>,
    extra: Vec<u8>,
}

fn rejection(index: usize, code: ErrorCode, message: String) -> EventRejection {
    EventRejection {
        index,
        code,
        message,
        retryable: code.retryable(),
        pointer: None,
        rule: None,
    }
}

impl<'s> Decider<'s> {
    /// A decider for one request received at `received_at`.
    pub fn new(rules: Rules<'s>, sender: Sender<'s>, received_at: Timestamp) -> Decider<'s> {
        Decider {
            rules,
            sender,
            received_at,
            schemas: Vec::new(),
            scratch: Vec::with_capacity(64),
            extra: Vec::with_capacity(64),
        }
    }

    fn schema(&mut self, name: &str) -> Option<Resolved> {
        let registry = self.rules.registry?;
        if let Some((_, r)) = self.schemas.iter().find(|(n, _)| n == name) {
            return r.clone();
        }
        let found = registry.for_event(self.sender.app_id, name);
        if self.schemas.len() < REMEMBERED_SCHEMAS {
            self.schemas.push((name.to_owned(), found.clone()));
        }
        found
    }

    /// Decides event `index` of `batch` (its raw JSON is `raw`): appends
    /// its record to `out`, or returns why it is rejected.
    pub fn decide<'b>(
        &mut self,
        batch: &RawBatch<'b>,
        index: usize,
        raw: &'b str,
        out: &mut RecordBatch,
    ) -> Result<(), EventRejection> {
        let (view, stamps) = event::check(raw, batch, self.rules.limits, self.received_at)
            .map_err(|e| rejection(index, e.code, e.message))?;
        let name = view.routing_name();
        if self
            .sender
            .allowed_events
            .is_some_and(|set| !set.contains(name))
        {
            return Err(rejection(
                index,
                ErrorCode::EventNotAllowed,
                format!("this write key may not send {name:?}"),
            ));
        }
        let router = self.rules.router;
        let Some(target) = router.route(self.sender.app_id, &view) else {
            return Err(rejection(
                index,
                ErrorCode::UnroutedEvent,
                format!("no route for event {name:?} and routing.unrouted is reject"),
            ));
        };
        let resolved = self.schema(name);
        let lookup = match (&self.rules.registry, &resolved) {
            (None, _) => Lookup::Off,
            (Some(_), None) => Lookup::Missing,
            (Some(_), Some(r)) => Lookup::Found(r),
        };
        let mark = out.mark();
        let value_start = out.buffer().len();
        let checked = validate::check(
            lookup,
            self.sender.unregistered,
            self.sender.app_id,
            &view,
            out.buffer(),
        )
        .map_err(|r| EventRejection {
            index,
            code: r.code,
            message: r.message,
            retryable: r.code.retryable(),
            pointer: r.pointer,
            rule: r.rule,
        })?;
        let target = match (checked, router.unvalidated()) {
            (Checked::Unvalidated, Some(t)) => t,
            _ => target,
        };
        // A schema-encoded value holds only the payload: the context and
        // the other top-level fields travel in headers.
        let (schema_id, encoding, context, has_extra) = match checked {
            Checked::Encoded {
                schema_id,
                encoding,
            } => {
                self.extra.clear();
                (
                    Some(schema_id),
                    encoding,
                    view.context_json(batch.context).ok().flatten(),
                    view.write_extra_fields(&mut self.extra).unwrap_or(false),
                )
            }
            Checked::NoRegistry | Checked::Unvalidated => {
                if let Err(e) = event::write_normalised(&view, &stamps, batch, out.buffer()) {
                    out.roll_back(mark);
                    return Err(rejection(index, e.code, e.message));
                }
                (None, Encoding::Json, None, false)
            }
        };
        let value = out.written_since(value_start);
        let envelope = EnvelopeRef {
            event_type: view.kind,
            event_name: name,
            message_id: &view.message_id,
            app_id: self.sender.app_id,
            schema_id,
            encoding,
            timestamp: stamps.timestamp,
            client_timestamp: stamps.original_timestamp,
            sent_at: stamps.sent_at,
            received_at: self.received_at,
            custom_attributes: view.custom_attributes.map(|c| c.get()),
            unrouted: target.unrouted,
            user_id: view.user_id.as_deref(),
            anonymous_id: view.anonymous_id.as_deref(),
            context: context.as_deref(),
            extra: has_extra
                .then(|| std::str::from_utf8(&self.extra).ok())
                .flatten(),
            unvalidated: checked == Checked::Unvalidated,
        };
        envelope.write_headers(&mut self.scratch, |name, value| out.header(name, value));
        let key = out.push_bytes(view.partition_key().as_bytes());
        let mode = target
            .ack
            .or(self.sender.ack)
            .unwrap_or(self.rules.default_ack);
        out.finish(
            mark,
            index,
            target.topic.clone(),
            target.cluster,
            mode,
            self.received_at.timestamp_millis(),
            key,
            value,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests;
