// The gateway's live event debugger in headless Chromium (run by
// tests/gateway_debugger.rs): opens /debug with the admin token (HTTP
// Basic, as a browser prompts for it), watches a write key, then sends a
// batch of two events — one valid, one violating its schema — and waits
// for both rows, at most a second. Prints `@done {json}` with what the
// rows show and how long they took; with $SCREENSHOT, saves the page there.
//
//   node debugger.mjs <gateway-url> <admin-token> <write-key>

import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [gateway, token, writeKey] = process.argv.slice(2);
// puppeteer-core is one of the web SDK's test tools (sdk-wasm/package.json).
const resolve = createRequire(new URL('../../sdk-wasm/package.json', import.meta.url)).resolve;
const { default: puppeteer } = await import(pathToFileURL(resolve('puppeteer-core')).href);

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 640 });
  page.on('console', (m) => console.error('[debugger page]', m.text()));
  await page.authenticate({ username: 'developer', password: token });
  await page.goto(`${gateway}/debug?writeKey=${writeKey}`);
  await page.waitForSelector('body[data-state="live"]', { timeout: 10000 });

  const events = [
    { type: 'track', event: 'Order Completed', messageId: 'dbg-valid', anonymousId: 'anon-1',
      properties: { orderId: 'o-1', total: 42.5, currency: 'EUR', contact: 'ada@example.com' } },
    { type: 'track', event: 'Order Completed', messageId: 'dbg-invalid', anonymousId: 'anon-1',
      properties: { orderId: 'o-2', total: 'forty-two' } },
  ];
  const sent = Date.now();
  const answer = await fetch(`${gateway}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
    body: JSON.stringify({ batch: events }),
  });
  const body = await answer.json();
  await page.waitForFunction(() => document.querySelector('tr[data-outcome="accepted"]')
    && document.querySelector('tr[data-outcome="rejected"]'), { timeout: 1000, polling: 'mutation' });
  const shownMs = Date.now() - sent;
  const rows = await page.evaluate(() => [...document.querySelectorAll('#rows tr')].map((tr) => ({
    outcome: tr.dataset.outcome,
    code: tr.dataset.code || null,
    pointer: tr.dataset.pointer || null,
    text: tr.innerText,
    details: [...tr.querySelectorAll('pre')].map((p) => p.textContent),
  })));
  // Open the accepted row's value and the rejection, for the screenshot.
  await page.evaluate(() => { const d = document.querySelector('tr[data-outcome="accepted"] details'); if (d) d.open = true; });
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
  console.log(`@done ${JSON.stringify({ status: answer.status, body, shownMs, rows })}`);
} catch (e) {
  console.log(`@failed ${e && e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
