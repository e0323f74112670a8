/**
 * The limit decision for one transaction, given the current counters: which limits are exceeded,
 * what to report for each, and what an ALLOW would add to the counters. Pure; the store applies
 * `consumptions` atomically (usage + amount <= maxAmount guarded in SQL) when the final decision
 * is ALLOW, and this module's answer is what it must agree with.
 *
 * Semantics (CONTRACT §4):
 * - PER_TRANSACTION: exceeded iff amount > maxAmount (equal is allowed); no counter.
 * - DAILY/WEEKLY/MONTHLY/CUSTOM: exceeded iff usage + amount > maxAmount (equal is allowed).
 * - Skipped limits (outside their window or custom range) are reported, never checked, never consumed.
 */
import { addAmounts, compareAmounts, formatAmount, isGreaterThan, subtractAmounts } from "../money/money.js";
import type { ApplicableLimit, SkipReason } from "./applicability.js";
import type { LimitType } from "./period.js";

/** One entry of `limitUsageDetails` in a validation response (CONTRACT §5). */
export interface LimitUsageDetail {
  limitId: string;
  /** The limit's maxAmount. */
  limitAmount: string;
  /**
   * Counter limits, not exceeded: the projected usage, counter + this amount (what the counter
   * holds once this transaction is allowed).
   * Counter limits, exceeded: the counter as it is, without this amount (it was not incremented).
   * PER_TRANSACTION and skipped limits: zero (formatted, e.g. "0.00").
   * Note that a not-exceeded limit reports the projection even when rules end up answering REVIEW
   * or DENY and nothing is consumed: it tells what this transaction would have used.
   */
  currentUsage: string;
  /** The transaction amount. */
  attemptedAmount: string;
  exceeded: boolean;
  /** The limit type: DAILY, WEEKLY, MONTHLY, CUSTOM or PER_TRANSACTION. */
  period: LimitType;
  /** Human-readable scopes of the limit. */
  scope: string;
  skipped: boolean;
  skipReason?: SkipReason;
  /**
   * Headroom, never negative: maxAmount − currentUsage for counter limits (so after this
   * transaction when it fits, before it when it does not); maxAmount − amount for PER_TRANSACTION;
   * maxAmount for skipped limits, which put no bound on this transaction.
   */
  remaining: string;
  /** Start of the next period (ISO 8601 UTC); the custom range's end for CUSTOM; null for PER_TRANSACTION. */
  resetAt: string | null;
}

/** What an ALLOW adds to one counter. */
export interface LimitConsumption {
  limitId: string;
  scopeKey: string;
  periodKey: string;
  /** The transaction amount, formatted in the limit's currency. */
  amount: string;
  /** For the store's atomic guard: increment only while usage + amount <= maxAmount. */
  maxAmount: string;
  /** End of the period; a store may derive the counter row's expiry from it. */
  resetAt: Date;
}

export interface LimitDecision {
  /** Some applicable, non-skipped limit is exceeded: the transaction must be DENIED. */
  exceeded: boolean;
  /** One per applicable limit, in the order given. */
  details: LimitUsageDetail[];
  /** One per non-skipped counter limit: what to add if, and only if, the final decision is ALLOW. */
  consumptions: LimitConsumption[];
}

/** Current usage of a counter; "0" when it has no row yet. */
export type UsageLookup = (limitId: string, scopeKey: string, periodKey: string) => string;

/**
 * Decides the limits of one transaction.
 * @param applicable from applicableLimits(), for the same transaction.
 * @param amount the transaction amount (a parseAmount value, in the limits' currency).
 * @param usageOf current counter value per (limit, scope key, period key), asked once per
 *   non-skipped counter limit.
 */
export function decideLimits(
  applicable: readonly ApplicableLimit[],
  amount: string,
  usageOf: UsageLookup,
): LimitDecision {
  const details: LimitUsageDetail[] = [];
  const consumptions: LimitConsumption[] = [];
  let exceeded = false;
  for (const entry of applicable) {
    const { limit, period } = entry;
    const money = (value: string): string => formatAmount(value, limit.currency);
    const base = {
      limitId: limit.limitId,
      limitAmount: money(limit.maxAmount),
      attemptedAmount: money(amount),
      period: limit.limitType,
      scope: entry.scopeDescription,
      resetAt: period === null ? null : period.resetAt.toISOString(),
    };

    if (entry.skipped) {
      const detail: LimitUsageDetail = {
        ...base,
        currentUsage: money("0"),
        exceeded: false,
        skipped: true,
        remaining: money(limit.maxAmount),
      };
      if (entry.skipReason !== undefined) detail.skipReason = entry.skipReason;
      details.push(detail);
      continue;
    }

    if (period === null) {
      const over = isGreaterThan(amount, limit.maxAmount);
      exceeded ||= over;
      details.push({
        ...base,
        currentUsage: money("0"),
        exceeded: over,
        skipped: false,
        remaining: money(headroom(limit.maxAmount, amount)),
      });
      continue;
    }

    const usage = usageOf(limit.limitId, entry.scopeKey, period.periodKey);
    const projected = addAmounts(usage, amount);
    const over = isGreaterThan(projected, limit.maxAmount);
    exceeded ||= over;
    const reported = over ? usage : projected;
    details.push({
      ...base,
      currentUsage: money(reported),
      exceeded: over,
      skipped: false,
      remaining: money(headroom(limit.maxAmount, reported)),
    });
    consumptions.push({
      limitId: limit.limitId,
      scopeKey: entry.scopeKey,
      periodKey: period.periodKey,
      amount: money(amount),
      maxAmount: money(limit.maxAmount),
      resetAt: period.resetAt,
    });
  }
  return { exceeded, details, consumptions };
}

/** max(0, max − used): a counter past its maximum (maxAmount lowered later) has no headroom, not a negative one. */
function headroom(max: string, used: string): string {
  return compareAmounts(used, max) >= 0 ? "0" : subtractAmounts(max, used);
}

/** Key of one counter in an in-memory usage map: unambiguous whatever the parts contain. */
export function counterKey(limitId: string, scopeKey: string, periodKey: string): string {
  return JSON.stringify([limitId, scopeKey, periodKey]);
}

/** Adds `consumptions` to `usage` in place (values are plain decimal strings). */
export function applyConsumptions(
  usage: Map<string, string>,
  consumptions: readonly LimitConsumption[],
): void {
  for (const c of consumptions) {
    const key = counterKey(c.limitId, c.scopeKey, c.periodKey);
    usage.set(key, addAmounts(usage.get(key) ?? "0", c.amount));
  }
}

export interface SequentialItem {
  applicable: readonly ApplicableLimit[];
  amount: string;
}

export interface SequentialResult {
  /** Per item, in order, decided against the counters as left by the items before it. */
  decisions: LimitDecision[];
  /** Per item: whether its consumptions were added to `usage`. */
  consumed: boolean[];
  /** The counters after the batch (a new map; `initialUsage` is not modified). */
  usage: Map<string, string>;
}

/**
 * Decides several transactions in order against the same counters, as a group-commit path does
 * when it validates a batch in one database transaction.
 *
 * Item i is decided with the usage left by items 0..i-1, then consumes iff it is not exceeded
 * AND `consumes(i, exceeded)` says so. The predicate exists because consuming depends on the
 * final decision, which rules also shape: an item whose rules answer REVIEW (or a DENY default)
 * must not consume even though its limits fit. An exceeded item never consumes, whatever the
 * predicate answers. The default predicate consumes every item that fits.
 *
 * @param initialUsage counter values keyed by {@link counterKey}, as loaded (e.g. SELECT ... FOR
 *   UPDATE); missing keys are "0".
 */
export function decideSequentially(
  items: readonly SequentialItem[],
  initialUsage: ReadonlyMap<string, string>,
  consumes: (itemIndex: number, exceeded: boolean) => boolean = () => true,
): SequentialResult {
  const usage = new Map(initialUsage);
  const usageOf: UsageLookup = (limitId, scope, periodKey) =>
    usage.get(counterKey(limitId, scope, periodKey)) ?? "0";
  const decisions: LimitDecision[] = [];
  const consumed: boolean[] = [];
  items.forEach((item, index) => {
    const decision = decideLimits(item.applicable, item.amount, usageOf);
    const wanted = consumes(index, decision.exceeded);
    const take = wanted && !decision.exceeded;
    if (take) applyConsumptions(usage, decision.consumptions);
    decisions.push(decision);
    consumed.push(take);
  });
  return { decisions, consumed, usage };
}
