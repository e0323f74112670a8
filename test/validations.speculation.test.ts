/**
 * A validation batch may be decided against the previous batch's results while that batch
 * commits, and is then written in one statement that checks the assumption (see
 * `runValidationBatch`). These tests hand it a wrong assumption, as if the previous batch had
 * rolled back or another instance had committed in between, and check that the assumption is
 * thrown away: the batch is decided against what it locked, and so is the batch after it.
 */

import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyStoredChain } from "../src/audit/audit.verify.js";
import { withCanonicalText } from "../src/audit/canonical.js";
import { queryRows } from "../src/db/database.js";
import { applicableLimits, type LimitForEval } from "../src/limits/applicability.js";
import type { BatchTail } from "../src/validations/batch-state.js";
import { type Job, runValidationBatch, type ValidationOutcome } from "../src/validations/commit-batch.js";
import { limitTransaction, normalizeRequest } from "../src/validations/validation.js";
import type { ValidationRequestInput } from "../src/validations/validation.schemas.js";
import { openTestDatabase, type TestDatabase } from "./harness.js";

const TENANT = "default";
let t: TestDatabase;

beforeAll(async () => {
  t = await openTestDatabase();
});
afterAll(async () => {
  await t.close();
});

/** A DAILY limit of 100.00 BRL on every transaction. */
const LIMIT: LimitForEval = {
  limitId: randomUUID(),
  limitType: "DAILY",
  maxAmount: "100.00",
  currency: "BRL",
  scopes: [],
  timezone: "UTC",
  activeTimeStart: null,
  activeTimeEnd: null,
  customStartDate: null,
  customEndDate: null,
};

function job(amount = "10.00", limits: LimitForEval[] = []): Job {
  const input = {
    requestId: randomUUID(),
    transactionType: "CARD",
    amount,
    currency: "BRL",
    transactionTimestamp: new Date().toISOString(),
    account: { accountId: randomUUID() },
  } as unknown as ValidationRequestInput;
  const request = normalizeRequest(input);
  const evaluatedAt = new Date();
  return {
    db: t.handle.db,
    actor: { id: "test", actorType: "api_key", name: "test" },
    request,
    canonicalRequest: withCanonicalText(request),
    requestHash: randomUUID(),
    rules: {
      matchedRuleIds: [],
      evaluatedRuleIds: [],
      matchedActions: { DENY: [], REVIEW: [], ALLOW: [] },
      totalRulesLoaded: 0,
      truncated: false,
      errors: [],
    },
    applicable: applicableLimits(limitTransaction(request), limits, evaluatedAt),
    startedAt: performance.now(),
    evaluatedAt,
  };
}

const decisionOf = (outcome: ValidationOutcome) =>
  (JSON.parse((outcome as { body: string }).body) as { decision: string }).decision;

const handoff = (assumed: BatchTail | null) => {
  const released: BatchTail[] = [];
  return {
    released,
    handoff: { assumed, turn: Promise.resolve(), release: (tail: BatchTail) => released.push(tail) },
  };
};

describe("a batch decided against an assumed state", () => {
  it("is decided again when the chain head is not the one assumed; the chain stays whole", async () => {
    const first = handoff(null);
    const a = await runValidationBatch(TENANT, [job(), job()], "ALLOW", first.handoff);
    expect(a.map((o) => o.kind)).toEqual(["created", "created"]);
    const tail = first.released[0]!;
    expect(tail.head.sequence).toBe(2);

    // As if the previous batch had appended 5 more events and then rolled back.
    const stale: BatchTail = { ...tail, head: { sequence: 7, hash: "f".repeat(64) } };
    const second = handoff(stale);
    const b = await runValidationBatch(TENANT, [job()], "ALLOW", second.handoff);
    const body = JSON.parse((b[0] as { body: string }).body) as { auditSequence: number };
    expect(body.auditSequence).toBe(3);
    // It handed on its plan's tail before writing, marked it stale, then the tail it locked.
    expect(second.released[0]!.superseded).toBe(true);
    expect(second.released.at(-1)!.head.sequence).toBe(3);
    expect(await verifyStoredChain(t.handle.db, TENANT)).toMatchObject({ isValid: true, totalChecked: 3 });
  });

  it("keeps its decision when the assumption holds, and answers a request id the assumption missed as a replay", async () => {
    const first = handoff(null);
    const j = job();
    await runValidationBatch(TENANT, [j], "ALLOW", first.handoff);
    const tail = first.released[0]!;

    // The right head, but a tail that does not know j's request id was committed.
    const blind: BatchTail = { ...tail, requestIds: new Set() };
    const again = handoff(blind);
    const replay = await runValidationBatch(
      TENANT,
      [{ ...j, startedAt: performance.now() }],
      "ALLOW",
      again.handoff,
    );
    expect(replay[0]!.kind).toBe("replay");

    const next = handoff(again.released.at(-1)!);
    const fresh = await runValidationBatch(TENANT, [job()], "ALLOW", next.handoff);
    const body = JSON.parse((fresh[0] as { body: string }).body) as { auditSequence: number };
    expect(body.auditSequence).toBe(tail.head.sequence + 1);
    // Its plan held: written in one go, handed on once.
    expect(next.released).toHaveLength(1);
    expect(next.released[0]!.superseded).toBeUndefined();
    expect(await verifyStoredChain(t.handle.db, TENANT)).toMatchObject({ isValid: true });
  });

  it("does not try a plan made against a superseded tail, and hands on the tail it locked", async () => {
    const first = handoff(null);
    await runValidationBatch(TENANT, [job()], "ALLOW", first.handoff);
    const tail = first.released[0]!;
    const stale: BatchTail = { ...tail, head: { sequence: 1, hash: "e".repeat(64) }, superseded: true };
    const next = handoff(stale);
    const out = await runValidationBatch(TENANT, [job()], "ALLOW", next.handoff);
    expect(out[0]!.kind).toBe("created");
    expect(next.released).toHaveLength(1);
    expect(next.released[0]!.head.sequence).toBe(tail.head.sequence + 1);
    expect(await verifyStoredChain(t.handle.db, TENANT)).toMatchObject({ isValid: true });
  });

  it("is decided again when a counter moved, even by one cent, and kept when it is numerically the same", async () => {
    const first = handoff(null);
    const [a] = await runValidationBatch(TENANT, [job("60.00", [LIMIT])], "ALLOW", first.handoff);
    expect(decisionOf(a!)).toBe("ALLOW");
    const tail = first.released[0]!;
    const [key] = [...tail.usage.keys()];

    // Assumed 39.99 + 40.01 = 80.00 fits; the counter really holds 60.00, so 100.01 does not.
    const moved: BatchTail = { ...tail, usage: new Map([[key!, "39.99"]]) };
    const second = handoff(moved);
    const [b] = await runValidationBatch(TENANT, [job("40.01", [LIMIT])], "ALLOW", second.handoff);
    expect(decisionOf(b!)).toBe("DENY");
    expect(second.released[0]!.superseded).toBe(true);

    // "60.0" is the stored 60.00 written differently: the plan holds and fills the limit exactly.
    const same: BatchTail = { ...second.released.at(-1)!, usage: new Map([[key!, "60.0"]]) };
    const third = handoff(same);
    const [c] = await runValidationBatch(TENANT, [job("40.00", [LIMIT])], "ALLOW", third.handoff);
    expect(decisionOf(c!)).toBe("ALLOW");
    expect(third.released).toHaveLength(1);
    const [row] = await queryRows<{ usage: string }>(
      t.handle.db,
      sql`select usage::text as usage from limit_counters where limit_id = ${LIMIT.limitId}`,
    );
    expect(Number(row!.usage)).toBe(100);
    expect(await verifyStoredChain(t.handle.db, TENANT)).toMatchObject({ isValid: true });
  });

  it("counts a stale plan as a miss, and after two misses in a row decides under locks without trying", async () => {
    const first = handoff(null);
    await runValidationBatch(TENANT, [job()], "ALLOW", first.handoff);
    const tail = first.released[0]!;

    // As if another instance had appended: the plan is stale, and its tail says so.
    const elsewhere: BatchTail = { ...tail, head: { sequence: 1, hash: "d".repeat(64) }, misses: 1 };
    const second = handoff(elsewhere);
    await runValidationBatch(TENANT, [job()], "ALLOW", second.handoff);
    expect(second.released[0]).toMatchObject({ superseded: true, misses: 2 });

    // Two misses: no plan is made, the batch goes straight to its transaction (one release).
    const locked = second.released.at(-1)!;
    const third = handoff({ ...locked, misses: 2 });
    const out = await runValidationBatch(TENANT, [job()], "ALLOW", third.handoff);
    expect(out[0]!.kind).toBe("created");
    expect(third.released).toHaveLength(1);
    expect(third.released[0]!.misses).toBe(3);

    // The sixteenth tries again, and a plan that holds clears the count.
    const fourth = handoff({ ...third.released[0]!, misses: 16 });
    await runValidationBatch(TENANT, [job()], "ALLOW", fourth.handoff);
    expect(fourth.released).toHaveLength(1);
    expect(fourth.released[0]!.misses).toBe(0);
    expect(await verifyStoredChain(t.handle.db, TENANT)).toMatchObject({ isValid: true });
  });

  it("does not hand on counter values from a stale plan that were never written", async () => {
    const first = handoff(null);
    await runValidationBatch(TENANT, [job("10.00", [LIMIT])], "ALLOW", first.handoff);
    const tail = first.released[0]!;
    const [key] = [...tail.usage.keys()];

    // A plan against a counter that moved: it adds 5.00 to a usage it only assumed.
    const moved: BatchTail = { ...tail, usage: new Map([[key!, "0.01"]]) };
    const second = handoff(moved);
    await runValidationBatch(TENANT, [job("5.00", [LIMIT])], "ALLOW", second.handoff);
    const stale = second.released[0]!;
    expect(stale.superseded).toBe(true);
    expect(stale.usage.get(key!)).toBe("5.01");

    // The queue hands that stale tail on; a batch that does not touch the counter must not pass
    // its unwritten value along as known.
    const third = handoff(stale);
    await runValidationBatch(TENANT, [job()], "ALLOW", third.handoff);
    expect(third.released).toHaveLength(1);
    expect(third.released[0]!.usage.has(key!)).toBe(false);
    expect(await verifyStoredChain(t.handle.db, TENANT)).toMatchObject({ isValid: true });
  });
});
