import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { DatabaseConfig } from "../config.js";
import type { Database } from "./database.js";
import { migratePgliteDatabase, migratePostgresDatabase } from "./migrate.js";
import { acquireDataDirLock } from "./pglite-lock.js";
import * as schema from "./schema.js";

export interface DatabaseHandle {
  kind: "postgres" | "pglite";
  db: Database;
  /** Cheap liveness probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Apply migrations before returning (boot and tests do; tools may not). */
  migrate?: boolean;
  /** postgres.js pool size. */
  maxConnections?: number;
}

/** Opens PostgreSQL (postgres.js) or embedded PGlite, migrated and ready. */
export async function connectDatabase(
  config: DatabaseConfig,
  opts: ConnectOptions = {},
): Promise<DatabaseHandle> {
  const migrate = opts.migrate ?? true;
  if (config.kind === "postgres") {
    const client = postgres(config.url, {
      max: opts.maxConnections ?? 10,
      idle_timeout: 60,
      connect_timeout: 10,
      onnotice: () => {},
      // Numeric/bigint arrive as strings from postgres.js; drizzle maps columns by mode.
    });
    const db = drizzlePostgres({ client, schema });
    try {
      if (migrate) {
        const migrator = postgres(config.url, { max: 1, connect_timeout: 10, onnotice: () => {} });
        try {
          await migratePostgresDatabase(migrator);
        } finally {
          await migrator.end({ timeout: 5 });
        }
      }
    } catch (err) {
      await client.end({ timeout: 1 });
      throw err;
    }
    return {
      kind: "postgres",
      db: db as unknown as Database,
      ping: async () => {
        await client`select 1`;
      },
      close: async () => {
        await client.end({ timeout: 5 });
      },
    };
  }

  const inMemory = config.dataDir === "memory://" || config.dataDir.startsWith("memory://");
  const release = inMemory ? () => {} : acquireDataDirLock(config.dataDir);
  let client: PGlite;
  try {
    client = inMemory ? new PGlite() : new PGlite(config.dataDir);
    await client.waitReady;
  } catch (err) {
    release();
    throw err;
  }
  const db = drizzlePglite({ client, schema });
  if (migrate) await migratePgliteDatabase(db);
  return {
    kind: "pglite",
    db: db as unknown as Database,
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: async () => {
      try {
        await client.close();
      } finally {
        release();
      }
    },
  };
}
