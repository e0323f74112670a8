import { createHash } from "node:crypto";
import { AppError } from "../errors.js";
import { canonicalTenantId } from "./tenant-id.js";

/**
 * Tenant configuration as Verdict uses it, normalised from the Lerian tenant-manager payload
 * (CONTRACT §7): `{ id, status, isolationMode, databases: { <service>: { postgresql: {...},
 * connectionSettings?: { maxOpenConns } } } }`. The tenants file holds the same payloads.
 */

export type IsolationMode = "database" | "schema";

/** postgres.js `ssl` values the `sslmode` names map to (`false` = plain TCP). */
export type SslMode = false | "prefer" | "require" | "verify-full";

export interface TenantDbConfig {
  host: string;
  port: number;
  database: string;
  username: string;
  password: string;
  /** Schema mode only: the schema every pooled connection is pinned to. */
  schema: string | undefined;
  ssl: SslMode;
  /** Pool size for this tenant: `maxOpenConns` clamped to [1, MAX_POOL_CONNECTIONS]. */
  maxConnections: number;
}

export interface TenantConfig {
  tenantId: string;
  /** "active", or whatever non-active status the source reported ("suspended", "purged", ...). */
  status: string;
  isolationMode: IsolationMode;
  db: TenantDbConfig;
  /**
   * Digest of everything a pool depends on (host, port, database, user, password, schema, ssl,
   * size): when it changes the pool is replaced. Hashed so it can be compared and logged safely.
   */
  fingerprint: string;
  /**
   * Order in which configurations were read (process-wide counter): when two differ, the higher
   * one is newer, so a request still holding an older cached copy cannot swap a pool back.
   */
  seq: number;
}

let readSeq = 0;

/** Marks a configuration as read now (e.g. one restored from the shared cache). */
export function restamp(config: TenantConfig): TenantConfig {
  return { ...config, seq: ++readSeq };
}

/** Without `connectionSettings.maxOpenConns`, a tenant gets this many connections. */
export const DEFAULT_POOL_CONNECTIONS = 5;
/** A tenant manager cannot ask for more than this per pool: one tenant must not eat the budget. */
export const MAX_POOL_CONNECTIONS = 10;

/**
 * Lower-case identifier of at most 63 bytes (PostgreSQL's NAMEDATALEN - 1), so it needs no
 * case-folding surprises and can be used in a connection startup parameter as is.
 */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** Reserved or shared namespaces a tenant must never be pinned to. */
const FORBIDDEN_SCHEMAS = new Set(["public", "information_schema", "drizzle"]);

const SSL_MODES: Record<string, SslMode> = {
  disable: false,
  allow: "prefer",
  prefer: "prefer",
  require: "require",
  // postgres.js has no CA-only mode; verify-full is the stricter superset, never a weaker check.
  "verify-ca": "verify-full",
  "verify-full": "verify-full",
};

/** A misconfigured tenant is the operator's problem, not the caller's: 503, never 4xx, never 500. */
function misconfigured(tenantId: string, what: string): AppError {
  return new AppError(
    "SERVICE_UNAVAILABLE",
    `Tenant ${tenantId} is not configured for this service (${what})`,
    {
      retryAfterSec: 30,
    },
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function nonEmpty(v: unknown, max: number): string | undefined {
  return typeof v === "string" && v.length > 0 && v.length <= max ? v : undefined;
}

/** A valid tenant schema name (see SCHEMA_NAME), or undefined. */
export function validSchemaName(name: unknown): string | undefined {
  if (typeof name !== "string" || !SCHEMA_NAME.test(name)) return undefined;
  if (FORBIDDEN_SCHEMAS.has(name) || name.startsWith("pg_")) return undefined;
  return name;
}

function isolationModeOf(raw: unknown): IsolationMode | undefined {
  // Lerian spells database isolation "isolated" or leaves it empty; both mean the tenant's own DB.
  if (raw === undefined || raw === "" || raw === "database" || raw === "isolated") return "database";
  if (raw === "schema") return "schema";
  return undefined;
}

/**
 * Validates a tenant-manager (or tenants-file) payload for `tenantId` and this service. Anything
 * unusable (unknown isolation mode, no entry for the service, bad schema name, missing
 * credentials, an `id` naming another tenant) is SERVICE_UNAVAILABLE: fail closed, never guess.
 */
export function normaliseTenantConfig(payload: unknown, tenantId: string, serviceName: string): TenantConfig {
  if (!isRecord(payload)) throw misconfigured(tenantId, "payload is not an object");
  if (payload.id !== undefined && canonicalTenantId(payload.id) !== tenantId) {
    throw misconfigured(tenantId, "payload id does not match");
  }
  const status = payload.status === undefined ? "active" : payload.status;
  if (typeof status !== "string" || status.length === 0) throw misconfigured(tenantId, "bad status");
  const isolationMode = isolationModeOf(payload.isolationMode);
  if (!isolationMode) throw misconfigured(tenantId, "unknown isolationMode");
  const service = isRecord(payload.databases) ? payload.databases[serviceName] : undefined;
  if (!isRecord(service)) throw misconfigured(tenantId, `no databases.${serviceName} entry`);
  const pg = service.postgresql;
  if (!isRecord(pg)) throw misconfigured(tenantId, `no databases.${serviceName}.postgresql entry`);

  const host = nonEmpty(pg.host, 255);
  const port = pg.port === undefined ? 5432 : Number(pg.port);
  const database = nonEmpty(pg.database, 63);
  const username = nonEmpty(pg.username, 63);
  const password = typeof pg.password === "string" ? pg.password : undefined;
  if (!host || !database || !username || password === undefined) {
    throw misconfigured(tenantId, "incomplete postgresql credentials");
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw misconfigured(tenantId, "bad port");

  let schema: string | undefined;
  if (isolationMode === "schema") {
    schema = validSchemaName(pg.schema);
    if (!schema) throw misconfigured(tenantId, "schema mode needs a valid schema name");
  }
  const ssl = pg.sslmode === undefined ? false : SSL_MODES[String(pg.sslmode)];
  if (ssl === undefined) throw misconfigured(tenantId, "unknown sslmode");

  const settings = isRecord(service.connectionSettings) ? service.connectionSettings : undefined;
  const requested = Number(settings?.maxOpenConns ?? DEFAULT_POOL_CONNECTIONS);
  const maxConnections = Number.isInteger(requested)
    ? Math.min(Math.max(requested, 1), MAX_POOL_CONNECTIONS)
    : DEFAULT_POOL_CONNECTIONS;

  const db: TenantDbConfig = { host, port, database, username, password, schema, ssl, maxConnections };
  const fingerprint = createHash("sha256")
    .update(
      JSON.stringify([isolationMode, host, port, database, username, password, schema, ssl, maxConnections]),
    )
    .digest("hex")
    .slice(0, 16);
  return { tenantId, status, isolationMode, db, fingerprint, seq: ++readSeq };
}

/** Where a tenant's data lives, without credentials: safe to log and print. */
export function describeTarget(config: TenantConfig): string {
  const { host, port, database, schema } = config.db;
  return `${config.isolationMode} ${host}:${port}/${database}${schema ? ` schema ${schema}` : ""}`;
}
