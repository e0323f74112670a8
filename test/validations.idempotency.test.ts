/**
 * Idempotency by requestId (CONTRACT §5): 201 the first time; 200 with the byte-identical stored
 * body on a replay of the same request; 409 IDEMPOTENCY_CONFLICT for the same requestId with a
 * different body, changing nothing; and concurrent duplicates, on one instance or on two sharing
 * a database, produce exactly one record, one audit event and one consumption.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "./harness.js";

type ValidationResponse = {
  validationId: string;
  requestId: string;
  decision: string;
  reason: string;
  auditSequence: number;
  auditHash: string;
};

const gt = (n: number) => ({ ">": [{ var: "amount" }, n] });

async function json<T>(app: TestApp, method: string, path: string, body?: unknown, status = 200): Promise<T> {
  const res = await app.request(method, path, body);
  const text = await res.text();
  expect(res.status, `${method} ${path}: ${text}`).toBe(status);
  return JSON.parse(text) as T;
}

async function activeRule(
  app: TestApp,
  action: string,
  expression: unknown,
  accountId: string,
): Promise<string> {
  const { ruleId } = await json<{ ruleId: string }>(
    app,
    "POST",
    "/v1/rules",
    { name: `rule-${randomUUID()}`, action, expression, scopes: [{ accountId }] },
    201,
  );
  await json(app, "POST", `/v1/rules/${ruleId}/activate`);
  return ruleId;
}

async function dailyLimit(app: TestApp, maxAmount: string, accountId: string): Promise<string> {
  const { limitId } = await json<{ limitId: string }>(
    app,
    "POST",
    "/v1/limits",
    {
      name: `limit-${randomUUID()}`,
      limitType: "DAILY",
      maxAmount,
      currency: "BRL",
      scopes: [{ accountId }],
    },
    201,
  );
  await json(app, "POST", `/v1/limits/${limitId}/activate`);
  return limitId;
}

const usage = async (app: TestApp, limitId: string) =>
  (await json<{ currentUsage: string }>(app, "GET", `/v1/limits/${limitId}/usage`)).currentUsage;

/** What the database holds for a requestId / account: it must not move on a replay or a 409. */
async function state(app: TestApp, accountId: string, limitId?: string) {
  const list = await json<{ transactionValidations: { validationId: string; requestId: string }[] }>(
    app,
    "GET",
    `/v1/validations?account_id=${accountId}&limit=1000`,
  );
  const events = await json<{ auditEvents: { sequence: number; resourceId: string; hash: string }[] }>(
    app,
    "GET",
    "/v1/audit-events?event_type=TRANSACTION_VALIDATED&limit=1000",
  );
  return {
    validations: list.transactionValidations,
    events: events.auditEvents.length,
    head: events.auditEvents[0]?.hash,
    usage: limitId ? await usage(app, limitId) : undefined,
  };
}

async function eventsFor(app: TestApp, validationId: string) {
  return (
    await json<{ auditEvents: { sequence: number; hash: string }[] }>(
      app,
      "GET",
      `/v1/audit-events?resource_id=${validationId}`,
    )
  ).auditEvents;
}

interface RaceResult {
  status: number;
  text: string;
  amount: string | number;
}

/**
 * One requestId raced with two bodies: exactly one 201; the same body replays it byte for byte
 * (200), the other body is a 409 IDEMPOTENCY_CONFLICT. Returns the 201.
 */
function oneWinner(results: RaceResult[]): RaceResult {
  const created = results.filter((r) => r.status === 201);
  expect(created).toHaveLength(1);
  const winner = created[0]!;
  for (const r of results) {
    if (r === winner) continue;
    if (r.amount === winner.amount) {
      expect(r.status).toBe(200);
      expect(r.text).toBe(winner.text);
    } else {
      expect(r.status).toBe(409);
      expect(JSON.parse(r.text)).toMatchObject({ code: "IDEMPOTENCY_CONFLICT" });
    }
  }
  return winner;
}

function tx(accountId: string, amount: string | number, extra: Record<string, unknown> = {}) {
  return {
    requestId: randomUUID(),
    transactionType: "CARD",
    amount,
    currency: "BRL",
    transactionTimestamp: new Date().toISOString(),
    account: { accountId },
    ...extra,
  };
}

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe("replays", () => {
  it("same requestId + same body → 200 with the byte-identical body of the first 201", async () => {
    const acc = randomUUID();
    const limitId = await dailyLimit(t, "1000.00", acc);
    const body = tx(acc, "60.00", { merchant: { merchantId: randomUUID(), category: "5411" } });
    const first = await t.request("POST", "/v1/validations", body);
    expect(first.status).toBe(201);
    const firstText = await first.text();
    const before = await state(t, acc, limitId);
    expect(before.usage).toBe("60.00");

    for (let i = 0; i < 3; i++) {
      const again = await t.request("POST", "/v1/validations", body);
      expect(again.status).toBe(200);
      expect(again.headers.get("content-type")).toContain("application/json");
      expect(await again.text()).toBe(firstText);
    }
    expect(await state(t, acc, limitId)).toEqual(before);
    expect(before.validations).toHaveLength(1);
  });

  it('amount "60.00" and 60 (JSON number) are the same body; so are reordered keys and "brl"', async () => {
    const acc = randomUUID();
    const limitId = await dailyLimit(t, "1000.00", acc);
    const body = tx(acc, "60.00", { metadata: { a: 1, b: "x" } });
    const first = await t.request("POST", "/v1/validations", body);
    expect(first.status).toBe(201);
    const firstText = await first.text();
    const before = await state(t, acc, limitId);

    const variants = [
      { ...body, amount: 60 },
      { ...body, amount: "60" },
      { ...body, amount: 60.0, currency: "brl" },
      Object.fromEntries(Object.entries({ ...body, metadata: { b: "x", a: 1 } }).reverse()),
      { ...body, requestId: body.requestId.toUpperCase() },
    ];
    for (const variant of variants) {
      const res = await t.request("POST", "/v1/validations", variant);
      expect(res.status, JSON.stringify(variant)).toBe(200);
      expect(await res.text()).toBe(firstText);
    }
    expect(await state(t, acc, limitId)).toEqual(before);
    expect(before.usage).toBe("60.00");
  });

  it("a replay returns the stored decision even after the catalog changed", async () => {
    const acc = randomUUID();
    const body = tx(acc, "10.00");
    const first = await t.request("POST", "/v1/validations", body);
    expect(first.status).toBe(201);
    const firstText = await first.text();
    expect(JSON.parse(firstText)).toMatchObject({ decision: "ALLOW" });
    await activeRule(t, "DENY", gt(0), acc);
    expect(
      (await json<ValidationResponse>(t, "POST", "/v1/validations", tx(acc, "10.00"), 201)).decision,
    ).toBe("DENY");
    const replay = await t.request("POST", "/v1/validations", body);
    expect(replay.status).toBe(200);
    expect(await replay.text()).toBe(firstText);
  });

  it("DENY and REVIEW decisions replay identically too", async () => {
    const acc = randomUUID();
    await activeRule(t, "REVIEW", gt(100), acc);
    await activeRule(t, "DENY", gt(1000), acc);
    for (const [amount, decision] of [
      ["500.00", "REVIEW"],
      ["5000.00", "DENY"],
    ] as const) {
      const body = tx(acc, amount);
      const first = await t.request("POST", "/v1/validations", body);
      expect(first.status).toBe(201);
      const text = await first.text();
      expect(JSON.parse(text)).toMatchObject({ decision });
      const again = await t.request("POST", "/v1/validations", body);
      expect(again.status).toBe(200);
      expect(await again.text()).toBe(text);
    }
  });
});

describe("conflicts", () => {
  it("same requestId + different body → 409 IDEMPOTENCY_CONFLICT and nothing changes", async () => {
    const acc = randomUUID();
    const limitId = await dailyLimit(t, "1000.00", acc);
    const body = tx(acc, "60.00");
    const first = await t.request("POST", "/v1/validations", body);
    expect(first.status).toBe(201);
    const firstText = await first.text();
    const { validationId } = JSON.parse(firstText) as ValidationResponse;
    const before = await state(t, acc, limitId);
    const record = await json<unknown>(t, "GET", `/v1/validations/${validationId}`);

    const different = [
      { ...body, amount: "61.00" },
      { ...body, amount: "0.60" },
      { ...body, currency: "USD" },
      { ...body, transactionType: "PIX" },
      { ...body, subType: "debit" },
      { ...body, transactionTimestamp: new Date(Date.parse(body.transactionTimestamp) - 1).toISOString() },
      { ...body, account: { accountId: randomUUID() } },
      { ...body, account: { ...body.account, type: "checking" } },
      { ...body, metadata: { note: "x" } },
      { ...body, merchant: { merchantId: randomUUID() } },
    ];
    for (const variant of different) {
      const res = await t.request("POST", "/v1/validations", variant);
      expect(res.status, JSON.stringify(variant)).toBe(409);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(await res.json()).toMatchObject({ status: 409, code: "IDEMPOTENCY_CONFLICT" });
    }
    expect(await state(t, acc, limitId)).toEqual(before);
    expect(await json<unknown>(t, "GET", `/v1/validations/${validationId}`)).toEqual(record);
    expect(await eventsFor(t, validationId)).toHaveLength(1);

    const replay = await t.request("POST", "/v1/validations", body);
    expect(replay.status).toBe(200);
    expect(await replay.text()).toBe(firstText);
  });
});

describe("concurrent duplicates", () => {
  it("20 identical requests at once → one 201, nineteen 200 with the identical body; one record, event, consumption", async () => {
    const acc = randomUUID();
    const limitId = await dailyLimit(t, "1000.00", acc);
    const body = tx(acc, "60.00");
    const results = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await t.request("POST", "/v1/validations", body);
        return { status: res.status, text: await res.text() };
      }),
    );
    const created = results.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    const replays = results.filter((r) => r.status === 200);
    expect(replays).toHaveLength(19);
    for (const r of replays) expect(r.text).toBe(created[0]!.text);

    const { validationId } = JSON.parse(created[0]!.text) as ValidationResponse;
    const after = await state(t, acc, limitId);
    expect(after.validations.map((v) => v.validationId)).toEqual([validationId]);
    expect(await eventsFor(t, validationId)).toHaveLength(1);
    expect(after.usage).toBe("60.00");
  });

  it("concurrent duplicates with two different bodies → one 201; same-body ones 200, the others 409", async () => {
    const acc = randomUUID();
    const limitId = await dailyLimit(t, "1000.00", acc);
    const a = tx(acc, "10.00");
    const b = { ...a, amount: "20.00" };
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const body = i % 2 === 0 ? a : b;
        const res = await t.request("POST", "/v1/validations", body);
        return { status: res.status, text: await res.text(), amount: body.amount };
      }),
    );
    const winner = oneWinner(results);
    const after = await state(t, acc, limitId);
    expect(after.validations).toHaveLength(1);
    expect(after.usage).toBe(winner.amount);
  });

  describe("two app instances sharing one database", () => {
    let b: TestApp;
    /**
     * A catalog change made through one instance reaches the other within one second (CONTRACT
     * §3); the races below are about the commit path, so let the change propagate first.
     */
    const propagation = () => new Promise((resolve) => setTimeout(resolve, 1_100));
    beforeAll(async () => {
      b = await createTestApp({}, { existing: t.db });
    });
    afterAll(async () => {
      await b?.close();
    });

    it("20 identical requests split across both → exactly one record, event and consumption (repeated)", async () => {
      const acc = randomUUID();
      const limitId = await dailyLimit(t, "100000.00", acc);
      await activeRule(t, "ALLOW", gt(0), acc);
      await propagation();
      const apps = [t, b];
      const rounds = 8;
      let expectedUsage = 0;
      const createdIds: string[] = [];
      for (let round = 0; round < rounds; round++) {
        const amount = 10 + round;
        const body = tx(acc, `${amount}.00`);
        const results = await Promise.all(
          Array.from({ length: 20 }, async (_, i) => {
            const res = await apps[i % 2]!.request("POST", "/v1/validations", body);
            return { status: res.status, text: await res.text() };
          }),
        );
        const created = results.filter((r) => r.status === 201);
        expect(created, JSON.stringify(results.filter((r) => r.status !== 200))).toHaveLength(1);
        const text = created[0]!.text;
        expect(results.filter((r) => r.status === 200)).toHaveLength(19);
        for (const r of results) expect(r.text).toBe(text);
        const response = JSON.parse(text) as ValidationResponse;
        expect(response).toMatchObject({ decision: "ALLOW", requestId: body.requestId });
        createdIds.push(response.validationId);
        expectedUsage += amount;
        // Both instances see the one record and its one event.
        for (const app of apps) {
          expect(await eventsFor(app, response.validationId)).toHaveLength(1);
          expect(
            (await json<{ requestId: string }>(app, "GET", `/v1/validations/${response.validationId}`))
              .requestId,
          ).toBe(body.requestId);
        }
      }
      const after = await state(b, acc, limitId);
      expect(after.validations.map((v) => v.validationId).sort()).toEqual([...createdIds].sort());
      expect(after.usage).toBe(`${expectedUsage}.00`);
      const verify = await json<{ isValid: boolean }>(b, "GET", "/v1/audit-events/verify");
      expect(verify.isValid).toBe(true);
    });

    it("one requestId with two bodies racing across both instances → one 201, same-body 200, other-body 409", async () => {
      const acc = randomUUID();
      const limitId = await dailyLimit(t, "1000.00", acc);
      await propagation();
      const apps = [t, b];
      const a1 = tx(acc, "10.00");
      const a2 = { ...a1, amount: "20.00" };
      const results = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          // Both bodies on both instances: i % 2 picks the app, (i >> 1) % 2 the body.
          const body = (i >> 1) % 2 === 0 ? a1 : a2;
          const res = await apps[i % 2]!.request("POST", "/v1/validations", body);
          return { status: res.status, text: await res.text(), amount: body.amount };
        }),
      );
      const winner = oneWinner(results);
      const after = await state(b, acc, limitId);
      expect(after.validations).toHaveLength(1);
      expect(await eventsFor(b, after.validations[0]!.validationId)).toHaveLength(1);
      expect(after.usage).toBe(winner.amount);
    });

    it("distinct requests racing on one limit across both instances never overshoot it", async () => {
      const acc = randomUUID();
      const limitId = await dailyLimit(t, "100.00", acc);
      await propagation();
      const apps = [t, b];
      const results = await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          const res = await apps[i % 2]!.request("POST", "/v1/validations", tx(acc, "10.00"));
          return { status: res.status, body: (await res.json()) as ValidationResponse };
        }),
      );
      expect(results.every((r) => r.status === 201)).toBe(true);
      const allowed = results.filter((r) => r.body.decision === "ALLOW");
      expect(allowed).toHaveLength(10);
      expect(results.filter((r) => r.body.reason === "limit_exceeded")).toHaveLength(20);
      expect(await usage(t, limitId)).toBe("100.00");
      const sequences = results.map((r) => r.body.auditSequence);
      expect(new Set(sequences).size).toBe(30);
    });
  });

  it("the audit chain verifies after all of it", async () => {
    const verify = await json<{ isValid: boolean; totalChecked: number }>(
      t,
      "GET",
      "/v1/audit-events/verify",
    );
    expect(verify.isValid).toBe(true);
    expect(verify.totalChecked).toBeGreaterThan(40);
  });
});
