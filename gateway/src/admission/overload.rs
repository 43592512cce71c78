//! Overload protection: bounded work in progress, and load shedding before
//! the gateway degrades.
//!
//! * At most `overload.max_inflight_requests` requests and
//!   `overload.max_inflight_bytes` request bytes are held at once; beyond
//!   that a request gets 503 `overloaded` at once.
//! * When the shared producer's queue passes the high watermark (Kafka is
//!   slower than intake), new requests get 503 until it drains below the
//!   low watermark — instead of buffering without bound or answering 200
//!   and dropping.

use crate::config::{KafkaConfig, OverloadConfig};
use crate::error::RequestError;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tributary_contract::ErrorCode;

/// Granularity of the byte budget.
const BYTE_UNIT: usize = 1024;

/// Permits held by one request; released when dropped.
pub struct Admission {
    _request: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

/// The gateway's work-in-progress bounds.
pub struct Overload {
    requests: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    shedding: AtomicBool,
    high: i64,
    low: i64,
}

impl Overload {
    /// Bounds from configuration.
    pub fn new(cfg: &OverloadConfig, kafka: &KafkaConfig) -> Overload {
        let queue = kafka.queue_max_messages as f64;
        Overload {
            requests: Arc::new(Semaphore::new(cfg.max_inflight_requests)),
            bytes: Arc::new(Semaphore::new((cfg.max_inflight_bytes / BYTE_UNIT).max(1))),
            shedding: AtomicBool::new(false),
            high: (queue * cfg.producer_high_watermark) as i64,
            low: (queue * cfg.producer_low_watermark) as i64,
        }
    }

    /// Admits a request that may hold up to `body_bytes`, or refuses it.
    pub fn admit(&self, body_bytes: usize) -> Result<Admission, RequestError> {
        let busy = || {
            let mut e = RequestError::new(
                ErrorCode::Overloaded,
                "the gateway is at capacity; retry shortly",
            );
            e.retry_after = Some(1);
            e
        };
        let request = self
            .requests
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy())?;
        let units = body_bytes.div_ceil(BYTE_UNIT).max(1) as u32;
        let bytes = self
            .bytes
            .clone()
            .try_acquire_many_owned(units)
            .map_err(|_| busy())?;
        Ok(Admission {
            _request: request,
            _bytes: bytes,
        })
    }

    /// Updates the shedding state from the producer queue depth and says
    /// whether to shed now (high/low watermark hysteresis).
    pub fn shed(&self, producer_queue: i64) -> bool {
        if producer_queue >= self.high {
            self.shedding.store(true, Ordering::Relaxed);
        } else if producer_queue < self.low {
            self.shedding.store(false, Ordering::Relaxed);
        }
        self.shedding.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overload(requests: usize, bytes: usize) -> Overload {
        let cfg = OverloadConfig {
            max_inflight_requests: requests,
            max_inflight_bytes: bytes,
            ..OverloadConfig::default()
        };
        let kafka = KafkaConfig {
            queue_max_messages: 100,
            ..KafkaConfig::default()
        };
        Overload::new(&cfg, &kafka)
    }

    #[test]
    fn requests_and_bytes_are_bounded_and_released() {
        let o = overload(2, 10 * 1024);
        let a = o.admit(1024).unwrap();
        let _b = o.admit(1024).unwrap();
        assert_eq!(o.admit(1).err().unwrap().code, ErrorCode::Overloaded);
        drop(a);
        assert!(o.admit(1).is_ok());
        let big = overload(10, 4 * 1024);
        assert!(big.admit(5 * 1024).is_err(), "more bytes than the budget");
    }

    #[test]
    fn shedding_has_hysteresis() {
        let o = overload(1, 1024);
        assert!(!o.shed(70));
        assert!(o.shed(80), "high watermark reached");
        assert!(o.shed(60), "still above the low watermark");
        assert!(!o.shed(49), "resumes below the low watermark");
    }
}
