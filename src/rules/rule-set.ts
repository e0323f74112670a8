/**
 * A tenant's ACTIVE rules, indexed by scope, evaluated against one transaction (CONTRACT §3, §5).
 * Pure: no I/O; the catalog cache builds one per tenant and catalog version.
 *
 * Order: everything is reported in (createdAt, ruleId) ascending order, fixed once at build time
 * as a rank per rule.
 *
 * Truncation: when more than `maxRules` rules apply, the first `maxRules` are kept by precedence:
 * every DENY rule first, then REVIEW, then ALLOW, each group in (createdAt, ruleId) order. Dropping a
 * DENY rule is the dangerous failure (it can let a fraudulent payment through), so DENY rules are the
 * last to be dropped; the policy is deterministic, never a random subset.
 */

import {
  SCOPE_FIELDS,
  type Scope,
  type ScopeField,
  scopeMatches,
  type TransactionScope,
} from "../scope/scope.js";
import type { EvalContext } from "./expression/compile.js";

export type RuleAction = "ALLOW" | "DENY" | "REVIEW";

/** What the engine needs of an ACTIVE rule: its compiled expression and its scopes. */
export interface RuleForEval {
  ruleId: string;
  action: RuleAction;
  /** Normalised scopes (see normalizeScope); none = global. */
  scopes: Scope[];
  /** RFC 3339 with milliseconds. */
  createdAt: string;
  /** The compiled expression; the rule matches when it returns exactly `true`. */
  evaluate: (ctx: EvalContext) => unknown;
}

export interface RuleSetEvaluateOptions {
  /** MAX_RULES_PER_REQUEST: above it the applicable rules are truncated (see the module comment). */
  maxRules: number;
}

export interface RuleEvaluationError {
  ruleId: string;
  message: string;
}

export interface RuleSetResult {
  /** Evaluated rules whose expression returned exactly `true`, in (createdAt, ruleId) order. */
  matchedRuleIds: string[];
  /** The rules evaluated (scope-matching, after truncation), in (createdAt, ruleId) order. */
  evaluatedRuleIds: string[];
  /** matchedRuleIds split by action, each in (createdAt, ruleId) order. */
  matchedActions: { DENY: string[]; REVIEW: string[]; ALLOW: string[] };
  /** Number of scope-matching rules, before truncation. */
  totalRulesLoaded: number;
  truncated: boolean;
  /** Rules whose expression threw; they count as not matched. The caller logs them. */
  errors: RuleEvaluationError[];
}

export interface RuleSet {
  /** Number of rules in the set. */
  readonly size: number;
  /** Evaluates the rules whose scopes match `tx` against `ctx`. Never throws. */
  evaluate(ctx: EvalContext, tx: TransactionScope, opts: RuleSetEvaluateOptions): RuleSetResult;
}

/**
 * Scope fields in index order, most selective first: a scope is filed under the first field it
 * sets, so a transaction only looks at rules that can match its own account, merchant, ....
 */
const INDEX_FIELDS = [
  "accountId",
  "merchantId",
  "portfolioId",
  "segmentId",
  "transactionType",
  "subType",
] as const satisfies readonly ScopeField[];

/** Truncation precedence of each action: lower is kept first. */
const ACTION_PRECEDENCE: Readonly<Record<RuleAction, number>> = { DENY: 0, REVIEW: 1, ALLOW: 2 };
const PRECEDENCE_LEVELS = 3;

interface Entry {
  /** Position in (createdAt, ruleId) order. */
  readonly rank: number;
  readonly rule: RuleForEval;
  readonly precedence: number;
}

/** A rule filed in one index bucket, with the scopes that put it there. */
interface Posting {
  readonly entry: Entry;
  readonly scopes: Scope[];
}

/**
 * Builds the indexed rule set. Sorting and indexing happen here, once; evaluation only looks up the
 * transaction's values and merges a few pre-sorted buckets.
 */
export function buildRuleSet(rules: readonly RuleForEval[]): RuleSet {
  const entries = sortByCreation(rules).map((rule, rank): Entry => {
    const precedence: number | undefined = ACTION_PRECEDENCE[rule.action];
    // Checked here so that evaluate() cannot fail on it later.
    if (precedence === undefined) throw new TypeError(`rule ${rule.ruleId}: unknown action '${rule.action}'`);
    return { rank, rule, precedence };
  });
  const indexes = INDEX_FIELDS.map(() => new Map<string, Posting[]>());
  const global: Entry[] = [];

  for (const entry of entries) {
    // A scope that sets no field matches every transaction (scopeMatches), like no scope at all.
    if (entry.rule.scopes.length === 0 || entry.rule.scopes.some(isEmptyScope)) {
      global.push(entry);
      continue;
    }
    for (const scope of entry.rule.scopes) {
      const fieldIndex = INDEX_FIELDS.findIndex((field) => scope[field] !== undefined);
      const key = String(scope[INDEX_FIELDS[fieldIndex]!]);
      const index = indexes[fieldIndex]!;
      let bucket = index.get(key);
      if (bucket === undefined) {
        bucket = [];
        index.set(key, bucket);
      }
      // Entries arrive in rank order, so a rule's earlier posting in this bucket is the last one.
      const last = bucket[bucket.length - 1];
      if (last?.entry === entry) last.scopes.push(scope);
      else bucket.push({ entry, scopes: [scope] });
    }
  }

  return {
    size: entries.length,
    evaluate: (ctx, tx, opts) => evaluateRules(candidatesFor(tx, indexes, global), ctx, opts),
  };
}

function isEmptyScope(scope: Scope): boolean {
  return SCOPE_FIELDS.every((field) => scope[field] === undefined);
}

/** (createdAt instant, then ruleId) ascending; unparsable timestamps last, by their text. */
function sortByCreation(rules: readonly RuleForEval[]): RuleForEval[] {
  const keyed = rules.map((rule) => ({ rule, ms: Date.parse(rule.createdAt) }));
  keyed.sort((a, b) => {
    const aMs = Number.isNaN(a.ms) ? Number.POSITIVE_INFINITY : a.ms;
    const bMs = Number.isNaN(b.ms) ? Number.POSITIVE_INFINITY : b.ms;
    if (aMs !== bMs) return aMs < bMs ? -1 : 1;
    if (Number.isNaN(a.ms) && a.rule.createdAt !== b.rule.createdAt) {
      return a.rule.createdAt < b.rule.createdAt ? -1 : 1;
    }
    // Code-unit order, not localeCompare: the same on every machine.
    if (a.rule.ruleId === b.rule.ruleId) return 0;
    return a.rule.ruleId < b.rule.ruleId ? -1 : 1;
  });
  return keyed.map((k) => k.rule);
}

/** The scope-matching rules for `tx`, deduplicated, in rank order. */
function candidatesFor(
  tx: TransactionScope,
  indexes: readonly Map<string, Posting[]>[],
  global: readonly Entry[],
): Entry[] {
  let merged: Entry[] = global as Entry[];
  for (let f = 0; f < INDEX_FIELDS.length; f++) {
    const value = tx[INDEX_FIELDS[f]!];
    if (value === undefined) continue;
    const bucket = indexes[f]!.get(value);
    if (bucket === undefined) continue;
    const matching: Entry[] = [];
    for (const posting of bucket) {
      if (posting.scopes.some((scope) => scopeMatches(scope, tx))) matching.push(posting.entry);
    }
    if (matching.length > 0) merged = mergeByRank(merged, matching);
  }
  return merged;
}

/** Merges two rank-sorted lists, keeping one copy of a rule found through several scopes. */
function mergeByRank(a: readonly Entry[], b: readonly Entry[]): Entry[] {
  if (a.length === 0) return b as Entry[];
  const out: Entry[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x.rank < y.rank) {
      out.push(x);
      i++;
    } else if (y.rank < x.rank) {
      out.push(y);
      j++;
    } else {
      out.push(x);
      i++;
      j++;
    }
  }
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/** Keeps the first `maxRules` candidates by precedence (DENY, REVIEW, ALLOW), in rank order. */
function selectWithinLimit(candidates: readonly Entry[], maxRules: number): readonly Entry[] {
  const keep = new Uint8Array(candidates.length);
  let budget = maxRules;
  for (let level = 0; level < PRECEDENCE_LEVELS && budget > 0; level++) {
    for (let i = 0; i < candidates.length && budget > 0; i++) {
      if (candidates[i]!.precedence === level) {
        keep[i] = 1;
        budget--;
      }
    }
  }
  return candidates.filter((_, i) => keep[i] === 1);
}

function evaluateRules(
  candidates: readonly Entry[],
  ctx: EvalContext,
  opts: RuleSetEvaluateOptions,
): RuleSetResult {
  const limit = Number.isNaN(opts.maxRules) ? 0 : Math.max(0, Math.floor(opts.maxRules));
  const truncated = candidates.length > limit;
  const selected = truncated ? selectWithinLimit(candidates, limit) : candidates;
  const result: RuleSetResult = {
    matchedRuleIds: [],
    evaluatedRuleIds: [],
    matchedActions: { DENY: [], REVIEW: [], ALLOW: [] },
    totalRulesLoaded: candidates.length,
    truncated,
    errors: [],
  };
  for (const { rule } of selected) {
    result.evaluatedRuleIds.push(rule.ruleId);
    let outcome: unknown;
    try {
      outcome = rule.evaluate(ctx);
    } catch (error) {
      result.errors.push({ ruleId: rule.ruleId, message: describeError(error) });
      continue;
    }
    if (outcome === true) {
      result.matchedRuleIds.push(rule.ruleId);
      result.matchedActions[rule.action].push(rule.ruleId);
    }
  }
  return result;
}

function describeError(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    return "rule evaluation threw a value that cannot be described";
  }
}
