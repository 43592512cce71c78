//! The ingest endpoints: `POST /v1/batch` and `POST /v1/<kind>`.
//!
//! The request walks the stages in order — admit, decode, parse, then per
//! event: check, route, enrich, deliver — and the response lists each
//! event's outcome. Status codes:
//!
//! * 200 — processed; at least one event was delivered in `broker` mode (or
//!   none was accepted). The body lists rejections.
//! * 202 — processed; every accepted event was queued in `buffered` mode.
//! * 4xx — the request as a whole is refused (see [`ErrorCode`]).
//! * 503 + `Retry-After` — no event could be handed to Kafka; retry.

use super::idempotency::{self, Cached, Claim};
use super::{AppState, Peer, json_bytes, json_response};
use crate::admission::Limited;
use crate::admission::Principal;
use crate::admission::auth::query_param;
use crate::admission::signature;
use crate::config::AckMode;
use crate::delivery::producer::dead_letter_headers;
use crate::delivery::spool::SpoolRecord;
use crate::delivery::{AckWaiter, OutRecord, Pending};
use crate::ingest::batch::{self, BatchRoute, RawBatch};
use crate::ingest::validate::{self, Checked};
use crate::ingest::{RequestError, decode, event};
use crate::metrics::{BytesLabels, EventLabels, LimitLabels};
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Headers;
use rdkafka::message::{Header, OwnedHeaders};
use std::net::IpAddr;
use std::time::Duration;
use tributary_contract::time::{self, Timestamp};
use tributary_contract::{BatchResponse, Encoding, Envelope, ErrorBody, ErrorCode, EventRejection};

/// Request header naming a batch; retries of one batch repeat it.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Response header set when the answer is a replay of an earlier attempt's.
pub const REPLAYED: &str = "idempotent-replayed";

/// Handles one ingest request from headers and body to response.
pub async fn handle<B>(
    state: &AppState,
    route: BatchRoute,
    parts: &http::request::Parts,
    body: B,
) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match accept(state, route, parts, body).await {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    }
}

fn unauthorized(m: &str) -> RequestError {
    RequestError::new(ErrorCode::Unauthorized, m)
}

fn limited(state: &AppState, l: Limited) -> RequestError {
    state
        .metrics
        .rate_limited
        .get_or_create(&LimitLabels { limit: l.limit })
        .inc();
    let mut e = RequestError::new(
        ErrorCode::RateLimited,
        format!(
            "rate limit {} exceeded; retry after {:?}",
            l.limit, l.retry_after
        ),
    );
    e.retry_after = Some(l.retry_after_secs());
    e.limit = Some(l.limit);
    e
}

/// The client's address: the connection's peer, or the first
/// `X-Forwarded-For` hop when the gateway is told to trust it.
fn client_ip(state: &AppState, parts: &http::request::Parts) -> Option<IpAddr> {
    if state.config.rate_limits.trust_forwarded_for
        && let Some(ip) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    parts.extensions.get::<Peer>().map(|p| p.0.ip())
}

async fn accept<B>(
    state: &AppState,
    route: BatchRoute,
    parts: &http::request::Parts,
    body: B,
) -> Result<Response<Full<Bytes>>, RequestError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let headers = &parts.headers;
    let query = parts.uri.query();
    let limits = &state.config.limits;

    // Cheapest refusals first: shedding and capacity.
    let queue = state
        .clusters
        .iter()
        .map(|c| c.producer.queue_depth())
        .max()
        .unwrap_or(0);
    if state.overload.shed(queue) {
        state.metrics.shed.inc();
        let mut e = RequestError::new(
            ErrorCode::Overloaded,
            "Kafka is behind; the gateway is shedding load until it catches up",
        );
        e.retry_after = Some(2);
        return Err(e);
    }
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(limits.max_body_bytes)
        .min(limits.max_body_bytes);
    let _admission = state.overload.admit(declared).inspect_err(|_| {
        state.metrics.shed.inc();
    })?;

    // Who is asking, and within which limits.
    if let (Some(limiter), Some(ip)) = (&state.ip_limiter, client_ip(state, parts)) {
        limiter.check(ip).map_err(|l| limited(state, l))?;
    }
    let keys = state.keys.current();
    let early = keys.authenticate(headers, query).map_err(unauthorized)?;
    if let Some(l) = early.as_ref().and_then(|p| p.requests.as_ref()) {
        l.check(1).map_err(|l| limited(state, l))?;
    }

    // The body, within its time, size and inflation limits.
    let encoding = decode::content_encoding(headers)?;
    let timeout = Duration::from_millis(state.config.server.body_timeout_ms);
    let raw = tokio::time::timeout(
        timeout,
        decode::read_body(headers, body, limits.max_body_bytes),
    )
    .await
    .map_err(|_| {
        RequestError::new(
            ErrorCode::RequestTimeout,
            format!("request body not received within {timeout:?}"),
        )
    })??;
    // Signed requests: checked on the body as sent, before inflating it.
    if let Some(secret) = early.as_ref().and_then(|p| p.hmac_secret.as_deref()) {
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        state
            .signatures
            .verify(
                secret,
                header(signature::TIMESTAMP_HEADER),
                header(signature::SIGNATURE_HEADER),
                &raw,
                now,
            )
            .map_err(unauthorized)?;
    }
    let m = &state.metrics;
    m.bytes
        .get_or_create(&BytesLabels {
            stage: "compressed",
        })
        .inc_by(raw.len() as u64);
    let inflate = decode::InflateLimits {
        max_bytes: limits.max_decompressed_bytes,
        max_ratio: limits.max_compression_ratio,
    };
    let body = decode::decode(raw, encoding, inflate)?;
    m.bytes
        .get_or_create(&BytesLabels {
            stage: "decompressed",
        })
        .inc_by(body.len() as u64);
    let batch = match batch::parse(&body, route, limits.max_events_per_batch) {
        Ok(b) => b,
        // Without a key in a header or the query, a body that cannot be
        // read cannot carry one either: the request is unauthenticated.
        Err(_) if early.is_none() => {
            return Err(unauthorized(
                "no write key: send it as Basic/Bearer authorization, `writeKey` query parameter or body field",
            ));
        }
        Err(e) => return Err(e),
    };

    // Beacons carry the key in the body.
    let principal = match early {
        Some(p) => p,
        None => {
            let key = batch.write_key.as_deref().ok_or_else(|| {
                unauthorized("no write key: send it as Basic/Bearer authorization, `writeKey` query parameter or body field")
            })?;
            let p = keys
                .lookup(key)
                .ok_or_else(|| unauthorized("unknown write key"))?;
            if let Some(l) = &p.requests {
                l.check(1).map_err(|l| limited(state, l))?;
            }
            p
        }
    };
    if let Some(l) = &principal.events {
        l.check(batch.events.len() as u32)
            .map_err(|l| limited(state, l))?;
    }
    if let Some(report) = &batch.client_report {
        state.stats.client_reported_drops.add(report.total());
    }

    // A retry of a batch already answered gets that answer.
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .or_else(|| query_param(query, "idempotency_key"))
        .filter(|k| !k.is_empty() && k.len() <= idempotency::MAX_KEY_LEN);
    let ticket = match key {
        None => None,
        Some(key) => loop {
            match state.idempotency.claim(&principal.app_id, key) {
                Claim::New(t) => break Some(t),
                Claim::Done(c) => return Ok(replay(&c)),
                Claim::Wait(slot) => {
                    if let Some(c) = idempotency::wait(slot).await {
                        return Ok(replay(&c));
                    }
                    // The first attempt gave up without an answer: try again.
                }
            }
        },
    };

    let outcome = deliver(state, &principal, &batch, time::now()).await;
    m.events
        .get_or_create(&EventLabels {
            outcome: "accepted",
            code: "none",
        })
        .inc_by((outcome.accepted + outcome.acked + outcome.acked_spooled) as u64);
    for r in &outcome.rejected {
        m.events
            .get_or_create(&EventLabels {
                outcome: "rejected",
                code: r.code.as_str(),
            })
            .inc();
    }
    let (status, body) = respond(route, outcome)?;
    if let Some(t) = ticket {
        t.complete(Cached {
            status: status.as_u16(),
            body: body.clone(),
        });
    }
    Ok(json_bytes(status, body))
}

/// The remembered answer of an already-processed batch.
fn replay(c: &Cached) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(c.status).unwrap_or(StatusCode::OK);
    let mut resp = json_bytes(status, c.body.clone());
    resp.headers_mut()
        .insert(REPLAYED, http::HeaderValue::from_static("true"));
    resp
}

/// What happened to the events of one request.
#[derive(Debug, Default)]
struct Outcome {
    accepted: usize,
    acked: usize,
    /// Broker-mode events made durable in the spool (answered 200 too).
    acked_spooled: usize,
    rejected: Vec<EventRejection>,
}

impl Outcome {
    fn reject(&mut self, index: usize, code: ErrorCode, message: impl Into<String>) {
        self.rejected.push(EventRejection {
            index,
            code,
            message: message.into(),
            retryable: code.retryable(),
            pointer: None,
            rule: None,
        });
    }

    fn refuse(&mut self, index: usize, r: validate::Refusal) {
        self.rejected.push(EventRejection {
            index,
            code: r.code,
            message: r.message,
            retryable: r.code.retryable(),
            pointer: r.pointer,
            rule: r.rule,
        });
    }
}

async fn deliver(
    state: &AppState,
    principal: &Principal,
    batch: &RawBatch<'_>,
    received_at: Timestamp,
) -> Outcome {
    let mut out = Outcome::default();
    let (waiter, all_settled) = AckWaiter::new();
    // Records for clusters that are down, per cluster.
    let mut spooled: Vec<Vec<SpoolRecord>> = vec![Vec::new(); state.clusters.len()];
    let mut spooled_at: Vec<Vec<(usize, AckMode)>> = vec![Vec::new(); state.clusters.len()];
    let spooling = |c: usize| state.clusters[c].health.is_down();
    let mut payload = Vec::with_capacity(1024);
    let default_ack = state.config.delivery.ack;
    for (index, raw) in batch.events.iter().enumerate() {
        let (view, stamps) = match event::prepare(
            raw.get(),
            batch,
            &state.config.limits,
            received_at,
            &mut payload,
        ) {
            Ok(prepared) => prepared,
            Err(e) => {
                out.reject(index, e.code, e.message);
                continue;
            }
        };
        if !principal.may_send(view.routing_name()) {
            out.reject(
                index,
                ErrorCode::EventNotAllowed,
                format!("this write key may not send {:?}", view.routing_name()),
            );
            continue;
        }
        let Some(target) = state.router.route(&principal.app_id, &view) else {
            out.reject(
                index,
                ErrorCode::UnroutedEvent,
                format!(
                    "no route for event {:?} and routing.unrouted is reject",
                    view.routing_name()
                ),
            );
            continue;
        };
        let checked = match validate::check(
            state.schemas.as_deref(),
            state.config.schemas.unregistered_policy(&principal.app_id),
            &principal.app_id,
            &view,
            &mut payload,
        ) {
            Ok(c) => c,
            Err(r) => {
                out.refuse(index, r);
                continue;
            }
        };
        let target = match (checked, state.router.unvalidated()) {
            (Checked::Unvalidated, Some(t)) => t,
            _ => target,
        };
        // A schema-encoded value holds only the payload: the context and
        // other top-level fields travel in headers.
        let (schema_id, encoding, context, extra) = match checked {
            Checked::Encoded {
                schema_id,
                encoding,
            } => (
                Some(schema_id),
                encoding,
                view.merged_context(batch.context).ok().flatten(),
                view.extra_fields().ok().flatten(),
            ),
            Checked::NoRegistry | Checked::Unvalidated => (None, Encoding::Json, None, None),
        };
        let envelope = Envelope {
            event_type: view.kind,
            event_name: view.routing_name().to_owned(),
            message_id: view.message_id.to_string(),
            app_id: principal.app_id.to_string(),
            schema_id,
            encoding,
            timestamp: stamps.timestamp,
            client_timestamp: stamps.original_timestamp,
            sent_at: stamps.sent_at,
            received_at,
            custom_attributes: view.custom_attributes.map(|c| c.get().to_owned()),
            unrouted: target.unrouted,
            user_id: view.user_id.as_deref().map(str::to_owned),
            anonymous_id: view.anonymous_id.as_deref().map(str::to_owned),
            context,
            extra,
            unvalidated: checked == Checked::Unvalidated,
        };
        let header_pairs = envelope.to_headers();
        let mode = target.ack.or(principal.ack).unwrap_or(default_ack);
        let c = target.cluster;
        if spooling(c) {
            // That cluster is unreachable: straight to its disk spool.
            spooled[c].push(SpoolRecord {
                topic: target.topic.to_string(),
                key: view.partition_key().as_bytes().to_vec(),
                payload: payload.clone(),
                headers: header_pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.into_bytes()))
                    .collect(),
                timestamp_ms: received_at.timestamp_millis(),
            });
            spooled_at[c].push((index, mode));
            continue;
        }
        let mut headers = OwnedHeaders::new_with_capacity(12);
        for (name, value) in &header_pairs {
            headers = headers.insert(Header {
                key: name,
                value: Some(value.as_bytes()),
            });
        }
        let record = OutRecord {
            topic: &target.topic,
            key: view.partition_key().as_bytes(),
            payload: &payload,
            headers,
            timestamp_ms: received_at.timestamp_millis(),
        };
        let pending = match mode {
            AckMode::Broker => {
                waiter.expect_one();
                Pending::Acked {
                    waiter: waiter.clone(),
                    index,
                }
            }
            AckMode::Buffered => Pending::Buffered { attempt: 0 },
        };
        match state.clusters[c].producer.send(record, pending) {
            Ok(()) if mode == AckMode::Broker => out.acked += 1,
            Ok(()) => out.accepted += 1,
            Err((e, _, _)) => {
                if mode == AckMode::Broker {
                    // The record never reached the queue: undo its count.
                    waiter.settle(usize::MAX, None);
                }
                let code = match e {
                    KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull) => {
                        state.stats.refused_queue_full.inc();
                        ErrorCode::QueueFull
                    }
                    _ => ErrorCode::DeliveryFailed,
                };
                out.reject(index, code, format!("could not queue event for Kafka: {e}"));
            }
        }
    }
    dead_letter(state, principal, batch, &out.rejected, spooling(0));
    for (c, (records, at)) in spooled.into_iter().zip(spooled_at).enumerate() {
        if records.is_empty() {
            continue;
        }
        // A broker-mode client is answered only once its events are on
        // stable storage; buffered ones follow `spool.fsync`.
        let sync = state.config.spool.fsync || at.iter().any(|(_, m)| *m == AckMode::Broker);
        match state.clusters[c].spool.append(&records, sync) {
            Ok(()) => {
                state.stats.spooled.add(records.len() as u64);
                for (_, mode) in &at {
                    match mode {
                        AckMode::Broker => out.acked_spooled += 1,
                        AckMode::Buffered => out.accepted += 1,
                    }
                }
            }
            Err(e) => {
                for (index, _) in at {
                    out.reject(
                        index,
                        ErrorCode::QueueFull,
                        format!("Kafka is unreachable and {e}"),
                    );
                }
            }
        }
    }
    waiter.arm();
    let waiting = std::time::Instant::now();
    if out.acked > 0 {
        // librdkafka reports every record within message.timeout.ms; the
        // extra margin only guards against a report that never comes.
        let limit = Duration::from_millis(state.config.kafka.message_timeout_ms + 5_000);
        if tokio::time::timeout(limit, all_settled).await.is_err() {
            tracing::error!("delivery reports overdue; answering retryable failure");
            for i in 0..batch.events.len() {
                if !out.rejected.iter().any(|r| r.index == i) {
                    out.reject(
                        i,
                        ErrorCode::DeliveryFailed,
                        "no delivery report from Kafka in time",
                    );
                }
            }
            out.acked = 0;
            out.accepted = 0;
        }
        state
            .metrics
            .delivery_ack
            .observe(waiting.elapsed().as_secs_f64());
        for (index, reason) in waiter.take_failures() {
            out.acked -= 1;
            out.reject(
                index,
                ErrorCode::DeliveryFailed,
                format!("Kafka did not acknowledge: {reason}"),
            );
        }
    }
    out.rejected.sort_by_key(|r| r.index);
    out
}

/// The status and body of a processed request, or the error that replaces
/// them when nothing could be accepted for a retryable reason (503) or the
/// single event of a `/v1/<kind>` request was rejected.
/// Sends every event rejected for good to the dead-letter topic, with the
/// reason in its headers and the event as sent (cut to the event size
/// limit) as the value. Consumers of the topic can fix and replay them.
fn dead_letter(
    state: &AppState,
    principal: &Principal,
    batch: &RawBatch<'_>,
    rejected: &[EventRejection],
    spooling: bool,
) {
    let max = state.config.limits.max_event_bytes;
    let topic = state.router.dead_letter();
    let mut spool = Vec::new();
    for r in rejected.iter().filter(|r| !r.retryable) {
        let Some(raw) = batch.events.get(r.index) else {
            continue;
        };
        let raw = raw.get().as_bytes();
        let truncated = raw.len() > max;
        let value = &raw[..raw.len().min(max)];
        let mut headers = dead_letter_headers(
            None,
            r.code.as_str(),
            &r.message,
            "validation",
            "",
            truncated,
        );
        headers = headers.insert(Header {
            key: tributary_contract::header::APP_ID,
            value: Some(principal.app_id.as_bytes()),
        });
        use tributary_contract::envelope::dead_letter as dl;
        for (key, v) in [(dl::POINTER, &r.pointer), (dl::RULE, &r.rule)] {
            if let Some(v) = v {
                headers = headers.insert(Header {
                    key,
                    value: Some(v.as_bytes()),
                });
            }
        }
        if spooling {
            spool.push(SpoolRecord {
                topic: topic.to_string(),
                key: Vec::new(),
                payload: value.to_vec(),
                headers: headers
                    .iter()
                    .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                    .collect(),
                timestamp_ms: time::now().timestamp_millis(),
            });
            continue;
        }
        let record = OutRecord {
            topic,
            key: b"",
            payload: value,
            headers,
            timestamp_ms: time::now().timestamp_millis(),
        };
        if state.clusters[0]
            .producer
            .send(record, Pending::DeadLetter)
            .is_err()
        {
            state.stats.lost_dead_letter.inc();
        }
    }
    if !spool.is_empty()
        && state.clusters[0]
            .spool
            .append(&spool, state.config.spool.fsync)
            .is_err()
    {
        state.stats.lost_dead_letter.add(spool.len() as u64);
    }
}

fn respond(route: BatchRoute, out: Outcome) -> Result<(StatusCode, Bytes), RequestError> {
    let accepted = out.accepted + out.acked + out.acked_spooled;
    if accepted == 0 && !out.rejected.is_empty() && out.rejected.iter().all(|r| r.retryable) {
        let code = if out.rejected.iter().any(|r| r.code == ErrorCode::QueueFull) {
            ErrorCode::Overloaded
        } else {
            ErrorCode::KafkaUnavailable
        };
        let first = &out.rejected[0];
        return Err(RequestError::new(code, first.message.clone()));
    }
    if let (BatchRoute::Single(_), Some(r)) = (route, out.rejected.first()) {
        return Err(RequestError::new(r.code, r.message.clone()));
    }
    let status = if out.acked + out.acked_spooled == 0 && out.accepted > 0 {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let body = serde_json::to_vec(&BatchResponse {
        accepted,
        rejected: out.rejected,
    })
    .unwrap_or_default();
    Ok((status, Bytes::from(body)))
}

/// The response for a request refused as a whole.
pub fn error_response(e: &RequestError) -> Response<Full<Bytes>> {
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = ErrorBody::new(e.code, e.message.clone());
    body.limit = e.limit.map(str::to_owned);
    let mut resp = json_response(status, &body);
    if e.code.retryable() {
        let secs = e.retry_after.unwrap_or(1).max(1);
        resp.headers_mut()
            .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
    }
    resp
}
