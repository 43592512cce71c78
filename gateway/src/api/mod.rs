//! The HTTP layer: the listener ([`server`]) and the routes. This is the
//! one place that maps a method and path to a handler; every route the
//! gateway serves is listed in [`route`].
//!
//! | route | handler |
//! |---|---|
//! | `POST /v1/batch` | [`batch`], batch body |
//! | `POST /v1/{track,identify,page,screen,group,alias}` | [`batch`], one event |
//! | `GET /v1/settings` | [`settings`]: the SDK settings of the write key's app |
//! | `OPTIONS /v1/*` | CORS preflight for browsers |
//! | `GET /healthz` | process is alive |
//! | `GET /readyz` | ready for traffic (not shutting down) |
//! | `GET /stats` | delivery counters as JSON |
//! | `GET /metrics` | Prometheus text exposition |
//! | `POST /admin/suppressions` | [`admin`]: suppress a user or anonymous id (admin token) |
//! | `GET /debug`, `GET /debug/stream` | [`debug`]: the live event debugger (admin token; off by default) |
//! | `GET /schemas/ids/{id}`, `GET /subjects[/{s}/versions[/{v}[/schema]]]` | [`registry`]: the Confluent Schema Registry read API |

pub mod admin;
pub mod batch;
pub mod debug;
pub mod idempotency;
pub mod registry;
pub mod server;
pub mod settings;

use crate::admission::client_ip::TrustedProxies;
use crate::admission::key_store::KeyStore;
use crate::admission::{IpLimiter, Overload};
use crate::config::Config;
use crate::delivery::Delivery;
use crate::enrich::Enricher;
use crate::error::RequestError;
use crate::ingest::batch::BatchRoute;
use crate::metrics::{Metrics, RequestLabels, RouteLabels, route_label};
use crate::privacy::Privacy;
use crate::sdk_settings::SdkSettings;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tributary_contract::{ErrorCode, EventType};

/// Everything a request handler needs, shared by all connections.
pub struct AppState {
    /// The validated configuration.
    pub config: Config,
    /// Accepted write keys (reloadable).
    pub keys: Arc<KeyStore>,
    /// Requests-per-second limiter per client IP (`None` when off).
    pub ip_limiter: Option<Arc<IpLimiter>>,
    /// Whose `Forwarded` / `X-Forwarded-For` is believed.
    pub proxies: TrustedProxies,
    /// User agent, geo and bot enrichment.
    pub enricher: Arc<Enricher>,
    /// Per-app privacy rules and suppressions (reloadable).
    pub privacy: Arc<Privacy>,
    /// What each app's SDKs are told (reloadable).
    pub sdk_settings: Arc<SdkSettings>,
    /// Work-in-progress bounds and load shedding.
    pub overload: Overload,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Checks HMAC-signed requests and remembers their signatures.
    pub signatures: crate::admission::signature::Verifier,

    /// Registered schemas and their validators (`None`: validation off).
    pub schemas: Option<Arc<tributary_schema::Registry>>,
    /// The Kafka clusters, the router and the delivery counters.
    pub delivery: Arc<Delivery>,
    /// Answers of recent batches, by idempotency key.
    pub idempotency: Arc<idempotency::IdempotencyCache>,
    /// The live event debugger's viewers.
    pub debugger: Arc<crate::debugger::Hub>,
    /// Per-app quotas and their counts (`None`: no app has one).
    pub quotas: Option<Arc<crate::admission::quota::Quotas>>,
    /// The per-user rate past which events are spread (`None`: off).
    pub hot_keys: Option<crate::ingest::hot_keys::HotKeys>,
    /// Set when shutdown begins; `/readyz` then fails so load balancers
    /// stop sending traffic.
    pub shutting_down: AtomicBool,
}

/// What the gateway assembles before it serves: the parts with state of
/// their own (and background tasks) that the API uses.
pub struct Parts {
    /// The validated configuration.
    pub config: Config,
    /// Accepted write keys.
    pub keys: Arc<KeyStore>,
    /// The per-IP limiter, when on.
    pub ip_limiter: Option<Arc<IpLimiter>>,
    /// The enrichment stages.
    pub enricher: Arc<Enricher>,
    /// The privacy rules.
    pub privacy: Arc<Privacy>,
    /// The SDK settings.
    pub sdk_settings: Arc<SdkSettings>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Registered schemas, when validation is on.
    pub schemas: Option<Arc<tributary_schema::Registry>>,
    /// Sending to Kafka.
    pub delivery: Arc<Delivery>,
    /// Per-app quotas, when any.
    pub quotas: Option<Arc<crate::admission::quota::Quotas>>,
}

impl AppState {
    /// The API's state over `parts`; what only the API uses (overload
    /// bounds, signature replay window, idempotency answers) is built here.
    pub fn new(parts: Parts) -> AppState {
        let config = &parts.config;
        AppState {
            overload: Overload::new(&config.overload, &config.kafka),
            signatures: crate::admission::signature::Verifier::new(Duration::from_secs(
                config.auth.hmac_window_secs,
            )),
            idempotency: idempotency::IdempotencyCache::new(
                Duration::from_secs(config.idempotency.window_secs),
                config.idempotency.max_entries,
            ),
            debugger: crate::debugger::Hub::start(&config.debugger),
            hot_keys: crate::ingest::hot_keys::HotKeys::new(
                config.hot_keys.events_per_second,
                config.hot_keys.burst,
                config.hot_keys.max_keys,
            ),
            quotas: parts.quotas,
            schemas: parts.schemas,
            keys: parts.keys,
            ip_limiter: parts.ip_limiter,
            proxies: TrustedProxies::new(
                config
                    .server
                    .trusted_proxies
                    .iter()
                    .filter_map(|p| crate::config::parse_network(p).ok())
                    .collect(),
            ),
            enricher: parts.enricher,
            privacy: parts.privacy,
            sdk_settings: parts.sdk_settings,
            metrics: parts.metrics,
            delivery: parts.delivery,
            shutting_down: AtomicBool::new(false),
            config: parts.config,
        }
    }
}

/// Every method and path the gateway serves (documented in
/// `docs/openapi.json`; `tests/gateway_openapi.rs` checks both agree and
/// that each is really served).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/batch"),
    ("OPTIONS", "/v1/batch"),
    ("POST", "/v1/import"),
    ("POST", "/v1/track"),
    ("OPTIONS", "/v1/track"),
    ("POST", "/v1/identify"),
    ("OPTIONS", "/v1/identify"),
    ("POST", "/v1/page"),
    ("OPTIONS", "/v1/page"),
    ("POST", "/v1/screen"),
    ("OPTIONS", "/v1/screen"),
    ("POST", "/v1/group"),
    ("OPTIONS", "/v1/group"),
    ("POST", "/v1/alias"),
    ("OPTIONS", "/v1/alias"),
    ("GET", "/v1/settings"),
    ("OPTIONS", "/v1/settings"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/stats"),
    ("GET", "/schemas/ids/{id}"),
    ("GET", "/subjects"),
    ("GET", "/subjects/{subject}/versions"),
    ("GET", "/subjects/{subject}/versions/{version}"),
    ("GET", "/subjects/{subject}/versions/{version}/schema"),
    ("POST", "/admin/suppressions"),
    ("GET", "/debug"),
    ("GET", "/debug/stream"),
];

/// A response body: whole, or a debugger viewer's stream.
pub type ApiBody = http_body_util::Either<Full<Bytes>, debug::SseBody>;

/// The connecting client's address, set by the server on each request.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

/// Dispatches one request and records its metrics.
pub async fn route<B>(state: &AppState, req: Request<B>) -> Response<ApiBody>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let started = std::time::Instant::now();
    let label = route_label(req.uri().path());
    let resp = if req.uri().path() == "/debug/stream" && req.method() == Method::GET {
        let (parts, _) = req.into_parts();
        debug::stream(state, &parts)
            .unwrap_or_else(|| not_found().map(http_body_util::Either::Left))
    } else {
        dispatch(state, req).await.map(http_body_util::Either::Left)
    };
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            route: label,
            status: resp.status().as_u16(),
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&RouteLabels { route: label })
        .observe(started.elapsed().as_secs_f64());
    resp
}

async fn dispatch<B>(state: &AppState, req: Request<B>) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    if path == "/v1/settings" {
        return match parts.method {
            Method::GET => settings::get(state, &parts),
            Method::OPTIONS => {
                let mut resp = preflight("GET, OPTIONS");
                settings::cors(resp.headers_mut());
                resp
            }
            _ => method_not_allowed(),
        };
    }
    if let Some(kind) = path.strip_prefix("/v1/") {
        let batch_route = match kind {
            "batch" | "import" => Some(BatchRoute::Batch),
            other => EventType::parse(other).map(BatchRoute::Single),
        };
        let mut resp = match (batch_route, &parts.method) {
            (None, _) => not_found(),
            (Some(_), &Method::OPTIONS) => preflight("POST, OPTIONS"),
            (Some(r), &Method::POST) => batch::handle(state, r, &parts, body).await,
            (Some(_), _) => method_not_allowed(),
        };
        settings::cors(resp.headers_mut());
        return resp;
    }
    if parts.method == Method::GET
        && let Some(resp) = registry::handle(state, path, parts.uri.query())
    {
        return resp;
    }
    if path == "/debug" || path == "/debug/stream" {
        return match parts.method {
            Method::GET if path == "/debug" => debug::page(state, &parts).unwrap_or_else(not_found),
            _ if state.config.debugger.enabled => method_not_allowed(),
            _ => not_found(),
        };
    }
    if path == "/admin/suppressions" {
        return match parts.method {
            Method::POST => admin::suppress(state, &parts, body)
                .await
                .unwrap_or_else(not_found),
            _ if state.config.privacy.admin_token.is_some() => method_not_allowed(),
            _ => not_found(),
        };
    }
    match (&parts.method, path) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
        (&Method::GET, "/readyz") if state.shutting_down.load(Ordering::Relaxed) => {
            text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
        }
        (&Method::GET, "/readyz")
            if state.delivery.clusters().iter().any(|c| c.health.is_down()) =>
        {
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "kafka unreachable; spooling\n",
            )
        }
        (&Method::GET, "/readyz")
            if state.delivery.clusters().iter().any(|c| c.spool.is_full()) =>
        {
            text(StatusCode::SERVICE_UNAVAILABLE, "spool full\n")
        }
        (&Method::GET, "/readyz") => text(StatusCode::OK, "ready\n"),
        (&Method::GET, "/stats") => json_response(StatusCode::OK, &Stats::of(state)),
        (&Method::GET, "/metrics") => {
            state.metrics.producer_queue.set(
                state
                    .delivery
                    .clusters()
                    .iter()
                    .map(|c| c.producer.queue_depth())
                    .sum(),
            );
            if let Some(ip) = &state.ip_limiter {
                state.metrics.tracked_ips.set(ip.tracked() as i64);
            }
            if let Some(q) = &state.quotas {
                state
                    .metrics
                    .quota_sync_failures
                    .set(q.sync_failures() as i64);
            }
            if let Some(h) = &state.hot_keys {
                state.metrics.hot_keys_tracked.set(h.tracked() as i64);
                state.metrics.hot_keys_evicted.set(h.evicted() as i64);
            }
            if let Some(r) = &state.schemas {
                crate::schemas::observe(r, &state.metrics.schemas);
            }
            let mut resp = Response::new(Full::new(Bytes::from(state.metrics.render())));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            resp
        }
        (_, "/healthz" | "/readyz" | "/stats" | "/metrics") => method_not_allowed(),
        _ => not_found(),
    }
}

fn preflight(methods: &'static str) -> Response<Full<Bytes>> {
    let mut resp = text(StatusCode::NO_CONTENT, "");
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    // Every request header the SDKs send: the web SDK's batches carry
    // Idempotency-Key; signed server-side senders may come from a browser
    // context too.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "authorization, content-type, content-encoding, idempotency-key, if-none-match, x-tributary-timestamp, x-tributary-signature",
        ),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    resp
}

/// `GET /stats`: the delivery counters, and each app's quota use.
#[derive(serde::Serialize)]
struct Stats<'a> {
    #[serde(flatten)]
    delivery: &'a crate::delivery::DeliveryStats,
    #[serde(skip_serializing_if = "Option::is_none")]
    quotas: Option<std::collections::BTreeMap<String, crate::admission::quota::QuotaUsage>>,
}

impl Stats<'_> {
    fn of(state: &AppState) -> Stats<'_> {
        Stats {
            delivery: state.delivery.stats(),
            quotas: state
                .quotas
                .as_ref()
                .map(|q| q.usage(tributary_contract::time::now())),
        }
    }
}

/// The answer when a request's task panicked (a bug): logged, and a 500
/// the client retries, rather than a dropped connection.
pub(crate) fn handler_failed(e: &tokio::task::JoinError) -> Response<ApiBody> {
    tracing::error!(error = %e, "request handler failed");
    batch::error_response(&RequestError::new(ErrorCode::Internal, "internal error"))
        .map(http_body_util::Either::Left)
}

fn not_found() -> Response<Full<Bytes>> {
    batch::error_response(&RequestError::new(ErrorCode::NotFound, "no such route"))
}

fn method_not_allowed() -> Response<Full<Bytes>> {
    batch::error_response(&RequestError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route",
    ))
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// A JSON response with `status`.
pub fn json_response<T: serde::Serialize + ?Sized>(
    status: StatusCode,
    body: &T,
) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    json_bytes(status, Bytes::from(bytes))
}

/// A response with `status` and an already-serialised JSON body.
pub fn json_bytes(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
