/**
 * Tampering with audit_events directly in the database, as an attacker would (CONTRACT §6):
 * the application's own connection cannot rewrite history (the append-only trigger), and whatever a
 * superuser does with the trigger disabled, GET /v1/audit-events/verify reports the exact sequence
 * and reason, and the offline CLI reports the same on the export.
 *
 * Runs on in-memory PGlite (which runs as a superuser, so it can disable triggers) and, when
 * TEST_DATABASE_URL is set, on PostgreSQL with a separate superuser connection as the attacker.
 * Every scenario gets its own fresh database.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendAuditEvents } from "../src/audit/audit.store.js";
import { hashEventBody } from "../src/audit/chain.js";
import type { AuditEvent } from "../src/audit/event.js";
import { connectDatabase, type DatabaseHandle } from "../src/db/connect.js";
import { createTestApp, type TestApp } from "./harness.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const N = 10;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "verdict-audit-tamper-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface VerifyBody {
  isValid: boolean;
  totalChecked: number;
  firstInvalidSequence?: number;
  reason?: string;
  message: string;
}

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

function runCli(file: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, "bin/verdict.js"), "audit", "verify", file],
      { cwd: ROOT },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, out: stdout + stderr });
      },
    );
  });
}

const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
const jsonb = (v: unknown) => `${lit(JSON.stringify(v))}::jsonb`;

/** Every message and cause message of an error, so the database's text is found however wrapped. */
function errorText(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let i = 0; i < 5 && current; i++) {
    if (current instanceof Error) parts.push(current.message);
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") parts.push(`code=${code}`);
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join(" | ");
}

type BypassMode = "disable-trigger" | "replication-role";

/**
 * A superuser session that bypasses the append-only trigger for `statements` and restores it: on
 * PostgreSQL its own connection, on PGlite the (superuser) embedded instance. All in one
 * transaction, so the trigger is back on whatever happens.
 */
async function tamper(t: TestApp, mode: BypassMode, statements: string[]): Promise<void> {
  const before =
    mode === "disable-trigger"
      ? ["ALTER TABLE audit_events DISABLE TRIGGER USER"]
      : ["SET LOCAL session_replication_role = replica"];
  const after = mode === "disable-trigger" ? ["ALTER TABLE audit_events ENABLE TRIGGER USER"] : [];
  const all = [...before, ...statements, ...after];
  if (t.db.url) {
    const attacker = postgres(t.db.url, { max: 1, onnotice: () => {} });
    try {
      const [{ superuser }] =
        (await attacker`select current_setting('is_superuser') as superuser`) as unknown as [
          { superuser: string },
        ];
      expect(superuser, "the attacker needs a superuser connection").toBe("on");
      await attacker.begin(async (tx) => {
        for (const s of all) await tx.unsafe(s);
      });
    } finally {
      await attacker.end({ timeout: 5 });
    }
  } else {
    await t.db.handle.db.transaction(async (tx) => {
      for (const s of all) await tx.execute(sql.raw(s));
    });
  }
}

async function appUpdateFails(t: TestApp, statement: string): Promise<string> {
  let error: unknown;
  try {
    await t.db.handle.db.execute(sql.raw(statement));
  } catch (err) {
    error = err;
  }
  expect(error, `${statement} must be rejected`).toBeDefined();
  return errorText(error);
}

const validation = (amount: string, transactionType = "CARD") => ({
  requestId: randomUUID(),
  transactionType,
  amount,
  currency: "BRL",
  transactionTimestamp: new Date().toISOString(),
  account: { accountId: "0190c0de-0000-7000-8000-0000000000aa" },
});

/**
 * A fresh app with events 1..10:
 * 1 RULE_CREATED, 2 RULE_ACTIVATED, 3 LIMIT_CREATED, 4 LIMIT_ACTIVATED, 5 ALLOW, 6 DENY (rule),
 * 7 ALLOW, 8 DENY (limit), 9 RULE_CREATED, 10 ALLOW.
 */
async function fixture(): Promise<{ t: TestApp; events: AuditEvent[]; exportText: string }> {
  const t = await createTestApp();
  const rule = await json<{ ruleId: string }>(
    await t.request("POST", "/v1/rules", {
      name: "big",
      expression: { ">": [{ var: "amount" }, 1000] },
      action: "DENY",
    }),
    201,
  );
  await json(await t.request("POST", `/v1/rules/${rule.ruleId}/activate`));
  const limit = await json<{ limitId: string }>(
    await t.request("POST", "/v1/limits", {
      name: "pix-daily",
      limitType: "DAILY",
      maxAmount: "100.00",
      currency: "BRL",
      scopes: [{ transactionType: "PIX" }],
    }),
    201,
  );
  await json(await t.request("POST", `/v1/limits/${limit.limitId}/activate`));
  for (const [amount, type] of [
    ["10.00", "CARD"],
    ["2000.00", "CARD"],
    ["20.00", "CARD"],
    ["150.00", "PIX"],
  ] as const) {
    await json(await t.request("POST", "/v1/validations", validation(amount, type)), 201);
  }
  await json(
    await t.request("POST", "/v1/rules", { name: "other", expression: { "==": [1, 1] }, action: "REVIEW" }),
    201,
  );
  await json(await t.request("POST", "/v1/validations", validation("30.00")), 201);
  const { auditEvents } = await json<{ auditEvents: AuditEvent[] }>(
    await t.request("GET", "/v1/audit-events?sort_order=asc&limit=1000"),
  );
  expect(auditEvents.map((e) => `${e.sequence}:${e.eventType}:${e.result}`)).toEqual([
    "1:RULE_CREATED:SUCCESS",
    "2:RULE_ACTIVATED:SUCCESS",
    "3:LIMIT_CREATED:SUCCESS",
    "4:LIMIT_ACTIVATED:SUCCESS",
    "5:TRANSACTION_VALIDATED:ALLOW",
    "6:TRANSACTION_VALIDATED:DENY",
    "7:TRANSACTION_VALIDATED:ALLOW",
    "8:TRANSACTION_VALIDATED:DENY",
    "9:RULE_CREATED:SUCCESS",
    "10:TRANSACTION_VALIDATED:ALLOW",
  ]);
  const exportText = await (await t.request("GET", "/v1/audit-events/export")).text();
  return { t, events: auditEvents, exportText };
}

async function verifyOnline(t: TestApp, query = ""): Promise<VerifyBody> {
  return json<VerifyBody>(await t.request("GET", `/v1/audit-events/verify${query}`));
}

async function verifyOffline(t: TestApp, name: string): Promise<{ code: number; out: string; text: string }> {
  const text = await (await t.request("GET", "/v1/audit-events/export")).text();
  const file = join(dir, `${name.replaceAll(/[^a-z0-9]+/gi, "-")}-${randomUUID()}.ndjson`);
  await writeFile(file, text);
  return { ...(await runCli(file)), text };
}

describe(`append-only audit_events (${process.env.TEST_DATABASE_URL ? "PostgreSQL" : "PGlite"})`, () => {
  it("rejects UPDATE, DELETE and TRUNCATE from the application's connection, leaving the chain intact", async () => {
    const { t, exportText } = await fixture();
    try {
      for (const statement of [
        "UPDATE audit_events SET result = 'ALLOW' WHERE sequence = 6",
        "UPDATE audit_events SET context = jsonb_set(context, '{request,amount}', '\"1.00\"') WHERE sequence = 6",
        "DELETE FROM audit_events WHERE sequence = 10",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "TRUNCATE audit_events, audit_chain_heads",
      ]) {
        const text = await appUpdateFails(t, statement);
        expect(text, statement).toContain("audit_events is append-only");
        expect(text, statement).toMatch(/UPDATE|DELETE|TRUNCATE/);
        expect(text, statement).toContain("code=42501");
      }
      // The same inside a transaction of the application: it rolls back as a whole.
      await expect(
        t.db.handle.db.transaction(async (tx) => {
          await tx.execute(sql.raw("DELETE FROM audit_events WHERE sequence = 1"));
        }),
      ).rejects.toThrow();
      expect(await verifyOnline(t)).toEqual({ isValid: true, totalChecked: N, message: expect.any(String) });
      expect(await (await t.request("GET", "/v1/audit-events/export")).text()).toBe(exportText);
    } finally {
      await t.close();
    }
  }, 120_000);

  it("lets the chain head only move forward: no rewind, no delete, no truncate", async () => {
    const { t } = await fixture();
    try {
      for (const statement of [
        `UPDATE audit_chain_heads SET sequence = sequence - 1`,
        `UPDATE audit_chain_heads SET hash = '${"0".repeat(64)}'`,
        "DELETE FROM audit_chain_heads",
        "TRUNCATE audit_chain_heads",
      ]) {
        const text = await appUpdateFails(t, statement);
        expect(text, statement).toContain("audit_chain_heads only moves forward");
        expect(text, statement).toContain("code=42501");
      }
      expect(await verifyOnline(t)).toEqual({ isValid: true, totalChecked: N, message: expect.any(String) });
    } finally {
      await t.close();
    }
  }, 120_000);
});

describe.runIf(!!process.env.TEST_DATABASE_URL)(
  "PostgreSQL: a dedicated, non-superuser application role",
  () => {
    it("may append but not UPDATE, DELETE, TRUNCATE or disable the trigger, even with those privileges granted", async () => {
      const { t, exportText } = await fixture();
      const role = `verdict_app_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
      const admin = postgres(t.db.url!, { max: 1, onnotice: () => {} });
      let app: DatabaseHandle | undefined;
      try {
        await admin.unsafe(`CREATE ROLE ${role} LOGIN NOSUPERUSER`);
        await admin.unsafe(
          `GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON audit_events, audit_chain_heads TO ${role}`,
        );
        const url = new URL(t.db.url!);
        url.username = role;
        app = await connectDatabase(
          { kind: "postgres", url: url.toString() },
          { migrate: false, maxConnections: 2 },
        );
        const rejected = async (statement: string) => {
          let error: unknown;
          await app!.db.execute(sql.raw(statement)).catch((err: unknown) => {
            error = err;
          });
          expect(error, `${statement} must be rejected`).toBeDefined();
          return errorText(error);
        };
        for (const statement of [
          "UPDATE audit_events SET result = 'ALLOW' WHERE sequence = 6",
          "DELETE FROM audit_events WHERE sequence = 10",
          "TRUNCATE audit_events",
        ]) {
          const text = await rejected(statement);
          expect(text, statement).toContain("audit_events is append-only");
          expect(text, statement).toContain("code=42501");
        }
        for (const statement of [
          "ALTER TABLE audit_events DISABLE TRIGGER USER",
          "SET session_replication_role = replica",
          "DROP TRIGGER audit_events_no_update_delete ON audit_events",
        ]) {
          expect(await rejected(statement), statement).toContain("code=42501");
        }
        expect(await (await t.request("GET", "/v1/audit-events/export")).text()).toBe(exportText);

        // Appending, the one thing it is meant to do, works.
        const [appended] = await app.db.transaction((tx) =>
          appendAuditEvents(tx, "default", [
            {
              eventType: "RULE_CREATED",
              action: "CREATE",
              result: "SUCCESS",
              resourceType: "rule",
              resourceId: randomUUID(),
              actor: { id: role, actorType: "system", name: role },
              context: {},
              metadata: {},
            },
          ]),
        );
        expect(appended?.sequence).toBe(N + 1);
        expect(await verifyOnline(t)).toEqual({
          isValid: true,
          totalChecked: N + 1,
          message: expect.any(String),
        });
      } finally {
        await app?.close();
        await admin.unsafe(`DROP OWNED BY ${role}`).catch(() => {});
        await admin.unsafe(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
        await admin.end({ timeout: 5 });
        await t.close();
      }
    }, 120_000);
  },
);

interface Scenario {
  name: string;
  mode: BypassMode;
  /** SQL the attacker runs with the trigger bypassed, built from the untouched events. */
  attack: (events: AuditEvent[]) => string[];
  online: { firstInvalidSequence: number; reason: string; totalChecked: number };
  /**
   * What the CLI finds in the export: the same failure, or (when the evidence is only in the
   * service's chain head, which an export does not carry) a valid chain ending at `head`.
   */
  offline: "same" | { valid: true; count: number; headHash: (events: AuditEvent[]) => string };
}

/** Event `seq` with `change` applied and its hash recomputed, as an attacker who knows the formula would. */
function rehashed(event: AuditEvent, change: Partial<AuditEvent>): AuditEvent {
  const { hash: _old, ...body } = { ...event, ...change };
  return { ...body, hash: hashEventBody(body) };
}

function updateEventSql(e: AuditEvent): string {
  return `UPDATE audit_events SET result = ${lit(e.result)}, context = ${jsonb(e.context)},
    previous_hash = ${lit(e.previousHash)}, hash = ${lit(e.hash)} WHERE sequence = ${e.sequence}`;
}

function insertEventSql(e: AuditEvent): string {
  return `INSERT INTO audit_events (tenant_id, sequence, event_id, event_type, action, result, resource_type,
    resource_id, actor_id, actor, context, metadata, created_at, previous_hash, hash) VALUES (
    ${lit(e.tenantId)}, ${e.sequence}, ${lit(e.eventId)}, ${lit(e.eventType)}, ${lit(e.action)}, ${lit(e.result)},
    ${lit(e.resourceType)}, ${lit(e.resourceId)}, ${lit(e.actor.id)}, ${jsonb(e.actor)}, ${jsonb(e.context)},
    ${jsonb(e.metadata)}, ${lit(e.createdAt)}::timestamptz, ${lit(e.previousHash)}, ${lit(e.hash)})`;
}

/** A well-formed validation event an attacker invents, hashed and linked after `previous`. */
function forgedAfter(previous: AuditEvent, sequence: number): AuditEvent {
  const body = {
    eventId: randomUUID(),
    tenantId: "default",
    sequence,
    eventType: "TRANSACTION_VALIDATED" as const,
    action: "VALIDATE" as const,
    result: "ALLOW" as const,
    resourceType: "transaction" as const,
    resourceId: randomUUID(),
    actor: { id: "default", actorType: "api_key" as const, name: "default" },
    context: { request: { amount: "99999.00", currency: "BRL" }, response: { decision: "ALLOW" } },
    metadata: {},
    createdAt: previous.createdAt,
    previousHash: previous.hash,
  };
  return { ...body, hash: hashEventBody(body) };
}

const CONTENT_COLUMNS = [
  "event_type",
  "action",
  "result",
  "resource_type",
  "resource_id",
  "actor_id",
  "actor",
  "context",
  "metadata",
  "created_at",
];

const scenarios: Scenario[] = [
  {
    name: "one field inside context of event 6 changed (jsonb_set)",
    mode: "disable-trigger",
    attack: () => [
      `UPDATE audit_events SET context = jsonb_set(context, '{request,amount}', '"1.00"') WHERE sequence = 6`,
    ],
    online: { firstInvalidSequence: 6, reason: "hash_mismatch", totalChecked: 6 },
    offline: "same",
  },
  {
    name: "the result of event 6 changed from DENY to ALLOW",
    mode: "replication-role",
    attack: () => ["UPDATE audit_events SET result = 'ALLOW' WHERE sequence = 6"],
    online: { firstInvalidSequence: 6, reason: "hash_mismatch", totalChecked: 6 },
    offline: "same",
  },
  {
    name: "the actor of event 2 changed",
    mode: "disable-trigger",
    attack: () => [
      `UPDATE audit_events SET actor = jsonb_set(actor, '{id}', '"someone-else"'), actor_id = 'someone-else' WHERE sequence = 2`,
    ],
    online: { firstInvalidSequence: 2, reason: "hash_mismatch", totalChecked: 2 },
    offline: "same",
  },
  {
    name: "the created_at of event 1 moved by one millisecond",
    mode: "disable-trigger",
    attack: () => [
      "UPDATE audit_events SET created_at = created_at + interval '1 millisecond' WHERE sequence = 1",
    ],
    online: { firstInvalidSequence: 1, reason: "hash_mismatch", totalChecked: 1 },
    offline: "same",
  },
  {
    name: "event 5 deleted",
    mode: "disable-trigger",
    attack: () => ["DELETE FROM audit_events WHERE sequence = 5"],
    online: { firstInvalidSequence: 5, reason: "sequence_gap", totalChecked: 5 },
    offline: "same",
  },
  {
    name: "event 5 deleted (with session_replication_role = replica)",
    mode: "replication-role",
    attack: () => ["DELETE FROM audit_events WHERE sequence = 5"],
    online: { firstInvalidSequence: 5, reason: "sequence_gap", totalChecked: 5 },
    offline: "same",
  },
  {
    name: "events 4 and 7 swapped (whole rows change places)",
    mode: "disable-trigger",
    attack: () => [
      "UPDATE audit_events SET sequence = -1 WHERE sequence = 4",
      "UPDATE audit_events SET sequence = 4 WHERE sequence = 7",
      "UPDATE audit_events SET sequence = 7 WHERE sequence = -1",
    ],
    online: { firstInvalidSequence: 4, reason: "broken_link", totalChecked: 4 },
    offline: "same",
  },
  {
    name: "the contents of events 4 and 7 swapped, links and hashes left in place",
    mode: "disable-trigger",
    attack: () => [
      `UPDATE audit_events a SET ${CONTENT_COLUMNS.map((c) => `${c} = b.${c}`).join(", ")}
       FROM audit_events b WHERE a.tenant_id = b.tenant_id
       AND ((a.sequence = 4 AND b.sequence = 7) OR (a.sequence = 7 AND b.sequence = 4))`,
    ],
    online: { firstInvalidSequence: 4, reason: "hash_mismatch", totalChecked: 4 },
    offline: "same",
  },
  {
    name: "the previousHash of event 7 rewritten",
    mode: "disable-trigger",
    attack: (events) => [
      `UPDATE audit_events SET previous_hash = ${lit(events[4]!.hash)} WHERE sequence = 7`,
    ],
    online: { firstInvalidSequence: 7, reason: "broken_link", totalChecked: 7 },
    offline: "same",
  },
  {
    name: "a forged, correctly hashed event inserted at 6 (later events shifted)",
    mode: "disable-trigger",
    attack: (events) => [
      "UPDATE audit_events SET sequence = -sequence WHERE sequence >= 6",
      "UPDATE audit_events SET sequence = -sequence + 1 WHERE sequence < 0",
      insertEventSql(forgedAfter(events[4]!, 6)),
    ],
    online: { firstInvalidSequence: 7, reason: "broken_link", totalChecked: 7 },
    offline: "same",
  },
  {
    name: "the last event deleted (tail truncation)",
    mode: "disable-trigger",
    attack: () => [`DELETE FROM audit_events WHERE sequence = ${N}`],
    online: { firstInvalidSequence: N, reason: "sequence_gap", totalChecked: N - 1 },
    // The export ends at 9 and is a valid chain by itself: only the head knows there was a 10.
    offline: { valid: true, count: N - 1, headHash: (events) => events[N - 2]!.hash },
  },
  {
    name: "the last event changed and re-hashed",
    mode: "disable-trigger",
    attack: (events) => [
      updateEventSql(
        rehashed(events[N - 1]!, {
          result: "DENY",
          context: { ...events[N - 1]!.context, tampered: true },
        }),
      ),
    ],
    online: { firstInvalidSequence: N, reason: "hash_mismatch", totalChecked: N },
    offline: {
      valid: true,
      count: N,
      headHash: (events) =>
        rehashed(events[N - 1]!, { result: "DENY", context: { ...events[N - 1]!.context, tampered: true } })
          .hash,
    },
  },
  {
    name: "event 6 changed and every later event re-hashed and re-linked",
    mode: "disable-trigger",
    attack: (events) => relinkedFrom(events, 6).map(updateEventSql),
    online: { firstInvalidSequence: N, reason: "hash_mismatch", totalChecked: N },
    offline: { valid: true, count: N, headHash: (events) => relinkedFrom(events, 6).at(-1)!.hash },
  },
  {
    name: "a forged, correctly linked event appended after the head",
    mode: "disable-trigger",
    attack: (events) => [insertEventSql(forgedAfter(events[N - 1]!, N + 1))],
    online: { firstInvalidSequence: N + 1, reason: "sequence_gap", totalChecked: N + 1 },
    offline: { valid: true, count: N + 1, headHash: () => "" },
  },
];

/** Event `from` turned from DENY into ALLOW, then every event after it re-linked and re-hashed. */
function relinkedFrom(events: AuditEvent[], from: number): AuditEvent[] {
  const out: AuditEvent[] = [];
  let previous = events[from - 2]!;
  for (const event of events.slice(from - 1)) {
    const change: Partial<AuditEvent> = { previousHash: previous.hash };
    if (event.sequence === from) change.result = "ALLOW";
    previous = rehashed(event, change);
    out.push(previous);
  }
  return out;
}

describe(`tampering by a superuser with the trigger bypassed (${process.env.TEST_DATABASE_URL ? "PostgreSQL" : "PGlite"})`, () => {
  it.each(scenarios.map((s) => [s.name, s] as const))(
    "%s",
    async (_name, scenario) => {
      const { t, events } = await fixture();
      try {
        expect(await verifyOnline(t)).toEqual({
          isValid: true,
          totalChecked: N,
          message: expect.any(String),
        });
        await tamper(t, scenario.mode, scenario.attack(events));

        // The trigger is back: the application still cannot touch history.
        expect(await appUpdateFails(t, "DELETE FROM audit_events WHERE sequence = 1")).toContain(
          "append-only",
        );

        const online = await verifyOnline(t);
        expect(online).toEqual({ isValid: false, ...scenario.online, message: expect.any(String) });
        expect(online.message).toContain(String(scenario.online.firstInvalidSequence));

        const offline = await verifyOffline(t, scenario.name);
        if (scenario.offline === "same") {
          expect(offline.code, offline.out).toBe(1);
          expect(offline.out).toContain(`sequence ${scenario.online.firstInvalidSequence}:`);
          expect(offline.out).toContain(scenario.online.reason);
        } else {
          // Undetectable from the file alone: the CLI accepts it and prints the head it ended on,
          // which differs from the service's chain head (only the online verify can compare them).
          expect(offline.code, offline.out).toBe(0);
          expect(offline.out).toContain(`OK: ${scenario.offline.count} events`);
          const head = scenario.offline.headHash(events);
          if (head) expect(offline.out).toContain(head);
        }

        // A range that ends before the damage still verifies; one that covers it does not.
        const bad = scenario.online.firstInvalidSequence;
        if (bad > 2) {
          expect(await verifyOnline(t, `?from_sequence=1&to_sequence=${bad - 2}`)).toMatchObject({
            isValid: true,
            totalChecked: bad - 2,
          });
        }
        if (bad <= N) {
          expect(await verifyOnline(t, `?from_sequence=1&to_sequence=${bad}`)).toMatchObject({
            isValid: false,
            firstInvalidSequence: bad,
            reason: scenario.online.reason,
          });
        }
        if (scenario.online.reason === "sequence_gap" && bad < N) {
          // A range starting right after the deleted event has nothing to anchor on.
          expect(await verifyOnline(t, `?from_sequence=${bad + 1}`)).toMatchObject({
            isValid: false,
            totalChecked: 0,
            firstInvalidSequence: bad,
            reason: "sequence_gap",
          });
        }
      } finally {
        await t.close();
      }
    },
    120_000,
  );
});
