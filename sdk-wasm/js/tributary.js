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
// Then the auto-capture switches (`autoCapture`: true/false or some of
// these) and `remoteSettings`.
const AUTO = ['lifecycle', 'screens', 'errors', 'attribution'];
const OWN_OPTIONS = ['writeKey', 'endpoint', 'storage', 'timeoutMs', 'beaconBytes', 'context', 'onError', 'plugins',
  'autoCapture', 'remoteSettings', 'appVersion', 'appBuild', 'debug'];
// Drop reasons the core counts (DropReason::ALL).
const REASONS = 9;
const counts = (a) => [...(a || []), ...Array(REASONS).fill(0)].slice(0, REASONS);
const CONSENT = ['granted', 'pending', 'denied'];
const KIND = { track: 0, identify: 1, page: 2, screen: 3, group: 4, alias: 5, plugin: 6 };
// `autoCapture` as the four switches: true for all, an object for some
// (unnamed ones off). Off by default on the web: it needs the larger core
// (see README, Size).
const autoKinds = (a) => AUTO.map((k) => (typeof a === 'boolean' ? a : !!(a && a[k])));
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
  // `shared`: what all tabs keep (see Tributary's constructor); an adopted
  // queue takes only the settings from it, its identity is its own.
  static async open(wasm, o, store, locks, part, shared, adopted, g) {
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
    const sh = data.state || adopted ? {} : shared || {};
    loader.state(st.anonymous_id || sh.a || '', st.user_id || sh.u || '',
      st.session_id ?? sh.s ?? NaN, st.session_last_activity_ms ?? sh.l ?? NaN,
      st.next_seq || 0, st.consent ? CONSENT.indexOf(st.consent) : 255,
      f ? f.key : '', f ? f.seqs : [], [...counts(f && f.report), ...counts(st.unreported)],
      st.app_version || sh.v || '', st.app_build || sh.b || '', !!(st.opened || sh.o));
    const opts = [...CORE_OPTIONS.map((k) => {
      const v = o[k];
      if (v === undefined) return NaN;
      if (k === 'consent') return CONSENT.indexOf(v);
      if (k === 'compress') return v ? 1 : 0;
      return v;
    }), ...[...autoKinds(o.autoCapture), o.remoteSettings, o.debug].map((v) => +!!v)];
    let core;
    try {
      // The core takes what `loader` read.
      core = new wasm.Core(o.writeKey, o.endpoint, VERSION, opts, Math.random() * 2 ** 52, Date.now());
    } catch (e) {
      const text = String(e && e.message || e);
      const at = text.indexOf(': ');
      fail(at > 0 ? text.slice(0, at) : 'invalid_config', camel(at > 0 ? text.slice(at + 2) : text));
    }
    // The context goes with each batch: for an adopted queue it is the
    // adopting page's (same browser and device).
    core.set_context(json(context(g, o.context), 'context'));
    // The server's settings as this browser last received them.
    const kept = o.remoteSettings && shared && shared.settings;
    if (kept && kept.body) core.on_settings(-1, 200, ...settingsArgs(kept.body), kept.at || 0);
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

  // With `debug`, the core's decisions since the last call, to the console.
  log() {
    if (this.o.debug) for (const l of this.core.debug_log()) console.debug('Tributary:', l);
  }

  async run() {
    const { core, g } = this;
    for (;;) {
      this.log();
      clearTimeout(this.timer);
      const next = core.next_task(Date.now());
      if (next === -1) break;
      if (next >= 0) {
        this.timer = setTimeout(() => this.pump(), Math.min(next, 2 ** 31 - 1));
        break;
      }
      const task = JSON.parse(out(core));
      const body = core.upload_body();
      // A GET is the core's settings fetch (it names the method).
      if (task.method === 'GET') {
        this.settled(task.id, await send(task, null, this.o.timeoutMs, g));
        continue;
      }
      // What goes out must be stored first: a reload then re-sends the
      // same batch under the same idempotency key.
      await this.save();
      const r = await this.locks.upload(() => send(task, body, this.o.timeoutMs, g));
      const a = answer(r);
      if (r.status) core.on_response(task.id, r.status, r.retryAfter, a.rejected, a.version, Date.now());
      else core.on_failure(task.id, !!r.timeout, Date.now());
      this.save();
      if (this.closed) break;
    }
    this.log();
    if (this.onPause) this.onPause();
  }

  /**
   * Reports the answer to a settings fetch; settings that arrived (or a
   * 304 confirming them) go to `onSettings` to be kept for every tab.
   */
  settled(id, r) {
    const now = Date.now();
    let s = null;
    if (r.status === 200) { try { s = JSON.parse(utf8.decode(r.body)); } catch { /* not JSON */ } }
    const good = r.status === 304 || (r.status === 200 && isSettings(s));
    // No answer is 0; any other answer that is not settings, a failed fetch.
    this.core.on_settings(id, good ? r.status : r.status ? 502 : 0, ...settingsArgs(good && s ? s : {}), now);
    if (good && this.onSettings) this.onSettings(r.status === 200 ? s : null, now, this);
    this.save();
  }

  /** Page is being hidden: hand the waiting events to beacons. */
  hide() {
    if (this.core.beacons(this.o.beaconBytes, Date.now())) {
      for (const b of beacon(this.o.endpoint, JSON.parse(out(this.core)), this.g)) {
        this.core.beacon_sent(b.seqs);
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

// What the core needs of a 2xx ingest answer (the contract's
// BatchResponse): the per-event rejections as [index, retryable, …] and the
// settings version it names.
function answer(r) {
  const a = { rejected: [], version: '' };
  if (r.status < 200 || r.status > 299) return a;
  let body;
  try { body = JSON.parse(utf8.decode(r.body)); } catch { return a; }
  for (const x of (body && Array.isArray(body.rejected) ? body.rejected : [])) {
    if (x && Number.isInteger(x.index)) a.rejected.push(x.index, x.retryable ? 1 : 0);
  }
  if (body && typeof body.settingsVersion === 'string') a.version = body.settingsVersion;
  return a;
}

// A GET /v1/settings body (the contract's RemoteSettings) has these two.
const isSettings = (s) => isObject(s) && typeof s.version === 'string' && typeof s.enabled === 'boolean';

// RemoteSettings as Core.on_settings takes them (after id and status).
function settingsArgs(s) {
  const rates = isObject(s.sampleRates) ? s.sampleRates : {};
  const sampled = Object.keys(rates).filter((k) => typeof rates[k] === 'number');
  const auto = isObject(s.autoCapture) ? s.autoCapture : {};
  const num = (v) => (typeof v === 'number' || typeof v === 'boolean' ? +v : NaN);
  return [s.version || '', s.enabled !== false,
    (Array.isArray(s.disabledEvents) ? s.disabledEvents : []).filter((n) => typeof n === 'string'), sampled,
    sampled.map((k) => rates[k]),
    [s.flushAtEvents, s.flushIntervalMs, s.maxBatchEvents, s.ttlSecs, ...AUTO.map((k) => auto[k])].map(num)];
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
  /**
   * Resolves to the initialised wasm module (`{Core, Loader}`) of `build`:
   * '' (server settings), '_full' (and automatic capture) or '_debug' (and
   * the debug log). Each entry overrides it.
   */
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
    const a = options.autoCapture;
    if (a !== undefined && typeof a !== 'boolean'
      && !(isObject(a) && Object.keys(a).every((k) => AUTO.includes(k) && typeof a[k] === 'boolean'))) {
      fail('invalid_config', `autoCapture must be true, false or an object of booleans among ${AUTO.join(', ')}`);
    }
    for (const [k, type] of [['remoteSettings', 'boolean'], ['debug', 'boolean'], ['appVersion', 'string'], ['appBuild', 'string']]) {
      if (options[k] !== undefined && typeof options[k] !== type) fail('invalid_config', `${k} must be a ${type}`);
    }
    const o = { storage: 'auto', timeoutMs: 10000, beaconBytes: 60000, remoteSettings: true, onError: () => {}, ...options };
    const auto = autoKinds(o.autoCapture).some(Boolean);
    // The debug log is in a build of its own, loaded only by a page that debugs.
    const build = o.debug ? '_debug' : auto ? '_full' : '';
    const [wasm, capture] = await Promise.all([this.loadWasm(build), auto ? import('./capture.js') : null]);
    const name = `tributary:${o.writeKey}`;
    const store = await openStore(o.storage, name, g);
    const locks = tabLocks(name, g);
    const part = await locks.claim();
    const shared = await store.meta();
    const lane = await Lane.open(wasm, o, store, locks, part, shared, false, g);
    const t = new this(wasm, o, store, locks, lane, shared || {}, g);
    if (capture) capture.start(t, g);
    return t;
  }

  constructor(wasm, o, store, locks, lane, shared, g) {
    Object.assign(this, { wasm, o, store, locks, lane, g, shared, core: lane.core, adopted: new Map(), closed: false });
    this.context = o.context;
    // What every tab of this write key shares: identity, session and the
    // last open (seeding a new tab's queue), and the server's settings.
    let written = JSON.stringify(shared);
    const keep = (patch) => {
      Object.assign(this.shared, patch);
      const next = JSON.stringify(this.shared);
      if (next !== written) { written = next; store.meta(this.shared).catch(() => {}); }
    };
    lane.onState = (s) => keep({ a: s.anonymous_id, u: s.user_id, s: s.session_id, l: s.session_last_activity_ms,
      v: s.app_version, b: s.app_build, o: s.opened });
    this.onSettings = (body, at, from) => {
      keep({ settings: { body: body || (this.shared.settings || {}).body, at } });
      // The page's other queues obey them at once.
      if (body) for (const l of this.lanes()) if (l !== from) l.core.on_settings(-1, 200, ...settingsArgs(body), at);
    };
    lane.onSettings = this.onSettings;
    this.plugins = [];
    for (const p of o.plugins || []) this.addPlugin(p);
    this.off = [];
    const on = this.on.bind(this);
    const hide = () => { for (const l of this.lanes()) l.hide(); };
    on(g, 'pagehide', hide);
    on(g.document, 'visibilitychange', () => {
      const hidden = g.document.visibilityState === 'hidden';
      // Automatic capture records the change first, so that a hidden
      // page's beacons carry it.
      if (this.onVisibility) this.onVisibility(hidden);
      if (hidden) hide();
    });
    on(g, 'online', () => { for (const l of this.lanes()) { l.core.set_online(true); l.pump(); } });
    on(g, 'offline', () => { for (const l of this.lanes()) l.core.set_online(false); });
    lane.save();
    lane.pump();
    if (g.navigator && g.navigator.locks) {
      this.adoptOrphans();
      this.adoptTimer = setInterval(() => this.adoptOrphans(), ADOPT_EVERY_MS);
    }
  }

  /** Listens to `type` on `target` until close(). */
  on(target, type, fn) {
    if (target && target.addEventListener) {
      target.addEventListener(type, fn);
      this.off.push(() => target.removeEventListener(type, fn));
    }
  }

  /**
   * What automatic capture (capture.js) saw, handed to the core by `call(core,
   * now)`; the core decides what it becomes. Never throws into the page.
   */
  report(call) {
    if (this.closed) return;
    try { call(this.core, Date.now()); } catch { return; }
    this.lane.save();
    this.lane.pump();
  }

  /** The current page (`pageInfo`), after putting it in the batch context. */
  here() {
    const info = pageInfo(this.g);
    if (info) this.core.set_context(json(context(this.g, this.context), 'context'));
    return info;
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
        lane = await Lane.open(this.wasm, this.o, this.store, this.locks, p, this.shared, true, this.g);
      } catch {
        release();
        continue;
      }
      this.adopted.set(p, lane);
      lane.onSettings = this.onSettings;
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
    const info = this.here();
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

