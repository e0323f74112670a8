import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { Database } from "../db/database.js";
import * as schema from "../db/schema.js";
import type { TenantPool } from "./pool-registry.js";
import type { TenantConfig } from "./tenant-config.js";

/** Idle connections of a tenant pool close after this long (postgres.js default: never). */
export const CONNECTION_IDLE_TIMEOUT_SEC = 30;

/** `application_name` of every tenant connection: `verdict/<tenantId>` (63 bytes max in PostgreSQL). */
export function tenantApplicationName(tenantId: string): string {
  return `verdict/${tenantId}`.slice(0, 63);
}

/** postgres.js options for a tenant's configuration (shared by pools and provisioning). */
export function tenantConnectionOptions(
  config: TenantConfig,
  overrides: { max?: number; database?: string; searchPath?: string | null } = {},
): postgres.Options<Record<string, never>> {
  const c = config.db;
  const searchPath = overrides.searchPath === undefined ? c.schema : (overrides.searchPath ?? undefined);
  return {
    host: c.host,
    port: c.port,
    database: overrides.database ?? c.database,
    username: c.username,
    password: c.password,
    ssl: c.ssl,
    max: overrides.max ?? c.maxConnections,
    idle_timeout: CONNECTION_IDLE_TIMEOUT_SEC,
    connect_timeout: 10,
    onnotice: () => {},
    connection: {
      application_name: tenantApplicationName(config.tenantId),
      // Schema mode: a startup parameter, so every connection of this pool, from its first byte,
      // resolves unqualified names in the tenant's schema only. Never a session SET on a shared
      // pool (the next borrower would inherit it). The name is validated (tenant-config.ts).
      ...(searchPath ? { search_path: searchPath } : {}),
    },
  };
}

/** A postgres.js pool and its drizzle instance for one tenant (database or schema mode). */
export function createTenantPool(config: TenantConfig): TenantPool {
  const client = postgres(tenantConnectionOptions(config));
  const db = drizzle({ client, schema }) as unknown as Database;
  return {
    db,
    ping: async () => {
      await client`select 1`;
    },
    end: (timeoutSec) => client.end({ timeout: timeoutSec }),
  };
}
