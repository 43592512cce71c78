// tributary-web, Node entry (tests, server-side rendering, scripts): reads
// the core's wasm from disk. Node has fetch and CompressionStream; it has no
// IndexedDB or localStorage unless the host provides them (globalThis), so
// by default the queue lives in memory.
import { readFileSync } from 'node:fs';
import { initSync, Core, Loader } from '../pkg/tributary_core.js';
import { Tributary as Base } from './tributary.js';

let ready = false;

/** The web SDK (see tributary.js); reads its wasm from the package folder. */
export class Tributary extends Base {
  static async loadWasm() {
    if (!ready) {
      initSync({ module: readFileSync(new URL('../pkg/tributary_core_bg.wasm', import.meta.url)) });
      ready = true;
    }
    return { Core, Loader };
  }
}

export { TributaryError, VERSION } from './tributary.js';
