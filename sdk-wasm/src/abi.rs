//! The boundary with JavaScript: plain WebAssembly exports over [`Core`]
//! and [`Loader`], driven by `js/core.js`, with no bindings generator.
//!
//! A generator's glue cost about 4 KB of the 30 KB download budget
//! (JavaScript classes, finalizers, a reference table, borrow checks on
//! every call); this interface needs none of it because it only moves
//! numbers and bytes:
//!
//! * numbers (`f64`, `u32`) are plain arguments and results;
//! * strings and `f64` arrays are written by JavaScript, one after the
//!   other, into the input buffer [`args`] hands out, and the call names
//!   their byte lengths in order (strings as UTF-8 from `TextEncoder`,
//!   arrays as little-endian `f64`s);
//! * a text or byte result is moved into one output buffer
//!   ([`out_ptr`], [`out_len`]) that JavaScript copies before its next call;
//! * cores are handles (indexes) into a table here, freed by [`core_free`].
//!
//! WebAssembly in the browser runs on one thread and nothing here calls
//! back into JavaScript, so no call can begin while another runs.
#![allow(unsafe_code)] // `unsafe(no_mangle)` (exports need their plain names) and `Args::text`

use crate::{Core, Loader};
use std::cell::RefCell;

thread_local! {
    static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static OUTPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static CORES: RefCell<Vec<Option<Box<Core>>>> = const { RefCell::new(Vec::new()) };
    // The store being read for the next `core_new` (built synchronously
    // between one `loader_new` and that `core_new`).
    static LOADER: RefCell<Loader> = RefCell::new(Loader::default());
}

/// The arguments of one call, read in order from the input buffer.
struct Args {
    buf: Vec<u8>,
    at: usize,
}

impl Args {
    #[inline(never)]
    fn take() -> Args {
        Args {
            buf: INPUT.with_borrow_mut(std::mem::take),
            at: 0,
        }
    }

    fn bytes(&mut self, len: u32) -> Vec<u8> {
        let end = (self.at + len as usize).min(self.buf.len());
        let v = self.buf.get(self.at..end).unwrap_or_default().to_vec();
        self.at = end;
        v
    }

    fn text(&mut self, len: u32) -> String {
        let bytes = self.bytes(len);
        // SAFETY: every text argument is written by js/core.js with
        // TextEncoder, whose output is always valid UTF-8 (a lone surrogate
        // becomes U+FFFD); wasm-bindgen's glue relies on the same. Checking
        // again would cost the download 0.4 KB.
        unsafe { String::from_utf8_unchecked(bytes) }
    }

    fn nums(&mut self, len: u32) -> Vec<f64> {
        self.bytes(len)
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect()
    }
}

#[inline(never)]
fn set_output(bytes: Vec<u8>) {
    OUTPUT.with_borrow_mut(|o| *o = bytes);
}

fn with_core<R: Default>(h: u32, f: impl FnOnce(&mut Core) -> R) -> R {
    // Out of the table for the call and back after: the table code is then
    // not repeated in every export.
    match take_core(h) {
        Some(mut c) => {
            let r = f(&mut c);
            put_core(h, c);
            r
        }
        None => R::default(),
    }
}

#[inline(never)]
fn take_core(h: u32) -> Option<Box<Core>> {
    CORES.with_borrow_mut(|t| t.get_mut(h as usize).and_then(Option::take))
}

#[inline(never)]
fn put_core(h: u32, c: Box<Core>) {
    CORES.with_borrow_mut(|t| {
        if let Some(slot) = t.get_mut(h as usize) {
            *slot = Some(c);
        }
    });
}

/// Makes the input buffer `len` bytes long and returns where it starts;
/// JavaScript fills it before the call that reads it.
#[unsafe(no_mangle)]
pub extern "C" fn args(len: u32) -> usize {
    INPUT.with_borrow_mut(|b| {
        b.clear();
        b.resize(len as usize, 0);
        b.as_mut_ptr() as usize
    })
}

/// Where the output buffer starts.
#[unsafe(no_mangle)]
pub extern "C" fn out_ptr() -> usize {
    OUTPUT.with_borrow(|o| o.as_ptr() as usize)
}

/// The output buffer's length in bytes.
#[unsafe(no_mangle)]
pub extern "C" fn out_len() -> usize {
    OUTPUT.with_borrow(Vec::len)
}

/// Starts reading a store for the next [`core_new`].
#[unsafe(no_mangle)]
pub extern "C" fn loader_new() {
    LOADER.with_borrow_mut(|l| *l = Loader::default());
}

/// [`Loader::event`]; the body is the one argument.
#[unsafe(no_mangle)]
pub extern "C" fn loader_event(seq: f64, created_ms: f64, high: u32, body: u32) {
    let body = Args::take().text(body);
    LOADER.with_borrow_mut(|l| l.event(seq, created_ms, high != 0, body));
}

/// [`Loader::corrupt`].
#[unsafe(no_mangle)]
pub extern "C" fn loader_corrupt(seq: f64) {
    LOADER.with_borrow_mut(|l| l.corrupt(seq));
}

/// [`Loader::state`]; the strings and arrays are arguments in its order.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn loader_state(
    anonymous_id: u32,
    user_id: u32,
    session_id: f64,
    session_last_activity_ms: f64,
    next_seq: f64,
    consent: u32,
    in_flight_key: u32,
    in_flight_seqs: u32,
    drops: u32,
    app_version: u32,
    app_build: u32,
    opened: u32,
) {
    let mut a = Args::take();
    let (anon, user) = (a.text(anonymous_id), a.text(user_id));
    let (key, seqs, drops) = (a.text(in_flight_key), a.nums(in_flight_seqs), a.nums(drops));
    let (version, build) = (a.text(app_version), a.text(app_build));
    LOADER.with_borrow_mut(|l| {
        l.state(
            anon,
            user,
            session_id,
            session_last_activity_ms,
            next_seq,
            consent as u8,
            key,
            &seqs,
            &drops,
            version,
            build,
            opened != 0,
        );
    });
}

/// [`Core::new`] over what the loader read: the new core's handle, or
/// `-1` with the error in the output buffer.
#[unsafe(no_mangle)]
pub extern "C" fn core_new(
    write_key: u32,
    endpoint: u32,
    version: u32,
    options: u32,
    seed: f64,
    now_ms: f64,
) -> i32 {
    let mut a = Args::take();
    let (key, url, v, opts) = (
        a.text(write_key),
        a.text(endpoint),
        a.text(version),
        a.nums(options),
    );
    let loader = LOADER.with_borrow_mut(std::mem::take);
    match Core::new(key, url, v, &opts, loader, seed, now_ms) {
        Ok(core) => CORES.with_borrow_mut(|t| {
            let h = t.iter().position(Option::is_none).unwrap_or(t.len());
            if h == t.len() {
                t.push(None);
            }
            t[h] = Some(Box::new(core));
            h as i32
        }),
        Err(e) => {
            set_output(e.into_bytes());
            -1
        }
    }
}

/// Drops core `h` (its handle may be reused).
#[unsafe(no_mangle)]
pub extern "C" fn core_free(h: u32) {
    CORES.with_borrow_mut(|t| {
        if let Some(c) = t.get_mut(h as usize) {
            *c = None;
        }
    });
}

/// Moves [`Core::out`] into the output buffer.
#[unsafe(no_mangle)]
pub extern "C" fn core_out(h: u32) {
    set_output(with_core(h, Core::out));
}

/// [`Core::record`].
#[unsafe(no_mangle)]
pub extern "C" fn core_record(h: u32, kind: u32, name: u32, json: u32, now_ms: f64) -> u32 {
    let mut a = Args::take();
    let (name, json) = (a.text(name), a.text(json));
    with_core(h, |c| c.record(kind as u8, &name, json, now_ms))
}

/// [`Core::app_opened`].
#[cfg(feature = "auto-capture")]
#[unsafe(no_mangle)]
pub extern "C" fn core_app_opened(
    h: u32,
    version: u32,
    build: u32,
    url: u32,
    referrer: u32,
    now_ms: f64,
) -> u32 {
    let mut a = Args::take();
    let (v, b, u, r) = (
        a.text(version),
        a.text(build),
        a.text(url),
        a.text(referrer),
    );
    with_core(h, |c| c.app_opened(v, b, u, r, now_ms))
}

/// [`Core::crash`].
#[cfg(feature = "auto-capture")]
#[unsafe(no_mangle)]
pub extern "C" fn core_crash(
    h: u32,
    kind: u32,
    message: u32,
    stack: u32,
    source: u32,
    now_ms: f64,
) -> u32 {
    let mut a = Args::take();
    let (k, m, st, so) = (a.text(kind), a.text(message), a.text(stack), a.text(source));
    with_core(h, |c| c.crash(k, m, st, so, now_ms))
}

/// [`Core::reset`].
#[unsafe(no_mangle)]
pub extern "C" fn core_reset(h: u32, now_ms: f64) {
    with_core(h, |c| c.reset(now_ms));
}

/// [`Core::set_consent`].
#[unsafe(no_mangle)]
pub extern "C" fn core_set_consent(h: u32, code: u32) {
    with_core(h, |c| c.set_consent(code as u8));
}

/// [`Core::set_context`].
#[unsafe(no_mangle)]
pub extern "C" fn core_set_context(h: u32, context: u32) {
    let context = Args::take().text(context);
    with_core(h, |c| c.set_context(context));
}

/// [`Core::set_online`].
#[unsafe(no_mangle)]
pub extern "C" fn core_set_online(h: u32, online: u32) {
    with_core(h, |c| c.set_online(online != 0));
}

/// [`Core::flush`].
#[unsafe(no_mangle)]
pub extern "C" fn core_flush(h: u32) {
    with_core(h, Core::flush);
}

/// [`Core::next_task`].
#[unsafe(no_mangle)]
pub extern "C" fn core_next_task(h: u32, now_ms: f64) -> f64 {
    with_core(h, |c| c.next_task(now_ms))
}

/// Moves [`Core::upload_body`] into the output buffer.
#[unsafe(no_mangle)]
pub extern "C" fn core_upload_body(h: u32) {
    set_output(with_core(h, Core::upload_body));
}

/// [`Core::on_response`].
#[unsafe(no_mangle)]
pub extern "C" fn core_on_response(
    h: u32,
    id: f64,
    status: u32,
    retry_after: u32,
    rejected: u32,
    settings_version: u32,
    now_ms: f64,
) {
    let mut a = Args::take();
    let (ra, rej, sv) = (
        a.text(retry_after),
        a.nums(rejected),
        a.text(settings_version),
    );
    with_core(h, |c| {
        c.on_response(id, status as u16, ra, &rej, sv, now_ms)
    });
}

/// [`Core::on_settings`].
#[cfg(feature = "remote-settings")]
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn core_on_settings(
    h: u32,
    id: f64,
    status: u32,
    version: u32,
    enabled: u32,
    nums: u32,
    at_ms: f64,
) {
    // `nums`: Core::on_settings's eight, how many names are disabled and
    // how many sampled, each name's length, then the sampled names' rates;
    // the names follow in the input.
    let mut a = Args::take();
    let v = a.text(version);
    let n = a.nums(nums);
    let at = |i: usize| n.get(i).map_or(0, |x| *x as usize);
    let (d, s) = (at(8), at(9));
    let mut disabled = Vec::new();
    let mut sampled = Vec::new();
    for i in 0..d + s {
        let name = a.text(at(10 + i) as u32);
        if i < d {
            disabled.push(name);
        } else {
            sampled.push((name, n.get(10 + s + i).copied().unwrap_or(1.0)));
        }
    }
    with_core(h, |c| {
        c.on_settings(
            id,
            status as u16,
            v,
            enabled != 0,
            disabled,
            sampled,
            &n,
            at_ms,
        );
    });
}

/// [`Core::on_failure`].
#[unsafe(no_mangle)]
pub extern "C" fn core_on_failure(h: u32, id: f64, timeout: u32, now_ms: f64) {
    with_core(h, |c| c.on_failure(id, timeout != 0, now_ms));
}

/// [`Core::beacons`].
#[unsafe(no_mangle)]
pub extern "C" fn core_beacons(h: u32, max_bytes: u32, now_ms: f64) -> u32 {
    with_core(h, |c| c.beacons(max_bytes, now_ms))
}

/// [`Core::evict`].
#[unsafe(no_mangle)]
pub extern "C" fn core_evict(h: u32, bytes: u32) -> u32 {
    with_core(h, |c| c.evict(bytes))
}

/// [`Core::beacon_sent`].
#[unsafe(no_mangle)]
pub extern "C" fn core_beacon_sent(h: u32, seqs: u32) {
    let seqs = Args::take().nums(seqs);
    with_core(h, |c| c.beacon_sent(&seqs));
}

/// [`Core::take_changes`] (1 when there are changes).
#[unsafe(no_mangle)]
pub extern "C" fn core_take_changes(h: u32) -> u32 {
    with_core(h, |c| u32::from(c.take_changes()))
}

/// [`Core::debug_log`].
#[cfg(feature = "debug-log")]
#[unsafe(no_mangle)]
pub extern "C" fn core_debug_log(h: u32) {
    with_core(h, Core::debug_log);
}

/// [`Core::stats`].
#[unsafe(no_mangle)]
pub extern "C" fn core_stats(h: u32) {
    with_core(h, Core::stats);
}
