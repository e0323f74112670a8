import { and, eq, ilike, ne, type SQL, sql } from "drizzle-orm";
import { keysetPage, planKeyset } from "../catalog/keyset.js";
import type { Status } from "../catalog/lifecycle.js";
import type { ScopeFilter } from "../catalog/scope.schemas.js";
import { scopeFilterSql } from "../catalog/scope-filter.js";
import type { DbOrTx } from "../db/database.js";
import { compareAmounts, formatAmount } from "../money/money.js";
import { escapeLike } from "../rules/rules.store.js";
import type { Scope } from "../scope/scope.js";
import type { Limit } from "./limit.js";
import { limitCounters, limits } from "./limits.table.js";
import { type LimitType, periodFor } from "./period.js";

type Row = typeof limits.$inferSelect;
export type LimitInsert = typeof limits.$inferInsert;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** resetAt is computed from the clock at read time, so it is never a stale stored value. */
export function rowToLimit(row: Row, now = new Date()): Limit {
  const limitType = row.limitType as LimitType;
  const period = periodFor(
    {
      limitType,
      timezone: row.timezone,
      customStartDate: row.customStartDate,
      customEndDate: row.customEndDate,
    },
    now,
  );
  return {
    limitId: row.limitId,
    name: row.name,
    description: row.description,
    limitType,
    maxAmount: formatAmount(row.maxAmount, row.currency),
    currency: row.currency,
    scopes: row.scopes as Scope[],
    timezone: row.timezone,
    activeTimeStart: row.activeTimeStart,
    activeTimeEnd: row.activeTimeEnd,
    customStartDate: iso(row.customStartDate),
    customEndDate: iso(row.customEndDate),
    status: row.status as Status,
    resetAt: period ? period.resetAt.toISOString() : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    activatedAt: iso(row.activatedAt),
    deactivatedAt: iso(row.deactivatedAt),
    deletedAt: iso(row.deletedAt),
  };
}

export async function findLimit(
  db: DbOrTx,
  tenantId: string,
  limitId: string,
  forUpdate = false,
): Promise<Limit | undefined> {
  const query = db
    .select()
    .from(limits)
    .where(and(eq(limits.tenantId, tenantId), eq(limits.limitId, limitId), ne(limits.status, "DELETED")));
  const [row] = forUpdate ? await query.for("update") : await query;
  return row ? rowToLimit(row) : undefined;
}

export async function insertLimit(db: DbOrTx, row: LimitInsert): Promise<Limit> {
  const [inserted] = await db.insert(limits).values(row).returning();
  return rowToLimit(inserted!);
}

export async function updateLimit(
  db: DbOrTx,
  tenantId: string,
  limitId: string,
  set: Partial<LimitInsert>,
): Promise<Limit> {
  const [row] = await db
    .update(limits)
    .set(set)
    .where(and(eq(limits.tenantId, tenantId), eq(limits.limitId, limitId)))
    .returning();
  return rowToLimit(row!);
}

export interface LimitListFilter {
  status?: Status;
  limitType?: LimitType;
  name?: string;
  scope: ScopeFilter;
}

const SORTABLE = {
  created_at: { column: limits.createdAt, kind: "date" },
  updated_at: { column: limits.updatedAt, kind: "date" },
  name: { column: limits.name, kind: "text" },
} as const;

export async function listLimits(
  db: DbOrTx,
  tenantId: string,
  filter: LimitListFilter,
  page: { limit: number; sortBy: keyof typeof SORTABLE; order: "asc" | "desc"; cursor: string | undefined },
): Promise<{ limits: Limit[]; hasMore: boolean; nextCursor: string | null }> {
  const plan = planKeyset({ columns: SORTABLE, idColumn: limits.limitId, ...page });
  const where: (SQL | undefined)[] = [
    eq(limits.tenantId, tenantId),
    ne(limits.status, "DELETED"),
    plan.where,
  ];
  if (filter.status) where.push(eq(limits.status, filter.status));
  if (filter.limitType) where.push(eq(limits.limitType, filter.limitType));
  if (filter.name) where.push(ilike(limits.name, `%${escapeLike(filter.name)}%`));
  where.push(scopeFilterSql(limits.scopes, filter.scope));
  const rows = await db
    .select()
    .from(limits)
    .where(and(...where))
    .orderBy(...plan.orderBy)
    .limit(page.limit + 1);
  const now = new Date();
  const result = keysetPage(
    plan,
    rows.map((r) => rowToLimit(r, now)),
    page.limit,
    (x) => x.limitId,
  );
  return { limits: result.items, hasMore: result.hasMore, nextCursor: result.nextCursor };
}

/** Every ACTIVE limit of the tenant in (createdAt, limitId) order, for the evaluation catalog. */
export async function loadActiveLimits(db: DbOrTx, tenantId: string): Promise<Limit[]> {
  const rows = await db
    .select()
    .from(limits)
    .where(and(eq(limits.tenantId, tenantId), eq(limits.status, "ACTIVE")))
    .orderBy(limits.createdAt, limits.limitId);
  const now = new Date();
  return rows.map((r) => rowToLimit(r, now));
}

/** Usage per scope key in one period. */
export async function usageByScope(
  db: DbOrTx,
  tenantId: string,
  limitId: string,
  periodKey: string,
): Promise<{ scopeKey: string; usage: string }[]> {
  return db
    .select({ scopeKey: limitCounters.scopeKey, usage: limitCounters.usage })
    .from(limitCounters)
    .where(
      and(
        eq(limitCounters.tenantId, tenantId),
        eq(limitCounters.limitId, limitId),
        eq(limitCounters.periodKey, periodKey),
        // The validation path pre-creates counters at zero to lock them; they carry no usage.
        sql`${limitCounters.usage} <> 0`,
      ),
    )
    .orderBy(limitCounters.scopeKey);
}

export interface CounterDelta {
  limitId: string;
  scopeKey: string;
  periodKey: string;
  amount: string;
  maxAmount: string;
  periodStart: Date;
  resetAt: Date;
}

/**
 * Atomic check-and-add: one statement adds `amount` only while `usage + amount <= maxAmount`,
 * under the row lock of the upsert, so concurrent consumers on any number of instances can never
 * take a counter past its maximum. Returns the new usage, or null when it would have exceeded.
 */
export async function checkAndAdd(db: DbOrTx, tenantId: string, d: CounterDelta): Promise<string | null> {
  // A fresh row skips the upsert's WHERE, so an amount that alone exceeds the maximum stops here.
  if (compareAmounts(d.amount, d.maxAmount) > 0) return null;
  const now = new Date();
  const [row] = await db
    .insert(limitCounters)
    .values({
      tenantId,
      limitId: d.limitId,
      scopeKey: d.scopeKey,
      periodKey: d.periodKey,
      usage: d.amount,
      periodStart: d.periodStart,
      resetAt: d.resetAt,
      updatedAt: now,
    })
    .onConflictDoUpdate({
      target: [
        limitCounters.tenantId,
        limitCounters.limitId,
        limitCounters.scopeKey,
        limitCounters.periodKey,
      ],
      set: { usage: sql`${limitCounters.usage} + excluded.usage`, updatedAt: now },
      setWhere: sql`${limitCounters.usage} + excluded.usage <= ${d.maxAmount}::numeric`,
    })
    .returning({ usage: limitCounters.usage });
  return row?.usage ?? null;
}
