/**
 * Admission control: at most MAX_PENDING_VALIDATIONS of a tenant's validations are in progress on
 * one instance; beyond that a validation is refused at once with 503 problem+json and
 * Retry-After, whatever FAILURE_POSTURE says (overload is not a dependency failure, and a
 * fail-open ALLOW under load would let a flood skip every rule and limit). A refused validation
 * leaves nothing behind: no record, no audit event, no consumption, so its retry is a first try.
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "./harness.js";

const apps: TestApp[] = [];
afterAll(async () => {
  for (const app of apps) await app.close();
});

async function appWith(maxPending: number, posture: "open" | "closed" = "closed"): Promise<TestApp> {
  const app = await createTestApp({
    MAX_PENDING_VALIDATIONS: String(maxPending),
    FAILURE_POSTURE: posture,
  });
  apps.push(app);
  return app;
}

function tx(requestId: string = randomUUID(), transactionTimestamp = new Date().toISOString()) {
  return {
    requestId,
    transactionType: "CARD",
    amount: "10.00",
    currency: "BRL",
    transactionTimestamp,
    account: { accountId: randomUUID() },
  };
}

async function shedCount(app: TestApp): Promise<number> {
  const text = await (await app.app.request("/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith('verdict_validations_shed_total{tenant="default"}'));
  return line ? Number(line.split(" ").pop()) : 0;
}

async function storedRequestIds(app: TestApp): Promise<string[]> {
  const res = await app.request("GET", "/v1/validations?limit=1000");
  expect(res.status).toBe(200);
  const body = (await res.json()) as { transactionValidations: { requestId: string }[] };
  return body.transactionValidations.map((v) => v.requestId);
}

async function expectChainValid(app: TestApp, events: number): Promise<void> {
  const res = await app.request("GET", "/v1/audit-events/verify");
  expect(await res.json()).toMatchObject({ isValid: true, totalChecked: events });
}

describe.each(["closed", "open"] as const)("MAX_PENDING_VALIDATIONS with FAILURE_POSTURE=%s", (posture) => {
  it("refuses validations beyond the bound with 503 and Retry-After, and records only the admitted", async () => {
    const app = await appWith(2, posture);
    const bodies = Array.from({ length: 30 }, () => tx());
    const responses = await Promise.all(bodies.map((b) => app.request("POST", "/v1/validations", b)));

    const created = responses.flatMap((r, i) => (r.status === 201 ? [bodies[i]!.requestId] : []));
    const shed = responses.flatMap((r, i) => (r.status === 503 ? [i] : []));
    expect(created.length + shed.length).toBe(30);
    // Thirty arrive together and every admitted one waits for a commit: most cannot be admitted.
    expect(shed.length).toBeGreaterThan(0);
    expect(created.length).toBeGreaterThan(0);
    for (const i of shed) {
      const res = responses[i]!;
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(res.headers.get("retry-after")).toBe("1");
      expect(await res.json()).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE" });
    }
    expect(await shedCount(app)).toBe(shed.length);

    // Only the admitted ones were recorded and audited.
    expect((await storedRequestIds(app)).sort()).toEqual([...created].sort());
    await expectChainValid(app, created.length);

    // A refused requestId retried once there is room is a first attempt: 201, not a replay or 409.
    const retried = bodies[shed[0]!]!;
    const again = await app.request("POST", "/v1/validations", retried);
    expect(again.status).toBe(201);
    expect(await again.json()).toMatchObject({ requestId: retried.requestId, degraded: false });
    await expectChainValid(app, created.length + 1);
  });
});

describe("a validation leaves the count however it ends", () => {
  it("a rejected request (400) and a conflict (409) free their place", async () => {
    const app = await appWith(1);
    const stale = await app.request(
      "POST",
      "/v1/validations",
      tx(randomUUID(), new Date(Date.now() + 3_600_000).toISOString()),
    );
    expect(stale.status).toBe(400);

    const first = tx();
    expect((await app.request("POST", "/v1/validations", first)).status).toBe(201);
    const conflict = await app.request("POST", "/v1/validations", { ...first, amount: "11.00" });
    expect(conflict.status).toBe(409);
    const replay = await app.request("POST", "/v1/validations", first);
    expect(replay.status).toBe(200);

    // Sequential requests with a bound of one: each would be refused if an earlier one had leaked.
    for (let i = 0; i < 5; i++) {
      expect((await app.request("POST", "/v1/validations", tx())).status).toBe(201);
    }
    expect(await shedCount(app)).toBe(0);
  });

  it("rejects a bound that is not a positive integer at boot", async () => {
    await expect(createTestApp({ MAX_PENDING_VALIDATIONS: "0" })).rejects.toThrow(/MAX_PENDING_VALIDATIONS/);
    await expect(createTestApp({ MAX_PENDING_VALIDATIONS: "1.5" })).rejects.toThrow(
      /MAX_PENDING_VALIDATIONS/,
    );
  });
});
