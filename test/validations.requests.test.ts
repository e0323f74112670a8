/**
 * POST /v1/validations request validation (CONTRACT §2, §5): every bad field is a 400
 * problem+json naming its path in errors[], a body over 100 KB is a 413, and a rejected request
 * changes nothing (no validation stored, no audit event, its requestId still free). Also the
 * accepted forms and how they are normalised.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "./harness.js";

type Body = Record<string, unknown>;
type Problem = {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  requestId: string;
  errors?: { path: string; message: string }[];
};
type ValidationResponse = {
  validationId: string;
  requestId: string;
  decision: string;
  auditSequence: number;
  auditHash: string;
};
type StoredRecord = ValidationResponse & { request: Record<string, unknown>; createdAt: string };
type AuditEvent = { sequence: number; hash: string; resourceId: string; context: { request: unknown } };

const HOUR = 3_600_000;
const iso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();

function valid(overrides: Body = {}): Body {
  return {
    requestId: randomUUID(),
    transactionType: "CARD",
    amount: "10.00",
    currency: "BRL",
    transactionTimestamp: iso(),
    account: { accountId: randomUUID() },
    ...overrides,
  };
}

function without(body: Body, key: string): Body {
  const copy = { ...body };
  delete copy[key];
  return copy;
}

const keys = (n: number, length = 3) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${String(i).padStart(length - 1, "0")}`, i]));

let t: TestApp;
/** What the database holds before any rejected request: it must hold exactly that after each. */
let baseline: { validations: string[]; events: number; head: string };

async function snapshot(): Promise<{ validations: string[]; events: number; head: string }> {
  const list = (await (await t.request("GET", "/v1/validations?limit=1000")).json()) as {
    transactionValidations: { validationId: string }[];
  };
  const events = (await (await t.request("GET", "/v1/audit-events?limit=1000")).json()) as {
    auditEvents: AuditEvent[];
  };
  return {
    validations: list.transactionValidations.map((v) => v.validationId).sort(),
    events: events.auditEvents.length,
    head: events.auditEvents[0]?.hash ?? "",
  };
}

async function expectProblem(res: Response, status: number, code: string): Promise<Problem> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = (await res.json()) as Problem;
  expect(body).toMatchObject({ status, code });
  expect(body.requestId).toBe(res.headers.get("x-request-id"));
  return body;
}

beforeAll(async () => {
  t = await createTestApp();
  // One accepted validation first, so "nothing changed" is checked against a non-empty store.
  const res = await t.request("POST", "/v1/validations", valid());
  expect(res.status).toBe(201);
  baseline = await snapshot();
  expect(baseline.validations).toHaveLength(1);
  expect(baseline.events).toBe(1);
});
afterAll(async () => {
  await t?.close();
});

const longKey = "k".repeat(65);
/** A JSON value nested `depth` levels: [[[...]]] */
const nested = (depth: number): unknown => JSON.parse("[".repeat(depth) + "]".repeat(depth));
const cases: [string, Body, string][] = [
  ["requestId missing", without(valid(), "requestId"), "requestId"],
  ["requestId not a UUID", valid({ requestId: "req-123" }), "requestId"],
  ["requestId a number", valid({ requestId: 42 }), "requestId"],
  ["transactionType missing", without(valid(), "transactionType"), "transactionType"],
  ["transactionType unknown", valid({ transactionType: "CASH" }), "transactionType"],
  ["transactionType lower case", valid({ transactionType: "card" }), "transactionType"],
  ["subType over 50 characters", valid({ subType: "s".repeat(51) }), "subType"],
  ["subType not a string", valid({ subType: 7 }), "subType"],
  ["amount missing", without(valid(), "amount"), "amount"],
  ["amount 0 (number)", valid({ amount: 0 }), "amount"],
  ['amount "0"', valid({ amount: "0" }), "amount"],
  ['amount "0.00"', valid({ amount: "0.00" }), "amount"],
  ["amount negative (number)", valid({ amount: -5 }), "amount"],
  ['amount negative ("-5.00")', valid({ amount: "-5.00" }), "amount"],
  ['amount "abc"', valid({ amount: "abc" }), "amount"],
  ['amount "" (empty)', valid({ amount: "" }), "amount"],
  ['amount in exponent form "1e3"', valid({ amount: "1e3" }), "amount"],
  ['amount with thousands separator "1,000.00"', valid({ amount: "1,000.00" }), "amount"],
  ["amount a boolean", valid({ amount: true }), "amount"],
  ["amount null", valid({ amount: null }), "amount"],
  ['BRL "1.001" (3 decimals, BRL has 2)', valid({ amount: "1.001", currency: "BRL" }), "amount"],
  ['BRL "1.500" (trailing zero beyond 2 decimals)', valid({ amount: "1.500", currency: "BRL" }), "amount"],
  ["BRL 1.001 as a JSON number", valid({ amount: 1.001, currency: "BRL" }), "amount"],
  ['JPY "1.5" (JPY has no decimals)', valid({ amount: "1.5", currency: "JPY" }), "amount"],
  ['BHD "1.0001" (BHD has 3)', valid({ amount: "1.0001", currency: "BHD" }), "amount"],
  ["amount with 19 integer digits", valid({ amount: "1234567890123456789" }), "amount"],
  ["currency missing", without(valid(), "currency"), "currency"],
  ["currency unknown (ABC)", valid({ currency: "ABC" }), "currency"],
  ["currency non-monetary (XXX)", valid({ currency: "XXX" }), "currency"],
  ["currency two letters", valid({ currency: "BR" }), "currency"],
  ["currency a number", valid({ currency: 986 }), "currency"],
  ["transactionTimestamp missing", without(valid(), "transactionTimestamp"), "transactionTimestamp"],
  [
    "transactionTimestamp without a zone",
    valid({ transactionTimestamp: iso().replace("Z", "") }),
    "transactionTimestamp",
  ],
  [
    "transactionTimestamp a date only",
    valid({ transactionTimestamp: iso().slice(0, 10) }),
    "transactionTimestamp",
  ],
  ["transactionTimestamp not a date", valid({ transactionTimestamp: "yesterday" }), "transactionTimestamp"],
  ["transactionTimestamp epoch number", valid({ transactionTimestamp: Date.now() }), "transactionTimestamp"],
  [
    "transactionTimestamp 2 minutes in the future",
    valid({ transactionTimestamp: iso(2 * 60_000) }),
    "transactionTimestamp",
  ],
  [
    "transactionTimestamp 25 hours old",
    valid({ transactionTimestamp: iso(-25 * HOUR) }),
    "transactionTimestamp",
  ],
  [
    "transactionTimestamp 2 minutes ahead written with an offset",
    valid({
      transactionTimestamp: new Date(Date.now() + 2 * 60_000 - 3 * HOUR).toISOString().replace("Z", "-03:00"),
    }),
    "transactionTimestamp",
  ],
  ["account missing", without(valid(), "account"), "account"],
  ["account not an object", valid({ account: "acc-1" }), "account"],
  ["account.accountId missing", valid({ account: {} }), "account.accountId"],
  ["account.accountId not a UUID", valid({ account: { accountId: "acc-1" } }), "account.accountId"],
  ["account.type unknown", valid({ account: { accountId: randomUUID(), type: "business" } }), "account.type"],
  [
    "account.status unknown",
    valid({ account: { accountId: randomUUID(), status: "frozen" } }),
    "account.status",
  ],
  ["segment without segmentId", valid({ segment: { name: "retail" } }), "segment.segmentId"],
  ["segment.segmentId not a UUID", valid({ segment: { segmentId: "seg" } }), "segment.segmentId"],
  ["portfolio without portfolioId", valid({ portfolio: { name: "p" } }), "portfolio.portfolioId"],
  ["merchant without merchantId", valid({ merchant: { name: "shop" } }), "merchant.merchantId"],
  [
    "merchant.category 3 digits",
    valid({ merchant: { merchantId: randomUUID(), category: "541" } }),
    "merchant.category",
  ],
  [
    "merchant.category 5 digits",
    valid({ merchant: { merchantId: randomUUID(), category: "54111" } }),
    "merchant.category",
  ],
  [
    "merchant.category letters",
    valid({ merchant: { merchantId: randomUUID(), category: "abcd" } }),
    "merchant.category",
  ],
  [
    "merchant.category a number",
    valid({ merchant: { merchantId: randomUUID(), category: 5411 } }),
    "merchant.category",
  ],
  [
    'merchant.country "XX"',
    valid({ merchant: { merchantId: randomUUID(), country: "XX" } }),
    "merchant.country",
  ],
  [
    'merchant.country "BRA" (alpha-3)',
    valid({ merchant: { merchantId: randomUUID(), country: "BRA" } }),
    "merchant.country",
  ],
  ['merchant.country ""', valid({ merchant: { merchantId: randomUUID(), country: "" } }), "merchant.country"],
  ["metadata with 51 keys", valid({ metadata: keys(51) }), "metadata"],
  ['metadata key with "-"', valid({ metadata: { "order-id": "1" } }), "metadata.order-id"],
  ["metadata key of 65 characters", valid({ metadata: { [longKey]: 1 } }), `metadata.${longKey}`],
  ["metadata an array", valid({ metadata: ["a"] }), "metadata"],
  [
    "account.metadata with 51 keys",
    valid({ account: { accountId: randomUUID(), metadata: keys(51) } }),
    "account.metadata",
  ],
  [
    'merchant.metadata key with "-"',
    valid({ merchant: { merchantId: randomUUID(), metadata: { "a-b": 1 } } }),
    "merchant.metadata.a-b",
  ],
  ["unknown top-level field", valid({ foo: 1 }), "foo"],
  ["tenantId in the body (unknown field)", valid({ tenantId: "other" }), "tenantId"],
  [
    "unknown nested field account.foo",
    valid({ account: { accountId: randomUUID(), foo: 1 } }),
    "account.foo",
  ],
  [
    "unknown nested field merchant.foo",
    valid({ merchant: { merchantId: randomUUID(), foo: "x" } }),
    "merchant.foo",
  ],
];

describe("POST /v1/validations rejects a bad request with 400 naming the field", () => {
  it.each(cases)("%s", async (_name, body, path) => {
    const res = await t.request("POST", "/v1/validations", body);
    const problem = await expectProblem(res, 400, "VALIDATION_ERROR");
    expect(problem.errors?.map((e) => e.path)).toContain(path);
    for (const e of problem.errors ?? []) expect(e.message.length).toBeGreaterThan(0);
  });

  it("names every bad field of one request", async () => {
    const res = await t.request(
      "POST",
      "/v1/validations",
      valid({ transactionType: "CASH", currency: "ABC", account: { accountId: "x", foo: 1 }, bar: 2 }),
    );
    const problem = await expectProblem(res, 400, "VALIDATION_ERROR");
    expect(problem.errors?.map((e) => e.path)).toEqual(
      expect.arrayContaining(["transactionType", "currency", "account.accountId", "account.foo", "bar"]),
    );
  });

  it("malformed JSON → 400 INVALID_JSON", async () => {
    const res = await t.request("POST", "/v1/validations", '{"requestId": "');
    await expectProblem(res, 400, "INVALID_JSON");
  });

  it.each([
    ["a JSON array", "[]"],
    ["JSON null", "null"],
    ["a JSON string", '"hello"'],
  ])("a body that is %s → 400", async (_name, text) => {
    const res = await t.request("POST", "/v1/validations", text);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
  });

  it("metadata nested too deep (200 levels; 20,000 levels, still under 100 KB) → 400 under its path, never a 5xx", async () => {
    for (const depth of [200, 20_000]) {
      const text = JSON.stringify(valid()).replace(
        /}$/,
        `,"metadata":{"deep":${"[".repeat(depth)}${"]".repeat(depth)}}}`,
      );
      expect(Buffer.byteLength(text)).toBeLessThan(100 * 1024);
      const res = await t.request("POST", "/v1/validations", text);
      const problem = await expectProblem(res, 400, "VALIDATION_ERROR");
      expect(problem.errors?.some((e) => e.path.startsWith("metadata.deep"))).toBe(true);
    }
  });

  it.each([
    ["a metadata value", '"metadata":{"note":"\\ud800"}', "metadata.note"],
    ["a nested metadata value", '"metadata":{"list":["ok",{"a":"x\\udc00y"}]}', "metadata.list[1].a"],
    ["subType", '"subType":"\\ud83d"', "subType"],
    ["merchant.name", '"merchant":{"merchantId":"MERCHANT","name":"\\udfff"}', "merchant.name"],
  ])("a lone UTF-16 surrogate in %s → 400 naming it (not a 500)", async (_name, fragment, path) => {
    const text = JSON.stringify(valid()).replace(/}$/, `,${fragment.replace("MERCHANT", randomUUID())}}`);
    const res = await t.request("POST", "/v1/validations", text);
    const problem = await expectProblem(res, 400, "VALIDATION_ERROR");
    expect(problem.errors?.map((e) => e.path)).toContain(path);
  });

  it("a well-formed surrogate pair (emoji) is fine and stored as sent", async () => {
    const res = await t.request("POST", "/v1/validations", valid({ metadata: { note: "\u{1F600} ok" } }));
    expect(res.status).toBe(201);
    const { validationId } = (await res.json()) as ValidationResponse;
    const record = (await (await t.request("GET", `/v1/validations/${validationId}`)).json()) as StoredRecord;
    expect(record.request.metadata).toEqual({ note: "\u{1F600} ok" });
    baseline = await snapshot();
  });

  it("a body over 100 KB → 413 PAYLOAD_TOO_LARGE", async () => {
    const body = JSON.stringify(valid({ metadata: { note: "x".repeat(101 * 1024) } }));
    expect(Buffer.byteLength(body)).toBeGreaterThan(101 * 1024);
    const res = await t.request("POST", "/v1/validations", body);
    await expectProblem(res, 413, "PAYLOAD_TOO_LARGE");
  });

  it("no rejected request stored a validation or appended an audit event", async () => {
    expect(await snapshot()).toEqual(baseline);
    const verify = (await (await t.request("GET", "/v1/audit-events/verify")).json()) as {
      isValid: boolean;
      totalChecked: number;
    };
    expect(verify).toMatchObject({ isValid: true, totalChecked: baseline.events });
  });

  it("a rejected requestId stays free: the same id with a valid body is then a new 201", async () => {
    const requestId = randomUUID();
    const bad = await t.request("POST", "/v1/validations", valid({ requestId, amount: "1.001" }));
    expect(bad.status).toBe(400);
    const future = await t.request(
      "POST",
      "/v1/validations",
      valid({ requestId, transactionTimestamp: iso(5 * 60_000) }),
    );
    expect(future.status).toBe(400);
    expect(await snapshot()).toEqual(baseline);
    const good = await t.request("POST", "/v1/validations", valid({ requestId }));
    expect(good.status).toBe(201);
    const before = baseline.validations.length;
    baseline = await snapshot();
    expect(baseline.validations).toHaveLength(before + 1);
  });
});

describe("accepted forms are normalised", () => {
  async function accept(body: Body): Promise<{ response: ValidationResponse; record: StoredRecord }> {
    const res = await t.request("POST", "/v1/validations", body);
    expect(res.status, await res.clone().text()).toBe(201);
    const response = (await res.json()) as ValidationResponse;
    const stored = await t.request("GET", `/v1/validations/${response.validationId}`);
    expect(stored.status).toBe(200);
    const record = (await stored.json()) as StoredRecord;
    // The audit event records the same normalised request.
    const events = (await (
      await t.request("GET", `/v1/audit-events?resource_id=${response.validationId}`)
    ).json()) as { auditEvents: AuditEvent[] };
    expect(events.auditEvents).toHaveLength(1);
    expect(events.auditEvents[0]?.context.request).toEqual(record.request);
    return { response, record };
  }

  it('amount as a JSON number 1500.5 (BRL) → "1500.50"', async () => {
    const { record } = await accept(valid({ amount: 1500.5 }));
    expect(record.request.amount).toBe("1500.50");
    const list = (await (await t.request("GET", "/v1/validations?limit=1")).json()) as {
      transactionValidations: { amount: string }[];
    };
    expect(list.transactionValidations[0]?.amount).toBe("1500.50");
  });

  it.each([
    ["BRL", "1500", "1500.00"],
    ["BRL", 0.1, "0.10"],
    ["BRL", "0.01", "0.01"],
    ["JPY", "1500", "1500"],
    ["JPY", 7, "7"],
    ["BHD", "1.001", "1.001"],
    ["BHD", "2.5", "2.500"],
    ["BHD", 0.125, "0.125"],
    ["brl", "3.5", "3.50"],
  ])("%s amount %j → %s", async (currency, amount, expected) => {
    const { record } = await accept(valid({ currency, amount }));
    expect(record.request.amount).toBe(expected);
    expect(record.request.currency).toBe(currency.toUpperCase());
  });

  it('merchant.country "br" is accepted and upper-cased; a 4-digit MCC is accepted', async () => {
    const merchantId = randomUUID();
    const { record } = await accept(valid({ merchant: { merchantId, country: "br", category: "5411" } }));
    expect(record.request.merchant).toMatchObject({ merchantId, country: "BR", category: "5411" });
  });

  it("ids are lower-cased; subType is trimmed and lower-cased; 50 characters is the maximum", async () => {
    const requestId = randomUUID().toUpperCase();
    const accountId = randomUUID().toUpperCase();
    const { response, record } = await accept(
      valid({ requestId, account: { accountId, type: "checking", status: "active" }, subType: "  Debit  " }),
    );
    expect(response.requestId).toBe(requestId.toLowerCase());
    expect(record.request.account).toMatchObject({
      accountId: accountId.toLowerCase(),
      type: "checking",
      status: "active",
    });
    expect(record.request.subType).toBe("debit");
    const fifty = await accept(valid({ subType: "S".repeat(50) }));
    expect(fifty.record.request.subType).toBe("s".repeat(50));
  });

  it('an absent subType is stored as ""', async () => {
    const { record } = await accept(valid());
    expect(record.request.subType).toBe("");
  });

  it("a metadata value nested 32 levels is accepted and stored as sent", async () => {
    const meta = { deep: nested(32), obj: { a: { b: [1, { c: "x" }] } } };
    const { record } = await accept(valid({ account: { accountId: randomUUID(), metadata: meta } }));
    expect((record.request.account as { metadata: unknown }).metadata).toEqual(meta);
  });

  it("metadata with exactly 50 keys and a 64-character key is accepted", async () => {
    const meta = { ...keys(49), ["K".repeat(64)]: "x" };
    expect(Object.keys(meta)).toHaveLength(50);
    const { record } = await accept(valid({ metadata: meta }));
    expect(record.request.metadata).toEqual(meta);
  });

  it("timestamps inside the window are accepted: 30 s ahead, 23 h old, a non-UTC offset", async () => {
    await accept(valid({ transactionTimestamp: iso(30_000) }));
    await accept(valid({ transactionTimestamp: iso(-23 * HOUR) }));
    const local = new Date(Date.now() - 3 * HOUR).toISOString().replace("Z", "-03:00");
    const { record } = await accept(valid({ transactionTimestamp: local }));
    expect(record.request.transactionTimestamp).toBe(local);
  });

  it("segment, portfolio and merchant with only their id are accepted", async () => {
    const segmentId = randomUUID();
    const portfolioId = randomUUID();
    const merchantId = randomUUID();
    const { record } = await accept(
      valid({ segment: { segmentId }, portfolio: { portfolioId }, merchant: { merchantId } }),
    );
    expect(record.request).toMatchObject({
      segment: { segmentId },
      portfolio: { portfolioId },
      merchant: { merchantId },
    });
  });

  it("every accepted request has exactly one stored validation and one audit event; the chain verifies", async () => {
    const now = await snapshot();
    expect(now.validations.length).toBe(now.events);
    const verify = (await (await t.request("GET", "/v1/audit-events/verify")).json()) as {
      isValid: boolean;
      totalChecked: number;
    };
    expect(verify).toMatchObject({ isValid: true, totalChecked: now.events });
  });
});
