import type { Actor } from "../tenancy/tenant-context.js";

/** Who is calling, as proven by their credential. The tenant id comes only from here. */
export interface Principal {
  actor: Actor;
  /** From the verified token's tenant claim; undefined for API keys and single-tenant tokens. */
  tenantClaim: string | undefined;
}
