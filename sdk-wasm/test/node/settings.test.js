// Server-driven settings on the web, against a scripted endpoint: the
// fetch the core asks for, the kill switch, sampling, a change learnt from
// an ingest answer's settingsVersion, and settings kept for the next visit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tributary } from '../../js/node.js';
import { endpoint, env, until, fakeLocalStorage } from './helpers.js';

const init = (ep, opts = {}, g = env()) => Tributary.init({ writeKey: 'wk', endpoint: ep.url, storage: 'memory', remoteSettings: true, ...opts }, g);

test('the kill switch stops recording and sending', async () => {
  const ep = await endpoint(undefined, () => ({ status: 200, body: { version: 'off', enabled: false, ttlSecs: 3600 } }));
  const t = await init(ep, { flushAt: 100 });
  await until('the settings fetch', () => t.stats().settingsVersion === 'off', 5000);
  assert.equal(ep.fetches[0].headers.authorization, `Basic ${Buffer.from('wk:').toString('base64')}`);
  for (let i = 0; i < 10; i++) assert.equal(t.track('Tapped', { i }), false);
  assert.equal(t.stats().dropped.disabled_by_server, 10);
  await t.flush();
  assert.equal(ep.requests.length, 0, 'nothing is sent while the switch is off');
  await t.close();

  await ep.close();
});

test('a change learnt from an ingest answer is fetched at once (If-None-Match) and applied: sampling', async () => {
  let current = { version: 'v1', enabled: true, ttlSecs: 3600 };
  const ep = await endpoint(
    (req, body) => ({ status: 200, body: { accepted: body.batch.length, rejected: [], settingsVersion: current.version } }),
    () => ({ status: 200, body: current }),
  );
  const u = await init(ep, { flushAt: 100 });
  await until('the settings fetch', () => u.stats().settingsVersion === 'v1', 5000);
  assert.equal(u.track('Scrolled'), true);
  current = { version: 'v2', enabled: true, sampleRates: { Scrolled: 0 }, ttlSecs: 3600 };
  await u.flush();
  await until('the refetch', () => u.stats().settingsVersion === 'v2', 5000);
  assert.equal(ep.fetches[1].headers['if-none-match'], '"v1"');
  for (let i = 0; i < 5; i++) assert.equal(u.track('Scrolled'), false);
  assert.equal(u.track('Tapped'), true);
  const stats = await u.flush();
  assert.equal(stats.dropped.sampled_out, 5);
  assert.deepEqual(ep.events().map((e) => e.event).filter((n) => n !== 'Session Started'), ['Scrolled', 'Tapped']);
  assert.equal(ep.requests[1].body.context.settingsVersion, 'v2', 'the batch names the settings it was sampled under');
  assert.deepEqual(ep.requests[1].body.clientReport, { dropped: { sampled_out: 5 } });
  await u.close();
  await ep.close();
});

test('settings are kept for the next visit and obeyed there before any fetch', async () => {
  const g = env({ localStorage: fakeLocalStorage() });
  const ep = await endpoint(undefined, (req, n) => (n === 1
    ? { status: 200, body: { version: 'v7', enabled: true, disabledEvents: ['Debug'], ttlSecs: 60 } }
    : { status: 304 }));
  const t = await init(ep, { storage: 'localstorage', flushAt: 100 }, g);
  await until('the settings fetch', () => t.stats().settingsVersion === 'v7', 5000);
  await t.close();
  // The next visit obeys them before any fetch.
  const u = await init(ep, { storage: 'localstorage', flushAt: 100 }, g);
  assert.equal(u.stats().settingsVersion, 'v7');
  assert.equal(u.track('Debug'), false);
  assert.equal(u.stats().dropped.disabled_by_server, 1);
  await u.close();
  assert.equal(ep.fetches.length, 1, 'within their TTL nothing is fetched again');
  await ep.close();
});

test('settings are on by default; remoteSettings: false never fetches them', async () => {
  const ep = await endpoint();
  const t = await Tributary.init({ writeKey: 'wk', endpoint: ep.url, storage: 'memory' }, env());
  await until('the settings fetch', () => t.stats().settingsVersion === 's0', 5000);
  await t.close();
  const off = await Tributary.init({ writeKey: 'wk', endpoint: ep.url, storage: 'memory', remoteSettings: false }, env());
  assert.equal(off.track('Tapped'), true);
  const stats = await off.flush();
  assert.equal(ep.fetches.length, 1, 'only the first instance fetched');
  assert.equal(stats.settingsVersion, null);
  assert.deepEqual(ep.events().map((e) => e.event), ['Session Started', 'Tapped']);
  await off.close();
  await ep.close();
});

test('autoCapture and remoteSettings are checked', async () => {
  const bad = (o, re) => assert.rejects(Tributary.init({ writeKey: 'wk', endpoint: 'http://x', storage: 'memory', ...o }, env()),
    (e) => e.code === 'invalid_config' && re.test(e.message));
  await bad({ autoCapture: { clicks: true } }, /autoCapture must be true, false or an object of booleans among lifecycle/);
  await bad({ autoCapture: 'yes' }, /autoCapture/);
  await bad({ remoteSettings: 1 }, /remoteSettings must be a boolean/);
  await bad({ appVersion: 2 }, /appVersion must be a string/);
});

test('debug mode logs each decision to the console', async () => {
  const ep = await endpoint();
  const lines = [];
  const original = console.debug;
  console.debug = (...a) => lines.push(a.join(' '));
  try {
    const t = await init(ep, { debug: true, flushAt: 100, remoteSettings: false, maxQueueEvents: 3 });
    for (let i = 0; i < 5; i++) t.track('Debugged', { i });
    await t.flush();
    await t.close();
  } finally {
    console.debug = original;
  }
  const log = lines.join('\n');
  for (const want of ['Tributary: queued "Debugged"', 'dropped 1 queued event(s): queue_full', 'sending batch ', 'answer to batch ', 'delivered, 0 to retry']) {
    assert.ok(log.includes(want), `missing ${want} in\n${log}`);
  }
  await ep.close();
});
