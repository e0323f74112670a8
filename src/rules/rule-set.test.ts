import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Scope, scopesMatch, type TransactionScope } from "../scope/scope.js";
import { compileExpression, type EvalContext } from "./expression/compile.js";
import { buildRuleSet, type RuleAction, type RuleForEval } from "./rule-set.js";

const ctx = {
  transactionType: "CARD",
  subType: "",
  amount: 100,
  currency: "BRL",
  transactionTimestamp: "2025-01-01T00:00:00.000Z",
  transactionTimestampMs: 1735689600000,
  account: { accountId: "a1" },
  segment: {},
  portfolio: {},
  merchant: {},
  metadata: {},
} satisfies EvalContext;

const baseTx: TransactionScope = { accountId: "a1", transactionType: "CARD", subType: "" };

function rule(
  ruleId: string,
  action: RuleAction,
  scopes: Scope[] = [],
  createdAt = "2025-01-01T00:00:00.000Z",
  evaluate: (c: EvalContext) => unknown = () => true,
): RuleForEval {
  return { ruleId, action, scopes, createdAt, evaluate };
}

const unlimited = { maxRules: Number.POSITIVE_INFINITY };

// ---------------------------------------------------------------------------------------------
// Brute-force reference: scan every rule, sort by (createdAt, ruleId), truncate by precedence.

function byCreation(a: RuleForEval, b: RuleForEval): number {
  const d = Date.parse(a.createdAt) - Date.parse(b.createdAt);
  if (d !== 0) return d;
  return a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0;
}

function bruteForce(rules: readonly RuleForEval[], tx: TransactionScope, maxRules: number) {
  const candidates = rules.filter((r) => scopesMatch(r.scopes, tx)).sort(byCreation);
  let selected = candidates;
  if (candidates.length > maxRules) {
    const keep = new Set<RuleForEval>();
    for (const action of ["DENY", "REVIEW", "ALLOW"] as const) {
      for (const r of candidates) if (r.action === action && keep.size < maxRules) keep.add(r);
    }
    selected = candidates.filter((r) => keep.has(r));
  }
  const matched = selected.filter((r) => r.evaluate(ctx) === true);
  return {
    totalRulesLoaded: candidates.length,
    truncated: candidates.length > maxRules,
    evaluatedRuleIds: selected.map((r) => r.ruleId),
    matchedRuleIds: matched.map((r) => r.ruleId),
  };
}

const ACCOUNTS = ["a1", "a2", "a3"];
const MERCHANTS = ["m1", "m2"];
const PORTFOLIOS = ["p1", "p2"];
const SEGMENTS = ["s1", "s2"];
const TYPES = ["CARD", "WIRE", "PIX", "CRYPTO"] as const;
const SUBTYPES = ["instant", "scheduled"];

const scopeArb: fc.Arbitrary<Scope> = fc.record(
  {
    accountId: fc.constantFrom(...ACCOUNTS),
    merchantId: fc.constantFrom(...MERCHANTS),
    portfolioId: fc.constantFrom(...PORTFOLIOS),
    segmentId: fc.constantFrom(...SEGMENTS),
    transactionType: fc.constantFrom(...TYPES),
    subType: fc.constantFrom(...SUBTYPES),
  },
  { requiredKeys: [] },
);

const txArb: fc.Arbitrary<TransactionScope> = fc.record(
  {
    accountId: fc.constantFrom(...ACCOUNTS),
    transactionType: fc.constantFrom(...TYPES),
    subType: fc.constantFrom("", ...SUBTYPES),
    merchantId: fc.constantFrom(...MERCHANTS),
    portfolioId: fc.constantFrom(...PORTFOLIOS),
    segmentId: fc.constantFrom(...SEGMENTS),
  },
  { requiredKeys: ["accountId", "transactionType", "subType"] },
);

// Few distinct timestamps so that ties on createdAt (broken by ruleId) are common.
const rulesArb: fc.Arbitrary<RuleForEval[]> = fc
  .uniqueArray(
    fc.record({
      id: fc.stringMatching(/^r[0-9a-f]{1,3}$/),
      action: fc.constantFrom<RuleAction>("ALLOW", "DENY", "REVIEW"),
      scopes: fc.array(scopeArb, { maxLength: 3 }),
      createdAt: fc.constantFrom(
        "2025-01-01T00:00:00.000Z",
        "2025-01-01T00:00:00.001Z",
        "2025-01-02T00:00:00.000Z",
        "2024-12-31T23:59:59.999Z",
      ),
      matches: fc.boolean(),
    }),
    { selector: (r) => r.id, maxLength: 40 },
  )
  .map((specs) => specs.map((s) => rule(s.id, s.action, s.scopes, s.createdAt, () => s.matches)));

describe("buildRuleSet: scope indexing", () => {
  it("selects exactly the rules a brute-force scan selects, in the same order", () => {
    fc.assert(
      fc.property(rulesArb, txArb, fc.integer({ min: 0, max: 45 }), (rules, tx, maxRules) => {
        const set = buildRuleSet(rules);
        const want = bruteForce(rules, tx, maxRules);
        const got = set.evaluate(ctx, tx, { maxRules });
        expect(got.totalRulesLoaded).toBe(want.totalRulesLoaded);
        expect(got.truncated).toBe(want.truncated);
        expect(got.evaluatedRuleIds).toEqual(want.evaluatedRuleIds);
        expect(got.matchedRuleIds).toEqual(want.matchedRuleIds);
        const byAction = (a: RuleAction) =>
          want.matchedRuleIds.filter((id) => rules.find((r) => r.ruleId === id)?.action === a);
        expect(got.matchedActions).toEqual({
          DENY: byAction("DENY"),
          REVIEW: byAction("REVIEW"),
          ALLOW: byAction("ALLOW"),
        });
        expect(got.errors).toEqual([]);
      }),
      { numRuns: 2_000 },
    );
  });

  it("does not depend on the order rules are given in", () => {
    fc.assert(
      fc.property(rulesArb, txArb, fc.integer({ min: 0, max: 45 }), fc.nat(), (rules, tx, maxRules, seed) => {
        const shuffled = [...rules].sort(
          (a, b) => hash(a.ruleId, seed) - hash(b.ruleId, seed) || a.ruleId.localeCompare(b.ruleId),
        );
        expect(buildRuleSet(shuffled).evaluate(ctx, tx, { maxRules })).toEqual(
          buildRuleSet(rules).evaluate(ctx, tx, { maxRules }),
        );
      }),
      { numRuns: 500 },
    );
  });

  it("verifies the whole scope, not only the indexed field", () => {
    const set = buildRuleSet([
      rule("both", "DENY", [{ accountId: "a1", merchantId: "m1" }]),
      rule("type", "DENY", [{ accountId: "a1", transactionType: "PIX" }]),
      rule("sub", "DENY", [{ subType: "instant" }]),
    ]);
    expect(set.evaluate(ctx, { ...baseTx, merchantId: "m2" }, unlimited).evaluatedRuleIds).toEqual([]);
    expect(set.evaluate(ctx, { ...baseTx, merchantId: "m1" }, unlimited).evaluatedRuleIds).toEqual(["both"]);
    expect(set.evaluate(ctx, { ...baseTx, subType: "instant" }, unlimited).evaluatedRuleIds).toEqual(["sub"]);
  });

  it("reports a rule once even when several of its scopes match", () => {
    const set = buildRuleSet([
      rule("multi", "REVIEW", [
        { accountId: "a1" },
        { accountId: "a1", subType: "instant" },
        { merchantId: "m1" },
      ]),
    ]);
    const result = set.evaluate(ctx, { ...baseTx, subType: "instant", merchantId: "m1" }, unlimited);
    expect(result.evaluatedRuleIds).toEqual(["multi"]);
    expect(result.matchedActions.REVIEW).toEqual(["multi"]);
    expect(result.totalRulesLoaded).toBe(1);
  });

  it("treats no scopes, or an empty scope object, as global", () => {
    const set = buildRuleSet([rule("global", "ALLOW"), rule("empty", "ALLOW", [{}, { accountId: "zz" }])]);
    // Same createdAt: ruleId order.
    expect(set.evaluate(ctx, { ...baseTx, accountId: "other" }, unlimited).evaluatedRuleIds).toEqual([
      "empty",
      "global",
    ]);
  });

  it("never calls a rule whose scopes do not match", () => {
    const set = buildRuleSet([
      rule("other", "DENY", [{ accountId: "a2" }], undefined, () => {
        throw new Error("must not run");
      }),
    ]);
    expect(set.evaluate(ctx, baseTx, unlimited)).toMatchObject({ evaluatedRuleIds: [], errors: [] });
  });
});

describe("buildRuleSet: order and truncation", () => {
  it("orders by createdAt instant, then ruleId", () => {
    const set = buildRuleSet([
      rule("b", "ALLOW", [], "2025-01-01T00:00:00.000Z"),
      rule("a", "ALLOW", [], "2025-01-01T00:00:00.000Z"),
      rule("c", "ALLOW", [], "2024-06-01T00:00:00.000Z"),
      // The same instant written with an offset sorts with the UTC one.
      rule("0", "ALLOW", [], "2025-01-01T01:00:00.000+01:00"),
    ]);
    expect(set.evaluate(ctx, baseTx, unlimited).evaluatedRuleIds).toEqual(["c", "0", "a", "b"]);
  });

  it("keeps DENY rules first, then REVIEW, then ALLOW, and reports the kept ones in creation order", () => {
    const rules = [
      rule("allow-1", "ALLOW", [], "2025-01-01T00:00:00.000Z"),
      rule("review-1", "REVIEW", [], "2025-01-02T00:00:00.000Z"),
      rule("deny-1", "DENY", [{ accountId: "a1" }], "2025-01-03T00:00:00.000Z"),
      rule("allow-2", "ALLOW", [], "2025-01-04T00:00:00.000Z"),
      rule("review-2", "REVIEW", [{ transactionType: "CARD" }], "2025-01-05T00:00:00.000Z"),
      rule("deny-2", "DENY", [], "2025-01-06T00:00:00.000Z"),
    ];
    const set = buildRuleSet(rules);
    const three = set.evaluate(ctx, baseTx, { maxRules: 3 });
    expect(three.truncated).toBe(true);
    expect(three.totalRulesLoaded).toBe(6);
    expect(three.evaluatedRuleIds).toEqual(["review-1", "deny-1", "deny-2"]);
    expect(set.evaluate(ctx, baseTx, { maxRules: 5 }).evaluatedRuleIds).toEqual([
      "allow-1",
      "review-1",
      "deny-1",
      "review-2",
      "deny-2",
    ]);
    const none = set.evaluate(ctx, baseTx, { maxRules: 0 });
    expect(none).toMatchObject({
      evaluatedRuleIds: [],
      matchedRuleIds: [],
      truncated: true,
      totalRulesLoaded: 6,
    });
    expect(set.evaluate(ctx, baseTx, { maxRules: 6 }).truncated).toBe(false);
  });
});

describe("buildRuleSet: evaluation", () => {
  it("counts a rule as matched only when its expression returns exactly true", () => {
    const values = [true, "true", 1, [true], {}, false, null, undefined];
    const set = buildRuleSet(values.map((v, i) => rule(`r${i}`, "ALLOW", [], undefined, () => v)));
    const result = set.evaluate(ctx, baseTx, unlimited);
    expect(result.matchedRuleIds).toEqual(["r0"]);
    expect(result.evaluatedRuleIds).toHaveLength(values.length);
  });

  it("never throws: a failing rule is reported in errors, not matched, and the others still run", () => {
    const hostile = {
      toString() {
        throw new Error("cannot describe");
      },
    };
    const compiled = compileExpression({ in: ["x", { var: "metadata" }] });
    const set = buildRuleSet([
      rule("boom", "DENY", [], "2025-01-01T00:00:00.000Z", () => {
        throw new RangeError("bad input");
      }),
      rule("string", "DENY", [], "2025-01-01T00:00:00.001Z", () => {
        throw "plain string";
      }),
      rule("weird", "DENY", [], "2025-01-01T00:00:00.002Z", () => {
        throw hostile;
      }),
      rule("compiled", "DENY", [], "2025-01-01T00:00:00.003Z", compiled),
      rule("fine", "REVIEW", [], "2025-01-01T00:00:00.004Z"),
    ]);
    const weirdCtx = { ...ctx, metadata: { indexOf: "not a function" } };
    const result = set.evaluate(weirdCtx, baseTx, unlimited);
    expect(result.matchedRuleIds).toEqual(["fine"]);
    expect(result.matchedActions).toEqual({ DENY: [], REVIEW: ["fine"], ALLOW: [] });
    expect(result.evaluatedRuleIds).toEqual(["boom", "string", "weird", "compiled", "fine"]);
    expect(result.errors).toEqual([
      { ruleId: "boom", message: "RangeError: bad input" },
      { ruleId: "string", message: "plain string" },
      { ruleId: "weird", message: "rule evaluation threw a value that cannot be described" },
      { ruleId: "compiled", message: "TypeError: b.indexOf is not a function" },
    ]);
  });

  it("evaluates compiled expressions against the context", () => {
    const set = buildRuleSet([
      rule("big", "DENY", [], undefined, compileExpression({ ">": [{ var: "amount" }, 50] })),
      rule("small", "DENY", [], undefined, compileExpression({ "<": [{ var: "amount" }, 50] })),
    ]);
    expect(set.evaluate(ctx, baseTx, unlimited).matchedActions.DENY).toEqual(["big"]);
    expect(set.size).toBe(2);
  });

  it("refuses an unknown action at build time rather than at evaluation", () => {
    expect(() => buildRuleSet([rule("x", "BLOCK" as RuleAction)])).toThrow(TypeError);
  });
});

function hash(text: string, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 2654435761);
  return h;
}
