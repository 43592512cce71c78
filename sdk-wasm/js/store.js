// Where a page's queue lives between visits: IndexedDB, else localStorage,
// else memory (the two fallbacks are in fallback.js). The Rust core keeps the queue in memory and journals its
// changes (sdk-wasm/src/journal.rs); a store loads a partition once and then
// applies those journals. A partition is one tab's queue (see tabs.js);
// `meta` holds what all tabs share (identity and session).
//
// Layout, IndexedDB database `tributary:<writeKey>`:
//   events  key [partition, seq] -> [createdMs, high, body]
//   parts   key partition        -> the core's state object
//   meta    key "shared"         -> {a: anonymousId, u: userId, s: sessionId, l: lastActivityMs}
// localStorage uses keys `tributary:<writeKey>:<partition>:<seq>` and
// `…:<partition>:state`, `tributary:<writeKey>::meta`.

const QUOTA = 'QuotaExceededError';

/** True if `e` is a storage quota error (browsers disagree on the shape). */
export const isQuota = (e) => !!e && (e.name === QUOTA || e.code === 22 || e.code === 1014);

const req = (r) => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
const done = (tx) => new Promise((ok, fail) => { tx.oncomplete = ok; tx.onerror = tx.onabort = () => fail(tx.error || new Error('transaction aborted')); });

/** IndexedDB store (`KeyRange`: the environment's IDBKeyRange). */
export async function openIdb(idb, name, KeyRange) {
  const open = idb.open(name, 1);
  open.onupgradeneeded = () => {
    const db = open.result;
    db.createObjectStore('events');
    db.createObjectStore('parts');
    db.createObjectStore('meta');
  };
  const db = await req(open);
  const range = (p) => KeyRange.bound([p, 0], [p, Infinity]);
  return {
    kind: 'indexeddb',
    async load(p) {
      const tx = db.transaction(['events', 'parts'], 'readonly');
      const [keys, vals, state] = await Promise.all([
        req(tx.objectStore('events').getAllKeys(range(p))),
        req(tx.objectStore('events').getAll(range(p))),
        req(tx.objectStore('parts').get(p)),
      ]);
      return { events: keys.map((k, i) => [k[1], ...vals[i]]), state };
    },
    async apply(p, ch) {
      const tx = db.transaction(['events', 'parts'], 'readwrite');
      const ev = tx.objectStore('events');
      for (const seq of ch.del) ev.delete([p, seq]);
      for (const [seq, t, high, body] of ch.put) ev.put([t, high, body], [p, seq]);
      if (ch.state) tx.objectStore('parts').put(ch.state, p);
      await done(tx);
    },
    async partitions() {
      return req(db.transaction('parts', 'readonly').objectStore('parts').getAllKeys());
    },
    async drop(p) {
      const tx = db.transaction(['events', 'parts'], 'readwrite');
      tx.objectStore('events').delete(range(p));
      tx.objectStore('parts').delete(p);
      await done(tx);
    },
    async meta(value) {
      const tx = db.transaction('meta', value ? 'readwrite' : 'readonly');
      const r = value ? tx.objectStore('meta').put(value, 'shared') : tx.objectStore('meta').get('shared');
      const out = await req(r);
      return value ? undefined : out;
    },
    close: () => db.close(),
  };
}

/** Opens the best store the environment offers (`kind`: 'auto', 'indexeddb', 'localstorage' or 'memory'). */
export async function openStore(kind, name, g = globalThis) {
  if ((kind === 'auto' || kind === 'indexeddb') && g.indexedDB) {
    try { return await openIdb(g.indexedDB, name, g.IDBKeyRange); } catch (e) { if (kind === 'indexeddb') throw e; }
  }
  // The fallbacks are loaded only when needed: most pages never do.
  const { webStorage, memory } = await import('./fallback.js');
  if (kind !== 'memory') {
    try {
      const ls = g.localStorage;
      if (ls) { ls.setItem(`${name}:probe`, '1'); ls.removeItem(`${name}:probe`); return webStorage(ls, name); }
    } catch { /* private mode or disabled: fall through */ }
  }
  return memory();
}
