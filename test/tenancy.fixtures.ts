/**
 * Shared pieces of the multi-tenancy tests: a fake Lerian tenant manager served by Hono on a
 * loopback ephemeral port (counts calls, answers 200/404/403/500/slow per tenant), tenant payload
 * builders for both isolation modes, and an app wired exactly like main.ts but with the
 * multi-tenant resolver.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import postgres from "postgres";
import { type App, createApp } from "../src/app.js";
import { type Config, loadConfig } from "../src/config.js";
import { createCredentialVerifier } from "../src/http/credentials.js";
import { createLogger } from "../src/observability/logger.js";
import { createMetrics } from "../src/observability/metrics.js";
import { createDomain, type Domain } from "../src/routes.js";
import { createMultiTenantResolver, type MultiTenantResolver } from "../src/tenancy/multi-tenant.js";
import { signTestJwt, TEST_JWT_SECRET } from "./harness.js";

export const MANAGER_API_KEY = "fake-manager-key-0123456789";
export const SERVICE = "verdict";
export const AUDIENCE = "verdict-api";

export type Behaviour = "ok" | 404 | 403 | 500 | "slow";

export interface FakeManager {
  url: string;
  /** Every call that reached the manager, in order (tenant id as it arrived in the path). */
  calls: string[];
  /** Payload and behaviour per tenant id (canonical form); absent → 404. */
  tenants: Map<string, { payload: Record<string, unknown>; behaviour: Behaviour }>;
  /** When set, every request gets this answer (e.g. 500 for breaker tests). */
  override: Behaviour | undefined;
  /** Requests that came without the right X-API-Key. */
  badKeyCalls: number;
  close(): Promise<void>;
}

/** A Lerian-compatible tenant manager: GET /v1/tenants/:id/associations/:service/connections. */
export async function startFakeManager(): Promise<FakeManager> {
  const state: Omit<FakeManager, "url" | "close"> = {
    calls: [],
    tenants: new Map(),
    override: undefined,
    badKeyCalls: 0,
  };
  const app = new Hono();
  app.get("/v1/tenants/:id/associations/:service/connections", async (c) => {
    const id = c.req.param("id");
    state.calls.push(id);
    if (c.req.header("x-api-key") !== MANAGER_API_KEY) {
      state.badKeyCalls++;
      return c.json({ code: "UNAUTHORIZED" }, 401);
    }
    const entry = state.tenants.get(id);
    const behaviour = state.override ?? entry?.behaviour ?? 404;
    if (behaviour === "slow") {
      await new Promise((r) => setTimeout(r, 3_000));
      return c.json({ code: "SLOW" }, 500);
    }
    if (behaviour === 500) return c.json({ code: "BOOM" }, 500);
    if (behaviour === 404 || !entry)
      return c.json({ code: "TENANT_NOT_FOUND", error: "not found", status: 404 }, 404);
    if (behaviour === 403) return c.json({ code: "0131", error: "suspended", status: 403 }, 403);
    if (c.req.param("service") !== SERVICE) return c.json({ code: "NOT_ASSOCIATED" }, 404);
    return c.json(entry.payload);
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        if ("closeAllConnections" in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** The Lerian payload for a tenant in database or schema mode on the server of `adminUrl`. */
export function tenantPayload(
  adminUrl: string,
  id: string,
  target: { mode: "database"; database: string } | { mode: "schema"; database: string; schema: string },
  extra: { maxOpenConns?: number; status?: string; password?: string } = {},
): Record<string, unknown> {
  const u = new URL(adminUrl);
  return {
    id,
    tenantSlug: id,
    service: SERVICE,
    status: extra.status ?? "active",
    isolationMode: target.mode,
    databases: {
      [SERVICE]: {
        postgresql: {
          host: u.hostname,
          port: Number(u.port || 5432),
          database: target.database,
          username: decodeURIComponent(u.username || "postgres"),
          password: extra.password ?? decodeURIComponent(u.password),
          ...(target.mode === "schema" ? { schema: target.schema } : {}),
          sslmode: "disable",
        },
        connectionSettings: { maxOpenConns: extra.maxOpenConns ?? 2 },
      },
    },
  };
}

export interface MtApp {
  app: App;
  config: Config;
  tenants: MultiTenantResolver;
  domain: Domain;
  /** A request as tenant `tenantClaim` (any JSON value; undefined → no claim). */
  as(
    tenantClaim: unknown,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Response>;
  close(): Promise<void>;
}

/** The real app (same wiring as main.ts) in multi-tenant mode against `manager`. */
export async function createMtApp(
  adminUrl: string,
  manager: FakeManager | undefined,
  env: Record<string, string> = {},
  domainOptions: { commitTimeoutMs?: number } = {},
): Promise<MtApp> {
  const config = loadConfig({
    JWT_SECRET: TEST_JWT_SECRET,
    JWT_AUDIENCE: AUDIENCE,
    DATABASE_URL: adminUrl,
    MULTI_TENANT_ENABLED: "true",
    ...(manager
      ? {
          MULTI_TENANT_URL: manager.url,
          MULTI_TENANT_ALLOW_INSECURE_HTTP: "true",
          MULTI_TENANT_SERVICE_API_KEY: MANAGER_API_KEY,
        }
      : {}),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ...env,
  });
  const logger = createLogger(config.logLevel);
  const metrics = createMetrics({ processMetrics: false });
  const tenants = await createMultiTenantResolver({
    multiTenant: config.multiTenant,
    adminUrl,
    logger,
  });
  const domain = await createDomain({ config, logger, metrics, ...domainOptions });
  const app = createApp({
    config,
    logger,
    metrics,
    credentials: createCredentialVerifier(config.auth),
    tenants,
    version: "test",
    mountApi: (api) => domain.mount(api),
  });
  // One token per claim for a minute: signing per request would only measure HMAC speed.
  const tokens = new Map<string, { token: string; until: number }>();
  async function tokenFor(tenantClaim: unknown): Promise<string> {
    const key = JSON.stringify(tenantClaim ?? null);
    const cached = tokens.get(key);
    if (cached && cached.until > Date.now()) return cached.token;
    const claims: Record<string, unknown> = { aud: AUDIENCE, sub: "user-1" };
    if (tenantClaim !== undefined) claims.tenantId = tenantClaim;
    const token = await signTestJwt(claims);
    tokens.set(key, { token, until: Date.now() + 60_000 });
    return token;
  }
  return {
    app,
    config,
    tenants,
    domain,
    async as(tenantClaim, method, path, body, headers = {}) {
      const init: RequestInit = {
        method,
        headers: { Authorization: `Bearer ${await tokenFor(tenantClaim)}`, ...headers },
      };
      if (body !== undefined) {
        init.body = typeof body === "string" ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)["Content-Type"] = "application/json";
      }
      return app.request(path, init);
    },
    async close() {
      await domain.drain();
      domain.close();
      await tenants.close();
    },
  };
}

/** Reads a JSON body, failing with the body text when the status is not the expected one. */
export async function readJson<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Drops every database whose name starts with `prefix` (tenant databases of one test run). */
export async function dropDatabases(adminUrl: string, prefix: string): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await admin<{ datname: string }[]>`
      select datname from pg_database where datname like ${`${prefix}%`}`;
    for (const { datname } of rows) await admin.unsafe(`drop database if exists "${datname}" with (force)`);
  } finally {
    await admin.end();
  }
}

/** Creates an empty database named `name` (the shared database of schema-mode tenants). */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  return name;
}

export function validationBody(accountId: string, amount = "50.00") {
  return {
    requestId: crypto.randomUUID(),
    transactionType: "CARD",
    amount,
    currency: "BRL",
    transactionTimestamp: new Date().toISOString(),
    account: { accountId },
  };
}

/** Polls `check` every 50 ms until it returns true, or throws after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
