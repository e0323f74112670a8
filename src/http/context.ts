import type { TenantContext } from "../tenancy/tenant-context.js";
import type { Principal } from "./principal.js";

/** Request-scoped facts only; long-lived dependencies reach handlers by closure. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /**
     * Fields every log line of the request carries. Plain fields rather than a pino child logger:
     * a child serializes its bindings and sets up redaction when made, on every request, and most
     * requests log nothing above the configured level.
     */
    logFields: LogFields;
    principal: Principal;
    tenant: TenantContext;
  };
}

export interface LogFields {
  requestId: string;
  tenantId?: string;
  actorId?: string;
}
