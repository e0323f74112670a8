import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { canonicalTenantId } from "./tenant-id.js";

/** Pub/sub channel for tenant lifecycle events between Verdict instances (and operators). */
export const TENANT_EVENTS_CHANNEL = "verdict:tenant-events";

/**
 * `tenant.suspended` / `tenant.deleted`: close the tenant's pool and forget its configuration now.
 * `tenant.updated` / `tenant.cache.invalidate` (and anything else): forget the configuration and
 * revalidate against the source, which replaces the pool if credentials changed.
 */
export interface TenantEvent {
  tenantId: string;
  event: string;
}

export interface TenantEventBus {
  publish(event: TenantEvent): void;
  close(): Promise<void>;
}

export interface RedisEndpoint {
  host: string;
  port: number;
  password: string | undefined;
  tls: boolean;
}

/**
 * Connects to MULTI_TENANT_REDIS_* and relays tenant events, so a suspension or credential
 * change seen by one instance (during its revalidation) evicts on all of them at once instead of
 * at each one's next revalidation. Messages are JSON `{ tenantId, event, origin }`; an instance
 * ignores its own. Operators may publish too, e.g.
 * `PUBLISH verdict:tenant-events '{"tenantId":"acme","event":"tenant.cache.invalidate"}'`.
 * Best effort: if Redis is down, revalidation still converges within the check interval.
 */
export async function createTenantEventBus(
  redis: RedisEndpoint,
  onEvent: (event: TenantEvent) => void,
  logger?: Logger,
): Promise<TenantEventBus> {
  const origin = randomUUID();
  const options = {
    host: redis.host,
    port: redis.port,
    ...(redis.password ? { password: redis.password } : {}),
    ...(redis.tls ? { tls: {} } : {}),
    lazyConnect: true,
    maxRetriesPerRequest: 2,
  };
  const pub = new Redis({ ...options, enableOfflineQueue: false });
  const sub = new Redis(options);
  for (const [name, conn] of [
    ["publisher", pub],
    ["subscriber", sub],
  ] as const) {
    conn.on("error", (err: Error) => logger?.warn({ err: err.message }, `tenant events redis ${name} error`));
  }
  sub.on("message", (channel: string, message: string) => {
    if (channel !== TENANT_EVENTS_CHANNEL) return;
    try {
      const parsed = JSON.parse(message) as { tenantId?: unknown; event?: unknown; origin?: unknown };
      if (parsed.origin === origin) return;
      const tenantId = canonicalTenantId(parsed.tenantId);
      if (!tenantId) return;
      onEvent({
        tenantId,
        event: typeof parsed.event === "string" ? parsed.event : "tenant.cache.invalidate",
      });
    } catch {
      logger?.warn("ignoring malformed tenant event");
    }
  });
  await Promise.all([pub.connect(), sub.connect()]).catch((err: unknown) =>
    logger?.warn({ err: (err as Error).message }, "tenant events redis not reachable at boot"),
  );
  // Queued until Redis is reachable (and re-subscribed after reconnects); boot waits 2 s at most.
  const subscribed = sub
    .subscribe(TENANT_EVENTS_CHANNEL)
    .catch((err: unknown) => logger?.warn({ err: (err as Error).message }, "tenant events subscribe failed"));
  await Promise.race([subscribed, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  return {
    publish(event) {
      pub
        .publish(TENANT_EVENTS_CHANNEL, JSON.stringify({ ...event, origin }))
        .catch((err: unknown) =>
          logger?.warn({ err: (err as Error).message }, "tenant event publish failed"),
        );
    },
    async close() {
      pub.disconnect();
      sub.disconnect();
    },
  };
}
