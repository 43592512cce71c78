// The persistence layer of tributary-web on Node: IndexedDB (fake-indexeddb,
// an implementation of the spec for Node; real IndexedDB is exercised in
// Chromium by tests/web_sdk.rs), the localStorage fallback, quota errors
// and damaged records.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { Tributary } from '../../js/node.js';
import { endpoint, env, fakeLocalStorage, until } from './helpers.js';

test('IndexedDB: the queue and the batch in flight survive a restart, with the same idempotency key', async () => {
  const idb = { indexedDB: new IDBFactory(), IDBKeyRange };
  const down = await endpoint(() => ({ status: 503, body: {} }));
  const a = await Tributary.init({ writeKey: 'wk', endpoint: down.url, flushAt: 3, backoffBaseMs: 60000 }, env(idb));
  assert.equal(a.stats().storage, 'indexeddb');
  const anon = a.anonymousId;
  for (let n = 0; n < 5; n++) a.track('Kept', { n });
  await until('a failed upload', () => down.requests.length === 1);
  const key = down.requests[0].headers['idempotency-key'];
  const inFlight = down.requests[0].body.batch.map((e) => e.messageId);
  await a.close();
  await down.close();

  const up = await endpoint();
  const b = await Tributary.init({ writeKey: 'wk', endpoint: up.url, flushAt: 3 }, env(idb));
  assert.equal(b.anonymousId, anon, 'the device keeps its anonymous id');
  assert.equal(b.stats().queued, 6);
  await b.flush();
  await until('delivery', () => b.stats().queued === 0);
  assert.equal(up.requests[0].headers['idempotency-key'], key, 'the batch in flight is resent under its key');
  assert.deepEqual(up.requests[0].body.batch.map((e) => e.messageId), inFlight);
  const kept = up.events().filter((e) => e.event === 'Kept').map((e) => e.properties.n).sort();
  assert.deepEqual(kept, [0, 1, 2, 3, 4]);
  await b.close();

  // Nothing left to send on the next start.
  const c = await Tributary.init({ writeKey: 'wk', endpoint: up.url }, env(idb));
  assert.equal(c.stats().queued, 0);
  await c.close();
  await up.close();
});

test('localStorage is the fallback where IndexedDB is missing, and also survives a restart', async () => {
  const ls = fakeLocalStorage();
  const ep = await endpoint();
  const a = await Tributary.init({ writeKey: 'wk', endpoint: ep.url, flushAt: 100 }, env({ localStorage: ls }));
  assert.equal(a.stats().storage, 'localstorage');
  a.track('Stored', { n: 1 });
  a.identify('u9');
  await a.close();
  assert.ok([...ls.map.keys()].some((k) => k.startsWith('tributary:wk:main:')));
  const b = await Tributary.init({ writeKey: 'wk', endpoint: ep.url, flushAt: 100 }, env({ localStorage: ls }));
  assert.equal(b.userId, 'u9');
  await b.flush();
  assert.ok(ep.events().some((e) => e.event === 'Stored' && e.properties.n === 1));
  await b.close();
  assert.deepEqual([...ls.map.keys()].filter((k) => /:main:\d+$/.test(k)), [], 'delivered events leave the store');
  await ep.close();
});

test('out of quota: the oldest events are evicted, counted as queue_full and reported', async () => {
  const ls = fakeLocalStorage(8000);
  const ep = await endpoint();
  const errors = [];
  const t = await Tributary.init({ writeKey: 'wk', endpoint: ep.url, flushAt: 1000, onError: (e) => errors.push(e) }, env({ localStorage: ls }));
  for (let n = 0; n < 40; n++) t.track('Big', { n, pad: 'z'.repeat(300) });
  await t.saved();
  const s = t.stats();
  assert.ok(s.dropped.queue_full > 0, JSON.stringify(s));
  assert.equal(s.enqueued, s.queued + s.droppedTotal);
  assert.deepEqual(errors, []);
  await t.flush();
  const sent = ep.events().filter((e) => e.event === 'Big').map((e) => e.properties.n);
  assert.equal(sent.length, s.queued - 1, 'what was kept is delivered');
  assert.ok(sent.includes(39), 'the newest events are kept');
  assert.equal(ep.requests[0].body.clientReport.dropped.queue_full, s.dropped.queue_full);
  await t.close();
  await ep.close();
});

test('a damaged stored event is counted as corrupt and removed', async () => {
  const ls = fakeLocalStorage();
  const ep = await endpoint();
  const a = await Tributary.init({ writeKey: 'wk', endpoint: ep.url, flushAt: 100 }, env({ localStorage: ls }));
  a.track('Good');
  await a.close();
  ls.setItem('tributary:wk:main:999', JSON.stringify([Date.now(), 0, '{"type":"track",']));
  const b = await Tributary.init({ writeKey: 'wk', endpoint: ep.url, flushAt: 100 }, env({ localStorage: ls }));
  assert.equal(b.stats().dropped.corrupt, 1);
  await b.flush();
  assert.equal(ls.getItem('tributary:wk:main:999'), null);
  assert.ok(ep.events().some((e) => e.event === 'Good'));
  assert.equal(ep.requests[0].body.clientReport.dropped.corrupt, 1);
  await b.close();
  await ep.close();
});

test('without any storage the queue lives in memory', async () => {
  const ep = await endpoint();
  const t = await Tributary.init({ writeKey: 'wk', endpoint: ep.url }, env());
  assert.equal(t.stats().storage, 'memory');
  t.track('x');
  await t.flush();
  assert.ok(ep.events().some((e) => e.event === 'x'));
  await t.close();
  await ep.close();
});
