import { serve } from "@hono/node-server";
import { createApp } from "./app.js";
import { ConfigError, loadConfig, processEnvironment } from "./config.js";
import { createDeps } from "./deps.js";
import { createLogger } from "./observability/logger.js";

/** Composition root: config → deps → app → server, and an orderly shutdown. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(processEnvironment());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  if (config.auth.disabled) {
    logger.warn(
      "AUTHENTICATION IS DISABLED: no API_KEY or JWT_* credential is configured (or AUTH_DISABLED=true). " +
        "Every /v1 route is open. Never run like this in production.",
    );
  }
  const deps = await createDeps(config, logger);
  const app = createApp(deps);
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
    logger.info(
      {
        port: info.port,
        host: config.host,
        database: config.db.kind,
        multiTenant: config.multiTenant.enabled,
      },
      "verdict listening",
    );
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: no new connections, finishing in-flight requests");
    const force = setTimeout(() => {
      logger.error("shutdown timed out; exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    server.close(async (err) => {
      try {
        await deps.close();
        logger.info("shutdown complete");
        logger.flush();
        process.exit(err ? 1 : 0);
      } catch (closeErr) {
        logger.error({ err: closeErr }, "error while closing dependencies");
        process.exit(1);
      }
    });
    // Idle keep-alive sockets would otherwise hold close() open until they time out.
    if ("closeIdleConnections" in server) server.closeIdleConnections();
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`verdict failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
