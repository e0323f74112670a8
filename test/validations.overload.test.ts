/**
 * Admission control: at most MAX_PENDING_VALIDATIONS of a tenant's validations are in progress on
 * one instance; beyond that a validation is answered at once as FAILURE_POSTURE says: `closed`
 * refuses it with 503 problem+json and Retry-After, `open` answers a degraded ALLOW
 * (degradedReason "overloaded"). Either way it leaves nothing behind: no record, no audit event,
 * no consumption, so its retry is a first try. (Held places after a commit timeout:
 * src/validations/admission.test.ts.)
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
  it("answers validations beyond the bound at once as the posture says, and records only the admitted", async () => {
    const app = await appWith(2, posture);
    const bodies = Array.from({ length: 30 }, () => tx());
    const responses = await Promise.all(bodies.map((b) => app.request("POST", "/v1/validations", b)));

    const created = responses.flatMap((r, i) => (r.status === 201 ? [bodies[i]!.requestId] : []));
    const shedStatus = posture === "closed" ? 503 : 200;
    const shed = responses.flatMap((r, i) => (r.status === shedStatus ? [i] : []));
    expect(created.length + shed.length).toBe(30);
    // Thirty arrive together and every admitted one waits for a commit: most cannot be admitted.
    expect(shed.length).toBeGreaterThan(0);
    expect(created.length).toBeGreaterThan(0);
    for (const i of shed) {
      const res = responses[i]!;
      if (posture === "closed") {
        expect(res.headers.get("content-type")).toContain("application/problem+json");
        expect(res.headers.get("retry-after")).toBe("1");
        expect(await res.json()).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE" });
      } else {
        expect(await res.json()).toMatchObject({
          requestId: bodies[i]!.requestId,
          decision: "ALLOW",
          degraded: true,
          degradedReason: "overloaded",
          validationId: null,
          auditSequence: null,
        });
      }
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
