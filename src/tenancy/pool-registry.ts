import type { Logger } from "pino";
import type { Database } from "../db/database.js";
import type { TenantConfig } from "./tenant-config.js";

/** One tenant's connection pool, as the registry sees it (tenant-pool.ts builds the real one). */
export interface TenantPool {
  db: Database;
  /** Cheap round trip, used before a replacement pool takes over. */
  ping(): Promise<void>;
  /** Closes the pool, letting running queries finish for up to `timeoutSec`. */
  end(timeoutSec: number): Promise<void>;
}

export type PoolFactory = (config: TenantConfig) => TenantPool;

/** A request's hold on a tenant pool: the pool is never closed while a lease is out. */
export interface PoolLease {
  db: Database;
  /** The configuration the leased pool was built from (may be older than the caller's). */
  config: TenantConfig;
  /** Idempotent. The pool becomes idle (and evictable) when its last lease is released. */
  release(): void;
}

export interface RegistryStats {
  /** Live pools (one per tenant at most). */
  pools: number;
  /** Highest number of live pools seen. */
  peakPools: number;
  /** Leases out across live and draining pools. */
  inFlight: number;
  /** Retired pools still waiting for their leases or for `end()`. */
  draining: number;
  /** Pools being opened and pinged for a changed configuration, not yet swapped in. */
  opening: number;
  /** Tenants with a live pool. */
  tenants: string[];
  created: number;
  /** Closed for being idle (sweep or cap pressure). */
  evicted: number;
  /** Closed because the tenant's configuration changed. */
  replaced: number;
  /** Closed on request (suspended, unknown, shutdown). */
  removed: number;
}

export interface PoolRegistryOptions {
  /** MULTI_TENANT_MAX_TENANT_POOLS: soft cap on live pools. */
  maxPools: number;
  /** MULTI_TENANT_IDLE_TIMEOUT_SEC in ms: only pools idle at least this long are evicted. */
  idleTimeoutMs: number;
  factory: PoolFactory;
  /** A retired pool still leased after this long is closed anyway (a stuck request). */
  drainTimeoutMs?: number;
  logger?: Logger;
  now?: () => number;
}

export interface PoolRegistry {
  /**
   * A lease on the tenant's pool, creating it from `config` if there is none (synchronously, so
   * two concurrent requests can never create two pools for one tenant). An existing pool is
   * leased even if `config` differs: pools are swapped only by replace(), which checks that the
   * new one connects first (the lease's `config` tells the caller whether to ask for that).
   */
  acquire(config: TenantConfig): PoolLease;
  /**
   * Builds and pings a pool for a changed configuration, then swaps it in and drains the old
   * one. If the new pool cannot connect the old one is kept and the error is thrown.
   */
  replace(config: TenantConfig): Promise<void>;
  /** Takes the tenant's pool out of service; resolves when it is closed (after its leases). */
  remove(tenantId: string, reason: string): Promise<void>;
  /** Evicts every pool idle longer than the idle timeout; returns how many. */
  sweep(): number;
  /** The configuration each live pool was built from, for revalidation. */
  configs(): TenantConfig[];
  /** The configuration of the tenant's live pool, if it has one. */
  configOf(tenantId: string): TenantConfig | undefined;
  stats(): RegistryStats;
  /** Closes everything (shutdown). */
  close(): Promise<void>;
}

interface Entry {
  tenantId: string;
  config: TenantConfig;
  pool: TenantPool;
  inFlight: number;
  lastUsed: number;
  retired: boolean;
  closed: Promise<void> | undefined;
  drainTimer: NodeJS.Timeout | undefined;
  whenClosed: { promise: Promise<void>; resolve: () => void };
}

const END_TIMEOUT_SEC = 5;

/**
 * One small pool per active tenant with a soft cap. lru-cache would close the least recent pool
 * the moment the cap is reached, busy or not; here a pool is closed only when it has no lease
 * out, and for idleness only after MULTI_TENANT_IDLE_TIMEOUT_SEC without one. When the cap is
 * reached and every pool is busy the registry grows past it rather than fail requests; the
 * periodic sweep shrinks it again.
 */
export function createPoolRegistry(opts: PoolRegistryOptions): PoolRegistry {
  const now = opts.now ?? Date.now;
  const drainTimeoutMs = opts.drainTimeoutMs ?? 60_000;
  const live = new Map<string, Entry>();
  const draining = new Set<Entry>();
  let opening = 0;
  const counters = { created: 0, evicted: 0, replaced: 0, removed: 0, peakPools: 0 };

  function create(config: TenantConfig, pool = opts.factory(config)): Entry {
    let resolve: () => void = () => {};
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    const entry: Entry = {
      tenantId: config.tenantId,
      config,
      pool,
      inFlight: 0,
      lastUsed: now(),
      retired: false,
      closed: undefined,
      drainTimer: undefined,
      whenClosed: { promise, resolve },
    };
    live.set(config.tenantId, entry);
    counters.created++;
    counters.peakPools = Math.max(counters.peakPools, live.size);
    return entry;
  }

  /** Ends the pool once; `sql.end` lets queries already running finish within the timeout. */
  function finish(entry: Entry): Promise<void> {
    if (!entry.closed) {
      clearTimeout(entry.drainTimer);
      entry.closed = entry.pool
        .end(END_TIMEOUT_SEC)
        .catch((err: unknown) =>
          opts.logger?.warn(
            { tenantId: entry.tenantId, err: (err as Error).message },
            "tenant pool close failed",
          ),
        )
        .finally(() => {
          draining.delete(entry);
          entry.whenClosed.resolve();
        });
    }
    return entry.whenClosed.promise;
  }

  /** Out of service now; closed as soon as its last lease is released (or the drain timeout). */
  function retire(entry: Entry, reason: string): Promise<void> {
    if (live.get(entry.tenantId) === entry) live.delete(entry.tenantId);
    if (entry.retired) return entry.whenClosed.promise;
    entry.retired = true;
    draining.add(entry);
    opts.logger?.debug({ tenantId: entry.tenantId, reason, inFlight: entry.inFlight }, "tenant pool retired");
    if (entry.inFlight === 0) return finish(entry);
    entry.drainTimer = setTimeout(() => {
      opts.logger?.warn(
        { tenantId: entry.tenantId, inFlight: entry.inFlight },
        "tenant pool drain timed out",
      );
      void finish(entry);
    }, drainTimeoutMs);
    entry.drainTimer.unref();
    return entry.whenClosed.promise;
  }

  const idleFor = (entry: Entry, at: number) => (entry.inFlight === 0 ? at - entry.lastUsed : -1);

  /** At the cap: evict least-recently-used pools idle past the timeout, never a busy one. */
  function makeRoom(): void {
    while (live.size >= opts.maxPools) {
      const at = now();
      let victim: Entry | undefined;
      for (const entry of live.values()) {
        if (idleFor(entry, at) >= opts.idleTimeoutMs && (!victim || entry.lastUsed < victim.lastUsed)) {
          victim = entry;
        }
      }
      if (!victim) {
        opts.logger?.debug(
          { pools: live.size, maxPools: opts.maxPools },
          "every tenant pool is busy; growing past the cap",
        );
        return;
      }
      counters.evicted++;
      void retire(victim, "pool cap");
    }
  }

  function lease(entry: Entry): PoolLease {
    entry.inFlight++;
    entry.lastUsed = now();
    let released = false;
    return {
      db: entry.pool.db,
      config: entry.config,
      release() {
        if (released) return;
        released = true;
        entry.inFlight--;
        entry.lastUsed = now();
        if (entry.retired && entry.inFlight === 0) void finish(entry);
      },
    };
  }

  return {
    acquire(config) {
      let entry = live.get(config.tenantId);
      if (!entry) {
        makeRoom();
        entry = create(config);
      }
      return lease(entry);
    },

    async replace(config) {
      const current = live.get(config.tenantId);
      // No live pool: the next request builds one from this configuration anyway.
      if (!current || current.config.fingerprint === config.fingerprint || current.config.seq >= config.seq) {
        return;
      }
      const pool = opts.factory(config);
      opening++;
      try {
        try {
          await pool.ping();
        } catch (err) {
          await pool.end(0).catch(() => {});
          throw err;
        }
        // A request may have swapped in an even newer configuration while we were pinging.
        const latest = live.get(config.tenantId);
        if (latest !== current) {
          await pool.end(0).catch(() => {});
          return;
        }
        counters.replaced++;
        void retire(current, "configuration changed");
        create(config, pool);
      } finally {
        opening--;
      }
    },

    remove(tenantId, reason) {
      const entry = live.get(tenantId);
      if (!entry) return Promise.resolve();
      counters.removed++;
      return retire(entry, reason);
    },

    sweep() {
      const at = now();
      let n = 0;
      for (const entry of [...live.values()]) {
        if (idleFor(entry, at) >= opts.idleTimeoutMs) {
          counters.evicted++;
          n++;
          void retire(entry, "idle");
        }
      }
      return n;
    },

    configs: () => [...live.values()].map((e) => e.config),
    configOf: (tenantId) => live.get(tenantId)?.config,

    stats() {
      let inFlight = 0;
      for (const e of live.values()) inFlight += e.inFlight;
      for (const e of draining) inFlight += e.inFlight;
      return {
        ...counters,
        pools: live.size,
        inFlight,
        draining: draining.size,
        opening,
        tenants: [...live.keys()],
      };
    },

    async close() {
      const all = [...live.values()];
      for (const entry of all) void retire(entry, "shutdown");
      // Shutdown runs after the server stopped taking requests; anything still leased is stuck.
      await Promise.all([...draining].map((e) => finish(e)));
    },
  };
}
