// HTTP for the web: uploads with fetch (gzip through CompressionStream where
// the browser has it), beacons with navigator.sendBeacon. Only I/O: what to
// send, and what each outcome means, is decided by the Rust core.

/** Bodies below this go with `keepalive`, so an upload survives the page closing (browsers cap keepalive bytes at 64 KiB). */
const KEEPALIVE_MAX = 60000;

async function gzip(body, g) {
  const stream = new g.Blob([body]).stream().pipeThrough(new g.CompressionStream('gzip'));
  return new Uint8Array(await new g.Response(stream).arrayBuffer());
}

/**
 * Sends one upload task (`{url, headers, compress}` from the core, plus its
 * body). Resolves to `{status, retryAfter, body}` for any HTTP answer, or
 * `{timeout}` / `{error}` when none came.
 */
export async function send(task, body, timeoutMs, g = globalThis) {
  const headers = { ...task.headers };
  if (body && task.compress && g.CompressionStream) {
    body = await gzip(body, g);
    headers['Content-Encoding'] = 'gzip';
  }
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await g.fetch(task.url, {
      // The core names the method: a settings fetch is a GET without a body.
      method: task.method, headers, body: body || undefined, signal: ctl.signal,
      keepalive: !!body && body.length < KEEPALIVE_MAX, credentials: 'omit',
    });
    return {
      status: res.status,
      retryAfter: res.headers.get('Retry-After') || '',
      body: new Uint8Array(await res.arrayBuffer()),
    };
  } catch (e) {
    return ctl.signal.aborted ? { timeout: true } : { error: String(e && e.message || e) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Hands beacons (`[{key, seqs, body}]` from the core) to the browser, in
 * order, until it refuses one (its in-flight quota is full). Beacons cannot
 * set headers: the body carries the write key, the URL the idempotency key,
 * and the type is text/plain so no CORS preflight is needed. Returns the
 * beacons the browser accepted.
 */
export function beacon(endpoint, list, g = globalThis) {
  const sent = [];
  if (!g.navigator || !g.navigator.sendBeacon) return sent;
  const url = `${endpoint.replace(/\/+$/, '')}/v1/batch?idempotency_key=`;
  for (const b of list) {
    let ok = false;
    try { ok = g.navigator.sendBeacon(url + encodeURIComponent(b.key), new g.Blob([b.body], { type: 'text/plain' })); } catch { /* refused */ }
    if (!ok) break;
    sent.push(b);
  }
  return sent;
}
