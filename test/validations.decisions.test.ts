/**
 * The decision pipeline end to end through the public API (CONTRACT §5, §6): every precedence
 * case, how each interacts with limits (DENY by rule never checks them, REVIEW never consumes,
 * an exceeded limit beats an ALLOW rule, a DENY default consumes nothing), the response fields,
 * the TRANSACTION_VALIDATED event of every decision, the stored record, the list filters and
 * cursor pagination, and the audit chain verifying after all of it.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "./harness.js";

type Decision = "ALLOW" | "DENY" | "REVIEW";
type LimitDetail = {
  limitId: string;
  limitAmount: string;
  currentUsage: string;
  attemptedAmount: string;
  exceeded: boolean;
  period: string;
  scope: string;
  skipped: boolean;
  remaining: string;
  resetAt: string | null;
};
type ValidationResponse = {
  validationId: string;
  requestId: string;
  decision: Decision;
  reason: string;
  matchedRuleIds: string[];
  evaluatedRuleIds: string[];
  limitUsageDetails: LimitDetail[];
  processingTimeMs: number;
  evaluatedAt: string;
  totalRulesLoaded: number;
  truncated: boolean;
  degraded: boolean;
  degradedReason?: string;
  auditSequence: number;
  auditHash: string;
};
type StoredRecord = ValidationResponse & { request: Record<string, unknown>; createdAt: string };
type AuditEvent = {
  eventId: string;
  tenantId: string;
  sequence: number;
  eventType: string;
  action: string;
  result: string;
  resourceType: string;
  resourceId: string;
  actor: { id: string; actorType: string; name: string };
  context: { request: unknown; response: Record<string, unknown> };
  previousHash: string;
  hash: string;
};
type Summary = {
  validationId: string;
  requestId: string;
  decision: Decision;
  amount: string;
  accountId: string;
  segmentId: string | null;
  portfolioId: string | null;
  transactionType: string;
  matchedRuleIds: string[];
  exceededLimitIds: string[];
  createdAt: string;
};
type Page = { transactionValidations: Summary[]; hasMore: boolean; nextCursor: string | null };

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const RFC3339_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const REASON = {
  deny: "Rule matched with DENY action",
  limit: "limit_exceeded",
  review: "Rule matched with REVIEW action",
  allow: "Rule matched with ALLOW action",
  none: "No matching rules found",
};

/** Everything one app validated, in order, as the list filters should see it. */
interface Recorded {
  response: ValidationResponse;
  record: StoredRecord;
}

function harness(app: () => TestApp) {
  const recorded: Recorded[] = [];

  async function json<T>(method: string, path: string, body?: unknown, status = 200): Promise<T> {
    const res = await app().request(method, path, body);
    const text = await res.text();
    expect(res.status, `${method} ${path}: ${text}`).toBe(status);
    return JSON.parse(text) as T;
  }

  async function rule(action: Decision, expression: unknown, scopes: unknown[] = []): Promise<string> {
    const body: Record<string, unknown> = { name: `rule-${randomUUID()}`, expression, action };
    if (scopes.length > 0) body.scopes = scopes;
    const created = await json<{ ruleId: string }>("POST", "/v1/rules", body, 201);
    await json("POST", `/v1/rules/${created.ruleId}/activate`);
    return created.ruleId;
  }

  async function limit(
    limitType: string,
    maxAmount: string,
    scopes: unknown[],
    currency = "BRL",
  ): Promise<string> {
    const created = await json<{ limitId: string }>(
      "POST",
      "/v1/limits",
      { name: `limit-${randomUUID()}`, limitType, maxAmount, currency, scopes },
      201,
    );
    await json("POST", `/v1/limits/${created.limitId}/activate`);
    return created.limitId;
  }

  const usage = async (limitId: string) =>
    (await json<{ currentUsage: string }>("GET", `/v1/limits/${limitId}/usage`)).currentUsage;

  function tx(accountId: string, amount: string | number, extra: Record<string, unknown> = {}) {
    return {
      requestId: randomUUID(),
      transactionType: "CARD",
      amount,
      currency: "BRL",
      transactionTimestamp: new Date().toISOString(),
      account: { accountId },
      ...extra,
    };
  }

  /** POSTs a new validation (201), and records the stored record for the list checks. */
  async function validate(body: Record<string, unknown>): Promise<ValidationResponse> {
    const response = await json<ValidationResponse>("POST", "/v1/validations", body, 201);
    const record = await json<StoredRecord>("GET", `/v1/validations/${response.validationId}`);
    recorded.push({ response, record });
    return response;
  }

  async function eventOf(validationId: string): Promise<AuditEvent> {
    const page = await json<{ auditEvents: AuditEvent[] }>(
      "GET",
      `/v1/audit-events?resource_id=${validationId}`,
    );
    expect(page.auditEvents).toHaveLength(1);
    return page.auditEvents[0]!;
  }

  return { recorded, json, rule, limit, usage, tx, validate, eventOf };
}

const gt = (n: number) => ({ ">": [{ var: "amount" }, n] });
const account = (accountId: string) => [{ accountId }];

let t: TestApp;
const h = harness(() => t);

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe("decision precedence (CONTRACT §5), default ALLOW", () => {
  it("a matching DENY rule → DENY, whatever REVIEW/ALLOW rules say; limits are not checked", async () => {
    const acc = randomUUID();
    const deny = await h.rule("DENY", gt(100), account(acc));
    const review = await h.rule("REVIEW", gt(100), account(acc));
    const allow = await h.rule("ALLOW", gt(0), account(acc));
    const daily = await h.limit("DAILY", "1000.00", account(acc));

    const denied = await h.validate(h.tx(acc, "500.00"));
    expect(denied).toMatchObject({ decision: "DENY", reason: REASON.deny });
    // All matches are reported, in (createdAt, ruleId) order.
    expect(denied.matchedRuleIds).toEqual([deny, review, allow]);
    expect(denied.evaluatedRuleIds).toEqual([deny, review, allow]);
    expect(denied.totalRulesLoaded).toBe(3);
    expect(denied.limitUsageDetails).toEqual([]);
    expect(await h.usage(daily)).toBe("0.00");

    // Over the limit too: still the rule's DENY, and still no limit check.
    const both = await h.validate(h.tx(acc, "5000.00"));
    expect(both).toMatchObject({ decision: "DENY", reason: REASON.deny, limitUsageDetails: [] });
    expect(await h.usage(daily)).toBe("0.00");

    // Below the DENY threshold the same account is allowed by its ALLOW rule and consumes.
    const allowed = await h.validate(h.tx(acc, "50.00"));
    expect(allowed).toMatchObject({ decision: "ALLOW", reason: REASON.allow, matchedRuleIds: [allow] });
    expect(allowed.evaluatedRuleIds).toEqual([deny, review, allow]);
    expect(allowed.limitUsageDetails).toMatchObject([
      { limitId: daily, limitAmount: "1000.00", currentUsage: "50.00", exceeded: false, remaining: "950.00" },
    ]);
    expect(await h.usage(daily)).toBe("50.00");
  });

  it("an exceeded limit → DENY limit_exceeded even with a matching ALLOW rule; nothing consumed", async () => {
    const acc = randomUUID();
    const allow = await h.rule("ALLOW", gt(0), account(acc));
    const daily = await h.limit("DAILY", "100.00", account(acc));
    const perTx = await h.limit("PER_TRANSACTION", "80.00", account(acc));

    const first = await h.validate(h.tx(acc, "60.00"));
    expect(first).toMatchObject({ decision: "ALLOW", reason: REASON.allow, matchedRuleIds: [allow] });
    expect(first.limitUsageDetails).toMatchObject([
      {
        limitId: daily,
        limitAmount: "100.00",
        currentUsage: "60.00",
        attemptedAmount: "60.00",
        exceeded: false,
        period: "DAILY",
        skipped: false,
        remaining: "40.00",
      },
      {
        limitId: perTx,
        limitAmount: "80.00",
        exceeded: false,
        period: "PER_TRANSACTION",
        remaining: "20.00",
      },
    ]);
    expect(first.limitUsageDetails[0]?.resetAt).toMatch(RFC3339_MS_UTC);
    expect(first.limitUsageDetails[1]?.resetAt).toBeNull();
    expect(await h.usage(daily)).toBe("60.00");

    const over = await h.validate(h.tx(acc, "50.00"));
    expect(over).toMatchObject({ decision: "DENY", reason: REASON.limit, matchedRuleIds: [allow] });
    expect(over.limitUsageDetails).toMatchObject([
      { limitId: daily, currentUsage: "60.00", attemptedAmount: "50.00", exceeded: true, remaining: "40.00" },
      { limitId: perTx, exceeded: false },
    ]);
    expect(await h.usage(daily)).toBe("60.00");

    const perTxOver = await h.validate(h.tx(acc, "80.01"));
    expect(perTxOver).toMatchObject({ decision: "DENY", reason: REASON.limit });
    expect(perTxOver.limitUsageDetails.map((d) => d.exceeded)).toEqual([true, true]);
    expect(await h.usage(daily)).toBe("60.00");

    // Exactly reaching maxAmount is allowed; one cent more is not.
    const exact = await h.validate(h.tx(acc, "40.00"));
    expect(exact).toMatchObject({ decision: "ALLOW" });
    expect(exact.limitUsageDetails[0]).toMatchObject({ currentUsage: "100.00", remaining: "0.00" });
    expect(await h.usage(daily)).toBe("100.00");
    const cent = await h.validate(h.tx(acc, "0.01"));
    expect(cent).toMatchObject({ decision: "DENY", reason: REASON.limit });
    expect(await h.usage(daily)).toBe("100.00");
  });

  it("an exceeded limit beats a matching REVIEW rule; a fitting REVIEW never consumes", async () => {
    const acc = randomUUID();
    const review = await h.rule("REVIEW", gt(0), account(acc));
    const daily = await h.limit("DAILY", "100.00", account(acc));

    const over = await h.validate(h.tx(acc, "150.00"));
    expect(over).toMatchObject({ decision: "DENY", reason: REASON.limit, matchedRuleIds: [review] });
    expect(over.limitUsageDetails).toMatchObject([{ limitId: daily, exceeded: true, currentUsage: "0.00" }]);

    for (let i = 0; i < 2; i++) {
      const reviewed = await h.validate(h.tx(acc, "60.00"));
      expect(reviewed).toMatchObject({ decision: "REVIEW", reason: REASON.review, matchedRuleIds: [review] });
      // The detail reports what this transaction would use; the counter is untouched, so the
      // second REVIEW sees the same projection, not 120.
      expect(reviewed.limitUsageDetails).toMatchObject([
        { limitId: daily, exceeded: false, currentUsage: "60.00", remaining: "40.00" },
      ]);
      expect(await h.usage(daily)).toBe("0.00");
    }
  });

  it("a matching REVIEW rule → REVIEW over a matching ALLOW rule, and nothing is consumed", async () => {
    const acc = randomUUID();
    const review = await h.rule("REVIEW", gt(1000), account(acc));
    const allow = await h.rule("ALLOW", gt(0), account(acc));
    const daily = await h.limit("DAILY", "5000.00", account(acc));

    const reviewed = await h.validate(h.tx(acc, "2000.00"));
    expect(reviewed).toMatchObject({
      decision: "REVIEW",
      reason: REASON.review,
      matchedRuleIds: [review, allow],
      evaluatedRuleIds: [review, allow],
      totalRulesLoaded: 2,
    });
    expect(await h.usage(daily)).toBe("0.00");

    const allowed = await h.validate(h.tx(acc, "500.00"));
    expect(allowed).toMatchObject({ decision: "ALLOW", reason: REASON.allow, matchedRuleIds: [allow] });
    expect(await h.usage(daily)).toBe("500.00");
  });

  it("a matching ALLOW rule → ALLOW and consumes; a non-matching one leaves the default", async () => {
    const acc = randomUUID();
    const allow = await h.rule("ALLOW", { "==": [{ var: "merchant.category" }, "5411"] }, account(acc));
    const daily = await h.limit("DAILY", "1000.00", account(acc));
    const merchant = { merchantId: randomUUID(), category: "5411", country: "BR" };
    const allowed = await h.validate(h.tx(acc, "10.00", { merchant }));
    expect(allowed).toMatchObject({
      decision: "ALLOW",
      reason: REASON.allow,
      matchedRuleIds: [allow],
      evaluatedRuleIds: [allow],
    });
    const other = await h.validate(h.tx(acc, "15.00"));
    expect(other).toMatchObject({
      decision: "ALLOW",
      reason: REASON.none,
      matchedRuleIds: [],
      evaluatedRuleIds: [allow],
      totalRulesLoaded: 1,
    });
    expect(await h.usage(daily)).toBe("25.00");
  });

  it("no matching rule → DEFAULT_DECISION_WHEN_NO_MATCH (ALLOW), which consumes", async () => {
    const acc = randomUUID();
    const daily = await h.limit("DAILY", "1000.00", account(acc));
    const res = await h.validate(h.tx(acc, "300.00"));
    expect(res).toMatchObject({
      decision: "ALLOW",
      reason: REASON.none,
      matchedRuleIds: [],
      evaluatedRuleIds: [],
      totalRulesLoaded: 0,
    });
    expect(await h.usage(daily)).toBe("300.00");
  });

  it("only ACTIVE rules count: a DRAFT rule is ignored, a deactivated one stops matching", async () => {
    const acc = randomUUID();
    await h.json(
      "POST",
      "/v1/rules",
      { name: `draft-${acc}`, expression: gt(0), action: "DENY", scopes: account(acc) },
      201,
    );
    expect(await h.validate(h.tx(acc, "1.00"))).toMatchObject({ decision: "ALLOW", reason: REASON.none });
    const deny = await h.rule("DENY", gt(0), account(acc));
    expect(await h.validate(h.tx(acc, "1.00"))).toMatchObject({ decision: "DENY", matchedRuleIds: [deny] });
    await h.json("POST", `/v1/rules/${deny}/deactivate`);
    expect(await h.validate(h.tx(acc, "1.00"))).toMatchObject({ decision: "ALLOW", reason: REASON.none });
  });

  it("a limit in another currency does not apply", async () => {
    const acc = randomUUID();
    const usd = await h.limit("DAILY", "1.00", account(acc), "USD");
    const res = await h.validate(h.tx(acc, "500.00"));
    expect(res).toMatchObject({ decision: "ALLOW", limitUsageDetails: [] });
    expect(await h.usage(usd)).toBe("0.00");
  });
});

describe("DEFAULT_DECISION_WHEN_NO_MATCH=DENY", () => {
  let d: TestApp;
  const dh = harness(() => d);
  beforeAll(async () => {
    d = await createTestApp({ DEFAULT_DECISION_WHEN_NO_MATCH: "DENY" });
  });
  afterAll(async () => {
    await d?.close();
  });

  it("no match → DENY with the no-match reason and nothing consumed; a matching ALLOW rule still allows", async () => {
    const acc = randomUUID();
    const allow = await dh.rule("ALLOW", gt(500), account(acc));
    const daily = await dh.limit("DAILY", "1000.00", account(acc));

    const denied = await dh.validate(dh.tx(acc, "100.00"));
    expect(denied).toMatchObject({ decision: "DENY", reason: REASON.none, matchedRuleIds: [] });
    expect(denied.limitUsageDetails).toMatchObject([{ limitId: daily, exceeded: false }]);
    expect(await dh.usage(daily)).toBe("0.00");

    const allowed = await dh.validate(dh.tx(acc, "600.00"));
    expect(allowed).toMatchObject({ decision: "ALLOW", reason: REASON.allow, matchedRuleIds: [allow] });
    expect(await dh.usage(daily)).toBe("600.00");

    const again = await dh.validate(dh.tx(acc, "100.00"));
    expect(again).toMatchObject({ decision: "DENY", reason: REASON.none });
    expect(await dh.usage(daily)).toBe("600.00");

    const other = await dh.validate(dh.tx(randomUUID(), "1.00"));
    expect(other).toMatchObject({ decision: "DENY", reason: REASON.none, limitUsageDetails: [] });
  });

  it("every decision has its event and the chain verifies", async () => {
    for (const { response } of dh.recorded) {
      const event = await dh.eventOf(response.validationId);
      expect(event).toMatchObject({ result: response.decision, hash: response.auditHash });
    }
    expect(await dh.json("GET", "/v1/audit-events/verify")).toMatchObject({ isValid: true });
  });
});

describe("MAX_RULES_PER_REQUEST", () => {
  let m: TestApp;
  const mh = harness(() => m);
  beforeAll(async () => {
    m = await createTestApp({ MAX_RULES_PER_REQUEST: "2" });
  });
  afterAll(async () => {
    await m?.close();
  });

  it("above it the response says truncated and the kept rules are chosen by precedence, not at random", async () => {
    const acc = randomUUID();
    const allow = await mh.rule("ALLOW", gt(0), account(acc));
    const review = await mh.rule("REVIEW", gt(0), account(acc));
    const deny = await mh.rule("DENY", gt(0), account(acc));
    for (let i = 0; i < 3; i++) {
      const res = await mh.validate(mh.tx(acc, "10.00"));
      expect(res).toMatchObject({
        decision: "DENY",
        reason: REASON.deny,
        truncated: true,
        totalRulesLoaded: 3,
        evaluatedRuleIds: [review, deny],
        matchedRuleIds: [review, deny],
      });
      expect(res.matchedRuleIds).not.toContain(allow);
    }
    // At or under the maximum nothing is truncated.
    const other = randomUUID();
    await mh.rule("ALLOW", gt(0), account(other));
    expect(await mh.validate(mh.tx(other, "10.00"))).toMatchObject({ truncated: false, totalRulesLoaded: 1 });
  });
});

describe("response, stored record and audit event", () => {
  it("carries every field of CONTRACT §5", async () => {
    const res = await h.validate(h.tx(randomUUID(), 1500.5));
    expect(Object.keys(res).sort()).toEqual(
      [
        "validationId",
        "requestId",
        "decision",
        "reason",
        "matchedRuleIds",
        "evaluatedRuleIds",
        "limitUsageDetails",
        "processingTimeMs",
        "evaluatedAt",
        "totalRulesLoaded",
        "truncated",
        "degraded",
        "auditSequence",
        "auditHash",
      ].sort(),
    );
    expect(res.validationId).toMatch(UUID_V7);
    expect(res.evaluatedAt).toMatch(RFC3339_MS_UTC);
    expect(typeof res.processingTimeMs).toBe("number");
    expect(res.processingTimeMs).toBeGreaterThanOrEqual(0);
    expect(res).toMatchObject({ truncated: false, degraded: false, totalRulesLoaded: 0 });
    expect(Number.isInteger(res.auditSequence)).toBe(true);
    expect(res.auditHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("GET /v1/validations/{id} returns the stored response plus request and createdAt", async () => {
    const body = h.tx(randomUUID(), "12.30", {
      subType: "Debit",
      segment: { segmentId: randomUUID() },
      metadata: { channel: "app" },
    });
    const res = await h.validate(body);
    const record = await h.json<StoredRecord>("GET", `/v1/validations/${res.validationId}`);
    const { request, createdAt, ...response } = record;
    expect(response).toEqual(res);
    expect(createdAt).toMatch(RFC3339_MS_UTC);
    expect(request).toEqual({ ...body, amount: "12.30", subType: "debit" });
  });

  it("404 VALIDATION_NOT_FOUND for an unknown id; 400 for a malformed one", async () => {
    const res = await t.request("GET", `/v1/validations/${randomUUID()}`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(await res.json()).toMatchObject({ code: "VALIDATION_NOT_FOUND" });
    const bad = await t.request("GET", "/v1/validations/not-a-uuid");
    expect(bad.status).toBe(400);
  });

  it("every decision made so far has exactly one TRANSACTION_VALIDATED event matching its response", async () => {
    expect(h.recorded.length).toBeGreaterThan(20);
    const decisions = new Set(h.recorded.map((r) => r.response.decision));
    expect([...decisions].sort()).toEqual(["ALLOW", "DENY", "REVIEW"]);
    for (const { response, record } of h.recorded) {
      const event = await h.eventOf(response.validationId);
      expect(event).toMatchObject({
        tenantId: "default",
        sequence: response.auditSequence,
        hash: response.auditHash,
        eventType: "TRANSACTION_VALIDATED",
        result: response.decision,
        resourceType: "transaction",
        resourceId: response.validationId,
        actor: { actorType: "api_key" },
      });
      const { auditSequence: _s, auditHash: _h, ...withoutAudit } = response;
      expect(event.context.response).toEqual(withoutAudit);
      expect(event.context.request).toEqual(record.request);
      const single = await h.json<{ isValid: boolean }>("GET", `/v1/audit-events/${event.eventId}/verify`);
      expect(single.isValid).toBe(true);
    }
    const sequences = h.recorded.map((r) => r.response.auditSequence);
    expect(new Set(sequences).size).toBe(sequences.length);
  });
});

describe("GET /v1/validations", () => {
  const seg1 = randomUUID();
  const seg2 = randomUUID();
  const port1 = randomUUID();
  const listAcc = randomUUID();

  beforeAll(async () => {
    // Variety for the filters: segments, portfolios and transaction types.
    await h.validate(h.tx(listAcc, "1.00", { transactionType: "PIX", segment: { segmentId: seg1 } }));
    await h.validate(h.tx(listAcc, "2.00", { transactionType: "WIRE", segment: { segmentId: seg2 } }));
    await h.validate(
      h.tx(randomUUID(), "3.00", {
        transactionType: "PIX",
        segment: { segmentId: seg1 },
        portfolio: { portfolioId: port1 },
      }),
    );
    await h.validate(h.tx(listAcc, "4.00", { transactionType: "CRYPTO", portfolio: { portfolioId: port1 } }));
  });

  /** Walks every page of a query with a small page size; returns ids in page order. */
  async function listAll(query: string, pageSize = 3): Promise<Summary[]> {
    const out: Summary[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 200; pages++) {
      const sep = query ? "&" : "";
      const url: string = `/v1/validations?${query}${sep}limit=${pageSize}${cursor ? `&cursor=${cursor}` : ""}`;
      const page: Page = await h.json<Page>("GET", url);
      expect(page.transactionValidations.length).toBeLessThanOrEqual(pageSize);
      out.push(...page.transactionValidations);
      if (!page.hasMore) {
        expect(page.nextCursor).toBeNull();
        return out;
      }
      expect(page.transactionValidations).toHaveLength(pageSize);
      cursor = page.nextCursor;
      expect(cursor).toBeTruthy();
    }
    throw new Error("pagination did not end");
  }

  const ids = (rows: { validationId: string }[]) => rows.map((r) => r.validationId).sort();
  const expected = (keep: (r: Recorded) => boolean) =>
    h.recorded
      .filter(keep)
      .map((r) => r.response.validationId)
      .sort();

  it("without filters: every validation, newest first, across pages with no duplicate", async () => {
    const rows = await listAll("", 4);
    expect(ids(rows)).toEqual(expected(() => true));
    const order = [...h.recorded]
      .sort((a, b) =>
        a.record.createdAt !== b.record.createdAt
          ? a.record.createdAt < b.record.createdAt
            ? 1
            : -1
          : a.response.validationId < b.response.validationId
            ? 1
            : -1,
      )
      .map((r) => r.response.validationId);
    expect(rows.map((r) => r.validationId)).toEqual(order);
    const asc = await listAll("sort_order=asc", 5);
    expect(asc.map((r) => r.validationId)).toEqual([...order].reverse());
  });

  it("summaries carry the stored facts", async () => {
    const rows = await listAll(`account_id=${listAcc}`);
    for (const row of rows) {
      const rec = h.recorded.find((r) => r.response.validationId === row.validationId)!;
      expect(row).toMatchObject({
        requestId: rec.response.requestId,
        decision: rec.response.decision,
        amount: rec.record.request.amount,
        accountId: listAcc,
        matchedRuleIds: rec.response.matchedRuleIds,
        createdAt: rec.record.createdAt,
      });
    }
  });

  const seg = (r: Recorded) => (r.record.request.segment as { segmentId?: string } | undefined)?.segmentId;
  const port = (r: Recorded) =>
    (r.record.request.portfolio as { portfolioId?: string } | undefined)?.portfolioId;
  const acc = (r: Recorded) => (r.record.request.account as { accountId: string }).accountId;
  const exceeded = (r: Recorded) =>
    r.response.limitUsageDetails.filter((d) => d.exceeded).map((d) => d.limitId);

  it.each(["ALLOW", "DENY", "REVIEW"] as const)("decision=%s", async (decision) => {
    const want = expected((r) => r.response.decision === decision);
    expect(want.length).toBeGreaterThan(0);
    expect(ids(await listAll(`decision=${decision}`))).toEqual(want);
  });

  it("account_id, segment_id, portfolio_id, transaction_type", async () => {
    expect(ids(await listAll(`account_id=${listAcc}`))).toEqual(expected((r) => acc(r) === listAcc));
    expect(ids(await listAll(`account_id=${listAcc.toUpperCase()}`))).toEqual(
      expected((r) => acc(r) === listAcc),
    );
    expect(ids(await listAll(`segment_id=${seg1}`))).toEqual(expected((r) => seg(r) === seg1));
    expect(ids(await listAll(`segment_id=${seg1}`))).toHaveLength(2);
    expect(ids(await listAll(`portfolio_id=${port1}`))).toEqual(expected((r) => port(r) === port1));
    expect(ids(await listAll(`portfolio_id=${port1}`))).toHaveLength(2);
    for (const type of ["CARD", "PIX", "WIRE", "CRYPTO"]) {
      expect(ids(await listAll(`transaction_type=${type}`))).toEqual(
        expected((r) => r.record.request.transactionType === type),
      );
    }
    expect(ids(await listAll(`account_id=${listAcc}&transaction_type=PIX&segment_id=${seg1}`))).toHaveLength(
      1,
    );
  });

  it("matched_rule_id and exceeded_limit_id", async () => {
    const ruleIds = new Set(h.recorded.flatMap((r) => r.response.matchedRuleIds));
    expect(ruleIds.size).toBeGreaterThan(3);
    for (const ruleId of ruleIds) {
      expect(ids(await listAll(`matched_rule_id=${ruleId}`))).toEqual(
        expected((r) => r.response.matchedRuleIds.includes(ruleId)),
      );
    }
    const limitIds = new Set(h.recorded.flatMap(exceeded));
    expect(limitIds.size).toBeGreaterThan(1);
    for (const limitId of limitIds) {
      expect(ids(await listAll(`exceeded_limit_id=${limitId}`))).toEqual(
        expected((r) => exceeded(r).includes(limitId)),
      );
    }
    expect(await listAll(`matched_rule_id=${randomUUID()}`)).toEqual([]);
  });

  it("decision combined with account_id", async () => {
    const denyAcc = acc(h.recorded.find((r) => r.response.reason === REASON.limit)!);
    expect(ids(await listAll(`decision=DENY&account_id=${denyAcc}`))).toEqual(
      expected((r) => r.response.decision === "DENY" && acc(r) === denyAcc),
    );
  });

  it("start_date (inclusive) and end_date (exclusive) on createdAt", async () => {
    const times = [...new Set(h.recorded.map((r) => r.record.createdAt))].sort();
    expect(times.length).toBeGreaterThan(4);
    const pivot = times[Math.floor(times.length / 2)]!;
    const last = times[times.length - 1]!;
    const after = ids(await listAll(`start_date=${encodeURIComponent(pivot)}`));
    const before = ids(await listAll(`end_date=${encodeURIComponent(pivot)}`));
    expect(after).toEqual(expected((r) => r.record.createdAt >= pivot));
    expect(before).toEqual(expected((r) => r.record.createdAt < pivot));
    expect(after.length + before.length).toBe(h.recorded.length);
    const window = ids(
      await listAll(`start_date=${encodeURIComponent(pivot)}&end_date=${encodeURIComponent(last)}`),
    );
    expect(window).toEqual(expected((r) => r.record.createdAt >= pivot && r.record.createdAt < last));
    const offset = new Date(Date.parse(pivot)).toISOString().replace("Z", "+00:00");
    expect(ids(await listAll(`start_date=${encodeURIComponent(offset)}`))).toEqual(after);
  });

  it("rejects bad filters and cursors with 400 naming the query parameter", async () => {
    for (const [query, path] of [
      ["decision=MAYBE", "query.decision"],
      ["account_id=nope", "query.account_id"],
      ["transaction_type=CASH", "query.transaction_type"],
      ["start_date=yesterday", "query.start_date"],
      ["limit=0", "query.limit"],
      ["limit=1001", "query.limit"],
      ["cursor=garbage", "query.cursor"],
      ["color=red", "query.color"],
    ] as const) {
      const res = await t.request("GET", `/v1/validations?${query}`);
      expect(res.status, query).toBe(400);
      const body = (await res.json()) as { errors: { path: string }[] };
      expect(body.errors.map((e) => e.path)).toContain(path);
    }
  });

  it("the audit chain verifies after all of it and counts every event", async () => {
    const all = await h.json<{ auditEvents: AuditEvent[] }>("GET", "/v1/audit-events?limit=1000");
    const validated = all.auditEvents.filter((e) => e.eventType === "TRANSACTION_VALIDATED");
    expect(validated).toHaveLength(h.recorded.length);
    const verify = await h.json<{ isValid: boolean; totalChecked: number }>("GET", "/v1/audit-events/verify");
    expect(verify).toMatchObject({ isValid: true, totalChecked: all.auditEvents.length });
  });
});
