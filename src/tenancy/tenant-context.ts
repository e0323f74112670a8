import type { Database } from "../db/database.js";

export interface Actor {
  id: string;
  actorType: "user" | "api_key" | "system";
  name: string;
}

/**
 * Everything a handler may touch for one request. The database is reachable only through here,
 * so no handler can reach around tenancy.
 */
export interface TenantContext {
  tenantId: string;
  db: Database;
  actor: Actor;
}

export const SINGLE_TENANT_ID = "default";
