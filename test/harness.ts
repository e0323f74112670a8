import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { SignJWT } from "jose";
import postgres from "postgres";
import { type App, createApp } from "../src/app.js";
import { type Config, loadConfig } from "../src/config.js";
import { connectDatabase, type DatabaseHandle } from "../src/db/connect.js";
import { createCredentialVerifier } from "../src/http/credentials.js";
import { createLogger } from "../src/observability/logger.js";
import { createMetrics } from "../src/observability/metrics.js";
import type { DomainDeps } from "../src/routes.js";
import { createDomain } from "../src/routes.js";
import { singleTenantResolver } from "../src/tenancy/single-tenant.js";
import type { TenantResolver } from "../src/tenancy/tenant-resolver.js";

export const TEST_API_KEY = "test-api-key-0123456789abcdef";
export const TEST_JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789";

export const testDatabaseUrl = process.env.TEST_DATABASE_URL || undefined;
export const testRedisUrl = process.env.TEST_REDIS_URL || undefined;

/** Creates an empty PostgreSQL database for one test file and returns its URL and a dropper. */
export async function createScratchDatabase(
  adminUrl: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `verdict_t_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

export interface TestDatabase {
  handle: DatabaseHandle;
  /** PostgreSQL URL of this file's scratch database, when running on PostgreSQL. */
  url: string | undefined;
  close(): Promise<void>;
}

/** A fresh, migrated database: in-memory PGlite by default, a scratch PostgreSQL database otherwise. */
export async function openTestDatabase(): Promise<TestDatabase> {
  if (testDatabaseUrl) {
    const scratch = await createScratchDatabase(testDatabaseUrl);
    const handle = await connectDatabase({ kind: "postgres", url: scratch.url });
    return {
      handle,
      url: scratch.url,
      close: async () => {
        await handle.close();
        await scratch.drop();
      },
    };
  }
  const handle = await connectDatabase({ kind: "pglite", dataDir: "memory://" });
  return { handle, url: undefined, close: () => handle.close() };
}

export interface TestApp {
  app: App;
  config: Config;
  db: TestDatabase;
  logs: string[];
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/** Builds the real app (same wiring as main.ts) on a fresh database with API key and JWT auth enabled. */
export interface TestAppOptions {
  /** Share a database between apps (two instances on one database). */
  existing?: TestDatabase;
  tenants?: TenantResolver;
  domain?: Partial<Omit<DomainDeps, "config" | "logger" | "metrics">>;
}

export async function createTestApp(
  env: Record<string, string> = {},
  options: TestAppOptions = {},
): Promise<TestApp> {
  const existing = options.existing;
  const config = loadConfig({
    API_KEY: TEST_API_KEY,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: "info",
    ...env,
  });
  const db = existing ?? (await openTestDatabase());
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  const metrics = createMetrics({ processMetrics: false });
  const domain = await createDomain({ config, logger, metrics, ...options.domain });
  const app = createApp({
    config,
    logger,
    metrics,
    credentials: createCredentialVerifier(config.auth),
    tenants: options.tenants ?? singleTenantResolver(db.handle),
    version: "test",
    mountApi: (api) => domain.mount(api),
  });
  return {
    app,
    config,
    db,
    logs,
    request: (method, path, body, headers = {}) => {
      const init: RequestInit = { method, headers: { "X-API-Key": TEST_API_KEY, ...headers } };
      if (body !== undefined) {
        init.body = typeof body === "string" ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)["Content-Type"] ??= "application/json";
      }
      return Promise.resolve(app.request(path, init));
    },
    close: async () => {
      await domain.drain();
      domain.close();
      if (!existing) await db.close();
    },
  };
}

/** Signs an HS256 token with the test secret; claims override the defaults. */
export async function signTestJwt(
  claims: Record<string, unknown> = {},
  opts: { expiresIn?: string | null; secret?: string; alg?: string } = {},
): Promise<string> {
  let jwt = new SignJWT({ ...claims })
    .setProtectedHeader({ alg: opts.alg ?? "HS256" })
    .setSubject((claims.sub as string | undefined) ?? "user-1")
    .setIssuedAt();
  if (opts.expiresIn !== null) jwt = jwt.setExpirationTime(opts.expiresIn ?? "5m");
  return jwt.sign(new TextEncoder().encode(opts.secret ?? TEST_JWT_SECRET));
}
