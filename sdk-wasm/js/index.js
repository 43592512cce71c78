// tributary-web, browser and bundler entry: fetches and compiles the core's
// wasm (next to this module) on first use.
import init, { Core, Loader } from '../pkg/tributary_core.js';
import { useWasm } from './tributary.js';

let ready;
useWasm(() => {
  ready = ready || init({ module_or_path: new URL('../pkg/tributary_core_bg.wasm', import.meta.url) });
  return ready.then(() => ({ Core, Loader }));
});

export { Tributary, TributaryError, VERSION } from './tributary.js';
