import { ConfigError, loadConfig, processEnvironment } from "../config.js";
import { connectDatabase } from "./connect.js";

/**
 * `npm run db:migrate`: applies pending migrations to DATABASE_URL (or the PGlite directory) and
 * exits. The server also does this at boot; this is for deploy pipelines that migrate first.
 */
async function main(): Promise<number> {
  try {
    const config = loadConfig(processEnvironment());
    const handle = await connectDatabase(config.db, { migrate: true, maxConnections: 1 });
    await handle.close();
    process.stdout.write(`migrations applied (${config.db.kind})\n`);
    return 0;
  } catch (err) {
    process.stderr.write(
      `${err instanceof ConfigError ? err.message : `migration failed: ${(err as Error).message}`}\n`,
    );
    return 1;
  }
}

process.exitCode = await main();
