// The web SDK's JavaScript half: the public API, and the platform loop that
// drives the Rust core (sdk-wasm/src/lib.rs). The core decides what to queue,
// what to send and when, and what every answer means; this file only stores
// (store.js), sends (transport.js), shares the origin's storage between tabs
// (tabs.js) and reports back. Both package entries (index.js for browsers,
// node.js for Node) hand it the initialised wasm module.

import { openStore, isQuota } from './store.js';
import { tabs as tabLocks } from './tabs.js';
import { send, beacon } from './transport.js';

/** Package version, sent as `context.library.version`. */
export const VERSION = '0.1.0';

// The core's numeric options, in the order Core::new takes them (OPTIONS in
// sdk-wasm/src/lib.rs), by their names here.
const CORE_OPTIONS = ['maxQueueEvents', 'maxQueueBytes', 'maxEventBytes', 'maxBatchEvents', 'maxBatchBytes',
  'flushAt', 'flushIntervalMs', 'maxEventAgeMs', 'backoffBaseMs', 'backoffCapMs', 'sessionTimeoutMs',
  'sampleRate', 'consent', 'compress'];
const OWN_OPTIONS = ['writeKey', 'endpoint', 'storage', 'timeoutMs', 'beaconBytes', 'context', 'onError', 'plugins'];
// Drop reasons the core counts (DropReason::ALL).
const REASONS = 9;
const counts = (a) => [...(a || []), ...Array(REASONS).fill(0)].slice(0, REASONS);
const CONSENT = ['granted', 'pending', 'denied'];
const KIND = { track: 0, identify: 1, page: 2, screen: 3, group: 4, alias: 5, plugin: 6 };
const ADOPT_EVERY_MS = 30000;

/** An error from the SDK; `code` is one of `invalid_config`, `invalid_argument`, `storage`, `closed`. */
export class TributaryError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'TributaryError';
    this.code = code;
  }
}

const fail = (code, message) => { throw new TributaryError(code, message); };
const utf8 = new TextDecoder();
// The core's text results (UTF-8 bytes from Core.out).
const out = (core) => utf8.decode(core.out());
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function json(value, what) {
  if (value == null) return '';
  if (!isObject(value)) fail('invalid_argument', `${what} must be a plain object`);
  let text;
  try { text = JSON.stringify(value); } catch (e) { fail('invalid_argument', `${what} cannot be serialised: ${e.message}`); }
  // An object with toJSON() may stringify to something else.
  if (!text || text[0] !== '{') fail('invalid_argument', `${what} must serialise to a JSON object`);
  return text;
}

function pageInfo(g) {
  const l = g.location, d = g.document;
  if (!l) return undefined;
  return { path: l.pathname, url: l.href, search: l.search, title: d ? d.title : '', referrer: d ? d.referrer : '' };
}

function context(g, extra) {
  const n = g.navigator || {}, s = g.screen;
  let timezone;
  try { timezone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch { /* no Intl */ }
  return {
    library: { name: 'tributary-web', version: VERSION },
    userAgent: n.userAgent, locale: n.language, timezone,
    screen: s ? { width: s.width, height: s.height, density: g.devicePixelRatio } : undefined,
    page: pageInfo(g),
    ...extra,
  };
}

/** One partition's queue: a core over a store partition, with its persistence and upload loop. */
class Lane {
  static async open(wasm, o, store, locks, part, shared, g) {
    const data = await store.load(part);
    const loader = new wasm.Loader();
    for (const [seq, t, high, body] of data.events) {
      // The core takes bodies on trust: check here that each is one JSON
      // object (a damaged record is counted as corrupt and deleted).
      let ok = typeof body === 'string' && body[0] === '{';
      try { ok = ok && isObject(JSON.parse(body)); } catch { ok = false; }
      if (ok) loader.event(seq, t, !!high, body);
      else loader.corrupt(seq);
    }
    const st = data.state || {};
    const f = st.in_flight;
    const sh = data.state ? {} : shared || {};
    loader.state(st.anonymous_id || sh.a || '', st.user_id || sh.u || '',
      st.session_id ?? sh.s ?? NaN, st.session_last_activity_ms ?? sh.l ?? NaN,
      st.next_seq || 0, st.consent ? CONSENT.indexOf(st.consent) : 255,
      f ? f.key : '', new Float64Array(f ? f.seqs : []),
      new Float64Array([...counts(f && f.report), ...counts(st.unreported)]));
    const opts = new Float64Array(CORE_OPTIONS.map((k) => {
      const v = o[k];
      if (v === undefined) return NaN;
      if (k === 'consent') return CONSENT.indexOf(v);
      if (k === 'compress') return v ? 1 : 0;
      return v;
    }));
    let core;
    try {
      core = new wasm.Core(o.writeKey, o.endpoint, VERSION, opts, loader, Math.random() * 2 ** 52, Date.now());
    } catch (e) {
      const text = String(e && e.message || e);
      const at = text.indexOf(': ');
      fail(at > 0 ? text.slice(0, at) : 'invalid_config', camel(at > 0 ? text.slice(at + 2) : text));
    }
    // The context goes with each batch: for an adopted queue it is the
    // adopting page's (same browser and device).
    core.set_context(json(context(g, o.context), 'context'));
    return new Lane(core, o, store, locks, part, g);
  }

  constructor(core, o, store, locks, part, g) {
    Object.assign(this, { core, o, store, locks, part, g, saving: Promise.resolve(), queued: null, loop: null, timer: 0, closed: false });
  }

  /**
   * Copies the core's journal into the store; resolves when everything so
   * far is stored. Calls made before a queued write starts share it (a loop
   * of track() calls is one transaction).
   */
  save() {
    if (!this.queued) {
      this.queued = this.saving = this.saving.then(() => {
        this.queued = null;
        return this.write();
      }).catch((e) => this.o.onError(new TributaryError('storage', String(e && e.message || e))));
    }
    return this.queued;
  }

  async write() {
    while (this.core.take_changes()) {
      let ch = JSON.parse(out(this.core));
      for (let tries = 0; ; tries++) {
        try {
          await this.store.apply(this.part, ch);
          break;
        } catch (e) {
          if (!isQuota(e) || tries === 8) throw e;
          // Out of quota: evict the oldest waiting events (counted as
          // queue_full and reported to the gateway), a quarter of what is
          // being added at a time, and store again with the evictions.
          const adding = ch.put.reduce((n, p) => n + p[3].length, 0);
          this.core.evict(Math.max(1, adding >> 2));
          if (this.core.take_changes()) {
            const more = JSON.parse(out(this.core));
            const gone = new Set(more.del);
            ch = {
              put: [...ch.put, ...more.put].filter((p) => !gone.has(p[0])),
              del: [...ch.del, ...more.del],
              state: more.state || ch.state,
            };
          }
        }
      }
      if (ch.state && this.onState) this.onState(ch.state);
    }
  }

  /**
   * Runs the upload loop, or asks the running one for another pass (the
   * core may have decided to wait before the latest event or flush);
   * resolves when it pauses.
   */
  pump() {
    if (this.closed) return Promise.resolve();
    if (this.loop) {
      this.again = true;
      return this.loop;
    }
    this.loop = (async () => {
      try {
        do {
          this.again = false;
          await this.run();
        } while (this.again && !this.closed);
      } finally {
        // Cleared in the same step as the last check, so a pump() asked
        // for after it starts a new loop rather than joining a finished one.
        this.loop = null;
      }
    })();
    return this.loop;
  }

  async run() {
    const { core, g } = this;
    for (;;) {
      clearTimeout(this.timer);
      const next = core.next_task(Date.now());
      if (next === -1) break;
      if (next >= 0) {
        this.timer = setTimeout(() => this.pump(), Math.min(next, 2 ** 31 - 1));
        break;
      }
      const task = JSON.parse(out(core));
      const body = core.upload_body();
      // What goes out must be stored first: a reload then re-sends the
      // same batch under the same idempotency key.
      await this.save();
      const r = await this.locks.upload(() => send(task, body, this.o.timeoutMs, g));
      if (r.status) core.on_response(task.id, r.status, r.retryAfter, new Float64Array(rejected(r)), Date.now());
      else core.on_failure(task.id, !!r.timeout, Date.now());
      this.save();
      if (this.closed) break;
    }
    if (this.onPause) this.onPause();
  }

  /** Page is being hidden: hand the waiting events to beacons. */
  hide() {
    if (this.core.beacons(this.o.beaconBytes, Date.now())) {
      for (const b of beacon(this.o.endpoint, JSON.parse(out(this.core)), this.g)) {
        this.core.beacon_sent(new Float64Array(b.seqs));
      }
    }
    this.save();
  }

  /** Nothing queued and nothing in flight. */
  idle() {
    this.core.stats();
    return JSON.parse(out(this.core)).idle;
  }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
  }
}

// The per-event rejections of a 2xx answer (the contract's BatchResponse)
// as [index, retryable, …] for the core.
function rejected(r) {
  if (r.status < 200 || r.status > 299) return [];
  let body;
  try { body = JSON.parse(utf8.decode(r.body)); } catch { return []; }
  const out = [];
  for (const x of (body && Array.isArray(body.rejected) ? body.rejected : [])) {
    if (x && Number.isInteger(x.index)) out.push(x.index, x.retryable ? 1 : 0);
  }
  return out;
}

const camel = (text) => text.replace(/\b([a-z]+)_([a-z_]+)\b/g, (m) => {
  const parts = m.split('_');
  return parts[0] + parts.slice(1).map((p) => p[0].toUpperCase() + p.slice(1)).join('');
}).replace('flushAtEvents', 'flushAt');

/**
 * The web SDK. Create one with `await Tributary.init({ writeKey, endpoint })`.
 * Each package entry exports a subclass whose `loadWasm()` loads the core
 * its way; being defined in the entry module, it survives bundlers that
 * skip modules marked side-effect free.
 */
export class Tributary {
  /** Resolves to the initialised wasm module (`{Core, Loader}`); each entry overrides it. */
  static loadWasm() {
    return Promise.reject(new TributaryError('invalid_config', 'import Tributary from the tributary-web package entry'));
  }

  /**
   * Loads the core, opens the page's queue (IndexedDB, else localStorage,
   * else memory), and starts delivering. Rejects with a TributaryError
   * (`invalid_config`) naming a bad option.
   */
  static async init(options, g = globalThis) {
    if (!isObject(options)) fail('invalid_config', 'options must be an object');
    for (const k of Object.keys(options)) {
      if (!CORE_OPTIONS.includes(k) && !OWN_OPTIONS.includes(k)) fail('invalid_config', `unknown option ${k}`);
    }
    if (typeof options.writeKey !== 'string' || !options.writeKey) fail('invalid_config', 'writeKey is required');
    if (options.consent !== undefined && !CONSENT.includes(options.consent)) fail('invalid_config', 'consent must be granted, pending or denied');
    const o = { storage: 'auto', timeoutMs: 10000, beaconBytes: 60000, onError: () => {}, ...options };
    const wasm = await this.loadWasm();
    const name = `tributary:${o.writeKey}`;
    const store = await openStore(o.storage, name, g);
    const locks = tabLocks(name, g);
    const part = await locks.claim();
    const shared = await store.meta();
    const lane = await Lane.open(wasm, o, store, locks, part, shared, g);
    return new this(wasm, o, store, locks, lane, g);
  }

  constructor(wasm, o, store, locks, lane, g) {
    Object.assign(this, { wasm, o, store, locks, lane, g, core: lane.core, adopted: new Map(), closed: false });
    this.context = o.context;
    let shared = '';
    lane.onState = (s) => {
      const next = JSON.stringify({ a: s.anonymous_id, u: s.user_id, s: s.session_id, l: s.session_last_activity_ms });
      if (next !== shared) { shared = next; store.meta(JSON.parse(next)).catch(() => {}); }
    };
    this.plugins = [];
    for (const p of o.plugins || []) this.addPlugin(p);
    const on = (target, type, fn) => { if (target && target.addEventListener) { target.addEventListener(type, fn); this.off.push(() => target.removeEventListener(type, fn)); } };
    this.off = [];
    const hide = () => { for (const l of this.lanes()) l.hide(); };
    on(g, 'pagehide', hide);
    on(g.document, 'visibilitychange', () => { if (g.document.visibilityState === 'hidden') hide(); });
    on(g, 'online', () => { for (const l of this.lanes()) { l.core.set_online(true); l.pump(); } });
    on(g, 'offline', () => { for (const l of this.lanes()) l.core.set_online(false); });
    lane.save();
    lane.pump();
    if (g.navigator && g.navigator.locks) {
      this.adoptOrphans();
      this.adoptTimer = setInterval(() => this.adoptOrphans(), ADOPT_EVERY_MS);
    }
  }

  *lanes() {
    yield this.lane;
    yield* this.adopted.values();
  }

  /** Delivers the queues of tabs that closed (their partitions are unlocked). */
  async adoptOrphans() {
    for (const p of await this.store.partitions().catch(() => [])) {
      if (this.closed || p === this.lane.part || this.adopted.has(p)) continue;
      const release = await this.locks.adopt(p);
      if (!release) continue;
      let lane;
      try {
        lane = await Lane.open(this.wasm, this.o, this.store, this.locks, p, null, this.g);
      } catch {
        release();
        continue;
      }
      this.adopted.set(p, lane);
      lane.core.flush();
      lane.onPause = () => {
        if (!lane.idle()) return;
        lane.stop();
        this.adopted.delete(p);
        lane.save().then(() => this.store.drop(p)).finally(release);
      };
      lane.pump();
    }
  }

  /**
   * Adds a before-send plugin: `fn(event)` gets each recorded event as a
   * plain object (type, event or name, properties or traits, ids) and
   * returns it (changed or not), or null to drop it (counted as
   * `dropped_by_plugin`). A plugin that throws leaves the event as it was.
   */
  addPlugin(fn) {
    if (typeof fn !== 'function') fail('invalid_argument', 'a plugin must be a function');
    this.plugins.push(fn);
  }

  record(kind, name, props, what) {
    if (this.closed) fail('closed', 'this Tributary instance is closed');
    if (typeof name !== 'string') fail('invalid_argument', `${what} must be a string`);
    const key = kind === 'identify' || kind === 'group' ? 'traits' : 'properties';
    let text = json(props, key);
    if (this.plugins.length) {
      const nk = kind === 'track' ? 'event' : 'name';
      let e = { type: kind, [nk]: name, [key]: text ? JSON.parse(text) : {} };
      for (const p of this.plugins) {
        let n;
        try { n = p(e); } catch { continue; }
        if (n == null) { this.core.record(KIND.plugin, '', '', 0); this.lane.save(); return false; }
        if (isObject(n)) e = n;
      }
      name = e[nk] ?? name;
      text = json(e[key] || {}, key);
    }
    const r = this.core.record(KIND[kind], name, text, Date.now());
    if (r === 255) fail('invalid_argument', out(this.core));
    this.lane.save();
    this.lane.pump();
    return r === 0;
  }

  /** Records a user action. Returns false if the event was dropped (see `stats().dropped`). */
  track(event, properties) { return this.record('track', event, properties, 'event name'); }

  /** Ties this device to a user, with traits. */
  identify(userId, traits) { return this.record('identify', userId, traits, 'user id'); }

  /** Records a page view; url, path, title, referrer and search default to the current page's. */
  page(name = '', properties) {
    const info = pageInfo(this.g);
    if (info) this.core.set_context(json(context(this.g, this.context), 'context'));
    const props = isObject(properties) || properties == null ? { ...info, ...properties } : properties;
    return this.record('page', name, props, 'page name');
  }

  /** Records a screen view (single-page apps that think in screens). */
  screen(name, properties) { return this.record('screen', name, properties, 'screen name'); }

  /** Ties the user to a group (account), with traits. */
  group(groupId, traits) { return this.record('group', groupId, traits, 'group id'); }

  /** Merges the current identity into `userId`. */
  alias(userId) { return this.record('alias', userId, null, 'user id'); }

  /** Forgets the user (logout): new anonymous id and session. */
  reset() { this.core.reset(Date.now()); this.lane.save(); }

  /** Sets consent: 'granted', 'pending' (keep, do not send) or 'denied' (purge and stop). */
  setConsent(consent) {
    const code = CONSENT.indexOf(consent);
    if (code < 0) fail('invalid_argument', 'consent must be granted, pending or denied');
    this.core.set_consent(code);
    this.lane.save();
    this.lane.pump();
  }

  /** Sends what is queued now; resolves with the stats once the queue is empty or the retry policy says wait. */
  async flush() {
    for (const l of this.lanes()) l.core.flush();
    await Promise.all([...this.lanes()].map((l) => l.pump()));
    await this.saved();
    return this.stats();
  }

  /** Resolves once every change so far is in the store. */
  async saved() {
    await Promise.all([...this.lanes()].map((l) => l.save()));
  }

  /** Counters: enqueued, delivered, dropped (by reason), droppedTotal, requests, queued, queuedBytes, anonymousId, userId, idle; and the storage kind. */
  stats() {
    this.core.stats();
    return { ...JSON.parse(out(this.core)), storage: this.store.kind };
  }

  /** The device's anonymous id. */
  get anonymousId() { return this.stats().anonymousId; }

  /** The identified user, or null. */
  get userId() { return this.stats().userId; }

  /** Stops timers and listeners and closes the store, after saving. Events still queued stay stored for the next visit. */
  async close() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.adoptTimer);
    for (const off of this.off) off();
    for (const l of this.lanes()) l.stop();
    await this.saved();
    this.store.close();
  }
}

