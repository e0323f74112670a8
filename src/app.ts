import { Scalar } from "@scalar/hono-api-reference";
import { requestId } from "hono/request-id";
import { routePath } from "hono/route";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import { AppError, errorCodes } from "./errors.js";
import { limitBody } from "./http/body-limit.js";
import type { CredentialVerifier } from "./http/credentials.js";
import { guardJsonInput } from "./http/json-guard.js";
import { problemResponse } from "./http/problem.js";
import { createRouter } from "./http/router.js";
import type { Metrics } from "./observability/metrics.js";
import { releaseAfterBody } from "./tenancy/release-after-body.js";
import type { TenantResolver } from "./tenancy/tenant-resolver.js";

export const BODY_LIMIT_BYTES = 100 * 1024;

export interface AppDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  credentials: CredentialVerifier;
  tenants: TenantResolver;
  version: string;
  /** Redis liveness for /readyz when REDIS_URL is set. */
  redisPing?: () => Promise<void>;
  /** Domain routers mounted under /v1 after auth and tenant resolution. */
  mountApi?: (api: ReturnType<typeof createRouter>) => void;
}

const ERROR_CODES_DESCRIPTION = Object.entries(errorCodes)
  .map(([code, { status, title }]) => `| \`${code}\` | ${status} | ${title} |`)
  .join("\n");

/** Builds the whole HTTP application; tests and main.ts share this one wiring path. */
export function createApp(deps: AppDeps) {
  const { logger, metrics } = deps;
  const app = createRouter();

  app.use(requestId());
  app.use(async (c, next) => {
    const started = process.hrtime.bigint();
    c.set("logFields", { requestId: c.get("requestId") });
    await next();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const route = routePath(c, -1);
    const status = c.res.status;
    metrics.httpDuration.observe(
      { method: c.req.method, route: route.endsWith("*") ? "unmatched" : route, status: String(status) },
      seconds,
    );
    const level = status >= 500 ? "error" : "info";
    if (logger.isLevelEnabled(level)) {
      logger[level](
        {
          ...c.get("logFields"),
          method: c.req.method,
          path: c.req.path,
          status,
          durationMs: Math.round(seconds * 1e6) / 1e3,
        },
        "request completed",
      );
    }
  });

  app.get("/health", (c) => c.text("healthy"));
  app.get("/version", (c) => c.json({ name: "verdict", version: deps.version, node: process.version }));
  app.get("/metrics", async (c) =>
    c.text(await metrics.registry.metrics(), 200, { "Content-Type": metrics.registry.contentType }),
  );
  app.get("/readyz", async (c) => {
    const checks: Record<string, boolean | string> = await deps.tenants.checks();
    if (deps.redisPing) {
      try {
        await deps.redisPing();
        checks.cache = true;
      } catch {
        checks.cache = false;
      }
    } else {
      checks.cache = "in-process";
    }
    const ready = Object.values(checks).every((v) => v !== false);
    return c.json({ status: ready ? "ready" : "unavailable", checks }, ready ? 200 : 503);
  });

  app.openAPIRegistry.registerComponent("securitySchemes", "ApiKey", {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "Bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });
  app.doc31("/v1/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Verdict API",
      version: deps.version,
      description:
        "Transaction validation, rules, spending limits and a tamper-evident audit log.\n\n" +
        "Errors are RFC 9457 `application/problem+json` with a stable `code`:\n\n| code | status | title |\n|---|---|---|\n" +
        ERROR_CODES_DESCRIPTION,
    },
    security: [{ ApiKey: [] }, { Bearer: [] }],
  });
  app.get("/v1/docs", Scalar({ url: "/v1/openapi.json", pageTitle: "Verdict API" }));

  app.use(
    "/v1/*",
    limitBody(BODY_LIMIT_BYTES, () => {
      throw new AppError("PAYLOAD_TOO_LARGE", `Request body exceeds ${BODY_LIMIT_BYTES / 1024} KB`);
    }),
  );
  app.use("/v1/*", async (c, next) => {
    const principal = await deps.credentials.verify({
      authorization: c.req.header("authorization"),
      apiKey: c.req.header("x-api-key"),
    });
    c.set("principal", principal);
    const resolved = await deps.tenants.resolve(principal);
    c.set("tenant", { tenantId: resolved.tenantId, db: resolved.db, actor: principal.actor });
    const fields = c.get("logFields");
    fields.tenantId = resolved.tenantId;
    fields.actorId = principal.actor.id;
    if (!resolved.release) return next();
    // Multi-tenant: hold the tenant's pool until the response (a streamed one too) is done.
    try {
      await next();
    } catch (err) {
      resolved.release();
      throw err;
    }
    c.res = releaseAfterBody(c.res, resolved.release);
  });

  app.use("/v1/*", guardJsonInput());

  const api = createRouter();
  deps.mountApi?.(api);
  app.route("/v1", api);

  app.notFound((c) =>
    problemResponse(c, new AppError("ROUTE_NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`)),
  );
  app.onError((err, c) => problemResponse(c, err, logger));
  return app;
}

export type App = ReturnType<typeof createApp>;
