import { z } from "@hono/zod-openapi";
import { normalizeScope, type Scope, TRANSACTION_TYPES } from "../scope/scope.js";

const uuid = z.uuid({ message: "must be a UUID" }).transform((v) => v.toLowerCase());

export const ScopeSchema = z
  .strictObject({
    accountId: uuid.optional(),
    segmentId: uuid.optional(),
    portfolioId: uuid.optional(),
    merchantId: uuid.optional(),
    transactionType: z.enum(TRANSACTION_TYPES).optional(),
    subType: z.string().trim().min(1).max(50).optional(),
  })
  .refine((s) => Object.values(s).some((v) => v !== undefined), {
    message: "scope must have at least one field set",
  })
  .transform((s) => normalizeScope(s as Scope))
  .openapi("Scope", {
    description:
      "Matches when every field it sets equals the transaction's value (subType case-insensitive). Several scopes are OR-ed.",
  });

export const ScopeOutSchema = z
  .object({
    accountId: z.string().optional(),
    segmentId: z.string().optional(),
    portfolioId: z.string().optional(),
    merchantId: z.string().optional(),
    transactionType: z.enum(TRANSACTION_TYPES).optional(),
    subType: z.string().optional(),
  })
  .openapi("ScopeOut");

/** Scope filters of the list routes (snake_case, as Tracer). */
export const ScopeFilterQuery = {
  account_id: uuid.optional(),
  segment_id: uuid.optional(),
  portfolio_id: uuid.optional(),
  merchant_id: uuid.optional(),
  transaction_type: z.enum(TRANSACTION_TYPES).optional(),
  sub_type: z
    .string()
    .trim()
    .min(1)
    .max(50)
    .transform((v) => v.toLowerCase())
    .optional(),
};

export type ScopeFilter = Partial<Scope>;

export function scopeFilterFrom(q: {
  account_id?: string | undefined;
  segment_id?: string | undefined;
  portfolio_id?: string | undefined;
  merchant_id?: string | undefined;
  transaction_type?: Scope["transactionType"] | undefined;
  sub_type?: string | undefined;
}): ScopeFilter {
  const f: ScopeFilter = {};
  if (q.account_id) f.accountId = q.account_id;
  if (q.segment_id) f.segmentId = q.segment_id;
  if (q.portfolio_id) f.portfolioId = q.portfolio_id;
  if (q.merchant_id) f.merchantId = q.merchant_id;
  if (q.transaction_type) f.transactionType = q.transaction_type;
  if (q.sub_type) f.subType = q.sub_type;
  return f;
}
