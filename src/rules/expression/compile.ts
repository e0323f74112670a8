/**
 * Compiles a JSON Logic expression once into a tree of closures whose result is identical to
 * `jsonLogic.apply(expr, data)` from json-logic-js 2.0.5 for every data, quirks included: loose
 * `==`, `[]` falsy, `and`/`or` returning the deciding value, `+`/`*` through parseFloat, `*` with one
 * argument returning it unconverted, `substr` with a negative length, `all` of `[]` being false, ...
 * Each operator below mirrors the matching line of node_modules/json-logic-js/logic.js, which is the
 * specification; the differential property test in compile.test.ts holds the two together.
 *
 * No eval or `new Function`: only closures. Every argument of an ordinary operator is evaluated,
 * like json-logic-js's depth-first `values.map(apply)`, so an input that makes json-logic-js throw
 * makes the compiled closure throw too. Operators outside {@link isAllowedOperator} (`log`,
 * `method`, unknown names, json-logic-js's dotted lookups) are refused at compile time.
 */

import type { TransactionType } from "../../scope/scope.js";
import { isAllowedOperator } from "./operators.js";

/** A free-form metadata map as sent in the validation request. */
export type MetadataMap = Record<string, unknown>;

/** The evaluation context a rule sees (CONTRACT §3). Absent segment/portfolio/merchant are `{}`. */
export interface EvalContext {
  transactionType: TransactionType;
  /** Lower-case; "" when the request had none. */
  subType: string;
  amount: number;
  currency: string;
  /** RFC 3339. */
  transactionTimestamp: string;
  transactionTimestampMs: number;
  account: { accountId: string; type?: string; status?: string; metadata?: MetadataMap };
  segment: { segmentId?: string; name?: string; metadata?: MetadataMap };
  portfolio: { portfolioId?: string; name?: string; metadata?: MetadataMap };
  merchant: {
    merchantId?: string;
    name?: string;
    category?: string;
    country?: string;
    metadata?: MetadataMap;
  };
  metadata: MetadataMap;
}

/** A compiled rule expression; a rule matches when it returns exactly `true`. */
export type CompiledExpression = (data: EvalContext) => unknown;

/** Thrown at compile time for an expression the compiler refuses (see {@link isAllowedOperator}). */
export class ExpressionCompileError extends Error {
  override readonly name = "ExpressionCompileError";
}

/**
 * Compiles `expr` (checked by validateExpression first) into a closure equal to
 * `jsonLogic.apply(expr, data)` for every `data`.
 *
 * @throws ExpressionCompileError when `expr` uses an operator outside the accepted set.
 */
export function compileExpression(expr: unknown): CompiledExpression {
  return compileNode(expr).fn;
}

/** json-logic-js's truthiness: JavaScript's, except that `[]` is falsy. */
export function truthy(value: unknown): boolean {
  if (Array.isArray(value) && value.length === 0) return false;
  return !!value;
}

type Evaluator = (data: unknown) => unknown;
type Args = readonly unknown[];

interface Compiled {
  readonly fn: Evaluator;
  /** The node always yields `value`, reads no data and cannot throw. */
  readonly isConst: boolean;
  readonly value: unknown;
  /**
   * For an array literal of primitives: its elements, shareable with operators that never return or
   * keep them (`in`). The node itself still returns a fresh array per call, as json-logic-js does.
   */
  readonly constElements?: readonly unknown[];
}

type Dict = Record<string, unknown>;

const constant = (value: unknown): Compiled => ({ fn: () => value, isConst: true, value });
const dynamic = (fn: Evaluator): Compiled => ({ fn, isConst: false, value: undefined });

function isPrimitive(value: unknown): boolean {
  return value === null || (typeof value !== "object" && typeof value !== "function");
}

/** Mirrors `jsonLogic.is_logic`. */
function isLogic(value: unknown): value is Dict {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 1
  );
}

function compileNode(logic: unknown): Compiled {
  if (Array.isArray(logic)) return compileArray(logic);
  // A primitive, or an object that is not an operation: json-logic-js returns it as is (same reference).
  if (!isLogic(logic)) return constant(logic);
  const op = Object.keys(logic)[0] ?? "";
  const raw = logic[op];
  const values: Args = Array.isArray(raw) ? raw : [raw];
  if (!isAllowedOperator(op)) {
    throw new ExpressionCompileError(`operator '${op}' is not supported`);
  }
  if (op === "filter" || op === "map" || op === "reduce" || op === "all" || op === "none" || op === "some") {
    return compileScoped(op, values);
  }
  const parts = values.map(compileNode);
  switch (op) {
    case "var":
      return compileVar(parts);
    case "missing":
      return compileMissing(parts);
    case "missing_some":
      return compileMissingSome(parts);
    case "if":
    case "?:":
      return foldIfConstant(compileIf(parts), parts);
    case "and":
      return foldIfConstant(compileAnd(parts), parts);
    case "or":
      return foldIfConstant(compileOr(parts), parts);
    default:
      return foldIfConstant(compileOperation(op, parts), parts);
  }
}

function compileArray(items: Args): Compiled {
  const parts = items.map(compileNode);
  if (parts.every((p) => p.isConst && isPrimitive(p.value))) {
    const elements = parts.map((p) => p.value);
    // A fresh copy per call: callers may keep or mutate a result, and json-logic-js builds a new array.
    return { fn: () => elements.slice(), isConst: true, value: elements, constElements: elements };
  }
  const fns = parts.map((p) => p.fn);
  const n = fns.length;
  return dynamic((data) => {
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = fns[i]!(data);
    return out;
  });
}

/**
 * Replaces a data-independent operation by its value when that value is a primitive (shared
 * arrays/objects could leak across evaluations). Evaluating at compile time runs the same JavaScript
 * operations as at run time, so the result is the same; an operation that throws is left to throw
 * at run time.
 */
function foldIfConstant(node: Compiled, parts: readonly Compiled[]): Compiled {
  if (node.isConst || !parts.every((p) => p.isConst)) return node;
  try {
    const value = node.fn(undefined);
    return isPrimitive(value) ? constant(value) : node;
  } catch {
    return node;
  }
}

// ---------------------------------------------------------------------------------------------
// if / and / or: lazy, return the deciding value.

function compileIf(parts: readonly Compiled[]): Compiled {
  const fns = parts.map((p) => p.fn);
  const n = fns.length;
  if (n === 3) {
    const [c, a, b] = fns as [Evaluator, Evaluator, Evaluator];
    return dynamic((data) => (truthy(c(data)) ? a(data) : b(data)));
  }
  return dynamic((data) => {
    let i = 0;
    for (; i < n - 1; i += 2) {
      if (truthy(fns[i]!(data))) return fns[i + 1]!(data);
    }
    if (n === i + 1) return fns[i]!(data);
    return null;
  });
}

function compileAnd(parts: readonly Compiled[]): Compiled {
  const fns = parts.map((p) => p.fn);
  const n = fns.length;
  if (n === 2) {
    const [a, b] = fns as [Evaluator, Evaluator];
    return dynamic((data) => {
      const first = a(data);
      return truthy(first) ? b(data) : first;
    });
  }
  return dynamic((data) => {
    let current: unknown;
    for (let i = 0; i < n; i++) {
      current = fns[i]!(data);
      if (!truthy(current)) return current;
    }
    return current;
  });
}

function compileOr(parts: readonly Compiled[]): Compiled {
  const fns = parts.map((p) => p.fn);
  const n = fns.length;
  if (n === 2) {
    const [a, b] = fns as [Evaluator, Evaluator];
    return dynamic((data) => {
      const first = a(data);
      return truthy(first) ? first : b(data);
    });
  }
  return dynamic((data) => {
    let current: unknown;
    for (let i = 0; i < n; i++) {
      current = fns[i]!(data);
      if (truthy(current)) return current;
    }
    return current;
  });
}

// ---------------------------------------------------------------------------------------------
// map / filter / reduce / all / none / some: the second argument runs once per element, with the
// element as its data; it is not evaluated against the outer data.

function compileScoped(op: string, values: Args): Compiled {
  const source = compileNode(values[0]).fn;
  const each = compileNode(values[1]).fn;
  switch (op) {
    case "filter":
      return dynamic((data) => {
        const items = source(data);
        if (!Array.isArray(items)) return [];
        return items.filter((datum) => truthy(each(datum)));
      });
    case "map":
      return dynamic((data) => {
        const items = source(data);
        if (!Array.isArray(items)) return [];
        return items.map((datum) => each(datum));
      });
    case "reduce": {
      const initialFn = values[2] !== undefined ? compileNode(values[2]).fn : () => null;
      return dynamic((data) => {
        const items = source(data);
        const initial = initialFn(data);
        if (!Array.isArray(items)) return initial;
        return items.reduce(
          (accumulator: unknown, current: unknown) => each({ current, accumulator }),
          initial,
        );
      });
    }
    case "all":
      return dynamic((data) => {
        const items = source(data);
        // All of an empty set is false in json-logic-js.
        if (!Array.isArray(items) || items.length === 0) return false;
        for (let i = 0; i < items.length; i++) if (!truthy(each(items[i]))) return false;
        return true;
      });
    case "none":
      return dynamic((data) => {
        const items = source(data);
        if (!Array.isArray(items) || items.length === 0) return true;
        for (let i = 0; i < items.length; i++) if (truthy(each(items[i]))) return false;
        return true;
      });
    default: // some
      return dynamic((data) => {
        const items = source(data);
        if (!Array.isArray(items) || items.length === 0) return false;
        for (let i = 0; i < items.length; i++) if (truthy(each(items[i]))) return true;
        return false;
      });
  }
}

// ---------------------------------------------------------------------------------------------
// var / missing / missing_some

/** Looks a name up the way json-logic-js's `var` does; `undefined` means "not found". */
type Lookup = (data: unknown) => unknown;

/**
 * `var` of undefined, "" or null returns the data itself, even when it is `undefined`: no default
 * applies, unlike a path lookup.
 */
function isIdentityName(name: unknown): boolean {
  return name === undefined || name === "" || name === null;
}

/**
 * Data seen through a dotted path. Optional chaining is exactly json-logic-js's descent: stop with
 * "not found" on null or undefined, otherwise read the key (primitives included: "abc".length is 3).
 */
type Path = { readonly [key: string]: Path } | null | undefined;

/**
 * The evaluation context's fixed paths, one function literal each. V8 keeps type feedback per
 * function literal, so each of these loads stays monomorphic instead of sharing one megamorphic
 * keyed load with every other path; the semantics are the generic lookup's.
 */
const CONTEXT_LOOKUPS: ReadonlyMap<string, Lookup> = new Map<string, Lookup>([
  ["transactionType", (d) => (d as Path)?.transactionType],
  ["subType", (d) => (d as Path)?.subType],
  ["amount", (d) => (d as Path)?.amount],
  ["currency", (d) => (d as Path)?.currency],
  ["transactionTimestamp", (d) => (d as Path)?.transactionTimestamp],
  ["transactionTimestampMs", (d) => (d as Path)?.transactionTimestampMs],
  ["account", (d) => (d as Path)?.account],
  ["segment", (d) => (d as Path)?.segment],
  ["portfolio", (d) => (d as Path)?.portfolio],
  ["merchant", (d) => (d as Path)?.merchant],
  ["metadata", (d) => (d as Path)?.metadata],
  ["account.accountId", (d) => (d as Path)?.account?.accountId],
  ["account.type", (d) => (d as Path)?.account?.type],
  ["account.status", (d) => (d as Path)?.account?.status],
  ["account.metadata", (d) => (d as Path)?.account?.metadata],
  ["segment.segmentId", (d) => (d as Path)?.segment?.segmentId],
  ["segment.name", (d) => (d as Path)?.segment?.name],
  ["segment.metadata", (d) => (d as Path)?.segment?.metadata],
  ["portfolio.portfolioId", (d) => (d as Path)?.portfolio?.portfolioId],
  ["portfolio.name", (d) => (d as Path)?.portfolio?.name],
  ["portfolio.metadata", (d) => (d as Path)?.portfolio?.metadata],
  ["merchant.merchantId", (d) => (d as Path)?.merchant?.merchantId],
  ["merchant.name", (d) => (d as Path)?.merchant?.name],
  ["merchant.category", (d) => (d as Path)?.merchant?.category],
  ["merchant.country", (d) => (d as Path)?.merchant?.country],
  ["merchant.metadata", (d) => (d as Path)?.merchant?.metadata],
]);

/** `var` with a name known at compile time (not an identity name): the dotted path is split once. */
function makeLookup(name: unknown): Lookup {
  const known = CONTEXT_LOOKUPS.get(String(name));
  if (known !== undefined) return known;
  const path = String(name).split(".");
  if (path.length === 1) {
    const [k] = path as [string];
    return (data) => (data as Path)?.[k];
  }
  if (path.length === 2) {
    const [k1, k2] = path as [string, string];
    return (data) => (data as Path)?.[k1]?.[k2];
  }
  return (data) => {
    let v = data as Path;
    for (let i = 0; i < path.length && v !== undefined; i++) v = v?.[path[i]!];
    return v;
  };
}

/** json-logic-js's `var` with both arguments already evaluated. */
function varValue(data: unknown, name: unknown, fallback: unknown): unknown {
  if (isIdentityName(name)) return data;
  const found = makeLookup(name)(data);
  if (found !== undefined) return found;
  return fallback === undefined ? null : fallback;
}

function compileVar(args: readonly Compiled[]): Compiled {
  const [nameNode, fallbackNode] = args;
  const extras = args.slice(2).map((a) => a.fn);
  const nameIsStatic = nameNode === undefined || (nameNode.isConst && isPrimitive(nameNode.value));
  if (nameIsStatic && extras.length === 0 && (fallbackNode === undefined || fallbackNode.isConst)) {
    if (isIdentityName(nameNode?.value)) return dynamic((data) => data);
    const lookup = makeLookup(nameNode?.value);
    // A fresh copy of an array default, as json-logic-js would build it per call.
    if (fallbackNode?.constElements !== undefined) {
      const makeDefault = fallbackNode.fn;
      return dynamic((data) => {
        const found = lookup(data);
        return found === undefined ? makeDefault(data) : found;
      });
    }
    const notFound =
      fallbackNode === undefined || fallbackNode.value === undefined ? null : fallbackNode.value;
    return dynamic((data) => {
      const found = lookup(data);
      return found === undefined ? notFound : found;
    });
  }
  const nameFn = nameNode?.fn ?? (() => undefined);
  const fallbackFn = fallbackNode?.fn ?? (() => undefined);
  return dynamic((data) => {
    const name = nameFn(data);
    const fallback = fallbackFn(data);
    for (const extra of extras) extra(data);
    return varValue(data, name, fallback);
  });
}

/**
 * `jsonLogic.apply({"var": key}, data)` for a key only known at run time: the key is itself
 * re-read as logic by json-logic-js, so it is compiled on the spot. Validated expressions never get
 * here (validation requires literal names).
 */
function applyVarDynamic(key: unknown, data: unknown): unknown {
  return compileNode({ var: key }).fn(data);
}

function isMissingValue(value: unknown): boolean {
  return value === null || value === "";
}

/** Literal names as json-logic-js reads them: the first argument if it is an array, else all. */
function staticMissingKeys(args: readonly Compiled[]): readonly unknown[] | undefined {
  const [first] = args;
  if (first?.constElements !== undefined) return first.constElements;
  if (args.every((a) => a.isConst && isPrimitive(a.value))) return args.map((a) => a.value);
  return undefined;
}

function missingOf(keys: readonly unknown[], data: unknown): unknown[] {
  const missing: unknown[] = [];
  for (const key of keys) {
    if (isMissingValue(applyVarDynamic(key, data))) missing.push(key);
  }
  return missing;
}

function compileMissing(args: readonly Compiled[]): Compiled {
  const keys = staticMissingKeys(args);
  if (keys !== undefined) {
    // An identity key reads the data itself; any other key reads `null` when not found.
    const lookups = keys.map((key): Lookup => (isIdentityName(key) ? (data) => data : makeLookup(key)));
    const identity = keys.map(isIdentityName);
    return dynamic((data) => {
      const missing: unknown[] = [];
      for (let i = 0; i < keys.length; i++) {
        const found = lookups[i]!(data);
        if ((found === undefined && !identity[i]) || isMissingValue(found)) missing.push(keys[i]);
      }
      return missing;
    });
  }
  const fns = args.map((a) => a.fn);
  return dynamic((data) => {
    const values = fns.map((f) => f(data));
    const [first] = values;
    return missingOf(Array.isArray(first) ? first : values, data);
  });
}

function compileMissingSome(args: readonly Compiled[]): Compiled {
  const [needNode, optionsNode] = args;
  const needFn = needNode?.fn ?? (() => undefined);
  const extras = args.slice(2).map((a) => a.fn);
  const options = optionsNode?.constElements;
  if (options?.every((o) => typeof o === "string")) {
    // `apply({"missing": options})` with literal string options is `missing` over those names.
    const missingFn = compileMissing(options.map(constant)).fn;
    return dynamic((data) => {
      const needCount = needFn(data);
      for (const extra of extras) extra(data);
      const areMissing = missingFn(data) as unknown[];
      return options.length - areMissing.length >= (needCount as number) ? [] : areMissing;
    });
  }
  const optionsFn = optionsNode?.fn ?? (() => undefined);
  return dynamic((data) => {
    const needCount = needFn(data);
    const opts = optionsFn(data);
    for (const extra of extras) extra(data);
    const areMissing = compileNode({ missing: opts }).fn(data) as unknown[];
    return (opts as { length: number }).length - areMissing.length >= (needCount as number) ? [] : areMissing;
  });
}

// ---------------------------------------------------------------------------------------------
// Ordinary operators: every argument evaluated, then the operation applied.

type Operation = (args: Args) => unknown;

/** The same conversion as `parseFloat(x)`, without the string round-trip for numbers. */
function toFloat(x: unknown): number {
  // parseFloat(String(n)) is n for every number except -0, which String() prints as "0".
  if (typeof x === "number") return x === 0 ? 0 : x;
  return Number.parseFloat(x as string);
}

function inOperation(a: unknown, b: unknown): boolean {
  if (!b) return false;
  const indexOf: unknown = (b as Dict).indexOf;
  if (typeof indexOf === "undefined") return false;
  if (typeof indexOf !== "function") throw new TypeError("b.indexOf is not a function");
  return indexOf.call(b, a) !== -1;
}

function substrOperation(source: unknown, start: unknown, end: unknown): string {
  if ((end as number) < 0) {
    // JavaScript has no negative length; json-logic-js emulates PHP.
    const temp = String(source).substr(start as number);
    return temp.substr(0, temp.length + (end as number));
  }
  return String(source).substr(start as number, end as number);
}

/* biome-ignore-start lint/suspicious/noDoubleEquals: json-logic-js compares loosely on purpose */
const OPERATIONS: ReadonlyMap<string, Operation> = new Map<string, Operation>([
  ["==", (a) => a[0] == a[1]],
  ["===", (a) => a[0] === a[1]],
  ["!=", (a) => a[0] != a[1]],
  ["!==", (a) => a[0] !== a[1]],
  [">", (a) => (a[0] as number) > (a[1] as number)],
  [">=", (a) => (a[0] as number) >= (a[1] as number)],
  ["<", (a) => lessThan(a[0], a[1], a[2])],
  ["<=", (a) => lessOrEqual(a[0], a[1], a[2])],
  ["!!", (a) => truthy(a[0])],
  ["!", (a) => !truthy(a[0])],
  ["%", (a) => (a[0] as number) % (a[1] as number)],
  ["in", (a) => inOperation(a[0], a[1])],
  ["cat", (a) => a.join("")],
  ["substr", (a) => substrOperation(a[0], a[1], a[2])],
  ["+", (a) => a.reduce((x: number, y) => toFloat(x) + toFloat(y), 0)],
  // No initial value: one argument comes back unconverted, none throws, as in json-logic-js.
  ["*", (a) => a.reduce((x, y) => toFloat(x) * toFloat(y))],
  ["-", (a) => (a[1] === undefined ? -(a[0] as number) : (a[0] as number) - (a[1] as number))],
  ["/", (a) => (a[0] as number) / (a[1] as number)],
  ["min", (a) => Math.min(...(a as number[]))],
  ["max", (a) => Math.max(...(a as number[]))],
  ["merge", (a) => a.reduce((x: unknown[], y) => x.concat(y), [])],
]);
/* biome-ignore-end lint/suspicious/noDoubleEquals: json-logic-js compares loosely on purpose */

function lessThan(a: unknown, b: unknown, c: unknown): boolean {
  return c === undefined
    ? (a as number) < (b as number)
    : (a as number) < (b as number) && (b as number) < (c as number);
}

function lessOrEqual(a: unknown, b: unknown, c: unknown): boolean {
  return c === undefined
    ? (a as number) <= (b as number)
    : (a as number) <= (b as number) && (b as number) <= (c as number);
}

function compileOperation(op: string, args: readonly Compiled[]): Compiled {
  const operation = OPERATIONS.get(op);
  if (operation === undefined) throw new ExpressionCompileError(`operator '${op}' is not supported`);
  const special = args.length === 2 ? compileBinary(op, args[0]!, args[1]!) : undefined;
  if (special !== undefined) return special;
  if (args.length === 1 && (op === "!" || op === "!!")) {
    const a = args[0]!.fn;
    return dynamic(op === "!" ? (data) => !truthy(a(data)) : (data) => truthy(a(data)));
  }
  if (op === "substr" && (args.length === 2 || args.length === 3)) {
    const [s, start, end] = args.map((a) => a.fn) as [Evaluator, Evaluator, Evaluator | undefined];
    return dynamic((data) => substrOperation(s(data), start(data), end?.(data)));
  }
  const fns = args.map((a) => a.fn);
  const n = fns.length;
  return dynamic((data) => {
    const values = new Array<unknown>(n);
    for (let i = 0; i < n; i++) values[i] = fns[i]!(data);
    return operation(values);
  });
}

/** Hot two-argument shapes without the argument array; a constant right operand is inlined. */
function compileBinary(op: string, left: Compiled, right: Compiled): Compiled | undefined {
  const l = left.fn;
  if (op === "in") return compileIn(l, right);
  if (right.isConst && isPrimitive(right.value)) {
    const inlined = compileConstantComparison(op, l, right.value);
    if (inlined !== undefined) return inlined;
  }
  const r = right.fn;
  return compileArithmetic(op, l, r) ?? compileComparison(op, l, r);
}

/* biome-ignore-start lint/suspicious/noDoubleEquals: json-logic-js compares loosely on purpose */
function compileConstantComparison(op: string, l: Evaluator, value: unknown): Compiled | undefined {
  // The cast only quiets the type checker: the comparison is JavaScript's, whatever the types.
  const k = value as number;
  switch (op) {
    case "==":
      return dynamic((data) => l(data) == k);
    case "!=":
      return dynamic((data) => l(data) != k);
    case "===":
      return dynamic((data) => l(data) === k);
    case "!==":
      return dynamic((data) => l(data) !== k);
    case ">":
      return dynamic((data) => (l(data) as number) > k);
    case ">=":
      return dynamic((data) => (l(data) as number) >= k);
    case "<":
      return dynamic((data) => (l(data) as number) < k);
    case "<=":
      return dynamic((data) => (l(data) as number) <= k);
    default:
      return undefined;
  }
}

function compileComparison(op: string, l: Evaluator, r: Evaluator): Compiled | undefined {
  switch (op) {
    case "==":
      return dynamic((data) => l(data) == r(data));
    case "!=":
      return dynamic((data) => l(data) != r(data));
    case "===":
      return dynamic((data) => l(data) === r(data));
    case "!==":
      return dynamic((data) => l(data) !== r(data));
    case ">":
      return dynamic((data) => (l(data) as number) > (r(data) as number));
    case ">=":
      return dynamic((data) => (l(data) as number) >= (r(data) as number));
    case "<":
      return dynamic((data) => (l(data) as number) < (r(data) as number));
    case "<=":
      return dynamic((data) => (l(data) as number) <= (r(data) as number));
    default:
      return undefined;
  }
}
/* biome-ignore-end lint/suspicious/noDoubleEquals: json-logic-js compares loosely on purpose */

/** Two-argument arithmetic without the argument array; each line is the reduce it replaces, unrolled. */
function compileArithmetic(op: string, l: Evaluator, r: Evaluator): Compiled | undefined {
  switch (op) {
    case "+":
      // reduce((x, y) => parseFloat(x) + parseFloat(y), 0) over [a, b].
      return dynamic((data) => {
        const a = l(data);
        const b = r(data);
        return toFloat(0 + toFloat(a)) + toFloat(b);
      });
    case "*":
      return dynamic((data) => {
        const a = l(data);
        return toFloat(a) * toFloat(r(data));
      });
    case "-":
      return dynamic((data) => {
        const a = l(data) as number;
        const b = r(data) as number | undefined;
        return b === undefined ? -a : a - b;
      });
    case "/":
      return dynamic((data) => (l(data) as number) / (r(data) as number));
    case "%":
      return dynamic((data) => (l(data) as number) % (r(data) as number));
    default:
      return undefined;
  }
}

/** Above this size a Set beats `indexOf` on a constant list. */
const SET_THRESHOLD = 8;

function compileIn(l: Evaluator, right: Compiled): Compiled {
  const elements = right.constElements;
  if (elements !== undefined) {
    if (elements.length === 0) {
      // `[]` is truthy in JavaScript and has indexOf, so json-logic-js evaluates `a` and finds nothing.
      return dynamic((data) => {
        l(data);
        return false;
      });
    }
    // Set.has is SameValueZero, indexOf is ===: they differ only on NaN, and a JSON literal list
    // holds no NaN, so a NaN `a` is found by neither.
    if (elements.length > SET_THRESHOLD) {
      const set = new Set(elements);
      return dynamic((data) => set.has(l(data)));
    }
    return dynamic((data) => elements.indexOf(l(data)) !== -1);
  }
  if (right.isConst && typeof right.value === "string" && right.value !== "") {
    const haystack = right.value;
    // String.prototype.indexOf converts its argument with String(), as json-logic-js's call does.
    return dynamic((data) => haystack.indexOf(l(data) as string) !== -1);
  }
  const r = right.fn;
  return dynamic((data) => inOperation(l(data), r(data)));
}
