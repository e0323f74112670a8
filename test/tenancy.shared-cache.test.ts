import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createConfigCache } from "../src/tenancy/config-cache.js";
import {
  createSharedConfigCache,
  decryptConfig,
  deriveCacheKey,
  encryptConfig,
  type SharedConfigCache,
} from "../src/tenancy/shared-config-cache.js";
import { normaliseTenantConfig, type TenantConfig } from "../src/tenancy/tenant-config.js";
import type { TenantLookup, TenantSource } from "../src/tenancy/tenant-source.js";
import { testRedisUrl } from "./harness.js";
import { SERVICE, tenantPayload } from "./tenancy.fixtures.js";

const SECRET = "manager-api-key-0123456789";
const config = (id: string, password = "s3cret-password"): TenantConfig =>
  normaliseTenantConfig(
    tenantPayload(
      "postgres://postgres@127.0.0.1:5432/postgres",
      id,
      { mode: "database", database: `db_${id}` },
      {
        password,
      },
    ),
    id,
    SERVICE,
  );

function countingSource(configs: Map<string, TenantConfig>): TenantSource & { calls: number } {
  const source = {
    kind: "manager" as const,
    calls: 0,
    async lookup(tenantId: string): Promise<TenantLookup> {
      source.calls++;
      const c = configs.get(tenantId);
      return c ? { kind: "found", config: c } : { kind: "not_found" };
    },
  };
  return source;
}

function mapShared(): SharedConfigCache & { store: Map<string, TenantConfig> } {
  const store = new Map<string, TenantConfig>();
  return {
    store,
    get: async (id) => store.get(id),
    set: async (id, c) => void store.set(id, c),
    del: async (id) => void store.delete(id),
  };
}

describe("encrypted shared tenant configuration", () => {
  it("round-trips, never shows the password, and rejects tampering or another key", () => {
    const key = deriveCacheKey(SECRET);
    const c = config("t1");
    const value = encryptConfig(key, c);
    expect(value).not.toContain("s3cret-password");
    expect(Buffer.from(value.split(".")[3] ?? "", "base64").toString("utf8")).not.toContain("s3cret");
    expect(decryptConfig(key, value)).toEqual(c);
    const [v, iv, tag, body] = value.split(".");
    const flipped = Buffer.from(body ?? "", "base64");
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(decryptConfig(key, [v, iv, tag, flipped.toString("base64")].join("."))).toBeUndefined();
    expect(decryptConfig(deriveCacheKey("another-key-0123456789"), value)).toBeUndefined();
  });

  it("a second instance is served from the shared level without asking the manager; refresh always asks", async () => {
    const shared = mapShared();
    const configs = new Map([["t1", config("t1")]]);
    const first = countingSource(configs);
    const second = countingSource(configs);
    const a = createConfigCache(first, { ttlMs: 60_000, shared });
    const b = createConfigCache(second, { ttlMs: 60_000, shared });
    expect((await a.get("t1")).kind).toBe("found");
    await new Promise((r) => setImmediate(r));
    expect(first.calls).toBe(1);
    expect((await b.get("t1")).kind).toBe("found");
    expect(second.calls).toBe(0);
    // Revalidation must see the manager's answer (a suspension), never the shared copy.
    configs.delete("t1");
    expect((await b.refresh("t1")).kind).toBe("not_found");
    expect(second.calls).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(shared.store.has("t1")).toBe(false);
  });

  it("invalidation drops the shared copy too", async () => {
    const shared = mapShared();
    const source = countingSource(new Map([["t2", config("t2")]]));
    const cache = createConfigCache(source, { ttlMs: 60_000, shared });
    await cache.get("t2");
    await new Promise((r) => setImmediate(r));
    expect(shared.store.has("t2")).toBe(true);
    cache.invalidate("t2");
    await new Promise((r) => setImmediate(r));
    expect(shared.store.has("t2")).toBe(false);
  });

  describe.runIf(!!testRedisUrl)("on Redis", () => {
    it("stores only ciphertext under a tenant-scoped key with the TTL", async () => {
      const redis = new Redis(testRedisUrl ?? "");
      try {
        const id = `t-${Date.now()}`;
        const cache = createSharedConfigCache(redis, { secret: SECRET, serviceName: SERVICE });
        const c = config(id);
        await cache.set(id, c, 5_000);
        const raw = await redis.get(`verdict:tenant-config:${SERVICE}:${id}`);
        expect(raw).toBeTruthy();
        expect(raw).not.toContain("s3cret-password");
        expect(await redis.pttl(`verdict:tenant-config:${SERVICE}:${id}`)).toBeGreaterThan(0);
        const back = await cache.get(id);
        expect(back?.db).toEqual(c.db);
        expect(
          await createSharedConfigCache(redis, { secret: "wrong-key-0123456789", serviceName: SERVICE }).get(
            id,
          ),
        ).toBeUndefined();
        await cache.del(id);
        expect(await cache.get(id)).toBeUndefined();
      } finally {
        redis.disconnect();
      }
    });
  });
});
