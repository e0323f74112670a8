/**
 * GET /v1/limits/{id}/usage: the current period only, per scope key (CONTRACT §4; tracer.md §3.3.9
 * with the Tracer bug #2290 fixed: past periods and other scope keys are not summed together).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { limitCounters } from "../src/limits/limits.table.js";
import { createTestApp, type TestApp } from "./harness.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

interface Usage {
  limitId: string;
  limitAmount: string;
  currentUsage: string;
  utilizationPercent: number;
  nearLimit: boolean;
  resetAt: string | null;
  periodKey: string | null;
  scopes: { scopeKey: string; currentUsage: string }[];
}

interface Limit {
  limitId: string;
  maxAmount: string;
  currency: string;
  timezone: string;
  resetAt: string | null;
  status: string;
}

interface ValidationResponse {
  decision: "ALLOW" | "DENY" | "REVIEW";
  reason: string;
  limitUsageDetails: { limitId: string; exceeded: boolean; currentUsage: string }[];
}

type Body = Record<string, unknown>;
type ScopeUsage = Usage["scopes"][number];
/** The breakdown in scope-key order (the contract does not fix the order of the array). */
const byKey = (scopes: ScopeUsage[]) => [...scopes].sort((x, y) => (x.scopeKey < y.scopeKey ? -1 : 1));
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let counter = 0;

async function ok<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function activeLimit(body: Body): Promise<Limit> {
  const limit = await ok<Limit>(
    await t.request("POST", "/v1/limits", {
      name: `Usage ${Date.now().toString(36)}-${++counter}`,
      currency: "BRL",
      ...body,
    }),
    201,
  );
  return ok<Limit>(await t.request("POST", `/v1/limits/${limit.limitId}/activate`));
}

async function validate(accountId: string, amount: string, currency = "BRL"): Promise<ValidationResponse> {
  return ok<ValidationResponse>(
    await t.request("POST", "/v1/validations", {
      requestId: randomUUID(),
      transactionType: "PIX",
      amount,
      currency,
      transactionTimestamp: new Date().toISOString(),
      account: { accountId },
    }),
    201,
  );
}

async function usage(limitId: string): Promise<Usage> {
  return ok<Usage>(await t.request("GET", `/v1/limits/${limitId}/usage`));
}

/**
 * Local calendar facts of an instant in a zone with a fixed UTC offset (America/Sao_Paulo has been
 * UTC-03:00 all year since 2019, Asia/Tokyo UTC+09:00 since 1951), computed by plain offset
 * arithmetic — independently of the period module under test.
 */
function fixedOffsetCalendar(ms: number, offsetHours: number) {
  const local = new Date(ms + offsetHours * HOUR);
  const y = local.getUTCFullYear();
  const m = local.getUTCMonth();
  const d = local.getUTCDate();
  const localMidnightUtc = (year: number, month: number, day: number) =>
    new Date(Date.UTC(year, month, day) - offsetHours * HOUR).toISOString();
  const pad = (n: number) => String(n).padStart(2, "0");
  // ISO week: the week (Monday-based) belongs to the year of its Thursday.
  const dow = (local.getUTCDay() + 6) % 7; // 0 = Monday
  const thursday = new Date(Date.UTC(y, m, d - dow + 3));
  const isoYear = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / (7 * DAY)) + 1;
  return {
    dayKey: `${y}-${pad(m + 1)}-${pad(d)}`,
    yesterdayKey: (() => {
      const p = new Date(Date.UTC(y, m, d - 1));
      return `${p.getUTCFullYear()}-${pad(p.getUTCMonth() + 1)}-${pad(p.getUTCDate())}`;
    })(),
    nextMidnight: localMidnightUtc(y, m, d + 1),
    dayStart: new Date(Date.UTC(y, m, d) - offsetHours * HOUR),
    weekKey: `${isoYear}-W${pad(week)}`,
    nextMonday: localMidnightUtc(y, m, d - dow + 7),
    monthKey: `${y}-${pad(m + 1)}`,
    nextMonthStart: localMidnightUtc(y, m + 1, 1),
  };
}

/**
 * Runs `read` and checks it against the expectation computed just before and just after it, so a
 * period boundary crossed while the test runs cannot make it flaky.
 */
async function expectAround<T>(read: () => Promise<T>, expected: (ms: number) => Partial<T>): Promise<T> {
  const before = Date.now();
  const value = await read();
  const after = Date.now();
  const candidates = [expected(before), expected(after)];
  expect(
    candidates.some((c) => Object.entries(c).every(([k, v]) => (value as Record<string, unknown>)[k] === v)),
    `${JSON.stringify(value)} matches none of ${JSON.stringify(candidates)}`,
  ).toBe(true);
  return value;
}

describe("GET /v1/limits/{id}/usage", () => {
  it("PER_TRANSACTION: zero usage, no period, no resetAt", async () => {
    const limit = await activeLimit({
      limitType: "PER_TRANSACTION",
      maxAmount: "50",
      scopes: [{ accountId: randomUUID() }],
    });
    expect(await usage(limit.limitId)).toEqual({
      limitId: limit.limitId,
      limitAmount: "50.00",
      currentUsage: "0.00",
      utilizationPercent: 0,
      nearLimit: false,
      resetAt: null,
      periodKey: null,
      scopes: [],
    });
    const jpy = await activeLimit({
      limitType: "PER_TRANSACTION",
      currency: "JPY",
      maxAmount: "5000",
      scopes: [{ accountId: randomUUID() }],
    });
    expect(await usage(jpy.limitId)).toMatchObject({ limitAmount: "5000", currentUsage: "0" });
  });

  it("a fresh DAILY limit reports zero usage for today", async () => {
    const limit = await activeLimit({
      limitType: "DAILY",
      maxAmount: "100.00",
      scopes: [{ accountId: randomUUID() }],
    });
    await expectAround(
      () => usage(limit.limitId),
      (ms) => ({
        limitAmount: "100.00",
        currentUsage: "0.00",
        utilizationPercent: 0,
        nearLimit: false,
        periodKey: fixedOffsetCalendar(ms, 0).dayKey,
        resetAt: fixedOffsetCalendar(ms, 0).nextMidnight,
      }),
    );
    expect((await usage(limit.limitId)).scopes).toEqual([]);
  });

  it("DAILY in America/Sao_Paulo scoped to two accounts: per-scope-key breakdown, total, 80 % is not near, above is", async () => {
    const accountA = randomUUID();
    const accountB = randomUUID();
    const limit = await activeLimit({
      limitType: "DAILY",
      maxAmount: "100.00",
      timezone: "America/Sao_Paulo",
      scopes: [{ accountId: accountA }, { accountId: accountB }],
    });
    expect((await validate(accountA, "30.00")).decision).toBe("ALLOW");
    expect((await validate(accountA, "10")).decision).toBe("ALLOW");
    expect((await validate(accountB, "40.00")).decision).toBe("ALLOW");
    // Another account, another currency: neither is this limit's business.
    expect((await validate(randomUUID(), "5.00")).limitUsageDetails).toEqual([]);
    expect((await validate(accountA, "7.00", "USD")).limitUsageDetails).toEqual([]);

    const at80 = await expectAround(
      () => usage(limit.limitId),
      (ms) => ({
        periodKey: fixedOffsetCalendar(ms, -3).dayKey,
        resetAt: fixedOffsetCalendar(ms, -3).nextMidnight,
      }),
    );
    expect(at80).toMatchObject({
      limitId: limit.limitId,
      limitAmount: "100.00",
      currentUsage: "80.00",
      utilizationPercent: 80,
      nearLimit: false,
    });
    expect(byKey(at80.scopes)).toEqual(
      [
        { scopeKey: `acct:${accountA}`, currentUsage: "40.00" },
        { scopeKey: `acct:${accountB}`, currentUsage: "40.00" },
      ].sort((x, y) => (x.scopeKey < y.scopeKey ? -1 : 1)),
    );
    // The limit object reports the same resetAt.
    const fetched = await ok<Limit>(await t.request("GET", `/v1/limits/${limit.limitId}`));
    expect(fetched.resetAt).toBe(at80.resetAt);

    expect((await validate(accountB, "0.01")).decision).toBe("ALLOW");
    const above = await usage(limit.limitId);
    expect(above).toMatchObject({ currentUsage: "80.01", utilizationPercent: 80.01, nearLimit: true });
    expect(above.scopes.find((s) => s.scopeKey === `acct:${accountB}`)?.currentUsage).toBe("40.01");

    // Each scope key has its own counter capped at maxAmount (CONTRACT §4): A holds 40.00, so
    // 60.01 is denied and consumes nothing, while 60.00 fills A's counter exactly.
    const denied = await validate(accountA, "60.01");
    expect(denied).toMatchObject({ decision: "DENY", reason: "limit_exceeded" });
    expect((await usage(limit.limitId)).currentUsage).toBe("80.01");
    expect((await validate(accountA, "60.00")).decision).toBe("ALLOW");
    const full = await usage(limit.limitId);
    expect(full).toMatchObject({ currentUsage: "140.01", utilizationPercent: 140.01, nearLimit: true });
    expect(byKey(full.scopes)).toEqual(
      [
        { scopeKey: `acct:${accountA}`, currentUsage: "100.00" },
        { scopeKey: `acct:${accountB}`, currentUsage: "40.01" },
      ].sort((x, y) => (x.scopeKey < y.scopeKey ? -1 : 1)),
    );
    expect((await validate(accountA, "0.01")).decision).toBe("DENY");
  });

  it("nearLimit compares the exact usage, not the rounded percentage: 80.000001 % is above 80 %", async () => {
    const account = randomUUID();
    const limit = await activeLimit({
      limitType: "DAILY",
      maxAmount: "1000000.00",
      scopes: [{ accountId: account }],
    });
    expect((await validate(account, "800000.00")).decision).toBe("ALLOW");
    expect(await usage(limit.limitId)).toMatchObject({
      currentUsage: "800000.00",
      utilizationPercent: 80,
      nearLimit: false,
    });
    expect((await validate(account, "0.01")).decision).toBe("ALLOW");
    // 800000.01 / 1000000.00 = 80.000001 %: displayed rounded to 80, but strictly above 80 %.
    expect(await usage(limit.limitId)).toMatchObject({
      currentUsage: "800000.01",
      utilizationPercent: 80,
      nearLimit: true,
    });
  });

  it("usage after activity in yesterday's period and today's shows only today's, per scope key", async () => {
    const accountA = randomUUID();
    const accountB = randomUUID();
    const limit = await activeLimit({
      limitType: "DAILY",
      maxAmount: "100.00",
      timezone: "America/Sao_Paulo",
      scopes: [{ accountId: accountA }, { accountId: accountB }],
    });
    const cal = fixedOffsetCalendar(Date.now(), -3);
    // Yesterday's (and an older) period: far more than today's maximum, for both scope keys.
    await t.db.handle.db.insert(limitCounters).values(
      [
        [`acct:${accountA}`, cal.yesterdayKey, "90.00"],
        [`acct:${accountB}`, cal.yesterdayKey, "99.99"],
        [`acct:${accountA}`, "2020-01-01", "75.00"],
      ].map(([scopeKey, periodKey, amount]) => ({
        tenantId: "default",
        limitId: limit.limitId,
        scopeKey: scopeKey!,
        periodKey: periodKey!,
        usage: amount!,
        periodStart: new Date(cal.dayStart.getTime() - DAY),
        resetAt: cal.dayStart,
        updatedAt: new Date(cal.dayStart.getTime() - HOUR),
      })),
    );
    // Yesterday's usage does not count against today: 60 + 25 fit although 90 + 60 would not.
    const first = await validate(accountA, "60.00");
    expect(first.decision).toBe("ALLOW");
    expect(first.limitUsageDetails[0]).toMatchObject({
      limitId: limit.limitId,
      exceeded: false,
      currentUsage: "60.00",
    });
    expect((await validate(accountB, "25.00")).decision).toBe("ALLOW");

    const now = await expectAround(
      () => usage(limit.limitId),
      (ms) => ({ periodKey: fixedOffsetCalendar(ms, -3).dayKey }),
    );
    expect(now.periodKey).not.toBe(cal.yesterdayKey);
    expect(now).toMatchObject({ currentUsage: "85.00", utilizationPercent: 85, nearLimit: true });
    expect(byKey(now.scopes)).toEqual(
      [
        { scopeKey: `acct:${accountA}`, currentUsage: "60.00" },
        { scopeKey: `acct:${accountB}`, currentUsage: "25.00" },
      ].sort((x, y) => (x.scopeKey < y.scopeKey ? -1 : 1)),
    );
    // The old rows are still there, untouched.
    const rows = await t.db.handle.db.select().from(limitCounters);
    const mine = rows.filter((r) => r.limitId === limit.limitId && r.periodKey !== now.periodKey);
    expect(mine.map((r) => [r.scopeKey, r.periodKey, Number(r.usage)]).sort()).toEqual(
      [
        [`acct:${accountA}`, "2020-01-01", 75],
        [`acct:${accountA}`, cal.yesterdayKey, 90],
        [`acct:${accountB}`, cal.yesterdayKey, 99.99],
      ].sort(),
    );
  });

  it("a limit with only past activity reports zero for today", async () => {
    const accountA = randomUUID();
    const limit = await activeLimit({
      limitType: "DAILY",
      maxAmount: "10.00",
      scopes: [{ accountId: accountA }],
    });
    const cal = fixedOffsetCalendar(Date.now(), 0);
    await t.db.handle.db.insert(limitCounters).values({
      tenantId: "default",
      limitId: limit.limitId,
      scopeKey: `acct:${accountA}`,
      periodKey: cal.yesterdayKey,
      usage: "10.00",
      periodStart: new Date(cal.dayStart.getTime() - DAY),
      resetAt: cal.dayStart,
      updatedAt: cal.dayStart,
    });
    expect(await usage(limit.limitId)).toMatchObject({
      currentUsage: "0.00",
      utilizationPercent: 0,
      nearLimit: false,
      scopes: [],
    });
  });

  it("WEEKLY in Asia/Tokyo reports its ISO week key and resets next local Monday", async () => {
    const account = randomUUID();
    const limit = await activeLimit({
      limitType: "WEEKLY",
      maxAmount: "1000",
      currency: "JPY",
      timezone: "Asia/Tokyo",
      scopes: [{ accountId: account }],
    });
    expect((await validate(account, "300", "JPY")).decision).toBe("ALLOW");
    const cal = fixedOffsetCalendar(Date.now(), 9);
    // Last week's counter is not this week's usage.
    const lastWeek = fixedOffsetCalendar(Date.now() - 7 * DAY, 9).weekKey;
    expect(lastWeek).not.toBe(cal.weekKey);
    await t.db.handle.db.insert(limitCounters).values({
      tenantId: "default",
      limitId: limit.limitId,
      scopeKey: `acct:${account}`,
      periodKey: lastWeek,
      usage: "999",
      periodStart: new Date(Date.parse(cal.nextMonday) - 14 * DAY),
      resetAt: new Date(Date.parse(cal.nextMonday) - 7 * DAY),
      updatedAt: new Date(),
    });
    const result = await expectAround(
      () => usage(limit.limitId),
      (ms) => ({
        periodKey: fixedOffsetCalendar(ms, 9).weekKey,
        resetAt: fixedOffsetCalendar(ms, 9).nextMonday,
      }),
    );
    expect(result.periodKey).toMatch(/^\d{4}-W\d{2}$/);
    expect(result).toMatchObject({
      limitAmount: "1000",
      currentUsage: "300",
      utilizationPercent: 30,
      nearLimit: false,
      scopes: [{ scopeKey: `acct:${account}`, currentUsage: "300" }],
    });
    // resetAt is a Monday, 00:00 in Tokyo.
    const reset = new Date(Date.parse(result.resetAt!) + 9 * HOUR);
    expect([reset.getUTCDay(), reset.getUTCHours(), reset.getUTCMinutes()]).toEqual([1, 0, 0]);
  });

  it("MONTHLY in America/Sao_Paulo reports YYYY-MM and resets on the 1st at local midnight", async () => {
    const account = randomUUID();
    const limit = await activeLimit({
      limitType: "MONTHLY",
      maxAmount: "2.500",
      currency: "BHD",
      timezone: "America/Sao_Paulo",
      scopes: [{ accountId: account }],
    });
    expect((await validate(account, "0.125", "BHD")).decision).toBe("ALLOW");
    expect((await validate(account, "0.5", "BHD")).decision).toBe("ALLOW");
    const result = await expectAround(
      () => usage(limit.limitId),
      (ms) => ({
        periodKey: fixedOffsetCalendar(ms, -3).monthKey,
        resetAt: fixedOffsetCalendar(ms, -3).nextMonthStart,
      }),
    );
    expect(result).toMatchObject({
      limitAmount: "2.500",
      currentUsage: "0.625",
      utilizationPercent: 25,
      nearLimit: false,
      scopes: [{ scopeKey: `acct:${account}`, currentUsage: "0.625" }],
    });
    expect(result.resetAt!.endsWith("T03:00:00.000Z")).toBe(true);
  });

  it("CUSTOM reports its own bucket and resets at the range's end", async () => {
    const account = randomUUID();
    const start = new Date(Date.now() - HOUR).toISOString();
    const end = new Date(Date.now() + 3 * DAY).toISOString();
    const limit = await activeLimit({
      limitType: "CUSTOM",
      maxAmount: "500",
      customStartDate: start,
      customEndDate: end,
      scopes: [{ accountId: account }],
    });
    expect((await validate(account, "123.45")).decision).toBe("ALLOW");
    expect(await usage(limit.limitId)).toMatchObject({
      currentUsage: "123.45",
      utilizationPercent: 24.69,
      resetAt: end,
      periodKey: `custom:${start}`,
      scopes: [{ scopeKey: `acct:${account}`, currentUsage: "123.45" }],
    });
  });

  it("a segment-scoped limit is one shared pool: every account in the segment adds to one scope key", async () => {
    const segmentId = randomUUID();
    const limit = await activeLimit({ limitType: "DAILY", maxAmount: "100.00", scopes: [{ segmentId }] });
    for (const amount of ["10.00", "20.00", "30.00"]) {
      const res = await ok<ValidationResponse>(
        await t.request("POST", "/v1/validations", {
          requestId: randomUUID(),
          transactionType: "CARD",
          amount,
          currency: "BRL",
          transactionTimestamp: new Date().toISOString(),
          account: { accountId: randomUUID() },
          segment: { segmentId },
        }),
        201,
      );
      expect(res.decision).toBe("ALLOW");
    }
    expect(await usage(limit.limitId)).toMatchObject({
      currentUsage: "60.00",
      scopes: [{ scopeKey: `seg:${segmentId}`, currentUsage: "60.00" }],
    });
  });

  it("usage keeps counting after maxAmount is lowered; utilization may pass 100 % but never wraps", async () => {
    const account = randomUUID();
    const limit = await activeLimit({
      limitType: "DAILY",
      maxAmount: "100.00",
      scopes: [{ accountId: account }],
    });
    expect((await validate(account, "90.00")).decision).toBe("ALLOW");
    await ok(await t.request("PATCH", `/v1/limits/${limit.limitId}`, { maxAmount: "60.00" }));
    expect(await usage(limit.limitId)).toMatchObject({
      limitAmount: "60.00",
      currentUsage: "90.00",
      utilizationPercent: 150,
      nearLimit: true,
    });
    const denied = await validate(account, "0.01");
    expect(denied).toMatchObject({ decision: "DENY", reason: "limit_exceeded" });
  });

  it("404 LIMIT_NOT_FOUND for an unknown or deleted limit", async () => {
    const notFound = async (id: string) => {
      const res = await t.request("GET", `/v1/limits/${id}/usage`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { code: string }).code).toBe("LIMIT_NOT_FOUND");
    };
    await notFound(randomUUID());
    const limit = await ok<Limit>(
      await t.request("POST", "/v1/limits", {
        name: `Usage deleted ${++counter}`,
        limitType: "DAILY",
        maxAmount: "1",
        currency: "BRL",
        scopes: [{ accountId: randomUUID() }],
      }),
      201,
    );
    expect((await usage(limit.limitId)).currentUsage).toBe("0.00");
    expect((await t.request("DELETE", `/v1/limits/${limit.limitId}`)).status).toBe(204);
    await notFound(limit.limitId);
  });
});
