import type { Logger } from "pino";
import type { TenantContext } from "../tenancy/tenant-context.js";
import type { Principal } from "./principal.js";

/** Request-scoped facts only; long-lived dependencies reach handlers by closure. */
export interface AppEnv {
  Variables: {
    requestId: string;
    logger: Logger;
    principal: Principal;
    tenant: TenantContext;
  };
}
