/**
 * A validation batch may be decided against the previous batch's results while that batch
 * commits (see `runValidationBatch`). These tests hand it a wrong assumption, as if the previous
 * batch had rolled back or another instance had committed in between, and check that the
 * assumption is thrown away: the batch is decided against what it locked.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyStoredChain } from "../src/audit/audit.verify.js";
import type { BatchTail } from "../src/validations/batch-state.js";
import { type Job, runValidationBatch } from "../src/validations/commit-batch.js";
import { normalizeRequest } from "../src/validations/validation.js";
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

function job(): Job {
  const input = {
    requestId: randomUUID(),
    transactionType: "CARD",
    amount: "10.00",
    currency: "BRL",
    transactionTimestamp: new Date().toISOString(),
    account: { accountId: randomUUID() },
  } as unknown as ValidationRequestInput;
  return {
    db: t.handle.db,
    actor: { id: "test", actorType: "api_key", name: "test" },
    request: normalizeRequest(input),
    requestHash: randomUUID(),
    rules: {
      matchedRuleIds: [],
      evaluatedRuleIds: [],
      matchedActions: { DENY: [], REVIEW: [], ALLOW: [] },
      totalRulesLoaded: 0,
      truncated: false,
      errors: [],
    },
    applicable: [],
    startedAt: performance.now(),
    evaluatedAt: new Date(),
  };
}

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
    expect(second.released[0]!.head.sequence).toBe(3);
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

    const next = handoff(again.released[0]!);
    const fresh = await runValidationBatch(TENANT, [job()], "ALLOW", next.handoff);
    const body = JSON.parse((fresh[0] as { body: string }).body) as { auditSequence: number };
    expect(body.auditSequence).toBe(tail.head.sequence + 1);
    expect(await verifyStoredChain(t.handle.db, TENANT)).toMatchObject({ isValid: true });
  });
});
