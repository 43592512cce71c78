// tributary-web, Node entry (tests, server-side rendering, scripts): reads
// the core's wasm from disk. Node has fetch and CompressionStream; it has no
// IndexedDB or localStorage unless the host provides them (globalThis), so
// by default the queue lives in memory.
import { readFileSync } from 'node:fs';
import { bind } from './core.js';
import { Tributary as Base } from './tributary.js';

const ready = {};

/** The web SDK (see tributary.js); reads its wasm from the package folder (index.js says which). */
export class Tributary extends Base {
  static loadWasm(build = '') {
    const file = `../pkg/tributary_core${build}.wasm`;
    ready[file] = ready[file] || bind(readFileSync(new URL(file, import.meta.url)));
    return ready[file];
  }
}

export { TributaryError, VERSION } from './tributary.js';
