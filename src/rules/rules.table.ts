import { sql } from "drizzle-orm";
import { index, jsonb, pgTable, text, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { msTimestamp } from "../db/columns.js";

export const rules = pgTable(
  "rules",
  {
    ruleId: uuid("rule_id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    name: text("name").notNull(),
    description: text("description"),
    expression: jsonb("expression").notNull(),
    action: text("action").notNull(),
    scopes: jsonb("scopes").notNull(),
    status: text("status").notNull(),
    createdAt: msTimestamp("created_at").notNull(),
    updatedAt: msTimestamp("updated_at").notNull(),
    activatedAt: msTimestamp("activated_at"),
    deactivatedAt: msTimestamp("deactivated_at"),
    deletedAt: msTimestamp("deleted_at"),
  },
  (t) => [
    uniqueIndex("rules_name_live_uq").on(t.tenantId, t.name).where(sql`${t.status} <> 'DELETED'`),
    index("rules_status_idx").on(t.tenantId, t.status),
    index("rules_created_idx").on(t.tenantId, t.createdAt, t.ruleId),
  ],
);
