/**
 * Rule evaluation as POST /v1/validations exposes it (CONTRACT §3, §5): deterministic order, scope
 * matching, missing variables, what is evaluated and counted, and truncation above
 * MAX_RULES_PER_REQUEST (DENY rules kept first, see src/rules/rule-set.ts).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "./harness.js";

interface Rule {
  ruleId: string;
  action: "ALLOW" | "DENY" | "REVIEW";
  status: string;
  createdAt: string;
}

interface Validation {
  validationId: string;
  decision: "ALLOW" | "DENY" | "REVIEW";
  reason: string;
  matchedRuleIds: string[];
  evaluatedRuleIds: string[];
  totalRulesLoaded: number;
  truncated: boolean;
  degraded: boolean;
}

const ALWAYS = { ">": [{ var: "amount" }, 0] };
const NEVER = { ">": [{ var: "amount" }, 1_000_000] };

async function readJson<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function createRule(
  app: TestApp,
  body: { action?: string; expression?: unknown; scopes?: unknown[] },
  activate = true,
): Promise<Rule> {
  const rule = await readJson<Rule>(
    await app.request("POST", "/v1/rules", {
      name: `rule ${randomUUID()}`,
      expression: ALWAYS,
      action: "ALLOW",
      ...body,
    }),
    201,
  );
  if (!activate) return rule;
  return readJson<Rule>(await app.request("POST", `/v1/rules/${rule.ruleId}/activate`), 200);
}

async function validate(app: TestApp, overrides: Record<string, unknown>): Promise<Validation> {
  const body = {
    requestId: randomUUID(),
    transactionType: "CARD",
    amount: "50.00",
    currency: "BRL",
    transactionTimestamp: new Date().toISOString(),
    account: { accountId: randomUUID() },
    ...overrides,
  };
  const v = await readJson<Validation>(await app.request("POST", "/v1/validations", body), 201);
  expect(v.degraded).toBe(false);
  return v;
}

/** Rule ids in the contract's evaluation order: createdAt, then ruleId. */
function inCreationOrder(rules: Rule[]): string[] {
  return [...rules]
    .sort((a, b) =>
      a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? -1 : 1) : a.ruleId < b.ruleId ? -1 : 1,
    )
    .map((r) => r.ruleId);
}

const evaluationErrors = (app: TestApp) => app.logs.filter((line) => line.includes("rule evaluation error"));

/** Every rule this app holds is scoped to an account a test made up, so tests cannot see each other. */
describe("scoped rules (no global rule in this database)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it("reports matched and evaluated rules in (createdAt, ruleId) order, whatever the activation order", async () => {
    const accountId = randomUUID();
    const scopes = [{ accountId }];
    // Created concurrently so that several share a createdAt millisecond and ruleId breaks the tie.
    const drafts = await Promise.all(
      ["ALLOW", "REVIEW", "ALLOW", "REVIEW", "ALLOW", "ALLOW", "REVIEW", "ALLOW"].map((action, i) =>
        createRule(t, { action, scopes, expression: i % 3 === 2 ? NEVER : ALWAYS }, false),
      ),
    );
    const active: Rule[] = [];
    for (const rule of [...drafts].reverse()) {
      active.push(await readJson<Rule>(await t.request("POST", `/v1/rules/${rule.ruleId}/activate`), 200));
    }
    // Rules that are not ACTIVE are neither evaluated nor counted.
    await createRule(t, { action: "DENY", scopes }, false);
    const inactive = await createRule(t, { action: "DENY", scopes });
    await readJson(await t.request("POST", `/v1/rules/${inactive.ruleId}/deactivate`), 200);

    const order = inCreationOrder(active);
    const matching = new Set(drafts.filter((_, i) => i % 3 !== 2).map((r) => r.ruleId));
    for (let run = 0; run < 3; run++) {
      const v = await validate(t, { account: { accountId } });
      expect(v.evaluatedRuleIds).toEqual(order);
      expect(v.matchedRuleIds).toEqual(order.filter((id) => matching.has(id)));
      expect(v.totalRulesLoaded).toBe(8);
      expect(v.truncated).toBe(false);
      expect(v.decision).toBe("REVIEW");
    }
  });

  it("matches scopes: account, segment, portfolio, merchant, subType (case-insensitive), AND within, OR across", async () => {
    const accountId = randomUUID();
    const segmentId = randomUUID();
    const portfolioId = randomUUID();
    const merchantId = randomUUID();
    const elsewhere = randomUUID();
    const named = async (label: string, scopes: unknown[]) => ({
      label,
      rule: await createRule(t, { scopes }),
    });
    const rules = [
      await named("account", [{ accountId: accountId.toUpperCase() }]),
      await named("other account", [{ accountId: elsewhere }]),
      await named("segment", [{ segmentId }]),
      await named("other segment", [{ segmentId: elsewhere }]),
      await named("portfolio", [{ portfolioId: portfolioId.toUpperCase() }]),
      await named("merchant", [{ merchantId: merchantId.toUpperCase() }]),
      await named("other merchant", [{ merchantId: elsewhere }]),
      await named("account+subType", [{ accountId, subType: "  ContactLess " }]),
      await named("account+other subType", [{ accountId, subType: "recurring" }]),
      await named("account+CARD", [{ accountId, transactionType: "CARD" }]),
      await named("account+PIX", [{ accountId, transactionType: "PIX" }]),
      await named("segment+other account", [{ segmentId, accountId: elsewhere }]),
      await named("other OR merchant", [{ accountId: elsewhere }, { merchantId }]),
      await named("other OR other", [{ accountId: elsewhere }, { segmentId: elsewhere, merchantId }]),
    ];
    const expectOnly = (v: Validation, labels: string[]) => {
      const want = rules.filter((r) => labels.includes(r.label)).map((r) => r.rule);
      expect(want).toHaveLength(labels.length);
      expect(v.evaluatedRuleIds).toEqual(inCreationOrder(want));
      expect(v.matchedRuleIds).toEqual(v.evaluatedRuleIds);
      expect(v.totalRulesLoaded).toBe(labels.length);
      expect(v.decision).toBe("ALLOW");
    };

    const full = await validate(t, {
      account: { accountId: accountId.toUpperCase() },
      segment: { segmentId },
      portfolio: { portfolioId },
      merchant: { merchantId: merchantId.toUpperCase() },
      subType: "CONTACTLESS",
    });
    expectOnly(full, [
      "account",
      "segment",
      "portfolio",
      "merchant",
      "account+subType",
      "account+CARD",
      "other OR merchant",
    ]);

    // Without segment, portfolio, merchant or subType: only the account-level scopes remain.
    const bare = await validate(t, { account: { accountId } });
    expectOnly(bare, ["account", "account+CARD"]);

    // Another transaction type and subType flip the AND-ed scopes.
    const pix = await validate(t, { account: { accountId }, transactionType: "PIX", subType: "Recurring" });
    expectOnly(pix, ["account", "account+other subType", "account+PIX"]);

    // Nothing applies to a stranger.
    const stranger = await validate(t, {});
    expect(stranger).toMatchObject({ evaluatedRuleIds: [], matchedRuleIds: [], totalRulesLoaded: 0 });
    expect(stranger.decision).toBe("ALLOW");
    expect(stranger.reason).toBe("No matching rules found");
  });

  it("evaluates only scope-matching rules, and counts them whether or not they match", async () => {
    const accountId = randomUUID();
    const yes = await createRule(t, { action: "DENY", scopes: [{ accountId }], expression: ALWAYS });
    const no = await createRule(t, { action: "DENY", scopes: [{ accountId }], expression: NEVER });
    const outOfScope = await createRule(t, { action: "DENY", scopes: [{ accountId: randomUUID() }] });
    const v = await validate(t, { account: { accountId } });
    expect(v.evaluatedRuleIds).toEqual(inCreationOrder([yes, no]));
    expect(v.evaluatedRuleIds).not.toContain(outOfScope.ruleId);
    expect(v.matchedRuleIds).toEqual([yes.ruleId]);
    expect(v.totalRulesLoaded).toBe(2);
    expect(v.decision).toBe("DENY");
  });

  it("a missing variable is null: no error, no match (unless compared with null)", async () => {
    const accountId = randomUUID();
    const scopes = [{ accountId }];
    const denyOnX = await createRule(t, {
      action: "DENY",
      scopes,
      expression: { "==": [{ var: "metadata.x" }, "y"] },
    });
    const reviewOnRisk = await createRule(t, {
      action: "REVIEW",
      scopes,
      expression: { ">": [{ var: "merchant.metadata.risk" }, 5] },
    });
    const denyOnDeep = await createRule(t, {
      action: "DENY",
      scopes,
      expression: { "==": [{ var: "segment.metadata.a.b.c" }, "z"] },
    });
    const xIsNull = await createRule(t, {
      action: "ALLOW",
      scopes,
      expression: { "==": [{ var: "metadata.x" }, null] },
    });
    const all = inCreationOrder([denyOnX, reviewOnRisk, denyOnDeep, xIsNull]);
    const errorsBefore = evaluationErrors(t).length;

    const v = await validate(t, { account: { accountId } });
    expect(v.evaluatedRuleIds).toEqual(all);
    expect(v.matchedRuleIds).toEqual([xIsNull.ruleId]);
    expect(v.decision).toBe("ALLOW");

    const withData = await validate(t, {
      account: { accountId },
      metadata: { x: "y" },
      merchant: { merchantId: randomUUID(), metadata: { risk: 9 } },
      segment: { segmentId: randomUUID(), metadata: { a: { b: { c: "z" } } } },
    });
    expect(withData.matchedRuleIds).toEqual(inCreationOrder([denyOnX, reviewOnRisk, denyOnDeep]));
    expect(withData.decision).toBe("DENY");
    expect(evaluationErrors(t).length).toBe(errorsBefore);
  });

  it("rules see the documented context: amount as a number, subType lower-case, timestamps", async () => {
    const accountId = randomUUID();
    const scopes = [{ accountId }];
    const ts = new Date(Date.now() - 5_000).toISOString();
    const checks = [
      { "===": [{ var: "amount" }, 1500.5] },
      { "===": [{ var: "subType" }, "contactless"] },
      { "===": [{ var: "currency" }, "BRL"] },
      { "===": [{ var: "transactionType" }, "CARD"] },
      { "===": [{ var: "transactionTimestampMs" }, Date.parse(ts)] },
      { "===": [{ var: "account.accountId" }, accountId] },
    ];
    const rules = [];
    for (const expression of checks) rules.push(await createRule(t, { scopes, expression }));
    const v = await validate(t, {
      account: { accountId: accountId.toUpperCase() },
      amount: "1500.50",
      subType: "ContactLess",
      transactionTimestamp: ts,
    });
    expect(v.matchedRuleIds).toEqual(inCreationOrder(rules));
  });
});

describe("global rules", () => {
  let g: TestApp;
  beforeAll(async () => {
    g = await createTestApp();
  });
  afterAll(async () => {
    await g.close();
  });

  it("a rule without scopes applies to every transaction, merged in creation order with scoped ones", async () => {
    const accountId = randomUUID();
    const global1 = await createRule(g, { action: "REVIEW" });
    const scoped = await createRule(g, { scopes: [{ accountId }] });
    const global2 = await createRule(g, { action: "ALLOW", expression: NEVER });
    const elsewhere = await createRule(g, { scopes: [{ accountId: randomUUID() }] });

    const mine = await validate(g, { account: { accountId } });
    expect(mine.evaluatedRuleIds).toEqual(inCreationOrder([global1, scoped, global2]));
    expect(mine.matchedRuleIds).toEqual(inCreationOrder([global1, scoped]));
    expect(mine.totalRulesLoaded).toBe(3);
    expect(mine.decision).toBe("REVIEW");

    const someoneElse = await validate(g, { transactionType: "WIRE" });
    expect(someoneElse.evaluatedRuleIds).toEqual(inCreationOrder([global1, global2]));
    expect(someoneElse.evaluatedRuleIds).not.toContain(elsewhere.ruleId);
    expect(someoneElse.matchedRuleIds).toEqual([global1.ruleId]);
  });
});

describe("truncation with MAX_RULES_PER_REQUEST=5", () => {
  let t5: TestApp;
  beforeAll(async () => {
    t5 = await createTestApp({ MAX_RULES_PER_REQUEST: "5" });
  });
  afterAll(async () => {
    await t5.close();
  });

  it("8 matching rules, 3 DENY created last: DENY rules are kept, the result is stable", async () => {
    const accountId = randomUUID();
    const scopes = [{ accountId }];
    const allow: Rule[] = [];
    for (let i = 0; i < 5; i++) allow.push(await createRule(t5, { action: "ALLOW", scopes }));
    const deny: Rule[] = [];
    for (let i = 0; i < 3; i++) deny.push(await createRule(t5, { action: "DENY", scopes }));

    // Kept: every DENY rule, then the earliest ALLOW rules up to 5, reported in creation order.
    const expected = inCreationOrder([...deny, allow[0]!, allow[1]!]);
    const results: Validation[] = [];
    for (let run = 0; run < 3; run++) results.push(await validate(t5, { account: { accountId } }));
    for (const v of results) {
      expect(v.truncated).toBe(true);
      expect(v.totalRulesLoaded).toBe(8);
      expect(v.evaluatedRuleIds).toEqual(expected);
      for (const d of deny) expect(v.evaluatedRuleIds).toContain(d.ruleId);
      expect(v.matchedRuleIds).toEqual(expected);
      expect(v.decision).toBe("DENY");
      expect(v.reason).toBe("Rule matched with DENY action");
    }
    const { validationId: _a, ...first } = results[0]!;
    for (const v of results.slice(1)) {
      const { validationId: _b, ...rest } = v;
      expect({
        decision: rest.decision,
        matchedRuleIds: rest.matchedRuleIds,
        evaluatedRuleIds: rest.evaluatedRuleIds,
        totalRulesLoaded: rest.totalRulesLoaded,
        truncated: rest.truncated,
      }).toEqual({
        decision: first.decision,
        matchedRuleIds: first.matchedRuleIds,
        evaluatedRuleIds: first.evaluatedRuleIds,
        totalRulesLoaded: first.totalRulesLoaded,
        truncated: first.truncated,
      });
    }
  });

  it("precedence DENY, then REVIEW, then ALLOW decides what is kept", async () => {
    const accountId = randomUUID();
    const scopes = [{ accountId }];
    const make = async (actions: string[]) => {
      const out: Rule[] = [];
      for (const action of actions) out.push(await createRule(t5, { action, scopes }));
      return out;
    };
    const [a1, r1, a2, d1, r2, a3, d2] = await make([
      "ALLOW",
      "REVIEW",
      "ALLOW",
      "DENY",
      "REVIEW",
      "ALLOW",
      "DENY",
    ]);
    const v = await validate(t5, { account: { accountId } });
    expect(v.truncated).toBe(true);
    expect(v.totalRulesLoaded).toBe(7);
    expect(v.evaluatedRuleIds).toEqual(inCreationOrder([a1!, r1!, d1!, r2!, d2!]));
    expect(v.evaluatedRuleIds).not.toContain(a2!.ruleId);
    expect(v.evaluatedRuleIds).not.toContain(a3!.ruleId);
    expect(v.decision).toBe("DENY");
  });

  it("exactly 5 applicable rules are not truncated", async () => {
    const accountId = randomUUID();
    const rules: Rule[] = [];
    for (let i = 0; i < 5; i++)
      rules.push(await createRule(t5, { action: "REVIEW", scopes: [{ accountId }] }));
    const v = await validate(t5, { account: { accountId } });
    expect(v.truncated).toBe(false);
    expect(v.totalRulesLoaded).toBe(5);
    expect(v.evaluatedRuleIds).toEqual(inCreationOrder(rules));
    expect(v.decision).toBe("REVIEW");
  });
});

describe("a matching DENY rule cannot be bypassed", () => {
  let open: TestApp;
  beforeAll(async () => {
    open = await createTestApp({ FAILURE_POSTURE: "open" });
  });
  afterAll(async () => {
    await open.close();
  });

  // PostgreSQL cannot store U+0000 in jsonb/text. Such a request is bad input: it must be refused
  // (400) or decided (DENY here), never mistaken for a database outage and let through as a
  // fail-open ALLOW.
  it("by input the database cannot store, under FAILURE_POSTURE=open", async () => {
    const accountId = randomUUID();
    const deny = await createRule(open, { action: "DENY", scopes: [{ accountId }] });
    expect((await validate(open, { account: { accountId }, metadata: { note: "fine" } })).decision).toBe(
      "DENY",
    );

    const res = await open.request("POST", "/v1/validations", {
      requestId: randomUUID(),
      transactionType: "CARD",
      amount: "50.00",
      currency: "BRL",
      transactionTimestamp: new Date().toISOString(),
      account: { accountId },
      metadata: { note: "a\u0000b" },
    });
    const text = await res.text();
    if (res.status !== 400) {
      expect(res.status, text).toBe(201);
      const v = JSON.parse(text) as Validation;
      expect(v.decision, text).toBe("DENY");
      expect(v.matchedRuleIds).toEqual([deny.ruleId]);
    }
  });
});
