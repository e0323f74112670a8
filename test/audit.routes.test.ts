/**
 * The audit routes of CONTRACT §6, end to end through the public API: every rule/limit change and
 * every validation leaves exactly one event; the list, its filters and cursors; get by id; online
 * verification (whole chain, ranges, per event); the NDJSON export and the offline CLI on it; and
 * no event (and no gap) for a change that was rolled back.
 */

import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalJson, hashEventBody } from "../src/audit/chain.js";
import { type AuditEvent, GENESIS_HASH } from "../src/audit/event.js";
import { createTestApp, signTestJwt, type TestApp } from "./harness.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CONTRACT_FIELDS = [
  "eventId",
  "tenantId",
  "sequence",
  "eventType",
  "action",
  "result",
  "resourceType",
  "resourceId",
  "actor",
  "context",
  "metadata",
  "createdAt",
  "previousHash",
  "hash",
];
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CREATED_AT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface Page {
  auditEvents: AuditEvent[];
  hasMore: boolean;
  nextCursor: string | null;
}
interface VerifyBody {
  isValid: boolean;
  totalChecked: number;
  firstInvalidSequence?: number;
  reason?: string;
  message: string;
}
interface Problem {
  code: string;
  status: number;
  errors?: { path: string; message: string }[];
}

async function body<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function problem(res: Response, status: number, code: string): Promise<Problem> {
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const p = await body<Problem>(res, status);
  expect(p.code).toBe(code);
  return p;
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, "bin/verdict.js"), ...args],
      { cwd: ROOT },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const validRule = (name: string, action: "ALLOW" | "DENY" | "REVIEW", gt: number) => ({
  name,
  expression: { ">": [{ var: "amount" }, gt] },
  action,
});
const validLimit = (name: string) => ({
  name,
  limitType: "DAILY",
  maxAmount: "100.00",
  currency: "BRL",
  scopes: [{ transactionType: "PIX" }],
});
const validation = (amount: string, transactionType = "CARD", requestId: string = randomUUID()) => ({
  requestId,
  transactionType,
  amount,
  currency: "BRL",
  transactionTimestamp: new Date().toISOString(),
  account: { accountId: "0190c0de-0000-7000-8000-0000000000aa", type: "checking" },
  merchant: { merchantId: "0190c0de-0000-7000-8000-0000000000bb", name: "Loja São João", category: "5411" },
  metadata: { channel: "MOBILE_APP" },
});

interface ValidationAnswer {
  validationId: string;
  decision: string;
  auditSequence: number;
  auditHash: string;
}

describe("audit routes", () => {
  let t: TestApp;
  let jwt: string;
  /** Every event, ascending, as listed once the fixture is built. */
  let all: AuditEvent[];
  /** The event types of the fixture, in the order its changes were made. */
  const expectedTypes: string[] = [];
  const ids = {
    ruleDeny: "",
    ruleReview: "",
    ruleUser: "",
    limit: "",
  };
  const answers: { label: string; answer: ValidationAnswer }[] = [];
  const BULK = 100;

  async function list(query = ""): Promise<Page> {
    return body<Page>(await t.request("GET", `/v1/audit-events${query ? `?${query}` : ""}`), 200);
  }

  /** Follows nextCursor from the first page to the end; checks the page invariants on the way. */
  async function walk(query: string, limit: number): Promise<{ events: AuditEvent[]; pages: number }> {
    const events: AuditEvent[] = [];
    let pages = 0;
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams(query);
      q.set("limit", String(limit));
      if (cursor) q.set("cursor", cursor);
      const page = await list(q.toString());
      pages += 1;
      expect(page.auditEvents.length).toBeLessThanOrEqual(limit);
      if (page.hasMore) {
        expect(page.auditEvents).toHaveLength(limit);
        expect(page.nextCursor).toEqual(expect.any(String));
      } else {
        expect(page.nextCursor).toBeNull();
      }
      events.push(...page.auditEvents);
      cursor = page.nextCursor;
      if (pages > 1000) throw new Error("cursor walk does not end");
    } while (cursor);
    return { events, pages };
  }

  async function validate(label: string, payload: unknown, headers?: Record<string, string>) {
    const answer = await body<ValidationAnswer>(
      await t.request("POST", "/v1/validations", payload, headers),
      201,
    );
    answers.push({ label, answer });
    return answer;
  }

  beforeAll(async () => {
    t = await createTestApp();
    jwt = await signTestJwt({ sub: "user-42", name: "Ana Auditora" });
    const post = async <T>(path: string, payload?: unknown, headers?: Record<string, string>, status = 201) =>
      body<T>(await t.request("POST", path, payload, headers), status);

    ids.ruleDeny = (await post<{ ruleId: string }>("/v1/rules", validRule("deny-big", "DENY", 1000))).ruleId;
    expectedTypes.push("RULE_CREATED");
    await post(`/v1/rules/${ids.ruleDeny}/activate`, undefined, undefined, 200);
    expectedTypes.push("RULE_ACTIVATED");
    ids.ruleReview = (
      await post<{ ruleId: string }>("/v1/rules", validRule("review-mid", "REVIEW", 500))
    ).ruleId;
    expectedTypes.push("RULE_CREATED");
    await body(
      await t.request("PATCH", `/v1/rules/${ids.ruleReview}`, { description: "mid-sized amounts" }),
      200,
    );
    expectedTypes.push("RULE_UPDATED");
    await post(`/v1/rules/${ids.ruleReview}/activate`, undefined, undefined, 200);
    expectedTypes.push("RULE_ACTIVATED");
    ids.limit = (await post<{ limitId: string }>("/v1/limits", validLimit("pix-daily"))).limitId;
    expectedTypes.push("LIMIT_CREATED");
    await post(`/v1/limits/${ids.limit}/activate`, undefined, undefined, 200);
    expectedTypes.push("LIMIT_ACTIVATED");

    await validate("allow", validation("10.00"));
    await validate("deny-rule", validation("2000.00"));
    await validate("review", validation("600.00"));
    await validate("deny-limit", validation("150.00", "PIX"));
    expectedTypes.push(...Array(4).fill("TRANSACTION_VALIDATED"));

    // A user (JWT) rather than the API key: a second actor for the actor_id filter.
    ids.ruleUser = (
      await post<{ ruleId: string }>("/v1/rules", validRule("user-rule", "ALLOW", 1), {
        Authorization: `Bearer ${jwt}`,
      })
    ).ruleId;
    expectedTypes.push("RULE_CREATED");
    await post(`/v1/rules/${ids.ruleUser}/activate`, undefined, { Authorization: `Bearer ${jwt}` }, 200);
    expectedTypes.push("RULE_ACTIVATED");
    await post(`/v1/limits/${ids.limit}/deactivate`, undefined, undefined, 200);
    expectedTypes.push("LIMIT_DEACTIVATED");

    // A burst of concurrent validations (the service may group-commit several into one transaction).
    await Promise.all(
      Array.from({ length: BULK }, (_, i) => validate(`bulk-${i}`, validation(`${i + 1}.00`))),
    );
    expectedTypes.push(...Array(BULK).fill("TRANSACTION_VALIDATED"));

    await post(`/v1/rules/${ids.ruleUser}/deactivate`, undefined, { Authorization: `Bearer ${jwt}` }, 200);
    expectedTypes.push("RULE_DEACTIVATED");
    const deleted = await t.request("DELETE", `/v1/rules/${ids.ruleUser}`, undefined, {
      Authorization: `Bearer ${jwt}`,
    });
    expect(deleted.status).toBe(204);
    expectedTypes.push("RULE_DELETED");

    all = (await list("sort_order=asc&limit=1000")).auditEvents;
  }, 180_000);

  afterAll(async () => {
    await t?.close();
  });

  it("records one event per change, in the order of the changes, with sequences 1..n", () => {
    expect(all.map((e) => e.eventType)).toEqual(expectedTypes);
    expect(all.map((e) => e.sequence)).toEqual(expectedTypes.map((_, i) => i + 1));
    expect(new Set(all.map((e) => e.eventId)).size).toBe(all.length);
    const first = all.slice(0, 7).map((e) => [e.resourceType, e.resourceId, e.action, e.result]);
    expect(first).toEqual([
      ["rule", ids.ruleDeny, "CREATE", "SUCCESS"],
      ["rule", ids.ruleDeny, "ACTIVATE", "SUCCESS"],
      ["rule", ids.ruleReview, "CREATE", "SUCCESS"],
      ["rule", ids.ruleReview, "UPDATE", "SUCCESS"],
      ["rule", ids.ruleReview, "ACTIVATE", "SUCCESS"],
      ["limit", ids.limit, "CREATE", "SUCCESS"],
      ["limit", ids.limit, "ACTIVATE", "SUCCESS"],
    ]);
    expect(all.at(-2)).toMatchObject({ eventType: "RULE_DEACTIVATED", resourceId: ids.ruleUser });
    expect(all.at(-1)).toMatchObject({
      eventType: "RULE_DELETED",
      resourceId: ids.ruleUser,
      action: "DELETE",
    });
  });

  it("returns every event with exactly the contract fields, and a hash a client can recompute", () => {
    let previousHash = GENESIS_HASH;
    for (const event of all) {
      expect(Object.keys(event)).toEqual(CONTRACT_FIELDS);
      expect(event.tenantId).toBe("default");
      expect(event.eventId).toMatch(UUID_RE);
      expect(event.createdAt).toMatch(CREATED_AT_RE);
      expect(event.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(Object.keys(event.actor).sort()).toEqual(["actorType", "id", "name"]);
      expect(event.previousHash).toBe(previousHash);
      const { hash, ...bodyWithoutHash } = event;
      expect(hashEventBody(bodyWithoutHash)).toBe(hash);
      previousHash = hash;
    }
  });

  it("records who acted: the API key, or the JWT subject", () => {
    expect(all[0]!.actor).toEqual({ id: "default", actorType: "api_key", name: "default" });
    const byUser = all.filter((e) => e.resourceId === ids.ruleUser);
    expect(byUser).toHaveLength(4);
    for (const e of byUser)
      expect(e.actor).toEqual({ id: "user-42", actorType: "user", name: "Ana Auditora" });
  });

  it("puts before/after in rule and limit events, with money as strings", () => {
    const created = all[0]!;
    expect(Object.keys(created.context)).toEqual(["after"]);
    expect(created.context.after).toMatchObject({ ruleId: ids.ruleDeny, name: "deny-big", status: "DRAFT" });
    const updated = all[3]!;
    expect(updated.context).toMatchObject({
      before: { ruleId: ids.ruleReview, description: null },
      after: { ruleId: ids.ruleReview, description: "mid-sized amounts" },
    });
    const activated = all[4]!;
    expect(activated.context).toMatchObject({ before: { status: "DRAFT" }, after: { status: "ACTIVE" } });
    const limitCreated = all[5]!;
    expect(limitCreated.context.after).toMatchObject({
      limitId: ids.limit,
      maxAmount: "100.00",
      currency: "BRL",
    });
  });

  it("links each validation answer to its event: auditSequence, auditHash, result and context", () => {
    expect(answers).toHaveLength(4 + BULK);
    const bySequence = new Map(all.map((e) => [e.sequence, e]));
    for (const { answer } of answers) {
      const event = bySequence.get(answer.auditSequence);
      expect(event, `event ${answer.auditSequence}`).toBeDefined();
      expect(event!.hash).toBe(answer.auditHash);
      expect(event!).toMatchObject({
        eventType: "TRANSACTION_VALIDATED",
        action: "VALIDATE",
        resourceType: "transaction",
        resourceId: answer.validationId,
        result: answer.decision,
      });
      expect(Object.keys(event!.context).sort()).toEqual(["request", "response"]);
      expect(event!.context.response).toMatchObject({
        validationId: answer.validationId,
        decision: answer.decision,
      });
    }
    const decisions = Object.fromEntries(answers.slice(0, 4).map((a) => [a.label, a.answer.decision]));
    expect(decisions).toEqual({
      allow: "ALLOW",
      "deny-rule": "DENY",
      review: "REVIEW",
      "deny-limit": "DENY",
    });
    const denyLimit = bySequence.get(answers[3]!.answer.auditSequence)!;
    expect(denyLimit.context.request).toMatchObject({ amount: "150.00", transactionType: "PIX" });
  });

  describe("GET /v1/audit-events", () => {
    it("is newest first with 100 events per page by default", async () => {
      expect(all.length).toBeGreaterThan(100);
      const page = await list();
      expect(page.auditEvents).toHaveLength(100);
      expect(page.hasMore).toBe(true);
      expect(page.auditEvents).toEqual(all.slice(-100).reverse());
    });

    it("accepts limit 1 to 1000 and rejects anything else with 400", async () => {
      expect((await list("limit=1")).auditEvents).toEqual([all.at(-1)]);
      const max = await list("limit=1000");
      expect(max.auditEvents).toHaveLength(all.length);
      expect(max.hasMore).toBe(false);
      expect(max.nextCursor).toBeNull();
      for (const bad of ["0", "1001", "-1", "abc", "2.5"]) {
        const p = await problem(
          await t.request("GET", `/v1/audit-events?limit=${bad}`),
          400,
          "VALIDATION_ERROR",
        );
        expect(p.errors?.[0]?.path, bad).toContain("limit");
      }
    });

    it("sorts ascending on request", async () => {
      expect((await list("sort_order=asc&limit=5")).auditEvents).toEqual(all.slice(0, 5));
      expect((await list("sort_order=desc&limit=5")).auditEvents).toEqual(all.slice(-5).reverse());
    });

    it.each([7, 1, 50])(
      "walks every event once with cursors of %i, ascending and descending",
      async (size) => {
        const asc = await walk("sort_order=asc", size);
        expect(asc.events.map((e) => e.sequence)).toEqual(all.map((e) => e.sequence));
        expect(asc.events).toEqual(all);
        expect(asc.pages).toBe(Math.ceil(all.length / size));
        const desc = await walk("", size);
        expect(desc.events).toEqual([...all].reverse());
      },
    );

    it("rejects a malformed cursor", async () => {
      await problem(await t.request("GET", "/v1/audit-events?cursor=not-a-cursor"), 400, "VALIDATION_ERROR");
      const forged = Buffer.from(JSON.stringify({ s: "x", o: "up" })).toString("base64url");
      await problem(await t.request("GET", `/v1/audit-events?cursor=${forged}`), 400, "VALIDATION_ERROR");
    });

    const filters: [string, (e: AuditEvent) => boolean, () => string][] = [
      ["event_type", (e) => e.eventType === "RULE_CREATED", () => "event_type=RULE_CREATED"],
      ["action", (e) => e.action === "ACTIVATE", () => "action=ACTIVATE"],
      ["result DENY", (e) => e.result === "DENY", () => "result=DENY"],
      ["result REVIEW", (e) => e.result === "REVIEW", () => "result=REVIEW"],
      ["result SUCCESS", (e) => e.result === "SUCCESS", () => "result=SUCCESS"],
      ["resource_type", (e) => e.resourceType === "limit", () => "resource_type=limit"],
      ["resource_id", (e) => e.resourceId === ids.ruleReview, () => `resource_id=${ids.ruleReview}`],
      ["actor_id", (e) => e.actor.id === "user-42", () => "actor_id=user-42"],
      [
        "event_type + result",
        (e) => e.eventType === "TRANSACTION_VALIDATED" && e.result === "ALLOW",
        () => "event_type=TRANSACTION_VALIDATED&result=ALLOW",
      ],
    ];

    it.each(filters)("filters by %s, on every page of a cursor walk", async (_name, matches, query) => {
      const expected = all.filter(matches);
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(all.length);
      expect((await list(`${query()}&sort_order=asc&limit=1000`)).auditEvents).toEqual(expected);
      expect((await walk(query(), 2)).events).toEqual([...expected].reverse());
      expect((await walk(`${query()}&sort_order=asc`, 3)).events).toEqual(expected);
    });

    it("filters by created_at: start_date inclusive, end_date exclusive", async () => {
      const distinct = [...new Set(all.map((e) => e.createdAt))];
      expect(distinct.length).toBeGreaterThan(3);
      const start = distinct[1]!;
      const end = distinct[distinct.length - 2]!;
      const inRange = all.filter((e) => e.createdAt >= start && e.createdAt < end);
      const q = (s: string) => `${s}&sort_order=asc&limit=1000`;
      expect((await list(q(`start_date=${start}`))).auditEvents).toEqual(
        all.filter((e) => e.createdAt >= start),
      );
      expect((await list(q(`end_date=${end}`))).auditEvents).toEqual(all.filter((e) => e.createdAt < end));
      expect((await list(q(`start_date=${start}&end_date=${end}`))).auditEvents).toEqual(inRange);
      expect((await walk(`start_date=${start}&end_date=${end}&sort_order=asc`, 4)).events).toEqual(inRange);
      // The same instant written in another zone selects the same events.
      const startPlus3 = new Date(Date.parse(start) + 3 * 3600_000).toISOString().replace("Z", "+03:00");
      expect((await list(q(`start_date=${encodeURIComponent(startPlus3)}`))).auditEvents).toEqual(
        all.filter((e) => e.createdAt >= start),
      );
      const far = new Date(Date.parse(all.at(-1)!.createdAt) + 60_000).toISOString();
      expect((await list(`start_date=${far}`)).auditEvents).toEqual([]);
      expect((await list(`end_date=${all[0]!.createdAt}`)).auditEvents).toEqual([]);
    });

    it("answers an empty page when nothing matches", async () => {
      const page = await list("resource_id=nothing-has-this-id");
      expect(page).toEqual({ auditEvents: [], hasMore: false, nextCursor: null });
    });

    it.each([
      ["result=MAYBE"],
      ["resource_type=account"],
      ["start_date=yesterday"],
      ["start_date=2026-01-01T00:00:00"],
      ["sort_order=sideways"],
      ["unknown_filter=1"],
    ])("rejects %s with 400", async (query) => {
      await problem(await t.request("GET", `/v1/audit-events?${query}`), 400, "VALIDATION_ERROR");
    });
  });

  describe("GET /v1/audit-events/{id}", () => {
    it("returns each event exactly as listed", async () => {
      for (const event of [all[0]!, all[6]!, all[9]!, all.at(-1)!]) {
        const got = await body<AuditEvent>(await t.request("GET", `/v1/audit-events/${event.eventId}`), 200);
        expect(got).toStrictEqual(event);
        expect(Object.keys(got)).toEqual(CONTRACT_FIELDS);
      }
    });

    it("answers 404 AUDIT_EVENT_NOT_FOUND for an unknown id and 400 for a non-uuid", async () => {
      await problem(await t.request("GET", `/v1/audit-events/${randomUUID()}`), 404, "AUDIT_EVENT_NOT_FOUND");
      await problem(
        await t.request("GET", `/v1/audit-events/${randomUUID()}/verify`),
        404,
        "AUDIT_EVENT_NOT_FOUND",
      );
      await problem(await t.request("GET", "/v1/audit-events/not-a-uuid"), 400, "VALIDATION_ERROR");
      await problem(await t.request("GET", "/v1/audit-events/not-a-uuid/verify"), 400, "VALIDATION_ERROR");
    });

    it("verifies the chain from 1 up to the event", async () => {
      for (const event of [all[0]!, all[4]!, all[50]!, all.at(-1)!]) {
        const v = await body<VerifyBody>(
          await t.request("GET", `/v1/audit-events/${event.eventId}/verify`),
          200,
        );
        expect(v).toEqual({ isValid: true, totalChecked: event.sequence, message: expect.any(String) });
      }
    });
  });

  describe("GET /v1/audit-events/verify", () => {
    const verify = async (query = "") =>
      body<VerifyBody>(await t.request("GET", `/v1/audit-events/verify${query ? `?${query}` : ""}`), 200);

    it("verifies the whole chain", async () => {
      expect(await verify()).toEqual({
        isValid: true,
        totalChecked: all.length,
        message: expect.any(String),
      });
    });

    it("verifies a sequence range, counting exactly the events in it", async () => {
      const n = all.length;
      const cases: [string, number][] = [
        ["from_sequence=3&to_sequence=9", 7],
        ["from_sequence=1&to_sequence=1", 1],
        [`from_sequence=${n}&to_sequence=${n}`, 1],
        [`from_sequence=${n - 9}`, 10],
        ["to_sequence=12", 12],
        [`from_sequence=2&to_sequence=${n}`, n - 1],
      ];
      for (const [query, size] of cases) {
        expect(await verify(query), query).toEqual({
          isValid: true,
          totalChecked: size,
          message: expect.any(String),
        });
      }
    });

    it("verifies a range reaching past the chain head up to the head (events never appended are not missing)", async () => {
      const n = all.length;
      expect(await verify(`to_sequence=${n + 5}`)).toEqual({
        isValid: true,
        totalChecked: n,
        message: expect.any(String),
      });
      expect(await verify(`from_sequence=${n - 1}&to_sequence=${n + 100}`)).toEqual({
        isValid: true,
        totalChecked: 2,
        message: expect.any(String),
      });
      expect(await verify(`from_sequence=${n + 1}`)).toEqual({
        isValid: true,
        totalChecked: 0,
        message: expect.any(String),
      });
    });

    it("rejects from_sequence > to_sequence and malformed bounds with 400", async () => {
      for (const query of [
        "from_sequence=9&to_sequence=3",
        "from_sequence=0",
        "to_sequence=0",
        "from_sequence=abc",
        "from_sequence=1.5",
        "nope=1",
      ]) {
        await problem(await t.request("GET", `/v1/audit-events/verify?${query}`), 400, "VALIDATION_ERROR");
      }
    });
  });

  describe("GET /v1/audit-events/export", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "verdict-audit-export-"));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("streams one event per line in sequence order, each identical to GET by id", async () => {
      const res = await t.request("GET", "/v1/audit-events/export");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("application/x-ndjson");
      const text = await res.text();
      expect(text.endsWith("\n")).toBe(true);
      const lines = text.slice(0, -1).split("\n");
      expect(lines).toHaveLength(all.length);
      const parsed = lines.map((l) => JSON.parse(l) as AuditEvent);
      expect(parsed.map((e) => e.sequence)).toEqual(all.map((e) => e.sequence));
      // Each line is the RFC 8785 form (what was hashed), so verifiers can hash it as is.
      for (const line of lines) expect(line).toBe(canonicalJson(JSON.parse(line)));
      for (const event of parsed) {
        const byId = await body<AuditEvent>(await t.request("GET", `/v1/audit-events/${event.eventId}`), 200);
        expect(event).toStrictEqual(byId);
        expect(Object.keys(event).sort()).toEqual([...CONTRACT_FIELDS].sort());
      }
    });

    it("exports a sequence range", async () => {
      const text = await (
        await t.request("GET", "/v1/audit-events/export?from_sequence=3&to_sequence=5")
      ).text();
      const lines = text.trim().split("\n");
      expect(lines.map((l) => (JSON.parse(l) as AuditEvent).sequence)).toEqual([3, 4, 5]);
    });

    it("passes the offline CLI (verdict audit verify)", async () => {
      const file = join(dir, "export.ndjson");
      await writeFile(file, await (await t.request("GET", "/v1/audit-events/export")).text());
      const run = await runCli(["audit", "verify", file]);
      expect(run.code, run.stderr + run.stdout).toBe(0);
      expect(run.stdout).toContain("OK");
      expect(run.stdout).toContain(String(all.length));
    });

    it("makes the CLI fail on an altered export, at the altered line", async () => {
      const text = await (await t.request("GET", "/v1/audit-events/export")).text();
      const lines = text.trim().split("\n");
      const k = 6;
      const altered = JSON.parse(lines[k - 1]!) as AuditEvent;
      altered.result = "DENY";
      lines[k - 1] = JSON.stringify(altered);
      const file = join(dir, "altered.ndjson");
      await writeFile(file, `${lines.join("\n")}\n`);
      const run = await runCli(["audit", "verify", file]);
      expect(run.code, run.stderr + run.stdout).toBe(1);
      const out = run.stdout + run.stderr;
      expect(out).toContain("hash_mismatch");
      expect(out).toMatch(new RegExp(`\\b${k}\\b`));
    });

    it("exits 2 on wrong usage", async () => {
      expect((await runCli(["audit", "verify"])).code).toBe(2);
      expect((await runCli(["audit"])).code).toBe(2);
    });
  });
});

describe("rolled-back changes leave no event and no gap", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  const events = async () =>
    (await body<Page>(await t.request("GET", "/v1/audit-events?sort_order=asc&limit=1000"), 200)).auditEvents;

  it("records nothing for rejected changes and keeps sequences contiguous", async () => {
    const rule = await body<{ ruleId: string }>(
      await t.request("POST", "/v1/rules", validRule("dup", "DENY", 5)),
      201,
    );
    const limit = await body<{ limitId: string }>(
      await t.request("POST", "/v1/limits", validLimit("dup-limit")),
      201,
    );
    await body(await t.request("POST", `/v1/rules/${rule.ruleId}/activate`), 200);
    const requestId = randomUUID();
    const first = validation("7.00", "CARD", requestId);
    await body(await t.request("POST", "/v1/validations", first), 201);
    const before = await events();
    expect(before.map((e) => e.sequence)).toEqual([1, 2, 3, 4]);

    // Each of these fails inside (or before) its transaction: nothing may be recorded.
    await problem(
      await t.request("POST", "/v1/rules", validRule("dup", "ALLOW", 1)),
      409,
      "RULE_NAME_CONFLICT",
    );
    await problem(await t.request("POST", "/v1/limits", validLimit("dup-limit")), 409, "LIMIT_NAME_CONFLICT");
    const other = await body<{ ruleId: string }>(
      await t.request("POST", "/v1/rules", validRule("other", "DENY", 6)),
      201,
    );
    await problem(
      await t.request("PATCH", `/v1/rules/${other.ruleId}`, { name: "dup" }),
      409,
      "RULE_NAME_CONFLICT",
    );
    await problem(await t.request("DELETE", `/v1/rules/${rule.ruleId}`), 422, "INVALID_TRANSITION");
    await problem(await t.request("POST", `/v1/rules/${randomUUID()}/activate`), 404, "RULE_NOT_FOUND");
    await problem(
      await t.request("POST", "/v1/validations", { ...first, amount: "8.00" }),
      409,
      "IDEMPOTENCY_CONFLICT",
    );
    // A replay answers the stored decision: no new event either.
    expect((await t.request("POST", "/v1/validations", first)).status).toBe(200);
    // A same-state transition is a no-op.
    await body(await t.request("POST", `/v1/rules/${rule.ruleId}/activate`), 200);

    const after = await events();
    expect(after.slice(0, 4)).toEqual(before);
    expect(after.map((e) => [e.sequence, e.eventType])).toEqual([
      [1, "RULE_CREATED"],
      [2, "LIMIT_CREATED"],
      [3, "RULE_ACTIVATED"],
      [4, "TRANSACTION_VALIDATED"],
      [5, "RULE_CREATED"],
    ]);
    expect(after.filter((e) => e.resourceId === other.ruleId)).toHaveLength(1);

    // The next change continues the chain right after the last committed event.
    await body(await t.request("POST", `/v1/limits/${limit.limitId}/activate`), 200);
    const final = await events();
    expect(final.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(final[5]!.previousHash).toBe(final[4]!.hash);
    const v = await body<VerifyBody>(await t.request("GET", "/v1/audit-events/verify"), 200);
    expect(v).toEqual({ isValid: true, totalChecked: 6, message: expect.any(String) });
  });
});
