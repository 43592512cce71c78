// The Rust core's WebAssembly exports (sdk-wasm/src/abi.rs) as the two
// classes the platform loop uses, Core and Loader, with the methods of
// sdk-wasm/src/lib.rs. Strings and number arrays are copied into the
// core's input buffer before a call; text and bytes come back through its
// output buffer.

const enc = new TextEncoder();

/** Instantiates the core from the wasm file's bytes; resolves to `{Core, Loader}`. */
export async function bind(bytes) {
  const w = (await WebAssembly.instantiate(bytes, {})).instance.exports;
  // Writes the arguments one after the other; returns their byte lengths.
  const put = (...parts) => {
    const bytes = parts.map((p) => (typeof p === 'string' ? enc.encode(p)
      : new Uint8Array(Float64Array.from(p).buffer)));
    let at = w.args(bytes.reduce((n, b) => n + b.length, 0));
    const mem = new Uint8Array(w.memory.buffer);
    for (const b of bytes) { mem.set(b, at); at += b.length; }
    return bytes.map((b) => b.length);
  };
  const out = () => new Uint8Array(w.memory.buffer, w.out_ptr(), w.out_len()).slice();

  // One store being read at a time: Lane.open builds a loader and its core
  // in one synchronous step.
  class Loader {
    constructor() { w.loader_new(); }
    event(seq, t, high, body) { w.loader_event(seq, t, high, ...put(body)); }
    corrupt(seq) { w.loader_corrupt(seq); }
    state(a, u, s, l, next, consent, key, seqs, drops, version, build, opened) {
      const [na, nu, nk, ns, nd, nv, nb] = put(a, u, key, seqs, drops, version, build);
      w.loader_state(na, nu, s, l, next, consent, nk, ns, nd, nv, nb, opened);
    }
  }

  class Core {
    constructor(key, endpoint, version, opts, _loader, seed, now) {
      this.h = w.core_new(...put(key, endpoint, version, opts), seed, now);
      if (this.h < 0) throw new Error(new TextDecoder().decode(out()));
    }
    free() { w.core_free(this.h); }
    out() { w.core_out(this.h); return out(); }
    record(kind, name, json, now) { return w.core_record(this.h, kind, ...put(name, json), now); }
    app_opened(v, b, url, ref, now) { return w.core_app_opened(this.h, ...put(v, b, url, ref), now); }
    crash(kind, msg, stack, source, now) { return w.core_crash(this.h, ...put(kind, msg, stack, source), now); }
    reset(now) { w.core_reset(this.h, now); }
    set_consent(code) { w.core_set_consent(this.h, code); }
    set_context(json) { w.core_set_context(this.h, ...put(json)); }
    set_online(on) { w.core_set_online(this.h, on); }
    flush() { w.core_flush(this.h); }
    next_task(now) { return w.core_next_task(this.h, now); }
    upload_body() { w.core_upload_body(this.h); return out(); }
    on_response(id, status, retryAfter, rejected, version, now) {
      const [nr, nj, nv] = put(retryAfter, rejected, version);
      w.core_on_response(this.h, id, status, nr, nj, nv, now);
    }
    on_settings(id, status, version, enabled, disabled, sampled, rates, nums, at) {
      const [nv, nd, ns, nr, nn] = put(version, disabled, sampled, rates, nums);
      w.core_on_settings(this.h, id, status, nv, enabled, nd, ns, nr, nn, at);
    }
    on_failure(id, timeout, now) { w.core_on_failure(this.h, id, timeout, now); }
    beacons(max, now) { return w.core_beacons(this.h, max, now); }
    evict(bytes) { return w.core_evict(this.h, bytes); }
    beacon_sent(seqs) { w.core_beacon_sent(this.h, ...put(seqs)); }
    take_changes() { return w.core_take_changes(this.h); }
    stats() { w.core_stats(this.h); }
  }
  return { Core, Loader };
}
