//! Identifiers: UUIDv7 message ids and idempotency keys, and the small PRNG
//! behind them and behind backoff jitter.
//!
//! The core takes its randomness from a seed the platform provides, not from
//! the OS, so it needs no entropy source on `wasm32-unknown-unknown` and a
//! test can replay a run exactly.

/// SplitMix64: small, fast, good enough for ids and jitter (not crypto).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..=max`.
    pub fn below_or_eq(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.next_u64();
        }
        self.next_u64() % (max + 1)
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A UUIDv7 for time `now_ms`: sortable by creation time, unique.
    pub fn uuid_v7(&mut self, now_ms: i64) -> String {
        let mut random = [0u8; 10];
        random[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        random[8..].copy_from_slice(&self.next_u64().to_le_bytes()[..2]);
        uuid::Builder::from_unix_timestamp_millis(now_ms.max(0) as u64, &random)
            .into_uuid()
            .to_string()
    }
}

/// A stable hash of a string (FNV-1a), for per-device sampling decisions.
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v7_has_version_and_time_order() {
        let mut r = Rng::new(1);
        let a = r.uuid_v7(1_700_000_000_000);
        let b = r.uuid_v7(1_700_000_000_001);
        assert_eq!(&a[14..15], "7");
        assert!(a < b);
        assert_ne!(r.uuid_v7(5), r.uuid_v7(5));
    }
}
