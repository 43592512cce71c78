//! Write-key authentication.
//!
//! Clients send the key the way Segment clients do — HTTP Basic with the key
//! as the user name and an empty password — or as `Authorization: Bearer`.
//! Senders that cannot set headers (`navigator.sendBeacon`) put it in the
//! `writeKey` query parameter or the body's `writeKey` field.
//!
//! Keys are held only as SHA-256 digests (the configuration may give the
//! digest instead of the key) and compared in constant time, so neither the
//! process memory nor response timing gives a key away. Each key is bound to
//! one app id, its delivery mode, the events it may send and its own rate
//! limits.

use super::rate_limit::Limiter;
use crate::config::{AckMode, RateLimitsConfig, WriteKeyConfig};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Who sent a request: the app behind an authenticated write key.
#[derive(Debug)]
pub struct Principal {
    /// App id stamped into every event's envelope.
    pub app_id: Arc<str>,
    /// First 8 hex digits of the key's digest: safe to log and to use as a
    /// metric label, useless to an attacker.
    pub key_id: Arc<str>,
    /// The key's own delivery mode, if it overrides the default.
    pub ack: Option<AckMode>,
    /// Event names the key may send; `None` = all.
    pub allowed_events: Option<HashSet<String>>,
    /// Requests per second of this key.
    pub requests: Option<Limiter>,
    /// Events per second of this key.
    pub events: Option<Limiter>,
    /// HMAC secret: requests with this key must be signed.
    pub hmac_secret: Option<Vec<u8>>,
    /// A server library's key (`server_side`): its events' `context.ip`
    /// and `context.userAgent` are its end users'.
    pub server_side: bool,
}

impl Principal {
    /// Whether the key may send an event with this routing name.
    pub fn may_send(&self, routing_name: &str) -> bool {
        self.allowed_events
            .as_ref()
            .is_none_or(|set| set.contains(routing_name))
    }
}

/// The set of accepted write keys, by digest.
#[derive(Debug, Default)]
pub struct WriteKeys {
    by_digest: HashMap<[u8; 32], Arc<Principal>>,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl WriteKeys {
    /// Builds the set from configuration (already validated).
    pub fn new(keys: &[WriteKeyConfig], limits: &RateLimitsConfig) -> WriteKeys {
        let by_digest = keys
            .iter()
            .filter_map(|k| {
                let d: [u8; 32] = match &k.key_sha256 {
                    Some(h) => hex::decode(h).ok()?.try_into().ok()?,
                    None => digest(&k.key),
                };
                let p = Principal {
                    app_id: Arc::from(k.app_id.as_str()),
                    key_id: Arc::from(&hex::encode(d)[..8]),
                    ack: k.ack,
                    allowed_events: (!k.allowed_events.is_empty())
                        .then(|| k.allowed_events.iter().cloned().collect()),
                    requests: Limiter::new(
                        "key_requests",
                        k.requests_per_second
                            .unwrap_or(limits.key_requests_per_second),
                        k.requests_burst.unwrap_or(limits.key_requests_burst),
                    ),
                    events: Limiter::new(
                        "key_events",
                        k.events_per_second.unwrap_or(limits.key_events_per_second),
                        k.events_burst.unwrap_or(limits.key_events_burst),
                    ),
                    hmac_secret: k.hmac_secret.as_ref().map(|s| s.as_bytes().to_vec()),
                    server_side: k.server_side,
                };
                Some((d, Arc::new(p)))
            })
            .collect();
        WriteKeys { by_digest }
    }

    /// Looks a key up.
    pub fn lookup(&self, key: &str) -> Option<Arc<Principal>> {
        let d = digest(key);
        let (stored, p) = self.by_digest.get_key_value(&d)?;
        // The map finds the entry by digest; the constant-time comparison
        // is what decides.
        bool::from(stored.ct_eq(&d)).then(|| p.clone())
    }

    /// Finds the key in the `Authorization` header or the `writeKey` query
    /// parameter. `Ok(None)`: neither is present (the body may carry it).
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<Option<Arc<Principal>>, &'static str> {
        let key = match headers.get(AUTHORIZATION) {
            Some(value) => {
                let value = value
                    .to_str()
                    .map_err(|_| "Authorization header is not ASCII")?;
                Some(parse_authorization(value).ok_or("malformed Authorization header")?)
            }
            None => query.and_then(query_write_key),
        };
        match key {
            None => Ok(None),
            Some(k) => self.lookup(&k).map(Some).ok_or("unknown write key"),
        }
    }
}

/// Extracts the write key from `Basic base64(key:)` or `Bearer key`.
fn parse_authorization(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return (!rest.is_empty()).then(|| rest.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(rest).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let user = text.split_once(':').map_or(text.as_str(), |(u, _)| u);
        return (!user.is_empty()).then(|| user.to_owned());
    }
    None
}

/// The `writeKey` query parameter (keys are URL-safe tokens; `%`-escapes
/// are not decoded).
pub(crate) fn query_write_key(query: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("writeKey="))
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
}

/// A query parameter's raw value.
pub fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').find_map(|pair| {
        pair.split_once('=')
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> WriteKeys {
        let hashed = hex::encode(digest("k2"));
        WriteKeys::new(
            &[
                WriteKeyConfig {
                    key: "k1".into(),
                    app_id: "shop".into(),
                    allowed_events: vec!["Order Completed".into()],
                    ..WriteKeyConfig::default()
                },
                WriteKeyConfig {
                    key_sha256: Some(hashed),
                    app_id: "blog".into(),
                    ..WriteKeyConfig::default()
                },
            ],
            &RateLimitsConfig::default(),
        )
    }

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn accepts_basic_bearer_query_and_hashed_keys() {
        let k = keys();
        let basic = format!("Basic {}", STANDARD.encode("k1:"));
        let p = k.authenticate(&headers(&basic), None).unwrap().unwrap();
        assert_eq!(&*p.app_id, "shop");
        assert_eq!(p.key_id.len(), 8);
        assert!(
            k.authenticate(&headers("Bearer k1"), None)
                .unwrap()
                .is_some()
        );
        let q = k
            .authenticate(&HeaderMap::new(), Some("a=1&writeKey=k2"))
            .unwrap()
            .unwrap();
        assert_eq!(&*q.app_id, "blog", "configured by digest only");
        assert!(
            k.authenticate(&HeaderMap::new(), None).unwrap().is_none(),
            "may be in the body"
        );
    }

    #[test]
    fn refuses_unknown_and_malformed() {
        let k = keys();
        assert!(k.authenticate(&headers("Bearer nope"), None).is_err());
        assert!(k.authenticate(&headers("Basic %%%"), None).is_err());
        assert!(k.authenticate(&headers("Digest k1"), None).is_err());
        assert!(
            k.authenticate(&HeaderMap::new(), Some("writeKey=nope"))
                .is_err()
        );
    }

    #[test]
    fn allowed_events_bind_a_key() {
        let k = keys();
        let p = k.lookup("k1").unwrap();
        assert!(p.may_send("Order Completed"));
        assert!(!p.may_send("identify"));
        assert!(k.lookup("k2").unwrap().may_send("anything"));
        assert_eq!(
            query_param(Some("a=1&idempotency_key=x"), "idempotency_key"),
            Some("x")
        );
    }
}
