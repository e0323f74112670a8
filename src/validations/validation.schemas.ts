import { z } from "@hono/zod-openapi";
import { dateTimeQuery, limitQuery, sortOrderQuery } from "../http/query.js";
import { MoneyInput } from "../limits/limits.schemas.js";
import { LIMIT_TYPES } from "../limits/period.js";
import { isCurrency } from "../money/currency.js";
import { parseAmount } from "../money/money.js";
import { TRANSACTION_TYPES } from "../scope/scope.js";

const uuid = z.uuid({ message: "must be a UUID" }).transform((v) => v.toLowerCase());
const regionNames = new Intl.DisplayNames(["en"], { type: "region", fallback: "code" });
const isCountry = (code: string) => /^[A-Z]{2}$/.test(code) && regionNames.of(code) !== code;

const METADATA_MAX_KEYS = 50;
const metadata = z.record(z.string(), z.unknown(), { message: "must be an object" }).superRefine((m, ctx) => {
  const keys = Object.keys(m);
  if (keys.length > METADATA_MAX_KEYS)
    ctx.addIssue({ code: "custom", message: `at most ${METADATA_MAX_KEYS} keys` });
  for (const key of keys) {
    if (key.length > 64 || !/^[a-zA-Z0-9_]+$/.test(key)) {
      ctx.addIssue({ code: "custom", path: [key], message: "keys are 1–64 characters of [a-zA-Z0-9_]" });
    }
  }
});
const name = z.string().max(255);

export const ValidationRequestBody = z
  .strictObject({
    requestId: uuid.openapi({
      description: "Idempotency key: a replay with the same body returns the stored answer",
    }),
    transactionType: z.enum(TRANSACTION_TYPES),
    subType: z
      .string()
      .trim()
      .max(50)
      .transform((v) => v.toLowerCase())
      .optional(),
    amount: MoneyInput,
    currency: z
      .string()
      .transform((v) => v.trim().toUpperCase())
      .refine(isCurrency, { message: "must be an ISO 4217 currency code" }),
    transactionTimestamp: z.iso.datetime({
      offset: true,
      message: "must be an RFC 3339 date-time with a time zone",
    }),
    account: z.strictObject({
      accountId: uuid,
      type: z.enum(["checking", "savings", "credit"]).optional(),
      status: z.enum(["active", "suspended", "closed"]).optional(),
      metadata: metadata.optional(),
    }),
    segment: z
      .strictObject({ segmentId: uuid, name: name.optional(), metadata: metadata.optional() })
      .optional(),
    portfolio: z
      .strictObject({ portfolioId: uuid, name: name.optional(), metadata: metadata.optional() })
      .optional(),
    merchant: z
      .strictObject({
        merchantId: uuid,
        name: name.optional(),
        category: z
          .string()
          .regex(/^\d{4}$/, { message: "must be a 4-digit MCC" })
          .optional(),
        country: z
          .string()
          .transform((v) => v.toUpperCase())
          .refine(isCountry, { message: "must be an ISO 3166-1 alpha-2 country code" })
          .optional(),
        metadata: metadata.optional(),
      })
      .optional(),
    metadata: metadata.optional(),
  })
  .superRefine((v, ctx) => {
    if (isCurrency(v.currency)) {
      const parsed = parseAmount(v.amount, v.currency);
      if (!parsed.ok) ctx.addIssue({ code: "custom", path: ["amount"], message: parsed.message });
    }
  })
  .openapi("ValidationRequest");

export type ValidationRequestInput = z.output<typeof ValidationRequestBody>;

const LimitUsageDetailSchema = z.object({
  limitId: z.string(),
  limitAmount: z.string(),
  currentUsage: z.string(),
  attemptedAmount: z.string(),
  exceeded: z.boolean(),
  period: z.enum(LIMIT_TYPES),
  scope: z.string(),
  skipped: z.boolean(),
  skipReason: z.enum(["outside_time_window", "outside_custom_period"]).optional(),
  remaining: z.string(),
  resetAt: z.string().nullable(),
});

export const ValidationResponseSchema = z
  .object({
    validationId: z.string().nullable(),
    requestId: z.string(),
    decision: z.enum(["ALLOW", "DENY", "REVIEW"]),
    reason: z.string(),
    matchedRuleIds: z.array(z.string()),
    evaluatedRuleIds: z.array(z.string()),
    limitUsageDetails: z.array(LimitUsageDetailSchema),
    processingTimeMs: z.number(),
    evaluatedAt: z.string(),
    totalRulesLoaded: z.number().int(),
    truncated: z.boolean(),
    degraded: z.boolean(),
    degradedReason: z.string().optional(),
    auditSequence: z.number().int().nullable(),
    auditHash: z.string().nullable(),
  })
  .openapi("ValidationResponse");

export const ValidationRecordSchema = ValidationResponseSchema.extend({
  request: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
}).openapi("ValidationRecord");

export const ValidationSummarySchema = z
  .object({
    validationId: z.string(),
    requestId: z.string(),
    decision: z.enum(["ALLOW", "DENY", "REVIEW"]),
    reason: z.string(),
    amount: z.string(),
    currency: z.string(),
    transactionType: z.string(),
    accountId: z.string(),
    segmentId: z.string().nullable(),
    portfolioId: z.string().nullable(),
    merchantId: z.string().nullable(),
    matchedRuleIds: z.array(z.string()),
    exceededLimitIds: z.array(z.string()),
    processingTimeMs: z.number(),
    createdAt: z.string(),
  })
  .openapi("ValidationSummary");

export const ListValidationsQuery = z.strictObject({
  decision: z.enum(["ALLOW", "DENY", "REVIEW"]).optional(),
  account_id: uuid.optional(),
  segment_id: uuid.optional(),
  portfolio_id: uuid.optional(),
  transaction_type: z.enum(TRANSACTION_TYPES).optional(),
  matched_rule_id: uuid.optional(),
  exceeded_limit_id: uuid.optional(),
  start_date: dateTimeQuery.optional(),
  end_date: dateTimeQuery.optional(),
  sort_order: sortOrderQuery,
  limit: limitQuery(1000, 100),
  cursor: z.string().max(1024).optional(),
});
