// The stores used where IndexedDB is missing or refuses to open (see
// store.js for the interface and the layout), loaded on demand.

/** localStorage (or any Web Storage) store: the fallback where IndexedDB is missing or refuses to open. */
export function webStorage(ls, name) {
  const key = (p, k) => `${name}:${p}:${k}`;
  const get = (k) => { try { return JSON.parse(ls.getItem(k)); } catch { return null; } };
  const keysOf = (prefix) => {
    const out = [];
    for (let i = 0; i < ls.length; i++) { const k = ls.key(i); if (k && k.startsWith(prefix)) out.push(k); }
    return out;
  };
  return {
    kind: 'localstorage',
    async load(p) {
      const events = [];
      for (const k of keysOf(key(p, ''))) {
        const seq = Number(k.slice(k.lastIndexOf(':') + 1));
        const v = get(k);
        if (Number.isFinite(seq) && Array.isArray(v)) events.push([seq, ...v]);
      }
      return { events, state: get(key(p, 'state')) };
    },
    async apply(p, ch) {
      // Deletions first: they free the space the additions may need.
      for (const seq of ch.del) ls.removeItem(key(p, seq));
      for (const [seq, t, high, body] of ch.put) ls.setItem(key(p, seq), JSON.stringify([t, high, body]));
      if (ch.state) ls.setItem(key(p, 'state'), JSON.stringify(ch.state));
    },
    async partitions() {
      return keysOf(`${name}:`).filter((k) => k.endsWith(':state')).map((k) => k.slice(name.length + 1, -6));
    },
    async drop(p) { for (const k of keysOf(key(p, ''))) ls.removeItem(k); },
    async meta(value) {
      if (!value) return get(`${name}::meta`);
      ls.setItem(`${name}::meta`, JSON.stringify(value));
    },
    close() {},
  };
}

/** A store that forgets everything with the page (no storage available, or `storage: 'memory'`). */
export function memory() {
  const parts = new Map();
  let shared = null;
  const part = (p) => parts.get(p) || parts.set(p, { events: new Map(), state: null }).get(p);
  return {
    kind: 'memory',
    async load(p) { const x = part(p); return { events: [...x.events].map(([s, v]) => [s, ...v]), state: x.state }; },
    async apply(p, ch) {
      const x = part(p);
      for (const seq of ch.del) x.events.delete(seq);
      for (const [seq, t, high, body] of ch.put) x.events.set(seq, [t, high, body]);
      if (ch.state) x.state = ch.state;
    },
    async partitions() { return [...parts.keys()]; },
    async drop(p) { parts.delete(p); },
    async meta(value) { if (!value) return shared; shared = value; },
    close() {},
  };
}

