//! The ingest endpoints: `POST /v1/batch` and `POST /v1/<kind>`.
//!
//! The request walks the stages in order — admit, decode, parse, decide
//! each event's record (`ingest::record`), send them (`delivery`) — and the
//! response lists each event's outcome. This file speaks HTTP only: it
//! names no Kafka type. Status codes:
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
use crate::admission::quota::OverQuota;
use crate::admission::signature;
use crate::config::QuotaAction;
use crate::delivery::Settled;
use crate::delivery::dead_letter::{Rejected, Why};
use crate::delivery::record::RecordBatch;
use crate::error::RequestError;
use crate::ingest::batch::{self, BatchRoute, RawBatch};
use crate::ingest::decode;
use crate::ingest::edge::Edge;
use crate::ingest::record::{Decider, Rules, Sender};
use crate::metrics::{DropLabels, EventLabels, LimitLabels, QuotaLabels};
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use std::net::IpAddr;
use std::time::Duration;
use tributary_contract::time::{self, Timestamp};
use tributary_contract::{BatchResponse, ErrorBody, ErrorCode, EventRejection};

/// Request header naming a batch; retries of one batch repeat it.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Response header set when the answer is the remembered answer of an
/// earlier attempt (its value names it for clients; the name is the
/// convention of other idempotent APIs).
pub const REPLAYED: &str = "idempotent-replayed";

/// Events decided between two yields to the runtime, so one large batch
/// cannot hold a worker thread from other requests for long.
const EVENTS_PER_SLICE: usize = 128;

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

/// A request of an app at its quota: refused (429 to the window's end), or
/// `None` when the app's quotas drop instead (its events are counted as
/// dropped and the request answered as accepted).
fn over_quota(state: &AppState, o: &OverQuota) -> Option<RequestError> {
    let action = match o.action {
        QuotaAction::Reject => "reject",
        QuotaAction::Drop => "drop",
    };
    state
        .metrics
        .quota_exceeded
        .get_or_create(&QuotaLabels {
            window: o.window,
            action,
        })
        .inc();
    if o.action == QuotaAction::Drop {
        return None;
    }
    let mut e = RequestError::new(
        ErrorCode::QuotaExceeded,
        format!(
            "the app's {} quota of events is used up; retry when the window ends in {} s",
            if o.window == "day" {
                "daily"
            } else {
                "monthly"
            },
            o.retry_after_secs
        ),
    );
    e.retry_after = Some(o.retry_after_secs);
    e.limit = Some(if o.window == "day" {
        "quota_day"
    } else {
        "quota_month"
    });
    Some(e)
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

/// The client's address (`admission::client_ip`): the one answer both
/// the per-IP limit and `context.ip` use.
fn client_ip(state: &AppState, parts: &http::request::Parts) -> Option<IpAddr> {
    let peer = parts.extensions.get::<Peer>()?.0.ip();
    Some(state.proxies.client(peer, &parts.headers))
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
    if state.overload.shed(state.delivery.deepest_queue()) {
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
    let client = client_ip(state, parts);
    if let (Some(limiter), Some(ip)) = (&state.ip_limiter, client) {
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
    m.compressed_bytes.inc_by(raw.len() as u64);
    let inflate = decode::InflateLimits {
        max_bytes: limits.max_decompressed_bytes,
        max_ratio: limits.max_compression_ratio,
    };
    let body = decode::decode(raw, encoding, inflate)?;
    m.decompressed_bytes.inc_by(body.len() as u64);
    let batch = match batch::parse(&body, route, limits) {
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
        state
            .delivery
            .stats()
            .client_reported_drops
            .add(report.total());
        for (reason, n) in &report.dropped {
            state
                .metrics
                .client_drops
                .get_or_create(&DropLabels {
                    reason: reason.as_str(),
                })
                .inc_by(*n);
        }
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
                Claim::Done(c) => return Ok(cached_answer(state, &principal, &c)),
                Claim::Wait(slot) => {
                    if let Some(c) = idempotency::wait(slot).await {
                        return Ok(cached_answer(state, &principal, &c));
                    }
                    // The first attempt gave up without an answer: try again.
                }
            }
        },
    };

    // After the replayed answers: a batch accepted before the quota ran
    // out gets its answer again.
    let now = time::now();
    let quota = state.quotas.as_deref();
    let over = quota.and_then(|q| q.check(&principal.app_id, now).err());
    if let Some(e) = over.as_ref().and_then(|o| over_quota(state, o)) {
        return Err(e);
    }
    let dropping = over.is_some();
    let request_agent = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let origin = Origin {
        client_ip: client,
        request_agent,
    };
    let outcome = if dropping {
        // Over quota, accept-and-drop: nothing is sent, every event counted.
        m.events
            .get_or_create(&EventLabels {
                outcome: "dropped",
                code: "over_quota",
            })
            .inc_by(batch.events.len() as u64);
        Outcome {
            dropped: batch.events.len(),
            ..Outcome::default()
        }
    } else {
        deliver(state, &principal, &batch, origin, now).await
    };
    if let Some(q) = quota {
        q.charge(
            &principal.app_id,
            (outcome.accepted + outcome.acked + outcome.acked_spooled) as u64,
            now,
        );
    }
    m.accepted_events
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
    let resp = json_bytes(status, body.clone());
    Ok(super::settings::stamp(state, &principal, resp, &body))
}

/// The remembered answer of an already-processed batch.
fn cached_answer(state: &AppState, principal: &Principal, c: &Cached) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(c.status).unwrap_or(StatusCode::OK);
    let mut resp = json_bytes(status, c.body.clone());
    resp.headers_mut()
        .insert(REPLAYED, http::HeaderValue::from_static("true"));
    super::settings::stamp(state, principal, resp, &c.body)
}

/// What happened to the events of one request.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    accepted: usize,
    acked: usize,
    /// Broker-mode events made durable in the spool (answered 200 too).
    acked_spooled: usize,
    /// Dropped at the edge (suppressed ids, bots): answered as accepted,
    /// since a retry would be dropped again.
    dropped: usize,
    rejected: Vec<EventRejection>,
}

impl Outcome {
    /// The outcome of `events` events: those rejected while deciding, and
    /// how the records of the others settled.
    fn new(events: usize, mut rejected: Vec<EventRejection>, settled: Settled) -> Outcome {
        for f in settled.failed {
            rejected.push(EventRejection {
                index: f.index,
                code: f.code,
                message: f.message,
                retryable: f.code.retryable(),
                pointer: None,
                rule: None,
            });
        }
        let mut out = Outcome {
            accepted: settled.accepted,
            acked: settled.acked,
            acked_spooled: settled.acked_spooled,
            dropped: 0,
            rejected,
        };
        if settled.overdue {
            // Nothing is known of the records still out: the client must
            // retry them (idempotently, by message id).
            for index in 0..events {
                if !out.rejected.iter().any(|r| r.index == index) {
                    out.rejected.push(EventRejection {
                        index,
                        code: ErrorCode::DeliveryFailed,
                        message: "no delivery report from Kafka in time".into(),
                        retryable: true,
                        pointer: None,
                        rule: None,
                    });
                }
            }
            out.acked = 0;
            out.accepted = 0;
        }
        out.rejected.sort_by_key(|r| r.index);
        out
    }
}

/// Where a request came from, as far as its events' enrichment goes.
#[derive(Clone, Copy)]
struct Origin<'r> {
    client_ip: Option<IpAddr>,
    request_agent: Option<&'r str>,
}

/// Decides every event's record, then sends them and the dead letters of
/// the events rejected for good (with the app's privacy rules applied to
/// them too).
async fn deliver(
    state: &AppState,
    principal: &Principal,
    batch: &RawBatch<'_>,
    origin: Origin<'_>,
    received_at: Timestamp,
) -> Outcome {
    let config = &state.config;
    let router = state.delivery.router();
    let rules = Rules {
        limits: &config.limits,
        router: &router,
        registry: state.schemas.as_deref(),
        default_ack: config.delivery.ack,
        hot_keys: state.hot_keys.as_ref(),
    };
    let sender = Sender {
        app_id: &principal.app_id,
        ack: principal.ack,
        allowed_events: principal.allowed_events.as_ref(),
        unregistered: config.schemas.unregistered_policy(&principal.app_id),
    };
    let privacy = state.privacy.current();
    let policy = privacy.policy(&principal.app_id).map(|p| &**p);
    let edge = Edge {
        enricher: &state.enricher,
        policy,
        suppressed: privacy.suppressed(&principal.app_id).map(|s| &**s),
        server_side: principal.server_side,
        client_ip: origin.client_ip,
        request_agent: origin.request_agent,
    };
    let mut decider = Decider::new(rules, sender, received_at).with_edge(edge);
    let mut records = RecordBatch::with_capacity(batch.events.len(), 640);
    let mut rejected = Vec::new();
    for (index, event) in batch.events.iter().enumerate() {
        if let Err(r) = decider.decide(batch, index, event, &mut records) {
            rejected.push(r);
        }
        if index % EVENTS_PER_SLICE == EVENTS_PER_SLICE - 1 {
            tokio::task::yield_now().await;
        }
    }
    if state.debugger.watching(&principal.app_id) {
        crate::debugger::entry::publish(
            &state.debugger,
            &crate::debugger::entry::Decided {
                app: &principal.app_id,
                batch,
                records: &records,
                rejected: &rejected,
                dropped: decider.dropped(),
                policy,
                registry: state.schemas.as_deref(),
                received_at,
            },
        );
    }
    state.metrics.hot_key_events.inc_by(decider.hot() as u64);
    let mut dropped = 0;
    for (why, n) in decider.dropped() {
        dropped += n;
        state
            .metrics
            .events
            .get_or_create(&EventLabels {
                outcome: "dropped",
                code: why.as_str(),
            })
            .inc_by(*n as u64);
    }
    let max = config.limits.max_event_bytes;
    // Scrubbed copies of the dead letters, when the app has rules: the
    // raw event and the message (which may quote a value) both.
    let scrubbed: Vec<Option<(String, String)>> = rejected
        .iter()
        .map(|r| {
            let p = policy.filter(|_| !r.retryable)?;
            let raw = batch.events.get(r.index)?.text;
            Some(crate::privacy::scrub_rejected(p, raw, &r.message))
        })
        .collect();
    let dead: Vec<Rejected<'_>> = rejected
        .iter()
        .zip(&scrubbed)
        .filter(|(r, _)| !r.retryable)
        .filter_map(|(r, clean)| {
            let (raw, message) = match clean {
                Some((raw, message)) => (raw.as_bytes(), message.as_str()),
                None => (
                    batch.events.get(r.index)?.text.as_bytes(),
                    r.message.as_str(),
                ),
            };
            let why = Why {
                reason: r.code.as_str(),
                message,
                stage: "validation",
                topic: "",
                truncated: false,
                app_id: Some(&principal.app_id),
                pointer: r.pointer.as_deref(),
                rule: r.rule.as_deref(),
            };
            Some(Rejected::new(raw, max, why))
        })
        .collect();
    let settled = state.delivery.send(&records, &dead).await;
    let mut outcome = Outcome::new(batch.events.len(), rejected, settled);
    outcome.dropped = dropped;
    outcome
}

/// The status and body of a processed request, or the error that replaces
/// them when nothing could be accepted for a retryable reason (503) or the
/// single event of a `/v1/<kind>` request was rejected.
fn respond(route: BatchRoute, out: Outcome) -> Result<(StatusCode, Bytes), RequestError> {
    let accepted = out.accepted + out.acked + out.acked_spooled + out.dropped;
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
        settings_version: None,
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
