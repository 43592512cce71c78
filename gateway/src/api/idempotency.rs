//! Batch idempotency: a client that retries a batch after a timeout gets the
//! original answer instead of producing the events a second time.
//!
//! SDKs send `Idempotency-Key` (the same value on every retry of one batch).
//! The gateway remembers the answer of each processed batch per app for
//! `idempotency.window_secs`, at most `idempotency.max_entries` keys (the
//! oldest are forgotten first). A retry that arrives while the first attempt
//! is still waiting for Kafka waits for that attempt's answer. Each request
//! runs in its own task (`api::server`), so an attempt whose client hung up
//! still finishes and records its answer.
//!
//! Limits, also in docs/contract.md: the memory is per gateway process, so
//! a retry routed to another replica, or arriving after a restart or after
//! the window, is processed again; `messageId` still identifies such
//! duplicates downstream. Only processed answers (200/202) are remembered; a
//! refused request (4xx, 503) is simply processed again.

use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Longest accepted key, in bytes; longer keys are ignored (not an error).
pub const MAX_KEY_LEN: usize = 128;

/// A remembered answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    /// HTTP status (200 or 202).
    pub status: u16,
    /// Response body.
    pub body: Bytes,
}

type Slot = watch::Receiver<Option<Arc<Cached>>>;
type Key = (Arc<str>, String);

enum Entry {
    Pending(Slot),
    Done(Arc<Cached>),
}

struct Inner {
    entries: HashMap<Key, Entry>,
    // Completion order, for expiry and the entry cap.
    order: VecDeque<(Key, Instant)>,
}

/// The per-process memory of recent batch answers.
pub struct IdempotencyCache {
    inner: Mutex<Inner>,
    window: Duration,
    max_entries: usize,
}

/// What to do with a request carrying a key.
pub enum Claim {
    /// First time: process it, then [`Ticket::complete`] (or drop the
    /// ticket to forget the key).
    New(Ticket),
    /// Already answered: send this again.
    Done(Arc<Cached>),
    /// Being processed by another request: wait for its answer.
    Wait(Slot),
}

/// The right to answer one key. Dropping it without completing forgets the
/// key, so a later retry is processed afresh.
pub struct Ticket {
    cache: Arc<IdempotencyCache>,
    key: Option<Key>,
    tx: watch::Sender<Option<Arc<Cached>>>,
}

impl IdempotencyCache {
    /// A cache remembering answers for `window`, at most `max_entries`.
    pub fn new(window: Duration, max_entries: usize) -> Arc<IdempotencyCache> {
        Arc::new(IdempotencyCache {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                order: VecDeque::new(),
            }),
            window,
            max_entries,
        })
    }

    /// Looks up `key` for `app`, claiming it when it is new.
    pub fn claim(self: &Arc<Self>, app: &Arc<str>, key: &str) -> Claim {
        let mut inner = self.lock();
        self.expire(&mut inner, Instant::now());
        let k: Key = (app.clone(), key.to_owned());
        match inner.entries.get(&k) {
            Some(Entry::Done(c)) => Claim::Done(c.clone()),
            Some(Entry::Pending(rx)) => Claim::Wait(rx.clone()),
            None => {
                let (tx, rx) = watch::channel(None);
                inner.entries.insert(k.clone(), Entry::Pending(rx));
                Claim::New(Ticket {
                    cache: self.clone(),
                    key: Some(k),
                    tx,
                })
            }
        }
    }

    // A panic while holding the lock cannot leave the map inconsistent
    // (every update is a single insert or remove), so a poisoned lock is
    // still usable.
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Keys currently remembered (answered or pending).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.entries.len()).unwrap_or(0)
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn expire(&self, inner: &mut Inner, now: Instant) {
        while let Some((_, at)) = inner.order.front() {
            let too_old = now.duration_since(*at) > self.window;
            if !too_old && inner.order.len() <= self.max_entries {
                break;
            }
            if let Some((k, _)) = inner.order.pop_front()
                && matches!(inner.entries.get(&k), Some(Entry::Done(_)))
            {
                inner.entries.remove(&k);
            }
        }
    }
}

impl Ticket {
    /// Records the answer; waiting retries receive it too.
    pub fn complete(mut self, answer: Cached) {
        let answer = Arc::new(answer);
        if let Some(k) = self.key.take() {
            let mut inner = self.cache.lock();
            inner.entries.insert(k.clone(), Entry::Done(answer.clone()));
            inner.order.push_back((k, Instant::now()));
            self.cache.expire(&mut inner, Instant::now());
        }
        let _ = self.tx.send(Some(answer));
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            let mut inner = self.cache.lock();
            inner.entries.remove(&k);
        }
        // Waiters see the sender close and process the request themselves.
    }
}

/// Waits for the answer of a key being processed; `None` if that attempt
/// gave up without an answer worth repeating.
pub async fn wait(mut slot: Slot) -> Option<Arc<Cached>> {
    loop {
        if let Some(c) = slot.borrow().clone() {
            return Some(c);
        }
        if slot.changed().await.is_err() {
            return slot.borrow().clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(n: u8) -> Cached {
        Cached {
            status: 200,
            body: Bytes::from(vec![n]),
        }
    }

    #[tokio::test]
    async fn second_claim_gets_the_first_answer() {
        let cache = IdempotencyCache::new(Duration::from_secs(60), 10);
        let app: Arc<str> = Arc::from("a");
        let Claim::New(t) = cache.claim(&app, "k") else {
            panic!("new")
        };
        let Claim::Wait(slot) = cache.claim(&app, "k") else {
            panic!("pending")
        };
        t.complete(answer(1));
        assert_eq!(wait(slot).await.unwrap().body, Bytes::from(vec![1]));
        assert!(matches!(cache.claim(&app, "k"), Claim::Done(_)));
        // Keys are per app.
        assert!(matches!(cache.claim(&Arc::from("b"), "k"), Claim::New(_)));
    }

    #[tokio::test]
    async fn an_abandoned_ticket_is_forgotten() {
        let cache = IdempotencyCache::new(Duration::from_secs(60), 10);
        let app: Arc<str> = Arc::from("a");
        let Claim::New(t) = cache.claim(&app, "k") else {
            panic!("new")
        };
        let Claim::Wait(slot) = cache.claim(&app, "k") else {
            panic!("pending")
        };
        drop(t);
        assert!(wait(slot).await.is_none());
        assert!(matches!(cache.claim(&app, "k"), Claim::New(_)));
    }

    #[test]
    fn memory_is_bounded_by_count() {
        let cache = IdempotencyCache::new(Duration::from_secs(60), 3);
        let app: Arc<str> = Arc::from("a");
        for i in 0..10 {
            let Claim::New(t) = cache.claim(&app, &i.to_string()) else {
                panic!()
            };
            t.complete(answer(i));
        }
        assert_eq!(cache.len(), 3);
        assert!(matches!(cache.claim(&app, "0"), Claim::New(_)));
    }
}
