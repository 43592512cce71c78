//! Waiting for Kafka's acknowledgements: a request in `broker` mode, or a
//! spool segment being replayed, counts the records it hands to the
//! producer, and the delivery reports count them down. The send / wait /
//! collect-failures cycle both use is [`AckWaiter::wait`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Collects the delivery reports of one batch of records and wakes the
/// waiting task when the last one is in.
#[derive(Debug)]
pub struct AckWaiter {
    // Starts at 1 so the count cannot reach zero while records are still
    // being sent; `wait` removes that guard.
    remaining: AtomicUsize,
    failures: Mutex<Vec<(usize, String)>>,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

/// The reports did not all come within the time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overdue;

/// A waiter and the receiver its last report fires.
pub struct Acks {
    /// Shared with every record's delivery tag.
    pub waiter: Arc<AckWaiter>,
    settled: oneshot::Receiver<()>,
}

impl AckWaiter {
    /// Registers one more record about to be sent.
    pub fn expect_one(&self) {
        self.remaining.fetch_add(1, Ordering::AcqRel);
    }

    /// Settles one record; `error` is `None` on success.
    pub fn settle(&self, index: usize, error: Option<String>) {
        if let Some(e) = error
            && let Ok(mut f) = self.failures.lock()
        {
            f.push((index, e));
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1
            && let Ok(mut done) = self.done.lock()
            && let Some(tx) = done.take()
        {
            let _ = tx.send(());
        }
    }

    /// Forgets a record that was expected but never reached the producer.
    pub fn unexpect_one(&self) {
        self.settle(usize::MAX, None);
    }

    fn take_failures(&self) -> Vec<(usize, String)> {
        self.failures
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default()
    }
}

impl Default for Acks {
    fn default() -> Acks {
        Acks::new()
    }
}

impl Acks {
    /// A waiter with nothing expected yet.
    pub fn new() -> Acks {
        let (tx, rx) = oneshot::channel();
        let w = AckWaiter {
            remaining: AtomicUsize::new(1),
            failures: Mutex::new(Vec::new()),
            done: Mutex::new(Some(tx)),
        };
        Acks {
            waiter: Arc::new(w),
            settled: rx,
        }
    }

    /// Called once every record has been handed to the producer: waits up
    /// to `limit` for the reports, then returns the records that failed (by
    /// index, with Kafka's reason).
    pub async fn wait(self, limit: Duration) -> Result<Vec<(usize, String)>, Overdue> {
        self.waiter.settle(usize::MAX, None);
        match tokio::time::timeout(limit, self.settled).await {
            Ok(Ok(())) => Ok(self.waiter.take_failures()),
            Ok(Err(_)) | Err(_) => Err(Overdue),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_last_report_wakes_the_waiter_with_its_failures() {
        let acks = Acks::new();
        let w = acks.waiter.clone();
        for _ in 0..3 {
            w.expect_one();
        }
        w.unexpect_one();
        w.settle(0, None);
        w.settle(1, Some("broken".into()));
        let failures = acks.wait(Duration::from_secs(1)).await.unwrap();
        assert_eq!(failures, [(1, "broken".to_owned())]);
    }

    #[tokio::test]
    async fn a_missing_report_is_overdue() {
        let acks = Acks::new();
        acks.waiter.expect_one();
        assert_eq!(acks.wait(Duration::from_millis(20)).await, Err(Overdue));
    }
}
