import type { Actor } from "../tenancy/tenant-context.js";

/** Who is calling, as proven by their credential. The tenant id comes only from here. */
export interface Principal {
  actor: Actor;
  /**
   * The verified token's tenant claim exactly as it was in the payload (any JSON type; only a
   * string can name a tenant); undefined for API keys and tokens without the claim.
   */
  tenantClaim: unknown;
}
