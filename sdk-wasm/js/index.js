// tributary-web, browser and bundler entry: fetches and compiles the core's
// wasm (next to this module) on first use.
import init, { Core, Loader } from '../pkg/tributary_core.js';
import { Tributary as Base } from './tributary.js';

let ready;

/** The web SDK (see tributary.js); loads its wasm with `fetch` next to this module. */
export class Tributary extends Base {
  static loadWasm() {
    ready = ready || init({ module_or_path: new URL('../pkg/tributary_core_bg.wasm', import.meta.url) });
    return ready.then(() => ({ Core, Loader }));
  }
}

export { TributaryError, VERSION } from './tributary.js';
