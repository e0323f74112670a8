/**
 * Issue 5's done-when test: concurrent consumption of one DAILY limit never overshoots it, whether
 * through the store's atomic `checkAndAdd` or through POST /v1/validations (lockCounters +
 * addToCounters in the group commit), from two connection pools / two app instances.
 *
 * On PostgreSQL (TEST_DATABASE_URL) the two pools are two independent postgres.js clients on the
 * same scratch database, so the database's row locks are what keeps usage exact. On PGlite there
 * is a single in-process connection: the same assertions hold, but the concurrency is only that of
 * interleaved async callers, which is why the test names say so.
 */
import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDatabase, type DatabaseHandle } from "../src/db/connect.js";
import type { Database } from "../src/db/database.js";
import { checkAndAdd } from "../src/limits/limits.store.js";
import { limitCounters } from "../src/limits/limits.table.js";
import { periodFor } from "../src/limits/period.js";
import {
  createTestApp,
  openTestDatabase,
  type TestApp,
  type TestDatabase,
  testDatabaseUrl,
} from "./harness.js";

const onPostgres = testDatabaseUrl !== undefined;
const POOLS = onPostgres
  ? "two independent PostgreSQL pools"
  : "one PGlite handle (true multi-pool concurrency needs PostgreSQL: set TEST_DATABASE_URL)";

interface Limit {
  limitId: string;
  timezone: string;
  maxAmount: string;
}

interface Detail {
  limitId: string;
  limitAmount: string;
  currentUsage: string;
  attemptedAmount: string;
  exceeded: boolean;
  remaining: string;
}

interface ValidationResponse {
  decision: "ALLOW" | "DENY" | "REVIEW";
  reason: string;
  limitUsageDetails: Detail[];
}

/** Exact cents of a non-negative decimal string with at most 2 decimals ("994.00" → 99400n). */
function cents(value: string): bigint {
  const match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(value);
  if (!match) throw new Error(`not a 2-decimal amount: ${value}`);
  return BigInt(match[1]!) * 100n + BigInt((match[2] ?? "").padEnd(2, "0"));
}

/** 12345n → "123.45". */
function fromCents(value: bigint): string {
  const s = value.toString().padStart(3, "0");
  return `${s.slice(0, -2)}.${s.slice(-2)}`;
}

/**
 * An IANA zone whose local time is now about noon, so a DAILY period cannot roll over while the
 * test runs (Etc/GMT-N is UTC+N).
 */
function noonZone(): string {
  let offset = 12 - new Date().getUTCHours();
  if (offset > 12) offset -= 24;
  if (offset < -12) offset += 24;
  return offset === 0 ? "Etc/GMT" : offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
}

async function ok<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function activeLimit(app: TestApp, body: Record<string, unknown>): Promise<Limit> {
  const created = await ok<Limit>(
    await app.request("POST", "/v1/limits", {
      name: `Concurrency ${randomUUID().slice(0, 8)}`,
      limitType: "DAILY",
      currency: "BRL",
      timezone: noonZone(),
      ...body,
    }),
    201,
  );
  return ok<Limit>(await app.request("POST", `/v1/limits/${created.limitId}/activate`));
}

/** A second, independent pool on the same database (PostgreSQL), or the same handle (PGlite). */
async function secondPool(db: TestDatabase): Promise<DatabaseHandle | undefined> {
  if (!db.url) return undefined;
  return connectDatabase({ kind: "postgres", url: db.url }, { migrate: false });
}

async function counterUsage(db: Database, limitId: string, periodKey?: string): Promise<bigint> {
  const rows = await db
    .select({ usage: limitCounters.usage, periodKey: limitCounters.periodKey })
    .from(limitCounters)
    .where(eq(limitCounters.limitId, limitId));
  return rows
    .filter((r) => periodKey === undefined || r.periodKey === periodKey)
    .reduce((sum, r) => sum + cents(r.usage), 0n);
}

describe(`checkAndAdd from ${POOLS}`, () => {
  let db: TestDatabase;
  let app: TestApp;
  let other: DatabaseHandle | undefined;
  let pools: Database[];

  beforeAll(async () => {
    db = await openTestDatabase();
    app = await createTestApp({}, { existing: db });
    other = await secondPool(db);
    pools = [db.handle.db, (other ?? db.handle).db];
  });
  afterAll(async () => {
    await app.close();
    await other?.close();
    await db.close();
  });

  it(`200 concurrent consumptions of 7.00 against a 1000.00 DAILY limit, each in its own transaction, from ${POOLS}: exactly 142 succeed, usage ends at exactly 994.00, never above 1000.00`, async () => {
    const account = randomUUID();
    const limit = await activeLimit(app, { maxAmount: "1000.00", scopes: [{ accountId: account }] });
    const period = periodFor({ limitType: "DAILY", timezone: limit.timezone }, new Date())!;
    const delta = {
      limitId: limit.limitId,
      scopeKey: `acct:${account}`,
      periodKey: period.periodKey,
      amount: "7.00",
      maxAmount: "1000.00",
      periodStart: period.start,
      resetAt: period.resetAt,
    };

    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        pools[i % pools.length]!.transaction((tx) => checkAndAdd(tx, "default", delta)),
      ),
    );

    const successes = results.filter((r): r is string => r !== null);
    expect(successes).toHaveLength(142);
    expect(results.filter((r) => r === null)).toHaveLength(58);
    // No overshoot ever: every usage a consumer saw is <= 1000.00, and the successes saw each
    // multiple of 7.00 exactly once (7.00, 14.00, ..., 994.00): no lost or doubled update.
    for (const usage of successes) expect(cents(usage)).toBeLessThanOrEqual(100_000n);
    const seen = successes.map(cents).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(seen).toEqual(Array.from({ length: 142 }, (_, k) => BigInt(k + 1) * 700n));

    expect(fromCents(await counterUsage(db.handle.db, limit.limitId, period.periodKey))).toBe("994.00");
    const usage = await ok<{ currentUsage: string; periodKey: string }>(
      await app.request("GET", `/v1/limits/${limit.limitId}/usage`),
    );
    expect(usage).toMatchObject({ currentUsage: "994.00", periodKey: period.periodKey });

    // Full: even the smallest amount is refused now, and an amount above the maximum is refused
    // up front (a fresh counter row would otherwise skip the upsert's guard).
    expect(await checkAndAdd(db.handle.db, "default", { ...delta, amount: "6.01" })).toBeNull();
    expect(await checkAndAdd(db.handle.db, "default", { ...delta, amount: "6.00" })).toBe("1000.00");
    expect(await checkAndAdd(db.handle.db, "default", { ...delta, amount: "0.01" })).toBeNull();
    expect(
      await checkAndAdd(db.handle.db, "default", {
        ...delta,
        scopeKey: `acct:${randomUUID()}`,
        amount: "1000.01",
      }),
    ).toBeNull();
  }, 120_000);

  it(`property: concurrent random amounts from ${POOLS} — successes sum exactly to the final usage, which is <= max, and every refused amount really did not fit`, async () => {
    const money = (min: number, max: number) => fc.integer({ min, max }).map((c) => fromCents(BigInt(c)));
    await fc.assert(
      fc.asyncProperty(
        money(1, 50_000),
        fc.array(money(1, 20_000), { minLength: 1, maxLength: 40 }),
        async (max, amounts) => {
          const limitId = randomUUID();
          const base = {
            limitId,
            scopeKey: "global",
            periodKey: "2026-01-01",
            maxAmount: max,
            periodStart: new Date("2026-01-01T00:00:00Z"),
            resetAt: new Date("2026-01-02T00:00:00Z"),
          };
          const results = await Promise.all(
            amounts.map((amount, i) =>
              pools[i % pools.length]!.transaction((tx) => checkAndAdd(tx, "default", { ...base, amount })),
            ),
          );
          const final = await counterUsage(db.handle.db, limitId);
          const succeeded = amounts.filter((_, i) => results[i] !== null);
          const refused = amounts.filter((_, i) => results[i] === null);
          expect(succeeded.reduce((sum, a) => sum + cents(a), 0n)).toBe(final);
          expect(final).toBeLessThanOrEqual(cents(max));
          for (const r of results) if (r !== null) expect(cents(r)).toBeLessThanOrEqual(cents(max));
          // Usage only grows, so an amount refused at any point still does not fit at the end.
          for (const a of refused) expect(final + cents(a)).toBeGreaterThan(cents(max));
        },
      ),
      { numRuns: 30 },
    );
  }, 180_000);
});

describe(`POST /v1/validations on two app instances sharing one database (${POOLS})`, () => {
  let db: TestDatabase;
  let other: DatabaseHandle | undefined;
  let apps: TestApp[];

  beforeAll(async () => {
    db = await openTestDatabase();
    other = await secondPool(db);
    const second: TestDatabase = other ? { handle: other, url: db.url, close: async () => {} } : db;
    // Catalog reads are re-checked on every validation, so the instance that did not create a
    // limit sees it at once (CONTRACT §3 allows up to one second; these tests should not wait).
    apps = [
      await createTestApp({}, { existing: db, domain: { catalogPollMs: 0 } }),
      await createTestApp({}, { existing: second, domain: { catalogPollMs: 0 } }),
    ];
  });
  afterAll(async () => {
    for (const app of apps ?? []) await app.close();
    await other?.close();
    await db.close();
  });

  const validate = (app: TestApp, accountId: string, amount: string) =>
    app.request("POST", "/v1/validations", {
      requestId: randomUUID(),
      transactionType: "PIX",
      amount,
      currency: "BRL",
      transactionTimestamp: new Date().toISOString(),
      account: { accountId },
    });

  it(`200 concurrent validations of 7.00 against a 1000.00 DAILY limit, split across both apps: 142 ALLOW, 58 DENY limit_exceeded, usage 994.00, audit chain valid`, async () => {
    const [a, b] = apps as [TestApp, TestApp];
    const account = randomUUID();
    const limit = await activeLimit(a, { maxAmount: "1000.00", scopes: [{ accountId: account }] });
    const eventsBefore = 2; // LIMIT_CREATED, LIMIT_ACTIVATED

    const responses = await Promise.all(
      Array.from({ length: 200 }, async (_, i) =>
        ok<ValidationResponse>(await validate(i % 2 === 0 ? a : b, account, "7.00"), 201),
      ),
    );

    const allowed = responses.filter((r) => r.decision === "ALLOW");
    const denied = responses.filter((r) => r.decision === "DENY");
    expect(allowed).toHaveLength(142);
    expect(denied).toHaveLength(58);
    expect(responses.filter((r) => r.decision === "REVIEW")).toHaveLength(0);
    for (const r of denied) {
      expect(r.reason).toBe("limit_exceeded");
      // Refused only once the counter held 994.00: nothing was refused that still fitted.
      expect(r.limitUsageDetails).toEqual([
        expect.objectContaining({
          limitId: limit.limitId,
          exceeded: true,
          currentUsage: "994.00",
          remaining: "6.00",
        }),
      ]);
    }
    // Each ALLOW saw its own projected usage: 7.00, 14.00, ..., 994.00, each exactly once.
    const projected = allowed
      .map((r) => {
        expect(r.limitUsageDetails).toHaveLength(1);
        const detail = r.limitUsageDetails[0]!;
        expect(detail).toMatchObject({ limitId: limit.limitId, exceeded: false, attemptedAmount: "7.00" });
        return cents(detail.currentUsage);
      })
      .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    expect(projected).toEqual(Array.from({ length: 142 }, (_, k) => BigInt(k + 1) * 700n));

    for (const app of apps) {
      const usage = await ok<{ currentUsage: string; utilizationPercent: number; nearLimit: boolean }>(
        await app.request("GET", `/v1/limits/${limit.limitId}/usage`),
      );
      expect(usage).toMatchObject({ currentUsage: "994.00", utilizationPercent: 99.4, nearLimit: true });
    }
    expect(fromCents(await counterUsage(db.handle.db, limit.limitId))).toBe("994.00");

    const verify = await ok<{ isValid: boolean; totalChecked: number }>(
      await b.request("GET", "/v1/audit-events/verify"),
    );
    expect(verify).toMatchObject({ isValid: true, totalChecked: eventsBefore + 200 });
    const events = await ok<{ auditEvents: { eventType: string; result: string; sequence: number }[] }>(
      await a.request("GET", "/v1/audit-events?event_type=TRANSACTION_VALIDATED&limit=1000&sort_order=asc"),
    );
    expect(events.auditEvents).toHaveLength(200);
    expect(events.auditEvents.filter((e) => e.result === "ALLOW")).toHaveLength(142);
    expect(events.auditEvents.filter((e) => e.result === "DENY")).toHaveLength(58);
    expect(events.auditEvents.map((e) => e.sequence)).toEqual(
      Array.from({ length: 200 }, (_, i) => eventsBefore + 1 + i),
    );
  }, 120_000);

  it(`property: random concurrent validations on both apps (${POOLS}) — ALLOW amounts sum exactly to the usage, which stays <= max`, async () => {
    const [a] = apps as [TestApp, TestApp];
    const money = (min: number, max: number) => fc.integer({ min, max }).map((c) => fromCents(BigInt(c)));
    await fc.assert(
      fc.asyncProperty(
        money(1, 30_000),
        fc.array(money(1, 10_000), { minLength: 1, maxLength: 25 }),
        async (max, amounts) => {
          const account = randomUUID();
          const limit = await activeLimit(a, { maxAmount: max, scopes: [{ accountId: account }] });
          const responses = await Promise.all(
            amounts.map(async (amount, i) =>
              ok<ValidationResponse>(await validate(apps[i % 2]!, account, amount), 201),
            ),
          );
          const usage = await ok<{ currentUsage: string }>(
            await a.request("GET", `/v1/limits/${limit.limitId}/usage`),
          );
          const final = cents(usage.currentUsage);
          let allowedSum = 0n;
          responses.forEach((r, i) => {
            const amount = cents(amounts[i]!);
            if (r.decision === "ALLOW") allowedSum += amount;
            else {
              expect(r).toMatchObject({ decision: "DENY", reason: "limit_exceeded" });
              expect(final + amount).toBeGreaterThan(cents(max));
            }
          });
          expect(allowedSum).toBe(final);
          expect(final).toBeLessThanOrEqual(cents(max));
        },
      ),
      { numRuns: 15 },
    );
    const verify = await ok<{ isValid: boolean }>(await a.request("GET", "/v1/audit-events/verify"));
    expect(verify.isValid).toBe(true);
  }, 240_000);
});
