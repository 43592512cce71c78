// Shared by the Node tests: a stand-in endpoint that records requests and
// answers as each test scripts it (fault injection; the real gateway and
// Kafka are exercised by the Chromium tests in tests/web_sdk.rs), and small
// fakes of browser storage.

import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

/** What the stand-in serves on GET /v1/settings unless a test says otherwise. */
export const SETTINGS = { version: 's0', enabled: true, ttlSecs: 3600 };

/**
 * Starts an HTTP endpoint. `answer(req, body, n)` returns `{status, headers,
 * body}` for the n-th batch (default: 200 with every event accepted);
 * `settings(req, n)` answers the n-th settings fetch (default: SETTINGS),
 * recorded in `fetches`, not in `requests`.
 */
export async function endpoint(answer = () => null, settings = () => null) {
  const requests = [];
  const fetches = [];
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url.startsWith('/v1/settings')) {
      const n = fetches.push({ url: req.url, headers: req.headers });
      const a = settings(req, n) || { status: 200, body: SETTINGS };
      res.writeHead(a.status, { 'content-type': 'application/json', ...(a.headers || {}) });
      res.end(a.status === 304 ? undefined : JSON.stringify(a.body || {}));
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const body = JSON.parse(raw.toString('utf8'));
      const n = requests.push({ url: req.url, headers: req.headers, body });
      const a = answer(req, body, n) || { status: 200, body: { accepted: body.batch.length, rejected: [] } };
      res.writeHead(a.status, { 'content-type': 'application/json', ...(a.headers || {}) });
      res.end(JSON.stringify(a.body || {}));
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    fetches,
    events: () => requests.flatMap((r) => r.body.batch),
    close: () => new Promise((ok) => { server.close(ok); server.closeAllConnections(); }),
  };
}

/** A Web Storage (localStorage) in memory, failing with QuotaExceededError past `quota` bytes. */
export function fakeLocalStorage(quota = Infinity) {
  const m = new Map();
  const size = () => [...m].reduce((n, [k, v]) => n + k.length + v.length, 0);
  return {
    get length() { return m.size; },
    key: (i) => [...m.keys()][i] ?? null,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem(k, v) {
      const before = m.get(k);
      m.set(k, String(v));
      if (size() > quota) {
        if (before === undefined) m.delete(k); else m.set(k, before);
        const e = new Error('quota exceeded');
        e.name = 'QuotaExceededError';
        throw e;
      }
    },
    removeItem: (k) => { m.delete(k); },
    map: m,
  };
}

/** A browser-like global: an EventTarget with Node's fetch and streams, and the given extras. */
export function env(extra = {}) {
  return Object.assign(new EventTarget(), {
    fetch: globalThis.fetch, Blob, Response, CompressionStream, navigator: {}, ...extra,
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `fn()` is truthy (polling), or fails after `ms`. */
export async function until(what, fn, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
