//! Sessions: a session starts on a cold start or after `session_timeout_ms`
//! of inactivity, and its end and start are recorded as health events.
//!
//! A session id is the session's start time in ms (as Amplitude does), so it
//! orders naturally and needs no extra randomness.

/// A session boundary the engine must record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// The previous session ended; it lasted `duration_ms`.
    Ended {
        /// The ended session's id.
        id: i64,
        /// Its length, first to last activity.
        duration_ms: i64,
    },
    /// A new session started.
    Started {
        /// The new session's id.
        id: i64,
    },
}

/// Session bookkeeping.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    /// Current session id.
    pub id: Option<i64>,
    /// Last activity, ms.
    pub last_activity_ms: Option<i64>,
}

impl Sessions {
    /// Records activity at `now`, returning the boundaries it crosses: on a
    /// cold start (`cold = true`) or after the timeout, the old session ends
    /// and a new one starts.
    pub fn touch(&mut self, now_ms: i64, timeout_ms: u64, cold: bool) -> Vec<Boundary> {
        let mut out = Vec::new();
        let expired = match (self.id, self.last_activity_ms) {
            (Some(_), Some(last)) => cold || now_ms.saturating_sub(last) > timeout_ms as i64,
            _ => true,
        };
        if expired {
            if let (Some(id), Some(last)) = (self.id, self.last_activity_ms) {
                out.push(Boundary::Ended {
                    id,
                    duration_ms: (last - id).max(0),
                });
            }
            self.id = Some(now_ms);
            out.push(Boundary::Started { id: now_ms });
        }
        self.last_activity_ms = Some(now_ms.max(self.last_activity_ms.unwrap_or(i64::MIN)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_and_cold_start_begin_new_sessions() {
        let mut s = Sessions::default();
        assert_eq!(
            s.touch(1_000, 100, true),
            vec![Boundary::Started { id: 1_000 }]
        );
        assert!(s.touch(1_050, 100, false).is_empty());
        assert_eq!(
            s.touch(1_200, 100, false),
            vec![
                Boundary::Ended {
                    id: 1_000,
                    duration_ms: 50
                },
                Boundary::Started { id: 1_200 }
            ]
        );
        assert_eq!(
            s.touch(1_210, 100, true).len(),
            2,
            "a cold start always starts anew"
        );
    }
}
