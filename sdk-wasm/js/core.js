// The Rust core's WebAssembly exports (sdk-wasm/src/abi.rs) as the two
// classes the platform loop uses, Core and Loader, with the methods of
// sdk-wasm/src/lib.rs. Every export takes its arguments in the method's
// order, a number as itself and a string or number array as its byte length,
// the bytes copied one after the other into the core's input buffer before
// the call; text and bytes come back through its output buffer.

const enc = new TextEncoder();

/** Instantiates the core from the wasm file's bytes; resolves to `{Core, Loader}`. */
export async function bind(bytes) {
  const w = (await WebAssembly.instantiate(bytes, {})).instance.exports;
  // Copies the strings and arrays among `args` into the input buffer
  // (`extra` after them) and returns the arguments as the export takes them.
  const put = (args, extra = []) => {
    const parts = [];
    const flat = args.map((a) => {
      if (a == null) a = '';
      if (typeof a !== 'string' && typeof a !== 'object') return +a;
      const b = typeof a === 'string' ? enc.encode(a) : new Uint8Array(Float64Array.from(a).buffer);
      parts.push(b);
      return b.length;
    });
    parts.push(...extra);
    let at = w.args(parts.reduce((n, b) => n + b.length, 0));
    const mem = new Uint8Array(w.memory.buffer);
    for (const b of parts) { mem.set(b, at); at += b.length; }
    return flat;
  };
  const out = () => new Uint8Array(w.memory.buffer, w.out_ptr(), w.out_len()).slice();
  const methods = (cls, prefix, names, self) => {
    for (const n of names) cls.prototype[n] = function call(...args) { return w[prefix + n](...self(this), ...put(args)); };
  };

  // One store being read at a time: Lane.open builds a loader and then its
  // core (which takes what the loader read) in one synchronous step.
  class Loader {
    constructor() { w.loader_new(); }
  }
  methods(Loader, 'loader_', ['event', 'corrupt', 'state'], () => []);

  class Core {
    constructor(...args) {
      this.h = w.core_new(...put(args));
      if (this.h < 0) throw new Error(new TextDecoder().decode(out()));
    }
    out() { w.core_out(this.h); return out(); }
    // The debug log's new lines (the full build only has it).
    debug_log() {
      if (!w.core_debug_log) return [];
      w.core_debug_log(this.h);
      const t = new TextDecoder().decode(this.out());
      return t ? t.split('\n') : [];
    }
    upload_body() { w.core_upload_body(this.h); return out(); }
    on_settings(id, status, version, enabled, disabled, sampled, rates, nums, at) {
      const names = [...disabled, ...sampled].map((n) => enc.encode(n));
      w.core_on_settings(this.h, ...put([id, status, version, enabled,
        [...nums, disabled.length, sampled.length, ...names.map((b) => b.length), ...rates], at], names));
    }
  }
  methods(Core, 'core_', ['free', 'record', 'app_opened', 'crash', 'reset', 'set_consent', 'set_context',
    'set_online', 'flush', 'next_task', 'on_response', 'on_failure', 'beacons', 'evict', 'beacon_sent',
    'take_changes', 'stats'], (c) => [c.h]);
  return { Core, Loader };
}
