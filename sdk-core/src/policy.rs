//! Retry policy: what each response means for the batch in flight, and how
//! long to wait before trying again.
//!
//! | response | meaning |
//! |---|---|
//! | 200/202 | delivered; per-event rejections that cannot succeed are dropped (`rejected_by_server`), retryable ones go back to the queue |
//! | 413 | too large: split the batch in half and send again (a single event is dropped, `too_large`) |
//! | 429, 503 | come back after `Retry-After` (or backoff if absent) |
//! | 408, other 5xx, timeout, network error | retry the same batch with backoff |
//! | other 4xx | the batch can never succeed: drop it (`rejected_by_server`) |
//!
//! Backoff is exponential with full jitter: a uniform delay in
//! `[base/10, min(cap, base·2ⁿ⁻¹)]` after the n-th consecutive failure, so a
//! fleet of devices coming back online does not retry in lockstep.

use crate::ids::Rng;
use crate::upload::UploadResult;

/// What to do with the batch in flight after a response.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The gateway processed the batch. Positions listed are rejected
    /// events: `drop` can never succeed, `retry` may later.
    Delivered {
        /// Batch positions to drop.
        drop: Vec<usize>,
        /// Batch positions to queue again.
        retry: Vec<usize>,
    },
    /// Send the batch again in smaller pieces.
    Split,
    /// Keep the batch and send it again later; `after_ms` if the server said when.
    RetryLater {
        /// Server-requested delay, ms.
        after_ms: Option<u64>,
    },
    /// Drop the whole batch.
    DropBatch,
}

/// Interprets a request's result.
pub fn classify(result: &UploadResult) -> Verdict {
    match result {
        UploadResult::Timeout | UploadResult::Network(_) => Verdict::RetryLater { after_ms: None },
        UploadResult::Accepted { rejected, .. } => delivered(rejected.clone()),
        // Never the answer to a batch; a platform that says so is wrong,
        // and the batch is sent again.
        UploadResult::Settings(_) => Verdict::RetryLater { after_ms: None },
        UploadResult::Http {
            status,
            retry_after,
            body,
        } => match *status {
            200..=299 => delivered(read_rejections(body)),
            413 => Verdict::Split,
            429 | 503 => Verdict::RetryLater {
                after_ms: retry_after.as_deref().and_then(parse_retry_after),
            },
            408 | 500..=599 => Verdict::RetryLater { after_ms: None },
            _ => Verdict::DropBatch,
        },
    }
}

/// The contract's `BatchResponse` rejections, read by hand (crate::json).
#[cfg(feature = "read-responses")]
fn read_rejections(body: &[u8]) -> Vec<(usize, bool)> {
    crate::json::rejections(body).unwrap_or_default()
}

/// Without `read-responses` the platform reports 2xx answers as
/// `UploadResult::Accepted`; an `Http` 2xx counts as taken whole.
#[cfg(not(feature = "read-responses"))]
fn read_rejections(_: &[u8]) -> Vec<(usize, bool)> {
    Vec::new()
}

fn delivered(rejected: Vec<(usize, bool)>) -> Verdict {
    let (mut drop, mut retry) = (Vec::new(), Vec::new());
    for (index, retryable) in rejected {
        if retryable {
            retry.push(index);
        } else {
            drop.push(index);
        }
    }
    Verdict::Delivered { drop, retry }
}

/// `Retry-After` in seconds (the form the gateway sends). HTTP dates are
/// not trusted: device clocks are too often wrong; backoff applies instead.
pub fn parse_retry_after(v: &str) -> Option<u64> {
    v.trim()
        .parse::<u64>()
        .ok()
        .map(|s| s.saturating_mul(1000).min(24 * 3600 * 1000))
}

/// The delay after `failures` consecutive failures.
pub fn backoff_ms(failures: u32, base_ms: u64, cap_ms: u64, rng: &mut Rng) -> u64 {
    let exp = base_ms.saturating_mul(1u64 << failures.saturating_sub(1).min(40));
    let top = exp.min(cap_ms).max(1);
    let floor = (base_ms / 10).min(top);
    floor + rng.below_or_eq(top - floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, retry_after: Option<&str>, body: &str) -> UploadResult {
        UploadResult::Http {
            status,
            retry_after: retry_after.map(str::to_owned),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn rejections_read_by_the_platform_count_like_a_body() {
        let read = UploadResult::Accepted {
            rejected: vec![(0, false), (2, true)],
            settings_version: None,
        };
        assert_eq!(
            classify(&read),
            Verdict::Delivered {
                drop: vec![0],
                retry: vec![2]
            }
        );
    }

    #[test]
    fn each_status_has_its_verdict() {
        let body = r#"{"accepted":1,"rejected":[{"index":0,"code":"missing_field","message":"","retryable":false},
                                                 {"index":2,"code":"queue_full","message":"","retryable":true}]}"#;
        assert_eq!(
            classify(&http(200, None, body)),
            Verdict::Delivered {
                drop: vec![0],
                retry: vec![2]
            }
        );
        assert_eq!(
            classify(&http(202, None, "")),
            Verdict::Delivered {
                drop: vec![],
                retry: vec![]
            }
        );
        assert_eq!(classify(&http(413, None, "")), Verdict::Split);
        assert_eq!(
            classify(&http(429, Some("7"), "")),
            Verdict::RetryLater {
                after_ms: Some(7000)
            }
        );
        assert_eq!(
            classify(&http(503, Some("Wed, 21 Oct 2015 07:28:00 GMT"), "")),
            Verdict::RetryLater { after_ms: None }
        );
        assert_eq!(
            classify(&http(500, None, "")),
            Verdict::RetryLater { after_ms: None }
        );
        assert_eq!(classify(&http(400, None, "")), Verdict::DropBatch);
        assert_eq!(classify(&http(401, None, "")), Verdict::DropBatch);
        assert_eq!(
            classify(&UploadResult::Timeout),
            Verdict::RetryLater { after_ms: None }
        );
    }

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let mut rng = Rng::new(3);
        for failures in 1..30 {
            let d = backoff_ms(failures, 1000, 300_000, &mut rng);
            assert!((100..=300_000).contains(&d), "{d}");
            let top = (1000u64 << (failures - 1).min(40)).min(300_000);
            assert!(d <= top);
        }
    }
}
