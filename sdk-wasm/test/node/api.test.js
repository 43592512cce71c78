// The JavaScript API of tributary-web on Node, against a scripted endpoint:
// option and argument errors, the request the core builds, the retry
// policy as the page sees it, consent, beacons and network hints.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tributary, TributaryError } from '../../js/node.js';
import { endpoint, env, until, sleep } from './helpers.js';

const init = (ep, opts = {}, g = env()) => Tributary.init({ writeKey: 'wk', endpoint: ep.url, storage: 'memory', ...opts }, g);

test('init refuses bad options with a TributaryError naming the option', async () => {
  const cases = [
    [{ writeKey: 'wk', endpoint: 'http://x', flushEvery: 1 }, /unknown option flushEvery/],
    [{ endpoint: 'http://x' }, /writeKey is required/],
    [{ writeKey: 'wk', endpoint: 'ftp://x' }, /endpoint "ftp:\/\/x" must be an http\(s\) URL/],
    [{ writeKey: 'wk', endpoint: 'http://x', flushAt: 0 }, /flushAt must be greater than 0/],
    [{ writeKey: 'wk', endpoint: 'http://x', maxEventBytes: 10, maxBatchBytes: 5 }, /maxEventBytes must not exceed/],
    [{ writeKey: 'wk', endpoint: 'http://x', consent: 'maybe' }, /consent must be/],
  ];
  for (const [opts, message] of cases) {
    await assert.rejects(Tributary.init({ storage: 'memory', ...opts }, env()), (e) => {
      assert.ok(e instanceof TributaryError);
      assert.equal(e.code, 'invalid_config');
      assert.match(e.message, message);
      return true;
    });
  }
});

test('events go in the Segment shape, gzipped, with the write key and an idempotency key', async () => {
  const ep = await endpoint();
  const t = await init(ep, { flushAt: 100 });
  assert.equal(t.track('Order Completed', { total: 12.5, items: [{ sku: 'a' }] }), true);
  t.identify('u1', { plan: 'pro' });
  t.page('Home', { section: 'top' });
  t.screen('Cart');
  t.group('acme', { seats: 3 });
  t.alias('u2');
  const stats = await t.flush();
  assert.equal(stats.delivered, stats.enqueued);
  assert.equal(ep.requests.length, 1);
  const [req] = ep.requests;
  assert.equal(req.url, '/v1/batch');
  assert.equal(req.headers.authorization, `Basic ${Buffer.from('wk:').toString('base64')}`);
  assert.equal(req.headers['content-encoding'], 'gzip');
  assert.match(req.headers['idempotency-key'], /^[0-9a-f-]{36}$/);
  assert.equal(req.body.context.library.name, 'tributary-web');
  const byType = Object.fromEntries(req.body.batch.filter((e) => e.event !== 'Session Started').map((e) => [e.type, e]));
  assert.deepEqual(byType.track.properties, { total: 12.5, items: [{ sku: 'a' }] });
  assert.equal(byType.track.event, 'Order Completed');
  assert.equal(byType.identify.userId, 'u1');
  assert.deepEqual(byType.identify.traits, { plan: 'pro' });
  assert.equal(byType.page.name, 'Home');
  assert.equal(byType.page.properties.section, 'top');
  assert.equal(byType.screen.name, 'Cart');
  assert.equal(byType.group.groupId, 'acme');
  assert.equal(byType.alias.previousId, 'u1');
  assert.equal(byType.alias.userId, 'u2');
  for (const e of req.body.batch) {
    assert.match(e.messageId, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    assert.equal(e.anonymousId, t.anonymousId);
    assert.ok(typeof e.sessionId === 'number');
  }
  await t.close();
  await ep.close();
});

test('bad arguments throw TributaryError invalid_argument and queue nothing', async () => {
  const ep = await endpoint();
  const t = await init(ep, { flushAt: 100 });
  const cyclic = {};
  cyclic.self = cyclic;
  for (const call of [
    () => t.track(42),
    () => t.track('x', [1, 2]),
    () => t.track('x', 'text'),
    () => t.track('x', { toJSON: () => 5 }),
    () => t.track('x', cyclic),
    () => t.track(''),
    () => t.identify(''),
    () => t.setConsent('maybe'),
  ]) {
    assert.throws(call, (e) => e instanceof TributaryError && e.code === 'invalid_argument');
  }
  assert.equal(t.stats().enqueued, 1, 'only the session start');
  await t.close();
  assert.throws(() => t.track('late'), (e) => e.code === 'closed');
  await ep.close();
});

test('a 503 with Retry-After is retried later with the same idempotency key', async () => {
  const ep = await endpoint((req, body, n) => (n === 1 ? { status: 503, headers: { 'retry-after': '1' }, body: { code: 'overloaded' } } : null));
  const t = await init(ep, { flushAt: 2 });
  t.track('a');
  t.track('b');
  await until('the retry', () => ep.requests.length === 2, 5000);
  const [first, second] = ep.requests;
  assert.equal(first.headers['idempotency-key'], second.headers['idempotency-key']);
  assert.deepEqual(first.body.batch.map((e) => e.messageId), second.body.batch.map((e) => e.messageId));
  assert.equal((await t.flush()).queued, 0);
  await t.close();
  await ep.close();
});

test('rejected events: retryable ones go again, the others are dropped and reported', async () => {
  const ep = await endpoint((req, body, n) => (n === 1 ? {
    status: 200,
    body: {
      accepted: body.batch.length - 2,
      rejected: [
        { index: 0, code: 'schema_violation', message: 'bad', retryable: false },
        { index: 1, code: 'delivery_failed', message: 'later', retryable: true },
      ],
    },
  } : null));
  const t = await init(ep, { flushAt: 3, backoffBaseMs: 10, backoffCapMs: 20 });
  t.track('x', { n: 1 });
  t.track('x', { n: 2 });
  await until('the first answer', () => t.stats().dropped.rejected_by_server === 1, 5000);
  // The retry waits out a short backoff.
  await t.flush();
  await until('the retry of the retryable event', () => ep.requests.length >= 2, 5000);
  const first = ep.requests[0].body.batch;
  const again = ep.requests[1].body.batch;
  assert.ok(again.some((e) => e.messageId === first[1].messageId), 'the retryable event is sent again');
  assert.ok(!again.some((e) => e.messageId === first[0].messageId), 'the other is not');
  assert.deepEqual(ep.requests[1].body.clientReport, { dropped: { rejected_by_server: 1 } });
  assert.equal(t.stats().dropped.rejected_by_server, 1);
  await t.close();
  await ep.close();
});

test('consent: pending keeps events, granted sends them, denied purges and stops', async () => {
  const ep = await endpoint();
  const t = await init(ep, { flushAt: 1, consent: 'pending' });
  t.track('kept');
  await sleep(100);
  assert.equal(ep.requests.length, 0);
  t.setConsent('granted');
  await until('the kept event', () => ep.events().some((e) => e.event === 'kept'));
  t.setConsent('denied');
  assert.equal(t.track('dropped'), false);
  assert.equal(t.stats().dropped.opt_out >= 1, true);
  await t.close();
  await ep.close();
});

test('a hidden page sends its queue by beacon, split under the byte budget, with the write key in the body', async () => {
  const ep = await endpoint();
  const beacons = [];
  const g = env({
    navigator: {
      sendBeacon: (url, blob) => { beacons.push({ url, blob }); return true; },
    },
  });
  const t = await init(ep, { flushAt: 1000, flushIntervalMs: 3600000, beaconBytes: 2500 }, g);
  for (let n = 0; n < 20; n++) t.track('Hidden', { n, pad: 'y'.repeat(250) });
  g.dispatchEvent(new Event('pagehide'));
  assert.ok(beacons.length > 1, `split into ${beacons.length} beacons`);
  const seen = [];
  for (const b of beacons) {
    const text = await b.blob.text();
    assert.ok(text.length <= 2500, `beacon of ${text.length} bytes`);
    assert.equal(b.blob.type, 'text/plain');
    assert.match(b.url, new RegExp(`^${ep.url}/v1/batch\\?idempotency_key=[0-9a-f-]{36}$`));
    const body = JSON.parse(text);
    assert.equal(body.writeKey, 'wk');
    seen.push(...body.batch.filter((e) => e.event === 'Hidden').map((e) => e.properties.n));
  }
  assert.deepEqual(seen.sort((a, b) => a - b), [...Array(20).keys()]);
  assert.equal(t.stats().queued, 0);
  assert.equal(ep.requests.length, 0, 'no fetch upload');
  await t.close();
  await ep.close();
});

test('while uploads fail, a hidden page keeps its events for the next visit instead of beaconing', async () => {
  const ep = await endpoint(() => ({ status: 503, body: {} }));
  let beacons = 0;
  const g = env({ navigator: { sendBeacon: () => { beacons++; return true; } } });
  const t = await init(ep, { flushAt: 1, backoffBaseMs: 60000 }, g);
  t.track('x');
  await until('a failed upload', () => ep.requests.length >= 1);
  await sleep(50);
  g.dispatchEvent(new Event('pagehide'));
  assert.equal(beacons, 0);
  assert.ok(t.stats().queued >= 1);
  await t.close();
  await ep.close();
});

test('offline stops uploads until the page is online again', async () => {
  const ep = await endpoint();
  const g = env();
  const t = await init(ep, { flushAt: 1 }, g);
  await until('the session start to go', () => ep.requests.length === 1);
  g.dispatchEvent(new Event('offline'));
  t.track('while offline');
  await sleep(100);
  assert.equal(ep.requests.length, 1);
  g.dispatchEvent(new Event('online'));
  await until('the upload after going online', () => ep.events().some((e) => e.event === 'while offline'));
  await t.close();
  await ep.close();
});

test('plugins change and drop events in order; drops are counted and reported; a throwing plugin changes nothing', async () => {
  const ep = await endpoint();
  const t = await init(ep, {
    flushAt: 100,
    plugins: [
      (e) => (e.event === 'Secret' ? null : e),
      () => { throw new Error('broken plugin'); },
    ],
  });
  t.addPlugin((e) => ({ ...e, properties: { ...e.properties, tenant: 't1' } }));
  assert.throws(() => t.addPlugin('no'), (e) => e instanceof TributaryError && e.code === 'invalid_argument');
  assert.equal(t.track('Secret', { pin: 1234 }), false);
  assert.equal(t.track('Public', { a: 1 }), true);
  const stats = await t.flush();
  assert.equal(stats.dropped.dropped_by_plugin, 1);
  const events = ep.events().filter((e) => e.type === 'track' && e.event !== 'Session Started');
  assert.deepEqual(events.map((e) => [e.event, e.properties]), [['Public', { a: 1, tenant: 't1' }]]);
  assert.deepEqual(ep.requests[0].body.clientReport, { dropped: { dropped_by_plugin: 1 } });
  await t.close();
  await ep.close();
});
