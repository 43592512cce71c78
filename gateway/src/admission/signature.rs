//! HMAC request signing for server-side senders.
//!
//! A key configured with `hmac_secret` must sign every request:
//!
//! ```text
//! X-Tributary-Timestamp: <unix seconds>
//! X-Tributary-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." ++ body as sent)>
//! ```
//!
//! The body is signed as sent (compressed, if it is), so the gateway can
//! check it before inflating. A timestamp outside `auth.hmac_window_secs`
//! of the gateway's clock, or a signature already seen within that window
//! (a replay), is refused with 401. The memory of seen signatures is
//! bounded: entries older than the window are evicted.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Header carrying the signing time.
pub const TIMESTAMP_HEADER: &str = "x-tributary-timestamp";
/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-tributary-signature";

/// Most signatures remembered; past it the oldest are forgotten early.
const MAX_SEEN: usize = 1_000_000;

/// Computes the `v1=` signature of a request (for clients and tests).
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

// HMAC accepts keys of any length; this cannot happen.
fn unreachable_hmac() -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(b"k").unwrap_or_else(|_| unreachable_hmac())
}

/// Signatures seen in the window, and their arrival order for eviction.
type Seen = (HashMap<Vec<u8>, Instant>, VecDeque<(Vec<u8>, Instant)>);

/// Signatures seen recently, to refuse replays.
pub struct Verifier {
    window: Duration,
    seen: Mutex<Seen>,
}

impl Verifier {
    /// A verifier with the replay window.
    pub fn new(window: Duration) -> Verifier {
        Verifier {
            window,
            seen: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// Checks a request's signature; `now_unix` is the gateway's clock.
    pub fn verify(
        &self,
        secret: &[u8],
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now_unix: u64,
    ) -> Result<(), &'static str> {
        let (Some(ts), Some(sig)) = (timestamp, signature) else {
            return Err(
                "this write key requires signed requests (X-Tributary-Timestamp, X-Tributary-Signature)",
            );
        };
        let ts: u64 = ts
            .trim()
            .parse()
            .map_err(|_| "X-Tributary-Timestamp is not a unix time in seconds")?;
        if now_unix.abs_diff(ts) > self.window.as_secs() {
            return Err("request timestamp is outside the signing window");
        }
        let given = sig
            .trim()
            .strip_prefix("v1=")
            .and_then(|h| hex::decode(h).ok())
            .ok_or("malformed X-Tributary-Signature")?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| "bad secret")?;
        mac.update(ts.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // Constant-time comparison.
        mac.verify_slice(&given)
            .map_err(|_| "signature does not match")?;
        let mut seen = match self.seen.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let now = Instant::now();
        let (map, order) = &mut *seen;
        while let Some((_, at)) = order.front() {
            if now.duration_since(*at) <= self.window && order.len() < MAX_SEEN {
                break;
            }
            if let Some((k, _)) = order.pop_front() {
                map.remove(&k);
            }
        }
        if map.contains_key(&given) {
            return Err("replayed request: this signature was already used");
        }
        map.insert(given.clone(), now);
        order.push_back((given, now));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_once_then_replay_refused() {
        let v = Verifier::new(Duration::from_secs(300));
        let sig = sign(b"s3cret", 1_000, b"body");
        assert!(
            v.verify(b"s3cret", Some("1000"), Some(&sig), b"body", 1_100)
                .is_ok()
        );
        assert!(
            v.verify(b"s3cret", Some("1000"), Some(&sig), b"body", 1_100)
                .unwrap_err()
                .contains("replayed")
        );
    }

    #[test]
    fn tampering_old_timestamps_and_missing_headers_are_refused() {
        let v = Verifier::new(Duration::from_secs(300));
        let sig = sign(b"s3cret", 1_000, b"body");
        assert!(
            v.verify(b"s3cret", Some("1000"), Some(&sig), b"b0dy", 1_000)
                .is_err()
        );
        assert!(
            v.verify(b"other", Some("1000"), Some(&sig), b"body", 1_000)
                .is_err()
        );
        assert!(
            v.verify(b"s3cret", Some("1000"), Some(&sig), b"body", 2_000)
                .unwrap_err()
                .contains("window")
        );
        assert!(
            v.verify(b"s3cret", None, Some(&sig), b"body", 1_000)
                .is_err()
        );
        assert!(
            v.verify(b"s3cret", Some("1000"), Some("v1=zz"), b"body", 1_000)
                .is_err()
        );
    }
}
