import type { Database } from "../db/database.js";
import type { Principal } from "../http/principal.js";

export interface ResolvedTenant {
  tenantId: string;
  db: Database;
  /**
   * Ends the request's hold on `db` (multi-tenant mode: a pool is never closed while held).
   * The /v1 middleware calls it once the response, streamed bodies included, is done.
   */
  release?: () => void;
}

/**
 * Maps a verified principal to its tenant's database. Single-tenant mode answers one database;
 * multi-tenant mode looks the tenant up and routes to its own pool.
 */
export interface TenantResolver {
  resolve(principal: Principal): Promise<ResolvedTenant>;
  /**
   * Named readiness checks this resolver contributes to /readyz: `false` fails readiness, a
   * string reports a state without failing it (as `cache: "in-process"` does).
   */
  checks(): Promise<Record<string, boolean | string>>;
  close(): Promise<void>;
}
