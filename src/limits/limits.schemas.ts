import { z } from "@hono/zod-openapi";
import { STATUSES } from "../catalog/lifecycle.js";
import { ScopeFilterQuery, ScopeOutSchema, ScopeSchema } from "../catalog/scope.schemas.js";
import { limitQuery, sortOrderQuery } from "../http/query.js";
import { isCurrency } from "../money/currency.js";
import { parseAmount } from "../money/money.js";
import { MAX_CUSTOM_SPAN_MS } from "./limit.js";
import { canonicalTimeZone, LIMIT_TYPES } from "./period.js";
import { parseHHmm } from "./time-window.js";

const name = z
  .string()
  .trim()
  .min(1, { message: "must not be empty" })
  .max(255)
  .regex(/^[a-zA-Z0-9 \-_.()]+$/, { message: "may contain only letters, digits, spaces and - _ . ( )" });
const description = z
  .string()
  .max(1000)
  .refine((v) => !/[<>]/.test(v), { message: "must not contain < or >" });
export const MoneyInput = z
  .union([z.string(), z.number()], { message: "must be a decimal string or a number" })
  .openapi({
    type: "string",
    example: "1000.00",
    description: "Decimal string (or JSON number), > 0, at most the currency's decimals",
  });
const currency = z
  .string()
  .transform((v) => v.trim().toUpperCase())
  .refine(isCurrency, { message: "must be an ISO 4217 currency code" });
const hhmm = z.string().refine((v) => parseHHmm(v) !== null, { message: "must be HH:mm (00:00–23:59)" });
const timezone = z.string().transform((v, ctx) => {
  const tz = canonicalTimeZone(v);
  if (!tz) {
    ctx.addIssue({ code: "custom", message: "must be an IANA time zone, e.g. America/Sao_Paulo" });
    return z.NEVER;
  }
  return tz;
});
const instant = z.iso.datetime({ offset: true, message: "must be an RFC 3339 date-time with a time zone" });
const scopes = z
  .array(ScopeSchema)
  .min(1, { message: "at least one scope is required" })
  .max(100, { message: "at most 100 scopes" });

interface WindowFields {
  activeTimeStart?: string | null | undefined;
  activeTimeEnd?: string | null | undefined;
}
interface CustomFields {
  customStartDate?: string | null | undefined;
  customEndDate?: string | null | undefined;
}

/** Both-or-neither, not equal. */
export function checkWindow(v: WindowFields, ctx: z.RefinementCtx): void {
  const hasStart = v.activeTimeStart != null;
  const hasEnd = v.activeTimeEnd != null;
  if (hasStart !== hasEnd) {
    ctx.addIssue({
      code: "custom",
      path: [hasStart ? "activeTimeEnd" : "activeTimeStart"],
      message: "activeTimeStart and activeTimeEnd must be given together",
    });
  } else if (hasStart && v.activeTimeStart === v.activeTimeEnd) {
    ctx.addIssue({
      code: "custom",
      path: ["activeTimeEnd"],
      message: "the time window must not be empty (start equals end)",
    });
  }
}

/** Both required for CUSTOM and forbidden otherwise; start < end; ≤ 5 years; end not in the past. */
export function checkCustomRange(
  limitType: string,
  v: CustomFields,
  ctx: z.RefinementCtx,
  now = new Date(),
): void {
  const hasStart = v.customStartDate != null;
  const hasEnd = v.customEndDate != null;
  if (limitType !== "CUSTOM") {
    if (hasStart)
      ctx.addIssue({ code: "custom", path: ["customStartDate"], message: "only allowed for CUSTOM limits" });
    if (hasEnd)
      ctx.addIssue({ code: "custom", path: ["customEndDate"], message: "only allowed for CUSTOM limits" });
    return;
  }
  if (!hasStart)
    ctx.addIssue({ code: "custom", path: ["customStartDate"], message: "required for CUSTOM limits" });
  if (!hasEnd)
    ctx.addIssue({ code: "custom", path: ["customEndDate"], message: "required for CUSTOM limits" });
  if (!hasStart || !hasEnd) return;
  const start = new Date(v.customStartDate as string).getTime();
  const end = new Date(v.customEndDate as string).getTime();
  if (start >= end)
    ctx.addIssue({ code: "custom", path: ["customEndDate"], message: "must be after customStartDate" });
  else if (end - start > MAX_CUSTOM_SPAN_MS) {
    ctx.addIssue({ code: "custom", path: ["customEndDate"], message: "the range may span at most 5 years" });
  }
  if (end <= now.getTime())
    ctx.addIssue({ code: "custom", path: ["customEndDate"], message: "must be in the future" });
}

export const CreateLimitBody = z
  .strictObject({
    name,
    description: description.optional(),
    limitType: z.enum(LIMIT_TYPES),
    maxAmount: MoneyInput,
    currency,
    scopes,
    timezone: timezone.optional(),
    activeTimeStart: hhmm.optional(),
    activeTimeEnd: hhmm.optional(),
    customStartDate: instant.optional(),
    customEndDate: instant.optional(),
  })
  .superRefine((v, ctx) => {
    checkWindow(v, ctx);
    checkCustomRange(v.limitType, v, ctx);
    if (isCurrency(v.currency)) {
      const parsed = parseAmount(v.maxAmount, v.currency);
      if (!parsed.ok) ctx.addIssue({ code: "custom", path: ["maxAmount"], message: parsed.message });
    }
  })
  .openapi("CreateLimit");

export const UpdateLimitBody = z
  .strictObject({
    name: name.optional(),
    description: description.nullable().optional(),
    maxAmount: MoneyInput.optional(),
    scopes: scopes.optional(),
    timezone: timezone.optional(),
    activeTimeStart: hhmm.nullable().optional(),
    activeTimeEnd: hhmm.nullable().optional(),
    customStartDate: instant.optional(),
    customEndDate: instant.optional(),
    // Accepted by the schema only so that changing them is a clear IMMUTABLE_FIELD error.
    limitType: z.unknown().optional().openapi({ description: "Immutable: any value is rejected" }),
    currency: z.unknown().optional().openapi({ description: "Immutable: any value is rejected" }),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: "at least one field is required" })
  .superRefine((v, ctx) => {
    if (v.activeTimeStart !== undefined || v.activeTimeEnd !== undefined) checkWindow(v, ctx);
    if ((v.customStartDate === undefined) !== (v.customEndDate === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["customEndDate"],
        message: "customStartDate and customEndDate change together",
      });
    }
  })
  .openapi("UpdateLimit");

export const LimitSchema = z
  .object({
    limitId: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    limitType: z.enum(LIMIT_TYPES),
    maxAmount: z.string(),
    currency: z.string(),
    scopes: z.array(ScopeOutSchema),
    timezone: z.string(),
    activeTimeStart: z.string().nullable(),
    activeTimeEnd: z.string().nullable(),
    customStartDate: z.string().nullable(),
    customEndDate: z.string().nullable(),
    status: z.enum(STATUSES),
    resetAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    activatedAt: z.string().nullable(),
    deactivatedAt: z.string().nullable(),
    deletedAt: z.string().nullable(),
  })
  .openapi("Limit");

export const ListLimitsQuery = z.strictObject({
  status: z.enum(["DRAFT", "ACTIVE", "INACTIVE"]).optional(),
  limit_type: z.enum(LIMIT_TYPES).optional(),
  name: z.string().max(255).optional(),
  ...ScopeFilterQuery,
  sort_by: z.enum(["created_at", "updated_at", "name"]).optional(),
  sort_order: sortOrderQuery,
  limit: limitQuery(100, 10),
  cursor: z.string().max(1024).optional(),
});

export const LimitListSchema = z.object({
  limits: z.array(LimitSchema),
  hasMore: z.boolean(),
  nextCursor: z.string().nullable(),
});

export const LimitUsageSchema = z
  .object({
    limitId: z.string(),
    limitAmount: z.string(),
    currentUsage: z.string(),
    utilizationPercent: z.number(),
    nearLimit: z.boolean(),
    resetAt: z.string().nullable(),
    periodKey: z.string().nullable(),
    scopes: z.array(z.object({ scopeKey: z.string(), currentUsage: z.string() })),
  })
  .openapi("LimitUsage");
