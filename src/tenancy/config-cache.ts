import type { Logger } from "pino";
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
 * In-process TTL cache of tenant configurations with per-tenant single flight and stale-if-error.
 * There is deliberately no shared (Redis) copy: the payload holds database passwords, and a copy
 * without them would be useless; cross-instance consistency comes from the `verdict:tenant-events`
 * pub/sub invalidation instead (tenant-events.ts).
 */
export function createConfigCache(source: TenantSource, opts: ConfigCacheOptions): TenantConfigCache {
  const now = opts.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const generations = new Map<string, number>();
  const inflight = new Map<string, Promise<TenantLookup>>();
  const gen = (tenantId: string) => generations.get(tenantId) ?? 0;

  function load(tenantId: string): Promise<TenantLookup> {
    const running = inflight.get(tenantId);
    if (running) return running;
    const startedGen = gen(tenantId);
    const work = (async (): Promise<TenantLookup> => {
      try {
        const lookup = await source.lookup(tenantId);
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
      return load(tenantId);
    },
    refresh: load,
    invalidate(tenantId) {
      entries.delete(tenantId);
      generations.set(tenantId, gen(tenantId) + 1);
    },
    generation: gen,
    size: () => entries.size,
  };
}
