/**
 * The leak test of issue 7: 30 tenants (15 in database mode, 15 in schema mode), at most 8 tenant
 * pools (soft cap), 20 concurrent clients per tenant creating rules and validating transactions
 * for TENANCY_LEAK_DURATION_SEC (default 30 s), with the passwords of the tenants busy half-way
 * rotated (their pools replaced and drained under load). Then: every tenant sees exactly its own data,
 * every audit chain verifies, no request failed (a pool closed under a request would show up as
 * a 5xx), and the PostgreSQL connections sampled every 200 ms never exceeded the budget.
 *
 * Tenants are busy in rotating waves (each tenant's 20 clients run for 2 s in every 10 s, so
 * about 6 tenants and 120 clients at a time): a tenant that never goes idle can never be evicted,
 * so only a duty cycle makes pools go idle past MULTI_TENANT_IDLE_TIMEOUT_SEC (1 s here), get
 * evicted under cap pressure or by the sweep, and be re-created on the tenant's next wave, under
 * load.
 */
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normaliseTenantConfig } from "../src/tenancy/tenant-config.js";
import { testDatabaseUrl } from "./harness.js";
import {
  createDatabase,
  createMtApp,
  dropDatabases,
  type FakeManager,
  type MtApp,
  readJson,
  SERVICE,
  startFakeManager,
  tenantPayload,
  validationBody,
} from "./tenancy.fixtures.js";

const DURATION_MS = Number(process.env.TENANCY_LEAK_DURATION_SEC || 30) * 1000;
const TENANTS = 30;
const CLIENTS = 20;
const MAX_POOLS = 8;
const PER_POOL = 2;
/** Each tenant is busy for DUTY of every PERIOD_MS (at least three waves per run, ≤ 10 s apart). */
const PERIOD_MS = Math.min(10_000, Math.max(4_000, DURATION_MS / 3));
const DUTY = 0.2;
const SAMPLE_MS = 200;
/** Credential rotations half-way (each briefly doubles one tenant's connections). */
const MAX_ROTATED = 6;
/** Provisioning runs up to 4 at a time, one connection each (provision.ts). */
const PROVISION_CONNECTIONS = 4;

const adminUrl = testDatabaseUrl ?? "";
const nonce = randomUUID().replaceAll("-", "").slice(0, 8);
const prefix = `vtmt_${nonce}_`;
const sharedDb = `${prefix}shared`;

interface TenantLog {
  id: string;
  rules: Set<string>;
  activations: number;
  validations: Set<string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(!!testDatabaseUrl)("leak test: 30 tenants, 8 pools, 20 clients each", () => {
  let manager: FakeManager;
  let t: MtApp;
  const tenants: TenantLog[] = [];

  beforeAll(async () => {
    manager = await startFakeManager();
    await createDatabase(adminUrl, sharedDb);
    for (let i = 0; i < TENANTS; i++) {
      const id = `leak${nonce}-${String(i).padStart(2, "0")}`;
      const target =
        i % 2 === 0
          ? ({ mode: "database", database: `${prefix}d${i}` } as const)
          : ({ mode: "schema", database: sharedDb, schema: `leak_${nonce}_${i}` } as const);
      manager.tenants.set(id, {
        payload: tenantPayload(adminUrl, id, target, { maxOpenConns: PER_POOL }),
        behaviour: "ok",
      });
      tenants.push({ id, rules: new Set(), activations: 0, validations: new Set() });
    }
    t = await createMtApp(
      adminUrl,
      manager,
      {
        MULTI_TENANT_MAX_TENANT_POOLS: String(MAX_POOLS),
        MULTI_TENANT_IDLE_TIMEOUT_SEC: "1",
        MULTI_TENANT_CONNECTIONS_CHECK_INTERVAL_SEC: "5",
        MULTI_TENANT_CACHE_TTL_SEC: "3",
      },
      // 600 clients on 16 connections and two slow cores can queue a commit past the default 5 s;
      // "no failed request" is about pools closed under requests, not about that capacity.
      { commitTimeoutMs: 30_000 },
    );
    // Provisioning ahead of the run (what `verdict tenants provision` does), so the measured
    // phase is all traffic; the request path would otherwise do it on first use.
    await Promise.all(
      tenants.map((x) =>
        t.tenants.provisioner.ensure(
          normaliseTenantConfig(manager.tenants.get(x.id)?.payload, x.id, SERVICE),
        ),
      ),
    );
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await manager?.close();
    await dropDatabases(adminUrl, prefix);
  }, 60_000);

  /**
   * `duty` 1 is the issue's literal workload (all 20 clients of all 30 tenants busy for the whole
   * run: no pool is ever idle, so none can be evicted and the soft cap is exceeded by design);
   * 0.2 runs tenants in rotating waves so that idle pools are evicted and re-created under load.
   */
  async function leakPhase(duty: number): Promise<void> {
    const waves = duty < 1;
    const evictedBefore = t.tenants.registry.stats().evicted;
    const failures = new Map<string, number>();
    const fail = (what: string) => failures.set(what, (failures.get(what) ?? 0) + 1);
    const start = Date.now();
    const end = start + DURATION_MS;
    const active = (i: number, at: number) => !waves || ((at - start) / PERIOD_MS + i / TENANTS) % 1 < duty;

    // Connection sampler: every tenant connection is to one of this run's databases.
    const sampler = postgres(adminUrl, { max: 1, onnotice: () => {} });
    const samples: { conns: number; bound: number; pools: number }[] = [];
    let sampling = true;
    const sampling$ = (async () => {
      // Pools count from when a rotation opens and pings them (before they are swapped in). A pool
      // or a provisioning that ended since the last sample may still have backends listed:
      // PostgreSQL drops a backend from pg_stat_activity only once that process has exited. So both
      // count for one more sample.
      let livePreviously = 0;
      let provisioningPreviously = 0;
      while (sampling) {
        const before = t.tenants.registry.stats();
        const provisioningBefore = t.tenants.provisioner.active;
        const [row] = await sampler<{ n: number }[]>`
            select count(*)::int as n from pg_stat_activity where datname like ${`${prefix}%`}`;
        const after = t.tenants.registry.stats();
        const live = Math.max(
          before.pools + before.draining + before.opening,
          after.pools + after.draining + after.opening,
        );
        const provisioning = Math.max(provisioningBefore, t.tenants.provisioner.active);
        samples.push({
          conns: row?.n ?? 0,
          bound:
            Math.max(live, livePreviously) * PER_POOL + Math.max(provisioning, provisioningPreviously) * 2,
          pools: Math.max(before.pools, after.pools),
        });
        livePreviously = live;
        provisioningPreviously = provisioning;
        await sleep(SAMPLE_MS);
      }
    })();

    async function client(i: number, c: number): Promise<void> {
      const log = tenants[i]!;
      const accountId = randomUUID();
      let n = 0;
      while (Date.now() < end) {
        if (!active(i, Date.now())) {
          await sleep(50);
          continue;
        }
        n++;
        try {
          if (n % 2 === 0) {
            const res = await t.as(log.id, "POST", "/v1/validations", validationBody(accountId, "10.00"));
            if (res.status !== 201) {
              fail(`validation ${res.status} ${await res.text()}`);
              continue;
            }
            log.validations.add(((await res.json()) as { validationId: string }).validationId);
          } else {
            const name = `leak-${log.id}-${c}-${n}-${randomUUID().slice(0, 8)}`;
            const res = await t.as(log.id, "POST", "/v1/rules", {
              name,
              expression: { ">": [{ var: "amount" }, 1_000_000_000] },
              action: "DENY",
            });
            if (res.status !== 201) {
              fail(`rule ${res.status} ${await res.text()}`);
              continue;
            }
            log.rules.add(name);
            if (n % 10 === 1) {
              const { ruleId } = (await res.json()) as { ruleId: string };
              const act = await t.as(log.id, "POST", `/v1/rules/${ruleId}/activate`);
              if (act.status !== 200) fail(`activate ${act.status} ${await act.text()}`);
              else log.activations++;
            }
          }
        } catch (err) {
          fail(`thrown ${(err as Error).message}`);
        }
      }
    }

    // Half-way, rotate the password (trust auth accepts any) of up to MAX_ROTATED tenants busy at
    // that moment and revalidate at once: their pools are replaced and drained with requests in
    // flight, which must not fail a single request. While a pool drains, its replacement is open
    // too, so each rotation adds one pool's connections to the budget for a moment.
    let rotated = 0;
    const rotation = setTimeout(() => {
      tenants.forEach((log, i) => {
        if (!active(i, Date.now()) || rotated >= MAX_ROTATED) return;
        const pg = (
          manager.tenants.get(log.id)!.payload.databases as Record<
            string,
            { postgresql: { password: string } }
          >
        )[SERVICE]!.postgresql;
        pg.password = `rotated-${nonce}`;
        rotated++;
      });
      void t.tenants.revalidateAll();
    }, DURATION_MS / 2);
    await Promise.all(tenants.flatMap((_, i) => Array.from({ length: CLIENTS }, (_, c) => client(i, c))));
    clearTimeout(rotation);
    sampling = false;
    await sampling$;
    const stats = t.tenants.registry.stats();

    // Nothing failed: in particular no request saw its pool closed under it.
    expect(Object.fromEntries(failures)).toEqual({});

    // Every tenant sees exactly its own data, and its audit chain verifies.
    for (const log of tenants) {
      const names: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { rules: { name: string }[]; nextCursor: string | null } = await readJson(
          await t.as(
            log.id,
            "GET",
            `/v1/rules?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
          ),
          200,
        );
        names.push(...page.rules.map((r) => r.name));
        cursor = page.nextCursor;
      } while (cursor);
      expect(names.length, log.id).toBe(log.rules.size);
      expect(new Set(names), log.id).toEqual(log.rules);

      const validations: string[] = [];
      cursor = null;
      do {
        const page: { transactionValidations: { validationId: string }[]; nextCursor: string | null } =
          await readJson(
            await t.as(
              log.id,
              "GET",
              `/v1/validations?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
            ),
            200,
          );
        validations.push(...page.transactionValidations.map((v) => v.validationId));
        cursor = page.nextCursor;
      } while (cursor);
      expect(new Set(validations), log.id).toEqual(log.validations);

      const verify = await readJson<{ isValid: boolean; totalChecked: number }>(
        await t.as(log.id, "GET", "/v1/audit-events/verify"),
        200,
      );
      expect(verify, log.id).toMatchObject({
        isValid: true,
        totalChecked: log.rules.size + log.activations + log.validations.size,
      });
    }

    // In waves, pools were evicted and re-created under load, not just created once per tenant.
    if (waves) {
      expect(stats.evicted).toBeGreaterThan(evictedBefore);
      expect(stats.created).toBeGreaterThan(TENANTS);
    }
    expect(rotated).toBeGreaterThan(0);
    expect(stats.replaced).toBeGreaterThan(0);

    // Connections: never above what the live and draining pools may hold (no connection outlives
    // its pool), and never above the configured budget.
    const peak = Math.max(...samples.map((s) => s.conns));
    const budget = (TENANTS + MAX_ROTATED) * PER_POOL + PROVISION_CONNECTIONS;
    const worst = samples.reduce((w, s) => Math.max(w, s.conns - s.bound), Number.NEGATIVE_INFINITY);
    const report = {
      workload: waves ? `waves (duty ${duty})` : "continuous",
      durationMs: DURATION_MS,
      requests: tenants.reduce((n, x) => n + x.rules.size + x.activations + x.validations.size, 0),
      samples: samples.length,
      peakConnections: peak,
      budget,
      capArithmetic: MAX_POOLS * PER_POOL,
      peakPools: stats.peakPools,
      peakPoolsSampled: Math.max(...samples.map((s) => s.pools)),
      created: stats.created,
      evicted: stats.evicted,
      rotated,
      replaced: stats.replaced,
      worstExcessOverLivePools: worst,
    };
    console.log("tenancy leak test", JSON.stringify(report));
    expect(samples.length).toBeGreaterThan(DURATION_MS / SAMPLE_MS / 2);
    expect(peak).toBeLessThanOrEqual(budget);
    // One pool's worth of slack: a backend of a pool that has just ended may still be listed.
    expect(worst).toBeLessThanOrEqual(PER_POOL);

    // Once traffic stops, idle pools are swept and every connection is gone.
    await sleep(1_600);
    t.tenants.registry.sweep();
    await sleep(500);
    expect(t.tenants.registry.stats()).toMatchObject({ pools: 0, draining: 0, inFlight: 0 });
    const [row] = await sampler<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity where datname like ${`${prefix}%`}`;
    expect(row?.n).toBe(0);
    await sampler.end();
  }

  it(
    "continuous: 20 clients per tenant on all 30 tenants for the whole run; tenants apart, chains valid, no failed request, connections within budget",
    () => leakPhase(1),
    DURATION_MS + 120_000,
  );

  it(
    "waves: idle pools evicted and re-created under load; same guarantees",
    () => leakPhase(DUTY),
    DURATION_MS + 120_000,
  );
});
