//! The debug log: with `SdkConfig::debug` on, the engine writes one line
//! per decision — an event queued or dropped and why, a batch sent, the
//! answer and what it did, settings applied — and the platform prints the
//! lines it takes ([`DebugLog::take`]) to its console (the browser's, the
//! JVM's standard output or logcat, Xcode's). Bounded: past
//! [`MAX_LINES`] untaken lines the oldest go. Without the `debug-log`
//! feature (the web SDK's smaller build) nothing is written or linked.

#[cfg(feature = "debug-log")]
use std::collections::VecDeque;
#[cfg(feature = "debug-log")]
use tributary_contract::DropReason;

/// Untaken lines kept.
pub const MAX_LINES: usize = 256;

/// The engine's debug lines, oldest first.
#[derive(Debug, Default)]
pub struct DebugLog {
    #[cfg(feature = "debug-log")]
    on: bool,
    #[cfg(feature = "debug-log")]
    lines: VecDeque<String>,
}

impl DebugLog {
    /// A log that writes only when `on`.
    pub fn new(on: bool) -> DebugLog {
        #[cfg(not(feature = "debug-log"))]
        let _ = on;
        DebugLog {
            #[cfg(feature = "debug-log")]
            on,
            #[cfg(feature = "debug-log")]
            lines: VecDeque::new(),
        }
    }

    /// Writes the line `line` makes, when the log is on.
    #[inline]
    pub fn note(&mut self, line: impl FnOnce() -> String) {
        #[cfg(feature = "debug-log")]
        if self.on {
            if self.lines.len() == MAX_LINES {
                self.lines.pop_front();
            }
            self.lines.push_back(line());
        }
        #[cfg(not(feature = "debug-log"))]
        let _ = line;
    }

    /// The lines written since the last call.
    pub fn take(&mut self) -> Vec<String> {
        #[cfg(feature = "debug-log")]
        return self.lines.drain(..).collect();
        #[cfg(not(feature = "debug-log"))]
        Vec::new()
    }
}

/// `name`'s fate as a line: queued, or dropped and why.
#[cfg(feature = "debug-log")]
pub(crate) fn recorded(name: &str, dropped: Option<DropReason>, waiting: usize) -> String {
    match dropped {
        None => format!("queued {name:?} ({waiting} waiting)"),
        Some(r) => format!("dropped {name:?}: {}", r.as_str()),
    }
}

/// What an answer said, in a few words.
pub(crate) fn answer(r: &crate::upload::UploadResult) -> String {
    use crate::upload::UploadResult;
    match r {
        UploadResult::Http {
            status,
            retry_after,
            body,
        } => {
            let mut s = format!("HTTP {status}");
            if let Some(a) = retry_after {
                s += &format!(", Retry-After {a}");
            }
            if !(200..300).contains(status) && !body.is_empty() {
                s += &format!(
                    ": {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                );
            }
            s
        }
        UploadResult::Accepted { rejected, .. } => format!("accepted, {} rejected", rejected.len()),
        UploadResult::Settings(_) => "settings".into(),
        UploadResult::Timeout => "no answer in time".into(),
        UploadResult::Network(e) => format!("not sent: {e}"),
    }
}

#[cfg(all(test, feature = "debug-log"))]
mod tests {
    use super::*;

    #[test]
    fn off_writes_nothing_and_on_keeps_the_newest() {
        let mut off = DebugLog::new(false);
        off.note(|| unreachable!("not even built"));
        assert!(off.take().is_empty());
        let mut on = DebugLog::new(true);
        for i in 0..MAX_LINES + 3 {
            on.note(|| i.to_string());
        }
        let lines = on.take();
        assert_eq!(lines.len(), MAX_LINES);
        assert_eq!(lines[0], "3");
        assert!(on.take().is_empty(), "taken once");
    }
}
