/**
 * The JSON Logic operator catalogue Verdict accepts: json-logic-js 2.0.5's standard set minus
 * `log` (writes to the console on every evaluation) and `method` (not in 2.0.5; elsewhere it calls
 * arbitrary methods on tenant data). Pure data, shared by the validator and the compiler.
 */

/** How many arguments an operator takes once the unary sugar (`{"!": x}` = `{"!": [x]}`) is applied. */
export interface Arity {
  readonly min: number;
  readonly max: number;
}

const exactly = (n: number): Arity => ({ min: n, max: n });
const between = (min: number, max: number): Arity => ({ min, max });
const atLeast = (min: number): Arity => ({ min, max: Number.POSITIVE_INFINITY });

/**
 * Every accepted operator with the arity the validator enforces. json-logic-js itself tolerates any
 * arity (extra arguments are evaluated then ignored, missing ones are `undefined`); the validator is
 * stricter so that a typo like `{">": [x]}` is a 400 rather than a rule that silently never matches.
 */
export const OPERATOR_ARITY: ReadonlyMap<string, Arity> = new Map<string, Arity>([
  ["==", exactly(2)],
  ["===", exactly(2)],
  ["!=", exactly(2)],
  ["!==", exactly(2)],
  [">", exactly(2)],
  [">=", exactly(2)],
  // The three-argument forms are json-logic's "between": a < b < c.
  ["<", between(2, 3)],
  ["<=", between(2, 3)],
  ["!", exactly(1)],
  ["!!", exactly(1)],
  ["%", exactly(2)],
  ["in", exactly(2)],
  ["cat", atLeast(1)],
  ["substr", between(2, 3)],
  ["+", atLeast(1)],
  // `*` with no argument throws inside json-logic-js (reduce of an empty array).
  ["*", atLeast(1)],
  ["-", between(1, 2)],
  ["/", exactly(2)],
  ["min", atLeast(1)],
  ["max", atLeast(1)],
  ["merge", atLeast(1)],
  ["var", between(1, 2)],
  ["missing", atLeast(1)],
  ["missing_some", exactly(2)],
  ["if", atLeast(1)],
  ["?:", atLeast(1)],
  ["and", atLeast(1)],
  ["or", atLeast(1)],
  ["map", exactly(2)],
  ["filter", exactly(2)],
  ["all", exactly(2)],
  ["none", exactly(2)],
  ["some", exactly(2)],
  ["reduce", between(2, 3)],
]);

/** True for an operator name Verdict accepts (own entries only: `toString` is not an operator). */
export function isAllowedOperator(op: string): boolean {
  return OPERATOR_ARITY.has(op);
}

/**
 * Operators whose result is always a boolean whatever their arguments: comparisons (including the
 * between forms, which are `a < b && b < c`), `!`, `!!`, `in` and the array quantifiers.
 */
export const BOOLEAN_OPERATORS: ReadonlySet<string> = new Set([
  "==",
  "===",
  "!=",
  "!==",
  ">",
  ">=",
  "<",
  "<=",
  "!",
  "!!",
  "in",
  "all",
  "none",
  "some",
]);

/**
 * Operators that evaluate their second argument once per array element, with the element (or, for
 * `reduce`, `{current, accumulator}`) as the data: `var` inside that argument does not see the
 * evaluation context.
 */
export const SCOPED_OPERATORS: ReadonlySet<string> = new Set([
  "map",
  "filter",
  "reduce",
  "all",
  "none",
  "some",
]);

/** Index of the argument a scoped operator evaluates per element. */
export const SCOPED_ARGUMENT_INDEX = 1;
