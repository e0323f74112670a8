import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { restamp, type TenantConfig } from "./tenant-config.js";

/**
 * The second-level tenant configuration cache shared by every instance through Redis, so a
 * fleet asks the tenant manager once per tenant and TTL rather than once per instance.
 * Configurations carry database passwords, so values are AES-256-GCM encrypted with a key
 * derived (HKDF-SHA256) from the service API key every instance already shares; Redis alone
 * never reveals a credential, and a tampered value fails authentication and is ignored.
 */
export interface SharedConfigCache {
  get(tenantId: string): Promise<TenantConfig | undefined>;
  set(tenantId: string, config: TenantConfig, ttlMs: number): Promise<void>;
  del(tenantId: string): Promise<void>;
}

const VERSION = "v1";

export function deriveCacheKey(secret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", secret, "verdict", "tenant-config-cache v1", 32));
}

export function encryptConfig(key: Buffer, config: TenantConfig): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(config), "utf8"), cipher.final()]);
  return [
    VERSION,
    iv.toString("base64"),
    cipher.getAuthTag().toString("base64"),
    body.toString("base64"),
  ].join(".");
}

export function decryptConfig(key: Buffer, value: string): TenantConfig | undefined {
  const [version, iv, tag, body] = value.split(".");
  if (version !== VERSION || !iv || !tag || !body) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"));
    decipher.setAuthTag(Buffer.from(tag, "base64"));
    const json = Buffer.concat([decipher.update(Buffer.from(body, "base64")), decipher.final()]).toString(
      "utf8",
    );
    return JSON.parse(json) as TenantConfig;
  } catch {
    return undefined;
  }
}

/** Redis errors never fail a request: the shared cache is an optimisation, the source is the truth. */
export function createSharedConfigCache(
  redis: Redis,
  opts: { secret: string; serviceName: string; logger?: Logger },
): SharedConfigCache {
  const key = deriveCacheKey(opts.secret);
  const redisKey = (tenantId: string) => `verdict:tenant-config:${opts.serviceName}:${tenantId}`;
  const warn = (err: unknown, what: string) =>
    opts.logger?.warn({ err: (err as Error).message }, `shared tenant config cache: ${what} failed`);
  return {
    async get(tenantId) {
      try {
        const value = await redis.get(redisKey(tenantId));
        const config = value ? decryptConfig(key, value) : undefined;
        return config && config.tenantId === tenantId ? restamp(config) : undefined;
      } catch (err) {
        warn(err, "get");
        return undefined;
      }
    },
    async set(tenantId, config, ttlMs) {
      if (ttlMs <= 0) return;
      try {
        await redis.set(redisKey(tenantId), encryptConfig(key, config), "PX", ttlMs);
      } catch (err) {
        warn(err, "set");
      }
    },
    async del(tenantId) {
      try {
        await redis.del(redisKey(tenantId));
      } catch (err) {
        warn(err, "del");
      }
    },
  };
}
