import type { Database } from "../db/database.js";
import type { Principal } from "../http/principal.js";

export interface ResolvedTenant {
  tenantId: string;
  db: Database;
}

/**
 * Maps a verified principal to its tenant's database. Single-tenant mode answers one database;
 * multi-tenant mode looks the tenant up and routes to its own pool.
 */
export interface TenantResolver {
  resolve(principal: Principal): Promise<ResolvedTenant>;
  /** Named readiness checks this resolver contributes to /readyz. */
  checks(): Promise<Record<string, boolean>>;
  close(): Promise<void>;
}
