import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { auditRoutes } from "./audit/audit.routes.js";
import { createCatalogCache } from "./catalog/catalog-cache.js";
import { createRedisInvalidation } from "./catalog/catalog-invalidation.js";
import type { Config } from "./config.js";
import type { createRouter } from "./http/router.js";
import { limitsRoutes } from "./limits/limits.routes.js";
import { createLimitsService } from "./limits/limits.service.js";
import type { Metrics } from "./observability/metrics.js";
import { rulesRoutes } from "./rules/rules.routes.js";
import { createRulesService } from "./rules/rules.service.js";
import { validationsRoutes } from "./validations/validations.routes.js";
import { createValidationsService } from "./validations/validations.service.js";

type Api = ReturnType<typeof createRouter>;

export interface DomainDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  redis?: Redis | undefined;
  /** How stale a cached catalog may get before a validation re-checks its version. */
  catalogPollMs?: number;
  /** How long a validation waits for its commit before the failure posture answers (default 5 s). */
  commitTimeoutMs?: number;
}

export interface Domain {
  mount(api: Api): void;
  /** Waits for in-flight group commits (graceful shutdown). */
  drain(): Promise<void>;
  close(): void;
}

/** Long-lived domain services (catalog cache, commit queue) and the routers that use them. */
export async function createDomain(deps: DomainDeps): Promise<Domain> {
  const catalogs = createCatalogCache({
    pollIntervalMs: deps.catalogPollMs ?? 250,
    idleTtlMs: 10 * 60_000,
    logger: deps.logger,
  });
  const push = deps.redis
    ? await createRedisInvalidation(deps.redis, catalogs.invalidate, deps.logger)
    : undefined;
  const onChange = (tenantId: string) => {
    catalogs.invalidate(tenantId);
    push?.publish(tenantId);
  };
  const validations = createValidationsService({ ...deps, catalogs });
  return {
    mount(api) {
      api.route("/", rulesRoutes(createRulesService(onChange)));
      api.route("/", limitsRoutes(createLimitsService(onChange)));
      api.route("/", validationsRoutes(validations));
      api.route("/", auditRoutes());
    },
    drain: () => validations.drain(),
    close() {
      catalogs.close();
      push?.close();
    },
  };
}
