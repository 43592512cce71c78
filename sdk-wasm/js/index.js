// tributary-web, browser and bundler entry: fetches and compiles the core's
// wasm (in pkg/, beside dist/) on first use: tributary_core_full.wasm when
// the page asks for automatic capture, tributary_core_debug.wasm for
// `debug`, else the smaller tributary_core.wasm.
import { bind } from './core.js';
import { Tributary as Base } from './tributary.js';

const ready = {};

/** The web SDK (see tributary.js); loads its wasm with `fetch`. */
export class Tributary extends Base {
  static loadWasm(build = '') {
    const file = `../pkg/tributary_core${build}.wasm`;
    ready[file] = ready[file] || fetch(new URL(file, import.meta.url))
      .then((r) => {
        if (!r.ok) throw new Error(`tributary-web: loading its wasm answered ${r.status}`);
        return r.arrayBuffer();
      })
      .then(bind)
      .catch((e) => { ready[file] = null; throw e; });
    return ready[file];
  }
}

export { TributaryError, VERSION } from './tributary.js';
