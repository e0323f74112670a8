import { bigint, index, jsonb, pgTable, primaryKey, text, uuid } from "drizzle-orm/pg-core";
import { msTimestamp } from "../db/columns.js";

/**
 * Append-only: a trigger (migration 0001) rejects UPDATE, DELETE and TRUNCATE, so no code path,
 * buggy or not, can rewrite history. No foreign keys: events outlive what they describe.
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    tenantId: text("tenant_id").notNull(),
    sequence: bigint("sequence", { mode: "number" }).notNull(),
    eventId: uuid("event_id").notNull().unique(),
    eventType: text("event_type").notNull(),
    action: text("action").notNull(),
    result: text("result").notNull(),
    resourceType: text("resource_type").notNull(),
    resourceId: text("resource_id").notNull(),
    actorId: text("actor_id").notNull(),
    actor: jsonb("actor").notNull(),
    context: jsonb("context").notNull(),
    metadata: jsonb("metadata").notNull(),
    createdAt: msTimestamp("created_at").notNull(),
    previousHash: text("previous_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.sequence] }),
    index("audit_events_type_idx").on(t.tenantId, t.eventType, t.sequence),
    index("audit_events_resource_idx").on(t.tenantId, t.resourceId, t.sequence),
    index("audit_events_actor_idx").on(t.tenantId, t.actorId, t.sequence),
    index("audit_events_created_idx").on(t.tenantId, t.createdAt),
  ],
);

/** One row per tenant: locking it serialises that tenant's appends without a database-wide lock. */
export const auditChainHeads = pgTable("audit_chain_heads", {
  tenantId: text("tenant_id").primaryKey(),
  sequence: bigint("sequence", { mode: "number" }).notNull(),
  hash: text("hash").notNull(),
});
