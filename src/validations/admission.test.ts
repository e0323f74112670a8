/**
 * MAX_PENDING_VALIDATIONS at the service, with a database whose commit hangs until the test lets
 * it fail: a validation that timed out still holds its place while its commit job is queued (the
 * job may yet commit), and gives it back once the job settles. The route-level behaviour (503 or
 * degraded ALLOW, nothing recorded) is in test/validations.overload.test.ts.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CatalogCache, CompiledCatalog } from "../catalog/catalog-cache.js";
import { loadConfig } from "../config.js";
import type { Database } from "../db/database.js";
import { AppError } from "../errors.js";
import { createLogger } from "../observability/logger.js";
import { createMetrics } from "../observability/metrics.js";
import { buildRuleSet } from "../rules/rule-set.js";
import type { TenantContext } from "../tenancy/tenant-context.js";
import { COMMIT_TIMEOUT_MS } from "./failures.js";
import { ValidationRequestBody } from "./validation.schemas.js";
import { createValidationsService } from "./validations.service.js";

const catalog: CompiledCatalog = { version: 1, ruleSet: buildRuleSet([]), limits: [], limitsById: new Map() };
const catalogs = {
  get: async () => catalog,
  invalidate: () => {},
  size: () => 1,
  close: () => {},
} satisfies CatalogCache;

/** A database whose every transaction hangs until `failAll` makes the hanging ones fail. */
function hangingDatabase() {
  const hanging: ((err: Error) => void)[] = [];
  const db = {
    transaction: () => new Promise((_resolve, reject) => hanging.push(reject)),
  } as unknown as Database;
  return {
    db,
    started: () => hanging.length,
    failAll: () => {
      for (const reject of hanging.splice(0)) reject(new Error("connection lost"));
    },
  };
}

function input() {
  return ValidationRequestBody.parse({
    requestId: randomUUID(),
    transactionType: "CARD",
    amount: "10.00",
    currency: "BRL",
    transactionTimestamp: new Date().toISOString(),
    account: { accountId: randomUUID() },
  });
}

function setup(posture: "open" | "closed") {
  const config = loadConfig({
    MAX_PENDING_VALIDATIONS: "1",
    FAILURE_POSTURE: posture,
    API_KEY: "k".repeat(32),
  });
  const service = createValidationsService({
    config,
    logger: createLogger("silent"),
    metrics: createMetrics({ processMetrics: false }),
    catalogs,
  });
  const database = hangingDatabase();
  const tenant: TenantContext = {
    tenantId: "t1",
    db: database.db,
    actor: { id: "tester", actorType: "api_key", name: "tester" },
  };
  return { service, database, tenant };
}

/** Lets queued callbacks run (the commit queue hands batches on with setImmediate). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe("a validation's place in MAX_PENDING_VALIDATIONS", () => {
  it("is held by its commit job after a timeout and given back when the job settles", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { service, database, tenant } = setup("closed");

    const first = service.validate(tenant, input());
    const firstFailed = expect(first).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    await settle();
    expect(database.started()).toBe(1);
    await vi.advanceTimersByTimeAsync(COMMIT_TIMEOUT_MS);
    await firstFailed;

    // The first caller has its 503, but its job still waits on the database: no room yet.
    const refused = service.validate(tenant, input());
    await expect(refused).rejects.toBeInstanceOf(AppError);
    await expect(refused).rejects.toThrow(/Too many validations in progress/);
    expect(database.started()).toBe(1);

    // The job fails; its place is free again and the next validation reaches the database.
    database.failAll();
    await settle();
    const next = service.validate(tenant, input());
    const nextFailed = expect(next).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    await settle();
    expect(database.started()).toBe(1);
    database.failAll();
    await nextFailed;
    await service.drain();
  });

  it("answers a degraded ALLOW beyond the bound under FAILURE_POSTURE=open", async () => {
    const { service, database, tenant } = setup("open");
    const first = service.validate(tenant, input());
    await settle();
    expect(database.started()).toBe(1);

    const body = input();
    const overloaded = await service.validate(tenant, body);
    expect(overloaded.kind).toBe("degraded");
    expect(JSON.parse((overloaded as { body: string }).body)).toMatchObject({
      requestId: body.requestId,
      decision: "ALLOW",
      degraded: true,
      degradedReason: "overloaded",
      validationId: null,
    });
    expect(database.started()).toBe(1);

    database.failAll();
    // A lost connection under `open` is a degraded ALLOW too.
    expect((await first).kind).toBe("degraded");
    await service.drain();
  });
});
