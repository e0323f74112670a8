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

/** The drivers' own query calls, as far as `queryPrepared` needs them. */
interface PostgresJsClient {
  unsafe(text: string, params: unknown[], options: { prepare: boolean }): Promise<unknown[]>;
}
interface PgliteClient {
  query(text: string, params: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * Runs one fixed statement as a named prepared statement (postgres.js caches it per connection)
 * and returns its rows. drizzle sends every statement unnamed, and postgres.js then describes an
 * unnamed statement with parameters in a round trip of its own before executing it: two round
 * trips per statement. Meant for hot statements whose text never varies (one cached statement
 * per connection each), on a database handle, not a transaction. Parameters go to the driver as
 * they are: a JSON parameter is passed as a string, which the postgres.js client drizzle built
 * sends unchanged (drizzle makes its json/jsonb serializers pass strings through).
 */
export async function queryPrepared<T>(db: Database, text: string, params: unknown[]): Promise<T[]> {
  const client = (db as unknown as { $client: unknown }).$client;
  if (typeof (client as Partial<PostgresJsClient>).unsafe === "function") {
    return (await (client as PostgresJsClient).unsafe(text, params, { prepare: true })) as T[];
  }
  return (await (client as PgliteClient).query(text, params)).rows as T[];
}
