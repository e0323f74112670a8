import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import type { Sql } from "postgres";
import type * as schema from "./schema.js";

/** src/db and dist/db are both two levels below the package root, where drizzle/ lives. */
export const MIGRATIONS_FOLDER = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "drizzle");

/** Any stable 64-bit number: every instance must use the same one. */
const MIGRATION_LOCK_KEY = 4_020_202_611n;

/** PGlite has a single connection and a data-dir lock, so no advisory lock is needed. */
export async function migratePgliteDatabase(db: PgliteDatabase<typeof schema>): Promise<void> {
  await migratePglite(db, { migrationsFolder: MIGRATIONS_FOLDER });
}

/**
 * Applies pending migrations under a session advisory lock, so two instances booting at once run
 * them one after the other and the second finds nothing to do. `client` must be a dedicated
 * single-connection client (`max: 1`): the session lock, the migration transaction and the unlock
 * then all run on the same connection, whatever the size of the application's pool.
 */
export async function migratePostgresDatabase(
  client: Sql,
  opts: { migrationsSchema?: string; lockKey?: bigint } = {},
): Promise<void> {
  const key = (opts.lockKey ?? MIGRATION_LOCK_KEY).toString();
  await client`select pg_advisory_lock(${key}::bigint)`;
  try {
    await migratePostgres(drizzlePostgres({ client }), {
      migrationsFolder: MIGRATIONS_FOLDER,
      ...(opts.migrationsSchema ? { migrationsSchema: opts.migrationsSchema } : {}),
    });
  } finally {
    await client`select pg_advisory_unlock(${key}::bigint)`.catch(() => {});
  }
}
