import type { ExtractTablesWithRelations, SQL } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import type * as schema from "./schema.js";

type Schema = typeof schema;

/** A tenant's database handle: the same type whether PGlite or postgres.js is underneath. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction on a tenant's database; stores accept either so callers can thread one transaction. */
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
export type DbOrTx = Database | Tx;

/**
 * Runs raw SQL and returns its rows. PGlite answers `{ rows }` and postgres.js an array, so the
 * difference is absorbed here once.
 */
export async function queryRows<T>(db: DbOrTx, query: SQL): Promise<T[]> {
  const result: unknown = await db.execute(query);
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: unknown[] }).rows ?? []) as T[];
}
