// tributary-web, Node entry (tests, server-side rendering, scripts): reads
// the core's wasm from disk. Node has fetch and CompressionStream; it has no
// IndexedDB or localStorage unless the host provides them (globalThis), so
// by default the queue lives in memory.
import { readFileSync } from 'node:fs';
import { bind } from './core.js';
import { Tributary as Base } from './tributary.js';

let ready;

/** The web SDK (see tributary.js); reads its wasm from the package folder. */
export class Tributary extends Base {
  static loadWasm() {
    ready = ready || bind(readFileSync(new URL('../pkg/tributary_core.wasm', import.meta.url)));
    return ready;
  }
}

export { TributaryError, VERSION } from './tributary.js';
