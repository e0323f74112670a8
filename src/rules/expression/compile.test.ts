import fc from "fast-check";
import jsonLogic from "json-logic-js";
import { describe, expect, it } from "vitest";
import { compileExpression, type EvalContext, ExpressionCompileError } from "./compile.js";
import { validateExpression } from "./validate.js";

// ---------------------------------------------------------------------------------------------
// Oracle: json-logic-js itself. Outcomes are compared with Object.is at the leaves (NaN equals NaN,
// -0 differs from 0), and an input that makes one side throw must make the other throw too.

type Outcome = { threw: true } | { threw: false; value: unknown };

function run(f: () => unknown): Outcome {
  try {
    return { threw: false, value: f() };
  } catch {
    return { threw: true };
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]))
    );
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(rb, k) && sameValue(ra[k], rb[k]));
}

function sameOutcome(a: Outcome, b: Outcome): boolean {
  if (a.threw || b.threw) return a.threw === b.threw;
  return sameValue(a.value, b.value);
}

const reference = (expr: unknown, data: unknown): Outcome =>
  run(() => jsonLogic.apply(expr as jsonLogic.RulesLogic, data));

const compiled = (expr: unknown, data: unknown): Outcome =>
  run(() => compileExpression(expr)(data as EvalContext));

function expectSameAsReference(expr: unknown, data: unknown): Outcome {
  const want = reference(expr, data);
  const got = compiled(expr, data);
  if (!sameOutcome(want, got)) {
    throw new Error(
      `compiled ${describeOutcome(got)} but json-logic-js ${describeOutcome(want)} for ${JSON.stringify(expr)}`,
    );
  }
  return got;
}

function describeOutcome(o: Outcome): string {
  if (o.threw) return "threw";
  if (Object.is(o.value, -0)) return "returned -0";
  return `returned ${JSON.stringify(o.value) ?? String(o.value)}`;
}

// ---------------------------------------------------------------------------------------------
// Generators

const depthIdentifier = fc.createDepthIdentifier();
const recursive = { depthSize: "small", maxDepth: 5, depthIdentifier } as const;

const primitive: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 1.5, 2, 3, 10, 100, 10000, 7995, 1e21, 0.1, -2.5),
  fc.integer({ min: -20, max: 20 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    "",
    "0",
    "1",
    "1.5",
    "-1",
    "-0",
    " 2 ",
    "abc",
    "a",
    "b",
    "ab",
    "7995",
    "5912",
    "USD",
    "BRL",
  ),
  fc.constantFrom("CARD", "PIX", "true", "false", "null", "1e3", "a.b", "3px", "[object Object]", "1,2"),
  fc.string({ maxLength: 4 }),
  fc.boolean(),
  fc.constant(null),
);
const literalArray = fc.array(primitive, { maxLength: 4 });

/** Variables of the evaluation context (CONTRACT §3), including metadata paths and array indexes. */
const CONTEXT_VARS = [
  "amount",
  "currency",
  "transactionType",
  "subType",
  "transactionTimestamp",
  "transactionTimestampMs",
  "account",
  "account.accountId",
  "account.type",
  "account.status",
  "account.metadata",
  "account.metadata.tier",
  "account.metadata.list.1",
  "segment",
  "segment.segmentId",
  "segment.name",
  "segment.metadata.kind",
  "portfolio",
  "portfolio.portfolioId",
  "portfolio.name",
  "portfolio.metadata",
  "merchant",
  "merchant.merchantId",
  "merchant.name",
  "merchant.category",
  "merchant.country",
  "merchant.metadata.risk",
  "metadata",
  "metadata.channel",
  "metadata.score",
  "metadata.list",
  "metadata.list.0",
  "metadata.list.2",
  "metadata.list.length",
  "metadata.nested",
  "metadata.nested.a",
  "metadata.nested.b.c",
  "metadata.flag",
  "metadata.str",
  "metadata.str.length",
  "metadata.empty",
  "metadata.num",
  "metadata.indexOf",
] as const;

/** Names used inside map/filter/reduce/all/none/some, where the data is the element. */
const ELEMENT_VARS = [
  "",
  "a",
  "b",
  "0",
  "1",
  "a.b",
  "length",
  "current",
  "accumulator",
  "current.a",
  "amount",
  "merchant.category",
] as const;

const contextVar = fc.constantFrom(...CONTEXT_VARS);
const elementVar: fc.Arbitrary<string | number | null> = fc.oneof(
  fc.constantFrom(...ELEMENT_VARS),
  fc.constantFrom(0, 1),
  fc.constant(null),
);

const COMPARISONS = ["==", "===", "!=", "!==", ">", ">=", "<", "<="] as const;
const VARIADIC = ["cat", "+", "*", "min", "max", "merge"] as const;
const QUANTIFIERS = ["map", "filter", "all", "none", "some"] as const;

const op = (name: string, args: unknown): Record<string, unknown> => ({ [name]: args });

/** Operations of the accepted grammar over `self`, with `element` for per-element arguments. */
function operations(
  self: fc.Arbitrary<unknown>,
  element: fc.Arbitrary<unknown>,
  name: fc.Arbitrary<string | number | null>,
  names: fc.Arbitrary<string>,
): fc.Arbitrary<unknown>[] {
  const args = (min: number, max: number) => fc.array(self, { minLength: min, maxLength: max });
  const source = fc.oneof(
    recursive,
    literalArray,
    fc.constantFrom({ var: "metadata.list" }, { var: "account.metadata.list" }, { var: "metadata.str" }),
    self,
    fc.array(self, { maxLength: 3 }),
  );
  const varOp = fc
    .tuple(name, fc.option(self, { nil: undefined }), fc.boolean())
    .map(([n, fallback, sugar]) => {
      if (fallback !== undefined) return op("var", [n, fallback]);
      return sugar ? op("var", n) : op("var", [n]);
    });
  return [
    varOp,
    fc.tuple(fc.constantFrom(...COMPARISONS), self, self).map(([o, a, b]) => op(o, [a, b])),
    fc.tuple(fc.constantFrom("<", "<="), self, self, self).map(([o, a, b, c]) => op(o, [a, b, c])),
    fc
      .tuple(fc.constantFrom("!", "!!"), self, fc.boolean())
      .map(([o, a, sugar]) => (sugar && !Array.isArray(a) ? op(o, a) : op(o, [a]))),
    fc.tuple(fc.constantFrom("and", "or"), args(1, 3)).map(([o, a]) => op(o, a)),
    fc.tuple(fc.constantFrom("if", "?:"), args(1, 6)).map(([o, a]) => op(o, a)),
    fc
      .tuple(self, fc.oneof(self, literalArray, fc.constantFrom("abc", "", "7995,5912", "a.b")))
      .map(([a, b]) => op("in", [a, b])),
    fc.tuple(fc.constantFrom(...VARIADIC), args(1, 3)).map(([o, a]) => op(o, a)),
    args(1, 2).map((a) => op("-", a)),
    fc.tuple(fc.constantFrom("%", "/"), self, self).map(([o, a, b]) => op(o, [a, b])),
    args(2, 3).map((a) => op("substr", a)),
    fc
      .tuple(fc.array(names, { minLength: 1, maxLength: 3 }), fc.boolean())
      .map(([keys, asList]) => op("missing", asList ? [keys] : keys)),
    fc.tuple(self, fc.array(names, { maxLength: 3 })).map(([n, keys]) => op("missing_some", [n, keys])),
    fc.tuple(fc.constantFrom(...QUANTIFIERS), source, element).map(([o, s, e]) => op(o, [s, e])),
    fc
      .tuple(source, element, fc.option(self, { nil: undefined }))
      .map(([s, e, init]) => op("reduce", init === undefined ? [s, e] : [s, e, init])),
  ];
}

const grammar = fc.letrec((tie) => {
  const expr = tie("expr");
  const elementExpr = tie("elementExpr");
  const elementNames = fc.constantFrom(...ELEMENT_VARS);
  return {
    expr: fc.oneof(recursive, primitive, ...operations(expr, elementExpr, contextVar, contextVar)),
    elementExpr: fc.oneof(
      recursive,
      primitive,
      ...operations(elementExpr, elementExpr, elementVar, elementNames),
    ),
  };
});

/** Every JSON value counts as a node, as in the validator. */
function jsonNodeCount(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + jsonNodeCount(v), 1);
  if (typeof value === "object" && value !== null) {
    return Object.values(value).reduce((n: number, v) => n + jsonNodeCount(v), 1);
  }
  return 1;
}

/** Expressions the validator accepts as rules: rooted in a boolean-returning operator. */
const booleanRooted = fc
  .letrec((tie) => ({
    root: fc.oneof(
      { depthSize: "small", maxDepth: 3 },
      fc.tuple(fc.constantFrom(...COMPARISONS), grammar.expr, grammar.expr).map(([o, a, b]) => op(o, [a, b])),
      fc.tuple(fc.constantFrom("!", "!!"), grammar.expr).map(([o, a]) => op(o, [a])),
      fc.tuple(grammar.expr, fc.oneof(literalArray, grammar.expr)).map(([a, b]) => op("in", [a, b])),
      fc
        .tuple(fc.constantFrom("all", "none", "some"), grammar.expr, grammar.elementExpr)
        .map(([o, s, e]) => op(o, [s, e])),
      fc
        .tuple(
          fc.constantFrom("and", "or"),
          fc.array(fc.oneof(tie("root"), fc.boolean()), { minLength: 1, maxLength: 3 }),
        )
        .map(([o, a]) => op(o, a)),
      fc
        .tuple(fc.array(fc.tuple(grammar.expr, tie("root")), { maxLength: 2 }), tie("root"))
        .map(([pairs, otherwise]) => op("if", [...pairs.flat(), otherwise])),
    ),
  }))
  .root.filter((expr) => jsonNodeCount(expr) <= 500);

/** Any json-logic shape over accepted operators: free arity, sugar, computed names, stray objects. */
const unvalidated = fc.letrec((tie) => {
  const self = tie("node");
  const allowedOps = [
    ...COMPARISONS,
    ...VARIADIC,
    ...QUANTIFIERS,
    "reduce",
    "!",
    "!!",
    "and",
    "or",
    "if",
    "?:",
    "in",
    "-",
    "%",
    "/",
    "substr",
    "var",
    "missing",
    "missing_some",
  ];
  return {
    node: fc.oneof(
      recursive,
      primitive,
      contextVar.map((v) => op("var", v)),
      fc.tuple(fc.constantFrom(...allowedOps), fc.array(self, { maxLength: 4 })).map(([o, a]) => op(o, a)),
      fc.tuple(fc.constantFrom(...allowedOps), self).map(([o, a]) => op(o, a)),
      fc.constantFrom(
        { var: { cat: ["metadata.", { var: "metadata.str" }] } },
        { var: [{ var: "metadata.str" }, "dflt"] },
        { missing: { merge: [["amount"], { var: "metadata.list" }] } },
        { missing: [[["amount", 1], "nope"]] },
        { missing_some: [1, { merge: ["amount", "nope"] }] },
        { var: [] },
        {},
        { a: 1, b: 2 },
      ),
      fc.array(self, { maxLength: 3 }),
    ),
  };
}).node;

const metaValue: fc.Arbitrary<unknown> = fc.oneof(
  { depthSize: "small", maxDepth: 2 },
  primitive,
  literalArray,
  fc.dictionary(fc.constantFrom("a", "b", "c", "0"), primitive, { maxKeys: 3 }),
);

const normalMetadata = fc.record(
  {
    channel: fc.constantFrom("mobile", "web", "", null),
    score: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constantFrom("70", "high", null)),
    list: fc.oneof(literalArray, fc.array(metaValue, { maxLength: 4 }), primitive),
    nested: fc.oneof(
      fc.record({ a: metaValue, b: fc.record({ c: metaValue }) }, { requiredKeys: [] }),
      primitive,
    ),
    flag: fc.oneof(fc.boolean(), fc.constantFrom("true", 0, 1, [], null)),
    str: fc.constantFrom("abc", "", "7995", "a.b", "1.5"),
    empty: fc.constantFrom("", [], {}),
    num: primitive,
  },
  { requiredKeys: [] },
);
/** Rare hostile metadata: keys that make json-logic-js throw on `in` or on string conversion. */
const hostileMetadata = fc.record(
  { indexOf: metaValue, toString: primitive, str: primitive },
  { requiredKeys: [] },
);

const entityMetadata = fc.oneof(
  fc.dictionary(fc.constantFrom("tier", "risk", "kind", "list"), metaValue, { maxKeys: 3 }),
  fc.constant(null),
);

const contextArb: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    transactionType: fc.constantFrom("CARD", "WIRE", "PIX", "CRYPTO"),
    subType: fc.constantFrom("", "instant", "1"),
    amount: fc.oneof(
      fc.constantFrom(0, 1, 1.5, 100, 9999.99, 10000, 10000.01, 7995),
      fc.double({ min: 0, max: 1e7, noNaN: true }),
      fc.constantFrom("100", "7995", null),
    ),
    currency: fc.constantFrom("USD", "BRL", "JPY", ""),
    transactionTimestamp: fc.constantFrom("2024-01-01T00:00:00.000Z", "2025-06-30T23:59:59.999Z"),
    transactionTimestampMs: fc.integer({ min: 0, max: 2_000_000_000_000 }),
    account: fc.record(
      {
        accountId: fc.constantFrom("acc-1", "acc-2", "7995"),
        type: fc.constantFrom("checking", "savings", null),
        status: fc.constantFrom("active", "suspended"),
        metadata: entityMetadata,
      },
      { requiredKeys: ["accountId"] },
    ),
    segment: fc.oneof(
      fc.constant({}),
      fc.record(
        {
          segmentId: fc.constantFrom("seg-1"),
          name: fc.constantFrom("retail", ""),
          metadata: entityMetadata,
        },
        { requiredKeys: [] },
      ),
    ),
    portfolio: fc.oneof(
      fc.constant({}),
      fc.record({ portfolioId: fc.constantFrom("p-1"), name: fc.constantFrom("gold") }, { requiredKeys: [] }),
    ),
    merchant: fc.oneof(
      fc.constant({}),
      fc.record(
        {
          merchantId: fc.constantFrom("m-1", "m-2"),
          name: fc.constantFrom("Shop", "Casino"),
          category: fc.constantFrom("7995", "5912", "5411", 7995),
          country: fc.constantFrom("BR", "US"),
          metadata: entityMetadata,
        },
        { requiredKeys: [] },
      ),
    ),
    metadata: fc.oneof(
      { arbitrary: normalMetadata, weight: 20 },
      { arbitrary: hostileMetadata, weight: 1 },
      { arbitrary: fc.constant(null), weight: 1 },
    ),
  },
  { requiredKeys: ["transactionType", "amount", "account", "merchant", "metadata"] },
);

// ---------------------------------------------------------------------------------------------

describe("compileExpression: differential against json-logic-js", () => {
  it("equals jsonLogic.apply on 10,000 random expressions of the validated grammar", () => {
    let throws = 0;
    fc.assert(
      fc.property(grammar.expr, contextArb, (expr, ctx) => {
        const verdict = validateExpression({ "!!": [expr] });
        if (!verdict.ok) throw new Error(`generator left the grammar: ${JSON.stringify(verdict.errors)}`);
        if (expectSameAsReference(expr, ctx).threw) throws++;
      }),
      { numRuns: 10_000 },
    );
    // Throwing cases exist (hostile metadata) but must stay a small minority, or the test is vacuous.
    expect(throws).toBeLessThan(500);
  });

  it("equals jsonLogic.apply and yields a boolean on 5,000 accepted boolean-rooted rules", () => {
    fc.assert(
      fc.property(booleanRooted, contextArb, (expr, ctx) => {
        const verdict = validateExpression(expr);
        if (!verdict.ok) throw new Error(`rejected: ${JSON.stringify(verdict.errors)}`);
        const outcome = expectSameAsReference(expr, ctx);
        if (!outcome.threw && typeof outcome.value !== "boolean") {
          throw new Error(`accepted rule returned ${JSON.stringify(outcome.value)}`);
        }
      }),
      { numRuns: 5_000 },
    );
  });

  it("equals jsonLogic.apply on 3,000 shapes outside the grammar (any arity, computed names)", () => {
    fc.assert(
      fc.property(unvalidated, contextArb, (expr, ctx) => {
        expectSameAsReference(expr, ctx);
      }),
      { numRuns: 3_000 },
    );
  });
});

describe("compileExpression: json-logic-js quirks, checked against the reference and by value", () => {
  const data = {
    amount: 15000,
    currency: "BRL",
    account: { accountId: "acc-1", metadata: { tier: "gold" } },
    merchant: { category: "7995" },
    metadata: { list: [1, 2, 3], s: "abc", zero: 0, empty: "", nul: null, items: [{ a: 1 }, { a: 5 }] },
  };
  const cases: [string, unknown, unknown][] = [
    ["loose ==", { "==": [1, "1"] }, true],
    ["null == undefined var", { "==": [{ var: "nope" }, null] }, true],
    ["strict ===", { "===": [1, "1"] }, false],
    ["[] is falsy", { "!!": [[]] }, false],
    ["[0] is truthy", { "!!": [[0]] }, true],
    ["'0' is truthy", { "!": ["0"] }, false],
    ["and returns the deciding value", { and: [1, "", 3] }, ""],
    ["and returns the last value", { and: [1, "x"] }, "x"],
    ["or returns the first truthy", { or: [0, [], "y", 4] }, "y"],
    ["or returns the last falsy", { or: [0, null] }, null],
    ["var default", { var: ["metadata.missing", 42] }, 42],
    ["var null is found, not defaulted", { var: ["metadata.nul", 42] }, null],
    ["dotted path", { var: "account.metadata.tier" }, "gold"],
    ["numeric index into an array", { var: "metadata.list.1" }, 2],
    ["path through a primitive", { var: "metadata.s.length" }, 3],
    [
      "missing",
      { missing: ["amount", "nope", "metadata.empty", "metadata.zero"] },
      ["nope", "metadata.empty"],
    ],
    ["missing with a list", { missing: [["currency", "x"]] }, ["x"]],
    ["missing_some satisfied", { missing_some: [1, ["nope", "amount"]] }, []],
    ["missing_some short", { missing_some: [2, ["nope", "amount"]] }, ["nope"]],
    ["in string", { in: ["bc", "abc"] }, true],
    ["in array", { in: ["7995", ["5912", "7995"]] }, true],
    ["in array is strict", { in: [7995, ["5912", "7995"]] }, false],
    ["in large constant array", { in: ["k", ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]] }, true],
    ["in non-container", { in: ["a", 5] }, false],
    ["+ parses strings", { "+": ["1", 2, "3.5px"] }, 6.5],
    ["+ of one string", { "+": "3.14" }, 3.14],
    ["+ normalises -0", { "+": [-0] }, 0],
    ["+ re-parses the running sum", { "+": ["-0", "-0"] }, 0],
    ["* of one argument is unconverted", { "*": ["3"] }, "3"],
    ["* parses", { "*": ["2", "3"] }, 6],
    ["* re-parses -0 to 0", { "*": [-0, 5] }, 0],
    ["* re-parses an intermediate -0", { "*": [-1, 0, 5] }, 0],
    ["- unary", { "-": [5] }, -5],
    ["- coerces", { "-": ["5", 2] }, 3],
    ["- with an undefined second argument negates", { "-": [5, { and: [] }] }, -5],
    ["/ by zero", { "/": [1, 0] }, Number.POSITIVE_INFINITY],
    ["% ", { "%": [7, 3] }, 1],
    ["cat", { cat: ["a", 1, null, [2, 3]] }, "a12,3"],
    ["substr positive", { substr: ["abcdef", 2] }, "cdef"],
    ["substr negative start", { substr: ["abcdef", -2] }, "ef"],
    ["substr negative length", { substr: ["abcdef", 1, -2] }, "bcd"],
    ["min", { min: [3, "1", 2] }, 1],
    ["max of an array coerces to NaN", { max: [[1, 2], 0] }, Number.NaN],
    ["merge flattens one level", { merge: [[1], 2, [[3]]] }, [1, 2, [3]]],
    ["between <", { "<": [1, { var: "amount" }, 20000] }, true],
    ["between <= at the bound", { "<=": [15000, { var: "amount" }, 15000] }, true],
    ["if with many branches", { if: [false, 1, { var: "nope" }, 2, 3] }, 3],
    ["if without else", { if: [false, 1] }, null],
    ["?: alias", { "?:": [true, "yes", "no"] }, "yes"],
    ["map", { map: [{ var: "metadata.list" }, { "*": [{ var: "" }, 2] }] }, [2, 4, 6]],
    ["map over a non-array", { map: [{ var: "amount" }, 1] }, []],
    ["filter", { filter: [{ var: "metadata.items" }, { ">": [{ var: "a" }, 2] }] }, [{ a: 5 }]],
    [
      "reduce",
      { reduce: [{ var: "metadata.list" }, { "+": [{ var: "current" }, { var: "accumulator" }] }, 10] },
      16,
    ],
    ["reduce without initial over a non-array", { reduce: [5, 1] }, null],
    ["all of [] is false", { all: [[], true] }, false],
    ["none of [] is true", { none: [[], true] }, true],
    ["some of [] is false", { some: [[], true] }, false],
    ["all", { all: [{ var: "metadata.list" }, { ">": [{ var: "" }, 0] }] }, true],
    ["some", { some: [{ var: "metadata.items" }, { "==": [{ var: "a" }, 5] }] }, true],
    ["non-operation object is a literal", { "==": [{}, "[object Object]"] }, true],
  ];

  it.each(cases)("%s", (_name, expr, expected) => {
    const got = expectSameAsReference(expr, data);
    expect(got.threw).toBe(false);
    if (!got.threw) expect(sameValue(got.value, expected)).toBe(true);
  });

  it("throws where json-logic-js throws (an `indexOf` key that is not a function)", () => {
    const expr = { in: ["x", { var: "metadata" }] };
    const hostile = { metadata: { indexOf: "nope" } };
    expect(reference(expr, hostile).threw).toBe(true);
    expect(compiled(expr, hostile).threw).toBe(true);
  });

  it("returns a fresh array per evaluation, so a caller mutating a result cannot affect the next", () => {
    for (const expr of [{ if: [true, [1, 2], 0] }, { var: ["nope", [1, 2]] }, { merge: [[1, 2]] }]) {
      const fn = compileExpression(expr);
      const first = fn(data as unknown as EvalContext) as number[];
      first.push(99);
      expect(fn(data as unknown as EvalContext)).toEqual([1, 2]);
    }
  });

  it("refuses log, method and unknown operators at compile time", () => {
    expect(() => compileExpression({ log: "x" })).toThrow(ExpressionCompileError);
    expect(() => compileExpression({ method: [{ var: "metadata.s" }, "toUpperCase"] })).toThrow(
      ExpressionCompileError,
    );
    expect(() => compileExpression({ and: [{ "==.length": [] }] })).toThrow(ExpressionCompileError);
    expect(() => compileExpression({ toString: [] })).toThrow(ExpressionCompileError);
  });
});
