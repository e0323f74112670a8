import { Redis } from "ioredis";
import type { Logger } from "pino";
import postgres from "postgres";
import type { Config } from "../config.js";
import { AppError } from "../errors.js";
import type { Principal } from "../http/principal.js";
import { withCircuitBreaker } from "./breaker.js";
import { createConfigCache, type TenantConfigCache } from "./config-cache.js";
import { createManagerClient } from "./manager-client.js";
import { createPoolRegistry, type PoolFactory, type PoolRegistry } from "./pool-registry.js";
import { createProvisioner, type Provisioner } from "./provision.js";
import { createSharedConfigCache } from "./shared-config-cache.js";
import type { TenantConfig } from "./tenant-config.js";
import { createTenantEventBus, type TenantEvent, type TenantEventBus } from "./tenant-events.js";
import { tenantIdFromClaim } from "./tenant-id.js";
import { createTenantPool } from "./tenant-pool.js";
import type { ResolvedTenant, TenantResolver } from "./tenant-resolver.js";
import { type TenantLookup, type TenantSource, TenantSourceUnavailable } from "./tenant-source.js";
import { createTenantsFileSource } from "./tenants-file.js";

type MultiTenantConfig = Config["multiTenant"];

/** The configured tenant source: the tenant manager behind its breaker, or the tenants file. */
export async function buildTenantSource(
  mt: MultiTenantConfig,
  logger?: Logger,
): Promise<TenantSource & { breakerState?: () => string }> {
  if (mt.url !== undefined && mt.serviceApiKey !== undefined) {
    if (mt.tenantsFile !== undefined) {
      logger?.warn("MULTI_TENANT_URL and MULTI_TENANT_TENANTS_FILE are both set: the file is ignored");
    }
    const client = createManagerClient({
      url: mt.url,
      apiKey: mt.serviceApiKey,
      serviceName: mt.serviceName,
      timeoutMs: mt.timeoutMs,
      allowInsecureHttp: mt.allowInsecureHttp,
    });
    const guarded = withCircuitBreaker(client, {
      threshold: mt.breakerThreshold,
      timeoutMs: mt.breakerTimeoutMs,
      ...(logger ? { logger } : {}),
    });
    return { kind: guarded.kind, lookup: guarded.lookup, breakerState: guarded.state };
  }
  if (mt.tenantsFile !== undefined) return createTenantsFileSource(mt.tenantsFile, mt.serviceName, logger);
  throw new Error("multi-tenant mode needs MULTI_TENANT_URL (+ API key) or MULTI_TENANT_TENANTS_FILE");
}

export interface MultiTenantOptions {
  multiTenant: MultiTenantConfig;
  /** DATABASE_URL: the shared/admin database, used for readiness only. */
  adminUrl: string;
  logger: Logger;
  /** Tests inject sources and pool factories; production builds them from the configuration. */
  source?: TenantSource & { breakerState?: () => string };
  poolFactory?: PoolFactory;
  provisioner?: Provisioner;
}

export interface MultiTenantResolver extends TenantResolver {
  readonly registry: PoolRegistry;
  readonly cache: TenantConfigCache;
  readonly provisioner: Provisioner;
  /** Revalidates every live pool now (the periodic check, on demand for tests). */
  revalidateAll(): Promise<void>;
}

const notFound = () => new AppError("TENANT_NOT_FOUND", "Tenant not found");
const suspended = () => new AppError("TENANT_SUSPENDED", "Tenant is suspended");

/**
 * The resolver for MULTI_TENANT_ENABLED=true: verified claim → canonical tenant id → configuration
 * (cache → breaker → manager, or the tenants file) → status → provisioning (once per process) →
 * a lease on the tenant's pool. Nothing but the verified claim selects the tenant: headers, query
 * and body never reach this code. A background timer sweeps idle pools and revalidates live ones
 * every MULTI_TENANT_CONNECTIONS_CHECK_INTERVAL_SEC (suspended/unknown → pool closed; changed
 * credentials → new pool, old one drained), and tenant events from Redis do the same at once.
 */
export async function createMultiTenantResolver(opts: MultiTenantOptions): Promise<MultiTenantResolver> {
  const { multiTenant: mt, logger } = opts;
  const source = opts.source ?? (await buildTenantSource(mt, logger));
  // The shared level only makes sense in front of a tenant manager, and its encryption key is
  // derived from the manager's API key, which every instance of the fleet shares.
  const sharedRedis =
    mt.redis && mt.serviceApiKey && source.kind === "manager"
      ? new Redis({
          host: mt.redis.host,
          port: mt.redis.port,
          ...(mt.redis.password ? { password: mt.redis.password } : {}),
          ...(mt.redis.tls ? { tls: {} } : {}),
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          lazyConnect: true,
        })
      : undefined;
  if (sharedRedis) {
    sharedRedis.on("error", (err) =>
      logger.warn({ err: err.message }, "shared tenant config cache: redis error"),
    );
    await sharedRedis.connect().catch(() => {});
  }
  const shared =
    sharedRedis && mt.serviceApiKey
      ? createSharedConfigCache(sharedRedis, {
          secret: mt.serviceApiKey,
          serviceName: mt.serviceName,
          logger,
        })
      : undefined;
  const cache = createConfigCache(source, { ttlMs: mt.cacheTtlMs, logger, shared });
  const provisioner = opts.provisioner ?? createProvisioner({ logger });
  const registry = createPoolRegistry({
    maxPools: mt.maxTenantPools,
    idleTimeoutMs: mt.idleTimeoutMs,
    factory: opts.poolFactory ?? createTenantPool,
    logger,
  });
  const admin = postgres(opts.adminUrl, {
    max: 1,
    idle_timeout: 30,
    connect_timeout: 5,
    onnotice: () => {},
    connection: { application_name: "verdict/admin" },
  });

  const checkedAt = new Map<string, number>();
  const revalidating = new Set<string>();
  const swapping = new Set<string>();
  const failedSwaps = new Map<string, number>();
  let events: TenantEventBus | undefined;

  async function lookup(tenantId: string, fresh: boolean): Promise<TenantLookup> {
    try {
      return fresh ? await cache.refresh(tenantId) : await cache.get(tenantId);
    } catch (err) {
      if (err instanceof TenantSourceUnavailable) {
        logger.warn({ tenantId, err: err.message }, "tenant configuration unavailable");
        throw new AppError("SERVICE_UNAVAILABLE", "Tenant configuration is temporarily unavailable", {
          retryAfterSec: err.retryAfterSec,
        });
      }
      throw err;
    }
  }

  async function provision(config: TenantConfig): Promise<void> {
    try {
      await provisioner.ensure(config);
    } catch (err) {
      logger.error({ tenantId: config.tenantId, err }, "tenant provisioning failed");
      throw new AppError("SERVICE_UNAVAILABLE", "Tenant database is not available", { retryAfterSec: 5 });
    }
  }

  /** Closes the tenant's pool and forgets its configuration (suspended, deleted, misconfigured). */
  async function drop(tenantId: string, reason: string): Promise<void> {
    cache.invalidate(tenantId);
    checkedAt.delete(tenantId);
    await registry.remove(tenantId, reason);
  }

  /** Re-reads one tenant's configuration from the source (not the cache) and applies it. */
  async function revalidate(tenantId: string): Promise<void> {
    if (revalidating.has(tenantId)) return;
    revalidating.add(tenantId);
    try {
      let result: TenantLookup;
      try {
        result = await cache.refresh(tenantId);
      } catch (err) {
        // Source down or refusing us: keep serving what works and try again next round.
        if (err instanceof TenantSourceUnavailable) return;
        logger.error({ tenantId, err: (err as Error).message }, "tenant configuration no longer usable");
        await drop(tenantId, "misconfigured");
        return;
      }
      checkedAt.set(tenantId, Date.now());
      if (result.kind !== "found") {
        logger.warn({ tenantId, result: result.kind }, "tenant no longer active; closing its pool");
        await drop(tenantId, result.kind);
        events?.publish({
          tenantId,
          event: result.kind === "suspended" ? "tenant.suspended" : "tenant.deleted",
        });
        return;
      }
      const live = registry.configOf(tenantId);
      if (live && live.fingerprint !== result.config.fingerprint) await swap(result.config);
    } catch (err) {
      logger.error(
        { tenantId, err: (err as Error).message },
        "tenant revalidation failed; keeping the current pool",
      );
    } finally {
      revalidating.delete(tenantId);
    }
  }

  /**
   * Replaces the tenant's pool with one for a changed configuration: provisions the new target,
   * opens and pings the new pool, swaps, drains the old one. Keeps the old pool if that fails.
   */
  async function swap(config: TenantConfig): Promise<void> {
    const key = `${config.tenantId}\u0000${config.fingerprint}`;
    if (swapping.has(key)) return;
    swapping.add(key);
    try {
      await provision(config);
      await registry.replace(config);
      failedSwaps.delete(key);
      logger.info({ tenantId: config.tenantId }, "tenant configuration changed; pool replaced");
      events?.publish({ tenantId: config.tenantId, event: "tenant.updated" });
    } catch (err) {
      failedSwaps.set(key, Date.now());
      throw err;
    } finally {
      swapping.delete(key);
    }
  }

  /** Requests retry a failed swap at most once per check interval (no reconnect storm). */
  function swapFromRequest(config: TenantConfig): void {
    const failedAt = failedSwaps.get(`${config.tenantId}\u0000${config.fingerprint}`);
    if (failedAt !== undefined && Date.now() - failedAt < mt.connectionsCheckIntervalMs) return;
    swap(config).catch((err: unknown) =>
      logger.error(
        { tenantId: config.tenantId, err: (err as Error).message },
        "tenant pool replacement failed",
      ),
    );
  }

  async function revalidateAll(due?: (tenantId: string) => boolean): Promise<void> {
    const tenants = registry.configs().map((c) => c.tenantId);
    const now = Date.now();
    for (const t of checkedAt.keys()) if (!tenants.includes(t)) checkedAt.delete(t);
    for (const [key, at] of failedSwaps)
      if (now - at > mt.connectionsCheckIntervalMs) failedSwaps.delete(key);
    // A pool's first configuration was just read from the source (or the fresh cache).
    for (const t of tenants) if (!checkedAt.has(t)) checkedAt.set(t, now);
    // A few at a time: a large fleet must not stampede the tenant manager.
    const queue = tenants.filter((t) => !due || due(t));
    const workers = Array.from({ length: Math.min(4, queue.length) }, async () => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) await revalidate(t);
    });
    await Promise.all(workers);
  }

  function onEvent(event: TenantEvent): void {
    if (event.event === "tenant.suspended" || event.event === "tenant.deleted") {
      void drop(event.tenantId, event.event);
    } else {
      cache.invalidate(event.tenantId);
      if (registry.configOf(event.tenantId)) void revalidate(event.tenantId);
    }
  }
  if (mt.redis) events = await createTenantEventBus(mt.redis, onEvent, logger);

  const tickMs = Math.min(5000, Math.max(250, Math.min(mt.connectionsCheckIntervalMs, mt.idleTimeoutMs) / 2));
  let ticking = false;
  const timer = setInterval(() => {
    if (ticking) return;
    ticking = true;
    registry.sweep();
    const cutoff = Date.now() - mt.connectionsCheckIntervalMs;
    revalidateAll((t) => (checkedAt.get(t) ?? 0) <= cutoff).finally(() => {
      ticking = false;
    });
  }, tickMs);
  timer.unref();

  return {
    registry,
    cache,
    provisioner,
    revalidateAll: () => revalidateAll(),

    async resolve(principal: Principal): Promise<ResolvedTenant> {
      const tenantId = tenantIdFromClaim(principal.tenantClaim);
      for (let attempt = 0; ; attempt++) {
        const generation = cache.generation(tenantId);
        const result = await lookup(tenantId, attempt > 0);
        if (result.kind === "not_found") throw notFound();
        if (result.kind === "suspended") throw suspended();
        // Provisioning precedes a pool's creation only: a tenant with a live pool is served from
        // it (no await between the check and acquire(), so it cannot vanish in between), even
        // while a changed configuration is being provisioned and swapped in the background.
        if (!registry.configOf(tenantId)) await provision(result.config);
        const lease = registry.acquire(result.config);
        if (lease.config.fingerprint !== result.config.fingerprint && result.config.seq > lease.config.seq) {
          // A newer configuration than the pool's (cache refreshed): swap in the background; this
          // request uses the current pool, which stays until its replacement has connected.
          swapFromRequest(result.config);
        }
        // An invalidation (suspension event, revalidation) raced with this lookup: ask again,
        // fresh, so a stale answer cannot resurrect a pool that was just closed.
        if (cache.generation(tenantId) === generation || attempt > 0) {
          return { tenantId, db: lease.db, release: lease.release };
        }
        lease.release();
      }
    },

    async checks() {
      let database = true;
      try {
        await admin`select 1`;
      } catch {
        database = false;
      }
      // An open breaker does not fail readiness: cached tenants are still served, and taking every
      // instance out of rotation while the manager is down would turn its outage into ours.
      const breaker = source.breakerState?.();
      return { database, tenantManager: breaker === "open" ? "circuit-open" : true };
    },

    async close() {
      sharedRedis?.disconnect();
      clearInterval(timer);
      await events?.close();
      await registry.close();
      await admin.end({ timeout: 5 });
    },
  };
}
