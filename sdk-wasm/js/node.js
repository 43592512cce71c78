// tributary-web, Node entry (tests, server-side rendering, scripts): reads
// the core's wasm from disk. Node has fetch and CompressionStream; it has no
// IndexedDB or localStorage unless the host provides them (globalThis), so
// by default the queue lives in memory.
import { readFileSync } from 'node:fs';
import { initSync, Core, Loader } from '../pkg/tributary_core.js';
import { useWasm } from './tributary.js';

let ready = false;
useWasm(async () => {
  if (!ready) {
    initSync({ module: readFileSync(new URL('../pkg/tributary_core_bg.wasm', import.meta.url)) });
    ready = true;
  }
  return { Core, Loader };
});

export { Tributary, TributaryError, VERSION } from './tributary.js';
