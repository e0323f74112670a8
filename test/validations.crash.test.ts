/**
 * Crash test (issue 6 "done when"): kill -9 the built server while 50 clients are validating;
 * after a restart on the same data, every validation a client received a 2xx for is stored with
 * the same response and its audit event, the chain verifies, and the DAILY limit's counter equals
 * the exact decimal sum of the stored ALLOW amounts.
 *
 * Runs on a fresh PGlite directory, or on a scratch PostgreSQL database when TEST_DATABASE_URL is
 * set. Everything is bounded in time: clients stop at their first connection error (the kill) or
 * at a hard deadline, whichever comes first.
 */
import { randomInt, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createScratchDatabase, TEST_API_KEY, testDatabaseUrl } from "./harness.js";
import { type ServerProcess, spawnServer, waitForHealth } from "./server-process.js";

const CLIENTS = 50;
const RUN_BEFORE_KILL_MS = 1_500;
/** On a slow or busy machine, keep the load on past RUN_BEFORE_KILL_MS until this many answers... */
const MIN_ACKNOWLEDGED = CLIENTS;
/** ...but never longer than this before the kill. */
const MAX_RUN_BEFORE_KILL_MS = 15_000;
const CLIENT_DEADLINE_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** Boot (PGlite start-up, migrations) can be slow on a busy machine. */
const BOOT_TIMEOUT_MS = 90_000;
const HEADERS = { "X-API-Key": TEST_API_KEY, "Content-Type": "application/json" };

const cleanups: (() => Promise<void> | void)[] = [];
const servers: ServerProcess[] = [];
/** Spawns the built server and waits for /health with a generous bound. */
async function start(env: Record<string, string>): Promise<ServerProcess> {
  const server = await spawnServer(env, { waitReady: false });
  servers.push(server);
  await waitForHealth(server, BOOT_TIMEOUT_MS);
  return server;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop("SIGKILL")));
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Where the server keeps its data: a PGlite directory, or a scratch PostgreSQL database. */
async function storage(): Promise<Record<string, string>> {
  if (testDatabaseUrl) {
    const scratch = await createScratchDatabase(testDatabaseUrl);
    cleanups.push(scratch.drop);
    return { DATABASE_URL: scratch.url };
  }
  const dir = mkdtempSync(join(tmpdir(), "verdict-crash-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { PGLITE_DATA_DIR: dir };
}

async function call<T>(server: ServerProcess, method: string, path: string, body?: unknown, status = 200) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    ...(body === undefined
      ? { headers: { "X-API-Key": TEST_API_KEY } }
      : { headers: HEADERS, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  expect(res.status, `${method} ${path}: ${text}`).toBe(status);
  return JSON.parse(text) as T;
}

/** Exact decimal → integer cents (BRL has 2 decimals); never through a float. */
function cents(amount: string): bigint {
  const match = /^(\d+)\.(\d{2})$/.exec(amount);
  if (!match) throw new Error(`not a BRL amount: ${amount}`);
  return BigInt(match[1]!) * 100n + BigInt(match[2]!);
}

/** Runs `fn` over `items` with at most `width` in flight. */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

interface Acknowledged {
  requestId: string;
  amount: string;
  status: number;
  text: string;
  body: { validationId: string; decision: string; auditSequence: number; auditHash: string };
}

type Summary = { validationId: string; requestId: string; decision: string; amount: string };

describe("kill -9 under load", () => {
  it("every acknowledged validation survives with its audit event; the chain verifies; counters equal the ALLOW sum", async () => {
    const env = { ...(await storage()), API_KEY: TEST_API_KEY, LOG_LEVEL: "warn" };
    const first = await start(env);

    // Catalog: a DAILY limit big enough never to be reached, a REVIEW rule for large amounts and
    // a PER_TRANSACTION limit so that all three decisions occur.
    const daily = await call<{ limitId: string }>(
      first,
      "POST",
      "/v1/limits",
      {
        name: "daily",
        limitType: "DAILY",
        maxAmount: "100000000000.00",
        currency: "BRL",
        scopes: [{ transactionType: "CARD" }],
      },
      201,
    );
    await call(first, "POST", `/v1/limits/${daily.limitId}/activate`);
    const perTx = await call<{ limitId: string }>(
      first,
      "POST",
      "/v1/limits",
      {
        name: "per-tx",
        limitType: "PER_TRANSACTION",
        maxAmount: "950.00",
        currency: "BRL",
        scopes: [{ transactionType: "CARD" }],
      },
      201,
    );
    await call(first, "POST", `/v1/limits/${perTx.limitId}/activate`);
    const review = await call<{ ruleId: string }>(
      first,
      "POST",
      "/v1/rules",
      { name: "large", expression: { ">": [{ var: "amount" }, 800] }, action: "REVIEW" },
      201,
    );
    await call(first, "POST", `/v1/rules/${review.ruleId}/activate`);

    const acknowledged: Acknowledged[] = [];
    const otherStatuses: number[] = [];
    let endedByError = 0;
    const deadline = Date.now() + CLIENT_DEADLINE_MS;

    async function client(): Promise<void> {
      while (Date.now() < deadline) {
        const requestId = randomUUID();
        const minor = randomInt(1, 100_000); // 0.01 .. 999.99
        const amount = `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, "0")}`;
        try {
          const res = await fetch(`${first.url}/v1/validations`, {
            method: "POST",
            headers: HEADERS,
            body: JSON.stringify({
              requestId,
              transactionType: "CARD",
              amount,
              currency: "BRL",
              transactionTimestamp: new Date().toISOString(),
              account: { accountId: randomUUID() },
            }),
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          });
          const text = await res.text();
          if (res.status >= 200 && res.status < 300) {
            acknowledged.push({ requestId, amount, status: res.status, text, body: JSON.parse(text) });
          } else {
            otherStatuses.push(res.status);
          }
        } catch {
          endedByError++;
          return;
        }
      }
    }

    const clients = Array.from({ length: CLIENTS }, () => client());
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const started = Date.now();
    await sleep(RUN_BEFORE_KILL_MS);
    while (acknowledged.length < MIN_ACKNOWLEDGED && Date.now() - started < MAX_RUN_BEFORE_KILL_MS) {
      await sleep(100);
    }
    await first.stop("SIGKILL");
    await Promise.all(clients);

    expect(first.proc.signalCode).toBe("SIGKILL");
    // The kill landed while clients were working, and they had been getting answers.
    expect(endedByError).toBeGreaterThan(0);
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(otherStatuses).toEqual([]);
    for (const ack of acknowledged) {
      expect(ack.status).toBe(201);
      expect(ack.body).toMatchObject({ requestId: ack.requestId, degraded: false });
    }
    const decisions = new Set(acknowledged.map((a) => a.body.decision));
    expect([...decisions].sort()).toEqual(["ALLOW", "DENY", "REVIEW"]);

    // Restart on the same data (PGlite: the killed process's stale lock is taken over).
    const second = await start(env);

    await pool(acknowledged, 16, async (ack) => {
      const record = await call<Record<string, unknown>>(
        second,
        "GET",
        `/v1/validations/${ack.body.validationId}`,
      );
      const { request, createdAt: _c, ...response } = record;
      expect(response).toEqual(ack.body);
      expect(request).toMatchObject({ requestId: ack.requestId, amount: ack.amount });
      const events = await call<{ auditEvents: { sequence: number; hash: string; result: string }[] }>(
        second,
        "GET",
        `/v1/audit-events?resource_id=${ack.body.validationId}`,
      );
      expect(events.auditEvents).toHaveLength(1);
      expect(events.auditEvents[0]).toMatchObject({
        sequence: ack.body.auditSequence,
        hash: ack.body.auditHash,
        result: ack.body.decision,
      });
    });

    const verify = await call<{ isValid: boolean; totalChecked: number }>(
      second,
      "GET",
      "/v1/audit-events/verify",
    );
    expect(verify.isValid).toBe(true);

    // Every stored validation (acknowledged or not) has exactly one event, and nothing else.
    async function walk<T>(path: string, key: string): Promise<T[]> {
      const out: T[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 1_000; pages++) {
        const sep = path.includes("?") ? "&" : "?";
        const page: Record<string, unknown> = await call(
          second,
          "GET",
          `${path}${sep}limit=1000${cursor ? `&cursor=${cursor}` : ""}`,
        );
        out.push(...(page[key] as T[]));
        if (!page.hasMore) return out;
        cursor = page.nextCursor as string;
      }
      throw new Error("pagination did not end");
    }
    const stored = await walk<Summary>("/v1/validations", "transactionValidations");
    const events = await walk<{ resourceId: string }>(
      "/v1/audit-events?event_type=TRANSACTION_VALIDATED",
      "auditEvents",
    );
    expect(stored.length).toBeGreaterThanOrEqual(acknowledged.length);
    expect(events.map((e) => e.resourceId).sort()).toEqual(stored.map((s) => s.validationId).sort());
    // Rule/limit events (2 limits × create+activate, 1 rule × create+activate) plus one per validation.
    expect(verify.totalChecked).toBe(stored.length + 6);

    // The counter equals the exact sum of the stored ALLOW amounts of its period.
    const usage = await call<{ currentUsage: string; resetAt: string }>(
      second,
      "GET",
      `/v1/limits/${daily.limitId}/usage`,
    );
    const periodStart = new Date(Date.parse(usage.resetAt) - 24 * 3_600_000).toISOString();
    const allowed = await walk<Summary>(
      `/v1/validations?decision=ALLOW&start_date=${encodeURIComponent(periodStart)}`,
      "transactionValidations",
    );
    const ackedAllow = acknowledged.filter((a) => a.body.decision === "ALLOW");
    expect(allowed.length).toBeGreaterThanOrEqual(ackedAllow.length);
    const allowedIds = new Set(allowed.map((a) => a.validationId));
    for (const ack of ackedAllow) expect(allowedIds.has(ack.body.validationId)).toBe(true);
    const sum = allowed.reduce((total, v) => total + cents(v.amount), 0n);
    expect(cents(usage.currentUsage)).toBe(sum);

    // The restarted server keeps validating on the same chain.
    const after = await call<{ auditSequence: number; decision: string }>(
      second,
      "POST",
      "/v1/validations",
      {
        requestId: randomUUID(),
        transactionType: "CARD",
        amount: "1.00",
        currency: "BRL",
        transactionTimestamp: new Date().toISOString(),
        account: { accountId: randomUUID() },
      },
      201,
    );
    expect(after.auditSequence).toBe(verify.totalChecked + 1);
    expect(await second.stop("SIGTERM")).toBe(0);
  }, 300_000);
});
