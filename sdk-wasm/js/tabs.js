// Sharing one origin's storage between tabs, with the Web Locks API.
//
// Each tab owns one partition of the store (its own queue) and holds the
// lock `<name>:part:<id>` for as long as it lives; the browser releases it
// when the tab closes or crashes. A partition whose lock is free belongs to
// no one: another tab adopts it and delivers its events (see
// tributary.js). A tab keeps its partition id in sessionStorage, so a reload
// continues the same queue — with the same in-flight batch and idempotency
// key. Uploads from all tabs go one at a time under `<name>:upload`.
//
// Without Web Locks (old browsers, Node) there is one partition and no
// adoption: a second tab would share it unsafely, so each such page uses a
// fresh id and only its own events.

const rand = () => Math.random().toString(36).slice(2, 10);

/** Partition ownership and the upload lock for store `name`. */
export function tabs(name, g = globalThis) {
  const locks = g.navigator && g.navigator.locks;
  const lockName = (p) => `${name}:part:${p}`;
  // Held until the page goes away: the promise never settles.
  const hold = (p, opts) => new Promise((held) => {
    locks.request(lockName(p), opts, (lock) => { held(!!lock); return lock ? new Promise(() => {}) : undefined; })
      .catch(() => held(false));
  });
  return {
    /** Claims this tab's partition: the one it had before a reload if free, else a new one. */
    async claim() {
      if (!locks) return 'main';
      const key = `${name}:tab`;
      let id;
      try { id = g.sessionStorage.getItem(key); } catch { /* no sessionStorage */ }
      if (!id || !(await hold(id, { ifAvailable: true }))) {
        id = rand();
        await hold(id, {});
      }
      try { g.sessionStorage.setItem(key, id); } catch { /* no sessionStorage */ }
      return id;
    },
    /**
     * Tries to take over partition `p`. Resolves to a release function once
     * the lock is ours, or null if another live tab holds it.
     */
    async adopt(p) {
      if (!locks) return null;
      return new Promise((resolve) => {
        locks.request(lockName(p), { ifAvailable: true }, (lock) => {
          if (!lock) { resolve(null); return undefined; }
          return new Promise((release) => resolve(release));
        }).catch(() => resolve(null));
      });
    },
    /** Runs `fn` while no other tab of this origin is uploading. */
    upload(fn) {
      return locks ? locks.request(`${name}:upload`, fn) : fn();
    },
  };
}
