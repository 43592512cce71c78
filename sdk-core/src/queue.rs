//! The queue: an in-memory index of the stored events, split into waiting
//! and in-flight, with the byte and count budgets and the eviction order.
//!
//! Eviction makes room for a new event by dropping the oldest waiting
//! `Normal` event first, then the oldest waiting `High` one. Events of the
//! batch in flight are never evicted: a retry must carry exactly the events
//! its idempotency key was first sent with.

use crate::storage::{Priority, StoredEvent};
use std::collections::{BTreeMap, BTreeSet};

/// Queued events by sequence number.
#[derive(Debug, Default)]
pub struct Queue {
    events: BTreeMap<u64, StoredEvent>,
    in_flight: BTreeSet<u64>,
    bytes: usize,
}

impl Queue {
    /// A queue holding `events`.
    pub fn new(events: Vec<StoredEvent>) -> Queue {
        let mut q = Queue::default();
        for e in events {
            q.push(e);
        }
        q
    }

    /// Events queued (waiting and in flight).
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Bytes queued.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Events not in flight.
    pub fn waiting(&self) -> usize {
        self.events.len() - self.in_flight.len()
    }

    /// Adds an event.
    pub fn push(&mut self, e: StoredEvent) {
        self.bytes += e.cost();
        if let Some(old) = self.events.insert(e.seq, e) {
            self.bytes -= old.cost();
        }
    }

    /// Whether `seq` is queued.
    pub fn contains(&self, seq: u64) -> bool {
        self.events.contains_key(&seq)
    }

    /// Removes events; returns those that were present.
    pub fn remove(&mut self, seqs: &[u64]) -> Vec<u64> {
        let mut gone = Vec::with_capacity(seqs.len());
        for s in seqs {
            if let Some(e) = self.events.remove(s) {
                self.bytes -= e.cost();
                self.in_flight.remove(s);
                gone.push(*s);
            }
        }
        gone
    }

    /// Chooses events to evict so one more event of `cost` bytes fits in
    /// the budgets. `None` if even evicting every waiting event would not
    /// make room (then the new event is the one dropped).
    pub fn plan_eviction(
        &self,
        cost: usize,
        max_events: usize,
        max_bytes: usize,
    ) -> Option<Vec<u64>> {
        let mut count = self.events.len() + 1;
        let mut bytes = self.bytes + cost;
        let mut victims = Vec::new();
        for class in [Priority::Normal, Priority::High] {
            for (seq, e) in &self.events {
                if count <= max_events && bytes <= max_bytes {
                    return Some(victims);
                }
                if e.priority == class && !self.in_flight.contains(seq) {
                    victims.push(*seq);
                    count -= 1;
                    bytes -= e.cost();
                }
            }
        }
        (count <= max_events && bytes <= max_bytes).then_some(victims)
    }

    /// The oldest waiting event.
    pub fn oldest_waiting(&self) -> Option<&StoredEvent> {
        self.events
            .values()
            .find(|e| !self.in_flight.contains(&e.seq))
    }

    /// Waiting events created before `cutoff_ms`.
    pub fn older_than(&self, cutoff_ms: i64) -> Vec<u64> {
        self.events
            .values()
            .filter(|e| e.created_ms < cutoff_ms && !self.in_flight.contains(&e.seq))
            .map(|e| e.seq)
            .collect()
    }

    /// Bytes of waiting events.
    pub fn waiting_bytes(&self) -> usize {
        self.events
            .values()
            .filter(|e| !self.in_flight.contains(&e.seq))
            .map(StoredEvent::cost)
            .sum()
    }

    /// Marks the oldest waiting events as in flight, up to `max_events` and
    /// `max_bytes` (at least one event if any waits), and returns them.
    pub fn take_batch(&mut self, max_events: usize, max_bytes: usize) -> Vec<u64> {
        let mut out = Vec::new();
        let mut bytes = 0;
        for e in self.events.values() {
            if out.len() >= max_events {
                break;
            }
            if self.in_flight.contains(&e.seq) {
                continue;
            }
            if !out.is_empty() && bytes + e.cost() > max_bytes {
                break;
            }
            bytes += e.cost();
            out.push(e.seq);
        }
        self.in_flight.extend(out.iter().copied());
        out
    }

    /// Marks specific events as in flight (a batch resumed after restart).
    pub fn mark_in_flight(&mut self, seqs: &[u64]) {
        self.in_flight
            .extend(seqs.iter().copied().filter(|s| self.events.contains_key(s)));
    }

    /// Returns in-flight events to waiting.
    pub fn release(&mut self, seqs: &[u64]) {
        for s in seqs {
            self.in_flight.remove(s);
        }
    }

    /// The stored form of an event.
    pub fn get(&self, seq: u64) -> Option<&StoredEvent> {
        self.events.get(&seq)
    }

    /// Every queued sequence number.
    pub fn all(&self) -> Vec<u64> {
        self.events.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64, p: Priority, n: usize) -> StoredEvent {
        StoredEvent {
            seq,
            created_ms: seq as i64,
            priority: p,
            body: vec![b'x'; n],
        }
    }

    #[test]
    fn evicts_normal_before_high_and_never_in_flight() {
        let mut q = Queue::new(vec![
            ev(1, Priority::High, 10),
            ev(2, Priority::Normal, 10),
            ev(3, Priority::Normal, 10),
        ]);
        q.mark_in_flight(&[2]);
        assert_eq!(q.plan_eviction(10, 3, 1000), Some(vec![3]));
        assert_eq!(q.plan_eviction(10, 2, 1000), Some(vec![3, 1]));
        assert_eq!(
            q.plan_eviction(10, 1, 1000),
            None,
            "only the in-flight event would be left"
        );
        assert_eq!(
            q.plan_eviction(5, 10, 35),
            Some(vec![]),
            "exactly full fits"
        );
        assert_eq!(q.plan_eviction(5, 10, 34), Some(vec![3]));
    }

    #[test]
    fn batches_take_oldest_waiting_within_limits() {
        let mut q = Queue::new((1..=5).map(|i| ev(i, Priority::Normal, 10)).collect());
        assert_eq!(q.take_batch(2, 1000), vec![1, 2]);
        assert_eq!(q.take_batch(10, 25), vec![3, 4]);
        assert_eq!(q.waiting(), 1);
        q.release(&[1, 2]);
        assert_eq!(q.oldest_waiting().unwrap().seq, 1);
        assert_eq!(q.take_batch(10, 1), vec![1], "one event always fits");
    }
}
