import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { AppDeps } from "./app.js";
import type { Config } from "./config.js";
import { connectDatabase } from "./db/connect.js";
import { createCredentialVerifier } from "./http/credentials.js";
import { createMetrics } from "./observability/metrics.js";
import { createDomain, type Domain } from "./routes.js";
import { createMultiTenantResolver } from "./tenancy/multi-tenant.js";
import { singleTenantResolver } from "./tenancy/single-tenant.js";

export interface Deps extends AppDeps {
  redis: Redis | undefined;
  domain: Domain;
  close(): Promise<void>;
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** Opens every long-lived dependency once; `close()` releases them in reverse order. */
export async function createDeps(config: Config, logger: Logger): Promise<Deps> {
  const tenants =
    config.multiTenant.enabled && config.db.kind === "postgres"
      ? // DATABASE_URL is the shared/admin database; each tenant gets its own pool (src/tenancy).
        await createMultiTenantResolver({ multiTenant: config.multiTenant, adminUrl: config.db.url, logger })
      : singleTenantResolver(await connectDatabase(config.db));
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: false })
    : undefined;
  if (redis) {
    redis.on("error", (err) => logger.warn({ err: err.message }, "redis error"));
    await redis
      .connect()
      .catch((err) => logger.warn({ err: (err as Error).message }, "redis not reachable at boot"));
  }
  const metrics = createMetrics();
  const domain = await createDomain({ config, logger, metrics, redis });
  return {
    config,
    logger,
    metrics,
    domain,
    mountApi: (api) => domain.mount(api),
    credentials: createCredentialVerifier(config.auth),
    tenants,
    version: packageVersion(),
    redis,
    ...(redis ? { redisPing: async () => void (await redis.ping()) } : {}),
    async close() {
      await domain.drain();
      domain.close();
      redis?.disconnect();
      await tenants.close();
    },
  };
}
