//! Rate limits: GCRA (the `governor` crate) per write key, in requests and
//! events per second, and per client IP in requests per second.
//!
//! Over a limit the client gets 429 with `Retry-After` taken from the
//! limiter's own earliest-allowed time, and the body names the limit. The
//! per-IP table is a sharded map (dashmap) whose idle entries are evicted
//! every minute, so a flood of addresses cannot grow it without bound.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// A limit that was hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    /// Which limit: `key_requests`, `key_events` or `ip_requests`.
    pub limit: &'static str,
    /// When a retry can succeed.
    pub retry_after: Duration,
}

impl Limited {
    /// `Retry-After` in whole seconds, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0)
    }
}

/// One GCRA limiter with its burst.
#[derive(Debug)]
pub struct Limiter {
    inner: DefaultDirectRateLimiter,
    burst: NonZeroU32,
    name: &'static str,
}

fn quota(per_second: u32, burst: u32) -> Option<(Quota, NonZeroU32)> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(rate);
    Some((Quota::per_second(rate).allow_burst(burst), burst))
}

impl Limiter {
    /// A limiter of `per_second` with `burst`; `None` when `per_second` is 0 (off).
    pub fn new(name: &'static str, per_second: u32, burst: u32) -> Option<Limiter> {
        let (q, burst) = quota(per_second, burst)?;
        Some(Limiter {
            inner: RateLimiter::direct(q),
            burst,
            name,
        })
    }

    /// Takes `n` cells. A request larger than the burst is charged the
    /// whole burst (it could never pass otherwise).
    pub fn check(&self, n: u32) -> Result<(), Limited> {
        let n = NonZeroU32::new(n.min(self.burst.get())).unwrap_or(NonZeroU32::MIN);
        match self.inner.check_n(n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Limited {
                limit: self.name,
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            }),
            Err(_) => Err(Limited {
                limit: self.name,
                retry_after: Duration::from_secs(1),
            }),
        }
    }
}

/// Requests per second per client IP.
pub struct IpLimiter {
    inner: DefaultKeyedRateLimiter<IpAddr>,
}

impl IpLimiter {
    /// `None` when `per_second` is 0 (off).
    pub fn new(per_second: u32, burst: u32) -> Option<IpLimiter> {
        let (q, _) = quota(per_second, burst)?;
        Some(IpLimiter {
            inner: RateLimiter::dashmap(q),
        })
    }

    /// Takes one request for `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), Limited> {
        self.inner.check_key(&ip).map_err(|not_until| Limited {
            limit: "ip_requests",
            retry_after: not_until.wait_time_from(DefaultClock::default().now()),
        })
    }

    /// Forgets addresses whose limiter is back to full capacity.
    pub fn evict_idle(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }

    /// Starts the task that forgets idle entries every minute; it ends
    /// when the limiter is dropped.
    pub fn spawn_evictor(self: &std::sync::Arc<Self>) {
        let limiter = std::sync::Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(l) = limiter.upgrade() else { break };
                l.evict_idle();
            }
        });
    }

    /// Addresses currently tracked.
    pub fn tracked(&self) -> usize {
        self.inner.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_limited_with_a_computed_wait() {
        let l = Limiter::new("key_requests", 2, 3).unwrap();
        for _ in 0..3 {
            l.check(1).unwrap();
        }
        let e = l.check(1).unwrap_err();
        assert_eq!(e.limit, "key_requests");
        assert!(
            e.retry_after > Duration::ZERO && e.retry_after <= Duration::from_millis(500),
            "{e:?}"
        );
        assert_eq!(e.retry_after_secs(), 1);
        assert!(Limiter::new("x", 0, 10).is_none(), "0 turns a limit off");
    }

    #[test]
    fn events_are_charged_by_count() {
        let l = Limiter::new("key_events", 100, 100).unwrap();
        l.check(60).unwrap();
        assert!(l.check(60).is_err());
        assert!(l.check(40).is_ok());
    }

    #[test]
    fn ip_limits_are_per_address_and_idle_ones_are_evicted() {
        let l = IpLimiter::new(10, 1).unwrap();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        l.check(a).unwrap();
        assert!(l.check(a).is_err());
        l.check(b).unwrap();
        assert_eq!(l.tracked(), 2);
        // An entry is forgotten once it is indistinguishable from a fresh one.
        std::thread::sleep(Duration::from_millis(300));
        l.evict_idle();
        assert_eq!(l.tracked(), 0);
    }
}
