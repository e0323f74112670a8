/**
 * Audit append throughput for one tenant on PostgreSQL:
 *   npx tsx bench/audit-append.bench.ts [seconds-per-run]
 *
 * Creates a scratch database on BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * migrates it, and for each combination of 1/10/100 events per transaction and 1/8 concurrent
 * writers, appends realistic TRANSACTION_VALIDATED events (about 1 KB of context each) with
 * `appendAuditEvents` inside `db.transaction` for a fixed wall-clock time. Each run uses its own
 * tenant, so every run starts a fresh chain; the chain is verified afterwards (not timed). Prints a
 * markdown table and drops the database.
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { type AuditDraft, appendAuditEvents } from "../src/audit/audit.store.js";
import { verifyStoredChain } from "../src/audit/audit.verify.js";
import { connectDatabase } from "../src/db/connect.js";
import { type Database, queryRows } from "../src/db/database.js";
import { createScratchDatabase } from "../test/harness.js";
import { machine, percentile } from "./lib.js";

const ADMIN_URL = process.env.BENCH_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const BATCHES = [1, 10, 100] as const;
const WRITERS = [1, 8] as const;
const DECISIONS = ["ALLOW", "DENY", "REVIEW"] as const;

/** A validation event shaped like CONTRACT §5: the request and the response, money as strings. */
function draft(i: number): AuditDraft {
  const decision = DECISIONS[i % 3]!;
  const amount = `${(i % 97_000) + 1}.${String(i % 100).padStart(2, "0")}`;
  const now = new Date().toISOString();
  const validationId = randomUUID();
  return {
    eventType: "TRANSACTION_VALIDATED",
    action: "VALIDATE",
    result: decision,
    resourceType: "transaction",
    resourceId: validationId,
    actor: { id: "default", actorType: "api_key", name: "default" },
    context: {
      request: {
        requestId: randomUUID(),
        transactionType: "CARD",
        subType: "debit",
        amount,
        currency: "BRL",
        transactionTimestamp: now,
        account: { accountId: randomUUID(), type: "checking", status: "active", metadata: {} },
        segment: { segmentId: randomUUID(), name: "corporate" },
        merchant: { merchantId: randomUUID(), name: "Loja São João", category: "5411", country: "BR" },
        metadata: { channel: "MOBILE_APP", deviceId: `device-${i % 10_000}` },
      },
      response: {
        validationId,
        decision,
        reason: decision === "DENY" ? "limit_exceeded" : "No matching rules found",
        matchedRuleIds: decision === "ALLOW" ? [] : [randomUUID()],
        evaluatedRuleIds: [randomUUID(), randomUUID()],
        limitUsageDetails: [
          {
            limitId: randomUUID(),
            limitAmount: "50000.00",
            currentUsage: "16500.00",
            attemptedAmount: amount,
            exceeded: decision === "DENY",
            period: "DAILY",
            scope: "transactionType:CARD",
            skipped: false,
            remaining: "33500.00",
            resetAt: "2026-01-31T00:00:00.000Z",
          },
        ],
        processingTimeMs: (i % 1000) / 100,
        evaluatedAt: now,
        totalRulesLoaded: 2,
        truncated: false,
        degraded: false,
      },
    },
    metadata: {},
  };
}

interface Run {
  batch: number;
  writers: number;
  transactions: number;
  events: number;
  seconds: number;
  latenciesMs: number[];
}

async function run(
  db: Database,
  tenantId: string,
  batch: number,
  writers: number,
  seconds: number,
): Promise<Run> {
  let counter = 0;
  const latenciesMs: number[] = [];
  let transactions = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < deadline) {
        const drafts = Array.from({ length: batch }, () => draft(counter++));
        const t0 = performance.now();
        await db.transaction((tx) => appendAuditEvents(tx, tenantId, drafts));
        latenciesMs.push(performance.now() - t0);
        transactions += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { batch, writers, transactions, events: transactions * batch, seconds: elapsed, latenciesMs };
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  if (!(seconds > 0)) throw new Error("usage: audit-append.bench.ts [seconds-per-run]");
  const scratch = await createScratchDatabase(ADMIN_URL);
  const handle = await connectDatabase({ kind: "postgres", url: scratch.url }, { maxConnections: 10 });
  const rows: string[] = [];
  try {
    const [server] = await queryRows<{ v: string }>(handle.db, sql`select version() as v`);
    // Warm-up: connections, prepared plans, the JIT.
    await run(handle.db, "warmup", 10, 8, Math.min(1, seconds));
    for (const batch of BATCHES) {
      for (const writers of WRITERS) {
        const tenantId = `bench-b${batch}-w${writers}`;
        const r = await run(handle.db, tenantId, batch, writers, seconds);
        const check = await verifyStoredChain(handle.db, tenantId);
        if (!check.isValid || check.totalChecked !== r.events) {
          throw new Error(`${tenantId}: chain does not verify: ${JSON.stringify(check)}`);
        }
        const sorted = [...r.latenciesMs].sort((a, b) => a - b);
        rows.push(
          `| ${batch} | ${writers} | ${fmt(r.transactions)} | ${fmt(r.events)} | ${fmt(r.seconds, 1)} s | ${fmt(r.transactions / r.seconds)} | **${fmt(r.events / r.seconds)}** | ${fmt(percentile(sorted, 50), 1)} | ${fmt(percentile(sorted, 99), 1)} |`,
        );
        process.stderr.write(`done: batch ${batch}, ${writers} writer(s)\n`);
      }
    }
    const contextBytes = Buffer.byteLength(JSON.stringify(draft(1).context));
    const out = [
      `${machine()}`,
      `${server?.v ?? "PostgreSQL"}; ${seconds} s per run; context ≈ ${contextBytes} bytes/event; one tenant per run, chain verified after each run`,
      "",
      "| events/tx | writers | transactions | events | elapsed | tx/s | events/s | p50 tx ms | p99 tx ms |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...rows,
    ];
    process.stdout.write(`${out.join("\n")}\n`);
  } finally {
    await handle.close();
    await scratch.drop();
  }
}

await main();
