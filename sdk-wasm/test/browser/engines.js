// The three browser engines the end-to-end scenarios run in, all Debian's
// own builds (never a downloaded browser), behind one small page interface
// so that e2e.js reads the same for each:
//   chromium  /usr/bin/chromium, headless, over CDP (puppeteer-core)
//   firefox   /usr/bin/firefox-esr, headless, over WebDriver BiDi (puppeteer-core)
//   webkit    webkit2gtk-driver's WebKitWebDriver driving MiniBrowser under
//             xvfb-run (WebKitGTK has no headless mode), over W3C WebDriver
//             (selenium-webdriver)
//
// A page: evaluate(fn, arg) runs `fn(arg)` in the page and resolves to its
// (JSON) result; reload(); close() closes the tab the way a user does, so
// `pagehide` runs. `launch(engine, log)` resolves to { open(url), close() }.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

export const ENGINES = ['chromium', 'firefox', 'webkit'];

const ready = () => window.ready === true;

export async function launch(engine, log) {
  if (engine === 'chromium' || engine === 'firefox') return puppeteer(engine, log);
  if (engine === 'webkit') return webkit();
  throw new Error(`unknown browser engine ${engine} (one of ${ENGINES.join(', ')})`);
}

async function puppeteer(engine, log) {
  const { default: pptr } = await import('puppeteer-core');
  const browser = await pptr.launch(engine === 'firefox'
    ? { browser: 'firefox', executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr', headless: true }
    : {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-quic'],
    });
  // Pages of one scenario share a profile (IndexedDB, Web Locks), as tabs do.
  const context = await browser.createBrowserContext();
  return {
    async open(url) {
      const page = await context.newPage();
      page.on('console', (m) => log('page:', m.text()));
      page.on('pageerror', (e) => log('page error:', e.message || e));
      await page.goto(url);
      await page.waitForFunction(ready);
      return {
        evaluate: (fn, arg) => page.evaluate(fn, arg),
        async reload() {
          await page.reload();
          await page.waitForFunction(ready);
        },
        close: () => page.close({ runBeforeUnload: true }),
      };
    },
    close: () => browser.close(),
  };
}

const freePort = () => new Promise((ok, fail) => {
  const s = createServer().once('error', fail).listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => ok(port));
  });
});

async function webkit() {
  const { Builder } = await import('selenium-webdriver');
  const port = await freePort();
  // Its own process group, so that close() ends Xvfb and MiniBrowser too.
  const driver = spawn('xvfb-run', ['-a', process.env.WEBKIT_WEBDRIVER || 'WebKitWebDriver', `--port=${port}`],
    { stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  const gone = new Promise((_, fail) => driver.once('exit', (c) => fail(new Error(`WebKitWebDriver exited with ${c}`))));
  gone.catch(() => {});
  const dir = process.env.WEBKIT_DIR || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1';
  let d;
  for (let tries = 0; !d; tries++) {
    try {
      d = await Promise.race([gone, new Builder().usingServer(`http://127.0.0.1:${port}`).withCapabilities({
        browserName: 'MiniBrowser',
        'webkitgtk:browserOptions': { binary: `${dir}/MiniBrowser`, args: ['--automation'] },
      }).build()]);
    } catch (e) {
      if (tries > 40) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  await d.manage().setTimeouts({ script: 600000, pageLoad: 60000 });
  // The session's first window stays open on about:blank: closing a
  // scenario's last tab must not end the browser before its beacons leave.
  const holder = await d.getWindowHandle();
  const at = (h) => d.switchTo().window(h);
  // WebDriver runs a script with its arguments; this one awaits `fn(arg)`
  // and hands back its value or its error.
  const run = (fn) => `const done = arguments[arguments.length - 1];
    Promise.resolve().then(() => (${fn})(arguments[0]))
      .then((v) => done({ v: v === undefined ? null : v }), (e) => done({ e: String((e && e.stack) || e) }));`;
  const evaluateIn = async (h, fn, arg) => {
    await at(h);
    const r = await d.executeAsyncScript(run(fn), arg === undefined ? null : arg);
    if (r && 'e' in r) throw new Error(`in the page: ${r.e}`);
    return r && r.v;
  };
  const untilReady = async (h) => {
    for (const end = Date.now() + 30000; !(await evaluateIn(h, ready));) {
      if (Date.now() > end) throw new Error('the page did not load');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    async open(url) {
      await at(holder);
      await d.switchTo().newWindow('tab');
      const h = await d.getWindowHandle();
      await d.get(url);
      await untilReady(h);
      return {
        evaluate: (fn, arg) => evaluateIn(h, fn, arg),
        async reload() {
          await at(h);
          await d.navigate().refresh();
          await untilReady(h);
        },
        async close() {
          await at(h);
          await d.close();
          await at(holder);
        },
      };
    },
    async close() {
      try { await d.quit(); } finally {
        try { process.kill(-driver.pid); } catch { /* already gone */ }
      }
    },
  };
}
