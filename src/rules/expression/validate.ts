/**
 * Static checks on a rule's JSON Logic expression, run at create/update/activate (CONTRACT §3).
 *
 * Rules enforced (all errors are collected, up to {@link MAX_REPORTED_ERRORS}):
 * - the expression is a JSON object, and every object in it is an operation: exactly one key, the
 *   operator, taken from {@link OPERATOR_ARITY} (json-logic-js 2.0.5 minus `log` and `method`),
 *   called with the arity listed there;
 * - depth ≤ {@link MAX_EXPRESSION_DEPTH}: an operation or a literal array is one level, so 32 nested
 *   operations are accepted whether their arguments are written `{"!": x}` or `{"!": [x]}`;
 * - ≤ {@link MAX_EXPRESSION_NODES} nodes, a node being every JSON value of the tree: each operation
 *   object, each argument array, each literal (`{">": [{"var": "amount"}, 10]}` is 5 nodes);
 * - `var` and `missing`/`missing_some` name literal variables of the evaluation context (CONTRACT §3),
 *   except inside the per-element argument of map/filter/reduce/all/none/some, where the data is the
 *   array element (or `{current, accumulator}` for reduce) and any literal name is accepted; computed
 *   names are rejected everywhere since they cannot be checked, and so are the path segments
 *   `__proto__`, `constructor` and `prototype` (they read JavaScript internals, not tenant data);
 * - the expression evaluates to a boolean, see {@link checkBooleanResult}. The service counts a rule
 *   as matched only when the evaluation returns exactly `true`.
 *
 * Path syntax: the root is `expression`; an operator key appends `.op` (`["op"]`, JSON-quoted, when
 * the key is empty or holds `.`, `[`, `]`, `"` or whitespace); an array element appends `[i]`. With the
 * unary sugar `{"var": "amount"}` the single argument's path is the operator's path itself, so paths
 * point at the JSON value in the submitted document: `expression.and[1].>[0].var`.
 */

import {
  type Arity,
  BOOLEAN_OPERATORS,
  isAllowedOperator,
  OPERATOR_ARITY,
  SCOPED_ARGUMENT_INDEX,
  SCOPED_OPERATORS,
} from "./operators.js";

export const MAX_EXPRESSION_DEPTH = 32;
export const MAX_EXPRESSION_NODES = 500;
export const MAX_REPORTED_ERRORS = 20;

export interface ExpressionError {
  path: string;
  message: string;
}

export type ExpressionValidation = { ok: true } | { ok: false; errors: ExpressionError[] };

const ROOT_PATH = "expression";

/** Context variables that hold a scalar: nothing below them can be addressed. */
const SCALAR_VARIABLES: ReadonlySet<string> = new Set([
  "transactionType",
  "subType",
  "amount",
  "currency",
  "transactionTimestamp",
  "transactionTimestampMs",
]);

/** Context objects and their fixed fields; every one of them also has a free-form `metadata` map. */
const OBJECT_VARIABLES: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ["account", new Set(["accountId", "type", "status"])],
  ["segment", new Set(["segmentId", "name"])],
  ["portfolio", new Set(["portfolioId", "name"])],
  ["merchant", new Set(["merchantId", "name", "category", "country"])],
]);

/**
 * Path segments that would read JavaScript internals (`Object.prototype`, constructors) instead of
 * tenant data when the key is absent; no rule author means them.
 */
const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/**
 * True when `name` (a dotted `var` path) addresses the evaluation context of CONTRACT §3:
 * a scalar, an object (`account`, `segment`, `portfolio`, `merchant`, `metadata`), one of an
 * object's fields, or any path below a `metadata` map.
 */
export function isContextVariable(name: string): boolean {
  const segments = name.split(".");
  if (segments.some((s) => s === "" || FORBIDDEN_SEGMENTS.has(s))) return false;
  const [root, field] = segments;
  if (root === undefined) return false;
  if (SCALAR_VARIABLES.has(root)) return segments.length === 1;
  if (root === "metadata") return true;
  const fields = OBJECT_VARIABLES.get(root);
  if (fields === undefined) return false;
  if (field === undefined || field === "metadata") return true;
  return fields.has(field) && segments.length === 2;
}

interface WalkState {
  readonly errors: ExpressionError[];
  nodes: number;
  nodeLimitHit: boolean;
  depthLimitHit: boolean;
}

/**
 * Validates a rule expression. Never throws; unknown input (including non-JSON values such as
 * `undefined` or functions) is reported as errors.
 */
export function validateExpression(expr: unknown): ExpressionValidation {
  if (typeof expr !== "object" || expr === null || Array.isArray(expr)) {
    return {
      ok: false,
      errors: [
        {
          path: ROOT_PATH,
          message: `expression must be a JSON object (a JSON Logic operation such as {">": [{"var": "amount"}, 100]}), got ${describeValue(expr)}`,
        },
      ],
    };
  }
  const state: WalkState = { errors: [], nodes: 0, nodeLimitHit: false, depthLimitHit: false };
  walk(state, expr, ROOT_PATH, 1, false);
  // The boolean check recurses through and/or/if; skip it when the tree was too big to walk fully.
  if (!state.depthLimitHit && !state.nodeLimitHit && isOperationObject(expr)) {
    checkBooleanResult(state, expr, ROOT_PATH);
  }
  return state.errors.length === 0 ? { ok: true } : { ok: false, errors: state.errors };
}

function report(state: WalkState, path: string, message: string): void {
  if (state.errors.length < MAX_REPORTED_ERRORS) state.errors.push({ path, message });
}

/** Counts one node; false once the budget is spent (reported once, at the root). */
function countNode(state: WalkState): boolean {
  if (state.nodeLimitHit) return false;
  state.nodes += 1;
  if (state.nodes > MAX_EXPRESSION_NODES) {
    state.nodeLimitHit = true;
    report(state, ROOT_PATH, `expression has more than ${MAX_EXPRESSION_NODES} nodes`);
    return false;
  }
  return true;
}

function checkDepth(state: WalkState, path: string, depth: number): boolean {
  if (depth <= MAX_EXPRESSION_DEPTH) return true;
  if (!state.depthLimitHit) {
    state.depthLimitHit = true;
    report(state, path, `expression depth exceeds ${MAX_EXPRESSION_DEPTH}`);
  }
  return false;
}

/**
 * Walks one JSON value. `depth` is the level a container at this position would have; `scoped` is
 * true inside the per-element argument of an array operator, where `var` names the element's fields.
 */
function walk(state: WalkState, value: unknown, path: string, depth: number, scoped: boolean): void {
  if (!countNode(state)) return;
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) report(state, path, `number ${String(value)} is not a JSON number`);
    return;
  }
  if (Array.isArray(value)) {
    if (!checkDepth(state, path, depth)) return;
    for (let i = 0; i < value.length; i++) walk(state, value[i], `${path}[${i}]`, depth + 1, scoped);
    return;
  }
  if (!isPlainObject(value)) {
    report(state, path, `${describeValue(value)} is not a JSON value`);
    return;
  }
  const keys = Object.keys(value);
  const op = keys[0];
  if (keys.length !== 1 || op === undefined) {
    report(
      state,
      path,
      keys.length === 0
        ? "empty object is not an operation: an operation is an object with exactly one key, the operator"
        : `object with keys ${keys.map((k) => `'${k}'`).join(", ")} is not an operation: an operation is an object with exactly one key, the operator`,
    );
    return;
  }
  if (!checkDepth(state, path, depth)) return;
  walkOperation(state, op, value[op], opPath(path, op), depth, scoped);
}

function walkOperation(
  state: WalkState,
  op: string,
  raw: unknown,
  path: string,
  depth: number,
  scoped: boolean,
): void {
  const sugar = !Array.isArray(raw);
  // The argument array is a JSON value of its own; the sugar form has none.
  if (!sugar && !countNode(state)) return;
  const args: readonly unknown[] = Array.isArray(raw) ? raw : [raw];
  const argPath = (i: number): string => (sugar ? path : `${path}[${i}]`);
  const arity = OPERATOR_ARITY.get(op);

  if (arity === undefined) {
    report(state, path, unknownOperatorMessage(op));
    // Still walk the arguments so that one bad operator does not hide the other errors.
    for (let i = 0; i < args.length; i++) walk(state, args[i], argPath(i), depth + 1, scoped);
    return;
  }
  if (args.length < arity.min || args.length > arity.max) {
    report(state, path, `operator '${op}' expects ${describeArity(arity)}, got ${args.length}`);
  }

  if (op === "var") {
    walkVarName(state, args[0], argPath(0), scoped, args.length > 0);
    for (let i = 1; i < args.length; i++) walk(state, args[i], argPath(i), depth + 1, scoped);
    return;
  }
  if (op === "missing") {
    walkMissingKeys(state, args, argPath, depth, scoped);
    return;
  }
  if (op === "missing_some") {
    if (args.length > 0) walk(state, args[0], argPath(0), depth + 1, scoped);
    if (args.length > 1) walkKeyList(state, args[1], argPath(1), depth + 1, scoped, "missing_some");
    for (let i = 2; i < args.length; i++) walk(state, args[i], argPath(i), depth + 1, scoped);
    return;
  }
  const perElement = SCOPED_OPERATORS.has(op) ? SCOPED_ARGUMENT_INDEX : -1;
  for (let i = 0; i < args.length; i++) {
    walk(state, args[i], argPath(i), depth + 1, scoped || i === perElement);
  }
}

function walkVarName(state: WalkState, name: unknown, path: string, scoped: boolean, present: boolean): void {
  if (!present) return; // arity already reported
  if (!countNode(state)) return;
  if (typeof name === "string") {
    checkVariableName(state, name, path, scoped);
    return;
  }
  if (scoped && (name === null || (typeof name === "number" && Number.isInteger(name) && name >= 0))) {
    return; // the whole element, or an index into an element that is itself an array
  }
  if (!scoped && (name === null || typeof name === "number")) {
    report(state, path, `unknown variable '${String(name)}'`);
    return;
  }
  report(state, path, "variable name must be a literal string (a computed name cannot be checked)");
}

function checkVariableName(state: WalkState, name: string, path: string, scoped: boolean): void {
  const forbidden = name.split(".").find((s) => FORBIDDEN_SEGMENTS.has(s));
  if (forbidden !== undefined) {
    report(state, path, `variable path segment '${forbidden}' is not allowed`);
    return;
  }
  if (scoped) return;
  if (name === "") {
    report(state, path, "variable name must not be empty (that would be the whole evaluation context)");
    return;
  }
  if (!isContextVariable(name)) report(state, path, `unknown variable '${name}'`);
}

/** `missing` takes literal names, either as its arguments or as one literal array of names. */
function walkMissingKeys(
  state: WalkState,
  args: readonly unknown[],
  argPath: (i: number) => string,
  depth: number,
  scoped: boolean,
): void {
  const [first] = args;
  if (args.length === 1 && Array.isArray(first)) {
    walkKeyList(state, first, argPath(0), depth + 1, scoped, "missing");
    return;
  }
  for (let i = 0; i < args.length; i++) walkKey(state, args[i], argPath(i), scoped, "missing");
}

function walkKeyList(
  state: WalkState,
  list: unknown,
  path: string,
  depth: number,
  scoped: boolean,
  op: string,
): void {
  if (!Array.isArray(list)) {
    if (countNode(state)) report(state, path, `'${op}' expects a literal array of variable names here`);
    return;
  }
  if (!countNode(state) || !checkDepth(state, path, depth)) return;
  for (let i = 0; i < list.length; i++) walkKey(state, list[i], `${path}[${i}]`, scoped, op);
}

function walkKey(state: WalkState, key: unknown, path: string, scoped: boolean, op: string): void {
  if (!countNode(state)) return;
  if (typeof key !== "string") {
    report(state, path, `'${op}' expects literal variable names (a computed name cannot be checked)`);
    return;
  }
  checkVariableName(state, key, path, scoped);
}

/**
 * The sound "evaluates to a boolean" rule: a `true`/`false` literal, an operator of
 * {@link BOOLEAN_OPERATORS}, or `and`/`or`/`if`/`?:` whose every result branch is itself boolean by
 * this rule (`and`/`or` return one of their arguments, `if` one of its branches, so their type is the
 * union of their branches'). `if` must then have a final else branch, since it returns null when no
 * condition holds. `var`, arithmetic, `missing` (an array) and the rest are rejected: compare them or
 * wrap them in `!!`.
 */
function checkBooleanResult(state: WalkState, node: unknown, path: string): void {
  if (typeof node === "boolean") return;
  if (!isOperationObject(node)) {
    if (!isPlainObject(node)) report(state, path, `${describeValue(node)} is not a boolean${BOOLEAN_HINT}`);
    return; // a non-operation object was already reported by the walk
  }
  const op = Object.keys(node)[0] ?? "";
  const raw = node[op];
  const sugar = !Array.isArray(raw);
  const args: readonly unknown[] = Array.isArray(raw) ? raw : [raw];
  const p = opPath(path, op);
  const argPath = (i: number): string => (sugar ? p : `${p}[${i}]`);
  if (!isAllowedOperator(op) || BOOLEAN_OPERATORS.has(op)) return;
  if (op === "and" || op === "or") {
    for (let i = 0; i < args.length; i++) checkBooleanResult(state, args[i], argPath(i));
    return;
  }
  if (op === "if" || op === "?:") {
    if (args.length % 2 === 0) {
      report(
        state,
        p,
        `'${op}' without a final else branch returns null when no condition holds${BOOLEAN_HINT}`,
      );
    }
    for (let i = 1; i < args.length; i += 2) checkBooleanResult(state, args[i], argPath(i));
    if (args.length % 2 === 1) checkBooleanResult(state, args[args.length - 1], argPath(args.length - 1));
    return;
  }
  report(state, p, `operator '${op}' does not return a boolean${BOOLEAN_HINT}`);
}

const BOOLEAN_HINT = "; the expression must evaluate to a boolean (compare the value, or wrap it in '!!')";

function unknownOperatorMessage(op: string): string {
  if (op === "log") return "operator 'log' is not allowed (it writes to the console on every evaluation)";
  if (op === "method") return "operator 'method' is not allowed (it calls arbitrary methods on input data)";
  return `unknown operator '${op}'`;
}

function describeArity(arity: Arity): string {
  const noun = (n: number): string => (n === 1 ? "argument" : "arguments");
  if (arity.min === arity.max) return `${arity.min} ${noun(arity.min)}`;
  if (arity.max === Number.POSITIVE_INFINITY) return `at least ${arity.min} ${noun(arity.min)}`;
  return `${arity.min} to ${arity.max} arguments`;
}

const PLAIN_KEY = /^[^.[\]"\s]+$/;

function opPath(parent: string, op: string): string {
  return PLAIN_KEY.test(op) ? `${parent}.${op}` : `${parent}[${JSON.stringify(op)}]`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isOperationObject(value: unknown): value is Record<string, unknown> {
  return isPlainObject(value) && Object.keys(value).length === 1;
}

function describeValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "function") return "a function";
  if (typeof value === "bigint" || typeof value === "symbol") return `a ${typeof value}`;
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null && !isPlainObject(value)) return "a non-plain object";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
