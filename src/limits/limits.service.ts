import { uuidv7 } from "uuidv7";
import { type CatalogChangeListener, recordCatalogChange } from "../catalog/catalog-change.js";
import type { Transition } from "../catalog/lifecycle.js";
import { runTransition } from "../catalog/transition.js";
import { isUniqueViolation } from "../db/errors.js";
import { AppError, type FieldError } from "../errors.js";
import { addAmounts, formatAmount, parseAmount, toMinorUnits, utilizationPercent } from "../money/money.js";
import type { Scope } from "../scope/scope.js";
import type { TenantContext } from "../tenancy/tenant-context.js";
import { type Limit, MAX_CUSTOM_SPAN_MS } from "./limit.js";
import { findLimit, insertLimit, updateLimit, usageByScope } from "./limits.store.js";
import { type LimitType, periodFor } from "./period.js";

export interface CreateLimitInput {
  name: string;
  description?: string | undefined;
  limitType: LimitType;
  maxAmount: string | number;
  currency: string;
  scopes: Scope[];
  timezone?: string | undefined;
  activeTimeStart?: string | undefined;
  activeTimeEnd?: string | undefined;
  customStartDate?: string | undefined;
  customEndDate?: string | undefined;
}

export interface UpdateLimitInput {
  name?: string | undefined;
  description?: string | null | undefined;
  maxAmount?: string | number | undefined;
  scopes?: Scope[] | undefined;
  timezone?: string | undefined;
  activeTimeStart?: string | null | undefined;
  activeTimeEnd?: string | null | undefined;
  customStartDate?: string | undefined;
  customEndDate?: string | undefined;
  limitType?: unknown;
  currency?: unknown;
}

export interface LimitUsage {
  limitId: string;
  limitAmount: string;
  currentUsage: string;
  utilizationPercent: number;
  nearLimit: boolean;
  resetAt: string | null;
  periodKey: string | null;
  scopes: { scopeKey: string; currentUsage: string }[];
}

const notFound = () => new AppError("LIMIT_NOT_FOUND", "No limit with that id");
const nameConflict = (name: string) =>
  new AppError("LIMIT_NAME_CONFLICT", `A limit named "${name}" already exists`);
const invalid = (errors: FieldError[]) =>
  new AppError("VALIDATION_ERROR", errors[0]?.message ?? "invalid limit", { errors });

function money(input: string | number, currency: string, path: string): string {
  const parsed = parseAmount(input, currency);
  if (!parsed.ok) throw invalid([{ path, message: parsed.message }]);
  return parsed.value;
}

/** Limit commands: each runs in one transaction with its audit event and catalog version bump. */
export function createLimitsService(onChange: CatalogChangeListener) {
  return {
    async create(tenant: TenantContext, input: CreateLimitInput): Promise<Limit> {
      const maxAmount = money(input.maxAmount, input.currency, "maxAmount");
      const now = new Date();
      try {
        return await tenant.db.transaction(async (tx) => {
          const created = await insertLimit(tx, {
            limitId: uuidv7(),
            tenantId: tenant.tenantId,
            name: input.name,
            description: input.description ?? null,
            limitType: input.limitType,
            maxAmount,
            currency: input.currency,
            scopes: input.scopes,
            timezone: input.timezone ?? "UTC",
            activeTimeStart: input.activeTimeStart ?? null,
            activeTimeEnd: input.activeTimeEnd ?? null,
            customStartDate: input.customStartDate ? new Date(input.customStartDate) : null,
            customEndDate: input.customEndDate ? new Date(input.customEndDate) : null,
            status: "DRAFT",
            createdAt: now,
            updatedAt: now,
          });
          await recordCatalogChange(tx, tenant, {
            resourceType: "limit",
            resourceId: created.limitId,
            eventType: "LIMIT_CREATED",
            action: "CREATE",
            after: created,
          });
          return created;
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw nameConflict(input.name);
        throw err;
      }
    },

    async update(tenant: TenantContext, limitId: string, input: UpdateLimitInput): Promise<Limit> {
      const immutable: FieldError[] = [];
      if (input.limitType !== undefined)
        immutable.push({ path: "limitType", message: "limitType cannot be changed" });
      if (input.currency !== undefined)
        immutable.push({ path: "currency", message: "currency cannot be changed" });
      if (immutable.length > 0) {
        throw new AppError("IMMUTABLE_FIELD", "limitType and currency are immutable", { errors: immutable });
      }
      try {
        const result = await tenant.db.transaction(async (tx) => {
          const before = await findLimit(tx, tenant.tenantId, limitId, true);
          if (!before) throw notFound();
          const set: Record<string, unknown> = { updatedAt: new Date() };
          if (input.name !== undefined) set.name = input.name;
          if (input.description !== undefined) set.description = input.description;
          if (input.maxAmount !== undefined)
            set.maxAmount = money(input.maxAmount, before.currency, "maxAmount");
          if (input.scopes !== undefined) set.scopes = input.scopes;
          if (input.timezone !== undefined) set.timezone = input.timezone;
          if (input.activeTimeStart !== undefined) {
            set.activeTimeStart = input.activeTimeStart;
            set.activeTimeEnd = input.activeTimeEnd ?? null;
          }
          if (input.customStartDate !== undefined && input.customEndDate !== undefined) {
            if (before.limitType !== "CUSTOM") {
              throw invalid([{ path: "customStartDate", message: "only allowed for CUSTOM limits" }]);
            }
            const start = new Date(input.customStartDate);
            const end = new Date(input.customEndDate);
            if (start >= end)
              throw invalid([{ path: "customEndDate", message: "must be after customStartDate" }]);
            if (end.getTime() - start.getTime() > MAX_CUSTOM_SPAN_MS) {
              throw invalid([{ path: "customEndDate", message: "the range may span at most 5 years" }]);
            }
            // Same rule as on create: a range that has already ended could never apply again.
            if (end.getTime() <= Date.now())
              throw invalid([{ path: "customEndDate", message: "must be in the future" }]);
            set.customStartDate = start;
            set.customEndDate = end;
          }
          const after = await updateLimit(tx, tenant.tenantId, limitId, set);
          await recordCatalogChange(tx, tenant, {
            resourceType: "limit",
            resourceId: limitId,
            eventType: "LIMIT_UPDATED",
            action: "UPDATE",
            before,
            after,
          });
          return after;
        });
        if (result.status === "ACTIVE") onChange(tenant.tenantId);
        return result;
      } catch (err) {
        if (isUniqueViolation(err)) throw nameConflict(input.name ?? "");
        throw err;
      }
    },

    async transition(tenant: TenantContext, limitId: string, transition: Transition): Promise<Limit> {
      const { item, changed } = await runTransition(tenant, limitId, transition, {
        resourceType: "limit",
        find: findLimit,
        update: updateLimit,
        notFound,
      });
      if (changed) onChange(tenant.tenantId);
      return item;
    },

    /** Usage of the current period only, per scope key and in total. */
    async usage(tenant: TenantContext, limitId: string, now = new Date()): Promise<LimitUsage> {
      const limit = await findLimit(tenant.db, tenant.tenantId, limitId);
      if (!limit) throw notFound();
      const zero = formatAmount("0", limit.currency);
      const period = periodFor(limit, now);
      if (!period) {
        return {
          limitId,
          limitAmount: limit.maxAmount,
          currentUsage: zero,
          utilizationPercent: 0,
          nearLimit: false,
          resetAt: null,
          periodKey: null,
          scopes: [],
        };
      }
      const rows = await usageByScope(tenant.db, tenant.tenantId, limitId, period.periodKey);
      const total = rows.reduce((sum, r) => addAmounts(sum, r.usage), "0");
      const percent = utilizationPercent(total, limit.maxAmount);
      return {
        limitId,
        limitAmount: limit.maxAmount,
        currentUsage: formatAmount(total, limit.currency),
        utilizationPercent: percent,
        // Exact: usage / max > 80 % iff 5 × usage > 4 × max. The percentage above is rounded for
        // display, so 800000.01 of 1000000.00 shows 80 yet is strictly above 80 %.
        nearLimit:
          toMinorUnits(total, limit.currency) * 5n > toMinorUnits(limit.maxAmount, limit.currency) * 4n,
        resetAt: period.resetAt.toISOString(),
        periodKey: period.periodKey,
        scopes: rows.map((r) => ({
          scopeKey: r.scopeKey,
          currentUsage: formatAmount(r.usage, limit.currency),
        })),
      };
    },
  };
}

export type LimitsService = ReturnType<typeof createLimitsService>;
