import type { LimitTransaction } from "../limits/applicability.js";
import type { LimitUsageDetail } from "../limits/decide.js";
import { amountToNumber, parseAmount } from "../money/money.js";
import type { EvalContext } from "../rules/expression/compile.js";
import type { RuleSetResult } from "../rules/rule-set.js";
import type { ValidationRequestInput } from "./validation.schemas.js";

export type Decision = "ALLOW" | "DENY" | "REVIEW";

export const REASONS = {
  denyRule: "Rule matched with DENY action",
  limitExceeded: "limit_exceeded",
  reviewRule: "Rule matched with REVIEW action",
  allowRule: "Rule matched with ALLOW action",
  noMatch: "No matching rules found",
} as const;

/** The request after validation: money as an exact decimal string, ids lower-case, optional parts explicit. */
export type NormalizedRequest = Omit<ValidationRequestInput, "amount"> & { amount: string; subType: string };

export const MAX_FUTURE_SKEW_MS = 60_000;
export const MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** The one check the schema cannot do: the timestamp window depends on the server clock. */
export function timestampProblem(timestamp: string, now: number): string | undefined {
  const at = Date.parse(timestamp);
  if (at - now > MAX_FUTURE_SKEW_MS) return "must not be more than 1 minute in the future";
  if (now - at > MAX_AGE_MS) return "must not be more than 24 hours old";
  return undefined;
}

export function normalizeRequest(input: ValidationRequestInput): NormalizedRequest {
  const parsed = parseAmount(input.amount, input.currency);
  if (!parsed.ok) throw new Error(`unreachable: amount validated by the schema (${parsed.message})`);
  return { ...input, amount: parsed.value, subType: input.subType ?? "" };
}

/** What rules see (CONTRACT §3); absent parts are `{}` so a missing var is null, never an error. */
export function evaluationContext(req: NormalizedRequest): EvalContext {
  return {
    transactionType: req.transactionType,
    subType: req.subType,
    amount: amountToNumber(req.amount),
    currency: req.currency,
    transactionTimestamp: req.transactionTimestamp,
    transactionTimestampMs: Date.parse(req.transactionTimestamp),
    account: {
      accountId: req.account.accountId,
      ...(req.account.type !== undefined ? { type: req.account.type } : {}),
      ...(req.account.status !== undefined ? { status: req.account.status } : {}),
      metadata: req.account.metadata ?? {},
    },
    segment: req.segment ? { ...req.segment, metadata: req.segment.metadata ?? {} } : {},
    portfolio: req.portfolio ? { ...req.portfolio, metadata: req.portfolio.metadata ?? {} } : {},
    merchant: req.merchant ? { ...req.merchant, metadata: req.merchant.metadata ?? {} } : {},
    metadata: req.metadata ?? {},
  };
}

export function limitTransaction(req: NormalizedRequest): LimitTransaction {
  return {
    accountId: req.account.accountId,
    transactionType: req.transactionType,
    subType: req.subType,
    ...(req.segment ? { segmentId: req.segment.segmentId } : {}),
    ...(req.portfolio ? { portfolioId: req.portfolio.portfolioId } : {}),
    ...(req.merchant ? { merchantId: req.merchant.merchantId } : {}),
    currency: req.currency,
    amount: req.amount,
  };
}

/**
 * CONTRACT §5 precedence: a DENY rule wins (limits not checked); then an exceeded limit; then
 * REVIEW; then ALLOW; then the configured default.
 */
export function decide(
  rules: Pick<RuleSetResult, "matchedActions">,
  limitsExceeded: boolean,
  defaultDecision: "ALLOW" | "DENY",
): { decision: Decision; reason: string } {
  if (rules.matchedActions.DENY.length > 0) return { decision: "DENY", reason: REASONS.denyRule };
  if (limitsExceeded) return { decision: "DENY", reason: REASONS.limitExceeded };
  if (rules.matchedActions.REVIEW.length > 0) return { decision: "REVIEW", reason: REASONS.reviewRule };
  if (rules.matchedActions.ALLOW.length > 0) return { decision: "ALLOW", reason: REASONS.allowRule };
  return { decision: defaultDecision, reason: REASONS.noMatch };
}

export interface ValidationResponse {
  validationId: string | null;
  requestId: string;
  decision: Decision;
  reason: string;
  matchedRuleIds: string[];
  evaluatedRuleIds: string[];
  limitUsageDetails: LimitUsageDetail[];
  processingTimeMs: number;
  evaluatedAt: string;
  totalRulesLoaded: number;
  truncated: boolean;
  degraded: boolean;
  degradedReason?: string;
  auditSequence: number | null;
  auditHash: string | null;
}
