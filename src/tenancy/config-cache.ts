import type { Logger } from "pino";
import type { SharedConfigCache } from "./shared-config-cache.js";
import type { TenantConfig } from "./tenant-config.js";
import { type TenantLookup, type TenantSource, TenantSourceUnavailable } from "./tenant-source.js";

/**
 * How long past its TTL a cached configuration may still be served when the source cannot answer
 * (manager down, breaker open). Availability for tenants already known beats failing every
 * request; a suspension is still applied as soon as the manager answers again.
 */
export const STALE_IF_ERROR_MS = 15 * 60_000;

export interface ConfigCacheOptions {
  /** MULTI_TENANT_CACHE_TTL_SEC in ms; 0 disables caching (every miss asks the source). */
  ttlMs: number;
  logger?: Logger;
  now?: () => number;
  /** Second level shared by instances (Redis, encrypted); consulted on a miss, never on refresh. */
  shared?: SharedConfigCache | undefined;
}

export interface TenantConfigCache {
  /**
   * The tenant's configuration: from the cache while fresh, else one lookup shared by every
   * concurrent caller for that tenant (single flight). Not-found and suspended answers are never
   * cached. Throws TenantSourceUnavailable when the source fails and nothing usable is cached.
   */
  get(tenantId: string): Promise<TenantLookup>;
  /** Asks the source now, bypassing the cache, and stores the answer (revalidation). */
  refresh(tenantId: string): Promise<TenantLookup>;
  /** Drops the tenant's entry; a lookup already in flight will not store its answer. */
  invalidate(tenantId: string): void;
  /** Bumped by invalidate(): lets a caller notice an invalidation that raced with it. */
  generation(tenantId: string): number;
  size(): number;
}

interface Entry {
  config: TenantConfig;
  expiresAt: number;
}

/**
 * In-process TTL cache of tenant configurations with per-tenant single flight and stale-if-error,
 * optionally backed by a shared, encrypted Redis level (shared-config-cache.ts). Cross-instance
 * invalidation comes from the `verdict:tenant-events` pub/sub (tenant-events.ts).
 */
export function createConfigCache(source: TenantSource, opts: ConfigCacheOptions): TenantConfigCache {
  const now = opts.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const generations = new Map<string, number>();
  const inflight = new Map<string, Promise<TenantLookup>>();
  const gen = (tenantId: string) => generations.get(tenantId) ?? 0;

  function load(tenantId: string, useShared: boolean): Promise<TenantLookup> {
    const running = inflight.get(tenantId);
    if (running) return running;
    const startedGen = gen(tenantId);
    const work = (async (): Promise<TenantLookup> => {
      try {
        const fromShared = useShared && opts.shared ? await opts.shared.get(tenantId) : undefined;
        if (fromShared && fromShared.status === "active") {
          if (gen(tenantId) === startedGen && opts.ttlMs > 0) {
            entries.set(tenantId, { config: fromShared, expiresAt: now() + opts.ttlMs });
          }
          return { kind: "found", config: fromShared };
        }
        const lookup = await source.lookup(tenantId);
        if (lookup.kind === "found") void opts.shared?.set(tenantId, lookup.config, opts.ttlMs);
        else void opts.shared?.del(tenantId);
        if (gen(tenantId) === startedGen) {
          if (lookup.kind === "found" && opts.ttlMs > 0) {
            entries.set(tenantId, { config: lookup.config, expiresAt: now() + opts.ttlMs });
          } else if (lookup.kind !== "found") {
            entries.delete(tenantId);
          }
        }
        return lookup;
      } catch (err) {
        const stale = entries.get(tenantId);
        if (err instanceof TenantSourceUnavailable && stale && now() - stale.expiresAt < STALE_IF_ERROR_MS) {
          opts.logger?.warn(
            { tenantId, err: err.message },
            "tenant source unavailable; serving cached config",
          );
          return { kind: "found", config: stale.config };
        }
        throw err;
      }
    })();
    inflight.set(tenantId, work);
    const clear = () => {
      if (inflight.get(tenantId) === work) inflight.delete(tenantId);
    };
    work.then(clear, clear);
    return work;
  }

  return {
    get(tenantId) {
      const entry = entries.get(tenantId);
      if (entry && now() < entry.expiresAt) return Promise.resolve({ kind: "found", config: entry.config });
      return load(tenantId, true);
    },
    // Revalidation must see the source's answer (a suspension), never a shared copy.
    refresh: (tenantId) => load(tenantId, false),
    invalidate(tenantId) {
      entries.delete(tenantId);
      void opts.shared?.del(tenantId);
      generations.set(tenantId, gen(tenantId) + 1);
    },
    generation: gen,
    size: () => entries.size,
  };
}
