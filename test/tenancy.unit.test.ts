/**
 * Multi-tenancy building blocks that need no database: tenant-id canonicalisation, payload
 * normalisation, the tenant-manager client against a loopback server, the circuit breaker, the
 * configuration cache, the pool registry (fake pools, fake clock), the tenants file, the
 * streamed-body lease, and forged tokens against the real app (zero tenant-manager calls).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import type { Database } from "../src/db/database.js";
import { AppError } from "../src/errors.js";
import { withCircuitBreaker } from "../src/tenancy/breaker.js";
import { createConfigCache } from "../src/tenancy/config-cache.js";
import { createManagerClient, MAX_RESPONSE_BYTES } from "../src/tenancy/manager-client.js";
import { createPoolRegistry, type TenantPool } from "../src/tenancy/pool-registry.js";
import { releaseAfterBody } from "../src/tenancy/release-after-body.js";
import { normaliseTenantConfig, type TenantConfig } from "../src/tenancy/tenant-config.js";
import { canonicalTenantId, tenantIdFromClaim } from "../src/tenancy/tenant-id.js";
import {
  type TenantLookup,
  type TenantSource,
  TenantSourceUnavailable,
} from "../src/tenancy/tenant-source.js";
import { createTenantsFileSource } from "../src/tenancy/tenants-file.js";
import { signTestJwt } from "./harness.js";
import {
  AUDIENCE,
  createMtApp,
  type FakeManager,
  SERVICE,
  startFakeManager,
  tenantPayload,
} from "./tenancy.fixtures.js";

const FAKE_URL = "postgres://postgres@127.0.0.1:5432/postgres";
const payload = (id: string, extra: Parameters<typeof tenantPayload>[3] = {}) =>
  tenantPayload(FAKE_URL, id, { mode: "schema", database: "shared", schema: "tenant_x" }, extra);
const config = (id: string, extra: Parameters<typeof tenantPayload>[3] = {}) =>
  normaliseTenantConfig(payload(id, extra), id, SERVICE);

describe("tenant id", () => {
  it("accepts plain ids and canonicalises UUIDs to lower-case dashed", () => {
    expect(canonicalTenantId("acme")).toBe("acme");
    expect(canonicalTenantId("Acme_01-x")).toBe("Acme_01-x");
    expect(canonicalTenantId("a".repeat(64))).toBe("a".repeat(64));
    const u = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    for (const spelling of [u, u.toUpperCase(), u.replaceAll("-", ""), u.replaceAll("-", "").toUpperCase()]) {
      expect(canonicalTenantId(spelling)).toBe(u);
    }
  });

  it("rejects non-strings, empty, too long and bad characters", () => {
    for (const bad of [
      undefined,
      null,
      123,
      1.5,
      true,
      ["acme"],
      { id: "acme" },
      "",
      "a".repeat(65),
      "-acme",
      "_acme",
      "a:b",
      "a/b",
      "a.b",
      "a b",
      "../x",
      "\u0430cme",
      "acme\n",
      "'; drop",
    ]) {
      expect(canonicalTenantId(bad), JSON.stringify(bad)).toBeUndefined();
      expect(() => tenantIdFromClaim(bad)).toThrow(AppError);
    }
    try {
      tenantIdFromClaim(42);
    } catch (err) {
      expect(err).toMatchObject({
        code: "UNAUTHENTICATED",
        status: 401,
        detail: "Missing or invalid credentials",
      });
    }
  });

  it("property: canonical ids are valid, idempotent, and every UUID spelling maps to one id", () => {
    fc.assert(
      fc.property(fc.uuid(), fc.boolean(), fc.boolean(), (u, dashless, upper) => {
        let s = dashless ? u.replaceAll("-", "") : u;
        s = upper ? s.toUpperCase() : s;
        const id = canonicalTenantId(s);
        expect(id).toBe(u.toLowerCase());
        expect(canonicalTenantId(id)).toBe(id);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const id = canonicalTenantId(s);
        if (id === undefined) return;
        expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/);
        expect(canonicalTenantId(id)).toBe(id);
      }),
    );
  });
});

describe("tenant configuration payload", () => {
  it("normalises both modes, Lerian's 'isolated' spelling and connection settings", () => {
    const c = config("acme", { maxOpenConns: 50 });
    expect(c).toMatchObject({ tenantId: "acme", status: "active", isolationMode: "schema" });
    expect(c.db).toMatchObject({ schema: "tenant_x", maxConnections: 10, ssl: false, port: 5432 });
    expect(config("acme", { maxOpenConns: 0 }).db.maxConnections).toBe(1);
    const p = payload("acme");
    delete (p.databases as Record<string, Record<string, unknown>>)[SERVICE]!.connectionSettings;
    expect(normaliseTenantConfig(p, "acme", SERVICE).db.maxConnections).toBe(5);
    const isolated = { ...payload("acme"), isolationMode: "isolated" };
    expect(normaliseTenantConfig(isolated, "acme", SERVICE)).toMatchObject({
      isolationMode: "database",
      db: { schema: undefined },
    });
  });

  it("fails closed (503) on anything unusable", () => {
    const bad: Record<string, unknown>[] = [
      { ...payload("acme"), isolationMode: "rls" },
      { ...payload("acme"), databases: { other: {} } },
      { ...payload("acme"), id: "someone-else" },
    ];
    for (const schema of [
      "Public",
      "public",
      "1abc",
      "a-b",
      "pg_x",
      "drizzle",
      "a".repeat(64),
      "",
      undefined,
    ]) {
      const p = payload("acme");
      (p.databases as Record<string, { postgresql: Record<string, unknown> }>)[SERVICE]!.postgresql.schema =
        schema;
      bad.push(p);
    }
    const noHost = payload("acme");
    (noHost.databases as Record<string, { postgresql: Record<string, unknown> }>)[SERVICE]!.postgresql.host =
      "";
    bad.push(noHost);
    const badSsl = payload("acme");
    (badSsl.databases as Record<string, { postgresql: Record<string, unknown> }>)[
      SERVICE
    ]!.postgresql.sslmode = "yes";
    bad.push(badSsl);
    for (const p of bad) {
      expect(() => normaliseTenantConfig(p, "acme", SERVICE)).toThrow(
        expect.objectContaining({ code: "SERVICE_UNAVAILABLE" }),
      );
    }
    expect(() => normaliseTenantConfig([], "acme", SERVICE)).toThrow(AppError);
  });

  it("fingerprints what a pool depends on (credentials included) and orders reads", () => {
    const a = config("acme");
    const b = config("acme", { password: "rotated" });
    expect(b.fingerprint).not.toBe(a.fingerprint);
    expect(config("acme").fingerprint).toBe(a.fingerprint);
    expect(b.seq).toBeGreaterThan(a.seq);
    expect(a.fingerprint).not.toContain(a.db.password || "\u0000");
  });
});

describe("tenant manager client", () => {
  let server: Server;
  let base: string;
  const seen: { url: string; key: string | undefined }[] = [];
  let respond: (url: string, res: import("node:http").ServerResponse) => void = () => {};

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? "", key: req.headers["x-api-key"] as string | undefined });
      respond(req.url ?? "", res);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const client = (opts: { serviceName?: string; timeoutMs?: number; url?: string } = {}) =>
    createManagerClient({
      url: opts.url ?? `${base}/prefix/`,
      apiKey: "key-1",
      serviceName: opts.serviceName ?? SERVICE,
      timeoutMs: opts.timeoutMs ?? 1000,
      allowInsecureHttp: true,
    });
  const json = (status: number, body: unknown) => (_: string, res: import("node:http").ServerResponse) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

  it("GETs the Lerian path with X-API-Key, encoded segments, under the URL's path prefix", async () => {
    respond = json(200, payload("acme"));
    const found = await client().lookup("acme");
    expect(found).toMatchObject({ kind: "found", config: { tenantId: "acme", isolationMode: "schema" } });
    expect(seen.at(-1)).toEqual({
      url: "/prefix/v1/tenants/acme/associations/verdict/connections",
      key: "key-1",
    });
    respond = json(404, {});
    await client({ serviceName: "a b/c?d" }).lookup("acme");
    expect(seen.at(-1)?.url).toBe("/prefix/v1/tenants/acme/associations/a%20b%2Fc%3Fd/connections");
  });

  it("maps 404 → not found, 403 and non-active status → suspended", async () => {
    respond = json(404, { code: "TENANT_NOT_FOUND" });
    expect(await client().lookup("acme")).toEqual({ kind: "not_found" });
    respond = json(403, { code: "0131" });
    expect(await client().lookup("acme")).toMatchObject({ kind: "suspended" });
    respond = json(200, payload("acme", { status: "purged" }));
    expect(await client().lookup("acme")).toEqual({ kind: "suspended", status: "purged" });
  });

  it("5xx, timeouts, oversized and non-JSON bodies are breaker failures; a refused key is not", async () => {
    const unavailable = async () =>
      expect(client({ timeoutMs: 300 }).lookup("acme")).rejects.toBeInstanceOf(TenantSourceUnavailable);
    respond = json(502, {});
    await unavailable();
    respond = () => {}; // never answers
    await unavailable();
    respond = (_, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write("{");
      // A body that keeps coming, with no Content-Length: the running total is what stops it.
      const chunk = "x".repeat(64 * 1024);
      for (let i = 0; i <= MAX_RESPONSE_BYTES / chunk.length; i++) res.write(chunk);
      res.end();
    };
    await unavailable();
    respond = (_, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("not json");
    };
    await unavailable();
    respond = json(401, {});
    await expect(client().lookup("acme")).rejects.toMatchObject({
      name: "TenantSourceUnavailable",
      countsForBreaker: false,
      retryAfterSec: 30,
    });
    await expect(
      createManagerClient({
        url: "http://127.0.0.1:1",
        apiKey: "k",
        serviceName: SERVICE,
        timeoutMs: 500,
        allowInsecureHttp: true,
      }).lookup("acme"),
    ).rejects.toBeInstanceOf(TenantSourceUnavailable);
  });

  it("requires https unless insecure http is explicitly allowed, and a non-empty API key", () => {
    const opts = { apiKey: "k", serviceName: SERVICE, timeoutMs: 1000 };
    expect(() => createManagerClient({ ...opts, url: "http://tm.local", allowInsecureHttp: false })).toThrow(
      /https/,
    );
    expect(() =>
      createManagerClient({ ...opts, url: "https://tm.local", allowInsecureHttp: false }),
    ).not.toThrow();
    expect(() =>
      createManagerClient({ ...opts, apiKey: "", url: "https://tm.local", allowInsecureHttp: false }),
    ).toThrow(/API_KEY/);
  });
});

/** A source whose answer the test sets, counting calls. */
function scriptedSource(): TenantSource & { calls: number; next: () => Promise<TenantLookup> } {
  const s = {
    kind: "manager" as const,
    calls: 0,
    next: async (): Promise<TenantLookup> => ({ kind: "not_found" }),
    lookup(_tenantId: string) {
      s.calls++;
      return s.next();
    },
  };
  return s;
}
const fail = async (): Promise<TenantLookup> => {
  throw new TenantSourceUnavailable("down");
};

describe("circuit breaker", () => {
  it("opens after N consecutive failures, fails fast, ignores 404/403, closes after the timeout", async () => {
    const source = scriptedSource();
    const breaker = withCircuitBreaker(source, { threshold: 5, timeoutMs: 300 });
    source.next = fail;
    for (let i = 0; i < 4; i++)
      await expect(breaker.lookup("t")).rejects.toBeInstanceOf(TenantSourceUnavailable);
    // Not-found is an answer: it resets the streak.
    source.next = async () => ({ kind: "not_found" });
    await breaker.lookup("t");
    source.next = async () => ({ kind: "suspended", status: "suspended" });
    await breaker.lookup("t");
    source.next = fail;
    for (let i = 0; i < 4; i++)
      await expect(breaker.lookup("t")).rejects.toBeInstanceOf(TenantSourceUnavailable);
    expect(breaker.state()).toBe("closed");
    await expect(breaker.lookup("t")).rejects.toBeInstanceOf(TenantSourceUnavailable);
    expect(breaker.state()).toBe("open");

    const calls = source.calls;
    const err = await breaker.lookup("t").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TenantSourceUnavailable);
    expect((err as TenantSourceUnavailable).retryAfterSec).toBe(1);
    expect(source.calls).toBe(calls);

    await new Promise((r) => setTimeout(r, 350));
    source.next = async () => ({ kind: "found", config: config("t") });
    expect(await breaker.lookup("t")).toMatchObject({ kind: "found" });
    expect(breaker.state()).toBe("closed");
    expect(source.calls).toBe(calls + 1);
  });

  it("a refused API key (not an outage) never opens it", async () => {
    const source = scriptedSource();
    const breaker = withCircuitBreaker(source, { threshold: 2, timeoutMs: 1000 });
    source.next = async () => {
      throw new TenantSourceUnavailable("refused", { countsForBreaker: false });
    };
    for (let i = 0; i < 5; i++) await expect(breaker.lookup("t")).rejects.toThrow("refused");
    expect(breaker.state()).toBe("closed");
    expect(source.calls).toBe(5);
  });

  it("a failed half-open probe reopens it", async () => {
    const source = scriptedSource();
    const breaker = withCircuitBreaker(source, { threshold: 1, timeoutMs: 100 });
    source.next = fail;
    await expect(breaker.lookup("t")).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 120));
    await expect(breaker.lookup("t")).rejects.toThrow();
    expect(breaker.state()).toBe("open");
  });
});

describe("configuration cache", () => {
  it("single-flights concurrent misses, caches found configs for the TTL, never caches 404/403", async () => {
    let clock = 0;
    const source = scriptedSource();
    let resolveLookup: (l: TenantLookup) => void = () => {};
    source.next = () => new Promise((r) => (resolveLookup = r));
    const cache = createConfigCache(source, { ttlMs: 1000, now: () => clock });
    const gets = Array.from({ length: 10 }, () => cache.get("t"));
    resolveLookup({ kind: "found", config: config("t") });
    const results = await Promise.all(gets);
    expect(new Set(results.map((r) => (r.kind === "found" ? r.config : r)))).toHaveProperty("size", 1);
    expect(source.calls).toBe(1);
    clock = 999;
    await cache.get("t");
    expect(source.calls).toBe(1);
    clock = 1000;
    source.next = async () => ({ kind: "not_found" });
    expect(await cache.get("t")).toEqual({ kind: "not_found" });
    expect(await cache.get("t")).toEqual({ kind: "not_found" });
    expect(source.calls).toBe(3);
    expect(cache.size()).toBe(0);
  });

  it("serves a stale config when the source is down, and invalidation wins over an in-flight load", async () => {
    let clock = 0;
    const source = scriptedSource();
    source.next = async () => ({ kind: "found", config: config("t") });
    const cache = createConfigCache(source, { ttlMs: 1000, now: () => clock });
    await cache.get("t");
    clock = 5000;
    source.next = fail;
    expect(await cache.get("t")).toMatchObject({ kind: "found" });
    expect(await cache.get("u").catch((e: unknown) => e)).toBeInstanceOf(TenantSourceUnavailable);

    let resolveLookup: (l: TenantLookup) => void = () => {};
    source.next = () => new Promise((r) => (resolveLookup = r));
    const inflight = cache.refresh("v");
    const generation = cache.generation("v");
    cache.invalidate("v");
    expect(cache.generation("v")).toBe(generation + 1);
    resolveLookup({ kind: "found", config: config("v") });
    await inflight;
    source.next = async () => ({ kind: "not_found" });
    // The load that raced the invalidation did not store its answer.
    expect(await cache.get("v")).toEqual({ kind: "not_found" });
  });

  it("TTL 0 disables caching but still single-flights", async () => {
    const source = scriptedSource();
    source.next = async () => ({ kind: "found", config: config("t") });
    const cache = createConfigCache(source, { ttlMs: 0 });
    await Promise.all([cache.get("t"), cache.get("t")]);
    await cache.get("t");
    expect(source.calls).toBe(2);
  });
});

describe("pool registry", () => {
  function fakePools() {
    const made: { tenantId: string; ended: number; pool: TenantPool }[] = [];
    const factory = (c: TenantConfig): TenantPool => {
      const rec = { tenantId: c.tenantId, ended: 0, pool: undefined as unknown as TenantPool };
      rec.pool = {
        db: { tenant: c.tenantId } as unknown as Database,
        ping: async () => {},
        end: async () => {
          rec.ended++;
        },
      };
      made.push(rec);
      return rec.pool;
    };
    return { made, factory };
  }
  const tick = () => new Promise((r) => setTimeout(r, 0));

  it("creates one pool per tenant even under concurrent acquires; release is idempotent", () => {
    const { made, factory } = fakePools();
    const reg = createPoolRegistry({ maxPools: 10, idleTimeoutMs: 1000, factory });
    const c = config("t");
    const leases = Array.from({ length: 20 }, () => reg.acquire(c));
    expect(made).toHaveLength(1);
    expect(reg.stats()).toMatchObject({ pools: 1, inFlight: 20 });
    for (const l of leases) {
      l.release();
      l.release();
    }
    expect(reg.stats().inFlight).toBe(0);
  });

  it("at the cap evicts the least recently used pool idle past the timeout, never a busy one, else grows", async () => {
    let clock = 0;
    const { made, factory } = fakePools();
    const reg = createPoolRegistry({ maxPools: 2, idleTimeoutMs: 1000, factory, now: () => clock });
    reg.acquire(config("a")).release();
    clock = 10;
    const busyB = reg.acquire(config("b"));
    clock = 500;
    // a idle for 490 ms only, b busy: grow past the cap.
    reg.acquire(config("c")).release();
    expect(reg.stats()).toMatchObject({ pools: 3, peakPools: 3, evicted: 0 });
    clock = 2000;
    // a (idle since 0) and c (since 500) are evictable; b is busy and stays; LRU first.
    reg.acquire(config("d")).release();
    await tick();
    expect(reg.stats().tenants.sort()).toEqual(["b", "d"]);
    expect(made.filter((m) => m.ended > 0).map((m) => m.tenantId)).toEqual(["a", "c"]);
    // The sweep never touches the busy pool, however long it has been held.
    clock = 100_000;
    reg.sweep();
    await tick();
    expect(reg.stats().tenants).toEqual(["b"]);
    busyB.release();
    clock = 100_999;
    expect(reg.sweep()).toBe(0);
    clock = 101_000;
    expect(reg.sweep()).toBe(1);
    await tick();
    expect(made.every((m) => m.ended === 1)).toBe(true);
    expect(reg.stats()).toMatchObject({ pools: 0, draining: 0 });
  });

  it("a removed pool is closed only after its last lease is released", async () => {
    const { made, factory } = fakePools();
    const reg = createPoolRegistry({ maxPools: 5, idleTimeoutMs: 1000, factory });
    const lease = reg.acquire(config("t"));
    const closed = reg.remove("t", "suspended");
    await tick();
    expect(made[0]?.ended).toBe(0);
    expect(reg.stats()).toMatchObject({ pools: 0, draining: 1, inFlight: 1 });
    // A new request gets a new pool; the old one keeps serving its lease.
    reg.acquire(config("t")).release();
    expect(made).toHaveLength(2);
    lease.release();
    await closed;
    expect(made[0]?.ended).toBe(1);
    expect(reg.stats().draining).toBe(0);
  });

  it("a stuck lease does not keep a retired pool open past the drain timeout", async () => {
    const { made, factory } = fakePools();
    const reg = createPoolRegistry({ maxPools: 5, idleTimeoutMs: 1000, factory, drainTimeoutMs: 30 });
    reg.acquire(config("t"));
    await reg.remove("t", "test");
    expect(made[0]?.ended).toBe(1);
  });

  it("replaces a pool for a newer configuration only, draining the old one", async () => {
    const { made, factory } = fakePools();
    const reg = createPoolRegistry({ maxPools: 5, idleTimeoutMs: 1000, factory });
    const old = config("t");
    const newer = config("t", { password: "rotated" });
    const lease = reg.acquire(old);
    await reg.replace(newer);
    expect(made).toHaveLength(2);
    expect(reg.configs()[0]?.fingerprint).toBe(newer.fingerprint);
    // A request still holding the older cached config does not swap back.
    const stale = reg.acquire(old);
    expect(stale.db).toBe(made[1]?.pool.db);
    stale.release();
    expect(made[0]?.ended).toBe(0);
    lease.release();
    await tick();
    expect(made[0]?.ended).toBe(1);
    expect(reg.stats()).toMatchObject({ pools: 1, replaced: 1 });
    // acquire() never swaps: it leases the live pool and tells the caller which config it has.
    const newest = reg.acquire(config("t", { password: "again" }));
    expect(newest.config.fingerprint).toBe(newer.fingerprint);
    newest.release();
    expect(reg.stats()).toMatchObject({ pools: 1, replaced: 1 });
  });

  it("counts a replacement pool as opening while it is pinged, before it is swapped in", async () => {
    const { factory } = fakePools();
    let answer: () => void = () => {};
    const slow = (c: TenantConfig): TenantPool => {
      const p = factory(c);
      return c.db.password === "rotated"
        ? { ...p, ping: () => new Promise<void>((resolve) => (answer = resolve)) }
        : p;
    };
    const reg = createPoolRegistry({ maxPools: 5, idleTimeoutMs: 1000, factory: slow });
    reg.acquire(config("t")).release();
    const replacing = reg.replace(config("t", { password: "rotated" }));
    await tick();
    expect(reg.stats()).toMatchObject({ pools: 1, opening: 1 });
    answer();
    await replacing;
    expect(reg.stats()).toMatchObject({ pools: 1, opening: 0, replaced: 1 });
    await reg.close();
  });

  it("keeps the old pool when the replacement cannot connect", async () => {
    const { made, factory } = fakePools();
    const failing = (c: TenantConfig): TenantPool => {
      const p = factory(c);
      return c.db.password === "bad"
        ? { ...p, ping: async () => Promise.reject(new Error("auth failed")) }
        : p;
    };
    const reg = createPoolRegistry({ maxPools: 5, idleTimeoutMs: 1000, factory: failing });
    reg.acquire(config("t")).release();
    await expect(reg.replace(config("t", { password: "bad" }))).rejects.toThrow(/auth failed/);
    expect(reg.configs()[0]?.db.password).not.toBe("bad");
    expect(made[0]?.ended).toBe(0);
    await reg.close();
    expect(made[0]?.ended).toBe(1);
  });
});

describe("tenants file", () => {
  const dir = mkdtempSync(join(tmpdir(), "verdict-tenants-"));
  const file = join(dir, "tenants.json");
  const uuid = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

  it("answers found / not found / suspended, canonicalising keys, and reloads when edited", async () => {
    writeFileSync(
      file,
      JSON.stringify({
        tenants: {
          acme: payload("acme"),
          [uuid.replaceAll("-", "").toUpperCase()]: payload(uuid),
          frozen: payload("frozen", { status: "suspended" }),
        },
      }),
    );
    const source = await createTenantsFileSource(file, SERVICE);
    expect(source.kind).toBe("file");
    expect(await source.lookup("acme")).toMatchObject({ kind: "found", config: { tenantId: "acme" } });
    expect(await source.lookup(uuid)).toMatchObject({ kind: "found", config: { tenantId: uuid } });
    expect(await source.lookup("frozen")).toEqual({ kind: "suspended", status: "suspended" });
    expect(await source.lookup("nobody")).toEqual({ kind: "not_found" });

    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(file, JSON.stringify({ tenants: { acme: payload("acme", { status: "suspended" }) } }));
    expect(await source.lookup("acme")).toMatchObject({ kind: "suspended" });
    expect(await source.lookup(uuid)).toEqual({ kind: "not_found" });
  });

  it("refuses a file with bad entries, naming each", async () => {
    writeFileSync(
      file,
      JSON.stringify({ tenants: { "bad id": payload("x"), ok: { ...payload("ok"), isolationMode: "rls" } } }),
    );
    await expect(createTenantsFileSource(file, SERVICE)).rejects.toThrow(/bad id[\s\S]*ok:/);
    writeFileSync(file, JSON.stringify([payload("x")]));
    await expect(createTenantsFileSource(file, SERVICE)).rejects.toThrow(/expected/);
  });
});

describe("streamed responses hold the tenant lease until the body is done", () => {
  it("releases buffered bodies at once, streamed ones at the end or on cancel", async () => {
    let released = 0;
    const release = () => released++;
    releaseAfterBody(
      new Response(JSON.stringify({ a: 1 }), { headers: { "content-type": "application/json" } }),
      release,
    );
    expect(released).toBe(1);
    const streamed = releaseAfterBody(
      new Response("line1\nline2\n", { headers: { "content-type": "application/x-ndjson" } }),
      release,
    );
    expect(released).toBe(1);
    expect(await streamed.text()).toBe("line1\nline2\n");
    expect(released).toBe(2);
    const cancelled = releaseAfterBody(
      new Response(new ReadableStream({ pull: () => new Promise(() => {}) }), {
        headers: { "content-type": "application/x-ndjson" },
      }),
      release,
    );
    await cancelled.body?.cancel();
    expect(released).toBe(3);
  });
});

describe("multi-tenant app without a database: forged tokens never reach the tenant manager", () => {
  let manager: FakeManager;
  beforeAll(async () => {
    manager = await startFakeManager();
    manager.tenants.set("acme", { payload: payload("acme"), behaviour: "ok" });
  });
  afterAll(async () => {
    await manager.close();
  });

  it("answers 401 for every forgery and bad claim, with zero manager calls", async () => {
    // No query ever runs: postgres.js connects lazily, and every request here stops at auth.
    const t = await createMtApp("postgres://nobody@127.0.0.1:1/none", manager);
    try {
      const bearer = (s: string) => ({ Authorization: `Bearer ${s}` });
      const headers: Record<string, string>[] = [
        {},
        bearer(
          new UnsecuredJWT({ tenantId: "acme", aud: AUDIENCE })
            .setSubject("u")
            .setExpirationTime("5m")
            .encode(),
        ),
        bearer(await signTestJwt({ tenantId: "acme", aud: AUDIENCE }, { secret: "x".repeat(40) })),
        bearer(await signTestJwt({ tenantId: "acme", aud: "other" })),
        bearer(await signTestJwt({ tenantId: "acme", aud: AUDIENCE }, { expiresIn: null })),
        { "X-Tenant-ID": "acme" },
      ];
      for (const claim of [undefined, 7, ["acme"], { id: "acme" }, "", "a:b", "x".repeat(65)]) {
        const claims: Record<string, unknown> = { aud: AUDIENCE };
        if (claim !== undefined) claims.tenantId = claim;
        headers.push({ ...bearer(await signTestJwt(claims)), "X-Tenant-ID": "acme" });
      }
      for (const h of headers) {
        const res = await t.app.request("/v1/rules?tenantId=acme", { headers: h });
        expect(res.status).toBe(401);
        expect(((await res.json()) as { code: string }).code).toBe("UNAUTHENTICATED");
      }
      expect(manager.calls).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it("multi-tenant mode refuses to boot without JWT configuration", () => {
    expect(() =>
      loadConfig({
        MULTI_TENANT_ENABLED: "true",
        MULTI_TENANT_TENANTS_FILE: "t.json",
        DATABASE_URL: FAKE_URL,
      }),
    ).toThrow(/MULTI_TENANT_ENABLED: requires JWT/);
  });
});
