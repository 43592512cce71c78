// Automatic capture on a page, loaded only when `autoCapture` asks for it
// (with the core build that has sdk-core's auto-capture): it reports what
// happened (the page opened, the route changed, the tab was hidden or shown
// again, an error escaped) and the core decides what each becomes, as it
// does for the Kotlin and Swift SDKs (sdk-core/src/autocapture.rs).

// Core.record kinds (sdk-wasm/src/lib.rs).
const PAGE_VIEW = 7, FOREGROUNDED = 8, BACKGROUNDED = 9;

/** Starts capturing for `sdk` (a Tributary) on the page `g`. */
export function start(sdk, g) {
  const { o } = sdk, l = g.location, d = g.document;
  sdk.report((c, now) => c.app_opened(o.appVersion || '', o.appBuild || '', l ? l.href : '', d ? d.referrer : '', now));

  // One page view per distinct URL: the load, then each route change of a
  // single-page app (History API, back and forward, hash routes).
  let at = '';
  const view = () => {
    if (!l || l.href === at) return;
    at = l.href;
    const info = sdk.here();
    sdk.report((c, now) => c.record(PAGE_VIEW, '', JSON.stringify(info), now));
  };
  view();
  const h = g.history;
  for (const m of ['pushState', 'replaceState']) {
    const f = h && h[m];
    if (typeof f !== 'function') continue;
    // Left in place after close() (report() does nothing then): restoring
    // would undo a router's own wrapper installed after this one.
    h[m] = function tracked(...args) {
      const r = f.apply(this, args);
      view();
      return r;
    };
  }
  sdk.on(g, 'popstate', view);
  sdk.on(g, 'hashchange', view);

  // Errors that reached the page's top level; the page lives on (not fatal).
  const fault = (x, message, source) => sdk.report((c, now) => c.crash(
    String((x && x.name) || 'Error'), String((x && x.message) || message || x || ''),
    String((x && x.stack) || ''), source, now));
  sdk.on(g, 'error', (e) => fault(e.error, e.message, 'error'));
  sdk.on(g, 'unhandledrejection', (e) => fault(e.reason, '', 'unhandledrejection'));

  sdk.onVisibility = (hidden) => sdk.report((c, now) => c.record(hidden ? BACKGROUNDED : FOREGROUNDED, '', '', now));
}
