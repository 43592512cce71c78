//! The one loop behind every file the gateway reloads without a restart
//! (keys, privacy rules and suppressions, SDK settings, geo databases):
//! check on a timer and, on Unix, on SIGHUP.

use std::path::Path;
use std::sync::Weak;
use std::time::{Duration, SystemTime};

/// A file's modification time, what every watcher compares; `None` when
/// the file cannot be read (it keeps what is in force).
pub fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// What reads its files again without a restart: the privacy rules, the
/// SDK settings.
pub trait Reloadable: Send + Sync + 'static {
    /// What it holds, for log lines ("privacy rules").
    const WHAT: &'static str;
    /// Whether a file changed since the last successful reload.
    fn changed(&self) -> bool;
    /// Reads the files again; on error what is in force stays.
    fn reload(&self) -> Result<(), String>;
}

/// Reloads `target` on SIGHUP and when one of its files changes (checked
/// every `poll`), logging the outcome, until it is dropped.
pub fn spawn_reloader<T: Reloadable>(target: &std::sync::Arc<T>, poll: Duration) {
    spawn_watch(std::sync::Arc::downgrade(target), poll, |t, by_signal| {
        let why = if by_signal {
            "SIGHUP"
        } else if t.changed() {
            "file changed"
        } else {
            return;
        };
        match t.reload() {
            Ok(()) => tracing::info!(why, "{} reloaded", T::WHAT),
            Err(e) => tracing::error!(why, "{e}; keeping the {} in force", T::WHAT),
        }
    });
}

/// Calls `check(target, by_signal)` every `poll` and on each SIGHUP,
/// until `target` is dropped. `by_signal` says a SIGHUP asked for it (read
/// again even if unchanged); otherwise the callee reloads only what
/// changed.
pub fn spawn_watch<T: Send + Sync + 'static>(
    target: Weak<T>,
    poll: Duration,
    check: impl Fn(&T, bool) + Send + 'static,
) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(poll);
        tick.tick().await;
        loop {
            #[cfg(unix)]
            let signalled = async {
                match hup.as_mut() {
                    Some(h) => {
                        h.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let signalled = std::future::pending::<()>();
            let by_signal = tokio::select! {
                _ = tick.tick() => false,
                () = signalled => true,
            };
            let Some(target) = target.upgrade() else {
                break;
            };
            // The files are small (a geo database is only mapped), so the
            // check runs on the runtime like any short task.
            check(&target, by_signal);
        }
    });
}
