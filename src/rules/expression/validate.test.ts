import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileExpression } from "./compile.js";
import {
  type ExpressionError,
  isContextVariable,
  MAX_EXPRESSION_DEPTH,
  MAX_EXPRESSION_NODES,
  MAX_REPORTED_ERRORS,
  validateExpression,
} from "./validate.js";

function errorsOf(expr: unknown): ExpressionError[] {
  const result = validateExpression(expr);
  return result.ok ? [] : result.errors;
}

const amountOver = (n: number) => ({ ">": [{ var: "amount" }, n] });

describe("validateExpression: accepted rules", () => {
  const valid: [string, unknown][] = [
    [
      "amount threshold and merchant category",
      { and: [{ ">": [{ var: "amount" }, 10000] }, { "==": [{ var: "merchant.category" }, "7995"] }] },
    ],
    ["category in a list", { in: [{ var: "merchant.category" }, ["5912", "5993", "7995"]] }],
    ["between", { "<=": [500, { var: "amount" }, 2000] }],
    ["unary sugar", { "!": { var: "metadata.blocked" } }],
    ["!! on a variable", { "!!": [{ var: "account.metadata.vip" }] }],
    ["var with a default", { "==": [{ var: ["metadata.channel", "web"] }, "mobile"] }],
    ["deep metadata path", { "==": [{ var: "segment.metadata.limits.0.kind" }, "x"] }],
    ["whole objects", { "!": [{ missing: ["account", "segment", "portfolio", "merchant", "metadata"] }] }],
    [
      "every scalar",
      { "!": { missing: [["transactionType", "subType", "currency", "transactionTimestamp"]] } },
    ],
    ["missing_some", { "!": [{ missing_some: [1, ["merchant.country", "account.status"]] }] }],
    [
      "if with boolean branches",
      { if: [amountOver(100), true, { "==": [{ var: "currency" }, "BRL"] }, false, true] },
    ],
    ["?: alias", { "?:": [amountOver(5), amountOver(10), false] }],
    ["or of and", { or: [{ and: [amountOver(1), true] }, false] }],
    [
      "some over metadata, element variables unchecked",
      { some: [{ var: "metadata.items" }, { ">": [{ var: "price" }, 10] }] },
    ],
    ["all over a literal list with the element itself", { all: [[1, 2], { ">": [{ var: "" }, 0] }] }],
    [
      "reduce with current/accumulator",
      {
        ">": [
          { reduce: [{ var: "metadata.amounts" }, { "+": [{ var: "current" }, { var: "accumulator" }] }, 0] },
          { var: "transactionTimestampMs" },
        ],
      },
    ],
    ["arithmetic and strings", { "==": [{ cat: [{ substr: [{ var: "currency" }, 0, 2] }, "L"] }, "BRL"] }],
    ["min/max/merge", { in: [{ max: [1, { min: [2, 3] }] }, { merge: [[1], [2, 3]] }] }],
    ["modulo", { "===": [{ "%": [{ var: "amount" }, 100] }, 0] }],
  ];

  it.each(valid)("%s", (_name, expr) => {
    expect(validateExpression(expr)).toEqual({ ok: true });
    expect(() => compileExpression(expr)).not.toThrow();
  });

  it(`accepts ${MAX_EXPRESSION_DEPTH} nested operations, in sugar or array form`, () => {
    let sugar: unknown = { "==": [1, 1] };
    let arrays: unknown = { "==": [1, 1] };
    for (let i = 1; i < MAX_EXPRESSION_DEPTH; i++) {
      sugar = { "!": sugar };
      arrays = { "!": [arrays] };
    }
    expect(validateExpression(sugar)).toEqual({ ok: true });
    expect(validateExpression(arrays)).toEqual({ ok: true });
  });

  it(`accepts exactly ${MAX_EXPRESSION_NODES} nodes (every JSON value counts)`, () => {
    // and + its array = 2 nodes; each {">": [{"var": "amount"}, i]} = 5 nodes; 2 + 5*99 = 497.
    const comparisons = Array.from({ length: 99 }, (_, i) => amountOver(i));
    // Three more nodes: {"!": true} is the object plus the literal (sugar has no array): 2, then `true`: 1.
    const expr = { and: [...comparisons, { "!": false }, true] };
    expect(validateExpression(expr)).toEqual({ ok: true });
  });

  it("lists the context variables of CONTRACT §3", () => {
    for (const name of [
      "transactionType",
      "subType",
      "amount",
      "currency",
      "transactionTimestamp",
      "transactionTimestampMs",
      "account.accountId",
      "account.type",
      "account.status",
      "account.metadata.x",
      "segment.segmentId",
      "segment.name",
      "portfolio.portfolioId",
      "portfolio.name",
      "merchant.merchantId",
      "merchant.name",
      "merchant.category",
      "merchant.country",
      "merchant.metadata.a.b",
      "metadata.anything",
    ]) {
      expect(isContextVariable(name), name).toBe(true);
    }
    for (const name of [
      "amout",
      "amount.x",
      "account.id",
      "merchant.mcc",
      "metadata.",
      "tx.amount",
      "Amount",
    ]) {
      expect(isContextVariable(name), name).toBe(false);
    }
  });
});

describe("validateExpression: errors, with their paths", () => {
  it.each([
    ["a string", "amount > 10"],
    ["a number", 42],
    ["a boolean", true],
    ["null", null],
    ["undefined", undefined],
    ["an array", [{ "==": [1, 1] }]],
  ])("rejects %s at the top as 'expression'", (_name, expr) => {
    const errors = errorsOf(expr);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.path).toBe("expression");
    expect(errors[0]?.message).toMatch(/^expression must be a JSON object/);
  });

  it("reports an unknown operator at its key", () => {
    expect(errorsOf({ and: [amountOver(1), { foo: [1, 2] }] })).toEqual([
      { path: "expression.and[1].foo", message: "unknown operator 'foo'" },
    ]);
  });

  it("refuses log and method with a reason", () => {
    expect(errorsOf({ "!!": { log: 1 } })).toEqual([
      {
        path: "expression.!!.log",
        message: "operator 'log' is not allowed (it writes to the console on every evaluation)",
      },
    ]);
    expect(errorsOf({ "==": [{ method: [{ var: "currency" }, "toLowerCase"] }, "brl"] })[0]).toEqual({
      path: "expression.==[0].method",
      message: "operator 'method' is not allowed (it calls arbitrary methods on input data)",
    });
  });

  it("quotes operator keys that would break the path syntax", () => {
    expect(errorsOf({ and: [{ "==.length": [] }, true] })).toEqual([
      { path: 'expression.and[0]["==.length"]', message: "unknown operator '==.length'" },
    ]);
    expect(errorsOf({ "": [] })[0]?.path).toBe('expression[""]');
  });

  it("rejects objects that are not operations", () => {
    expect(errorsOf({ and: [{}, true] })).toEqual([
      {
        path: "expression.and[0]",
        message:
          "empty object is not an operation: an operation is an object with exactly one key, the operator",
      },
    ]);
    expect(errorsOf({ "==": [{ a: 1, b: 2 }, 1] })[0]).toEqual({
      path: "expression.==[0]",
      message:
        "object with keys 'a', 'b' is not an operation: an operation is an object with exactly one key, the operator",
    });
    expect(errorsOf({ a: 1, b: 2 })[0]?.path).toBe("expression");
  });

  it("checks arity", () => {
    expect(errorsOf({ ">": [{ var: "amount" }] })).toEqual([
      { path: "expression.>", message: "operator '>' expects 2 arguments, got 1" },
    ]);
    expect(errorsOf({ and: [] })[0]).toEqual({
      path: "expression.and",
      message: "operator 'and' expects at least 1 argument, got 0",
    });
    expect(errorsOf({ "<": [1, 2, 3, 4] })[0]?.message).toBe("operator '<' expects 2 to 3 arguments, got 4");
    expect(errorsOf({ "!": [true, false] })[0]?.message).toBe("operator '!' expects 1 argument, got 2");
  });

  it("reports an unknown variable at the var's value", () => {
    expect(errorsOf({ and: [true, { ">": [{ var: "amout" }, 10] }] })).toEqual([
      { path: "expression.and[1].>[0].var", message: "unknown variable 'amout'" },
    ]);
    expect(errorsOf({ ">": [{ var: ["amout", 0] }, 10] })).toEqual([
      { path: "expression.>[0].var[0]", message: "unknown variable 'amout'" },
    ]);
  });

  it.each([
    ["a field that does not exist", "merchant.mcc", "unknown variable 'merchant.mcc'"],
    ["a path below a scalar", "amount.value", "unknown variable 'amount.value'"],
    ["a path below a fixed field", "account.status.code", "unknown variable 'account.status.code'"],
    ["an empty segment", "metadata..x", "unknown variable 'metadata..x'"],
    ["the whole context", "", "variable name must not be empty (that would be the whole evaluation context)"],
    ["a prototype key", "metadata.__proto__", "variable path segment '__proto__' is not allowed"],
    ["a constructor key", "metadata.constructor", "variable path segment 'constructor' is not allowed"],
  ])("rejects %s", (_name, name, message) => {
    expect(errorsOf({ "==": [{ var: name }, 1] })).toEqual([{ path: "expression.==[0].var", message }]);
  });

  it("rejects computed and non-string variable names", () => {
    expect(errorsOf({ "==": [{ var: { cat: ["metadata.", "x"] } }, 1] })).toEqual([
      {
        path: "expression.==[0].var",
        message: "variable name must be a literal string (a computed name cannot be checked)",
      },
    ]);
    expect(errorsOf({ "==": [{ var: [["amount"]] }, 1] })[0]?.path).toBe("expression.==[0].var[0]");
    expect(errorsOf({ "==": [{ var: 1 }, 1] })[0]?.message).toBe("unknown variable '1'");
    expect(errorsOf({ "==": [{ var: null }, 1] })[0]?.message).toBe("unknown variable 'null'");
  });

  it("does not check variables inside per-element arguments, but does check the array source", () => {
    expect(
      errorsOf({ some: [{ var: "metadata.items" }, { "==": [{ var: "anything.at.all" }, 1] }] }),
    ).toEqual([]);
    expect(errorsOf({ none: [{ var: "itms" }, { "==": [{ var: "" }, 1] }] })).toEqual([
      { path: "expression.none[0].var", message: "unknown variable 'itms'" },
    ]);
    expect(
      errorsOf({ "==": [{ reduce: [[1], { "+": [{ var: "current" }, 1] }, { var: "accumulator" }] }, 1] }),
    ).toEqual([{ path: "expression.==[0].reduce[2].var", message: "unknown variable 'accumulator'" }]);
    // Still no computed names and no prototype keys there.
    expect(errorsOf({ all: [[1], { var: { var: "" } }] })[0]?.path).toBe("expression.all[1].var");
    expect(errorsOf({ all: [[1], { var: "__proto__" }] })[0]?.path).toBe("expression.all[1].var");
  });

  it("checks missing and missing_some keys", () => {
    expect(errorsOf({ "!": { missing: ["amount", "amout"] } })).toEqual([
      { path: "expression.!.missing[1]", message: "unknown variable 'amout'" },
    ]);
    expect(errorsOf({ "!": { missing: [["currency", "curency"]] } })).toEqual([
      { path: "expression.!.missing[0][1]", message: "unknown variable 'curency'" },
    ]);
    expect(errorsOf({ "!": { missing: [{ var: "metadata.keys" }] } })).toEqual([
      {
        path: "expression.!.missing[0]",
        message: "'missing' expects literal variable names (a computed name cannot be checked)",
      },
    ]);
    expect(errorsOf({ "!": { missing_some: [1, { merge: [["amount"]] }] } })).toEqual([
      {
        path: "expression.!.missing_some[1]",
        message: "'missing_some' expects a literal array of variable names here",
      },
    ]);
  });

  it("rejects an expression that may not evaluate to a boolean", () => {
    const hint = "; the expression must evaluate to a boolean (compare the value, or wrap it in '!!')";
    expect(errorsOf({ "+": [{ var: "amount" }, 1] })).toEqual([
      { path: "expression.+", message: `operator '+' does not return a boolean${hint}` },
    ]);
    expect(errorsOf({ var: "metadata.flag" })).toEqual([
      { path: "expression.var", message: `operator 'var' does not return a boolean${hint}` },
    ]);
    expect(errorsOf({ missing: ["amount"] })[0]?.path).toBe("expression.missing");
    // and/or return one of their arguments: each must be boolean.
    expect(errorsOf({ and: [amountOver(1), { var: "metadata.flag" }] })).toEqual([
      { path: "expression.and[1].var", message: `operator 'var' does not return a boolean${hint}` },
    ]);
    expect(errorsOf({ or: [amountOver(1), 1] })).toEqual([
      { path: "expression.or[1]", message: `1 is not a boolean${hint}` },
    ]);
    // if returns a branch, or null without an else.
    expect(errorsOf({ if: [amountOver(1), true] })).toEqual([
      {
        path: "expression.if",
        message: `'if' without a final else branch returns null when no condition holds${hint}`,
      },
    ]);
    expect(errorsOf({ if: [amountOver(1), true, "no"] })).toEqual([
      { path: "expression.if[2]", message: `"no" is not a boolean${hint}` },
    ]);
    // Conditions of an if need not be boolean, only its results.
    expect(errorsOf({ if: [{ var: "metadata.flag" }, true, false] })).toEqual([]);
  });

  it(`rejects depth ${MAX_EXPRESSION_DEPTH + 1}, and arbitrarily deep input without overflowing`, () => {
    let expr: unknown = { "==": [1, 1] };
    for (let i = 0; i < MAX_EXPRESSION_DEPTH; i++) expr = { "!": [expr] };
    const errors = errorsOf(expr);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe("expression depth exceeds 32");
    expect(errors[0]?.path).toBe(`expression${".![0]".repeat(MAX_EXPRESSION_DEPTH - 1)}.![0]`);

    let deep: unknown = true;
    for (let i = 0; i < 100_000; i++) deep = { and: [deep] };
    expect(errorsOf(deep).map((e) => e.message)).toEqual(["expression depth exceeds 32"]);
  });

  it("counts literal arrays as levels", () => {
    let list: unknown = ["x"];
    for (let i = 0; i < MAX_EXPRESSION_DEPTH; i++) list = [list];
    expect(errorsOf({ in: ["x", list] }).map((e) => e.message)).toEqual(["expression depth exceeds 32"]);
  });

  it(`rejects more than ${MAX_EXPRESSION_NODES} nodes`, () => {
    const comparisons = Array.from({ length: 100 }, (_, i) => amountOver(i)); // 2 + 5*100 = 502
    expect(errorsOf({ and: comparisons })).toEqual([
      { path: "expression", message: "expression has more than 500 nodes" },
    ]);
  });

  it("reports every error found, up to the cap", () => {
    const errors = errorsOf({
      and: [{ ">": [{ var: "amout" }, 1] }, { foo: 1 }, { "==": [{ var: "merchant.mcc" }, "7995"] }],
    });
    expect(errors.map((e) => e.path)).toEqual([
      "expression.and[0].>[0].var",
      "expression.and[1].foo",
      "expression.and[2].==[0].var",
    ]);
    const many = { and: Array.from({ length: 40 }, (_, i) => ({ "==": [{ var: `nope${i}` }, 1] })) };
    expect(errorsOf(many)).toHaveLength(MAX_REPORTED_ERRORS);
  });

  it("rejects values JSON cannot hold", () => {
    expect(errorsOf({ "==": [{ var: "amount" }, Number.NaN] })[0]).toEqual({
      path: "expression.==[1]",
      message: "number NaN is not a JSON number",
    });
    expect(errorsOf({ "==": [{ var: "amount" }, () => 1] })[0]?.message).toBe(
      "a function is not a JSON value",
    );
    expect(errorsOf({ "==": [{ var: "amount" }, new Date(0)] })[0]?.message).toBe(
      "a non-plain object is not a JSON value",
    );
  });

  it("never throws, and whatever it accepts compiles", () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.jsonValue()), (value) => {
        const result = validateExpression(value);
        if (result.ok) compileExpression(value);
      }),
      { numRuns: 2_000 },
    );
  });
});
