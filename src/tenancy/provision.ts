import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import type { Logger } from "pino";
import postgres from "postgres";
import { MIGRATIONS_FOLDER } from "../db/migrate.js";
import * as schema from "../db/schema.js";
import { describeTarget, type TenantConfig } from "./tenant-config.js";
import { tenantConnectionOptions } from "./tenant-pool.js";

/** What provisioning did, for the CLI and for tests of idempotency. */
export interface ProvisionResult {
  tenantId: string;
  /** Where the tenant lives, without credentials. */
  target: string;
  /** True when this call created the tenant's database (database mode) or schema (schema mode). */
  created: boolean;
  /** Migrations this call applied (0 when the tenant was already up to date). */
  migrationsApplied: number;
}

export interface Provisioner {
  /** Provisions once per process and target; concurrent callers share one run. */
  ensure(config: TenantConfig): Promise<void>;
  /** Provisions now (idempotent), even if this process did it before. */
  provision(config: TenantConfig): Promise<ProvisionResult>;
  /** Provisionings running right now (each holds one or two connections outside any pool). */
  readonly active: number;
}

export interface ProvisionerOptions {
  logger?: Logger;
  /** Provisionings running at once in this process, each holding one or two connections. */
  concurrency?: number;
}

const DUPLICATE_DATABASE = "42P04";
const INVALID_CATALOG_NAME = "3D000";
/** The maintenance database every PostgreSQL server has, used only to create a tenant database. */
const MAINTENANCE_DATABASE = "postgres";

const errCode = (err: unknown) => (err as { code?: unknown }).code;

/**
 * Creates and migrates tenant databases and schemas.
 *
 * Credentials: everything runs with the tenant's own credentials from its configuration, never the
 * admin DATABASE_URL. A tenant may live on another server than DATABASE_URL, and objects created
 * by the tenant role are owned by it (PostgreSQL 15 grants CREATE on `public` only to the database
 * owner). So, in database mode, the tenant role needs CREATEDB, or the operator creates the
 * database beforehand (when it exists, nothing but the tenant database is touched); in schema mode
 * it needs CREATE on the shared database, or the schema must exist.
 *
 * Races between instances: `CREATE DATABASE` cannot run in a transaction, so it runs under an
 * advisory lock in the maintenance database and `duplicate_database` counts as success; schema
 * creation and migrations run under a per-tenant advisory lock in the target database, with the
 * migration journal in the tenant's schema (schema mode) so tenants sharing a database never
 * see each other's journal (drizzle's shared journal would skip every tenant but the first).
 */
export function createProvisioner(opts: ProvisionerOptions = {}): Provisioner {
  const done = new Map<string, Promise<void>>();
  const limit = opts.concurrency ?? 4;
  let running = 0;
  const waiting: (() => void)[] = [];

  async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      waiting.shift()?.();
    }
  }

  async function provision(config: TenantConfig): Promise<ProvisionResult> {
    return withSlot(async () => {
      const createdDatabase = config.isolationMode === "database" ? await ensureDatabase(config) : false;
      const { createdSchema, migrationsApplied } = await migrateTenant(config);
      const result = {
        tenantId: config.tenantId,
        target: describeTarget(config),
        created: createdDatabase || createdSchema,
        migrationsApplied,
      };
      opts.logger?.info(result, "tenant provisioned");
      return result;
    });
  }

  return {
    provision,
    get active() {
      return running;
    },
    ensure(config) {
      const { host, port, database, schema: pgSchema } = config.db;
      const key = JSON.stringify([config.tenantId, host, port, database, pgSchema]);
      let run = done.get(key);
      if (!run) {
        run = provision(config).then(() => undefined);
        done.set(key, run);
        // A failure is not remembered: the next request tries again.
        run.catch(() => done.delete(key));
      }
      return run;
    },
  };
}

/** Database mode: creates the tenant's database unless it exists. Returns whether it created it. */
async function ensureDatabase(config: TenantConfig): Promise<boolean> {
  const probe = postgres(tenantConnectionOptions(config, { max: 1, searchPath: null }));
  try {
    await probe`select 1`;
    return false;
  } catch (err) {
    if (errCode(err) !== INVALID_CATALOG_NAME) throw err;
  } finally {
    await probe.end({ timeout: 1 });
  }
  const admin = postgres(
    tenantConnectionOptions(config, { max: 1, database: MAINTENANCE_DATABASE, searchPath: null }),
  );
  const lockKey = `verdict:create-database:${config.db.database}`;
  try {
    // max: 1 keeps the session lock and the CREATE on the same connection.
    await admin`select pg_advisory_lock(hashtext(${lockKey}))`;
    try {
      const [exists] = await admin`select 1 from pg_database where datname = ${config.db.database}`;
      if (exists) return false;
      await admin`create database ${admin(config.db.database)}`;
      return true;
    } catch (err) {
      if (errCode(err) === DUPLICATE_DATABASE) return false;
      throw err;
    } finally {
      await admin`select pg_advisory_unlock(hashtext(${lockKey}))`.catch(() => {});
    }
  } finally {
    await admin.end({ timeout: 1 });
  }
}

/** Creates the schema (schema mode) and applies pending migrations, under a per-tenant lock. */
async function migrateTenant(
  config: TenantConfig,
): Promise<{ createdSchema: boolean; migrationsApplied: number }> {
  const pgSchema = config.db.schema;
  // One connection: the advisory lock is session-level, so the migration must run on its session.
  const client = postgres(tenantConnectionOptions(config, { max: 1 }));
  const lockKey = `verdict:migrate:${config.tenantId}`;
  const journalSchema = pgSchema ?? "drizzle";
  const journalRows = async (): Promise<number> => {
    const [found] = await client<{ t: string | null }[]>`
      select to_regclass(${`"${journalSchema}"."__drizzle_migrations"`})::text as t`;
    if (!found?.t) return 0;
    const [row] = await client<{ n: number }[]>`
      select count(*)::int as n from ${client(journalSchema)}.__drizzle_migrations`;
    return row?.n ?? 0;
  };
  try {
    await client`select pg_advisory_lock(hashtext(${lockKey}))`;
    try {
      let createdSchema = false;
      if (pgSchema) {
        const [exists] = await client`select 1 from pg_namespace where nspname = ${pgSchema}`;
        if (!exists) {
          await client`create schema if not exists ${client(pgSchema)}`;
          createdSchema = true;
        }
      }
      const before = await journalRows();
      await migrate(drizzle({ client, schema }), {
        migrationsFolder: MIGRATIONS_FOLDER,
        ...(pgSchema ? { migrationsSchema: pgSchema } : {}),
      });
      return { createdSchema, migrationsApplied: (await journalRows()) - before };
    } finally {
      await client`select pg_advisory_unlock(hashtext(${lockKey}))`.catch(() => {});
    }
  } finally {
    await client.end({ timeout: 5 });
  }
}
