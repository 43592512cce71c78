//! Write-key authentication.
//!
//! Clients send the key the way Segment clients do — HTTP Basic with the key
//! as the user name and an empty password — or as `Authorization: Bearer`.
//! Each key is bound to one app id and optionally its own delivery mode.

use crate::config::{AckMode, WriteKeyConfig};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use std::collections::HashMap;
use std::sync::Arc;

/// Who sent a request: the app behind an authenticated write key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// App id stamped into every event's envelope.
    pub app_id: Arc<str>,
    /// The key's own delivery mode, if it overrides the default.
    pub ack: Option<AckMode>,
}

/// The set of accepted write keys.
#[derive(Debug, Default)]
pub struct WriteKeys {
    by_key: HashMap<String, Arc<Principal>>,
}

impl WriteKeys {
    /// Builds the set from configuration.
    pub fn new(keys: &[WriteKeyConfig]) -> WriteKeys {
        let by_key = keys
            .iter()
            .map(|k| {
                let p = Principal {
                    app_id: Arc::from(k.app_id.as_str()),
                    ack: k.ack,
                };
                (k.key.clone(), Arc::new(p))
            })
            .collect();
        WriteKeys { by_key }
    }

    /// Finds the principal for a request's `Authorization` header, or says
    /// why there is none.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Principal>, &'static str> {
        let value = headers.get(AUTHORIZATION).ok_or(
            "missing Authorization header (Basic with the write key as user name, or Bearer)",
        )?;
        let value = value
            .to_str()
            .map_err(|_| "Authorization header is not ASCII")?;
        let key = parse_authorization(value).ok_or("malformed Authorization header")?;
        self.by_key
            .get(key.as_str())
            .cloned()
            .ok_or("unknown write key")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> WriteKeys {
        WriteKeys::new(&[WriteKeyConfig {
            key: "k1".into(),
            app_id: "shop".into(),
            ack: None,
        }])
    }

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn accepts_basic_and_bearer() {
        let basic = format!("Basic {}", STANDARD.encode("k1:"));
        assert_eq!(
            &*keys().authenticate(&headers(&basic)).unwrap().app_id,
            "shop"
        );
        assert!(keys().authenticate(&headers("Bearer k1")).is_ok());
    }

    #[test]
    fn refuses_unknown_missing_and_malformed() {
        assert!(keys().authenticate(&HeaderMap::new()).is_err());
        assert!(keys().authenticate(&headers("Bearer nope")).is_err());
        assert!(keys().authenticate(&headers("Basic %%%")).is_err());
        assert!(keys().authenticate(&headers("Digest k1")).is_err());
    }
}
