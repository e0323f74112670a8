/**
 * Offline audit verification throughput: `npx tsx bench/audit-verify.bench.ts [count]`.
 *
 * Writes an NDJSON export of `count` (default 1,000,000) realistic TRANSACTION_VALIDATED events to
 * a temp file (not timed), then times `verifyNdjsonStream` over it while sampling RSS every 100 ms,
 * in-thread and with worker threads, then times the slow path (non-canonical lines) and the
 * in-memory `createChainVerifier` over pre-parsed events. Prints a markdown table.
 * Target: >= 250,000 events/s for the export with flat memory.
 */

import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AuditEventDraft,
  canonicalJson,
  createChainVerifier,
  linkEvents,
  type VerifyResult,
} from "../src/audit/chain.js";
import type { AuditEvent } from "../src/audit/event.js";

// Verification runs the compiled code, as `npx verdict audit verify` does (`npm run bench` builds
// first): from source, every worker thread would first have to load and transpile it through tsx.
const distNdjson = new URL("../dist/audit/ndjson.js", import.meta.url);
const { verifyNdjsonFile, verifyNdjsonStream } = (await import(distNdjson.href).catch((err: unknown) => {
  throw new Error(`run "npm run build" first (${String(err)})`);
})) as typeof import("../src/audit/ndjson.js");

const TARGET = 250_000;
const IN_MEMORY_MAX = 100_000;
const SLOW_PATH_MAX = 100_000;

function uuid(n: number, salt: number): string {
  const hex = (n * 2654435761 + salt).toString(16).padStart(12, "0").slice(-12);
  return `0190f3a2-${(salt & 0xffff).toString(16).padStart(4, "0")}-7abc-8def-${hex}`;
}

const DECISIONS = ["ALLOW", "DENY", "REVIEW"] as const;

/** A validation event shaped like CONTRACT §5 (request + response, about 1 KB of context). */
function draft(i: number): AuditEventDraft {
  const decision = DECISIONS[i % 3]!;
  const amount = `${(i % 97_000) + 1}.${String(i % 100).padStart(2, "0")}`;
  const created = new Date(Date.UTC(2026, 0, 30, 10, 0, 0) + i * 7).toISOString();
  const validationId = uuid(i, 1);
  return {
    eventId: uuid(i, 2),
    tenantId: "default",
    eventType: "TRANSACTION_VALIDATED",
    action: "VALIDATE",
    result: decision,
    resourceType: "transaction",
    resourceId: validationId,
    actor: { id: "default", actorType: "api_key", name: "default" },
    context: {
      request: {
        requestId: uuid(i, 3),
        transactionType: "CARD",
        subType: "debit",
        amount,
        currency: "BRL",
        transactionTimestamp: created,
        account: { accountId: uuid(i % 5000, 4), type: "checking", status: "active", metadata: {} },
        segment: { segmentId: uuid(i % 50, 5), name: "corporate" },
        merchant: { merchantId: uuid(i % 900, 6), name: "Loja São João", category: "5411", country: "BR" },
        metadata: { channel: "MOBILE_APP", deviceId: `device-${i % 10_000}` },
      },
      response: {
        validationId,
        decision,
        reason: decision === "DENY" ? "limit_exceeded" : "No matching rules found",
        matchedRuleIds: decision === "ALLOW" ? [] : [uuid(i % 20, 7)],
        evaluatedRuleIds: [uuid(i % 20, 7), uuid((i + 1) % 20, 7)],
        limitUsageDetails: [
          {
            limitId: uuid(3, 8),
            limitAmount: "50000.00",
            currentUsage: "16500.00",
            attemptedAmount: amount,
            exceeded: decision === "DENY",
            period: "DAILY",
            scope: `(segment:${uuid(i % 50, 5)},transactionType:CARD)`,
            skipped: false,
            remaining: "33500.00",
            resetAt: "2026-01-31T00:00:00.000Z",
          },
        ],
        processingTimeMs: (i % 1000) / 100,
        evaluatedAt: created,
        totalRulesLoaded: 2,
        truncated: false,
        degraded: false,
      },
    },
    metadata: {},
    createdAt: created,
  };
}

/** Writes `count` chained events, one line each; `format` decides the line's serialization. */
async function writeExport(path: string, count: number, format: (e: AuditEvent) => string): Promise<number> {
  const out = createWriteStream(path);
  let head: { sequence: number; hash: string } | null = null;
  const batchSize = 1000;
  for (let from = 0; from < count; from += batchSize) {
    const drafts: AuditEventDraft[] = [];
    for (let i = from; i < Math.min(count, from + batchSize); i++) drafts.push(draft(i));
    const events = linkEvents(head, drafts);
    const last = events[events.length - 1]!;
    head = { sequence: last.sequence, hash: last.hash };
    if (!out.write(`${events.map(format).join("\n")}\n`)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return (await stat(path)).size;
}

interface Measured<T> {
  value: T;
  seconds: number;
  cpuSeconds: number;
  rssBefore: number;
  rssPeak: number;
}

/** Wall time, CPU time (all threads of the process) and RSS sampled every 100 ms during `run`. */
async function measure<T>(run: () => Promise<T>): Promise<Measured<T>> {
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const timer = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 100);
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  const value = await run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(timer);
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  return { value, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, rssBefore, rssPeak };
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const int = (n: number): string => Math.round(n).toLocaleString("en-US");

function row(name: string, events: number, m: Measured<unknown>, memory = true): string {
  const rss = memory ? `${mb(m.rssBefore)} | ${mb(m.rssPeak)} (+${mb(m.rssPeak - m.rssBefore)})` : "- | -";
  return `| ${name} | ${int(events)} | ${m.seconds.toFixed(2)} s | **${int(events / m.seconds)}** | ${m.cpuSeconds.toFixed(2)} s | ${rss} |`;
}

function expectValid(result: VerifyResult, count: number): void {
  if (!result.isValid || result.totalChecked !== count)
    throw new Error(`unexpected result ${JSON.stringify(result)}`);
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 1_000_000);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error("usage: audit-verify.bench.ts [count]");
  const workers = availableParallelism();
  const dir = await mkdtemp(join(tmpdir(), "verdict-audit-bench-"));
  const rows: string[] = [];
  const load = [loadavg()[0]!.toFixed(2)];
  try {
    const file = join(dir, "canonical.ndjson");
    process.stderr.write(`generating ${int(count)} events...\n`);
    const size = await writeExport(file, count, canonicalJson);
    const read = () => createReadStream(file, { highWaterMark: 1 << 20 });

    const inThread = await measure(() => verifyNdjsonStream(read()));
    expectValid(inThread.value, count);
    rows.push(row("verifyNdjsonStream, in-thread (canonical lines: fast path)", count, inThread));

    const parallelStream = await measure(() => verifyNdjsonStream(read(), { workers }));
    expectValid(parallelStream.value, count);
    rows.push(row(`verifyNdjsonStream, ${workers} worker threads`, count, parallelStream));

    // The headline path runs three times and reports the median run: this machine is noisy.
    const runs: Measured<VerifyResult>[] = [];
    for (let i = 0; i < 3; i++) {
      const run = await measure(() => verifyNdjsonFile(file, { workers }));
      expectValid(run.value, count);
      runs.push(run);
    }
    runs.sort((a, b) => a.seconds - b.seconds);
    const parallel = runs[1]!;
    const each = runs.map((r) => int(count / r.seconds)).join(" / ");
    rows.push(
      row(
        `verifyNdjsonFile, ${workers} worker threads (as the CLI runs it), median of 3 (${each})`,
        count,
        parallel,
      ),
    );

    const slowCount = Math.min(count, SLOW_PATH_MAX);
    const slowFile = join(dir, "unsorted.ndjson");
    await writeExport(slowFile, slowCount, (e) => JSON.stringify(e));
    const slow = await measure(() =>
      verifyNdjsonStream(createReadStream(slowFile, { highWaterMark: 1 << 20 })),
    );
    expectValid(slow.value, slowCount);
    rows.push(
      row("verifyNdjsonStream, in-thread, non-canonical lines (parse + canonicalize)", slowCount, slow),
    );

    const memCount = Math.min(count, IN_MEMORY_MAX);
    const drafts: AuditEventDraft[] = [];
    for (let i = 0; i < memCount; i++) drafts.push(draft(i));
    // Round-trip through JSON so the objects look like parsed rows, not the builder's literals.
    const events: unknown[] = JSON.parse(JSON.stringify(linkEvents(null, drafts)));
    const inMemory = await measure(async () => {
      const verifier = createChainVerifier();
      for (const e of events) verifier.push(e);
      return verifier.result();
    });
    expectValid(inMemory.value, memCount);
    rows.push(row("createChainVerifier.push, pre-parsed objects", memCount, inMemory, false));

    load.push(loadavg()[0]!.toFixed(2));
    const best = count / parallel.seconds;
    const out = [
      `Node ${process.version}, ${cpus().length} CPUs, ${int(size / count)} bytes/event, export ${mb(size)} (page-cached), 1-min load average ${load.join(" → ")}`,
      "",
      "| run | events | elapsed | events/s | CPU (all threads) | RSS before | RSS peak, sampled every 100 ms |",
      "|---|---:|---:|---:|---:|---:|---:|",
      ...rows,
      "",
      `target >= ${int(TARGET)} events/s on the export, as the CLI verifies it: ${best >= TARGET ? "met" : "NOT met"} (median ${int(best)})`,
    ];
    process.stdout.write(`${out.join("\n")}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
