/**
 * Limit CRUD, lifecycle and audit through the HTTP API (CONTRACT §2, §4, §6; tracer.md §3.3).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "./harness.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  errors?: { path: string; message: string }[];
}

interface Limit {
  limitId: string;
  name: string;
  description: string | null;
  limitType: string;
  maxAmount: string;
  currency: string;
  scopes: Record<string, string>[];
  timezone: string;
  activeTimeStart: string | null;
  activeTimeEnd: string | null;
  customStartDate: string | null;
  customEndDate: string | null;
  status: "DRAFT" | "ACTIVE" | "INACTIVE" | "DELETED";
  resetAt: string | null;
  createdAt: string;
  updatedAt: string;
  activatedAt: string | null;
  deactivatedAt: string | null;
  deletedAt: string | null;
}

interface AuditEvent {
  eventId: string;
  sequence: number;
  eventType: string;
  action: string;
  result: string;
  resourceType: string;
  resourceId: string;
  actor: { id: string; actorType: string; name: string };
  context: { before?: Limit; after?: Limit };
  hash: string;
  previousHash: string;
}

type Body = Record<string, unknown>;

const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DAY = 86_400_000;

let counter = 0;
/** A unique, valid limit name (letters, digits, spaces and - _ . ( ) only). */
const uniqueName = (prefix = "Limit") => `${prefix} ${Date.now().toString(36)}-${++counter}`;

function validBody(overrides: Body = {}): Body {
  return {
    name: uniqueName(),
    limitType: "DAILY",
    maxAmount: "1000.00",
    currency: "BRL",
    scopes: [{ accountId: randomUUID() }],
    ...overrides,
  };
}

async function problem(res: Response, status: number, code: string): Promise<Problem> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = JSON.parse(text) as Problem;
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  return body;
}

async function validationPaths(res: Response): Promise<string[]> {
  const body = await problem(res, 400, "VALIDATION_ERROR");
  expect(body.errors?.length ?? 0).toBeGreaterThan(0);
  return (body.errors ?? []).map((e) => e.path);
}

async function ok<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function createLimit(overrides: Body = {}): Promise<Limit> {
  return ok<Limit>(await t.request("POST", "/v1/limits", validBody(overrides)), 201);
}

async function getLimit(id: string): Promise<Limit> {
  return ok<Limit>(await t.request("GET", `/v1/limits/${id}`));
}

async function transition(id: string, action: "activate" | "deactivate" | "draft"): Promise<Response> {
  return t.request("POST", `/v1/limits/${id}/${action}`);
}

/** A fresh limit brought to `status` through the API. */
async function limitIn(status: "DRAFT" | "ACTIVE" | "INACTIVE" | "DELETED"): Promise<Limit> {
  const limit = await createLimit();
  if (status === "ACTIVE" || status === "INACTIVE") await ok(await transition(limit.limitId, "activate"));
  if (status === "INACTIVE") await ok(await transition(limit.limitId, "deactivate"));
  if (status === "DELETED")
    expect((await t.request("DELETE", `/v1/limits/${limit.limitId}`)).status).toBe(204);
  return status === "DELETED" ? limit : getLimit(limit.limitId);
}

async function eventsOf(resourceId: string): Promise<AuditEvent[]> {
  const page = await ok<{ auditEvents: AuditEvent[] }>(
    await t.request("GET", `/v1/audit-events?resource_id=${resourceId}&sort_order=asc&limit=1000`),
  );
  return page.auditEvents;
}

async function listLimits(
  query: string,
): Promise<{ limits: Limit[]; hasMore: boolean; nextCursor: string | null }> {
  return ok(await t.request("GET", `/v1/limits?${query}`));
}

/** Next 00:00 UTC after `ms`. */
const nextUtcMidnight = (ms: number) => {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1)).toISOString();
};

describe("POST /v1/limits — create", () => {
  it("creates a DRAFT limit (201) with normalised fields and a computed resetAt", async () => {
    const before = Date.now();
    const accountId = randomUUID().toUpperCase();
    const res = await t.request(
      "POST",
      "/v1/limits",
      validBody({
        name: "  Retail daily card cap (BR)  ",
        description: "Daily cap",
        maxAmount: "1000",
        currency: "brl",
        scopes: [{ accountId, transactionType: "CARD", subType: "  Debit " }],
      }),
    );
    const limit = await ok<Limit>(res, 201);
    const after = Date.now();
    expect(limit).toMatchObject({
      name: "Retail daily card cap (BR)",
      description: "Daily cap",
      limitType: "DAILY",
      maxAmount: "1000.00",
      currency: "BRL",
      scopes: [{ accountId: accountId.toLowerCase(), transactionType: "CARD", subType: "debit" }],
      timezone: "UTC",
      activeTimeStart: null,
      activeTimeEnd: null,
      customStartDate: null,
      customEndDate: null,
      status: "DRAFT",
      activatedAt: null,
      deactivatedAt: null,
      deletedAt: null,
    });
    expect(limit.limitId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(limit.createdAt).toMatch(RFC3339_MS);
    expect(limit.updatedAt).toBe(limit.createdAt);
    expect([nextUtcMidnight(before), nextUtcMidnight(after)]).toContain(limit.resetAt);
    // What GET returns is what POST returned.
    const fetched = await getLimit(limit.limitId);
    expect({ ...fetched, resetAt: null }).toEqual({ ...limit, resetAt: null });
  });

  it.each([
    ["BRL", "1000", "1000.00"],
    ["BRL", 1500.5, "1500.50"],
    ["BRL", "0.01", "0.01"],
    ["JPY", "1500", "1500"],
    ["JPY", 1500, "1500"],
    ["BHD", "1.5", "1.500"],
    ["BHD", "1.500", "1.500"],
    ["USD", "007.50", "7.50"],
  ])("formats maxAmount with the currency exponent: %s %j → %s", async (currency, input, expected) => {
    const limit = await createLimit({ currency, maxAmount: input });
    expect(limit.maxAmount).toBe(expected);
    expect(typeof limit.maxAmount).toBe("string");
    expect((await getLimit(limit.limitId)).maxAmount).toBe(expected);
  });

  it("canonicalises the timezone and computes resetAt in it", async () => {
    const before = Date.now();
    const limit = await createLimit({ timezone: "america/sao_paulo" });
    const after = Date.now();
    expect(limit.timezone).toBe("America/Sao_Paulo");
    // Brazil has kept UTC-03:00 all year since 2019: the next local midnight is 03:00Z on the next local day.
    const expected = (ms: number) => {
      const local = new Date(ms - 3 * 3_600_000);
      return new Date(
        Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + 1, 3),
      ).toISOString();
    };
    expect([expected(before), expected(after)]).toContain(limit.resetAt);
    expect((await createLimit({ timezone: "utc" })).timezone).toBe("UTC");
  });

  it("PER_TRANSACTION has no resetAt; CUSTOM resets at its end", async () => {
    expect((await createLimit({ limitType: "PER_TRANSACTION" })).resetAt).toBeNull();
    const start = new Date(Date.now() - DAY).toISOString();
    const end = new Date(Date.now() + 10 * DAY).toISOString();
    const custom = await createLimit({ limitType: "CUSTOM", customStartDate: start, customEndDate: end });
    expect(custom.customStartDate).toBe(start);
    expect(custom.customEndDate).toBe(end);
    expect(custom.resetAt).toBe(end);
  });

  it("accepts the boundaries: 255-char name, 1000-char description, 100 scopes, overnight window, 5-year range", async () => {
    const long = await createLimit({ name: `${"a".repeat(255)}${++counter}`.slice(-255) });
    expect(long.name).toHaveLength(255);
    const described = await createLimit({ description: "d".repeat(1000) });
    expect(described.description).toHaveLength(1000);
    const many = await createLimit({
      scopes: Array.from({ length: 100 }, () => ({ accountId: randomUUID() })),
    });
    expect(many.scopes).toHaveLength(100);
    const overnight = await createLimit({ activeTimeStart: "22:00", activeTimeEnd: "06:00" });
    expect([overnight.activeTimeStart, overnight.activeTimeEnd]).toEqual(["22:00", "06:00"]);
    const year = new Date().getUTCFullYear();
    const fiveYears = await createLimit({
      limitType: "CUSTOM",
      customStartDate: `${year + 1}-01-01T00:00:00.000Z`,
      customEndDate: `${year + 6}-01-01T00:00:00.000Z`,
    });
    expect(fiveYears.customEndDate).toBe(`${year + 6}-01-01T00:00:00.000Z`);
  });

  it("always creates DRAFT: a status in the body is an unknown field", async () => {
    expect(
      await validationPaths(await t.request("POST", "/v1/limits", validBody({ status: "ACTIVE" }))),
    ).toContain("status");
  });

  it("rejects malformed JSON with 400 INVALID_JSON", async () => {
    await problem(await t.request("POST", "/v1/limits", "{ not json"), 400, "INVALID_JSON");
  });

  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const year = new Date(now).getUTCFullYear();
  const custom = (start: string | undefined, end: string | undefined): Body => ({
    limitType: "CUSTOM",
    ...(start !== undefined ? { customStartDate: start } : {}),
    ...(end !== undefined ? { customEndDate: end } : {}),
  });
  const without =
    (field: string) =>
    (b: Body): Body => {
      const { [field]: _gone, ...rest } = b;
      return rest;
    };

  const invalid: [string, (b: Body) => Body, string][] = [
    ["name empty", (b) => ({ ...b, name: "" }), "name"],
    ["name only spaces", (b) => ({ ...b, name: "   " }), "name"],
    ["name too long (256)", (b) => ({ ...b, name: "a".repeat(256) }), "name"],
    ["name with ;", (b) => ({ ...b, name: "semi;colon" }), "name"],
    ["name with <", (b) => ({ ...b, name: "<script>" }), "name"],
    ["name with a tab", (b) => ({ ...b, name: "tab\tname" }), "name"],
    ["name with an emoji", (b) => ({ ...b, name: "cap 🙂" }), "name"],
    ["name missing", without("name"), "name"],
    ["name not a string", (b) => ({ ...b, name: 42 }), "name"],
    ["description with <", (b) => ({ ...b, description: "a <b> tag" }), "description"],
    ["description with >", (b) => ({ ...b, description: "x > y" }), "description"],
    ["description too long (1001)", (b) => ({ ...b, description: "d".repeat(1001) }), "description"],
    ["limitType unknown", (b) => ({ ...b, limitType: "HOURLY" }), "limitType"],
    ["limitType lower case", (b) => ({ ...b, limitType: "daily" }), "limitType"],
    ["limitType missing", without("limitType"), "limitType"],
    ["maxAmount 0", (b) => ({ ...b, maxAmount: 0 }), "maxAmount"],
    ['maxAmount "0"', (b) => ({ ...b, maxAmount: "0" }), "maxAmount"],
    ['maxAmount "0.00"', (b) => ({ ...b, maxAmount: "0.00" }), "maxAmount"],
    ["maxAmount negative number", (b) => ({ ...b, maxAmount: -5 }), "maxAmount"],
    ["maxAmount negative string", (b) => ({ ...b, maxAmount: "-5.00" }), "maxAmount"],
    ['maxAmount "abc"', (b) => ({ ...b, maxAmount: "abc" }), "maxAmount"],
    ["maxAmount empty string", (b) => ({ ...b, maxAmount: "" }), "maxAmount"],
    ["maxAmount with a thousands separator", (b) => ({ ...b, maxAmount: "1,000.00" }), "maxAmount"],
    ["maxAmount with spaces", (b) => ({ ...b, maxAmount: " 10.00" }), "maxAmount"],
    ['maxAmount exponent string "1e3"', (b) => ({ ...b, maxAmount: "1e3" }), "maxAmount"],
    ["maxAmount exponent number 1e21", (b) => ({ ...b, maxAmount: 1e21 }), "maxAmount"],
    ['maxAmount "10.001" for BRL', (b) => ({ ...b, maxAmount: "10.001" }), "maxAmount"],
    [
      'maxAmount "10.000" for BRL (trailing zeros count)',
      (b) => ({ ...b, maxAmount: "10.000" }),
      "maxAmount",
    ],
    ['maxAmount "10.5" for JPY', (b) => ({ ...b, currency: "JPY", maxAmount: "10.5" }), "maxAmount"],
    ['maxAmount "1.0" for JPY', (b) => ({ ...b, currency: "JPY", maxAmount: "1.0" }), "maxAmount"],
    ['maxAmount "1.5000" for BHD', (b) => ({ ...b, currency: "BHD", maxAmount: "1.5000" }), "maxAmount"],
    ["maxAmount with 19 integer digits", (b) => ({ ...b, maxAmount: "1234567890123456789" }), "maxAmount"],
    ["maxAmount null", (b) => ({ ...b, maxAmount: null }), "maxAmount"],
    ["maxAmount boolean", (b) => ({ ...b, maxAmount: true }), "maxAmount"],
    ["maxAmount missing", without("maxAmount"), "maxAmount"],
    ['currency "XXX"', (b) => ({ ...b, currency: "XXX" }), "currency"],
    ['currency "BR"', (b) => ({ ...b, currency: "BR" }), "currency"],
    ['currency "BRLL"', (b) => ({ ...b, currency: "BRLL" }), "currency"],
    ['currency "XAU" (no minor unit)', (b) => ({ ...b, currency: "XAU" }), "currency"],
    ["currency a number", (b) => ({ ...b, currency: 986 }), "currency"],
    ["currency missing", without("currency"), "currency"],
    ["scopes missing", without("scopes"), "scopes"],
    ["scopes empty", (b) => ({ ...b, scopes: [] }), "scopes"],
    ["scopes [{}]", (b) => ({ ...b, scopes: [{}] }), "scopes[0]"],
    [
      "scopes > 100",
      (b) => ({ ...b, scopes: Array.from({ length: 101 }, () => ({ accountId: randomUUID() })) }),
      "scopes",
    ],
    ["scopes not an array", (b) => ({ ...b, scopes: { accountId: randomUUID() } }), "scopes"],
    [
      "scope accountId not a UUID",
      (b) => ({ ...b, scopes: [{ accountId: "acc-1" }] }),
      "scopes[0].accountId",
    ],
    [
      "scope transactionType unknown",
      (b) => ({ ...b, scopes: [{ transactionType: "CASH" }] }),
      "scopes[0].transactionType",
    ],
    [
      "scope unknown field",
      (b) => ({ ...b, scopes: [{ accountId: randomUUID(), tenantId: "x" }] }),
      "scopes[0].tenantId",
    ],
    ["timezone unknown", (b) => ({ ...b, timezone: "Mars/Olympus_Mons" }), "timezone"],
    ["timezone numeric offset", (b) => ({ ...b, timezone: "+01:00" }), "timezone"],
    ["timezone empty", (b) => ({ ...b, timezone: "" }), "timezone"],
    ["activeTimeStart without activeTimeEnd", (b) => ({ ...b, activeTimeStart: "09:00" }), "activeTimeEnd"],
    ["activeTimeEnd without activeTimeStart", (b) => ({ ...b, activeTimeEnd: "18:00" }), "activeTimeStart"],
    [
      "equal start and end",
      (b) => ({ ...b, activeTimeStart: "09:00", activeTimeEnd: "09:00" }),
      "activeTimeEnd",
    ],
    [
      'activeTimeStart "24:00"',
      (b) => ({ ...b, activeTimeStart: "24:00", activeTimeEnd: "06:00" }),
      "activeTimeStart",
    ],
    [
      'activeTimeStart "9:00"',
      (b) => ({ ...b, activeTimeStart: "9:00", activeTimeEnd: "18:00" }),
      "activeTimeStart",
    ],
    [
      'activeTimeEnd "18:60"',
      (b) => ({ ...b, activeTimeStart: "09:00", activeTimeEnd: "18:60" }),
      "activeTimeEnd",
    ],
    [
      'activeTimeEnd "1800"',
      (b) => ({ ...b, activeTimeStart: "09:00", activeTimeEnd: "1800" }),
      "activeTimeEnd",
    ],
    [
      "customStartDate on a DAILY limit",
      (b) => ({ ...b, customStartDate: iso(now + DAY), customEndDate: iso(now + 2 * DAY) }),
      "customStartDate",
    ],
    [
      "customEndDate on a PER_TRANSACTION limit",
      (b) => ({ ...b, limitType: "PER_TRANSACTION", customEndDate: iso(now + DAY) }),
      "customEndDate",
    ],
    ["CUSTOM without dates (start)", (b) => ({ ...b, ...custom(undefined, undefined) }), "customStartDate"],
    ["CUSTOM without dates (end)", (b) => ({ ...b, ...custom(undefined, undefined) }), "customEndDate"],
    ["CUSTOM with only a start", (b) => ({ ...b, ...custom(iso(now), undefined) }), "customEndDate"],
    ["CUSTOM with only an end", (b) => ({ ...b, ...custom(undefined, iso(now + DAY)) }), "customStartDate"],
    ["CUSTOM start == end", (b) => ({ ...b, ...custom(iso(now + DAY), iso(now + DAY)) }), "customEndDate"],
    ["CUSTOM start > end", (b) => ({ ...b, ...custom(iso(now + 2 * DAY), iso(now + DAY)) }), "customEndDate"],
    [
      "CUSTOM span > 5 years",
      (b) => ({ ...b, ...custom(`${year + 1}-01-01T00:00:00Z`, `${year + 7}-01-01T00:00:00Z`) }),
      "customEndDate",
    ],
    [
      "CUSTOM end in the past",
      (b) => ({ ...b, ...custom(iso(now - 10 * DAY), iso(now - DAY)) }),
      "customEndDate",
    ],
    [
      "CUSTOM date without time",
      (b) => ({ ...b, ...custom(`${year + 1}-01-01`, `${year + 1}-02-01T00:00:00Z`) }),
      "customStartDate",
    ],
    [
      "CUSTOM date without zone",
      (b) => ({ ...b, ...custom(`${year + 1}-01-01T00:00:00Z`, `${year + 1}-02-01T00:00:00`) }),
      "customEndDate",
    ],
    ["unknown top-level field", (b) => ({ ...b, foo: 1 }), "foo"],
    ["tenantId in the body", (b) => ({ ...b, tenantId: "other" }), "tenantId"],
  ];

  it.each(invalid)("400 with the path: %s", async (label, mutate, path) => {
    const name = `Invalid ${++counter}`;
    const base = validBody({ name });
    const body = mutate(base);
    const res = await t.request("POST", "/v1/limits", body);
    const paths = await validationPaths(res);
    expect(paths, `${label}: ${JSON.stringify(paths)}`).toContain(path);
    // Nothing was created.
    if (body.name === name) expect((await listLimits(`name=${encodeURIComponent(name)}`)).limits).toEqual([]);
  });

  it("409 LIMIT_NAME_CONFLICT on a duplicate name (after trimming), case-sensitive, reusable once deleted", async () => {
    const name = uniqueName("Dup");
    const first = await createLimit({ name });
    await problem(await t.request("POST", "/v1/limits", validBody({ name })), 409, "LIMIT_NAME_CONFLICT");
    await problem(
      await t.request("POST", "/v1/limits", validBody({ name: ` ${name} ` })),
      409,
      "LIMIT_NAME_CONFLICT",
    );
    // Names are compared case-sensitively (tracer.md §3.3).
    await createLimit({ name: name.toUpperCase() });
    // A conflicting create writes no audit event.
    expect((await listLimits(`name=${encodeURIComponent(name)}`)).limits.map((l) => l.name).sort()).toEqual(
      [name, name.toUpperCase()].sort(),
    );
    expect((await t.request("DELETE", `/v1/limits/${first.limitId}`)).status).toBe(204);
    const again = await createLimit({ name });
    expect(again.limitId).not.toBe(first.limitId);
  });
});

describe("PATCH /v1/limits/{id}", () => {
  it("updates mutable fields, reformats maxAmount, keeps the rest", async () => {
    const limit = await createLimit({ description: "old", activeTimeStart: "09:00", activeTimeEnd: "18:00" });
    const updated = await ok<Limit>(
      await t.request("PATCH", `/v1/limits/${limit.limitId}`, {
        name: "  Renamed limit  ",
        maxAmount: 2500,
        timezone: "europe/paris",
      }),
    );
    expect(updated).toMatchObject({
      limitId: limit.limitId,
      name: "Renamed limit",
      maxAmount: "2500.00",
      timezone: "Europe/Paris",
      description: "old",
      currency: "BRL",
      limitType: "DAILY",
      activeTimeStart: "09:00",
      activeTimeEnd: "18:00",
      status: "DRAFT",
      createdAt: limit.createdAt,
    });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(limit.updatedAt));
    const cleared = await ok<Limit>(
      await t.request("PATCH", `/v1/limits/${limit.limitId}`, {
        description: null,
        activeTimeStart: null,
        activeTimeEnd: null,
      }),
    );
    expect(cleared).toMatchObject({ description: null, activeTimeStart: null, activeTimeEnd: null });
    expect(await getLimit(limit.limitId)).toMatchObject({ name: "Renamed limit", description: null });
  });

  it("PATCH is allowed on ACTIVE and INACTIVE limits", async () => {
    for (const status of ["ACTIVE", "INACTIVE"] as const) {
      const limit = await limitIn(status);
      const updated = await ok<Limit>(
        await t.request("PATCH", `/v1/limits/${limit.limitId}`, { maxAmount: "5.00" }),
      );
      expect(updated).toMatchObject({ maxAmount: "5.00", status });
    }
  });

  it.each([
    ["limitType", { limitType: "WEEKLY" }, ["limitType"]],
    ["limitType (same value)", { limitType: "DAILY" }, ["limitType"]],
    ["currency", { currency: "USD" }, ["currency"]],
    ["currency (same value)", { currency: "BRL" }, ["currency"]],
    [
      "both, with another valid field",
      { limitType: "MONTHLY", currency: "USD", name: "Sneaky rename" },
      ["limitType", "currency"],
    ],
  ])("400 IMMUTABLE_FIELD for %s, nothing changes", async (_label, body, paths) => {
    const limit = await createLimit();
    const events = (await eventsOf(limit.limitId)).length;
    const p = await problem(
      await t.request("PATCH", `/v1/limits/${limit.limitId}`, body),
      400,
      "IMMUTABLE_FIELD",
    );
    expect((p.errors ?? []).map((e) => e.path).sort()).toEqual([...paths].sort());
    const after = await getLimit(limit.limitId);
    expect(after).toMatchObject({
      name: limit.name,
      limitType: "DAILY",
      currency: "BRL",
      updatedAt: limit.updatedAt,
    });
    expect(await eventsOf(limit.limitId)).toHaveLength(events);
  });

  it.each([
    ["BRL", "10.001"],
    ["BRL", "0"],
    ["BRL", "-1"],
    ["BRL", "abc"],
    ["JPY", "10.5"],
    ["BHD", "1.0001"],
  ])("400 on a %s limit for maxAmount %j, nothing changes", async (currency, maxAmount) => {
    const limit = await createLimit({ currency, maxAmount: "100" });
    const paths = await validationPaths(
      await t.request("PATCH", `/v1/limits/${limit.limitId}`, { maxAmount }),
    );
    expect(paths).toContain("maxAmount");
    expect((await getLimit(limit.limitId)).maxAmount).toBe(limit.maxAmount);
    expect(await eventsOf(limit.limitId)).toHaveLength(1);
  });

  it("the currency exponent of the stored limit applies to a new maxAmount", async () => {
    const jpy = await createLimit({ currency: "JPY", maxAmount: "100" });
    expect(
      (await ok<Limit>(await t.request("PATCH", `/v1/limits/${jpy.limitId}`, { maxAmount: "2500" })))
        .maxAmount,
    ).toBe("2500");
    const bhd = await createLimit({ currency: "BHD", maxAmount: "1" });
    expect(
      (await ok<Limit>(await t.request("PATCH", `/v1/limits/${bhd.limitId}`, { maxAmount: 2.25 }))).maxAmount,
    ).toBe("2.250");
  });

  it("409 LIMIT_NAME_CONFLICT when renaming onto another live limit's name; renaming to itself is fine", async () => {
    const a = await createLimit();
    const b = await createLimit();
    await problem(
      await t.request("PATCH", `/v1/limits/${b.limitId}`, { name: a.name }),
      409,
      "LIMIT_NAME_CONFLICT",
    );
    expect((await getLimit(b.limitId)).name).toBe(b.name);
    expect(await eventsOf(b.limitId)).toHaveLength(1);
    expect(
      (await ok<Limit>(await t.request("PATCH", `/v1/limits/${b.limitId}`, { name: b.name }))).name,
    ).toBe(b.name);
  });

  it("custom dates on a non-CUSTOM limit → 400", async () => {
    const limit = await createLimit();
    const paths = await validationPaths(
      await t.request("PATCH", `/v1/limits/${limit.limitId}`, {
        customStartDate: new Date(Date.now() + DAY).toISOString(),
        customEndDate: new Date(Date.now() + 2 * DAY).toISOString(),
      }),
    );
    expect(paths).toContain("customStartDate");
    expect(await getLimit(limit.limitId)).toMatchObject({ customStartDate: null, customEndDate: null });
  });

  it("CUSTOM dates: a valid change moves resetAt; invalid ranges are 400", async () => {
    const now = Date.now();
    const limit = await createLimit({
      limitType: "CUSTOM",
      customStartDate: new Date(now - DAY).toISOString(),
      customEndDate: new Date(now + DAY).toISOString(),
    });
    const newEnd = new Date(now + 20 * DAY).toISOString();
    const moved = await ok<Limit>(
      await t.request("PATCH", `/v1/limits/${limit.limitId}`, {
        customStartDate: limit.customStartDate,
        customEndDate: newEnd,
      }),
    );
    expect(moved).toMatchObject({ customEndDate: newEnd, resetAt: newEnd });
    const year = new Date(now).getUTCFullYear();
    const bad: [Body, string][] = [
      [{ customEndDate: new Date(now + 30 * DAY).toISOString() }, "customEndDate"],
      [
        {
          customStartDate: new Date(now + 2 * DAY).toISOString(),
          customEndDate: new Date(now + DAY).toISOString(),
        },
        "customEndDate",
      ],
      [
        {
          customStartDate: new Date(now + DAY).toISOString(),
          customEndDate: new Date(now + DAY).toISOString(),
        },
        "customEndDate",
      ],
      [
        { customStartDate: `${year + 1}-01-01T00:00:00Z`, customEndDate: `${year + 7}-01-01T00:00:00Z` },
        "customEndDate",
      ],
      [
        {
          customStartDate: new Date(now - 10 * DAY).toISOString(),
          customEndDate: new Date(now - DAY).toISOString(),
        },
        "customEndDate",
      ],
    ];
    for (const [body, path] of bad) {
      const paths = await validationPaths(await t.request("PATCH", `/v1/limits/${limit.limitId}`, body));
      expect(paths, JSON.stringify(body)).toContain(path);
    }
    expect(await getLimit(limit.limitId)).toMatchObject({ customEndDate: newEnd });
  });

  it.each([
    ["an empty body", {}, "body"],
    ["an unknown field", { foo: "bar" }, "foo"],
    ["a status", { status: "ACTIVE" }, "status"],
    ["activeTimeStart without activeTimeEnd", { activeTimeStart: "09:00" }, "activeTimeEnd"],
    ["equal window bounds", { activeTimeStart: "10:00", activeTimeEnd: "10:00" }, "activeTimeEnd"],
    ["a bad HH:mm", { activeTimeStart: "24:00", activeTimeEnd: "01:00" }, "activeTimeStart"],
    ["an empty name", { name: "" }, "name"],
    ["a bad name", { name: "drop;table" }, "name"],
    ["a description with <", { description: "<b>" }, "description"],
    ["empty scopes", { scopes: [] }, "scopes"],
    ["a bad timezone", { timezone: "Nowhere/Land" }, "timezone"],
  ])("400 for %s", async (_label, body, path) => {
    const limit = await createLimit();
    expect(await validationPaths(await t.request("PATCH", `/v1/limits/${limit.limitId}`, body))).toContain(
      path,
    );
    expect(await eventsOf(limit.limitId)).toHaveLength(1);
  });

  it("404 LIMIT_NOT_FOUND for an unknown or deleted limit", async () => {
    await problem(
      await t.request("PATCH", `/v1/limits/${randomUUID()}`, { name: "x" }),
      404,
      "LIMIT_NOT_FOUND",
    );
    const deleted = await limitIn("DELETED");
    await problem(
      await t.request("PATCH", `/v1/limits/${deleted.limitId}`, { name: "x" }),
      404,
      "LIMIT_NOT_FOUND",
    );
  });
});

describe("lifecycle", () => {
  type State = "DRAFT" | "ACTIVE" | "INACTIVE";
  type Action = "activate" | "deactivate" | "draft" | "delete";
  // CONTRACT §3 table: DRAFT→ACTIVE, ACTIVE→INACTIVE, INACTIVE→ACTIVE|DRAFT, DRAFT|INACTIVE→DELETED.
  const table: [State, Action, State | "DELETED" | "noop" | "refused", string | null][] = [
    ["DRAFT", "activate", "ACTIVE", "LIMIT_ACTIVATED"],
    ["DRAFT", "deactivate", "refused", null],
    ["DRAFT", "draft", "noop", null],
    ["DRAFT", "delete", "DELETED", "LIMIT_DELETED"],
    ["ACTIVE", "activate", "noop", null],
    ["ACTIVE", "deactivate", "INACTIVE", "LIMIT_DEACTIVATED"],
    ["ACTIVE", "draft", "refused", null],
    ["ACTIVE", "delete", "refused", null],
    ["INACTIVE", "activate", "ACTIVE", "LIMIT_ACTIVATED"],
    ["INACTIVE", "deactivate", "noop", null],
    ["INACTIVE", "draft", "DRAFT", "LIMIT_DRAFTED"],
    ["INACTIVE", "delete", "DELETED", "LIMIT_DELETED"],
  ];

  it.each(table)("%s --%s--> %s", async (from, action, outcome, eventType) => {
    const limit = await limitIn(from);
    const eventsBefore = await eventsOf(limit.limitId);
    const res =
      action === "delete"
        ? await t.request("DELETE", `/v1/limits/${limit.limitId}`)
        : await transition(limit.limitId, action);
    if (outcome === "refused") {
      const p = await problem(res, 422, "INVALID_TRANSITION");
      expect(p.detail).toContain(from);
      expect({ ...(await getLimit(limit.limitId)), resetAt: null }).toEqual({ ...limit, resetAt: null });
    } else if (outcome === "noop") {
      const body = await ok<Limit>(res);
      expect({ ...body, resetAt: null }).toEqual({ ...limit, resetAt: null });
      expect((await getLimit(limit.limitId)).updatedAt).toBe(limit.updatedAt);
    } else if (outcome === "DELETED") {
      expect(res.status).toBe(204);
      expect(await res.text()).toBe("");
      await problem(await t.request("GET", `/v1/limits/${limit.limitId}`), 404, "LIMIT_NOT_FOUND");
    } else {
      const body = await ok<Limit>(res);
      expect(body.status).toBe(outcome);
      expect(Date.parse(body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(limit.updatedAt));
      if (outcome === "ACTIVE") {
        expect(body.activatedAt).toMatch(RFC3339_MS);
        expect(body.deactivatedAt).toBeNull();
      }
      if (outcome === "INACTIVE") expect(body.deactivatedAt).toMatch(RFC3339_MS);
      expect((await getLimit(limit.limitId)).status).toBe(outcome);
    }
    const eventsAfter = await eventsOf(limit.limitId);
    if (eventType === null) {
      expect(eventsAfter).toEqual(eventsBefore);
    } else {
      expect(eventsAfter).toHaveLength(eventsBefore.length + 1);
      const event = eventsAfter[eventsAfter.length - 1]!;
      expect(event.eventType).toBe(eventType);
      expect(event.result).toBe("SUCCESS");
      expect(event.context.before?.status).toBe(from);
      expect(event.context.after?.status).toBe(outcome);
      if (outcome === "DELETED") expect(event.context.after?.deletedAt).toMatch(RFC3339_MS);
    }
  });

  it("PATCH is accepted as an alias of the POST transitions", async () => {
    const limit = await createLimit();
    expect((await ok<Limit>(await t.request("PATCH", `/v1/limits/${limit.limitId}/activate`))).status).toBe(
      "ACTIVE",
    );
    expect((await ok<Limit>(await t.request("PATCH", `/v1/limits/${limit.limitId}/deactivate`))).status).toBe(
      "INACTIVE",
    );
    expect((await ok<Limit>(await t.request("PATCH", `/v1/limits/${limit.limitId}/draft`))).status).toBe(
      "DRAFT",
    );
  });

  it("activate clears deactivatedAt", async () => {
    const limit = await limitIn("INACTIVE");
    expect(limit.deactivatedAt).toMatch(RFC3339_MS);
    const active = await ok<Limit>(await transition(limit.limitId, "activate"));
    expect(active.deactivatedAt).toBeNull();
    expect(active.activatedAt).toMatch(RFC3339_MS);
  });

  it("DELETE: 204 from DRAFT and INACTIVE, 422 from ACTIVE, repeat → 404, then every route is 404", async () => {
    const draft = await createLimit();
    expect((await t.request("DELETE", `/v1/limits/${draft.limitId}`)).status).toBe(204);
    const inactive = await limitIn("INACTIVE");
    expect((await t.request("DELETE", `/v1/limits/${inactive.limitId}`)).status).toBe(204);
    const active = await limitIn("ACTIVE");
    await problem(await t.request("DELETE", `/v1/limits/${active.limitId}`), 422, "INVALID_TRANSITION");
    expect((await getLimit(active.limitId)).status).toBe("ACTIVE");

    for (const id of [draft.limitId, inactive.limitId]) {
      await problem(await t.request("DELETE", `/v1/limits/${id}`), 404, "LIMIT_NOT_FOUND");
      await problem(await t.request("GET", `/v1/limits/${id}`), 404, "LIMIT_NOT_FOUND");
      await problem(await t.request("GET", `/v1/limits/${id}/usage`), 404, "LIMIT_NOT_FOUND");
      for (const action of ["activate", "deactivate", "draft"] as const)
        await problem(await transition(id, action), 404, "LIMIT_NOT_FOUND");
      const deletions = (await eventsOf(id)).filter((e) => e.eventType === "LIMIT_DELETED");
      expect(deletions).toHaveLength(1);
    }
  });

  it("404 LIMIT_NOT_FOUND for an unknown id on every route; 400 for a malformed id", async () => {
    const id = randomUUID();
    await problem(await t.request("GET", `/v1/limits/${id}`), 404, "LIMIT_NOT_FOUND");
    await problem(await t.request("GET", `/v1/limits/${id}/usage`), 404, "LIMIT_NOT_FOUND");
    await problem(await t.request("DELETE", `/v1/limits/${id}`), 404, "LIMIT_NOT_FOUND");
    for (const action of ["activate", "deactivate", "draft"] as const)
      await problem(await transition(id, action), 404, "LIMIT_NOT_FOUND");
    await problem(await t.request("GET", "/v1/limits/not-a-uuid"), 400, "VALIDATION_ERROR");
  });
});

describe("GET /v1/limits — list", () => {
  const tag = `List${Date.now().toString(36)}`;
  const accountA = randomUUID();
  const accountB = randomUUID();
  const segment = randomUUID();
  const segment2 = randomUUID();
  const merchant = randomUUID();
  const merchant2 = randomUUID();
  const portfolio = randomUUID();
  const created: Record<string, Limit> = {};

  beforeAll(async () => {
    const specs: [string, Body, "DRAFT" | "ACTIVE" | "INACTIVE" | "DELETE"][] = [
      ["a", { limitType: "DAILY", scopes: [{ accountId: accountA }] }, "ACTIVE"],
      ["b", { limitType: "WEEKLY", scopes: [{ segmentId: segment, transactionType: "PIX" }] }, "DRAFT"],
      [
        "c",
        { limitType: "MONTHLY", scopes: [{ merchantId: merchant }, { accountId: accountA }] },
        "INACTIVE",
      ],
      [
        "d",
        { limitType: "PER_TRANSACTION", scopes: [{ portfolioId: portfolio, subType: "Instant" }] },
        "ACTIVE",
      ],
      ["e", { limitType: "DAILY", scopes: [{ segmentId: segment }] }, "DRAFT"],
      ["f", { limitType: "DAILY", scopes: [{ accountId: accountA }] }, "DELETE"],
      ["g", { limitType: "DAILY", scopes: [{ accountId: accountB, transactionType: "CARD" }] }, "DRAFT"],
      ["h", { limitType: "MONTHLY", scopes: [{ segmentId: segment2, merchantId: merchant2 }] }, "DRAFT"],
    ];
    for (const [key, body, status] of specs) {
      const limit = await createLimit({ name: `${tag} ${key}`, ...body });
      if (status === "ACTIVE" || status === "INACTIVE") await ok(await transition(limit.limitId, "activate"));
      if (status === "INACTIVE") await ok(await transition(limit.limitId, "deactivate"));
      if (status === "DELETE")
        expect((await t.request("DELETE", `/v1/limits/${limit.limitId}`)).status).toBe(204);
      created[key] = limit;
    }
  });

  const names = (page: { limits: Limit[] }) => page.limits.map((l) => l.name.slice(tag.length + 1)).sort();

  it("filters by name (partial, case-insensitive) and never lists deleted limits", async () => {
    expect(names(await listLimits(`name=${tag.toLowerCase()}&limit=100`))).toEqual([
      "a",
      "b",
      "c",
      "d",
      "e",
      "g",
      "h",
    ]);
    expect(names(await listLimits(`name=${encodeURIComponent(`${tag.toUpperCase()} C`)}`))).toEqual(["c"]);
  });

  it("the name filter matches _ and % literally", async () => {
    const prefix = `Esc${Date.now().toString(36)}`;
    await createLimit({ name: `${prefix} a_b` });
    await createLimit({ name: `${prefix} axb` });
    const found = await listLimits(`name=${encodeURIComponent(`${prefix} a_b`)}`);
    expect(found.limits.map((l) => l.name)).toEqual([`${prefix} a_b`]);
    expect((await listLimits(`name=${encodeURIComponent(`${prefix}%`)}`)).limits).toEqual([]);
  });

  it.each([
    ["status=ACTIVE", ["a", "d"]],
    ["status=DRAFT", ["b", "e", "g", "h"]],
    ["status=INACTIVE", ["c"]],
    ["limit_type=DAILY", ["a", "e", "g"]],
    ["limit_type=PER_TRANSACTION", ["d"]],
    ["status=DRAFT&limit_type=WEEKLY", ["b"]],
  ])("filters by %s", async (query, expected) => {
    expect(names(await listLimits(`name=${tag}&${query}`))).toEqual(expected);
  });

  // Scope filters select the limits applicable to that context (tracer.md §3.2.2): a limit is listed
  // when one of its scopes does not contradict the filter, i.e. sets each filtered field to the
  // filtered value or leaves it unset.
  it.each([
    ["account_id=A", () => `account_id=${accountA}`, ["a", "b", "c", "d", "e", "h"]],
    [
      "account_id=A in upper case",
      () => `account_id=${accountA.toUpperCase()}`,
      ["a", "b", "c", "d", "e", "h"],
    ],
    ["account_id=B", () => `account_id=${accountB}`, ["b", "c", "d", "e", "g", "h"]],
    ["account_id=other", () => `account_id=${randomUUID()}`, ["b", "c", "d", "e", "h"]],
    ["segment_id=S", () => `segment_id=${segment}`, ["a", "b", "c", "d", "e", "g"]],
    ["segment_id=other", () => `segment_id=${randomUUID()}`, ["a", "c", "d", "g"]],
    ["merchant_id=M2", () => `merchant_id=${merchant2}`, ["a", "b", "c", "d", "e", "g", "h"]],
    ["merchant_id=other", () => `merchant_id=${randomUUID()}`, ["a", "b", "c", "d", "e", "g"]],
    ["portfolio_id=other", () => `portfolio_id=${randomUUID()}`, ["a", "b", "c", "e", "g", "h"]],
    ["transaction_type=PIX", () => "transaction_type=PIX", ["a", "b", "c", "d", "e", "h"]],
    ["transaction_type=WIRE", () => "transaction_type=WIRE", ["a", "c", "d", "e", "h"]],
    ["sub_type=INSTANT (case-insensitive)", () => "sub_type=INSTANT", ["a", "b", "c", "d", "e", "g", "h"]],
    ["sub_type=other", () => "sub_type=credit", ["a", "b", "c", "e", "g", "h"]],
    [
      "segment_id=S&transaction_type=CARD",
      () => `segment_id=${segment}&transaction_type=CARD`,
      ["a", "c", "d", "e", "g"],
    ],
    [
      "account_id=B&segment_id=S2&merchant_id=M2",
      () => `account_id=${accountB}&segment_id=${segment2}&merchant_id=${merchant2}`,
      ["d", "g", "h"],
    ],
  ])("filters by scope: %s", async (_label, query, expected) => {
    expect(names(await listLimits(`name=${tag}&limit=100&${query()}`))).toEqual(expected);
  });

  it("paginates with a cursor: every limit exactly once, hasMore false on the last page", async () => {
    for (const [sort, expectedOrder] of [
      ["", ["h", "g", "e", "d", "c", "b", "a"]],
      ["&sort_by=name&sort_order=asc", ["a", "b", "c", "d", "e", "g", "h"]],
      ["&sort_by=name&sort_order=desc", ["h", "g", "e", "d", "c", "b", "a"]],
      ["&sort_by=created_at&sort_order=asc", ["a", "b", "c", "d", "e", "g", "h"]],
    ] as const) {
      const seen: string[] = [];
      let page = await listLimits(`name=${tag}&limit=2${sort}`);
      let pages = 1;
      for (;;) {
        expect(page.limits.length).toBeLessThanOrEqual(2);
        seen.push(...page.limits.map((l) => l.name.slice(tag.length + 1)));
        if (!page.hasMore) break;
        expect(page.nextCursor).toEqual(expect.any(String));
        page = await listLimits(`limit=2&name=${tag}&cursor=${encodeURIComponent(page.nextCursor!)}`);
        pages++;
        expect(pages).toBeLessThan(10);
      }
      expect(page.nextCursor).toBeNull();
      expect(pages).toBe(4);
      expect(seen).toEqual(expectedOrder);
    }
  });

  it("list items carry the same fields as GET", async () => {
    const page = await listLimits(`name=${encodeURIComponent(`${tag} d`)}`);
    expect(page.limits).toHaveLength(1);
    expect({ ...page.limits[0]!, resetAt: null }).toEqual({
      ...(await getLimit(created.d!.limitId)),
      resetAt: null,
    });
  });

  it.each([
    ["limit=0", "query.limit"],
    ["limit=101", "query.limit"],
    ["status=DELETED", "query.status"],
    ["limit_type=HOURLY", "query.limit_type"],
    ["account_id=nope", "query.account_id"],
    ["cursor=garbage", "query.cursor"],
    ["unknown=1", "query.unknown"],
  ])("400 for ?%s", async (query, path) => {
    expect(await validationPaths(await t.request("GET", `/v1/limits?${query}`))).toContain(path);
  });
});

describe("audit events of limit changes", () => {
  it("every change writes exactly one LIMIT_* event with {after} or {before, after}; no-ops and failures write none", async () => {
    const limit = await createLimit({ maxAmount: "1000", currency: "BRL" });
    const id = limit.limitId;
    await ok(await t.request("PATCH", `/v1/limits/${id}`, { maxAmount: "1500.5" }));
    await ok(await transition(id, "activate"));
    await ok(await transition(id, "activate")); // no-op
    await problem(await t.request("DELETE", `/v1/limits/${id}`), 422, "INVALID_TRANSITION");
    await problem(await t.request("PATCH", `/v1/limits/${id}`, { currency: "USD" }), 400, "IMMUTABLE_FIELD");
    await ok(await transition(id, "deactivate"));
    await ok(await transition(id, "draft"));
    expect((await t.request("DELETE", `/v1/limits/${id}`)).status).toBe(204);

    const events = await eventsOf(id);
    expect(events.map((e) => e.eventType)).toEqual([
      "LIMIT_CREATED",
      "LIMIT_UPDATED",
      "LIMIT_ACTIVATED",
      "LIMIT_DEACTIVATED",
      "LIMIT_DRAFTED",
      "LIMIT_DELETED",
    ]);
    expect(events.map((e) => e.action)).toEqual([
      "CREATE",
      "UPDATE",
      "ACTIVATE",
      "DEACTIVATE",
      "DRAFT",
      "DELETE",
    ]);
    for (let i = 1; i < events.length; i++)
      expect(events[i]!.sequence).toBeGreaterThan(events[i - 1]!.sequence);
    for (const e of events) {
      expect(e).toMatchObject({ result: "SUCCESS", resourceType: "limit", resourceId: id });
      expect(e.actor.actorType).toBe("api_key");
    }

    const [created, updated, activated, deactivated, drafted, deleted] = events;
    expect(Object.keys(created!.context)).toEqual(["after"]);
    expect(created!.context.after).toMatchObject({
      limitId: id,
      status: "DRAFT",
      maxAmount: "1000.00",
      currency: "BRL",
    });
    for (const e of [updated, activated, deactivated, drafted, deleted])
      expect(Object.keys(e!.context).sort()).toEqual(["after", "before"]);
    expect(updated!.context.before?.maxAmount).toBe("1000.00");
    expect(updated!.context.after?.maxAmount).toBe("1500.50");
    expect([activated!.context.before?.status, activated!.context.after?.status]).toEqual([
      "DRAFT",
      "ACTIVE",
    ]);
    expect([deactivated!.context.before?.status, deactivated!.context.after?.status]).toEqual([
      "ACTIVE",
      "INACTIVE",
    ]);
    expect([drafted!.context.before?.status, drafted!.context.after?.status]).toEqual(["INACTIVE", "DRAFT"]);
    expect([deleted!.context.before?.status, deleted!.context.after?.status]).toEqual(["DRAFT", "DELETED"]);

    // Money inside context is always in its string form, never a JSON number.
    for (const e of events) {
      for (const side of [e.context.before, e.context.after]) {
        if (side) expect(typeof side.maxAmount).toBe("string");
      }
      expect(JSON.stringify(e.context)).not.toMatch(/"maxAmount":\s*\d/);
    }

    // The event is exactly what GET /v1/audit-events/{id} returns, and the chain up to it verifies.
    const last = events[events.length - 1]!;
    expect(await ok(await t.request("GET", `/v1/audit-events/${last.eventId}`))).toEqual(last);
    const upTo = await ok<{ isValid: boolean; totalChecked: number }>(
      await t.request("GET", `/v1/audit-events/${last.eventId}/verify`),
    );
    expect(upTo).toMatchObject({ isValid: true, totalChecked: last.sequence });
  });

  it("the whole chain verifies after all of this file's changes", async () => {
    const result = await ok<{ isValid: boolean; totalChecked: number }>(
      await t.request("GET", "/v1/audit-events/verify"),
    );
    expect(result.isValid).toBe(true);
    expect(result.totalChecked).toBeGreaterThan(0);
  });
});
