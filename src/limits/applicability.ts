/**
 * Which active limits apply to a transaction, and whether each is enforced right now. Pure: the
 * caller loads the tenant's ACTIVE limits and passes the server clock.
 */
import type { Scope, TransactionScope } from "../scope/scope.js";
import { describeScopes, firstMatchingScope, scopeKey } from "../scope/scope.js";
import type { LimitType, Period } from "./period.js";
import { customPeriodContains, periodFor } from "./period.js";
import { isWithinWindow } from "./time-window.js";

/** What the limit engine needs of a stored limit (only ACTIVE ones should be passed). */
export interface LimitForEval {
  limitId: string;
  limitType: LimitType;
  /** Decimal string, > 0, within the currency's decimals. */
  maxAmount: string;
  /** ISO 4217, upper case. */
  currency: string;
  /** Empty = global. */
  scopes: readonly Scope[];
  /** IANA zone the periods and the activity window are read in. */
  timezone: string;
  /** "HH:mm", both or neither. */
  activeTimeStart: string | null;
  activeTimeEnd: string | null;
  /** CUSTOM only: RFC 3339 instants (or Dates) bounding [start, end). */
  customStartDate: string | Date | null;
  customEndDate: string | Date | null;
}

/** The facts of a transaction the limit engine looks at. */
export type LimitTransaction = TransactionScope & {
  /** ISO 4217, upper case. */
  currency: string;
  /** Decimal string as returned by parseAmount. */
  amount: string;
};

/**
 * A limit's description depends only on its scopes, which do not change for a given catalog
 * object, so it is built once per limit object instead of once per validation.
 */
const descriptions = new WeakMap<LimitForEval, string>();
function describe(limit: LimitForEval): string {
  let text = descriptions.get(limit);
  if (text === undefined) {
    text = describeScopes(limit.scopes);
    descriptions.set(limit, text);
  }
  return text;
}

export type SkipReason = "outside_time_window" | "outside_custom_period";

export interface ApplicableLimit {
  limit: LimitForEval;
  /** Index of the first matching scope (0 for a global limit). */
  scopeIndex: number;
  /** Counter key of that scope; "global" when the limit has no scopes. */
  scopeKey: string;
  /** Human-readable scopes for the response: "global", "(account:a) OR (merchant:b)". */
  scopeDescription: string;
  /** The current period, or null for PER_TRANSACTION. */
  period: Period | null;
  /** Not enforced now: reported, never checked, never consumed. */
  skipped: boolean;
  skipReason?: SkipReason;
}

/**
 * The limits of `limits` that apply to `tx`: same currency (exact, no FX) and at least one
 * matching scope. Others are left out entirely. Order follows `limits`, so pass them in a stable
 * order (e.g. createdAt, limitId) to get a stable response.
 *
 * A CUSTOM limit outside its range is skipped with "outside_custom_period" (checked first: the
 * range is the bigger frame); a limit outside its activity window with "outside_time_window".
 *
 * @param now the server clock; never the transaction's own timestamp, which a caller controls.
 */
export function applicableLimits(
  tx: LimitTransaction,
  limits: readonly LimitForEval[],
  now: Date,
): ApplicableLimit[] {
  const out: ApplicableLimit[] = [];
  for (const limit of limits) {
    if (limit.currency !== tx.currency) continue;
    const scopeIndex = firstMatchingScope(limit.scopes, tx);
    if (scopeIndex === -1) continue;
    const skipReason = skipReasonFor(limit, now);
    const applicable: ApplicableLimit = {
      limit,
      scopeIndex,
      scopeKey: scopeKey(limit.scopes[scopeIndex]),
      scopeDescription: describe(limit),
      period: currentPeriod(limit, now),
      skipped: skipReason !== undefined,
    };
    if (skipReason !== undefined) applicable.skipReason = skipReason;
    out.push(applicable);
  }
  return out;
}

// The period each limit was last asked for. Limits are catalog objects, replaced on every change.
const periods = new WeakMap<LimitForEval, Period | null>();

/**
 * `periodFor`, computed once per limit and period: a cached period is the answer for as long as
 * it contains `now`, because a limit's periods partition time (CUSTOM's does not depend on `now`).
 */
export function currentPeriod(limit: LimitForEval, now: Date): Period | null {
  const cached = periods.get(limit);
  if (cached === null) return null;
  const t = now.getTime();
  if (
    cached &&
    (limit.limitType === "CUSTOM" || (cached.start.getTime() <= t && t < cached.resetAt.getTime()))
  ) {
    return cached;
  }
  const period = periodFor(limit, now);
  periods.set(limit, period);
  return period;
}

function skipReasonFor(limit: LimitForEval, now: Date): SkipReason | undefined {
  if (!customPeriodContains(limit, now)) return "outside_custom_period";
  if (limit.activeTimeStart !== null && limit.activeTimeEnd !== null) {
    if (!isWithinWindow(limit.activeTimeStart, limit.activeTimeEnd, limit.timezone, now)) {
      return "outside_time_window";
    }
  }
  return undefined;
}
