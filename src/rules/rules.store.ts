import { and, eq, ilike, ne, type SQL } from "drizzle-orm";
import { keysetPage, planKeyset } from "../catalog/keyset.js";
import type { Status } from "../catalog/lifecycle.js";
import type { ScopeFilter } from "../catalog/scope.schemas.js";
import { scopeFilterSql } from "../catalog/scope-filter.js";
import type { DbOrTx } from "../db/database.js";
import type { Scope } from "../scope/scope.js";
import type { Rule, RuleAction } from "./rule.js";
import { rules } from "./rules.table.js";

type Row = typeof rules.$inferSelect;
export type RuleInsert = typeof rules.$inferInsert;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function rowToRule(row: Row): Rule {
  return {
    ruleId: row.ruleId,
    name: row.name,
    description: row.description,
    expression: row.expression as Record<string, unknown>,
    action: row.action as RuleAction,
    scopes: row.scopes as Scope[],
    status: row.status as Status,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    activatedAt: iso(row.activatedAt),
    deactivatedAt: iso(row.deactivatedAt),
    deletedAt: iso(row.deletedAt),
  };
}

/** A live (non-deleted) rule of the tenant; `forUpdate` locks it for a read-modify-write. */
export async function findRule(
  db: DbOrTx,
  tenantId: string,
  ruleId: string,
  forUpdate = false,
): Promise<Rule | undefined> {
  const query = db
    .select()
    .from(rules)
    .where(and(eq(rules.tenantId, tenantId), eq(rules.ruleId, ruleId), ne(rules.status, "DELETED")));
  const [row] = forUpdate ? await query.for("update") : await query;
  return row ? rowToRule(row) : undefined;
}

export async function insertRule(db: DbOrTx, row: RuleInsert): Promise<Rule> {
  const [inserted] = await db.insert(rules).values(row).returning();
  return rowToRule(inserted!);
}

export async function updateRule(
  db: DbOrTx,
  tenantId: string,
  ruleId: string,
  set: Partial<RuleInsert>,
): Promise<Rule> {
  const [row] = await db
    .update(rules)
    .set(set)
    .where(and(eq(rules.tenantId, tenantId), eq(rules.ruleId, ruleId)))
    .returning();
  return rowToRule(row!);
}

export interface RuleListFilter {
  status?: Status;
  action?: RuleAction;
  name?: string;
  scope: ScopeFilter;
}

const SORTABLE = {
  created_at: { column: rules.createdAt, kind: "date" },
  updated_at: { column: rules.updatedAt, kind: "date" },
  name: { column: rules.name, kind: "text" },
} as const;

export async function listRules(
  db: DbOrTx,
  tenantId: string,
  filter: RuleListFilter,
  page: { limit: number; sortBy: keyof typeof SORTABLE; order: "asc" | "desc"; cursor: string | undefined },
): Promise<{ rules: Rule[]; hasMore: boolean; nextCursor: string | null }> {
  const plan = planKeyset({ columns: SORTABLE, idColumn: rules.ruleId, ...page });
  const where: (SQL | undefined)[] = [eq(rules.tenantId, tenantId), ne(rules.status, "DELETED"), plan.where];
  if (filter.status) where.push(eq(rules.status, filter.status));
  if (filter.action) where.push(eq(rules.action, filter.action));
  if (filter.name) where.push(ilike(rules.name, `%${escapeLike(filter.name)}%`));
  where.push(scopeFilterSql(rules.scopes, filter.scope));
  const rows = await db
    .select()
    .from(rules)
    .where(and(...where))
    .orderBy(...plan.orderBy)
    .limit(page.limit + 1);
  const result = keysetPage(plan, rows.map(rowToRule), page.limit, (x) => x.ruleId);
  return { rules: result.items, hasMore: result.hasMore, nextCursor: result.nextCursor };
}

/** Every ACTIVE rule of the tenant, for the evaluation catalog. */
export async function loadActiveRules(db: DbOrTx, tenantId: string): Promise<Rule[]> {
  const rows = await db
    .select()
    .from(rules)
    .where(and(eq(rules.tenantId, tenantId), eq(rules.status, "ACTIVE")));
  return rows.map(rowToRule);
}

export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}
