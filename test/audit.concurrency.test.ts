/**
 * Concurrent appends to one tenant's chain (issue 3, done-when): 8 writers on two separate
 * connection pools (two instances) append 2,000 events in batches of 1..10, with some transactions
 * rolled back after appending; the chain must verify, sequences must be exactly 1..2000 with no gap
 * and no duplicate, every committed batch must be contiguous, and the chain head must be the last
 * event. Needs PostgreSQL (TEST_DATABASE_URL); a smaller single-handle version runs everywhere.
 */
import { randomUUID } from "node:crypto";
import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AuditDraft,
  appendAuditEvents,
  countAuditEvents,
  getChainHead,
} from "../src/audit/audit.store.js";
import { auditChainHeads, auditEvents } from "../src/audit/audit.table.js";
import { verifyStoredChain } from "../src/audit/audit.verify.js";
import { connectDatabase, type DatabaseHandle } from "../src/db/connect.js";
import type { Database } from "../src/db/database.js";
import { createScratchDatabase, openTestDatabase, type TestDatabase, testDatabaseUrl } from "./harness.js";

const TENANT = "default";

/** Deterministic batch sizes in 1..10 summing to `total` (mulberry32, fixed seed: reproducible). */
function batchSizes(total: number, seed: number): number[] {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const sizes: number[] = [];
  let left = total;
  while (left > 0) {
    const size = Math.min(left, 1 + Math.floor(next() * 10));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

interface Marker {
  writer: number;
  batch: number;
  index: number;
  rolledBack: boolean;
}

function drafts(marker: Omit<Marker, "index">, size: number): AuditDraft[] {
  return Array.from({ length: size }, (_, index) => ({
    eventType: "TRANSACTION_VALIDATED",
    action: "VALIDATE",
    result: (["ALLOW", "DENY", "REVIEW"] as const)[(marker.batch + index) % 3]!,
    resourceType: "transaction",
    resourceId: randomUUID(),
    actor: { id: `writer-${marker.writer}`, actorType: "api_key", name: `writer ${marker.writer}` },
    context: {
      request: {
        requestId: randomUUID(),
        transactionType: "PIX",
        amount: `${marker.batch}.${index}0`,
        currency: "BRL",
      },
      response: { decision: "ALLOW", reason: "No matching rules found", matchedRuleIds: [] },
    },
    metadata: { ...marker, index },
  }));
}

class RolledBack extends Error {}

interface Plan {
  /** Committed batches of each writer, in the order it runs them. */
  batches: number[][];
  total: number;
}

function plan(total: number, writers: number, seed: number): Plan {
  const batches: number[][] = Array.from({ length: writers }, () => []);
  batchSizes(total, seed).forEach((size, i) => {
    batches[i % writers]!.push(size);
  });
  return { batches, total };
}

/**
 * Runs every writer concurrently, writer `w` on `handles[w % handles.length]`. Every third batch of
 * a writer is preceded by a transaction that appends and then throws: it must leave nothing.
 */
async function runWriters(handles: Database[], p: Plan, tenantId = TENANT): Promise<number> {
  let rolledBack = 0;
  await Promise.all(
    p.batches.map(async (sizes, writer) => {
      const db = handles[writer % handles.length]!;
      for (const [batch, size] of sizes.entries()) {
        if (batch % 3 === 1) {
          await expect(
            db.transaction(async (tx) => {
              await appendAuditEvents(tx, tenantId, drafts({ writer, batch, rolledBack: true }, size));
              throw new RolledBack("changed my mind");
            }),
          ).rejects.toBeInstanceOf(RolledBack);
          rolledBack += size;
        }
        const appended = await db.transaction((tx) =>
          appendAuditEvents(tx, tenantId, drafts({ writer, batch, rolledBack: false }, size)),
        );
        expect(appended).toHaveLength(size);
      }
    }),
  );
  return rolledBack;
}

/** Everything the done-when criterion asks, read back from the database. */
async function expectPerfectChain(db: Database, p: Plan, tenantId = TENANT): Promise<void> {
  const rows = await db
    .select({
      sequence: auditEvents.sequence,
      hash: auditEvents.hash,
      previousHash: auditEvents.previousHash,
      metadata: auditEvents.metadata,
    })
    .from(auditEvents)
    .where(eq(auditEvents.tenantId, tenantId))
    .orderBy(asc(auditEvents.sequence));

  // Exactly 1..total: no gap, no duplicate.
  expect(rows.map((r) => r.sequence)).toEqual(Array.from({ length: p.total }, (_, i) => i + 1));

  // Each link points at the stored hash before it.
  for (let i = 1; i < rows.length; i++) expect(rows[i]!.previousHash).toBe(rows[i - 1]!.hash);

  // Every committed draft exactly once, no rolled-back one, each batch contiguous and in order.
  const markers = rows.map((r) => r.metadata as unknown as Marker);
  expect(markers.filter((m) => m.rolledBack)).toEqual([]);
  const seen = new Map<string, number[]>();
  markers.forEach((m, i) => {
    const key = `${m.writer}/${m.batch}`;
    const list = seen.get(key) ?? [];
    expect(m.index, `batch ${key} out of order`).toBe(list.length);
    if (list.length > 0) expect(i, `batch ${key} interleaved`).toBe(list[list.length - 1]! + 1);
    list.push(i);
    seen.set(key, list);
  });
  const expectedBatches = p.batches.flatMap((sizes, writer) =>
    sizes.map((size, batch) => [`${writer}/${batch}`, size] as const),
  );
  expect(new Map([...seen].map(([k, v]) => [k, v.length]))).toEqual(new Map(expectedBatches));

  // The whole chain verifies with the service's verifier, and the head is the last event.
  expect(await verifyStoredChain(db, tenantId)).toEqual({
    isValid: true,
    totalChecked: p.total,
    message: expect.any(String),
  });
  const last = rows[rows.length - 1]!;
  expect(await getChainHead(db, tenantId)).toEqual({ sequence: last.sequence, hash: last.hash });
}

describe.runIf(!!testDatabaseUrl)("PostgreSQL: two instances, 8 concurrent writers, 2,000 events", () => {
  let scratch: { url: string; drop: () => Promise<void> };
  const pools: DatabaseHandle[] = [];

  beforeAll(async () => {
    scratch = await createScratchDatabase(testDatabaseUrl!);
    // Two connections: migrating holds one for its advisory lock (with one it would wait forever).
    const migrator = await connectDatabase({ kind: "postgres", url: scratch.url }, { maxConnections: 2 });
    await migrator.close();
    for (let i = 0; i < 2; i++) {
      pools.push(
        await connectDatabase({ kind: "postgres", url: scratch.url }, { migrate: false, maxConnections: 8 }),
      );
    }
  });

  afterAll(async () => {
    for (const pool of pools) await pool.close();
    await scratch?.drop();
  });

  it("forms one gapless chain 1..2000 that verifies, whatever the interleaving", async () => {
    const p = plan(2000, 8, 0xc0ffee);
    expect(p.batches.flat().every((s) => s >= 1 && s <= 10)).toBe(true);
    expect(new Set(p.batches.flat()).size).toBe(10);
    const rolledBack = await runWriters(
      pools.map((h) => h.db),
      p,
    );
    expect(rolledBack).toBeGreaterThan(0);
    // The writers really did interleave (not one after another).
    const writers = await pools[0]!.db
      .select({ metadata: auditEvents.metadata })
      .from(auditEvents)
      .orderBy(asc(auditEvents.sequence));
    const order = writers.map((r) => (r.metadata as unknown as Marker).writer);
    const switches = order.filter((w, i) => i > 0 && w !== order[i - 1]).length;
    expect(switches).toBeGreaterThan(p.batches.length);
    // Either instance sees the same chain.
    await expectPerfectChain(pools[0]!.db, p);
    await expectPerfectChain(pools[1]!.db, p);
  }, 300_000);
});

describe(`one database handle, concurrent writers (${testDatabaseUrl ? "PostgreSQL" : "PGlite"})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });

  it("keeps each tenant's chain gapless with 8 writers on one tenant and 2 on another", async () => {
    const p = plan(300, 8, 42);
    const other = plan(60, 2, 7);
    await Promise.all([runWriters([db.handle.db], p), runWriters([db.handle.db], other, "tenant-b")]);
    await expectPerfectChain(db.handle.db, p);
    await expectPerfectChain(db.handle.db, other, "tenant-b");
    const heads = await db.handle.db.select().from(auditChainHeads).orderBy(asc(auditChainHeads.tenantId));
    expect(heads.map((h) => [h.tenantId, h.sequence])).toEqual([
      [TENANT, 300],
      ["tenant-b", 60],
    ]);
  }, 300_000);

  it("a transaction that appends and then throws leaves no event and no gap", async () => {
    const handle = db.handle.db;
    const tenant = "tenant-rollback";
    await handle.transaction((tx) =>
      appendAuditEvents(tx, tenant, drafts({ writer: 0, batch: 0, rolledBack: false }, 3)),
    );
    const head = await getChainHead(handle, tenant);
    expect(head.sequence).toBe(3);

    let inside: number[] = [];
    await expect(
      handle.transaction(async (tx) => {
        const events = await appendAuditEvents(
          tx,
          tenant,
          drafts({ writer: 0, batch: 1, rolledBack: true }, 4),
        );
        inside = events.map((e) => e.sequence);
        // Visible inside the transaction...
        expect(await countAuditEvents(tx, tenant)).toBe(7);
        throw new RolledBack("after appending");
      }),
    ).rejects.toBeInstanceOf(RolledBack);
    expect(inside).toEqual([4, 5, 6, 7]);
    // ...and gone after the rollback, head included.
    expect(await countAuditEvents(handle, tenant)).toBe(3);
    expect(await getChainHead(handle, tenant)).toEqual(head);

    // An append that fails inside the database (the transaction aborts) leaves nothing either.
    await expect(
      handle.transaction(async (tx) => {
        await appendAuditEvents(tx, tenant, drafts({ writer: 0, batch: 2, rolledBack: true }, 2));
        await appendAuditEvents(tx, tenant, [
          { ...drafts({ writer: 0, batch: 2, rolledBack: true }, 1)[0]!, eventId: "not-a-uuid" },
        ]);
      }),
    ).rejects.toThrow();
    expect(await countAuditEvents(handle, tenant)).toBe(3);

    // The next committed append continues right after the last committed event.
    const next = await handle.transaction((tx) =>
      appendAuditEvents(tx, tenant, drafts({ writer: 0, batch: 3, rolledBack: false }, 2)),
    );
    expect(next.map((e) => e.sequence)).toEqual([4, 5]);
    expect(next[0]!.previousHash).toBe(head.hash);
    expect(await verifyStoredChain(handle, tenant)).toEqual({
      isValid: true,
      totalChecked: 5,
      message: expect.any(String),
    });
  });
});
