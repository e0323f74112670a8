import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { addAmounts, compareAmounts, fromMinorUnits } from "../money/money.js";
import type { ApplicableLimit, LimitForEval } from "./applicability.js";
import { applicableLimits } from "./applicability.js";
import type { UsageLookup } from "./decide.js";
import { applyConsumptions, counterKey, decideLimits, decideSequentially } from "./decide.js";

const ACCOUNT = "0195f0a0-0000-7000-8000-000000000001";
const NOW = new Date("2026-01-15T12:00:00Z");
const TODAY_RESET = "2026-01-16T00:00:00.000Z";

function limit(overrides: Partial<LimitForEval> & { limitId: string }): LimitForEval {
  return {
    limitType: "DAILY",
    maxAmount: "1000.00",
    currency: "BRL",
    scopes: [{ accountId: ACCOUNT }],
    timezone: "UTC",
    activeTimeStart: null,
    activeTimeEnd: null,
    customStartDate: null,
    customEndDate: null,
    ...overrides,
  };
}

function applicable(limits: LimitForEval[], currency = "BRL", now = NOW): ApplicableLimit[] {
  const tx = { accountId: ACCOUNT, transactionType: "CARD" as const, subType: "", currency, amount: "0" };
  return applicableLimits(tx, limits, now);
}

const usage =
  (values: Record<string, string>): UsageLookup =>
  (limitId) =>
    values[limitId] ?? "0";

describe("decideLimits: counter limits", () => {
  it("allows reaching maxAmount exactly and reports the projected usage", () => {
    const result = decideLimits(applicable([limit({ limitId: "d" })]), "100.00", usage({ d: "900.00" }));
    expect(result.exceeded).toBe(false);
    expect(result.details).toEqual([
      {
        limitId: "d",
        limitAmount: "1000.00",
        currentUsage: "1000.00",
        attemptedAmount: "100.00",
        exceeded: false,
        period: "DAILY",
        scope: `(account:${ACCOUNT})`,
        skipped: false,
        remaining: "0.00",
        resetAt: TODAY_RESET,
      },
    ]);
    expect(result.consumptions).toEqual([
      {
        limitId: "d",
        scopeKey: `acct:${ACCOUNT}`,
        periodKey: "2026-01-15",
        amount: "100.00",
        maxAmount: "1000.00",
        resetAt: new Date(TODAY_RESET),
      },
    ]);
  });

  it("is exceeded one minor unit past maxAmount, reporting usage without the amount", () => {
    const result = decideLimits(applicable([limit({ limitId: "d" })]), "100.01", usage({ d: "900" }));
    expect(result.exceeded).toBe(true);
    expect(result.details[0]).toMatchObject({
      currentUsage: "900.00",
      attemptedAmount: "100.01",
      exceeded: true,
      remaining: "100.00",
    });
  });

  it("floors remaining at zero when usage is already above a lowered maxAmount", () => {
    const result = decideLimits(applicable([limit({ limitId: "d" })]), "1.00", usage({ d: "1500.00" }));
    expect(result.details[0]).toMatchObject({ exceeded: true, currentUsage: "1500.00", remaining: "0.00" });
  });

  it("asks for the counter of its own scope key and period", () => {
    const usageOf = vi.fn<UsageLookup>(() => "0");
    decideLimits(applicable([limit({ limitId: "w", limitType: "WEEKLY" })]), "1.00", usageOf);
    expect(usageOf).toHaveBeenCalledWith("w", `acct:${ACCOUNT}`, "2026-W03");
  });

  it("formats every amount in the limit's currency", () => {
    const jpy = decideLimits(
      applicable([limit({ limitId: "j", currency: "JPY", maxAmount: "50000" })], "JPY"),
      "1500",
      usage({ j: "1000" }),
    );
    expect(jpy.details[0]).toMatchObject({
      limitAmount: "50000",
      currentUsage: "2500",
      attemptedAmount: "1500",
      remaining: "47500",
    });
    const bhd = decideLimits(
      applicable([limit({ limitId: "b", currency: "BHD", maxAmount: "10" })], "BHD"),
      "0.125",
      usage({}),
    );
    expect(bhd.details[0]).toMatchObject({
      limitAmount: "10.000",
      currentUsage: "0.125",
      remaining: "9.875",
    });
  });
});

describe("decideLimits: PER_TRANSACTION", () => {
  const perTx = limit({ limitId: "p", limitType: "PER_TRANSACTION", maxAmount: "500" });

  it("allows amount == maxAmount and keeps no counter", () => {
    const usageOf = vi.fn<UsageLookup>(() => "0");
    const result = decideLimits(applicable([perTx]), "500.00", usageOf);
    expect(result).toEqual({
      exceeded: false,
      details: [
        {
          limitId: "p",
          limitAmount: "500.00",
          currentUsage: "0.00",
          attemptedAmount: "500.00",
          exceeded: false,
          period: "PER_TRANSACTION",
          scope: `(account:${ACCOUNT})`,
          skipped: false,
          remaining: "0.00",
          resetAt: null,
        },
      ],
      consumptions: [],
    });
    expect(usageOf).not.toHaveBeenCalled();
  });

  it("is exceeded above maxAmount, with remaining floored at zero", () => {
    const result = decideLimits(applicable([perTx]), "500.01", usage({}));
    expect(result.exceeded).toBe(true);
    expect(result.details[0]).toMatchObject({ exceeded: true, currentUsage: "0.00", remaining: "0.00" });
    expect(decideLimits(applicable([perTx]), "120.50", usage({})).details[0]?.remaining).toBe("379.50");
  });
});

describe("decideLimits: skipped limits", () => {
  const windowed = limit({ limitId: "s", activeTimeStart: "20:00", activeTimeEnd: "06:00", maxAmount: "10" });

  it("reports them, never checks or consumes them", () => {
    const usageOf = vi.fn<UsageLookup>(() => "999999");
    const result = decideLimits(applicable([windowed]), "50.00", usageOf);
    expect(result.exceeded).toBe(false);
    expect(result.consumptions).toEqual([]);
    expect(usageOf).not.toHaveBeenCalled();
    expect(result.details[0]).toEqual({
      limitId: "s",
      limitAmount: "10.00",
      currentUsage: "0.00",
      attemptedAmount: "50.00",
      exceeded: false,
      period: "DAILY",
      scope: `(account:${ACCOUNT})`,
      skipped: true,
      skipReason: "outside_time_window",
      remaining: "10.00",
      resetAt: TODAY_RESET,
    });
  });

  it("reports a CUSTOM range's end as resetAt", () => {
    const custom = limit({
      limitId: "c",
      limitType: "CUSTOM",
      customStartDate: "2026-02-01T00:00:00Z",
      customEndDate: "2026-03-01T00:00:00Z",
    });
    const result = decideLimits(applicable([custom]), "1.00", usage({}));
    expect(result.details[0]).toMatchObject({
      skipped: true,
      skipReason: "outside_custom_period",
      resetAt: "2026-03-01T00:00:00.000Z",
    });
  });
});

describe("decideLimits: several limits", () => {
  it("reports every limit, is exceeded if any is, and lists every non-skipped counter", () => {
    const limits = [
      limit({ limitId: "daily" }),
      limit({ limitId: "monthly", limitType: "MONTHLY", maxAmount: "5000" }),
      limit({ limitId: "perTx", limitType: "PER_TRANSACTION", maxAmount: "300" }),
      limit({ limitId: "skipped", activeTimeStart: "00:00", activeTimeEnd: "01:00" }),
    ];
    const result = decideLimits(applicable(limits), "200.00", usage({ daily: "850", monthly: "100" }));
    expect(result.exceeded).toBe(true);
    expect(result.details.map((d) => [d.limitId, d.exceeded, d.currentUsage])).toEqual([
      ["daily", true, "850.00"],
      ["monthly", false, "300.00"],
      ["perTx", false, "0.00"],
      ["skipped", false, "0.00"],
    ]);
    expect(result.consumptions.map((c) => [c.limitId, c.periodKey])).toEqual([
      ["daily", "2026-01-15"],
      ["monthly", "2026-01"],
    ]);
  });
});

describe("decideSequentially", () => {
  const daily = limit({ limitId: "d", maxAmount: "100" });
  const items = (amounts: string[]) => amounts.map((amount) => ({ applicable: applicable([daily]), amount }));
  const key = counterKey("d", `acct:${ACCOUNT}`, "2026-01-15");

  it("decides each item against the usage the previous ones left", () => {
    const initial = new Map([[key, "50"]]);
    const result = decideSequentially(items(["30.00", "30.00", "20.00", "0.01"]), initial);
    expect(result.decisions.map((d) => d.exceeded)).toEqual([false, true, false, true]);
    expect(result.consumed).toEqual([true, false, true, false]);
    expect(result.usage.get(key)).toBe("100");
    expect(initial.get(key)).toBe("50");
  });

  it("consumes only where the predicate says so, and never when exceeded", () => {
    const consumes = vi.fn((index: number) => index !== 0);
    const result = decideSequentially(items(["60.00", "60.00", "60.00"]), new Map(), consumes);
    // Item 0 fits but does not consume (e.g. a REVIEW rule), so item 1 still fits; item 2 does not.
    expect(result.decisions.map((d) => d.exceeded)).toEqual([false, false, true]);
    expect(result.consumed).toEqual([false, true, false]);
    expect(result.usage.get(key)).toBe("60");
    expect(consumes).toHaveBeenCalledWith(2, true);
  });

  it("applyConsumptions adds to the right counters", () => {
    const map = new Map<string, string>();
    const decision = decideLimits(applicable([daily]), "12.34", () => "0");
    applyConsumptions(map, decision.consumptions);
    applyConsumptions(map, decision.consumptions);
    expect(map.get(key)).toBe("24.68");
  });

  it("property: usage never passes maxAmount and equals the sum of what was consumed", () => {
    const limits = [
      limit({ limitId: "d", maxAmount: "1000.00" }),
      limit({ limitId: "m", limitType: "MONTHLY", maxAmount: "2500.00" }),
      limit({ limitId: "p", limitType: "PER_TRANSACTION", maxAmount: "400.00" }),
    ];
    const entries = applicable(limits);
    const dailyKey = counterKey("d", `acct:${ACCOUNT}`, "2026-01-15");
    const monthlyKey = counterKey("m", `acct:${ACCOUNT}`, "2026-01");
    fc.assert(
      fc.property(
        fc.array(fc.record({ cents: fc.integer({ min: 1, max: 60_000 }), rulesAllow: fc.boolean() }), {
          maxLength: 60,
        }),
        (steps) => {
          const result = decideSequentially(
            steps.map((s) => ({ applicable: entries, amount: fromMinorUnits(BigInt(s.cents), "BRL") })),
            new Map(),
            (index) => steps[index]?.rulesAllow === true,
          );
          let consumedSum = "0";
          result.consumed.forEach((took, index) => {
            const step = steps[index]!;
            const decision = result.decisions[index]!;
            if (took) {
              expect(decision.exceeded).toBe(false);
              expect(step.rulesAllow).toBe(true);
              consumedSum = addAmounts(consumedSum, fromMinorUnits(BigInt(step.cents), "BRL"));
            }
            for (const detail of decision.details) {
              if (detail.limitId === "p") continue;
              expect(compareAmounts(detail.currentUsage, detail.limitAmount)).toBeLessThanOrEqual(0);
            }
          });
          const dailyUsage = result.usage.get(dailyKey) ?? "0";
          expect(compareAmounts(dailyUsage, "1000")).toBeLessThanOrEqual(0);
          expect(compareAmounts(result.usage.get(monthlyKey) ?? "0", "2500")).toBeLessThanOrEqual(0);
          expect(compareAmounts(dailyUsage, consumedSum)).toBe(0);
          expect(compareAmounts(result.usage.get(monthlyKey) ?? "0", consumedSum)).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
