//! The native platform pack: everything a mobile binding, desktop app or
//! server needs to run the engine without writing I/O.
//!
//! [`NativeClient`] owns the [`Engine`] on a background worker thread.
//! Recording calls (`track`, …) stamp the time and hand the call to the
//! worker through a bounded channel, so they cost well under 2 µs and never
//! block on disk or network (see `benches/enqueue.rs`). The worker persists
//! each event ([`FileStorage`]), drives uploads (the app's own
//! [`HttpTransport`], or `UreqTransport` with feature `native-http`) and sleeps exactly as long as the engine
//! says.
//!
//! An event is on disk microseconds after `track` returns; an app killed in
//! that window loses it. A full channel (the worker far behind) drops the
//! event and counts it as `queue_full`.

pub mod crash_file;
pub mod file_storage;
pub mod http;

pub use file_storage::FileStorage;
pub use http::HttpTransport;
#[cfg(feature = "native-http")]
pub use http::UreqTransport;

use crate::autocapture::{Crash, Opened};
use crate::config::{Consent, SdkConfig};
use crate::context::Context;
use crate::engine::capture::CrashContext;
use crate::engine::{Engine, EngineStats};
use crate::plugins::BeforeSend;
use crate::upload::UploadTask;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tributary_contract::DropReason;

/// Calls waiting for the worker. Bounded by [`COMMAND_QUEUE`].
const COMMAND_QUEUE: usize = 65_536;

/// The outcome of a flush.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Events the gateway took during the flush.
    pub delivered: u64,
    /// Events still queued when it ended.
    pub remaining: u64,
    /// Events dropped during the flush (any reason).
    pub dropped: u64,
}

enum Call {
    Track(String, Map<String, Value>),
    Identify(String, Map<String, Value>),
    Screen(String, Map<String, Value>),
    Page(String, Map<String, Value>),
    Group(String, Map<String, Value>),
    Alias(String),
    Reset,
    Opened(Box<Opened>),
    Foregrounded,
    Backgrounded,
    View(bool, String, Map<String, Value>),
    OpenedUrl(String),
}

enum Command {
    Record(Call, i64),
    Flush(Instant, SyncSender<FlushReport>),
    FlushSoon,
    Consent(Consent),
    Context(Box<Context>),
    Online(bool),
    Plugin(Box<dyn BeforeSend + Send>),
    DebugSink(DebugSink),
    Stop,
}

/// Where the debug log's lines go (the platform's console), on the worker
/// thread.
pub type DebugSink = Box<dyn Fn(&str) + Send>;

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// A running SDK: the engine on its worker thread.
pub struct NativeClient {
    tx: SyncSender<Command>,
    worker: Option<JoinHandle<()>>,
    refused: Arc<AtomicU64>,
    /// The worker's latest counters, refreshed after every step, so stats
    /// and an overdue flush can be answered while it is busy sending.
    snapshot: Arc<Mutex<EngineStats>>,
    /// Identity and session for a crash handler, refreshed the same way.
    crash: Arc<Mutex<CrashContext>>,
    dir: PathBuf,
}

impl NativeClient {
    /// Starts the SDK storing its queue in `dir`, sending with the built-in
    /// transport (rustls, 15 s timeout; feature `native-http`).
    #[cfg(feature = "native-http")]
    pub fn start(cfg: SdkConfig, dir: impl Into<PathBuf>) -> Result<NativeClient, String> {
        NativeClient::start_with(
            cfg,
            dir,
            Box::new(UreqTransport::new(Duration::from_secs(15))),
        )
    }

    /// Starts the SDK with the app's own transport.
    pub fn start_with(
        cfg: SdkConfig,
        dir: impl Into<PathBuf>,
        transport: Box<dyn HttpTransport>,
    ) -> Result<NativeClient, String> {
        let dir: PathBuf = dir.into();
        let storage = FileStorage::open(dir.clone()).map_err(|e| e.to_string())?;
        let crash = Arc::new(Mutex::new(CrashContext::default()));
        let worker_crash = crash.clone();
        let crash_dir = dir.clone();
        let (tx, rx) = sync_channel(COMMAND_QUEUE);
        let (ready_tx, ready_rx) = sync_channel(1);
        let refused = Arc::new(AtomicU64::new(0));
        let snapshot = Arc::new(Mutex::new(EngineStats::default()));
        let worker_snapshot = snapshot.clone();
        let worker = std::thread::Builder::new()
            .name("tributary-sdk".into())
            .spawn(move || {
                // The engine is built on its own thread: file storage and
                // the engine stay there for their whole life.
                match Engine::new(cfg, storage, entropy(), now_ms()) {
                    Ok(mut engine) => {
                        adopt_crashes(&mut engine, &crash_dir);
                        let mut worker = Worker {
                            engine,
                            transport,
                            rx,
                            snapshot: worker_snapshot,
                            crash: worker_crash,
                            flushes: Vec::new(),
                            debug_sink: None,
                        };
                        worker.publish();
                        let _ = ready_tx.send(Ok(()));
                        worker.run();
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        ready_rx
            .recv()
            .map_err(|_| "SDK worker died at start".to_owned())??;
        Ok(NativeClient {
            tx,
            worker: Some(worker),
            refused,
            snapshot,
            crash,
            dir,
        })
    }

    /// The app opened (call once per process start, after the context).
    pub fn app_opened(&self, opened: Opened) {
        self.record(Call::Opened(Box::new(opened)));
    }

    /// The app came to the foreground.
    pub fn app_foregrounded(&self) {
        self.record(Call::Foregrounded);
    }

    /// The app went to the background (queued events are sent now).
    pub fn app_backgrounded(&self) {
        self.record(Call::Backgrounded);
    }

    /// A screen (or, with `page`, a page) the platform saw on its own.
    pub fn auto_view(&self, page: bool, name: &str, properties: Map<String, Value>) {
        self.record(Call::View(page, name.to_owned(), properties));
    }

    /// A deep link the app was opened with: its campaign goes on the next event.
    pub fn opened_url(&self, url: &str) {
        self.record(Call::OpenedUrl(url.to_owned()));
    }

    /// Sends the debug log's lines (with `SdkConfig::debug`) to `sink`, on
    /// the worker thread, as they are written (those written before the
    /// sink was set first, up to the log's bound).
    pub fn set_debug_sink(&self, sink: DebugSink) {
        let _ = self.tx.send(Command::DebugSink(sink));
    }

    /// Adds a before-send plugin (run on the worker thread).
    pub fn add_plugin(&self, plugin: Box<dyn BeforeSend + Send>) {
        let _ = self.tx.send(Command::Plugin(plugin));
    }

    /// Records a crash from the thread that is dying: the event is written
    /// to the crash-safe store (`crash_file`) before this returns, and
    /// queued on the next start. `Err` if crash capture is off or the file
    /// could not be written.
    pub fn record_crash(&self, crash: &Crash) -> Result<(), String> {
        let ctx = match self.crash.lock() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if !ctx.enabled {
            return Err("crash capture is off".into());
        }
        let now = now_ms();
        let id = crate::ids::Rng::new(entropy()).uuid_v7(now);
        crash_file::write(&self.dir, &ctx.event(crash, id, now), now)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn record(&self, call: Call) {
        match self.tx.try_send(Command::Record(call, now_ms())) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Records a named action.
    pub fn track(&self, event: &str, properties: Map<String, Value>) {
        self.record(Call::Track(event.to_owned(), properties));
    }

    /// Identifies the user.
    pub fn identify(&self, user_id: &str, traits: Map<String, Value>) {
        self.record(Call::Identify(user_id.to_owned(), traits));
    }

    /// Records a screen view.
    pub fn screen(&self, name: &str, properties: Map<String, Value>) {
        self.record(Call::Screen(name.to_owned(), properties));
    }

    /// Records a page view.
    pub fn page(&self, name: &str, properties: Map<String, Value>) {
        self.record(Call::Page(name.to_owned(), properties));
    }

    /// Ties the user to a group.
    pub fn group(&self, group_id: &str, traits: Map<String, Value>) {
        self.record(Call::Group(group_id.to_owned(), traits));
    }

    /// Merges the current identity into `new_user_id`.
    pub fn alias(&self, new_user_id: &str) {
        self.record(Call::Alias(new_user_id.to_owned()));
    }

    /// Forgets the user (logout).
    pub fn reset(&self) {
        self.record(Call::Reset);
    }

    /// Sets consent (`Denied` purges the queue).
    pub fn set_consent(&self, consent: Consent) {
        let _ = self.tx.send(Command::Consent(consent));
    }

    /// Replaces the device context.
    pub fn set_context(&self, context: Context) {
        let _ = self.tx.send(Command::Context(Box::new(context)));
    }

    /// Network hint.
    pub fn set_online(&self, online: bool) {
        let _ = self.tx.send(Command::Online(online));
    }

    /// Asks the worker to send everything queued soon, without waiting
    /// (e.g. when the app goes to the background).
    pub fn request_flush(&self) {
        let _ = self.tx.try_send(Command::FlushSoon);
    }

    /// Sends everything queued, waiting at most `deadline` (e.g. the time
    /// the OS grants a backgrounding app), and reports what happened.
    pub fn flush(&self, deadline: Duration) -> FlushReport {
        let before = self.stats();
        let (tx, rx) = sync_channel(1);
        let until = Instant::now() + deadline;
        if self.tx.send(Command::Flush(until, tx)).is_ok()
            && let Ok(report) = rx.recv_timeout(deadline)
        {
            return report;
        }
        // The worker is still inside a request: answer from its counters.
        let now = self.stats();
        FlushReport {
            delivered: now.delivered - before.delivered,
            remaining: now.queued as u64,
            dropped: now.dropped_total().saturating_sub(before.dropped_total()),
        }
    }

    /// Counters and queue size as of the worker's last step (calls refused
    /// because the worker was overwhelmed are included under `queue_full`).
    pub fn stats(&self) -> EngineStats {
        let mut stats = match self.snapshot.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let refused = self.refused.load(Ordering::Relaxed);
        if refused > 0 {
            stats.dropped.add(DropReason::QueueFull, refused);
        }
        stats
    }

    /// Flushes for at most `deadline`, then stops the worker. Whatever is
    /// left stays on disk for the next start.
    pub fn shutdown(mut self, deadline: Duration) -> FlushReport {
        let report = self.flush(deadline);
        self.stop();
        report
    }

    fn stop(&mut self) {
        let _ = self.tx.send(Command::Stop);
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Drop for NativeClient {
    fn drop(&mut self) {
        self.stop();
    }
}

struct PendingFlush {
    until: Instant,
    reply: SyncSender<FlushReport>,
    delivered: u64,
    dropped: u64,
}

struct Worker {
    engine: Engine<FileStorage>,
    transport: Box<dyn HttpTransport>,
    rx: Receiver<Command>,
    snapshot: Arc<Mutex<EngineStats>>,
    crash: Arc<Mutex<CrashContext>>,
    flushes: Vec<PendingFlush>,
    debug_sink: Option<DebugSink>,
}

/// Queues the crash files an earlier process left, deleting each once it
/// is in the queue.
fn adopt_crashes(engine: &mut Engine<FileStorage>, dir: &std::path::Path) {
    for (path, written_ms) in crash_file::pending(dir) {
        let queued = match crash_file::read(&path) {
            Some(body) => match engine.adopt_crash(body, written_ms) {
                Ok(()) => true,
                Err(crate::EnqueueError::Storage(_)) => false,
                Err(_) => true, // counted (corrupt, too large); not retried
            },
            None => true,
        };
        if queued {
            let _ = std::fs::remove_file(&path);
        }
    }
}

impl Worker {
    fn run(mut self) {
        loop {
            // Apply everything already waiting before deciding what to send.
            while let Ok(cmd) = self.rx.try_recv() {
                if !self.apply(cmd) {
                    return;
                }
            }
            self.publish();
            self.answer_flushes(false);
            let wait = match self.engine.next_task(now_ms()) {
                UploadTask::Upload(req) => {
                    let result = self.transport.send(&req);
                    self.engine.on_response(req.id, result, now_ms());
                    self.publish();
                    continue;
                }
                UploadTask::Wait(d) => Some(d),
                UploadTask::Done => None,
            };
            // Sleep until the engine's time, a flush deadline, or a call.
            let flush_limit = self
                .flushes
                .iter()
                .map(|f| f.until.saturating_duration_since(Instant::now()))
                .min();
            let timeout = match (wait, flush_limit) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let got = match timeout {
                Some(t) => self.rx.recv_timeout(t),
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match got {
                Ok(cmd) => {
                    if !self.apply(cmd) {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.answer_flushes(false),
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Applies one command; `false` means stop.
    fn apply(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Record(call, at) => {
                let e = &mut self.engine;
                let _ = match call {
                    Call::Track(n, p) => e.track(&n, p, at),
                    Call::Identify(u, t) => e.identify(&u, t, at),
                    Call::Screen(n, p) => e.screen(&n, p, at),
                    Call::Page(n, p) => e.page(&n, p, at),
                    Call::Group(g, t) => e.group(&g, t, at),
                    Call::Alias(u) => e.alias(&u, at),
                    Call::Reset => {
                        e.reset(at);
                        Ok(())
                    }
                    Call::Opened(o) => e.app_opened(&o, at),
                    Call::Foregrounded => e.app_foregrounded(at),
                    Call::Backgrounded => e.app_backgrounded(at),
                    Call::View(page, n, p) => e.auto_view(page, &n, p.into(), at),
                    Call::OpenedUrl(u) => {
                        e.opened_url(&u);
                        Ok(())
                    }
                };
            }
            Command::Flush(until, reply) => {
                let s = self.engine.stats();
                self.engine.flush();
                self.flushes.push(PendingFlush {
                    until,
                    reply,
                    delivered: s.delivered,
                    dropped: s.dropped_total(),
                });
            }
            Command::FlushSoon => self.engine.flush(),
            Command::Consent(c) => self.engine.set_consent(c),
            Command::Context(c) => self.engine.set_context(&c),
            Command::Online(o) => self.engine.set_online(o),
            Command::Plugin(p) => self.engine.add_plugin(p),
            Command::DebugSink(s) => self.debug_sink = Some(s),
            Command::Stop => {
                self.answer_flushes(true);
                self.publish();
                return false;
            }
        }
        true
    }

    fn publish(&mut self) {
        // Without a sink yet, the lines wait in the (bounded) log.
        if let Some(sink) = &self.debug_sink {
            for line in self.engine.take_debug_log() {
                sink(&line);
            }
        }
        if let Ok(mut s) = self.snapshot.lock() {
            *s = self.engine.stats();
        }
        if let Ok(mut c) = self.crash.lock() {
            *c = self.engine.crash_context();
        }
    }

    /// Answers flushes that are finished (queue empty) or out of time.
    fn answer_flushes(&mut self, all: bool) {
        if self.flushes.is_empty() {
            return;
        }
        let idle = self.engine.is_idle();
        let now = Instant::now();
        let stats = self.engine.stats();
        self.flushes.retain(|f| {
            if all || idle || now >= f.until {
                let _ = f.reply.send(FlushReport {
                    delivered: stats.delivered - f.delivered,
                    remaining: stats.queued as u64,
                    dropped: stats.dropped_total() - f.dropped,
                });
                false
            } else {
                true
            }
        });
    }
}
