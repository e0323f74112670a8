/**
 * Multi-tenancy against PostgreSQL (CONTRACT §7, multitenancy.md §5), for BOTH isolation modes:
 * forged tokens never reach the tenant manager; tenant ids in headers, query and body are
 * ignored or rejected; tenant B cannot see or touch tenant A's rules, limits, validations and
 * audit events; each audit chain is separate and verifies; dashed/dashless UUIDs are one tenant;
 * unknown → 404, suspended → 403 with the pool closed on revalidation; changed configuration →
 * new pool; the breaker opens after 5 failures, fails fast and closes after its timeout;
 * provisioning is idempotent and serialised; schema-mode pools are pinned to their schema; with
 * Redis, a suspension seen by one instance evicts on another.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { queryRows } from "../src/db/database.js";
import { createDeps } from "../src/deps.js";
import { createLogger } from "../src/observability/logger.js";
import { createProvisioner } from "../src/tenancy/provision.js";
import { normaliseTenantConfig } from "../src/tenancy/tenant-config.js";
import { TEST_JWT_SECRET, testDatabaseUrl, testRedisUrl } from "./harness.js";
import {
  AUDIENCE,
  createDatabase,
  createMtApp,
  dropDatabases,
  eventually,
  type FakeManager,
  type MtApp,
  readJson,
  SERVICE,
  startFakeManager,
  tenantPayload,
  validationBody,
} from "./tenancy.fixtures.js";

const adminUrl = testDatabaseUrl ?? "";
const MIGRATIONS = (JSON.parse(readFileSync("drizzle/meta/_journal.json", "utf8")) as { entries: unknown[] })
  .entries.length;
const nonce = randomUUID().replaceAll("-", "").slice(0, 8);
const prefix = `vtmt_${nonce}_`;
const sharedDb = `${prefix}shared`;

type Mode = "database" | "schema";
type Problem = { code: string; status: number };
type Rule = { ruleId: string; name: string; status: string; description: string | null };
type AuditEvent = { eventId: string; tenantId: string; sequence: number; resourceId: string };

let manager: FakeManager;
let targetSeq = 0;

/** A fresh database (database mode) or schema in the shared database (schema mode). */
function newTarget(mode: Mode) {
  const n = ++targetSeq;
  return mode === "database"
    ? ({ mode, database: `${prefix}d${n}` } as const)
    : ({ mode, database: sharedDb, schema: `t_${nonce}_${n}` } as const);
}

function register(mode: Mode, id: string, extra: Parameters<typeof tenantPayload>[3] = {}) {
  const payload = tenantPayload(adminUrl, id, newTarget(mode), extra);
  manager.tenants.set(id, { payload, behaviour: "ok" });
  return payload;
}

const tenantId = (mode: Mode, name: string) => `${mode}-${name}-${nonce}`;

async function token(
  claims: Record<string, unknown>,
  opts: { exp?: number | null; nbf?: number; secret?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({ aud: AUDIENCE, ...claims })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("user-1");
  if (opts.exp !== null) jwt = jwt.setExpirationTime(opts.exp ?? now + 300);
  if (opts.nbf !== undefined) jwt = jwt.setNotBefore(opts.nbf);
  return jwt.sign(new TextEncoder().encode(opts.secret ?? TEST_JWT_SECRET));
}

async function expectProblem(res: Response, status: number, code: string): Promise<Problem> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = JSON.parse(text) as Problem;
  expect(body.code).toBe(code);
  return body;
}

async function createRule(t: MtApp, tenant: unknown, name: string, headers: Record<string, string> = {}) {
  return readJson<Rule>(
    await t.as(
      tenant,
      "POST",
      "/v1/rules",
      { name, expression: { ">": [{ var: "amount" }, 100] }, action: "DENY" },
      headers,
    ),
    201,
  );
}

async function listAll<T>(t: MtApp, tenant: unknown, path: string, key: string, limit: number): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const url: string = `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page = await readJson<Record<string, unknown>>(await t.as(tenant, "GET", url), 200);
    out.push(...(page[key] as T[]));
    cursor = page.nextCursor as string | null;
  } while (cursor);
  return out;
}

describe.runIf(!!testDatabaseUrl)("multi-tenancy on PostgreSQL", () => {
  beforeAll(async () => {
    manager = await startFakeManager();
    await createDatabase(adminUrl, sharedDb);
  });
  afterAll(async () => {
    await manager?.close();
    await dropDatabases(adminUrl, prefix);
  });

  describe.each(["database", "schema"] as const)("%s isolation", (mode) => {
    let t: MtApp;
    const A = tenantId(mode, "a");
    const B = tenantId(mode, "b");
    const uuid = randomUUID();

    beforeAll(async () => {
      register(mode, A);
      register(mode, B);
      register(mode, uuid);
      t = await createMtApp(adminUrl, manager, {
        MULTI_TENANT_CONNECTIONS_CHECK_INTERVAL_SEC: "1",
        MULTI_TENANT_CACHE_TTL_SEC: "60",
        MULTI_TENANT_IDLE_TIMEOUT_SEC: "300",
      });
    });
    afterAll(async () => {
      await t?.close();
    });

    it("rejects forged tokens and bad tenant claims with 401 before the tenant manager is called", async () => {
      // F is a valid, registered tenant: only the forgery stands between the caller and it.
      const F = tenantId(mode, "forged");
      register(mode, F);
      const before = manager.calls.length;
      const now = Math.floor(Date.now() / 1000);
      const valid = { tenantId: F };
      const bearer = (s: string) => ({ Authorization: `Bearer ${s}` });
      const cases: Record<string, Record<string, string>> = {
        noAuthorization: {},
        emptyBearer: { Authorization: "Bearer " },
        twoSegments: bearer("abc.def"),
        badBase64: bearer("@@@.###.$$$"),
        algNone: bearer(
          new UnsecuredJWT({ ...valid, aud: AUDIENCE }).setSubject("u").setExpirationTime("5m").encode(),
        ),
        wrongKey: bearer(await token(valid, { secret: "another-secret-0123456789abcdef0123456789" })),
        expired: bearer(await token(valid, { exp: now - 60 })),
        notYetValid: bearer(await token(valid, { nbf: now + 120 })),
        noExp: bearer(await token(valid, { exp: null })),
        wrongAudience: bearer(await token({ ...valid, aud: "someone-else" })),
        apiKeyOnly: { "X-API-Key": "test-api-key-0123456789abcdef" },
      };
      const badClaims: unknown[] = [
        undefined,
        123,
        0,
        true,
        null,
        [F],
        { id: F },
        "",
        "a".repeat(65),
        "../x",
        "a:b",
        "a b",
        "a/b",
        "a.b",
        "'; drop table rules; --",
        "-leading-dash",
        "\u0430cme", // Cyrillic а: a look-alike of "acme"
        `${F}\n`,
        `${F} `,
      ];
      for (const [i, claim] of badClaims.entries()) {
        const claims: Record<string, unknown> = {};
        if (claim !== undefined) claims.tenantId = claim;
        cases[`claim${i}`] = bearer(await token(claims));
      }
      for (const [name, headers] of Object.entries(cases)) {
        const res = await t.app.request("/v1/rules", { headers });
        const body = await expectProblem(res, 401, "UNAUTHENTICATED");
        expect(body, name).toMatchObject({ status: 401 });
      }
      // The only calls since are background revalidations of tenants that already have a pool.
      const live = t.tenants.registry.stats().tenants;
      expect(manager.calls.slice(before).filter((c) => !live.includes(c))).toEqual([]);
      expect(t.tenants.registry.stats().tenants).not.toContain(F);
    });

    it("dashed and dashless, upper- and lower-case spellings of a UUID tenant are one tenant, one pool", async () => {
      const dashless = uuid.replaceAll("-", "").toUpperCase();
      const rule = await createRule(t, dashless, `uuid-rule-${nonce}`);
      const seen = await readJson<Rule>(await t.as(uuid, "GET", `/v1/rules/${rule.ruleId}`), 200);
      expect(seen.ruleId).toBe(rule.ruleId);
      await readJson(await t.as(uuid.toUpperCase(), "GET", `/v1/rules/${rule.ruleId}`), 200);
      expect(
        t.tenants.registry.stats().tenants.filter((x) => x.replaceAll("-", "") === uuid.replaceAll("-", "")),
      ).toEqual([uuid]);
      // The manager is only ever asked for the canonical spelling.
      expect(
        manager.calls.filter((c) => c.replaceAll("-", "").toLowerCase() === uuid.replaceAll("-", "")),
      ).toEqual(manager.calls.filter((c) => c === uuid));
    });

    it("tenant B gets 404 for tenant A's rule, limit, validation and audit events, and never lists them", async () => {
      const accountId = randomUUID();
      const ruleName = `shared-name-${nonce}`;
      const rule = await createRule(t, A, ruleName);
      await readJson(await t.as(A, "POST", `/v1/rules/${rule.ruleId}/activate`), 200);
      const limit = await readJson<{ limitId: string }>(
        await t.as(A, "POST", "/v1/limits", {
          name: `limit-${nonce}`,
          limitType: "DAILY",
          maxAmount: "1000.00",
          currency: "BRL",
          scopes: [{ accountId }],
        }),
        201,
      );
      await readJson(await t.as(A, "POST", `/v1/limits/${limit.limitId}/activate`), 200);
      const validation = await readJson<{ validationId: string; decision: string }>(
        await t.as(A, "POST", "/v1/validations", validationBody(accountId)),
        201,
      );
      const eventsA = await listAll<AuditEvent>(t, A, "/v1/audit-events", "auditEvents", 1000);
      expect(eventsA.length).toBeGreaterThanOrEqual(5);

      // Same natural key in B: no collision across tenants.
      await createRule(t, B, ruleName);

      await expectProblem(await t.as(B, "GET", `/v1/rules/${rule.ruleId}`), 404, "RULE_NOT_FOUND");
      await expectProblem(
        await t.as(B, "PATCH", `/v1/rules/${rule.ruleId}`, { description: "hijacked" }),
        404,
        "RULE_NOT_FOUND",
      );
      await expectProblem(
        await t.as(B, "POST", `/v1/rules/${rule.ruleId}/deactivate`),
        404,
        "RULE_NOT_FOUND",
      );
      await expectProblem(await t.as(B, "DELETE", `/v1/rules/${rule.ruleId}`), 404, "RULE_NOT_FOUND");
      await expectProblem(await t.as(B, "GET", `/v1/limits/${limit.limitId}`), 404, "LIMIT_NOT_FOUND");
      await expectProblem(await t.as(B, "GET", `/v1/limits/${limit.limitId}/usage`), 404, "LIMIT_NOT_FOUND");
      await expectProblem(
        await t.as(B, "PATCH", `/v1/limits/${limit.limitId}`, { description: "hijacked" }),
        404,
        "LIMIT_NOT_FOUND",
      );
      await expectProblem(
        await t.as(B, "GET", `/v1/validations/${validation.validationId}`),
        404,
        "VALIDATION_NOT_FOUND",
      );
      for (const e of eventsA) {
        await expectProblem(
          await t.as(B, "GET", `/v1/audit-events/${e.eventId}`),
          404,
          "AUDIT_EVENT_NOT_FOUND",
        );
        await expectProblem(
          await t.as(B, "GET", `/v1/audit-events/${e.eventId}/verify`),
          404,
          "AUDIT_EVENT_NOT_FOUND",
        );
      }

      const rulesB = await listAll<Rule>(t, B, "/v1/rules", "rules", 100);
      expect(rulesB.map((r) => r.ruleId)).not.toContain(rule.ruleId);
      const limitsB = await listAll<{ limitId: string }>(t, B, "/v1/limits", "limits", 100);
      expect(limitsB.map((l) => l.limitId)).not.toContain(limit.limitId);
      const validationsB = await listAll<{ validationId: string }>(
        t,
        B,
        "/v1/validations",
        "transactionValidations",
        1000,
      );
      expect(validationsB.map((v) => v.validationId)).not.toContain(validation.validationId);
      const eventsB = await listAll<AuditEvent>(t, B, "/v1/audit-events", "auditEvents", 1000);
      const idsA = new Set(eventsA.map((e) => e.eventId));
      expect(eventsB.filter((e) => idsA.has(e.eventId))).toEqual([]);
      expect(new Set(eventsB.map((e) => e.tenantId))).toEqual(new Set([B]));
      const byResourceB = await readJson<{ auditEvents: AuditEvent[] }>(
        await t.as(B, "GET", `/v1/audit-events?resource_id=${validation.validationId}`),
        200,
      );
      expect(byResourceB.auditEvents).toEqual([]);

      // A's rule is untouched by B's attempts.
      const after = await readJson<Rule>(await t.as(A, "GET", `/v1/rules/${rule.ruleId}`), 200);
      expect(after).toMatchObject({ status: "ACTIVE", description: null, name: ruleName });
      await readJson(await t.as(A, "GET", `/v1/limits/${limit.limitId}`), 200);
    });

    it("each tenant has its own audit chain, starting at sequence 1, and it verifies", async () => {
      for (const tenant of [A, B]) {
        const events = await listAll<AuditEvent>(
          t,
          tenant,
          "/v1/audit-events?sort_order=asc",
          "auditEvents",
          1000,
        );
        expect(events.length).toBeGreaterThan(0);
        expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
        expect(new Set(events.map((e) => e.tenantId))).toEqual(new Set([tenant]));
        const verify = await readJson<{ isValid: boolean; totalChecked: number }>(
          await t.as(tenant, "GET", "/v1/audit-events/verify"),
          200,
        );
        expect(verify).toMatchObject({ isValid: true, totalChecked: events.length });
      }
    });

    it("tenant ids in headers, query and body never select a tenant", async () => {
      const rulesBBefore = (await listAll<Rule>(t, B, "/v1/rules", "rules", 100)).length;
      const injected = { "X-Tenant-ID": B, "X-Tenant": B, "tenant-id": B, "X-Tenant-Id": B };
      const rule = await createRule(t, A, `injected-header-${nonce}`, injected);
      await readJson(await t.as(A, "GET", `/v1/rules/${rule.ruleId}`, undefined, injected), 200);
      await expectProblem(await t.as(B, "GET", `/v1/rules/${rule.ruleId}`), 404, "RULE_NOT_FOUND");

      // Unknown query parameters and body fields are 400s (strict schemas): nothing reaches B.
      await expectProblem(await t.as(A, "GET", `/v1/rules?tenantId=${B}`), 400, "VALIDATION_ERROR");
      await expectProblem(await t.as(A, "GET", `/v1/audit-events?tenant_id=${B}`), 400, "VALIDATION_ERROR");
      for (const field of ["tenantId", "tenant_id"]) {
        await expectProblem(
          await t.as(A, "POST", "/v1/rules", {
            name: `injected-body-${field}-${nonce}`,
            expression: { ">": [{ var: "amount" }, 1] },
            action: "DENY",
            [field]: B,
          }),
          400,
          "VALIDATION_ERROR",
        );
      }
      // A second tenant claim under another name is not the configured claim: ignored.
      const both = await readJson<Rule>(
        await t.app.request("/v1/rules", {
          method: "POST",
          headers: {
            Authorization: `Bearer ${await token({ tenantId: A, tenant_id: B })}`,
            "Content-Type": "application/json",
          },
          body: JSON.stringify({
            name: `two-claims-${nonce}`,
            expression: { "==": [1, 1] },
            action: "REVIEW",
          }),
        }),
        201,
      );
      await readJson(await t.as(A, "GET", `/v1/rules/${both.ruleId}`), 200);

      const rulesB = await listAll<Rule>(t, B, "/v1/rules", "rules", 100);
      expect(rulesB.length).toBe(rulesBBefore);
      expect(rulesB.some((r) => r.name.startsWith("injected") || r.name.startsWith("two-claims"))).toBe(
        false,
      );
      const eventsA = await listAll<AuditEvent>(t, A, "/v1/audit-events", "auditEvents", 1000);
      expect(new Set(eventsA.map((e) => e.tenantId))).toEqual(new Set([A]));
    });

    it("pins every pooled connection to the tenant's schema (schema) or database (database)", async () => {
      const payload = manager.tenants.get(A)?.payload as {
        databases: Record<string, { postgresql: Record<string, string> }>;
      };
      const pg = payload.databases[SERVICE]!.postgresql;
      const lease = await t.tenants.resolve({
        actor: { id: "probe", actorType: "system", name: "probe" },
        tenantClaim: A,
      });
      try {
        // More concurrent queries than the pool has connections: every connection gets probed.
        const rows = await Promise.all(
          Array.from({ length: 8 }, () =>
            queryRows<{ sp: string; cs: string; db: string }>(
              lease.db,
              sql`select current_setting('search_path') as sp, current_schema() as cs, current_database() as db, pg_sleep(0.02)`,
            ),
          ),
        );
        for (const [row] of rows) {
          expect(row?.db).toBe(pg.database);
          if (mode === "schema") expect(row).toMatchObject({ sp: pg.schema, cs: pg.schema });
          else expect(row?.cs).toBe("public");
        }
        const [tables] = await queryRows<{ n: number }>(
          lease.db,
          sql`select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where c.relkind = 'r' and n.nspname = current_schema()
                and c.relname in ('rules', 'limits', 'limit_counters', 'transaction_validations', 'audit_events', 'audit_chain_heads', 'catalog_versions')`,
        );
        expect(tables?.n).toBe(7);
        // No foreign key of the tenant's namespace points into another namespace.
        const [fks] = await queryRows<{ n: number }>(
          lease.db,
          sql`select count(*)::int as n from pg_constraint c join pg_class r on r.oid = c.confrelid
              where c.contype = 'f' and c.connamespace = current_schema()::regnamespace
                and r.relnamespace <> c.connamespace`,
        );
        expect(fks?.n).toBe(0);
        if (mode === "schema") {
          const [journal] = await queryRows<{ n: number }>(
            lease.db,
            sql`select count(*)::int as n from ${sql.identifier(pg.schema!)}.__drizzle_migrations`,
          );
          expect(journal?.n).toBe(MIGRATIONS);
        }
      } finally {
        lease.release?.();
      }
    });

    it("unknown tenant → 404 TENANT_NOT_FOUND, not cached", async () => {
      const U = tenantId(mode, "unknown");
      const before = manager.calls.filter((c) => c === U).length;
      await expectProblem(await t.as(U, "GET", "/v1/rules"), 404, "TENANT_NOT_FOUND");
      await expectProblem(await t.as(U, "GET", "/v1/rules"), 404, "TENANT_NOT_FOUND");
      expect(manager.calls.filter((c) => c === U).length).toBe(before + 2);
      expect(t.tenants.registry.stats().tenants).not.toContain(U);
    });

    it("a tenant reported suspended gets 403, and revalidation closes its open pool", async () => {
      const S = tenantId(mode, "suspended");
      register(mode, S);
      await readJson(await t.as(S, "GET", "/v1/rules"), 200);
      expect(t.tenants.registry.stats().tenants).toContain(S);

      manager.tenants.get(S)!.behaviour = 403;
      // The periodic check (MULTI_TENANT_CONNECTIONS_CHECK_INTERVAL_SEC=1) notices and closes the pool.
      await eventually(() => !t.tenants.registry.stats().tenants.includes(S), 6_000);
      await eventually(() => t.tenants.registry.stats().draining === 0, 6_000);
      await expectProblem(await t.as(S, "GET", "/v1/rules"), 403, "TENANT_SUSPENDED");
      expect(t.tenants.registry.stats().tenants).not.toContain(S);

      // A 200 whose status is not "active" is a suspension too.
      const S2 = tenantId(mode, "suspended2");
      register(mode, S2, { status: "suspended" });
      await expectProblem(await t.as(S2, "GET", "/v1/rules"), 403, "TENANT_SUSPENDED");
    });

    it("changed credentials or settings → a new pool after revalidation, the old one drained", async () => {
      const C = tenantId(mode, "rotated");
      const payload = register(mode, C);
      const rule = await createRule(t, C, `before-rotation-${nonce}`);
      const replacedBefore = t.tenants.registry.stats().replaced;
      const pg = (payload.databases as Record<string, { connectionSettings: { maxOpenConns: number } }>)[
        SERVICE
      ]!;
      pg.connectionSettings.maxOpenConns = 3;
      await eventually(() => t.tenants.registry.stats().replaced > replacedBefore, 6_000);
      await eventually(() => t.tenants.registry.stats().draining === 0, 6_000);
      await readJson(await t.as(C, "GET", `/v1/rules/${rule.ruleId}`), 200);
      expect(t.tenants.registry.stats().tenants.filter((x) => x === C)).toEqual([C]);
    });

    it("a changed configuration that cannot connect leaves the working pool in place", async () => {
      const K = tenantId(mode, "badrotation");
      const payload = register(mode, K);
      const rule = await createRule(t, K, `before-bad-rotation-${nonce}`);
      const good = t.tenants.registry.configOf(K)?.fingerprint;
      const { replaced } = t.tenants.registry.stats();
      const pg = (payload.databases as Record<string, { postgresql: { port: number } }>)[SERVICE]!.postgresql;
      pg.port = 1; // nothing listens there
      // Let the periodic check (1 s) see and try the new configuration a few times.
      await t.tenants.revalidateAll();
      await new Promise((r) => setTimeout(r, 1_500));
      t.tenants.cache.invalidate(K); // requests now carry the broken configuration too
      for (let i = 0; i < 3; i++) await readJson(await t.as(K, "GET", `/v1/rules/${rule.ruleId}`), 200);
      expect(t.tenants.registry.configOf(K)?.fingerprint).toBe(good);
      expect(t.tenants.registry.stats().replaced).toBe(replaced);
    });
  });

  describe("circuit breaker around the tenant manager", () => {
    let t: MtApp;
    const id = (name: string) => `breaker-${name}-${nonce}`;

    beforeAll(async () => {
      register("schema", id("cached"));
      for (let i = 0; i < 8; i++) register(i % 2 ? "database" : "schema", id(`fresh${i}`));
      manager.tenants.set(id("suspended"), { payload: {}, behaviour: 403 });
      t = await createMtApp(adminUrl, manager, {
        MULTI_TENANT_CIRCUIT_BREAKER_THRESHOLD: "5",
        MULTI_TENANT_CIRCUIT_BREAKER_TIMEOUT_SEC: "1",
        MULTI_TENANT_TIMEOUT_SEC: "1",
        MULTI_TENANT_CACHE_TTL_SEC: "600",
        MULTI_TENANT_CONNECTIONS_CHECK_INTERVAL_SEC: "3600",
      });
    });
    afterAll(async () => {
      manager.override = undefined;
      await t?.close();
    });

    const calls = () => manager.calls.length;
    const readyz = async () =>
      readJson<{ status: string; checks: Record<string, unknown> }>(await t.app.request("/readyz"), 200);

    it("opens after 5 consecutive failures, fails fast with Retry-After, serves cached tenants, and closes after the timeout", async () => {
      await readJson(await t.as(id("cached"), "GET", "/v1/rules"), 200);

      // 404 and 403 are answers, not failures: many of them leave the breaker closed.
      for (let i = 0; i < 6; i++) {
        await expectProblem(await t.as(id(`nobody${i}`), "GET", "/v1/rules"), 404, "TENANT_NOT_FOUND");
        await expectProblem(await t.as(id("suspended"), "GET", "/v1/rules"), 403, "TENANT_SUSPENDED");
      }
      expect((await readyz()).checks.tenantManager).toBe(true);

      manager.override = 500;
      for (let i = 0; i < 4; i++) {
        const before = calls();
        const res = await t.as(id(`fresh${i}`), "GET", "/v1/rules");
        await expectProblem(res, 503, "SERVICE_UNAVAILABLE");
        expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
        expect(calls()).toBe(before + 1);
      }
      // 4 failures, then a 404 resets the streak (consecutive failures only).
      manager.override = 404;
      await expectProblem(await t.as(id("nobody-reset"), "GET", "/v1/rules"), 404, "TENANT_NOT_FOUND");
      manager.override = 500;
      for (let i = 0; i < 4; i++)
        await expectProblem(await t.as(id(`fresh${i}`), "GET", "/v1/rules"), 503, "SERVICE_UNAVAILABLE");
      expect((await readyz()).checks.tenantManager).toBe(true);
      // The 5th consecutive failure opens it.
      await expectProblem(await t.as(id("fresh4"), "GET", "/v1/rules"), 503, "SERVICE_UNAVAILABLE");

      const open = calls();
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        const res = await t.as(id(`fresh${i}`), "GET", "/v1/rules");
        await expectProblem(res, 503, "SERVICE_UNAVAILABLE");
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        expect(Date.now() - started).toBeLessThan(500);
      }
      expect(calls()).toBe(open);
      // Readiness reports the open circuit without failing: cached tenants are still served.
      const ready = await readyz();
      expect(ready.checks.tenantManager).toBe("circuit-open");
      await readJson(await t.as(id("cached"), "GET", "/v1/rules"), 200);
      expect(calls()).toBe(open);

      // After the timeout one probe goes through; success closes the circuit.
      manager.override = undefined;
      await new Promise((r) => setTimeout(r, 1_100));
      await readJson(await t.as(id("fresh5"), "GET", "/v1/rules"), 200);
      expect(calls()).toBe(open + 1);
      expect((await readyz()).checks.tenantManager).toBe(true);
      await readJson(await t.as(id("fresh6"), "GET", "/v1/rules"), 200);
    });

    it("a tenant manager slower than MULTI_TENANT_TIMEOUT_SEC → 503 within the timeout", async () => {
      manager.override = "slow";
      const started = Date.now();
      const res = await t.as(id("fresh7"), "GET", "/v1/rules");
      await expectProblem(res, 503, "SERVICE_UNAVAILABLE");
      expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(Date.now() - started).toBeLessThan(2_500);
      manager.override = undefined;
    });
  });

  describe.each(["database", "schema"] as const)("provisioning (%s mode)", (mode) => {
    it("is idempotent, and two concurrent provisionings of one tenant serialise", async () => {
      const id = tenantId(mode, "prov");
      const config = normaliseTenantConfig(tenantPayload(adminUrl, id, newTarget(mode)), id, SERVICE);
      // Two provisioners = two instances: the advisory locks, not in-process memory, serialise them.
      const [one, two] = await Promise.all([
        createProvisioner().provision(config),
        createProvisioner().provision(config),
      ]);
      expect([one.created, two.created].sort()).toEqual([false, true]);
      expect(one.migrationsApplied + two.migrationsApplied).toBe(MIGRATIONS);
      expect([one.migrationsApplied, two.migrationsApplied]).toContain(0);
      const again = await createProvisioner().provision(config);
      expect(again).toMatchObject({ created: false, migrationsApplied: 0 });

      // A second tenant in the same database/server gets its own tables and journal (drizzle's
      // shared journal would silently skip it).
      const id2 = tenantId(mode, "prov2");
      const config2 = normaliseTenantConfig(tenantPayload(adminUrl, id2, newTarget(mode)), id2, SERVICE);
      expect(await createProvisioner().provision(config2)).toMatchObject({
        created: true,
        migrationsApplied: MIGRATIONS,
      });
    });
  });

  describe("tenants file, wired by createDeps (the composition root main.ts uses)", () => {
    it("serves tenants of both modes from the file, 404 for others, 403 for suspended ones", async () => {
      const dir = mkdtempSync(join(tmpdir(), "verdict-mt-"));
      const file = join(dir, "tenants.json");
      const ids = { db: `file-db-${nonce}`, schema: `file-schema-${nonce}`, off: `file-off-${nonce}` };
      writeFileSync(
        file,
        JSON.stringify({
          tenants: {
            [ids.db]: tenantPayload(adminUrl, ids.db, newTarget("database")),
            [ids.schema]: tenantPayload(adminUrl, ids.schema, newTarget("schema")),
            [ids.off]: tenantPayload(adminUrl, ids.off, newTarget("schema"), { status: "suspended" }),
          },
        }),
      );
      const config = loadConfig({
        JWT_SECRET: TEST_JWT_SECRET,
        JWT_AUDIENCE: AUDIENCE,
        DATABASE_URL: adminUrl,
        MULTI_TENANT_ENABLED: "true",
        MULTI_TENANT_TENANTS_FILE: file,
        LOG_LEVEL: "silent",
      });
      const deps = await createDeps(config, createLogger("silent"));
      const app = createApp(deps);
      const as = async (id: string, method: string, path: string, body?: unknown) =>
        app.request(path, {
          method,
          headers: {
            Authorization: `Bearer ${await token({ tenantId: id })}`,
            ...(body ? { "Content-Type": "application/json" } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
      try {
        const ready = await readJson<{ checks: Record<string, unknown> }>(await app.request("/readyz"), 200);
        expect(ready.checks).toMatchObject({ database: true, tenantManager: true });
        const rule = { name: `file-${nonce}`, expression: { "==": [1, 1] }, action: "REVIEW" };
        const a = await readJson<Rule>(await as(ids.db, "POST", "/v1/rules", rule), 201);
        const b = await readJson<Rule>(await as(ids.schema, "POST", "/v1/rules", rule), 201);
        await expectProblem(await as(ids.schema, "GET", `/v1/rules/${a.ruleId}`), 404, "RULE_NOT_FOUND");
        await expectProblem(await as(ids.db, "GET", `/v1/rules/${b.ruleId}`), 404, "RULE_NOT_FOUND");
        await expectProblem(await as(`file-none-${nonce}`, "GET", "/v1/rules"), 404, "TENANT_NOT_FOUND");
        await expectProblem(await as(ids.off, "GET", "/v1/rules"), 403, "TENANT_SUSPENDED");
      } finally {
        await deps.close();
      }
    });
  });

  describe.runIf(!!testRedisUrl)("tenant events over Redis", () => {
    it("a suspension seen by one instance closes the tenant's pool on the other at once", async () => {
      const redis = new URL(testRedisUrl ?? "redis://127.0.0.1:6379");
      const env = {
        MULTI_TENANT_REDIS_HOST: redis.hostname,
        MULTI_TENANT_REDIS_PORT: redis.port || "6379",
        MULTI_TENANT_CONNECTIONS_CHECK_INTERVAL_SEC: "3600",
        MULTI_TENANT_CACHE_TTL_SEC: "600",
      };
      const R = `redis-r-${nonce}`;
      register("schema", R);
      const one = await createMtApp(adminUrl, manager, env);
      const two = await createMtApp(adminUrl, manager, env);
      try {
        await readJson(await one.as(R, "GET", "/v1/rules"), 200);
        await readJson(await two.as(R, "GET", "/v1/rules"), 200);
        manager.tenants.get(R)!.behaviour = 403;
        await one.tenants.revalidateAll();
        expect(one.tenants.registry.stats().tenants).not.toContain(R);
        // Instance two never revalidates (1 h interval): the event does it.
        await eventually(() => !two.tenants.registry.stats().tenants.includes(R), 3_000);
        await expectProblem(await two.as(R, "GET", "/v1/rules"), 403, "TENANT_SUSPENDED");
      } finally {
        await one.close();
        await two.close();
      }
    });
  });
});
