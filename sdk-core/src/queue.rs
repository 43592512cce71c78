//! The queue: an in-memory index of the stored events, split into waiting
//! and in-flight, with the byte and count budgets and the eviction order.
//!
//! Eviction makes room for a new event by dropping the oldest waiting
//! `Normal` event first, then the oldest waiting `High` one. Events of the
//! batch in flight are never evicted: a retry must carry exactly the events
//! its idempotency key was first sent with.

use crate::storage::{Priority, StoredEvent};

/// One queued event and whether it belongs to the batch in flight.
#[derive(Debug)]
struct Slot {
    event: StoredEvent,
    in_flight: bool,
}

/// Queued events, ordered by sequence number.
///
/// A sorted `Vec` rather than a `BTreeMap`: events arrive in sequence
/// order, the queue holds at most thousands of them, and every generic
/// map instantiation costs kilobytes in the web SDK's WebAssembly.
#[derive(Debug, Default)]
pub struct Queue {
    slots: Vec<Slot>,
    in_flight: usize,
    bytes: usize,
    in_flight_bytes: usize,
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

    fn find(&self, seq: u64) -> Result<usize, usize> {
        self.slots.binary_search_by_key(&seq, |s| s.event.seq)
    }

    fn waiting_slots(&self) -> impl Iterator<Item = &StoredEvent> {
        self.slots.iter().filter(|s| !s.in_flight).map(|s| &s.event)
    }

    /// Events queued (waiting and in flight).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bytes queued.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Events not in flight.
    pub fn waiting(&self) -> usize {
        self.slots.len() - self.in_flight
    }

    /// Adds an event (replacing one with the same sequence number).
    pub fn push(&mut self, e: StoredEvent) {
        self.bytes += e.cost();
        let slot = Slot {
            event: e,
            in_flight: false,
        };
        match self.find(slot.event.seq) {
            Ok(i) => {
                let old = std::mem::replace(&mut self.slots[i], slot);
                self.bytes -= old.event.cost();
                if old.in_flight {
                    self.in_flight -= 1;
                    self.in_flight_bytes -= old.event.cost();
                }
            }
            Err(i) => self.slots.insert(i, slot),
        }
    }

    /// Whether `seq` is queued.
    pub fn contains(&self, seq: u64) -> bool {
        self.find(seq).is_ok()
    }

    /// Removes events; returns those that were present.
    pub fn remove(&mut self, seqs: &[u64]) -> Vec<u64> {
        // `seqs` is a batch or a few eviction victims: a linear search
        // beats sorting (and sorting's code in the web SDK's wasm).
        let mut gone = Vec::with_capacity(seqs.len());
        let (mut bytes, mut in_flight, mut in_flight_bytes) = (0, 0, 0);
        self.slots.retain(|s| {
            if !seqs.contains(&s.event.seq) {
                return true;
            }
            bytes += s.event.cost();
            if s.in_flight {
                in_flight += 1;
                in_flight_bytes += s.event.cost();
            }
            gone.push(s.event.seq);
            false
        });
        self.bytes -= bytes;
        self.in_flight -= in_flight;
        self.in_flight_bytes -= in_flight_bytes;
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
        let mut count = self.slots.len() + 1;
        let mut bytes = self.bytes + cost;
        let mut victims = Vec::new();
        for class in [Priority::Normal, Priority::High] {
            for e in self.waiting_slots() {
                if count <= max_events && bytes <= max_bytes {
                    return Some(victims);
                }
                if e.priority == class {
                    victims.push(e.seq);
                    count -= 1;
                    bytes -= e.cost();
                }
            }
        }
        (count <= max_events && bytes <= max_bytes).then_some(victims)
    }

    /// The oldest waiting event.
    pub fn oldest_waiting(&self) -> Option<&StoredEvent> {
        self.waiting_slots().next()
    }

    /// Waiting events created before `cutoff_ms`.
    pub fn older_than(&self, cutoff_ms: i64) -> Vec<u64> {
        self.waiting_slots()
            .filter(|e| e.created_ms < cutoff_ms)
            .map(|e| e.seq)
            .collect()
    }

    /// Bytes of waiting events.
    pub fn waiting_bytes(&self) -> usize {
        self.bytes - self.in_flight_bytes
    }

    /// Marks the oldest waiting events as in flight, up to `max_events` and
    /// `max_bytes` (at least one event if any waits), and returns them.
    pub fn take_batch(&mut self, max_events: usize, max_bytes: usize) -> Vec<u64> {
        let mut out = Vec::new();
        let mut bytes = 0;
        for s in self.slots.iter_mut().filter(|s| !s.in_flight) {
            if out.len() >= max_events || (!out.is_empty() && bytes + s.event.cost() > max_bytes) {
                break;
            }
            bytes += s.event.cost();
            s.in_flight = true;
            out.push(s.event.seq);
        }
        self.in_flight += out.len();
        self.in_flight_bytes += bytes;
        out
    }

    fn set_in_flight(&mut self, seqs: &[u64], on: bool) {
        for seq in seqs {
            if let Ok(i) = self.find(*seq) {
                let s = &mut self.slots[i];
                if s.in_flight != on {
                    s.in_flight = on;
                    if on {
                        self.in_flight += 1;
                        self.in_flight_bytes += s.event.cost();
                    } else {
                        self.in_flight -= 1;
                        self.in_flight_bytes -= s.event.cost();
                    }
                }
            }
        }
    }

    /// Marks specific events as in flight (a batch resumed after restart).
    pub fn mark_in_flight(&mut self, seqs: &[u64]) {
        self.set_in_flight(seqs, true);
    }

    /// Returns in-flight events to waiting.
    pub fn release(&mut self, seqs: &[u64]) {
        self.set_in_flight(seqs, false);
    }

    /// The stored form of an event.
    pub fn get(&self, seq: u64) -> Option<&StoredEvent> {
        self.find(seq).ok().map(|i| &self.slots[i].event)
    }

    /// Every queued sequence number.
    pub fn all(&self) -> Vec<u64> {
        self.slots.iter().map(|s| s.event.seq).collect()
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

    #[test]
    fn counts_stay_consistent_through_removal_and_replacement() {
        let mut q = Queue::new(vec![ev(3, Priority::Normal, 5), ev(1, Priority::Normal, 7)]);
        assert_eq!(q.all(), vec![1, 3], "kept in sequence order");
        q.mark_in_flight(&[1, 1, 9]);
        assert_eq!(q.waiting(), 1);
        q.push(ev(1, Priority::High, 2));
        assert_eq!(
            (q.waiting(), q.bytes()),
            (2, 7),
            "a replaced event is waiting again"
        );
        q.mark_in_flight(&[3]);
        assert_eq!(q.remove(&[3, 4]), vec![3]);
        assert_eq!((q.len(), q.waiting(), q.bytes()), (1, 1, 2));
        assert_eq!(q.waiting_bytes(), 2);
        q.mark_in_flight(&[1]);
        assert_eq!(q.waiting_bytes(), 0);
        q.release(&[1]);
        assert_eq!(q.waiting_bytes(), 2);
        assert!(!q.contains(3) && q.contains(1));
    }
}
