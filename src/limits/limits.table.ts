import { sql } from "drizzle-orm";
import { index, jsonb, numeric, pgTable, primaryKey, text, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { msTimestamp } from "../db/columns.js";

export const limits = pgTable(
  "limits",
  {
    limitId: uuid("limit_id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    name: text("name").notNull(),
    description: text("description"),
    limitType: text("limit_type").notNull(),
    /** numeric, never float: read and written as a decimal string. */
    maxAmount: numeric("max_amount").notNull(),
    currency: text("currency").notNull(),
    scopes: jsonb("scopes").notNull(),
    timezone: text("timezone").notNull(),
    activeTimeStart: text("active_time_start"),
    activeTimeEnd: text("active_time_end"),
    customStartDate: msTimestamp("custom_start_date"),
    customEndDate: msTimestamp("custom_end_date"),
    status: text("status").notNull(),
    createdAt: msTimestamp("created_at").notNull(),
    updatedAt: msTimestamp("updated_at").notNull(),
    activatedAt: msTimestamp("activated_at"),
    deactivatedAt: msTimestamp("deactivated_at"),
    deletedAt: msTimestamp("deleted_at"),
  },
  (t) => [
    uniqueIndex("limits_name_live_uq").on(t.tenantId, t.name).where(sql`${t.status} <> 'DELETED'`),
    index("limits_status_idx").on(t.tenantId, t.status),
    index("limits_created_idx").on(t.tenantId, t.createdAt, t.limitId),
  ],
);

/** Usage per (limit, scope key, period). Only ALLOW decisions ever add to it. */
export const limitCounters = pgTable(
  "limit_counters",
  {
    tenantId: text("tenant_id").notNull(),
    limitId: uuid("limit_id").notNull(),
    scopeKey: text("scope_key").notNull(),
    periodKey: text("period_key").notNull(),
    usage: numeric("usage").notNull(),
    periodStart: msTimestamp("period_start").notNull(),
    resetAt: msTimestamp("reset_at").notNull(),
    updatedAt: msTimestamp("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.limitId, t.scopeKey, t.periodKey] }),
    index("limit_counters_period_idx").on(t.tenantId, t.limitId, t.periodKey),
  ],
);
