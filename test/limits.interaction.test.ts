/**
 * How limits take part in POST /v1/validations (CONTRACT §4, §5; tracer.md §4.5): precedence with
 * rules, which limits apply, skipped limits, and what each `limitUsageDetails` entry reports
 * (documented in src/limits/decide.ts).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "./harness.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

interface Limit {
  limitId: string;
  resetAt: string | null;
  customEndDate: string | null;
}

interface Detail {
  limitId: string;
  limitAmount: string;
  currentUsage: string;
  attemptedAmount: string;
  exceeded: boolean;
  period: string;
  scope: string;
  skipped: boolean;
  skipReason?: string;
  remaining: string;
  resetAt: string | null;
}

interface ValidationResponse {
  validationId: string;
  decision: "ALLOW" | "DENY" | "REVIEW";
  reason: string;
  matchedRuleIds: string[];
  limitUsageDetails: Detail[];
}

type Body = Record<string, unknown>;
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
      name: `Interaction ${Date.now().toString(36)}-${++counter}`,
      limitType: "DAILY",
      currency: "BRL",
      ...body,
    }),
    201,
  );
  return ok<Limit>(await t.request("POST", `/v1/limits/${limit.limitId}/activate`));
}

async function activeRule(action: "ALLOW" | "DENY" | "REVIEW", accountId: string): Promise<string> {
  const rule = await ok<{ ruleId: string }>(
    await t.request("POST", "/v1/rules", {
      name: `Rule ${Date.now().toString(36)}-${++counter}`,
      expression: { ">": [{ var: "amount" }, 0] },
      action,
      scopes: [{ accountId }],
    }),
    201,
  );
  await ok(await t.request("POST", `/v1/rules/${rule.ruleId}/activate`));
  return rule.ruleId;
}

async function validate(accountId: string, amount: string, extra: Body = {}): Promise<ValidationResponse> {
  return ok<ValidationResponse>(
    await t.request("POST", "/v1/validations", {
      requestId: randomUUID(),
      transactionType: "CARD",
      amount,
      currency: "BRL",
      transactionTimestamp: new Date().toISOString(),
      account: { accountId },
      ...extra,
    }),
    201,
  );
}

async function currentUsage(limitId: string): Promise<string> {
  return (await ok<{ currentUsage: string }>(await t.request("GET", `/v1/limits/${limitId}/usage`)))
    .currentUsage;
}

const detailOf = (r: ValidationResponse, limitId: string) => {
  const found = r.limitUsageDetails.filter((d) => d.limitId === limitId);
  expect(found, JSON.stringify(r.limitUsageDetails)).toHaveLength(1);
  return found[0]!;
};

/** "HH:00" of the UTC hour `offset` hours from now. */
const utcHour = (offset: number) =>
  `${String((new Date().getUTCHours() + offset + 24) % 24).padStart(2, "0")}:00`;

describe("limits inside POST /v1/validations", () => {
  it("a matching DENY rule wins: limits are not checked, limitUsageDetails is empty, the counter is untouched", async () => {
    const account = randomUUID();
    const limit = await activeLimit({ maxAmount: "100.00", scopes: [{ accountId: account }] });
    const ruleId = await activeRule("DENY", account);
    const r = await validate(account, "30.00");
    expect(r).toMatchObject({
      decision: "DENY",
      reason: "Rule matched with DENY action",
      limitUsageDetails: [],
    });
    expect(r.matchedRuleIds).toEqual([ruleId]);
    // Even an amount that would exceed the limit is a rule DENY, not limit_exceeded.
    expect(await validate(account, "500.00")).toMatchObject({
      reason: "Rule matched with DENY action",
      limitUsageDetails: [],
    });
    expect(await currentUsage(limit.limitId)).toBe("0.00");
  });

  it("a REVIEW rule: the limit is reported (projected usage) but nothing is consumed", async () => {
    const account = randomUUID();
    const limit = await activeLimit({ maxAmount: "100.00", scopes: [{ accountId: account }] });
    await activeRule("REVIEW", account);
    for (let i = 0; i < 2; i++) {
      const r = await validate(account, "30.00");
      expect(r).toMatchObject({ decision: "REVIEW", reason: "Rule matched with REVIEW action" });
      // Both report 30.00: the first REVIEW did not add to the counter.
      expect(detailOf(r, limit.limitId)).toMatchObject({
        exceeded: false,
        currentUsage: "30.00",
        remaining: "70.00",
      });
    }
    expect(await currentUsage(limit.limitId)).toBe("0.00");
    // An exceeded limit outranks REVIEW.
    const over = await validate(account, "100.01");
    expect(over).toMatchObject({ decision: "DENY", reason: "limit_exceeded" });
    expect(await currentUsage(limit.limitId)).toBe("0.00");
  });

  it("an ALLOW rule with an exceeded limit → DENY limit_exceeded; the ALLOW rule is still reported", async () => {
    const account = randomUUID();
    const limit = await activeLimit({ maxAmount: "100.00", scopes: [{ accountId: account }] });
    const ruleId = await activeRule("ALLOW", account);
    const allowed = await validate(account, "60.00");
    expect(allowed).toMatchObject({ decision: "ALLOW", reason: "Rule matched with ALLOW action" });
    const denied = await validate(account, "40.01");
    expect(denied).toMatchObject({ decision: "DENY", reason: "limit_exceeded" });
    expect(denied.matchedRuleIds).toEqual([ruleId]);
    expect(detailOf(denied, limit.limitId)).toMatchObject({
      exceeded: true,
      currentUsage: "60.00",
      remaining: "40.00",
    });
    expect(await currentUsage(limit.limitId)).toBe("60.00");
    // The denial is findable by the limit it exceeded.
    const list = await ok<{ transactionValidations: { validationId: string }[] }>(
      await t.request("GET", `/v1/validations?exceeded_limit_id=${limit.limitId}`),
    );
    expect(list.transactionValidations.map((v) => v.validationId)).toEqual([denied.validationId]);
  });

  it("PER_TRANSACTION: exceeded iff amount > maxAmount (equal allowed); no counter, no resetAt", async () => {
    const account = randomUUID();
    const limit = await activeLimit({
      limitType: "PER_TRANSACTION",
      maxAmount: "100.00",
      scopes: [{ accountId: account }],
    });
    const equal = await validate(account, "100.00");
    expect(equal.decision).toBe("ALLOW");
    expect(detailOf(equal, limit.limitId)).toEqual({
      limitId: limit.limitId,
      limitAmount: "100.00",
      currentUsage: "0.00",
      attemptedAmount: "100.00",
      exceeded: false,
      period: "PER_TRANSACTION",
      scope: `(account:${account})`,
      skipped: false,
      remaining: "0.00",
      resetAt: null,
    });
    const smaller = await validate(account, "40");
    expect(detailOf(smaller, limit.limitId)).toMatchObject({
      exceeded: false,
      remaining: "60.00",
      attemptedAmount: "40.00",
    });
    // Many allowed transactions do not add up: there is no period.
    expect((await validate(account, "100.00")).decision).toBe("ALLOW");
    const over = await validate(account, "100.01");
    expect(over).toMatchObject({ decision: "DENY", reason: "limit_exceeded" });
    expect(detailOf(over, limit.limitId)).toMatchObject({
      exceeded: true,
      currentUsage: "0.00",
      remaining: "0.00",
    });
    expect(await currentUsage(limit.limitId)).toBe("0.00");
  });

  it("limits in another currency are ignored entirely", async () => {
    const account = randomUUID();
    const usd = await activeLimit({ currency: "USD", maxAmount: "1.00", scopes: [{ accountId: account }] });
    const brl = await activeLimit({ currency: "BRL", maxAmount: "100.00", scopes: [{ accountId: account }] });
    const r = await validate(account, "50.00");
    expect(r.decision).toBe("ALLOW");
    expect(r.limitUsageDetails.map((d) => d.limitId)).toEqual([brl.limitId]);
    expect(await currentUsage(usd.limitId)).toBe("0.00");
    const inUsd = await validate(account, "2.00", { currency: "USD" });
    expect(inUsd).toMatchObject({ decision: "DENY", reason: "limit_exceeded" });
    expect(inUsd.limitUsageDetails.map((d) => d.limitId)).toEqual([usd.limitId]);
    expect(await currentUsage(brl.limitId)).toBe("50.00");
  });

  it("limits whose scopes do not match, and inactive limits, are not applied", async () => {
    const account = randomUUID();
    await activeLimit({ maxAmount: "1.00", scopes: [{ accountId: randomUUID() }] });
    await activeLimit({ maxAmount: "1.00", scopes: [{ accountId: account, transactionType: "PIX" }] });
    const deactivated = await activeLimit({ maxAmount: "1.00", scopes: [{ accountId: account }] });
    await ok(await t.request("POST", `/v1/limits/${deactivated.limitId}/deactivate`));
    await ok(
      await t.request("POST", "/v1/limits", {
        name: `Draft ${++counter}`,
        limitType: "DAILY",
        currency: "BRL",
        maxAmount: "1.00",
        scopes: [{ accountId: account }],
      }),
      201,
    );
    const r = await validate(account, "50.00");
    expect(r).toMatchObject({ decision: "ALLOW", limitUsageDetails: [] });
  });

  it("a limit outside its activity window is skipped (outside_time_window) and not consumed", async () => {
    const account = randomUUID();
    // A window starting two hours from now (UTC) cannot contain the current time, even if the hour
    // turns during the test; the limit is tiny, so were it applied the transaction would be denied.
    const limit = await activeLimit({
      maxAmount: "1.00",
      activeTimeStart: utcHour(2),
      activeTimeEnd: utcHour(3),
      scopes: [{ accountId: account }],
    });
    const r = await validate(account, "50.00");
    expect(r.decision).toBe("ALLOW");
    expect(detailOf(r, limit.limitId)).toMatchObject({
      limitAmount: "1.00",
      currentUsage: "0.00",
      attemptedAmount: "50.00",
      exceeded: false,
      period: "DAILY",
      skipped: true,
      skipReason: "outside_time_window",
      remaining: "1.00",
      resetAt: limit.resetAt,
    });
    expect(await currentUsage(limit.limitId)).toBe("0.00");
  });

  it("a limit inside its activity window (overnight wrap included) is enforced and consumed", async () => {
    const account = randomUUID();
    // [now-1h, now+2h) in UTC, which wraps past midnight late in the day.
    const limit = await activeLimit({
      maxAmount: "100.00",
      activeTimeStart: utcHour(-1),
      activeTimeEnd: utcHour(2),
      scopes: [{ accountId: account }],
    });
    const r = await validate(account, "30.00");
    expect(r.decision).toBe("ALLOW");
    const detail = detailOf(r, limit.limitId);
    expect(detail).toMatchObject({ skipped: false, exceeded: false, currentUsage: "30.00" });
    expect(detail.skipReason).toBeUndefined();
    expect(await currentUsage(limit.limitId)).toBe("30.00");
    expect(await validate(account, "70.01")).toMatchObject({ decision: "DENY", reason: "limit_exceeded" });
  });

  it("the activity window is read on the limit's own wall clock (Asia/Tokyo), not in UTC", async () => {
    const account = randomUUID();
    // Tokyo is UTC+09:00 all year. [tokyo-1h, tokyo+2h) holds the current Tokyo time, while the same
    // hours read in UTC are nine hours off and hold nothing of now.
    const tokyoHour = (offset: number) =>
      `${String((new Date().getUTCHours() + 9 + offset + 48) % 24).padStart(2, "0")}:00`;
    const inside = await activeLimit({
      maxAmount: "1.00",
      timezone: "Asia/Tokyo",
      activeTimeStart: tokyoHour(-1),
      activeTimeEnd: tokyoHour(2),
      scopes: [{ accountId: account }],
    });
    const outside = await activeLimit({
      maxAmount: "1.00",
      timezone: "Asia/Tokyo",
      activeTimeStart: utcHour(-1),
      activeTimeEnd: utcHour(2),
      scopes: [{ accountId: account }],
    });
    const r = await validate(account, "5.00");
    expect(r).toMatchObject({ decision: "DENY", reason: "limit_exceeded" });
    expect(detailOf(r, inside.limitId)).toMatchObject({ skipped: false, exceeded: true });
    expect(detailOf(r, outside.limitId)).toMatchObject({ skipped: true, skipReason: "outside_time_window" });
  });

  it("a CUSTOM limit whose range is in the future is skipped (outside_custom_period) and not consumed", async () => {
    const account = randomUUID();
    const start = new Date(Date.now() + DAY).toISOString();
    const end = new Date(Date.now() + 10 * DAY).toISOString();
    const limit = await activeLimit({
      limitType: "CUSTOM",
      maxAmount: "1.00",
      customStartDate: start,
      customEndDate: end,
      scopes: [{ accountId: account }],
    });
    const r = await validate(account, "50.00");
    expect(r.decision).toBe("ALLOW");
    expect(detailOf(r, limit.limitId)).toMatchObject({
      period: "CUSTOM",
      skipped: true,
      skipReason: "outside_custom_period",
      exceeded: false,
      currentUsage: "0.00",
      remaining: "1.00",
      resetAt: end,
    });
    expect(await currentUsage(limit.limitId)).toBe("0.00");
  });

  it("a running CUSTOM limit is enforced over its whole range and resets at its end", async () => {
    const account = randomUUID();
    const end = new Date(Date.now() + 5 * DAY).toISOString();
    const limit = await activeLimit({
      limitType: "CUSTOM",
      maxAmount: "100.00",
      customStartDate: new Date(Date.now() - HOUR).toISOString(),
      customEndDate: end,
      scopes: [{ accountId: account }],
    });
    const r = await validate(account, "75.00");
    expect(detailOf(r, limit.limitId)).toMatchObject({
      skipped: false,
      currentUsage: "75.00",
      remaining: "25.00",
      resetAt: end,
    });
    expect(await validate(account, "25.01")).toMatchObject({ decision: "DENY", reason: "limit_exceeded" });
  });

  it("two limits, one exceeded → DENY, and the other is not consumed either", async () => {
    const account = randomUUID();
    const big = await activeLimit({ maxAmount: "1000.00", scopes: [{ accountId: account }] });
    const small = await activeLimit({
      limitType: "WEEKLY",
      maxAmount: "10.00",
      scopes: [{ accountId: account }],
    });
    const r = await validate(account, "50.00");
    expect(r).toMatchObject({ decision: "DENY", reason: "limit_exceeded" });
    // Details follow the limits' creation order; only the small one is exceeded.
    expect(r.limitUsageDetails.map((d) => d.limitId)).toEqual([big.limitId, small.limitId]);
    expect(detailOf(r, big.limitId)).toMatchObject({
      exceeded: false,
      currentUsage: "50.00",
      remaining: "950.00",
    });
    expect(detailOf(r, small.limitId)).toMatchObject({
      exceeded: true,
      currentUsage: "0.00",
      remaining: "10.00",
    });
    expect(await currentUsage(big.limitId)).toBe("0.00");
    expect(await currentUsage(small.limitId)).toBe("0.00");
    // A transaction that fits both consumes both.
    const fits = await validate(account, "10.00");
    expect(fits.decision).toBe("ALLOW");
    expect(await currentUsage(big.limitId)).toBe("10.00");
    expect(await currentUsage(small.limitId)).toBe("10.00");
  });

  it("every exceeded limit is reported, not only the first", async () => {
    const account = randomUUID();
    const a = await activeLimit({ maxAmount: "10.00", scopes: [{ accountId: account }] });
    const b = await activeLimit({
      limitType: "PER_TRANSACTION",
      maxAmount: "20.00",
      scopes: [{ accountId: account }],
    });
    const r = await validate(account, "30.00");
    expect(r).toMatchObject({ decision: "DENY", reason: "limit_exceeded" });
    expect(detailOf(r, a.limitId).exceeded).toBe(true);
    expect(detailOf(r, b.limitId).exceeded).toBe(true);
  });

  it("currentUsage, remaining, resetAt and the other fields of a DAILY limit, step by step", async () => {
    const account = randomUUID();
    const limit = await activeLimit({
      maxAmount: "100.00",
      scopes: [{ accountId: account }, { merchantId: randomUUID() }],
    });
    const base = {
      limitId: limit.limitId,
      limitAmount: "100.00",
      period: "DAILY",
      skipped: false,
    };
    const first = await validate(account, "30.00");
    expect(first.decision).toBe("ALLOW");
    const d1 = detailOf(first, limit.limitId);
    // Not exceeded: the projected usage, counter + this amount, and the headroom after it.
    expect(d1).toMatchObject({
      ...base,
      attemptedAmount: "30.00",
      currentUsage: "30.00",
      remaining: "70.00",
      exceeded: false,
    });
    expect(d1.scope).toMatch(/^\(account:[0-9a-f-]{36}\) OR \(merchant:[0-9a-f-]{36}\)$/);
    expect(d1.skipReason).toBeUndefined();
    // resetAt is the start of the next period: next 00:00 UTC, the same as the limit's.
    expect(d1.resetAt).toBe(limit.resetAt);
    const reset = new Date(d1.resetAt!);
    expect([reset.getUTCHours(), reset.getUTCMinutes(), reset.getUTCSeconds()]).toEqual([0, 0, 0]);
    expect(reset.getTime()).toBeGreaterThan(Date.now());
    expect(reset.getTime() - Date.now()).toBeLessThanOrEqual(DAY);

    // Exceeded: the counter as it is (not incremented), and the headroom before this amount.
    const second = await validate(account, "80.00");
    expect(detailOf(second, limit.limitId)).toMatchObject({
      ...base,
      attemptedAmount: "80.00",
      currentUsage: "30.00",
      remaining: "70.00",
      exceeded: true,
    });
    // Filling to exactly the maximum is allowed.
    const third = await validate(account, "70");
    expect(third.decision).toBe("ALLOW");
    expect(detailOf(third, limit.limitId)).toMatchObject({
      currentUsage: "100.00",
      remaining: "0.00",
      exceeded: false,
    });
    const fourth = await validate(account, "0.01");
    expect(detailOf(fourth, limit.limitId)).toMatchObject({
      currentUsage: "100.00",
      remaining: "0.00",
      exceeded: true,
    });
    expect(await currentUsage(limit.limitId)).toBe("100.00");
  });

  it("the first matching scope picks the counter: a segment scope listed first pools the whole segment", async () => {
    const segmentId = randomUUID();
    const accountA = randomUUID();
    const accountB = randomUUID();
    const limit = await activeLimit({
      maxAmount: "100.00",
      scopes: [{ segmentId }, { accountId: accountA }],
    });
    const inSegment = (accountId: string, amount: string) =>
      validate(accountId, amount, { segment: { segmentId } });
    expect((await inSegment(accountA, "60.00")).decision).toBe("ALLOW");
    // B shares the segment's pool with A.
    expect(await inSegment(accountB, "40.01")).toMatchObject({ decision: "DENY", reason: "limit_exceeded" });
    // Outside the segment, A falls to its own account scope: a separate counter.
    expect((await validate(accountA, "90.00")).decision).toBe("ALLOW");
    const usage = await ok<{ scopes: { scopeKey: string; currentUsage: string }[] }>(
      await t.request("GET", `/v1/limits/${limit.limitId}/usage`),
    );
    expect([...usage.scopes].sort((x, y) => (x.scopeKey < y.scopeKey ? -1 : 1))).toEqual([
      { scopeKey: `acct:${accountA}`, currentUsage: "90.00" },
      { scopeKey: `seg:${segmentId}`, currentUsage: "60.00" },
    ]);
  });

  it("JPY and BHD limits report amounts with their own exponent", async () => {
    const account = randomUUID();
    const jpy = await activeLimit({ currency: "JPY", maxAmount: "10000", scopes: [{ accountId: account }] });
    const r = await validate(account, "2500", { currency: "JPY" });
    expect(detailOf(r, jpy.limitId)).toMatchObject({
      limitAmount: "10000",
      attemptedAmount: "2500",
      currentUsage: "2500",
      remaining: "7500",
    });
    const bhd = await activeLimit({ currency: "BHD", maxAmount: "1", scopes: [{ accountId: account }] });
    const b = await validate(account, "0.25", { currency: "BHD" });
    expect(detailOf(b, bhd.limitId)).toMatchObject({
      limitAmount: "1.000",
      attemptedAmount: "0.250",
      currentUsage: "0.250",
      remaining: "0.750",
    });
  });

  it("a denied validation is recorded with its details in the audit event, money as strings", async () => {
    const account = randomUUID();
    const limit = await activeLimit({ maxAmount: "10.00", scopes: [{ accountId: account }] });
    const r = await validate(account, "12.50");
    expect(r.decision).toBe("DENY");
    const events = await ok<{
      auditEvents: {
        result: string;
        context: { response: { limitUsageDetails: Detail[] }; request: { amount: unknown } };
      }[];
    }>(await t.request("GET", `/v1/audit-events?resource_id=${r.validationId}`));
    expect(events.auditEvents).toHaveLength(1);
    const event = events.auditEvents[0]!;
    expect(event.result).toBe("DENY");
    expect(event.context.request.amount).toBe("12.50");
    expect(event.context.response.limitUsageDetails).toEqual(r.limitUsageDetails);
    expect(detailOf(r, limit.limitId).exceeded).toBe(true);
  });
});
