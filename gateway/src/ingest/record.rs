//! The decide step: one event of a request in, one record to send (or the
//! event's rejection) out. It is pure — no I/O, no Kafka — so every
//! rejection and every header is unit-tested here; delivery then only
//! sends what was decided.
//!
//! Per event, in order: checks and stamps ([`event::check`]), the edge
//! stage (suppression, enrichment, privacy rules: [`edge`]), the write
//! key's permission, the route, validation of what will be stored and
//! the value in its schema encoding ([`validate::check`]), then the
//! envelope headers and the key.
//! Everything is written into the request's [`RecordBatch`], borrowing
//! from the request body; a rejected event leaves nothing behind.

use super::batch::RawBatch;
use super::edge::{Dropped, Edge, EdgeStage};
use super::event;
use super::hot_keys::HotKeys;
use super::validate::{self, Checked, Lookup};
use crate::config::{AckMode, LimitsConfig, UnregisteredPolicy};
use crate::delivery::{RecordBatch, Router};
use std::collections::HashSet;
use tributary_contract::envelope::{EnvelopeRef, HeaderScratch};
use tributary_contract::time::Timestamp;
use tributary_contract::view::ScannedEvent;
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
    /// The per-user rate (`None` when `[hot_keys]` is off).
    pub hot_keys: Option<&'s HotKeys>,
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

/// What is looked up per event name is remembered for the request: a
/// batch holds few event types, a registry lookup builds the subject name
/// and the permission check hashes the name.
const REMEMBERED_NAMES: usize = 16;

/// One event name's permission and schema, for the sender of a request.
struct Known {
    name: String,
    allowed: bool,
    schema: Option<Resolved>,
}

/// Decides the events of one request.
pub struct Decider<'s> {
    rules: Rules<'s>,
    sender: Sender<'s>,
    received_at: Timestamp,
    known: Vec<Known>,
    /// Reused for formatted header values.
    scratch: HeaderScratch,
    /// Reused for the `tb-extra` object.
    extra: Vec<u8>,
    /// Suppression, enrichment and privacy; `None` when all are off.
    edge: Option<EdgeStage<'s>>,
    /// Events dropped at the edge, by reason.
    dropped: Vec<(Dropped, usize)>,
    /// Events of users over their rate, sent without their key.
    hot: usize,
    /// When the request's events are charged to their users' rates.
    now: std::time::Instant,
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
            known: Vec::new(),
            scratch: HeaderScratch::default(),
            extra: Vec::with_capacity(64),
            edge: None,
            dropped: Vec::new(),
            hot: 0,
            now: std::time::Instant::now(),
        }
    }

    /// Runs the edge stage described by `edge` on every event (unless it
    /// has nothing to do).
    pub fn with_edge(mut self, edge: Edge<'s>) -> Decider<'s> {
        let stage = EdgeStage::new(edge);
        self.edge = stage.is_on().then_some(stage);
        self
    }

    /// Events dropped at the edge so far, by reason: answered as accepted
    /// (the client must not retry them) but not sent.
    pub fn dropped(&self) -> &[(Dropped, usize)] {
        &self.dropped
    }

    /// Events sent without their key so far, their user being over its
    /// rate (`[hot_keys]`).
    pub fn hot(&self) -> usize {
        self.hot
    }

    fn count_drop(&mut self, why: Dropped) {
        match self.dropped.iter_mut().find(|(d, _)| *d == why) {
            Some((_, n)) => *n += 1,
            None => self.dropped.push((why, 1)),
        }
    }

    /// Whether the sender may send `name`, and its schema.
    fn known(&mut self, name: &str) -> (bool, Option<Resolved>) {
        if let Some(k) = self.known.iter().find(|k| k.name == name) {
            return (k.allowed, k.schema.clone());
        }
        let allowed = self
            .sender
            .allowed_events
            .is_none_or(|set| set.contains(name));
        let schema = self
            .rules
            .registry
            .and_then(|r| r.for_event(self.sender.app_id, name));
        if self.known.len() < REMEMBERED_NAMES {
            self.known.push(Known {
                name: name.to_owned(),
                allowed,
                schema: schema.clone(),
            });
        }
        (allowed, schema)
    }

    /// Decides event `index` of `batch` (as read: `event`): appends its
    /// record to `out`, or returns why it is rejected. An event dropped at
    /// the edge appends nothing and is counted in [`Decider::dropped`].
    pub fn decide<'b>(
        &mut self,
        batch: &RawBatch<'b>,
        index: usize,
        event: &ScannedEvent<'b>,
        out: &mut RecordBatch,
    ) -> Result<(), EventRejection> {
        let (view, stamps) = event::check(event, batch, self.rules.limits, self.received_at)
            .map_err(|e| rejection(index, e.code, e.message))?;
        let applied = match &mut self.edge {
            None => None,
            Some(stage) => {
                let context = view
                    .context_json(batch.compact_context.as_deref())
                    .ok()
                    .flatten();
                match stage.apply(&view, context.as_deref()) {
                    Ok(a) => Some(a),
                    Err(why) => {
                        self.count_drop(why);
                        return Ok(());
                    }
                }
            }
        };
        // From here on the event is what will be stored; its context is
        // already merged with the batch's when the edge stage ran.
        let (view, batch_context, compact_batch_context) = match &applied {
            Some(a) => (a.onto(view), None, None),
            None => (view, batch.context, batch.compact_context.as_deref()),
        };
        let name = view.routing_name();
        let (allowed, resolved) = self.known(name);
        if !allowed {
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
                    view.context_json(compact_batch_context).ok().flatten(),
                    view.write_extra_fields(&mut self.extra).unwrap_or(false),
                )
            }
            Checked::NoRegistry | Checked::Unvalidated => {
                if let Err(e) = event::write_normalised(&view, &stamps, batch_context, out.buffer())
                {
                    out.roll_back(mark);
                    return Err(rejection(index, e.code, e.message));
                }
                (None, Encoding::Json, None, false)
            }
        };
        let value = out.written_since(value_start);
        let partition_key = view.partition_key();
        let hot = self
            .rules
            .hot_keys
            .is_some_and(|h| h.is_hot(self.sender.app_id, partition_key, self.now));
        self.hot += usize::from(hot);
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
            custom_attributes: view.custom_attributes,
            unrouted: target.unrouted,
            user_id: view.user_id.as_deref(),
            anonymous_id: view.anonymous_id.as_deref(),
            context: context.as_deref(),
            extra: has_extra
                .then(|| std::str::from_utf8(&self.extra).ok())
                .flatten(),
            unvalidated: checked == Checked::Unvalidated,
            enrichment: applied.as_ref().and_then(|a| a.enrichment.as_deref()),
            hot_key: hot,
        };
        envelope.write_headers(&mut self.scratch, |name, value| out.header(name, value));
        // No key: the producer spreads keyless records over the partitions.
        let key = out.push_bytes(if hot { b"" } else { partition_key.as_bytes() });
        let (topic, cluster) = match (hot, router.overflow()) {
            (true, Some(overflow)) => (overflow.topic.clone(), overflow.cluster),
            _ => (target.topic.clone(), target.cluster),
        };
        let mode = target
            .ack
            .or(self.sender.ack)
            .unwrap_or(self.rules.default_ack);
        out.finish(
            mark,
            index,
            topic,
            cluster,
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
