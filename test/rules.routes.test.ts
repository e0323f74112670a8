/**
 * Rule CRUD, lifecycle, validation errors and the audit events every change writes (CONTRACT §2, §3,
 * §6), through the public API of the real app on a fresh database.
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "./harness.js";

type Status = "DRAFT" | "ACTIVE" | "INACTIVE" | "DELETED";
type Transition = "activate" | "deactivate" | "draft" | "delete";

interface Rule {
  ruleId: string;
  name: string;
  description: string | null;
  expression: Record<string, unknown>;
  action: "ALLOW" | "DENY" | "REVIEW";
  scopes: Record<string, string>[];
  status: Status;
  createdAt: string;
  updatedAt: string;
  activatedAt: string | null;
  deactivatedAt: string | null;
  deletedAt: string | null;
}

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  instance: string;
  errors?: { path: string; message: string }[];
}

interface AuditEvent {
  eventId: string;
  tenantId: string;
  sequence: number;
  eventType: string;
  action: string;
  result: string;
  resourceType: string;
  resourceId: string;
  actor: { id: string; actorType: string; name: string };
  context: Record<string, unknown>;
  metadata: Record<string, unknown>;
  createdAt: string;
  previousHash: string;
  hash: string;
}

/** What one change must have written: its type and action, and the before/after it records. */
interface ExpectedEvent {
  eventType: string;
  action: string;
  before?: Rule;
  after: Rule;
}

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const EXPR = { ">": [{ var: "amount" }, 100] };

let counter = 0;
/** A name no other test of this file uses. */
const uniqueName = (label: string) => `${label} ${++counter} ${randomUUID().slice(0, 8)}`;

async function readJson<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function problem(res: Response, status: number, code: string): Promise<Problem> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = JSON.parse(text) as Problem;
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  expect(body.requestId).toBe(res.headers.get("x-request-id"));
  return body;
}

/** A 400 whose errors[] names `path` (and, when given, a message matching `message`). */
async function badRequest(res: Response, path: string, code = "VALIDATION_ERROR", message?: RegExp) {
  const body = await problem(res, 400, code);
  const paths = (body.errors ?? []).map((e) => e.path);
  expect(paths, JSON.stringify(body.errors)).toContain(path);
  if (message) {
    const hit = (body.errors ?? []).find((e) => e.path === path);
    expect(hit?.message).toMatch(message);
  }
  return body;
}

async function createRule(overrides: Record<string, unknown> = {}): Promise<Rule> {
  const body = { name: uniqueName("rule"), expression: EXPR, action: "DENY", ...overrides };
  return readJson<Rule>(await t.request("POST", "/v1/rules", body), 201);
}

async function getRule(ruleId: string): Promise<Rule> {
  return readJson<Rule>(await t.request("GET", `/v1/rules/${ruleId}`), 200);
}

async function transition(ruleId: string, tr: Exclude<Transition, "delete">, method = "POST") {
  return t.request(method, `/v1/rules/${ruleId}/${tr}`);
}

async function auditEventsOf(resourceId: string): Promise<AuditEvent[]> {
  const page = await readJson<{ auditEvents: AuditEvent[]; hasMore: boolean }>(
    await t.request("GET", `/v1/audit-events?resource_id=${resourceId}&sort_order=asc&limit=1000`),
    200,
  );
  expect(page.hasMore).toBe(false);
  return page.auditEvents;
}

/** The rule's audit trail is exactly `expected`, in order, each event well-formed. */
async function expectAudit(ruleId: string, expected: ExpectedEvent[]): Promise<AuditEvent[]> {
  const events = await auditEventsOf(ruleId);
  expect(events.map((e) => e.eventType)).toEqual(expected.map((e) => e.eventType));
  events.forEach((event, i) => {
    const want = expected[i]!;
    expect(event.action).toBe(want.action);
    expect(event.result).toBe("SUCCESS");
    expect(event.resourceType).toBe("rule");
    expect(event.resourceId).toBe(ruleId);
    expect(event.tenantId).toBe("default");
    expect(event.actor).toEqual({ id: "default", actorType: "api_key", name: "default" });
    expect(event.context).toEqual(
      want.before ? { before: want.before, after: want.after } : { after: want.after },
    );
    if (i > 0) expect(event.sequence).toBeGreaterThan(events[i - 1]!.sequence);
  });
  return events;
}

const createdEvent = (after: Rule): ExpectedEvent => ({ eventType: "RULE_CREATED", action: "CREATE", after });
const updatedEvent = (before: Rule, after: Rule): ExpectedEvent => ({
  eventType: "RULE_UPDATED",
  action: "UPDATE",
  before,
  after,
});
const TRANSITION_EVENTS: Record<Transition, { eventType: string; action: string }> = {
  activate: { eventType: "RULE_ACTIVATED", action: "ACTIVATE" },
  deactivate: { eventType: "RULE_DEACTIVATED", action: "DEACTIVATE" },
  draft: { eventType: "RULE_DRAFTED", action: "DRAFT" },
  delete: { eventType: "RULE_DELETED", action: "DELETE" },
};
const transitionEvent = (tr: Transition, before: Rule, after: Rule): ExpectedEvent => ({
  ...TRANSITION_EVENTS[tr],
  before,
  after,
});

/** A rule brought to `status` through the API, with the audit trail that took. */
async function ruleIn(status: Status): Promise<{ rule: Rule; history: ExpectedEvent[] }> {
  let rule = await createRule();
  const history: ExpectedEvent[] = [createdEvent(rule)];
  const step = async (tr: Exclude<Transition, "delete">) => {
    const after = await readJson<Rule>(await transition(rule.ruleId, tr), 200);
    history.push(transitionEvent(tr, rule, after));
    rule = after;
  };
  if (status === "ACTIVE" || status === "INACTIVE") await step("activate");
  if (status === "INACTIVE") await step("deactivate");
  if (status === "DELETED") {
    expect((await t.request("DELETE", `/v1/rules/${rule.ruleId}`)).status).toBe(204);
    const events = await auditEventsOf(rule.ruleId);
    const after = events[events.length - 1]!.context.after as Rule;
    history.push(transitionEvent("delete", rule, after));
    rule = after;
  }
  return { rule, history };
}

describe("POST /v1/rules", () => {
  it("creates a DRAFT rule with every field and writes RULE_CREATED with {after}", async () => {
    const name = uniqueName("Card gambling");
    const res = await t.request("POST", "/v1/rules", {
      name,
      description: "DENY card payments above 10,000 at gambling merchants",
      expression: {
        and: [{ ">": [{ var: "amount" }, 10000] }, { "==": [{ var: "merchant.category" }, "7995"] }],
      },
      action: "DENY",
      scopes: [{ transactionType: "CARD" }],
    });
    const rule = await readJson<Rule>(res, 201);
    expect(rule).toEqual({
      ruleId: expect.stringMatching(UUID_V7),
      name,
      description: "DENY card payments above 10,000 at gambling merchants",
      expression: {
        and: [{ ">": [{ var: "amount" }, 10000] }, { "==": [{ var: "merchant.category" }, "7995"] }],
      },
      action: "DENY",
      scopes: [{ transactionType: "CARD" }],
      status: "DRAFT",
      createdAt: expect.stringMatching(ISO_MS),
      updatedAt: rule.createdAt,
      activatedAt: null,
      deactivatedAt: null,
      deletedAt: null,
    });
    expect(await getRule(rule.ruleId)).toEqual(rule);
    await expectAudit(rule.ruleId, [createdEvent(rule)]);
  });

  it("defaults description to null and scopes to [] (global), and trims the name", async () => {
    const name = uniqueName("trimmed");
    const rule = await createRule({ name: `   ${name}  `, action: "REVIEW" });
    expect(rule.name).toBe(name);
    expect(rule.description).toBeNull();
    expect(rule.scopes).toEqual([]);
    expect(rule.action).toBe("REVIEW");
    expect(rule.status).toBe("DRAFT");
  });

  it("normalizes scopes: subType trimmed and lower-cased, ids lower-cased, order kept", async () => {
    const account = randomUUID().toUpperCase();
    const merchant = randomUUID().toUpperCase();
    const segment = randomUUID().toUpperCase();
    const portfolio = randomUUID().toUpperCase();
    const rule = await createRule({
      scopes: [
        { accountId: account, subType: "  ContactLess " },
        { merchantId: merchant, transactionType: "PIX" },
        { segmentId: segment, portfolioId: portfolio },
      ],
    });
    expect(rule.scopes).toEqual([
      { accountId: account.toLowerCase(), subType: "contactless" },
      { merchantId: merchant.toLowerCase(), transactionType: "PIX" },
      { segmentId: segment.toLowerCase(), portfolioId: portfolio.toLowerCase() },
    ]);
    expect((await getRule(rule.ruleId)).scopes).toEqual(rule.scopes);
    const [event] = await auditEventsOf(rule.ruleId);
    expect(event).toBeDefined();
    expect((event!.context.after as Rule).scopes).toEqual(rule.scopes);
  });

  it("is always DRAFT: a status in the body is an unknown field", async () => {
    await badRequest(
      await t.request("POST", "/v1/rules", {
        name: uniqueName("status"),
        expression: EXPR,
        action: "DENY",
        status: "ACTIVE",
      }),
      "status",
      "VALIDATION_ERROR",
      /unknown field/,
    );
  });

  it("accepts exactly 100 scopes", async () => {
    const scopes = Array.from({ length: 100 }, () => ({ accountId: randomUUID() }));
    const rule = await createRule({ scopes });
    expect(rule.scopes).toHaveLength(100);
  });

  it("accepts an expression of exactly 500 nodes and 32 nested operations", async () => {
    // {"or": [124 × {"==": [1, 1]}, true, true]}: 1 + 1 + 124 × 4 + 2 = 500 nodes.
    const or = [...Array.from({ length: 124 }, () => ({ "==": [1, 1] })), true, true];
    await createRule({ expression: { or } });
    await createRule({ expression: nestedNot(31) });
  });
});

/** `depth` - 1 nested `!` around `{"==": [1, 1]}`: `depth` operations in all. */
function nestedNot(notCount: number): Record<string, unknown> {
  let expr: Record<string, unknown> = { "==": [1, 1] };
  for (let i = 0; i < notCount; i++) expr = { "!": expr };
  return expr;
}

describe("validation errors name the offending path", () => {
  const base = () => ({ name: uniqueName("invalid"), expression: EXPR, action: "DENY" });
  const post = (body: unknown) => t.request("POST", "/v1/rules", body);

  it("empty or blank or missing name → name", async () => {
    await badRequest(await post({ ...base(), name: "" }), "name");
    await badRequest(await post({ ...base(), name: "    " }), "name");
    await badRequest(await post({ ...base(), name: "x".repeat(256) }), "name");
    const { name: _drop, ...noName } = base();
    await badRequest(await post(noName), "name");
  });

  it("unknown field → its own path, 'unknown field'", async () => {
    await badRequest(await post({ ...base(), priority: 3 }), "priority", "VALIDATION_ERROR", /unknown field/);
  });

  it("bad action → action", async () => {
    await badRequest(await post({ ...base(), action: "BLOCK" }), "action");
    await badRequest(await post({ ...base(), action: "deny" }), "action");
  });

  it("description over 1000 characters → description", async () => {
    await badRequest(await post({ ...base(), description: "d".repeat(1001) }), "description");
  });

  it("an empty scope object → scopes[i]", async () => {
    await badRequest(await post({ ...base(), scopes: [{}] }), "scopes[0]");
    await badRequest(await post({ ...base(), scopes: [{ transactionType: "CARD" }, {}] }), "scopes[1]");
  });

  it("more than 100 scopes → scopes", async () => {
    const scopes = Array.from({ length: 101 }, () => ({ accountId: randomUUID() }));
    await badRequest(await post({ ...base(), scopes }), "scopes");
  });

  it("bad scope fields → scopes[i].<field>", async () => {
    await badRequest(await post({ ...base(), scopes: [{ accountId: "not-a-uuid" }] }), "scopes[0].accountId");
    await badRequest(
      await post({ ...base(), scopes: [{ accountId: randomUUID() }, { segmentId: "123" }] }),
      "scopes[1].segmentId",
    );
    await badRequest(await post({ ...base(), scopes: [{ merchantId: 42 }] }), "scopes[0].merchantId");
    await badRequest(await post({ ...base(), scopes: [{ portfolioId: "" }] }), "scopes[0].portfolioId");
    await badRequest(
      await post({ ...base(), scopes: [{ transactionType: "ATM" }] }),
      "scopes[0].transactionType",
    );
    await badRequest(await post({ ...base(), scopes: [{ subType: "   " }] }), "scopes[0].subType");
    await badRequest(
      await post({ ...base(), scopes: [{ accountId: randomUUID(), tenantId: "x" }] }),
      "scopes[0].tenantId",
      "VALIDATION_ERROR",
      /unknown field/,
    );
  });

  it("nothing is created by a refused request", async () => {
    const name = uniqueName("refused");
    await badRequest(await post({ name, expression: EXPR, action: "BLOCK" }), "action");
    const list = await readJson<{ rules: Rule[] }>(
      await t.request("GET", `/v1/rules?name=${encodeURIComponent(name)}`),
      200,
    );
    expect(list.rules).toEqual([]);
  });

  it("malformed JSON → 400 INVALID_JSON", async () => {
    await problem(await post('{"name": "x", '), 400, "INVALID_JSON");
  });
});

describe("expression errors → 400 INVALID_EXPRESSION with errors[] paths", () => {
  const post = (expression: unknown) =>
    t.request("POST", "/v1/rules", { name: uniqueName("bad expr"), expression, action: "DENY" });
  const invalid = (res: Response, path: string, message?: RegExp) =>
    badRequest(res, path, "INVALID_EXPRESSION", message);

  it("unknown operator, including the side-effecting ones", async () => {
    await invalid(
      await post({ and: [{ ">": [{ var: "amount" }, 1] }, { regex_match: ["a", "b"] }] }),
      "expression.and[1].regex_match",
      /unknown operator 'regex_match'/,
    );
    await invalid(await post({ and: [{ log: "x" }, true] }), "expression.and[0].log", /not allowed/);
    await invalid(
      await post({ "!!": [{ method: [{ var: "currency" }, "toLowerCase"] }] }),
      "expression.!![0].method",
    );
  });

  it("unknown variable", async () => {
    await invalid(
      await post({ "==": [{ var: "acount.accountId" }, "x"] }),
      "expression.==[0].var",
      /unknown variable 'acount.accountId'/,
    );
    await invalid(await post({ ">": [{ var: "amount.value" }, 1] }), "expression.>[0].var");
    await invalid(await post({ "==": [{ var: "merchant.__proto__" }, 1] }), "expression.==[0].var");
  });

  it("every problem is reported, not only the first", async () => {
    const body = await invalid(
      await post({ and: [{ nope: [1] }, { "==": [{ var: "missingVar" }, 1] }] }),
      "expression.and[0].nope",
    );
    expect(body.errors?.map((e) => e.path)).toContain("expression.and[1].==[0].var");
  });

  it("depth over 32", async () => {
    const body = await invalid(await post(nestedNot(32)), `expression${".!".repeat(32)}`, /depth exceeds 32/);
    expect(body.errors).toHaveLength(1);
  });

  it("an expression nested far beyond 32 levels (12,000, body still under 100 KB) is a 400, not a 500", async () => {
    let expression = '{"==":[1,1]}';
    for (let i = 0; i < 12_000; i++) expression = `{"!":${expression}}`;
    const body = `{"name":"${uniqueName("deep")}","action":"DENY","expression":${expression}}`;
    expect(body.length).toBeLessThan(100 * 1024);
    const res = await t.request("POST", "/v1/rules", body);
    const text = await res.text();
    expect(res.status, text.slice(0, 300)).toBe(400);
    expect(["INVALID_EXPRESSION", "VALIDATION_ERROR"]).toContain((JSON.parse(text) as Problem).code);
  });

  it("more than 500 nodes", async () => {
    const or = [...Array.from({ length: 124 }, () => ({ "==": [1, 1] })), true, true, true];
    await invalid(await post({ or }), "expression", /more than 500 nodes/);
  });

  it("a top level that does not evaluate to a boolean", async () => {
    await invalid(await post({ "+": [1, 2] }), "expression.+", /does not return a boolean/);
    await invalid(await post({ var: "amount" }), "expression.var", /does not return a boolean/);
    await invalid(await post({ if: [{ ">": [{ var: "amount" }, 1] }, true] }), "expression.if", /else/);
  });

  it("not a JSON object", async () => {
    for (const expression of ["amount > 100", 42, true, null, [{ ">": [{ var: "amount" }, 1] }]]) {
      await invalid(await post(expression), "expression");
    }
    await invalid(await post({}), "expression", /empty object/);
  });

  it("PATCH of a DRAFT expression is checked the same way, and leaves the rule unchanged", async () => {
    const rule = await createRule();
    await invalid(
      await t.request("PATCH", `/v1/rules/${rule.ruleId}`, { expression: { "==": [{ var: "nope" }, 1] } }),
      "expression.==[0].var",
    );
    await invalid(await t.request("PATCH", `/v1/rules/${rule.ruleId}`, { expression: "true" }), "expression");
    expect(await getRule(rule.ruleId)).toEqual(rule);
    await expectAudit(rule.ruleId, [createdEvent(rule)]);
  });

  it("activate re-checks the stored expression", async () => {
    const rule = await createRule();
    // A rule stored before a validator change: only reachable by writing the row directly.
    await t.db.handle.db.execute(
      sql`update rules set expression = ${JSON.stringify({ nope: [1] })}::jsonb where rule_id = ${rule.ruleId}`,
    );
    await invalid(await transition(rule.ruleId, "activate"), "expression.nope");
    expect((await getRule(rule.ruleId)).status).toBe("DRAFT");
    await expectAudit(rule.ruleId, [createdEvent(rule)]);
  });
});

describe("ids", () => {
  const paths = (id: string): [string, string][] => [
    ["GET", `/v1/rules/${id}`],
    ["PATCH", `/v1/rules/${id}`],
    ["DELETE", `/v1/rules/${id}`],
    ["POST", `/v1/rules/${id}/activate`],
    ["POST", `/v1/rules/${id}/deactivate`],
    ["POST", `/v1/rules/${id}/draft`],
    ["PATCH", `/v1/rules/${id}/activate`],
    ["PATCH", `/v1/rules/${id}/deactivate`],
    ["PATCH", `/v1/rules/${id}/draft`],
  ];
  const patchBody = (method: string, path: string) =>
    method === "PATCH" && !/\/(activate|deactivate|draft)$/.test(path)
      ? { name: uniqueName("x") }
      : undefined;

  it("a non-UUID id → 400 naming path.ruleId", async () => {
    for (const [method, path] of paths("not-a-uuid")) {
      await badRequest(await t.request(method, path, patchBody(method, path)), "path.ruleId");
    }
  });

  it("an unknown id → 404 RULE_NOT_FOUND on every route", async () => {
    for (const [method, path] of paths(randomUUID())) {
      await problem(await t.request(method, path, patchBody(method, path)), 404, "RULE_NOT_FOUND");
    }
  });

  it("a deleted id → 404 RULE_NOT_FOUND on every route, and no event is written", async () => {
    const { rule, history } = await ruleIn("DELETED");
    for (const [method, path] of paths(rule.ruleId)) {
      await problem(await t.request(method, path, patchBody(method, path)), 404, "RULE_NOT_FOUND");
    }
    await expectAudit(rule.ruleId, history);
  });
});

describe("GET /v1/rules/{id} and list", () => {
  it("get returns the current state; list contains live rules and not deleted ones", async () => {
    const live = await createRule({ name: uniqueName("listed") });
    const { rule: gone } = await ruleIn("DELETED");
    expect(await getRule(live.ruleId)).toEqual(live);
    const all: Rule[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : "";
      const page: { rules: Rule[]; nextCursor: string | null } = await readJson(
        await t.request("GET", `/v1/rules?limit=100${q}`),
        200,
      );
      all.push(...page.rules);
      cursor = page.nextCursor;
    } while (cursor);
    const ids = all.map((r) => r.ruleId);
    expect(ids).toContain(live.ruleId);
    expect(ids).not.toContain(gone.ruleId);
    expect(all.find((r) => r.ruleId === live.ruleId)).toEqual(live);
    expect(all.every((r) => r.status !== "DELETED")).toBe(true);
  });
});

describe("PATCH /v1/rules/{id}", () => {
  for (const status of ["DRAFT", "ACTIVE", "INACTIVE"] as const) {
    it(`changes name, description, action and scopes of a ${status} rule, one event per change`, async () => {
      const { rule: start, history } = await ruleIn(status);
      let rule = start;
      const account = randomUUID().toUpperCase();
      const changes: Record<string, unknown>[] = [
        { name: uniqueName("renamed") },
        { description: "now described" },
        { action: "REVIEW" },
        { scopes: [{ accountId: account, subType: " Recurring " }, { transactionType: "WIRE" }] },
        { description: null, action: "ALLOW" },
      ];
      for (const change of changes) {
        const after = await readJson<Rule>(await t.request("PATCH", `/v1/rules/${rule.ruleId}`, change), 200);
        const expected: Rule = { ...rule, ...(change as Partial<Rule>), updatedAt: after.updatedAt };
        if (change.scopes) {
          expected.scopes = [
            { accountId: account.toLowerCase(), subType: "recurring" },
            { transactionType: "WIRE" },
          ];
        }
        expect(after).toEqual(expected);
        expect(after.status).toBe(status);
        expect(after.updatedAt >= rule.updatedAt).toBe(true);
        expect(await getRule(rule.ruleId)).toEqual(after);
        history.push(updatedEvent(rule, after));
        rule = after;
      }
      await expectAudit(rule.ruleId, history);
    });
  }

  it("changes the expression of a DRAFT rule", async () => {
    const rule = await createRule();
    const expression = { "<": [{ var: "amount" }, 5] };
    const after = await readJson<Rule>(
      await t.request("PATCH", `/v1/rules/${rule.ruleId}`, { expression }),
      200,
    );
    expect(after).toEqual({ ...rule, expression, updatedAt: after.updatedAt });
    await expectAudit(rule.ruleId, [createdEvent(rule), updatedEvent(rule, after)]);
  });

  for (const status of ["ACTIVE", "INACTIVE"] as const) {
    it(`refuses an expression change on a ${status} rule with 422 EXPRESSION_NOT_MODIFIABLE, atomically`, async () => {
      const { rule, history } = await ruleIn(status);
      await problem(
        await t.request("PATCH", `/v1/rules/${rule.ruleId}`, { expression: { "<": [{ var: "amount" }, 5] } }),
        422,
        "EXPRESSION_NOT_MODIFIABLE",
      );
      // Together with an allowed field: nothing of the request is applied.
      await problem(
        await t.request("PATCH", `/v1/rules/${rule.ruleId}`, {
          name: uniqueName("not applied"),
          expression: { "<": [{ var: "amount" }, 5] },
        }),
        422,
        "EXPRESSION_NOT_MODIFIABLE",
      );
      expect(await getRule(rule.ruleId)).toEqual(rule);
      await expectAudit(rule.ruleId, history);
    });
  }

  it("after draft (INACTIVE → DRAFT) the expression can change again", async () => {
    const { rule: inactive, history } = await ruleIn("INACTIVE");
    const drafted = await readJson<Rule>(await transition(inactive.ruleId, "draft"), 200);
    history.push(transitionEvent("draft", inactive, drafted));
    const expression = { "==": [{ var: "currency" }, "BRL"] };
    const after = await readJson<Rule>(
      await t.request("PATCH", `/v1/rules/${inactive.ruleId}`, { expression }),
      200,
    );
    expect(after.expression).toEqual(expression);
    history.push(updatedEvent(drafted, after));
    await expectAudit(inactive.ruleId, history);
  });

  it("no field, null-only unknowns and bad values → 400", async () => {
    const rule = await createRule();
    const patch = (body: unknown) => t.request("PATCH", `/v1/rules/${rule.ruleId}`, body);
    await badRequest(await patch({}), "body", "VALIDATION_ERROR", /at least one field/);
    await badRequest(await patch({ status: "ACTIVE" }), "status", "VALIDATION_ERROR", /unknown field/);
    await badRequest(await patch({ name: "" }), "name");
    await badRequest(await patch({ name: null }), "name");
    await badRequest(await patch({ action: "BLOCK" }), "action");
    await badRequest(await patch({ scopes: [{}] }), "scopes[0]");
    await badRequest(await patch({ scopes: [{ accountId: "nope" }] }), "scopes[0].accountId");
    await badRequest(
      await patch({ scopes: Array.from({ length: 101 }, () => ({ transactionType: "CARD" })) }),
      "scopes",
    );
    expect(await getRule(rule.ruleId)).toEqual(rule);
    await expectAudit(rule.ruleId, [createdEvent(rule)]);
  });

  it("scopes can be cleared (the rule becomes global)", async () => {
    const rule = await createRule({ scopes: [{ transactionType: "CARD" }] });
    const after = await readJson<Rule>(
      await t.request("PATCH", `/v1/rules/${rule.ruleId}`, { scopes: [] }),
      200,
    );
    expect(after.scopes).toEqual([]);
    await expectAudit(rule.ruleId, [createdEvent(rule), updatedEvent(rule, after)]);
  });
});

describe("name uniqueness among live rules", () => {
  it("a duplicate name on create → 409 RULE_NAME_CONFLICT, for every live status", async () => {
    for (const status of ["DRAFT", "ACTIVE", "INACTIVE"] as const) {
      const { rule } = await ruleIn(status);
      await problem(
        await t.request("POST", "/v1/rules", { name: rule.name, expression: EXPR, action: "ALLOW" }),
        409,
        "RULE_NAME_CONFLICT",
      );
      await problem(
        await t.request("POST", "/v1/rules", { name: `  ${rule.name} `, expression: EXPR, action: "ALLOW" }),
        409,
        "RULE_NAME_CONFLICT",
      );
    }
  });

  it("renaming onto a live rule's name → 409, nothing changes; renaming to its own name is fine", async () => {
    const a = await createRule();
    const b = await createRule();
    await problem(
      await t.request("PATCH", `/v1/rules/${b.ruleId}`, { name: a.name }),
      409,
      "RULE_NAME_CONFLICT",
    );
    await problem(
      await t.request("PATCH", `/v1/rules/${b.ruleId}`, { name: a.name, action: "ALLOW" }),
      409,
      "RULE_NAME_CONFLICT",
    );
    expect(await getRule(b.ruleId)).toEqual(b);
    await expectAudit(b.ruleId, [createdEvent(b)]);
    const same = await readJson<Rule>(
      await t.request("PATCH", `/v1/rules/${b.ruleId}`, { name: b.name }),
      200,
    );
    expect(same.name).toBe(b.name);
  });

  it("a deleted rule's name is free again, for create and for rename", async () => {
    const { rule: gone } = await ruleIn("DELETED");
    const reborn = await createRule({ name: gone.name });
    expect(reborn.ruleId).not.toBe(gone.ruleId);
    expect(reborn.name).toBe(gone.name);
    expect(reborn.status).toBe("DRAFT");
    await expectAudit(reborn.ruleId, [createdEvent(reborn)]);

    const { rule: gone2 } = await ruleIn("DELETED");
    const other = await createRule();
    const renamed = await readJson<Rule>(
      await t.request("PATCH", `/v1/rules/${other.ruleId}`, { name: gone2.name }),
      200,
    );
    expect(renamed.name).toBe(gone2.name);
  });
});

describe("DELETE /v1/rules/{id}", () => {
  for (const status of ["DRAFT", "INACTIVE"] as const) {
    it(`deletes a ${status} rule: 204, then 404, absent from lists, RULE_DELETED recorded`, async () => {
      const { rule, history } = await ruleIn(status);
      const res = await t.request("DELETE", `/v1/rules/${rule.ruleId}`);
      expect(res.status).toBe(204);
      expect(await res.text()).toBe("");
      await problem(await t.request("GET", `/v1/rules/${rule.ruleId}`), 404, "RULE_NOT_FOUND");
      const list = await readJson<{ rules: Rule[] }>(
        await t.request("GET", `/v1/rules?name=${encodeURIComponent(rule.name)}`),
        200,
      );
      expect(list.rules).toEqual([]);
      const events = await auditEventsOf(rule.ruleId);
      const after = events[events.length - 1]?.context.after as Rule;
      expect(after).toEqual({
        ...rule,
        status: "DELETED",
        updatedAt: after.deletedAt,
        deletedAt: expect.any(String),
      });
      expect(after.deletedAt).toMatch(ISO_MS);
      expect(after.deletedAt! >= rule.updatedAt).toBe(true);
      history.push(transitionEvent("delete", rule, after));
      await expectAudit(rule.ruleId, history);
      // A second delete is a 404, not a no-op: the rule is gone.
      await problem(await t.request("DELETE", `/v1/rules/${rule.ruleId}`), 404, "RULE_NOT_FOUND");
      await expectAudit(rule.ruleId, history);
    });
  }

  it("refuses an ACTIVE rule with 422 INVALID_TRANSITION and leaves it ACTIVE", async () => {
    const { rule, history } = await ruleIn("ACTIVE");
    await problem(await t.request("DELETE", `/v1/rules/${rule.ruleId}`), 422, "INVALID_TRANSITION");
    expect(await getRule(rule.ruleId)).toEqual(rule);
    await expectAudit(rule.ruleId, history);
  });
});

describe("lifecycle transitions (CONTRACT §3 table)", () => {
  type Outcome = Status | "noop" | 422 | 404;
  const TABLE: Record<Status, Record<Transition, Outcome>> = {
    DRAFT: { activate: "ACTIVE", deactivate: 422, draft: "noop", delete: "DELETED" },
    ACTIVE: { activate: "noop", deactivate: "INACTIVE", draft: 422, delete: 422 },
    INACTIVE: { activate: "ACTIVE", deactivate: "noop", draft: "DRAFT", delete: "DELETED" },
    DELETED: { activate: 404, deactivate: 404, draft: 404, delete: 404 },
  };
  const cases = Object.entries(TABLE).flatMap(([from, row]) =>
    Object.entries(row).map(([tr, outcome]) => ({ from: from as Status, tr: tr as Transition, outcome })),
  );

  it.each(cases)("$from --$tr--> $outcome", async ({ from, tr, outcome }) => {
    const { rule: before, history } = await ruleIn(from);
    const res =
      tr === "delete"
        ? await t.request("DELETE", `/v1/rules/${before.ruleId}`)
        : await transition(before.ruleId, tr);

    if (outcome === 404) {
      await problem(res, 404, "RULE_NOT_FOUND");
      await expectAudit(before.ruleId, history);
      return;
    }
    if (outcome === 422) {
      const body = await problem(res, 422, "INVALID_TRANSITION");
      expect(body.detail).toContain(from);
      expect(await getRule(before.ruleId)).toEqual(before);
      await expectAudit(before.ruleId, history);
      return;
    }
    if (outcome === "noop") {
      // Same-state: 200 with the rule exactly as it was, and no audit event.
      expect(await readJson<Rule>(res, 200)).toEqual(before);
      expect(await getRule(before.ruleId)).toEqual(before);
      await expectAudit(before.ruleId, history);
      return;
    }
    if (outcome === "DELETED") {
      expect(res.status).toBe(204);
      await problem(await t.request("GET", `/v1/rules/${before.ruleId}`), 404, "RULE_NOT_FOUND");
      const events = await auditEventsOf(before.ruleId);
      const after = events[events.length - 1]?.context.after as Rule;
      expect(after).toEqual({
        ...before,
        status: "DELETED",
        updatedAt: after.deletedAt,
        deletedAt: expect.any(String),
      });
      expect(after.deletedAt! >= before.updatedAt).toBe(true);
      await expectAudit(before.ruleId, [...history, transitionEvent(tr, before, after)]);
      return;
    }

    const after = await readJson<Rule>(res, 200);
    expect(after.status).toBe(outcome);
    expect(after.updatedAt).toMatch(ISO_MS);
    expect(after.updatedAt >= before.updatedAt).toBe(true);
    const timestamps: Partial<Rule> =
      outcome === "ACTIVE"
        ? { activatedAt: after.updatedAt, deactivatedAt: null }
        : outcome === "INACTIVE"
          ? { deactivatedAt: after.updatedAt }
          : {};
    expect(after).toEqual({ ...before, status: outcome, updatedAt: after.updatedAt, ...timestamps });
    expect(after.deletedAt).toBeNull();
    expect(await getRule(before.ruleId)).toEqual(after);
    await expectAudit(before.ruleId, [...history, transitionEvent(tr, before, after)]);
  });

  it("a full cycle keeps the history: re-activation sets a new activatedAt and clears deactivatedAt", async () => {
    const { rule: inactive, history } = await ruleIn("INACTIVE");
    expect(inactive.activatedAt).toMatch(ISO_MS);
    expect(inactive.deactivatedAt).toMatch(ISO_MS);
    const drafted = await readJson<Rule>(await transition(inactive.ruleId, "draft"), 200);
    expect(drafted.activatedAt).toBe(inactive.activatedAt);
    const active = await readJson<Rule>(await transition(inactive.ruleId, "activate"), 200);
    expect(active.activatedAt! >= inactive.deactivatedAt!).toBe(true);
    expect(active.deactivatedAt).toBeNull();
    history.push(transitionEvent("draft", inactive, drafted), transitionEvent("activate", drafted, active));
    await expectAudit(inactive.ruleId, history);
  });

  it("PATCH is an alias for activate, deactivate and draft (same effect, same events)", async () => {
    let rule = await createRule();
    const history: ExpectedEvent[] = [createdEvent(rule)];
    for (const tr of ["activate", "deactivate", "draft", "activate"] as const) {
      const after = await readJson<Rule>(await transition(rule.ruleId, tr, "PATCH"), 200);
      expect(after.status).toBe({ activate: "ACTIVE", deactivate: "INACTIVE", draft: "DRAFT" }[tr]);
      history.push(transitionEvent(tr, rule, after));
      rule = after;
    }
    // Same-state through the alias is a no-op too.
    expect(await readJson<Rule>(await transition(rule.ruleId, "activate", "PATCH"), 200)).toEqual(rule);
    // And a refused one is refused the same way.
    await problem(await transition(rule.ruleId, "draft", "PATCH"), 422, "INVALID_TRANSITION");
    await expectAudit(rule.ruleId, history);
  });

  it("unknown transition verbs are not routes", async () => {
    const rule = await createRule();
    const res = await t.request("POST", `/v1/rules/${rule.ruleId}/publish`);
    expect(res.status).toBe(404);
    expect(await getRule(rule.ruleId)).toEqual(rule);
  });
});

describe("edge cases", () => {
  it("concurrent creates with one name: exactly one 201, the others 409", async () => {
    const name = uniqueName("race");
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        t.request("POST", "/v1/rules", { name, expression: EXPR, action: "DENY" }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    for (const r of results.filter((x) => x.status === 409)) await problem(r, 409, "RULE_NAME_CONFLICT");
    const winner = (await results.find((r) => r.status === 201)!.json()) as Rule;
    await expectAudit(winner.ruleId, [createdEvent(winner)]);
  });

  it("concurrent activations of one DRAFT rule: one transition, one RULE_ACTIVATED event", async () => {
    const rule = await createRule();
    const results = await Promise.all(Array.from({ length: 5 }, () => transition(rule.ruleId, "activate")));
    const bodies = await Promise.all(results.map((r) => readJson<Rule>(r, 200)));
    const final = await getRule(rule.ruleId);
    expect(final.status).toBe("ACTIVE");
    for (const body of bodies) expect(body).toEqual(final);
    await expectAudit(rule.ruleId, [createdEvent(rule), transitionEvent("activate", rule, final)]);
  });

  it("an upper-case id in the path addresses the same rule", async () => {
    const rule = await createRule();
    expect(await getRule(rule.ruleId.toUpperCase())).toEqual(rule);
  });

  it("the name filter treats %, _ and \\ literally", async () => {
    const tag = randomUUID().slice(0, 8);
    const percent = await createRule({ name: `${tag} 100% sure` });
    const underscore = await createRule({ name: `${tag} snake_case` });
    const backslash = await createRule({ name: `${tag} back\\slash` });
    const plain = await createRule({ name: `${tag} plain x` });
    const find = async (fragment: string) =>
      (
        await readJson<{ rules: Rule[] }>(
          await t.request("GET", `/v1/rules?limit=100&name=${encodeURIComponent(`${tag} ${fragment}`)}`),
          200,
        )
      ).rules.map((r) => r.ruleId);
    expect(await find("100%")).toEqual([percent.ruleId]);
    expect(await find("%")).toEqual([]);
    expect(await find("snake_")).toEqual([underscore.ruleId]);
    expect(await find("_")).toEqual([]);
    expect(await find("back\\")).toEqual([backslash.ruleId]);
    expect(await find("PLAIN")).toEqual([plain.ruleId]);
  });

  // PostgreSQL cannot store U+0000 in text or jsonb: such input must be refused as bad input (400),
  // never reach the database and come back as a 500.
  it("a NUL character in any stored string is a 400, not a 500", async () => {
    const nul = "\u0000";
    const rule = await createRule();
    const attempts: [string, string, unknown][] = [
      ["POST", "/v1/rules", { name: `nul${nul}name`, expression: EXPR, action: "DENY" }],
      [
        "POST",
        "/v1/rules",
        { name: uniqueName("nul"), description: `d${nul}`, expression: EXPR, action: "DENY" },
      ],
      [
        "POST",
        "/v1/rules",
        { name: uniqueName("nul"), expression: { "==": [{ var: "currency" }, `B${nul}`] }, action: "DENY" },
      ],
      [
        "POST",
        "/v1/rules",
        { name: uniqueName("nul"), expression: EXPR, action: "DENY", scopes: [{ subType: `s${nul}` }] },
      ],
      ["PATCH", `/v1/rules/${rule.ruleId}`, { name: `nul${nul}` }],
      ["GET", `/v1/rules?name=${encodeURIComponent(`a${nul}b`)}`, undefined],
    ];
    const outcomes: string[] = [];
    for (const [method, path, body] of attempts) {
      const res = await t.request(method, path, body);
      outcomes.push(`${method} ${path.slice(0, 20)} ${JSON.stringify(body)?.slice(0, 60)} → ${res.status}`);
    }
    expect(outcomes.filter((o) => !o.endsWith("→ 400"))).toEqual([]);
    expect(await getRule(rule.ruleId)).toEqual(rule);
  });
});

describe("audit chain", () => {
  it("every event above is SUCCESS/rule and the whole chain verifies", async () => {
    const latest = await readJson<{ auditEvents: AuditEvent[] }>(
      await t.request("GET", "/v1/audit-events?limit=1"),
      200,
    );
    const last = latest.auditEvents[0];
    expect(last).toBeDefined();
    const verify = await readJson<{ isValid: boolean; totalChecked: number }>(
      await t.request("GET", "/v1/audit-events/verify"),
      200,
    );
    expect(verify.isValid).toBe(true);
    expect(verify.totalChecked).toBe(last!.sequence);

    const ruleEvents = await readJson<{ auditEvents: AuditEvent[] }>(
      await t.request("GET", "/v1/audit-events?resource_type=rule&limit=1000"),
      200,
    );
    expect(ruleEvents.auditEvents.length).toBe(last!.sequence);
    expect(new Set(ruleEvents.auditEvents.map((e) => e.result))).toEqual(new Set(["SUCCESS"]));
  });
});
