import type { DatabaseHandle } from "../db/connect.js";
import { SINGLE_TENANT_ID } from "./tenant-context.js";
import type { TenantResolver } from "./tenant-resolver.js";

/** Every caller is tenant "default" on the one database; token tenant claims are ignored. */
export function singleTenantResolver(handle: DatabaseHandle): TenantResolver {
  const resolved = { tenantId: SINGLE_TENANT_ID, db: handle.db };
  return {
    resolve: async () => resolved,
    checks: async () => {
      try {
        await handle.ping();
        return { database: true };
      } catch {
        return { database: false };
      }
    },
    close: () => handle.close(),
  };
}
