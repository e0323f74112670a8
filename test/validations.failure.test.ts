/**
 * FAILURE_POSTURE (CONTRACT §1, issue 6 item 5) with a dead database: each app here runs on its
 * own test database whose handle is closed, so other tests are unaffected. `closed` answers 503
 * problem+json with Retry-After; `open` answers ALLOW with degraded: true and a degradedReason,
 * logged and counted in verdict_degraded_decisions_total. Covered both when the database is dead
 * before the first validation (the catalog cannot load) and when it dies after the catalog was
 * cached (the posture then applies at commit). /readyz reports the failed database check.
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { createTestApp, openTestDatabase, type TestApp, type TestDatabase } from "./harness.js";

const opened: TestDatabase[] = [];
const apps: TestApp[] = [];
afterAll(async () => {
  for (const app of apps) await app.close();
  // A handle closed by a test may refuse a second close; the scratch database is still dropped.
  for (const db of opened) await db.close().catch(() => {});
});

/** A database this test owns; killing it affects no other app. */
async function ownDatabase(): Promise<TestDatabase> {
  const db = await openTestDatabase();
  opened.push(db);
  return db;
}

/** An app on its own database (its resolver pings that database for /readyz). */
async function appOn(db: TestDatabase, posture: "open" | "closed", cachedCatalog = false): Promise<TestApp> {
  const app = await createTestApp(
    { FAILURE_POSTURE: posture },
    // A long poll keeps a loaded catalog cached, so after the database dies the failure surfaces
    // deterministically at commit rather than at the catalog's next version check.
    { existing: db, ...(cachedCatalog ? { domain: { catalogPollMs: 3_600_000 } } : {}) },
  );
  apps.push(app);
  return app;
}

const kill = (db: TestDatabase) => db.handle.close();

/** Warnings and errors the app logged, to explain an unexpected status. */
const problemsLogged = (app: TestApp) =>
  app.logs
    .filter((l) => /"level":(40|50)/.test(l))
    .join("\n")
    .slice(0, 4000);

function tx(amount = "10.00", requestId: string = randomUUID()) {
  return {
    requestId,
    transactionType: "CARD",
    amount,
    currency: "BRL",
    transactionTimestamp: new Date().toISOString(),
    account: { accountId: randomUUID() },
  };
}

async function degradedCount(app: TestApp, reason: string): Promise<number> {
  const text = await (await app.app.request("/metrics")).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`verdict_degraded_decisions_total{reason="${reason}",tenant="default"}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

async function expectUnavailable(res: Response): Promise<void> {
  expect(res.status).toBe(503);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const retryAfter = res.headers.get("retry-after");
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThan(0);
  const body = (await res.json()) as { status: number; code: string; requestId: string };
  expect(body).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE" });
  expect(body.requestId).toBe(res.headers.get("x-request-id"));
}

type Degraded = {
  validationId: string | null;
  requestId: string;
  decision: string;
  degraded: boolean;
  degradedReason?: string;
  auditSequence: number | null;
  auditHash: string | null;
  matchedRuleIds: string[];
  limitUsageDetails: unknown[];
};

async function expectDegraded(res: Response, requestId: string, reason: string): Promise<Degraded> {
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  const body = (await res.json()) as Degraded;
  expect(body).toMatchObject({
    requestId,
    decision: "ALLOW",
    degraded: true,
    degradedReason: reason,
    validationId: null,
    auditSequence: null,
    auditHash: null,
  });
  return body;
}

async function expectNotReady(app: TestApp): Promise<void> {
  const res = await app.app.request("/readyz");
  expect(res.status).toBe(503);
  expect(await res.json()).toMatchObject({ status: "unavailable", checks: { database: false } });
}

describe("the database is dead before the first validation", () => {
  it("/readyz is 200 while the database answers and 503 once it is gone", async () => {
    const db = await ownDatabase();
    const app = await appOn(db, "closed");
    const ok = await app.app.request("/readyz");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: "ready", checks: { database: true } });
    await kill(db);
    await expectNotReady(app);
  });

  it("FAILURE_POSTURE=closed → 503 SERVICE_UNAVAILABLE with Retry-After; nothing counted as degraded", async () => {
    const db = await ownDatabase();
    const app = await appOn(db, "closed");
    await kill(db);
    await expectUnavailable(await app.request("POST", "/v1/validations", tx()));
    expect(app.logs.join("")).toContain("validation failed closed");
    expect(await degradedCount(app, "catalog_unavailable")).toBe(0);
    expect(await degradedCount(app, "database_unavailable")).toBe(0);
    // Bad input is still a 400: the request is checked before any dependency is touched.
    const bad = await app.request("POST", "/v1/validations", { ...tx(), amount: "-1" });
    expect(bad.status).toBe(400);
    await expectNotReady(app);
  });

  it("FAILURE_POSTURE=open → 200 ALLOW degraded with a reason, logged and counted in the metric", async () => {
    const db = await ownDatabase();
    const app = await appOn(db, "open");
    await kill(db);
    expect(await degradedCount(app, "catalog_unavailable")).toBe(0);
    const body = tx("999999.99");
    const first = await expectDegraded(
      await app.request("POST", "/v1/validations", body),
      body.requestId,
      "catalog_unavailable",
    );
    expect(first.matchedRuleIds).toEqual([]);
    expect(first.limitUsageDetails).toEqual([]);
    expect(await degradedCount(app, "catalog_unavailable")).toBe(1);
    const second = tx();
    await expectDegraded(
      await app.request("POST", "/v1/validations", second),
      second.requestId,
      "catalog_unavailable",
    );
    expect(await degradedCount(app, "catalog_unavailable")).toBe(2);
    const logs = app.logs.join("");
    expect(logs).toContain("validation answered ALLOW in degraded mode");
    expect(logs).toContain(body.requestId);
    // Bad input is not fail-opened: it is still a 400.
    const bad = await app.request("POST", "/v1/validations", { ...tx(), currency: "ABC" });
    expect(bad.status).toBe(400);
    expect(await degradedCount(app, "catalog_unavailable")).toBe(2);
    await expectNotReady(app);
  });
});

describe("the database dies after the catalog was cached: the posture applies at commit", () => {
  async function setup(posture: "open" | "closed") {
    const db = await ownDatabase();
    const app = await appOn(db, posture, true);
    const acc = randomUUID();
    const created = await app.request("POST", "/v1/rules", {
      name: "big",
      expression: { ">": [{ var: "amount" }, 1000] },
      action: "REVIEW",
      scopes: [{ accountId: acc }],
    });
    expect(created.status).toBe(201);
    const { ruleId } = (await created.json()) as { ruleId: string };
    expect((await app.request("POST", `/v1/rules/${ruleId}/activate`)).status).toBe(200);
    const firstBody = { ...tx("5000.00"), account: { accountId: acc } };
    const first = await app.request("POST", "/v1/validations", firstBody);
    expect(first.status, problemsLogged(app)).toBe(201);
    expect(await first.json()).toMatchObject({ decision: "REVIEW", degraded: false });
    await kill(db);
    return { app, acc, firstBody };
  }

  it("FAILURE_POSTURE=closed → 503 for new requests, replays and a concurrent burst", async () => {
    const { app, acc, firstBody } = await setup("closed");
    await expectUnavailable(
      await app.request("POST", "/v1/validations", { ...tx("5000.00"), account: { accountId: acc } }),
    );
    await expectUnavailable(await app.request("POST", "/v1/validations", firstBody));
    const burst = await Promise.all(
      Array.from({ length: 10 }, () => app.request("POST", "/v1/validations", tx())),
    );
    for (const res of burst) await expectUnavailable(res);
    expect(await degradedCount(app, "database_unavailable")).toBe(0);
    await expectNotReady(app);
  });

  it("FAILURE_POSTURE=open → ALLOW degraded (database_unavailable) even where a REVIEW rule matches", async () => {
    const { app, acc } = await setup("open");
    const body = { ...tx("5000.00"), account: { accountId: acc } };
    await expectDegraded(
      await app.request("POST", "/v1/validations", body),
      body.requestId,
      "database_unavailable",
    );
    expect(await degradedCount(app, "database_unavailable")).toBe(1);
    const burst = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const b = tx();
        return { b, res: await app.request("POST", "/v1/validations", b) };
      }),
    );
    for (const { b, res } of burst) await expectDegraded(res, b.requestId, "database_unavailable");
    expect(await degradedCount(app, "database_unavailable")).toBe(11);
    expect(await degradedCount(app, "catalog_unavailable")).toBe(0);
    expect(app.logs.join("")).toContain("validation answered ALLOW in degraded mode");
    await expectNotReady(app);
  });
});
