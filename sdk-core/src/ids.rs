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
        // RFC 9562 layout: 48 bits of ms, version 7, 12 random bits,
        // variant 0b10, 62 random bits. Written by hand to keep the
        // formatting machinery out of the web SDK's wasm.
        let mut b = [0u8; 16];
        b[..6].copy_from_slice(&(now_ms.max(0) as u64).to_be_bytes()[2..]);
        b[6..14].copy_from_slice(&self.next_u64().to_le_bytes());
        b[14..].copy_from_slice(&self.next_u64().to_le_bytes()[..2]);
        b[6] = 0x70 | (b[6] & 0x0f);
        b[8] = 0x80 | (b[8] & 0x3f);
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(36);
        for (i, byte) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out.push('-');
            }
            out.push(HEX[(byte >> 4) as usize] as char);
            out.push(HEX[(byte & 15) as usize] as char);
        }
        out
    }
}

/// A stable hash of a string (FNV-1a), for per-device sampling decisions.
pub fn stable_hash(s: impl AsRef<[u8]>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s.as_ref() {
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
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        let (secs, nanos) = parsed.get_timestamp().unwrap().to_unix();
        assert_eq!(
            secs * 1000 + u64::from(nanos) / 1_000_000,
            1_700_000_000_000
        );
    }
}
