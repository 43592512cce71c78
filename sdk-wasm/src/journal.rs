//! The web SDK's [`Storage`]: an in-memory journal of changes that the
//! JavaScript layer copies into IndexedDB (or localStorage).
//!
//! IndexedDB is asynchronous and the engine's storage calls are not, so the
//! engine writes here and JavaScript drains the journal with
//! [`Journal::take_changes`] after each call, in one IndexedDB transaction.
//! Before an upload goes out, JavaScript waits for that transaction to
//! commit, which keeps the engine's rule that what is sent is also stored.

use tributary_sdk_core::json::{write_int, write_str, write_utf8};
use tributary_sdk_core::storage::{Loaded, PersistedState};
use tributary_sdk_core::{
    Consent, DropCounts, DropReason, Priority, Storage, StorageError, StoredEvent,
};

/// Changes not yet written to the browser's store, plus what was read from
/// it at start-up.
#[derive(Debug, Default)]
pub struct Journal {
    loaded: Loaded,
    puts: Vec<StoredEvent>,
    /// Sequence numbers to delete (kept small: drained after each call).
    deletes: Vec<u64>,
    /// The latest state, already as the JSON the page stores: written at
    /// once rather than cloned (a clone of `PersistedState` brings the
    /// server settings' clone code, which the web never needs).
    state: Option<Vec<u8>>,
}

impl Journal {
    /// Adds one event read back from the browser's store. JavaScript has
    /// checked that the body is one JSON object (its parser is free); a
    /// damaged record is reported with [`Journal::discard`] instead.
    pub fn load_event(&mut self, seq: u64, created_ms: i64, high: bool, body: String) {
        self.loaded.events.push(StoredEvent {
            seq,
            created_ms,
            priority: if high {
                Priority::High
            } else {
                Priority::Normal
            },
            body: body.into_bytes(),
        });
    }

    /// The state read back from the browser's store, to fill in before
    /// the engine starts. JavaScript parses the stored JSON (the browser's
    /// parser is free; one in Rust would not be) and sets the fields.
    pub fn state_mut(&mut self) -> &mut PersistedState {
        &mut self.loaded.state
    }

    /// A stored record that could not be read: counted as `corrupt` and
    /// deleted from the store with the next changes.
    pub fn discard(&mut self, seq: u64) {
        self.loaded.corrupt += 1;
        self.deletes.push(seq);
    }

    /// Whether changes are waiting to be written.
    pub fn is_dirty(&self) -> bool {
        !self.puts.is_empty() || !self.deletes.is_empty() || self.state.is_some()
    }

    /// Drains the pending changes as JSON:
    /// `{"put":[[seq,createdMs,high,"body"],…],"del":[seq,…],"state":{…}|null}`.
    /// The state object uses the field names of sdk-core's `PersistedState`.
    pub fn take_changes(&mut self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(64 + self.puts.iter().map(|e| e.body.len() + 32).sum::<usize>());
        out.extend_from_slice(b"{\"put\":[");
        for (i, e) in self.puts.drain(..).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'[');
            write_int(&mut out, e.seq as i64);
            out.push(b',');
            write_int(&mut out, e.created_ms);
            out.extend_from_slice(if e.priority == Priority::High {
                b",true,"
            } else {
                b",false,"
            });
            write_utf8(&mut out, &e.body);
            out.push(b']');
        }
        out.extend_from_slice(b"],\"del\":[");
        for (i, seq) in std::mem::take(&mut self.deletes).into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_int(&mut out, seq as i64);
        }
        out.extend_from_slice(b"],\"state\":");
        match self.state.take() {
            Some(s) => out.extend_from_slice(&s),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
        out
    }
}

/// Writes `PersistedState` as JSON, by hand (see the module docs of
/// `tributary_sdk_core::json` for why).
fn write_state(out: &mut Vec<u8>, s: &PersistedState) {
    let opt_str = |out: &mut Vec<u8>, v: &Option<String>| match v {
        Some(v) => write_str(out, v),
        None => out.extend_from_slice(b"null"),
    };
    let opt_int = |out: &mut Vec<u8>, v: Option<i64>| match v {
        Some(v) => write_int(out, v),
        None => out.extend_from_slice(b"null"),
    };
    // Drop counts as one number per reason in `DropReason::ALL` order: the web
    // store's own compact form (JavaScript hands them back as they are).
    let counts = |out: &mut Vec<u8>, m: &DropCounts| {
        out.push(b'[');
        for (i, r) in DropReason::ALL.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_int(out, m.get(*r) as i64);
        }
        out.push(b']');
    };
    out.extend_from_slice(b"{\"anonymous_id\":");
    opt_str(out, &s.anonymous_id);
    out.extend_from_slice(b",\"user_id\":");
    opt_str(out, &s.user_id);
    out.extend_from_slice(b",\"session_id\":");
    opt_int(out, s.session_id);
    out.extend_from_slice(b",\"session_last_activity_ms\":");
    opt_int(out, s.session_last_activity_ms);
    out.extend_from_slice(b",\"next_seq\":");
    write_int(out, s.next_seq as i64);
    out.extend_from_slice(b",\"in_flight\":");
    match &s.in_flight {
        None => out.extend_from_slice(b"null"),
        Some(b) => {
            out.extend_from_slice(b"{\"key\":");
            write_str(out, &b.key);
            out.extend_from_slice(b",\"seqs\":[");
            for (i, seq) in b.seqs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_int(out, *seq as i64);
            }
            out.extend_from_slice(b"],\"report\":");
            counts(out, &b.report);
            out.push(b'}');
        }
    }
    out.extend_from_slice(b",\"unreported\":");
    counts(out, &s.unreported);
    out.extend_from_slice(b",\"consent\":");
    let consent = s.consent.map(|c| match c {
        Consent::Granted => "granted".to_owned(),
        Consent::Pending => "pending".to_owned(),
        Consent::Denied => "denied".to_owned(),
    });
    opt_str(out, &consent);
    out.extend_from_slice(b",\"app_version\":");
    opt_str(out, &s.app_version);
    out.extend_from_slice(b",\"app_build\":");
    opt_str(out, &s.app_build);
    out.extend_from_slice(if s.opened {
        b",\"opened\":true"
    } else {
        b",\"opened\":false"
    });
    // Not written: the server's settings, which the page keeps once per
    // write key beside the queues (js/tributary.js) and hands back at
    // start-up.
    out.push(b'}');
}

impl Storage for Journal {
    const KEEPS_SETTINGS: bool = false;

    fn load(&mut self) -> Result<Loaded, StorageError> {
        // Any order: the engine's queue keeps events in sequence order.
        Ok(std::mem::take(&mut self.loaded))
    }

    fn append(&mut self, event: &StoredEvent) -> Result<(), StorageError> {
        self.deletes.retain(|s| *s != event.seq);
        self.puts.push(event.clone());
        Ok(())
    }

    fn remove(&mut self, seqs: &[u64]) -> Result<(), StorageError> {
        for seq in seqs {
            // An event removed before it was ever written needs no delete.
            if let Some(i) = self.puts.iter().position(|e| e.seq == *seq) {
                self.puts.remove(i);
            } else {
                self.deletes.push(*seq);
            }
        }
        Ok(())
    }

    fn save_state(&mut self, state: &PersistedState) -> Result<(), StorageError> {
        let mut json = Vec::with_capacity(256);
        write_state(&mut json, state);
        self.state = Some(json);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> StoredEvent {
        StoredEvent {
            seq,
            created_ms: 1_000 + seq as i64,
            priority: Priority::Normal,
            body: format!("{{\"n\":{seq},\"s\":\"a\\\"b\"}}").into_bytes(),
        }
    }

    use serde_json::Value;
    use tributary_sdk_core::storage::InFlightBatch;

    #[test]
    fn state_is_written_as_serde_would_but_with_counts_as_arrays() {
        let mut report = DropCounts::default();
        report.add(DropReason::QueueFull, 3);
        let mut unreported = DropCounts::default();
        unreported.add(DropReason::OptOut, 1);
        unreported.add(DropReason::TooOld, 2);
        for state in [
            PersistedState::default(),
            PersistedState {
                anonymous_id: Some("a\"1".into()),
                user_id: Some("u".into()),
                session_id: Some(17),
                session_last_activity_ms: Some(-4),
                next_seq: 9,
                in_flight: Some(InFlightBatch {
                    key: "k".into(),
                    seqs: vec![4, 5],
                    report,
                }),
                unreported,
                consent: Some(Consent::Pending),
                app_version: Some("2.1".into()),
                opened: true,
                ..PersistedState::default()
            },
        ] {
            let mut out = Vec::new();
            write_state(&mut out, &state);
            let ours: Value = serde_json::from_slice(&out).unwrap();
            let mut want = serde_json::to_value(&state).unwrap();
            for not_on_the_web in ["settings", "settings_fetched_ms"] {
                want.as_object_mut().unwrap().remove(not_on_the_web);
            }
            let arr = |c: &DropCounts| {
                serde_json::json!(
                    DropReason::ALL
                        .iter()
                        .map(|r| c.get(*r))
                        .collect::<Vec<_>>()
                )
            };
            want["unreported"] = arr(&state.unreported);
            if let Some(b) = &state.in_flight {
                want["in_flight"]["report"] = arr(&b.report);
            }
            assert_eq!(ours, want);
        }
    }

    #[test]
    fn changes_round_trip_through_json() {
        let mut j = Journal::default();
        j.append(&event(1)).unwrap();
        j.append(&event(2)).unwrap();
        j.remove(&[7]).unwrap();
        j.save_state(&PersistedState {
            next_seq: 3,
            ..PersistedState::default()
        })
        .unwrap();
        assert!(j.is_dirty());
        let v: Value = serde_json::from_slice(&j.take_changes()).unwrap();
        assert_eq!(v["put"][1][0], 2);
        assert_eq!(v["put"][1][1], 1002);
        assert_eq!(v["put"][1][2], false);
        let body: Value = serde_json::from_str(v["put"][0][3].as_str().unwrap()).unwrap();
        assert_eq!(body["s"], "a\"b");
        assert_eq!(v["del"], serde_json::json!([7]));
        assert_eq!(v["state"]["next_seq"], 3);
        assert!(!j.is_dirty());
        assert_eq!(j.take_changes(), br#"{"put":[],"del":[],"state":null}"#);
    }

    #[test]
    fn an_event_removed_before_it_was_written_is_never_written() {
        let mut j = Journal::default();
        j.append(&event(1)).unwrap();
        j.remove(&[1]).unwrap();
        let v: Value = serde_json::from_slice(&j.take_changes()).unwrap();
        assert_eq!(v["put"], serde_json::json!([]));
        assert_eq!(v["del"], serde_json::json!([]));
    }

    #[test]
    fn damaged_records_are_counted_and_deleted() {
        let mut j = Journal::default();
        j.load_event(3, 10, false, "{\"ok\":true}".into());
        j.load_event(1, 10, true, "{\"ok\":1}".into());
        j.discard(2);
        j.discard(4);
        j.state_mut().anonymous_id = Some("a1".into());
        let loaded = j.load().unwrap();
        assert_eq!(loaded.corrupt, 2);
        assert_eq!(
            loaded.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![3, 1]
        );
        assert_eq!(loaded.state.anonymous_id.as_deref(), Some("a1"));
        let v: Value = serde_json::from_slice(&j.take_changes()).unwrap();
        assert_eq!(v["del"], serde_json::json!([2, 4]));
    }
}
