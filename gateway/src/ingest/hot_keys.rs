//! Hot-key detection: a GCRA rate per `(app, userId or anonymousId)`.
//!
//! Records are keyed by their user, so one looping client (or a load-test
//! user) sending far more than anyone else fills the one partition its id
//! hashes to, and every consumer of that partition falls behind. Past the
//! rate, the decide step marks the user's events `tb-hot-key` and sends
//! them without a key (spread over the topic, or to the overflow topic):
//! nothing is refused, only the per-user ordering of the excess is given up.
//!
//! Memory is bounded: the table holds at most `max_keys` users in 16
//! shards. A full shard first forgets users whose state is back to "fresh"
//! (they lose nothing), then, if still full, an eighth of its users in
//! hash order; a forgotten hot user is let through keyed for one more burst
//! before it is caught again. Keys are hashed with a per-process random
//! seed, so a client cannot aim collisions at another user.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const SHARDS: usize = 16;

/// The per-user rate table.
pub struct HotKeys {
    shards: Box<[Mutex<HashMap<u64, u64>>]>,
    per_shard: usize,
    /// Nanoseconds between two events at the sustained rate.
    interval: u64,
    /// How far ahead of now a user's theoretical arrival time may run.
    tolerance: u64,
    epoch: Instant,
    seed: RandomState,
    evicted: AtomicU64,
}

impl HotKeys {
    /// A table allowing `per_second` sustained with `burst`, for at most
    /// `max_keys` users; `None` when `per_second` is 0 (off).
    pub fn new(per_second: u32, burst: u32, max_keys: usize) -> Option<HotKeys> {
        if per_second == 0 {
            return None;
        }
        let interval = 1_000_000_000 / u64::from(per_second);
        Some(HotKeys {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: max_keys.div_ceil(SHARDS).max(4),
            interval,
            tolerance: interval.saturating_mul(u64::from(burst.max(1))),
            epoch: Instant::now(),
            seed: RandomState::new(),
            evicted: AtomicU64::new(0),
        })
    }

    /// Charges one event to `user` of `app`; `true` when the user is over
    /// its rate (the event is hot). An empty id is never hot: such events
    /// have no key to pile onto.
    pub fn is_hot(&self, app: &str, user: &str, now: Instant) -> bool {
        if user.is_empty() {
            return false;
        }
        let key = self.seed.hash_one((app, user));
        let now = now.saturating_duration_since(self.epoch).as_nanos() as u64;
        let shard = &self.shards[(key as usize) % SHARDS];
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.per_shard && !map.contains_key(&key) {
            self.make_room(&mut map, now);
        }
        let tat = map.entry(key).or_insert(now);
        let start = (*tat).max(now);
        if start - now > self.tolerance {
            return true;
        }
        *tat = start + self.interval;
        false
    }

    fn make_room(&self, map: &mut HashMap<u64, u64>, now: u64) {
        let before = map.len();
        map.retain(|_, tat| *tat > now);
        if map.len() >= self.per_shard {
            // An eighth of them, in the map's order, which follows hashes
            // seeded per process: no client can keep itself in the table.
            let victims: Vec<u64> = map.keys().take(map.len().div_ceil(8)).copied().collect();
            for k in victims {
                map.remove(&k);
            }
        }
        self.evicted
            .fetch_add((before - map.len()) as u64, Ordering::Relaxed);
    }

    /// Users currently remembered.
    pub fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }

    /// Users forgotten to make room since start.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_user_over_the_rate_is_hot_and_others_are_not() {
        let h = HotKeys::new(10, 5, 1000).unwrap();
        let t = Instant::now();
        // The burst (and one for the first arrival) passes keyed.
        let hot = (0..20).filter(|_| h.is_hot("app", "loop", t)).count();
        assert_eq!(hot, 14);
        assert!(!h.is_hot("app", "someone", t), "others are not affected");
        assert!(!h.is_hot("other-app", "loop", t), "per app");
        assert!(!h.is_hot("app", "", t), "no id, no key to protect");
        // At the sustained rate again, it is keyed again.
        assert!(!h.is_hot("app", "loop", t + Duration::from_secs(2)));
        assert!(HotKeys::new(0, 5, 10).is_none(), "0 turns it off");
    }

    #[test]
    fn the_table_is_bounded_and_forgets_idle_users_first() {
        let h = HotKeys::new(1000, 1, 64).unwrap();
        let t = Instant::now();
        for i in 0..10_000 {
            h.is_hot("app", &format!("u{i}"), t);
        }
        assert!(h.tracked() <= 64 + SHARDS, "{}", h.tracked());
        assert!(h.evicted() > 9000);
        // Later, the idle ones go first: a busy user in a shard full of
        // idle ones survives the newcomers (at most 4 users are not idle,
        // so no shard of 4 must forget one of them).
        let later = t + Duration::from_secs(1);
        for _ in 0..3 {
            h.is_hot("app", "busy", later);
        }
        for i in 0..3 {
            h.is_hot("app", &format!("w{i}"), later);
        }
        assert!(h.is_hot("app", "busy", later), "still remembered as hot");
    }
}
