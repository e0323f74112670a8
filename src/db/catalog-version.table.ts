import { bigint, pgTable, text } from "drizzle-orm/pg-core";

/**
 * Bumped in the same transaction as any rule or limit change, so every instance can tell with one
 * indexed read whether its cached catalog is stale.
 */
export const catalogVersions = pgTable("catalog_versions", {
  tenantId: text("tenant_id").primaryKey(),
  version: bigint("version", { mode: "number" }).notNull(),
});
