// Types of tributary-web (both entries: browsers and Node).

/** A JSON value, as properties and traits may hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue | undefined };

/** Properties of an event, or traits of a user or group: a plain object. */
export type Properties = { [key: string]: JsonValue | undefined };

/** Whether the user allows collection. */
export type Consent = 'granted' | 'pending' | 'denied';

/** Why events were dropped instead of delivered. */
export type DropReason = 'queue_full' | 'too_old' | 'too_large' | 'rejected_by_server' | 'opt_out' | 'corrupt'
  | 'disabled_by_server' | 'sampled_out' | 'dropped_by_plugin';

/** What a before-send plugin sees: the event as the page passed it. */
export interface PluginEvent {
  type: 'track' | 'identify' | 'page' | 'screen' | 'group' | 'alias';
  /** Event name (`track`). */
  event?: string;
  /** Page or screen name, user id (`identify`), group id (`group`), new user id (`alias`). */
  name?: string;
  properties?: Properties;
  traits?: Properties;
}

/** Returns the event to keep (changed or not), or null to drop it (counted as `dropped_by_plugin`). */
export type Plugin = (event: PluginEvent) => PluginEvent | null | undefined;

export interface TributaryOptions {
  /** The app's write key. Required. */
  writeKey: string;
  /** Gateway base URL, e.g. `https://events.example.com`. Required. */
  endpoint: string;
  /** Where the queue lives: `'auto'` (IndexedDB, else localStorage, else memory; default), or one of them. */
  storage?: 'auto' | 'indexeddb' | 'localstorage' | 'memory';
  /** Send once this many events are queued. Default 20. */
  flushAt?: number;
  /** Send once the oldest queued event is this old, ms. Default 30000. */
  flushIntervalMs?: number;
  /** Most events kept on the device. Default 10000. */
  maxQueueEvents?: number;
  /** Most bytes of events kept on the device. Default 5 MiB. */
  maxQueueBytes?: number;
  /** Largest single event (JSON bytes); larger ones are dropped (`too_large`). Default 32768. */
  maxEventBytes?: number;
  /** Most events per request. Default 100. */
  maxBatchEvents?: number;
  /** Most uncompressed bytes per request. Default 512 KiB. */
  maxBatchBytes?: number;
  /** Events older than this are dropped (`too_old`), ms. Default 7 days. */
  maxEventAgeMs?: number;
  /** First retry delay, ms; doubles per failure, with full jitter. Default 1000. */
  backoffBaseMs?: number;
  /** Longest retry delay, ms. Default 300000. */
  backoffCapMs?: number;
  /** Inactivity after which a new session starts, ms. Default 30 min. */
  sessionTimeoutMs?: number;
  /** Share of devices that send non-health events, 0–1, decided per device. Default 1. */
  sampleRate?: number;
  /** Initial consent. Default `'granted'`. */
  consent?: Consent;
  /** Gzip request bodies with CompressionStream where the browser has it. Default true. */
  compress?: boolean;
  /** Request timeout, ms. Default 10000. */
  timeoutMs?: number;
  /** Largest beacon body on page hide, bytes (browsers allow about 64 KiB in flight). Default 60000. */
  beaconBytes?: number;
  /** Extra fields merged into the context sent with every batch. */
  context?: Properties;
  /** Called with storage errors the SDK recovered from (the queue keeps working in memory). */
  onError?: (error: TributaryError) => void;
  /** Before-send plugins, run in order on every recorded event. */
  plugins?: Plugin[];
  /**
   * What the SDK records on its own: `true` for all, or some of them. Off by
   * default; turning any on loads the larger core (about 4 KB more, gzipped).
   * `lifecycle`: `Application Installed`/`Updated`/`Opened` (cold, or warm on
   * a reload) at load, `Application Backgrounded`/`Foregrounded` as the tab
   * is hidden and shown; `screens`: a page view at load and on every route
   * change (History API, back/forward, hash routes); `errors`: uncaught
   * errors and unhandled rejections as `Application Crashed` (`fatal:
   * false`, with a stack hash); `attribution`: the landing URL's `utm_*`
   * parameters as `context.campaign` on the next event. The server's
   * settings can turn each off.
   */
  autoCapture?: boolean | Partial<Record<'lifecycle' | 'screens' | 'errors' | 'attribution', boolean>>;
  /**
   * Fetch and obey the gateway's settings for this write key (`GET
   * /v1/settings`: kill switch, per-event switches and sampling, batching,
   * auto-capture toggles), learning of changes from upload answers.
   * Default true.
   */
  remoteSettings?: boolean;
  /**
   * Log each decision (queued, dropped and why, batch sent, answer) with
   * `console.debug`, while developing. Loads a larger build of the core
   * (`pkg/tributary_core_debug.wasm`). Default false.
   */
  debug?: boolean;
  /** The app's version, for lifecycle and crash events. */
  appVersion?: string;
  /** The app's build, for lifecycle and crash events. */
  appBuild?: string;
}

export interface TributaryStats {
  /** Events accepted into the queue since start. */
  enqueued: number;
  /** Events the gateway took (or handed to a beacon) since start. */
  delivered: number;
  /** Events dropped since start, by reason. */
  dropped: Partial<Record<DropReason, number>>;
  /** All drops. */
  droppedTotal: number;
  /** Upload requests made since start. */
  requests: number;
  /** Events queued now. */
  queued: number;
  /** Bytes queued now. */
  queuedBytes: number;
  /** The device's anonymous id. */
  anonymousId: string;
  /** The identified user, if any. */
  userId: string | null;
  /** Version of the server settings in force, or null. */
  settingsVersion: string | null;
  /** Nothing queued and nothing in flight. */
  idle: boolean;
  /** Where the queue lives. */
  storage: 'indexeddb' | 'localstorage' | 'memory';
}

/** An error from the SDK. */
export class TributaryError extends Error {
  readonly name: 'TributaryError';
  /** `invalid_config` (init), `invalid_argument` (a call), `storage`, `closed`. */
  readonly code: 'invalid_config' | 'invalid_argument' | 'storage' | 'closed';
}

/** The web SDK. */
export class Tributary {
  /** Loads the core, opens the page's queue and starts delivering. Rejects with `invalid_config` naming a bad option. */
  static init(options: TributaryOptions): Promise<Tributary>;
  /** Records a user action. Returns false if the event was dropped (see `stats().dropped`). */
  track(event: string, properties?: Properties): boolean;
  /** Ties this device to a user, with traits. */
  identify(userId: string, traits?: Properties): boolean;
  /** Records a page view; url, path, title, referrer and search default to the current page's. */
  page(name?: string, properties?: Properties): boolean;
  /** Records a screen view. */
  screen(name: string, properties?: Properties): boolean;
  /** Ties the user to a group (account), with traits. */
  group(groupId: string, traits?: Properties): boolean;
  /** Merges the current identity into `userId`. */
  alias(userId: string): boolean;
  /** Adds a before-send plugin at the end of the chain. */
  addPlugin(plugin: Plugin): void;
  /** Forgets the user (logout): new anonymous id and session. */
  reset(): void;
  /** Sets consent: `'pending'` keeps events without sending, `'denied'` purges and stops. */
  setConsent(consent: Consent): void;
  /** Sends what is queued now; resolves once the queue is empty or the retry policy says wait. */
  flush(): Promise<TributaryStats>;
  /** Resolves once every change so far is in the store. */
  saved(): Promise<void>;
  /** Counters and queue size. */
  stats(): TributaryStats;
  /** The device's anonymous id. */
  readonly anonymousId: string;
  /** The identified user, or null. */
  readonly userId: string | null;
  /** Stops timers and listeners and closes the store; queued events stay stored for the next visit. */
  close(): Promise<void>;
}

/** The package version. */
export const VERSION: string;
