import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { LimitForEval, LimitTransaction } from "./applicability.js";
import { applicableLimits, currentPeriod } from "./applicability.js";
import { periodFor } from "./period.js";

const ACCOUNT = "0195f0a0-0000-7000-8000-000000000001";
const OTHER_ACCOUNT = "0195f0a0-0000-7000-8000-000000000002";
const SEGMENT = "0195f0a0-0000-7000-8000-00000000000a";

function limit(overrides: Partial<LimitForEval> & { limitId: string }): LimitForEval {
  return {
    limitType: "DAILY",
    maxAmount: "1000.00",
    currency: "BRL",
    scopes: [],
    timezone: "UTC",
    activeTimeStart: null,
    activeTimeEnd: null,
    customStartDate: null,
    customEndDate: null,
    ...overrides,
  };
}

const tx: LimitTransaction = {
  accountId: ACCOUNT,
  segmentId: SEGMENT,
  transactionType: "CARD",
  subType: "debit",
  currency: "BRL",
  amount: "100.00",
};

const NOON = new Date("2026-01-15T12:00:00Z");

describe("applicableLimits", () => {
  it("keeps only limits in the request currency with a matching scope, in input order", () => {
    const limits = [
      limit({ limitId: "usd", currency: "USD" }),
      limit({ limitId: "other-account", scopes: [{ accountId: OTHER_ACCOUNT }] }),
      limit({ limitId: "global" }),
      limit({ limitId: "wire-only", scopes: [{ transactionType: "WIRE" }] }),
      limit({ limitId: "account", scopes: [{ accountId: ACCOUNT }] }),
    ];
    expect(applicableLimits(tx, limits, NOON).map((a) => a.limit.limitId)).toEqual(["global", "account"]);
  });

  it("reports the first matching scope's index and key, and describes all scopes", () => {
    const l = limit({
      limitId: "multi",
      scopes: [
        { accountId: OTHER_ACCOUNT },
        { segmentId: SEGMENT, transactionType: "CARD" },
        { accountId: ACCOUNT },
      ],
    });
    const [a] = applicableLimits(tx, [l], NOON);
    expect(a).toMatchObject({
      scopeIndex: 1,
      scopeKey: `seg:${SEGMENT}`,
      scopeDescription: `(account:${OTHER_ACCOUNT}) OR (segment:${SEGMENT},transactionType:CARD) OR (account:${ACCOUNT})`,
      skipped: false,
    });
    expect(a?.skipReason).toBeUndefined();
  });

  it("uses the key 'global' for a limit without scopes", () => {
    const [a] = applicableLimits(tx, [limit({ limitId: "g" })], NOON);
    expect(a).toMatchObject({ scopeIndex: 0, scopeKey: "global", scopeDescription: "global" });
  });

  it("computes the period on the given clock, in the limit's zone", () => {
    const [daily, perTx] = applicableLimits(
      tx,
      [
        limit({ limitId: "d", timezone: "America/Sao_Paulo" }),
        limit({ limitId: "p", limitType: "PER_TRANSACTION" }),
      ],
      new Date("2026-01-15T02:00:00Z"),
    );
    expect(daily?.period?.periodKey).toBe("2026-01-14");
    expect(daily?.period?.resetAt.toISOString()).toBe("2026-01-15T03:00:00.000Z");
    expect(perTx?.period).toBeNull();
  });

  it("skips a limit outside its activity window, read in its zone", () => {
    const l = limit({
      limitId: "w",
      timezone: "America/Sao_Paulo",
      activeTimeStart: "09:00",
      activeTimeEnd: "18:00",
    });
    // 12:00Z = 09:00 local: inside; 11:00Z = 08:00 local: outside.
    expect(applicableLimits(tx, [l], NOON)[0]).toMatchObject({ skipped: false });
    expect(applicableLimits(tx, [l], new Date("2026-01-15T11:00:00Z"))[0]).toMatchObject({
      skipped: true,
      skipReason: "outside_time_window",
    });
  });

  it("skips a CUSTOM limit outside its range, before looking at the window", () => {
    const l = limit({
      limitId: "c",
      limitType: "CUSTOM",
      customStartDate: "2026-02-01T00:00:00Z",
      customEndDate: "2026-03-01T00:00:00Z",
      activeTimeStart: "20:00",
      activeTimeEnd: "06:00",
    });
    const [a] = applicableLimits(tx, [l], NOON);
    expect(a).toMatchObject({ skipped: true, skipReason: "outside_custom_period" });
    expect(a?.period?.periodKey).toBe("custom:2026-02-01T00:00:00.000Z");
    const [inRangeOutsideWindow] = applicableLimits(tx, [l], new Date("2026-02-10T12:00:00Z"));
    expect(inRangeOutsideWindow).toMatchObject({ skipped: true, skipReason: "outside_time_window" });
    const [running] = applicableLimits(tx, [l], new Date("2026-02-10T22:00:00Z"));
    expect(running).toMatchObject({ skipped: false });
  });

  it("returns nothing when nothing applies", () => {
    expect(applicableLimits(tx, [], NOON)).toEqual([]);
    expect(applicableLimits({ ...tx, currency: "USD" }, [limit({ limitId: "brl" })], NOON)).toEqual([]);
  });
});

describe("currentPeriod", () => {
  it("answers exactly what periodFor answers, for any instants asked in any order", () => {
    const zones = ["UTC", "America/Sao_Paulo", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu"];
    const instant = fc
      .integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2027, 0, 1) })
      .map((ms) => new Date(ms));
    fc.assert(
      fc.property(
        fc.constantFrom<LimitForEval["limitType"]>("DAILY", "WEEKLY", "MONTHLY", "PER_TRANSACTION", "CUSTOM"),
        fc.constantFrom(...zones),
        // Instants close together (across midnights and DST changes) and far apart.
        fc.array(fc.oneof(instant, fc.integer({ min: -3 * 3_600_000, max: 3 * 3_600_000 })), {
          minLength: 1,
          maxLength: 30,
        }),
        (limitType, timezone, steps) => {
          const l = limit({
            limitId: "l",
            limitType,
            timezone,
            ...(limitType === "CUSTOM"
              ? { customStartDate: "2026-01-01T00:00:00.000Z", customEndDate: "2026-02-01T00:00:00.000Z" }
              : {}),
          });
          let now = new Date(Date.UTC(2026, 2, 29, 0, 30));
          for (const step of steps) {
            now = step instanceof Date ? step : new Date(now.getTime() + step);
            expect(currentPeriod(l, now)).toEqual(periodFor(l, now));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
