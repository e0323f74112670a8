/**
 * The response a TRANSACTION_VALIDATED event records, with its canonical JSON (RFC 8785) written
 * field by field. The generic serializer sorts the keys of every object it meets and dispatches on
 * every value; on the validation path it was the largest allocator of the server. The
 * differential property test in `recorded-response.test.ts` holds this text equal to
 * `canonicalJson` of the same value.
 */
import { CanonicalText, canonicalNumber, canonicalString } from "../audit/canonical.js";
import type { LimitUsageDetail } from "../limits/decide.js";
import type { ValidationResponse } from "./validation.js";

/** The response without the event's own sequence and hash, which cannot be inside it. */
export type RecordedResponse = Omit<ValidationResponse, "auditSequence" | "auditHash" | "validationId"> & {
  validationId: string;
};

const q = canonicalString;

function stringArray(values: readonly string[]): string {
  let out = "[";
  for (let i = 0; i < values.length; i++) out += i === 0 ? q(values[i]!) : `,${q(values[i]!)}`;
  return `${out}]`;
}

function bool(b: boolean): string {
  return b ? "true" : "false";
}

/** Members in UTF-16 code unit order, as RFC 8785 §3.2.3 sorts them. */
function detailText(d: LimitUsageDetail): string {
  return (
    `{"attemptedAmount":${q(d.attemptedAmount)},"currentUsage":${q(d.currentUsage)}` +
    `,"exceeded":${bool(d.exceeded)},"limitAmount":${q(d.limitAmount)},"limitId":${q(d.limitId)}` +
    `,"period":${q(d.period)},"remaining":${q(d.remaining)}` +
    `,"resetAt":${d.resetAt === null ? "null" : q(d.resetAt)},"scope":${q(d.scope)}` +
    (d.skipReason !== undefined ? `,"skipReason":${q(d.skipReason)}` : "") +
    `,"skipped":${bool(d.skipped)}}`
  );
}

/** A copy holding exactly the fields {@link detailText} writes. */
function detailCopy(d: LimitUsageDetail): LimitUsageDetail {
  return {
    limitId: d.limitId,
    limitAmount: d.limitAmount,
    currentUsage: d.currentUsage,
    attemptedAmount: d.attemptedAmount,
    exceeded: d.exceeded,
    period: d.period,
    scope: d.scope,
    skipped: d.skipped,
    ...(d.skipReason !== undefined ? { skipReason: d.skipReason } : {}),
    remaining: d.remaining,
    resetAt: d.resetAt,
  };
}

/**
 * The recorded response as a fresh object holding exactly the fields its text writes, so that
 * the value (what JSON.stringify and the reference canonicalizer see) and the text cannot differ
 * by a field someone adds to the response type later.
 */
export function recordedResponse(r: RecordedResponse): CanonicalText<RecordedResponse> {
  let details = "[";
  for (let i = 0; i < r.limitUsageDetails.length; i++) {
    details += i === 0 ? "" : ",";
    details += detailText(r.limitUsageDetails[i]!);
  }
  details += "]";
  const text =
    `{"decision":${q(r.decision)},"degraded":${bool(r.degraded)}` +
    (r.degradedReason !== undefined ? `,"degradedReason":${q(r.degradedReason)}` : "") +
    `,"evaluatedAt":${q(r.evaluatedAt)},"evaluatedRuleIds":${stringArray(r.evaluatedRuleIds)}` +
    `,"limitUsageDetails":${details},"matchedRuleIds":${stringArray(r.matchedRuleIds)}` +
    `,"processingTimeMs":${canonicalNumber(r.processingTimeMs)},"reason":${q(r.reason)}` +
    `,"requestId":${q(r.requestId)},"totalRulesLoaded":${canonicalNumber(r.totalRulesLoaded)}` +
    `,"truncated":${bool(r.truncated)},"validationId":${q(r.validationId)}}`;
  const value: RecordedResponse = {
    validationId: r.validationId,
    requestId: r.requestId,
    decision: r.decision,
    reason: r.reason,
    matchedRuleIds: r.matchedRuleIds,
    evaluatedRuleIds: r.evaluatedRuleIds,
    limitUsageDetails: r.limitUsageDetails.map(detailCopy),
    processingTimeMs: r.processingTimeMs,
    evaluatedAt: r.evaluatedAt,
    totalRulesLoaded: r.totalRulesLoaded,
    truncated: r.truncated,
    degraded: r.degraded,
    ...(r.degradedReason !== undefined ? { degradedReason: r.degradedReason } : {}),
  };
  return new CanonicalText(value, text);
}
