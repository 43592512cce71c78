//! Persistence: what the engine stores and the trait a platform implements.
//!
//! The engine writes every accepted event through [`Storage::append`]
//! before it counts as queued, removes it once the gateway has taken it (or
//! it is dropped, with a reason), and keeps a small [`PersistedState`]
//! (identity, session, the batch in flight) so a restarted app resumes
//! exactly where it stopped — including re-sending an in-flight batch with
//! the same idempotency key.
//!
//! [`MemoryStorage`] keeps everything in memory (tests, and platforms
//! without storage); the `native` feature has a crash-safe file store.

use crate::drops::DropCounts;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Eviction class: when the queue is full, `Normal` events go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    /// Ordinary analytics events.
    Normal = 0,
    /// App-health events (sessions, crashes, errors): evicted last.
    High = 1,
}

/// One queued event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Position in the device's event sequence; unique, increasing.
    pub seq: u64,
    /// Device time the event was created, ms since the epoch.
    pub created_ms: i64,
    /// Eviction class.
    pub priority: Priority,
    /// The event as JSON (a contract `Event`).
    pub body: Vec<u8>,
}

impl StoredEvent {
    /// Bytes this event counts against the queue budget.
    pub fn cost(&self) -> usize {
        self.body.len()
    }
}

/// The batch being uploaded, persisted so a restart re-sends the same
/// events under the same idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlightBatch {
    /// Idempotency key of the batch.
    pub key: String,
    /// Sequence numbers of its events, in order.
    pub seqs: Vec<u64>,
    /// Drop counts reported in this batch's `clientReport`.
    pub report: DropCounts,
}

/// The engine's small durable state. Missing fields read as their
/// defaults, so a platform may seed a new store with only the identity
/// (the web SDK shares the anonymous id and session between tabs this way).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PersistedState {
    /// Device-scoped id, created on first start.
    pub anonymous_id: Option<String>,
    /// Known user id, set by `identify`, cleared by `reset`.
    pub user_id: Option<String>,
    /// Current session id (its start time, ms).
    pub session_id: Option<i64>,
    /// Last activity in the current session, ms.
    pub session_last_activity_ms: Option<i64>,
    /// Next event sequence number.
    pub next_seq: u64,
    /// The batch in flight, if any.
    pub in_flight: Option<InFlightBatch>,
    /// Drops not yet reported to the gateway.
    pub unreported: DropCounts,
    /// Consent as last set by the app.
    pub consent: Option<crate::Consent>,
    /// The server's settings last received (`crate::settings`).
    #[cfg(feature = "remote-settings")]
    pub settings: Option<tributary_contract::RemoteSettings>,
    /// When they were fetched or confirmed, ms.
    #[cfg(feature = "remote-settings")]
    pub settings_fetched_ms: Option<i64>,
    /// The app version and build of the last open (for `Application
    /// Updated`); `opened` says there was one (else `Application Installed`).
    pub app_version: Option<String>,
    /// See `app_version`.
    pub app_build: Option<String>,
    /// See `app_version`.
    pub opened: bool,
}

/// What a store holds at start-up.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Events in sequence order.
    pub events: Vec<StoredEvent>,
    /// The last saved state.
    pub state: PersistedState,
    /// Records found damaged and discarded during recovery.
    pub corrupt: u64,
}

/// A storage failure, as text for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError(pub String);

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "storage: {}", self.0)
    }
}

impl std::error::Error for StorageError {}

/// Durable storage supplied by the platform.
pub trait Storage {
    /// Whether this store keeps [`PersistedState`]'s server settings. One
    /// that does not (the web journal: the page keeps them once per write
    /// key for all its tabs) spares the engine copying them into its state.
    const KEEPS_SETTINGS: bool = true;

    /// Reads everything back (once, at start-up), repairing damage: a
    /// damaged record is discarded and counted, never fatal.
    fn load(&mut self) -> Result<Loaded, StorageError>;
    /// Durably adds one event.
    fn append(&mut self, event: &StoredEvent) -> Result<(), StorageError>;
    /// Removes events by sequence number (delivered or dropped).
    fn remove(&mut self, seqs: &[u64]) -> Result<(), StorageError>;
    /// Replaces the persisted state.
    fn save_state(&mut self, state: &PersistedState) -> Result<(), StorageError>;
    /// Makes pending writes durable. Called by the engine before it hands
    /// out an upload, so what is sent is also on disk.
    fn sync(&mut self) -> Result<(), StorageError> {
        Ok(())
    }
}

#[derive(Debug, Default)]
struct MemoryInner {
    events: BTreeMap<u64, StoredEvent>,
    state: PersistedState,
}

/// Storage in memory. Clones share the same contents, so a test can build a
/// second engine on it to simulate an app restart.
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    inner: Rc<RefCell<MemoryInner>>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// Events currently stored.
    pub fn len(&self) -> usize {
        self.inner.borrow().events.len()
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of events currently stored.
    pub fn bytes(&self) -> usize {
        self.inner
            .borrow()
            .events
            .values()
            .map(StoredEvent::cost)
            .sum()
    }
}

impl Storage for MemoryStorage {
    fn load(&mut self) -> Result<Loaded, StorageError> {
        let inner = self.inner.borrow();
        Ok(Loaded {
            events: inner.events.values().cloned().collect(),
            state: inner.state.clone(),
            corrupt: 0,
        })
    }

    fn append(&mut self, event: &StoredEvent) -> Result<(), StorageError> {
        self.inner
            .borrow_mut()
            .events
            .insert(event.seq, event.clone());
        Ok(())
    }

    fn remove(&mut self, seqs: &[u64]) -> Result<(), StorageError> {
        let mut inner = self.inner.borrow_mut();
        for s in seqs {
            inner.events.remove(s);
        }
        Ok(())
    }

    fn save_state(&mut self, state: &PersistedState) -> Result<(), StorageError> {
        self.inner.borrow_mut().state = state.clone();
        Ok(())
    }
}
