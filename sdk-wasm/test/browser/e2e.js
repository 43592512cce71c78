// End-to-end scenarios of tributary-web in a real browser (Chromium, Firefox
// ESR or WebKit: engines.js) against the real gateway and Kafka.
//
// Run by tests/web_sdk.rs, which owns the gateway and checks Kafka. This
// script drives the page and tells the Rust side when the gateway must go
// down or come up, with lines on stdout (`@gateway down`, `@gateway up`,
// answered `ok` on stdin) and ends with `@done {json}`.
//
//   node e2e.js <scenario> <gateway-url> <write-key> <run-id>
// in the engine $BROWSER names (chromium when unset).
// Scenarios: offline-reload, close-pending, closed-tab, auto-capture,
// settings (which rewrites the gateway's settings file, $SETTINGS_FILE, for
// app $SETTINGS_APP), settings-beside-kotlin (follows the flips the Kotlin
// settings test makes, step by step through files in $SETTINGS_SYNC;
// run by sdk-mobile/scripts/test-kotlin).

import { createServer } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './engines.js';

const [scenario, endpoint, writeKey, run] = process.argv.slice(2);
const root = fileURLToPath(new URL('../..', import.meta.url));
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const log = (...a) => console.error('[e2e]', ...a);

async function gateway(state) {
  console.log(`@gateway ${state}`);
  const { value } = await lines.next();
  if (value !== 'ok') throw new Error(`gateway ${state}: got ${value}`);
}

// The package folder over HTTP, as a site would serve it.
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
  try {
    const body = await readFile(join(root, path));
    res.writeHead(200, { 'content-type': types[extname(path)] || 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const pageUrl = `http://127.0.0.1:${server.address().port}/test/browser/page.html`;

const browser = await launch(process.env.BROWSER || 'chromium', log);
const options = { writeKey, endpoint, backoffBaseMs: 200, backoffCapMs: 1500, timeoutMs: 3000 };

const open = (query = '') => browser.open(pageUrl + query);

const init = (page, extra = {}) => page.evaluate(async (o) => {
  window.sdk = await window.Tributary.init(o);
  return window.sdk.stats();
}, { ...options, ...extra });

const track = (page, from, to) => page.evaluate(async ({ from, to, run }) => {
  for (let n = from; n < to; n++) window.sdk.track('Order Completed', { run, n, note: 'x'.repeat(200) });
  await window.sdk.saved();
  return window.sdk.stats();
}, { from, to, run });

const stats = (page) => page.evaluate(() => window.sdk.stats());

// Which of the browser features the SDK relies on this engine has (the
// README's per-engine table comes from these).
const features = (page) => page.evaluate(() => {
  let keepalive = false;
  try { keepalive = new Request(location.href, { method: 'POST', keepalive: true }).keepalive === true; } catch { /* no */ }
  return {
    indexedDB: typeof indexedDB === 'object' && indexedDB !== null,
    webLocks: !!(navigator.locks && typeof navigator.locks.request === 'function'),
    compressionStream: typeof CompressionStream === 'function',
    sendBeacon: typeof navigator.sendBeacon === 'function',
    fetchKeepalive: keepalive,
  };
});

async function until(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// The settings steps, whoever changes the settings: Noisy sent, then
// disabled (10 counted disabled_by_server, none kept), cleared (all kept),
// then Often sampled at 0.3 (the kept share within 0.05). Before each
// change `change(step, toml)` is called with the step just done and the
// next step's settings; the page then waits for the gateway to serve new
// settings and learns them from an upload's answer. Resolves to the Noisy
// and Often events kept and the page's stats.
async function obeySettings(page, change) {
  const version = async () => (await (await fetch(`${endpoint}/v1/settings?writeKey=${writeKey}`)).json()).version;
  const learn = (v) => until(`the page to apply ${v}`, () => page.evaluate(async ({ v, run }) => {
    window.sdk.track('Kept', { run });
    return (await window.sdk.flush()).settingsVersion === v;
  }, { v, run }), 30000);
  let v = await version();
  const next = async (step, toml) => {
    const before = v;
    await change(step, toml);
    v = await until('the gateway to serve new settings', async () => { const n = await version(); return n !== before && n; }, 300000);
    await learn(v);
  };
  const send = (name, n) => page.evaluate(async ({ name, n, run }) => {
    let kept = 0;
    for (let i = 0; i < n; i++) kept += window.sdk.track(name, { run, i }) ? 1 : 0;
    return { kept, s: await window.sdk.flush() };
  }, { name, n, run });
  const disabled = (r) => r.s.dropped.disabled_by_server || 0;
  await learn(v);
  const first = await send('Noisy', 5);
  if (first.kept !== 5 || disabled(first) !== 0) throw new Error(`before: ${JSON.stringify(first)}`);
  await next(0, 'disabled_events = ["Noisy"]');
  const off = await send('Noisy', 10);
  if (off.kept !== 0 || disabled(off) !== 10) throw new Error(`kill switch: ${JSON.stringify(off)}`);
  await next(1, '');
  const on = await send('Noisy', 10);
  if (on.kept !== 10 || disabled(on) !== 10) throw new Error(`cleared: ${JSON.stringify(on)}`);
  await next(2, 'sample_rates = { "Often" = 0.3 }');
  const often = await send('Often', 2000);
  log('sampling at 0.3', JSON.stringify(often));
  if (Math.abs(often.kept / 2000 - 0.3) >= 0.05 || often.s.dropped.sampled_out !== 2000 - often.kept) {
    throw new Error(`sampling: ${JSON.stringify(often)}`);
  }
  return { noisy: first.kept + on.kept, often: often.kept, stats: often.s };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const result = { scenario, sent: 0 };
try {
  if (scenario === 'offline-reload') {
    // The gateway is down from the start: uploads fail and back off.
    const page = await open();
    result.features = await features(page);
    await init(page);
    await track(page, 0, 60);
    await sleep(1500);
    const before = await stats(page);
    log('before reload', JSON.stringify(before));
    if (before.delivered !== 0 || before.queued < 60) throw new Error('events left the page while the gateway was down');
    // Reload: the queue (and any batch in flight, with its key) must come
    // back from IndexedDB.
    await page.reload();
    const after = await init(page);
    log('after reload', JSON.stringify(after));
    if (after.queued < 60) throw new Error(`only ${after.queued} events came back after the reload`);
    if (after.storage !== 'indexeddb') throw new Error(`storage is ${after.storage}`);
    await track(page, 60, 120);
    await sleep(1000);
    await gateway('up');
    const done = await until('the queue to drain', async () => { const s = await stats(page); return s.queued === 0 && s; });
    log('drained', JSON.stringify(done));
    result.sent = 120;
    result.stats = done;
  } else if (scenario === 'close-pending') {
    // Gateway up; the page holds its events (no batch is due) and closes.
    const page = await open();
    await init(page, { flushAt: 1000, flushIntervalMs: 3600000 });
    // The only request before the close is the settings fetch.
    await until('the settings', async () => (await stats(page)).settingsVersion);
    const s = await track(page, 0, 40);
    if (s.requests !== 1) throw new Error('an upload went out before the page closed');
    await page.close();
    await sleep(3000);
    result.sent = 40;
  } else if (scenario === 'closed-tab') {
    // Two tabs; one queues events while the gateway is down (its requests
    // get no answer, so closing it sends no beacon) and closes. The other adopts its
    // queue and delivers it when the gateway is back.
    const a = await open();
    await init(a);
    const b = await open();
    await init(b);
    await track(b, 0, 30);
    await until('tab b to see the gateway down', async () => (await stats(b)).requests > 0);
    await b.close();
    await gateway('up');
    // Tabs look for orphaned queues at start and every 30 s; do not wait.
    await a.evaluate(() => window.sdk.adoptOrphans());
    await until('the closed tab\'s queue to arrive', () => a.evaluate(async () => window.sdk.adopted.size === 0
      && !(await window.sdk.store.partitions()).some((p) => p !== window.sdk.lane.part)));
    result.sent = 30;
  } else if (scenario === 'auto-capture') {
    // A single-page app landing from a campaign link: its load, four route
    // changes (two pushState, back, a hash route; a replaceState to the
    // same URL is not one), an uncaught error and an unhandled rejection,
    // then a reload. The Rust side counts what reached Kafka.
    const page = await open('?utm_source=news&utm_campaign=launch');
    const auto = { autoCapture: true, appVersion: '2.0.0', appBuild: '200' };
    await init(page, auto);
    await page.evaluate(async (run) => {
      const go = (url) => history.pushState({}, '', url);
      go(`?route=cart&run=${run}`);
      go(`?route=checkout&run=${run}`);
      history.replaceState({}, '', location.href);
      await new Promise((ok) => { addEventListener('popstate', ok, { once: true }); history.back(); });
      location.hash = '#/paid';
      await new Promise((ok) => setTimeout(ok, 50));
    }, run);
    const before = await stats(page);
    // The page's own code fails (a script the test injects is "muted", and
    // a browser reports no detail of its errors, or none at all).
    await page.evaluate(() => window.misbehave());
    await until('both errors to be recorded', async () => (await stats(page)).enqueued === before.enqueued + 2, 10000);
    const first = await page.evaluate(() => window.sdk.flush());
    log('first load', JSON.stringify(first));
    await page.reload();
    await init(page, auto);
    const second = await page.evaluate(() => window.sdk.flush());
    log('after reload', JSON.stringify(second));
    if (second.queued !== 0) throw new Error('events left unsent');
    result.stats = second;
  } else if (scenario === 'settings') {
    // This script changes the gateway's settings file itself.
    const page = await open();
    await init(page, { remoteSettings: true, flushAt: 1000, flushIntervalMs: 3600000 });
    const app = process.env.SETTINGS_APP;
    Object.assign(result, await obeySettings(page, (step, toml) => writeFile(process.env.SETTINGS_FILE,
      toml ? `[apps.${app}]\n${toml}\n` : '')));
    // The drops reach the gateway in the next batch's client report.
    await page.evaluate(async (run) => { window.sdk.track('Kept', { run }); await window.sdk.flush(); }, run);
    result.metrics = await (await fetch(`${endpoint}/metrics`)).text();
  } else if (scenario === 'settings-beside-kotlin') {
    // The Kotlin test, sending for the same app, changes the settings (the
    // same steps): this page says with a file when it has done a step, and
    // the Kotlin test waits for it before its next change.
    const sync = process.env.SETTINGS_SYNC;
    const page = await open();
    await init(page, { flushAt: 1000, flushIntervalMs: 3600000 });
    try {
      const r = await obeySettings(page, (step) => writeFile(`${sync}/step-${step}`, ''));
      console.log(`web beside kotlin: sampling at 0.3: kept ${(r.often / 2000).toFixed(3)} of 2000`);
      await writeFile(`${sync}/step-3`, '');
    } catch (e) {
      await writeFile(`${sync}/failed`, String(e && e.message || e));
      throw e;
    }
  } else {
    throw new Error(`unknown scenario ${scenario}`);
  }
  console.log(`@done ${JSON.stringify(result)}`);
} catch (e) {
  console.log(`@failed ${e && e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  server.close();
  process.exit();
}
