// tributary-web, browser and bundler entry: fetches and compiles the core's
// wasm (next to this module) on first use.
import { bind } from './core.js';
import { Tributary as Base } from './tributary.js';

let ready;

/** The web SDK (see tributary.js); loads its wasm with `fetch` next to this module. */
export class Tributary extends Base {
  static loadWasm() {
    ready = ready || fetch(new URL('../pkg/tributary_core.wasm', import.meta.url))
      .then((r) => {
        if (!r.ok) throw new Error(`tributary-web: loading its wasm answered ${r.status}`);
        return r.arrayBuffer();
      })
      .then(bind)
      .catch((e) => { ready = null; throw e; });
    return ready;
  }
}

export { TributaryError, VERSION } from './tributary.js';
