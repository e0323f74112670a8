import { eq, sql } from "drizzle-orm";
import { catalogVersions } from "../db/catalog-version.table.js";
import type { DbOrTx } from "../db/database.js";

/** Called in the same transaction as every rule or limit change. */
export async function bumpCatalogVersion(tx: DbOrTx, tenantId: string): Promise<void> {
  await tx
    .insert(catalogVersions)
    .values({ tenantId, version: 1 })
    .onConflictDoUpdate({
      target: catalogVersions.tenantId,
      set: { version: sql`${catalogVersions.version} + 1` },
    });
}

export async function readCatalogVersion(db: DbOrTx, tenantId: string): Promise<number> {
  const [row] = await db
    .select({ version: catalogVersions.version })
    .from(catalogVersions)
    .where(eq(catalogVersions.tenantId, tenantId));
  return row?.version ?? 0;
}
