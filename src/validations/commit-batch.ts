import { uuidv7 } from "uuidv7";
import { type AuditDraft, sealDrafts, sealedEventsJson } from "../audit/audit.store.js";
import type { CanonicalText } from "../audit/canonical.js";
import type { SealedEvent } from "../audit/chain.js";
import type { JsonObject } from "../audit/event.js";
import type { Database } from "../db/database.js";
import type { ApplicableLimit } from "../limits/applicability.js";
import { counterKey, decideSequentially, type LimitDecision } from "../limits/decide.js";
import { addAmounts } from "../money/money.js";
import type { RuleSetResult } from "../rules/rule-set.js";
import type { Actor } from "../tenancy/tenant-context.js";
import {
  assumedState,
  type BatchHandoff,
  type BatchTail,
  type LockedState,
  planAhead,
} from "./batch-state.js";
import { isInfrastructureFailure, isSqlError } from "./failures.js";
import { recordedResponse } from "./recorded-response.js";
import { decide, type NormalizedRequest, type ValidationResponse } from "./validation.js";
import {
  type CounterDelta,
  type CounterRef,
  commitPlanned,
  commitPlannedIn,
  encodePlannedCommit,
  lockValidationState,
  type ValidationInsert,
} from "./validations.store.js";

/** A request evaluated against the catalog, waiting for its turn in the tenant's commit. */
export interface Job {
  db: Database;
  actor: Actor;
  request: NormalizedRequest;
  /** The request with its canonical text, hashed for idempotency and recorded in the event. */
  canonicalRequest: CanonicalText<NormalizedRequest>;
  requestHash: string;
  rules: RuleSetResult;
  /** Empty when a DENY rule matched: limits are then not checked. */
  applicable: ApplicableLimit[];
  startedAt: number;
  evaluatedAt: Date;
}

export type ValidationOutcome =
  | { kind: "created"; body: string; decision: string }
  | { kind: "replay"; body: string }
  | { kind: "degraded"; body: string }
  | { kind: "conflict" };

function exceededIds(decision: LimitDecision | undefined): string[] {
  return decision ? decision.details.filter((d) => d.exceeded).map((d) => d.limitId) : [];
}

/** Everything a batch writes and answers, decided against one state. */
interface BatchPlan {
  outcomes: ValidationOutcome[];
  events: SealedEvent[];
  rows: ValidationInsert[];
  deltas: CounterDelta[];
  tail: BatchTail;
}

function counterRefs(jobs: readonly Job[]): Map<string, CounterRef> {
  const refs = new Map<string, CounterRef>();
  for (const job of jobs) {
    for (const a of job.applicable) {
      if (a.skipped || !a.period) continue;
      refs.set(counterKey(a.limit.limitId, a.scopeKey, a.period.periodKey), {
        limitId: a.limit.limitId,
        scopeKey: a.scopeKey,
        periodKey: a.period.periodKey,
        periodStart: a.period.start,
        resetAt: a.period.resetAt,
      });
    }
  }
  return refs;
}

/** Counters a tenant's tail remembers across batches; beyond this it keeps only the last batch's. */
const KNOWN_COUNTERS_MAX = 1024;

/**
 * The tail handed on by a batch decided under locks: its counters on top of those known before
 * it, unless those came from a superseded tail (values a stale plan never wrote).
 */
function knownTail(tail: BatchTail, before: BatchTail | null): BatchTail {
  if (!before || before.superseded || before.usage.size >= KNOWN_COUNTERS_MAX) return tail;
  const usage = new Map(before.usage);
  for (const [key, value] of tail.usage) usage.set(key, value);
  return { ...tail, usage };
}

/**
 * Runs one group commit: every job of the batch in one transaction.
 *
 * Fast path: with `handoff.assumed` (the tenant's previous batch, still committing or long
 * since committed), the batch is decided and sealed against it before its turn, without holding
 * a connection, and written in one statement (`commitPlanned`) that locks the chain head and the
 * counters and writes only if they are exactly as assumed and no request id has a stored answer.
 *
 * Otherwise, or when that check fails (the previous batch rolled back, another instance or a
 * catalog change appended in between), the explicit transaction: one statement
 * (`lockValidationState`) locks the chain head, then the counters, and reads the stored answers;
 * the batch is decided in order against the locked counters; the same write statement as the
 * fast path then writes the guarded counter updates, the events, the head and the records.
 */
export async function runValidationBatch(
  tenantId: string,
  jobs: Job[],
  defaultDecision: "ALLOW" | "DENY",
  handoff: BatchHandoff = { assumed: null, turn: Promise.resolve(), release: () => {} },
): Promise<ValidationOutcome[]> {
  const db = jobs[jobs.length - 1]!.db;
  const refs = counterRefs(jobs);
  const keys = { requestIds: jobs.map((j) => j.request.requestId), counterKeys: [...refs.keys()] };
  // Decided against the previous batch's results while that batch commits: no connection is held.
  const before = handoff.assumed;
  const tried = planAhead(before);
  const assumed = tried ? assumedState(before, keys) : null;
  const speculative = assumed ? planBatch(tenantId, jobs, defaultDecision, assumed) : null;
  // Encoded before the turn too: the statement is ready the moment the previous batch is done.
  const encoded =
    assumed && speculative && speculative.events.length > 0
      ? encodePlannedCommit({
          tenantId,
          assumedHead: assumed.head,
          requestIds: keys.requestIds,
          counters: [...refs].map(([key, ref]) => ({ ...ref, usage: assumed.usage.get(key) ?? "0" })),
          deltas: speculative.deltas,
          eventsJson: sealedEventsJson(speculative.events),
          head: speculative.tail.head,
          rows: speculative.rows,
        })
      : null;
  await handoff.turn;
  if (speculative && encoded && !before?.superseded) {
    // Its counters already hold every known one: the plan started from the assumed usage.
    const tail: BatchTail = { ...speculative.tail, misses: before?.misses ?? 0 };
    const writing = commitPlanned(db, encoded);
    handoff.release(tail);
    let written = false;
    try {
      written = await writing;
    } catch (err) {
      // The next batch was handed this tail and may have decided against it (see below). A
      // database error (the counter guard, say) gets the explicit transaction like a stale
      // plan; a lost connection fails the batch, and a retry finds what may have committed.
      tail.superseded = true;
      if (!isSqlError(err) || isInfrastructureFailure(err)) throw err;
    }
    if (written) {
      tail.misses = 0;
      return speculative.outcomes;
    }
    // The next batch was handed this tail and decided against it: it must not try its plan.
    tail.superseded = true;
    tail.misses = (tail.misses ?? 0) + 1;
  }
  // Not trying because of earlier misses is one more miss (a stale plan was counted by its batch).
  const misses = before ? (before.misses ?? 0) + (tried ? 0 : 1) : 0;
  return db.transaction(async (tx) => {
    // One statement locks the chain head, then the counters, and reads the stored answers.
    const locked = await lockValidationState(tx, tenantId, keys.requestIds, [...refs.values()]);
    const plan = planBatch(tenantId, jobs, defaultDecision, locked);
    // Replays and conflicts only: nothing to write.
    if (plan.events.length > 0) {
      const writing = commitPlannedIn(
        tx,
        encodePlannedCommit({
          tenantId,
          assumedHead: locked.head,
          requestIds: keys.requestIds,
          counters: [...refs].map(([key, ref]) => ({ ...ref, usage: locked.usage.get(key) ?? "0" })),
          deltas: plan.deltas,
          eventsJson: sealedEventsJson(plan.events),
          head: plan.tail.head,
          rows: plan.rows,
        }),
      );
      handoff.release({ ...knownTail(plan.tail, before), misses });
      // Under this transaction's own locks the check cannot fail; if it did, nothing was written.
      if (!(await writing)) throw new Error("validation batch state changed under its own locks");
    } else {
      handoff.release({ ...knownTail(plan.tail, before), misses });
    }
    return plan.outcomes;
  });
}

/** Decides and seals a batch against one state: pure apart from ids and the clock. */
function planBatch(
  tenantId: string,
  jobs: readonly Job[],
  defaultDecision: "ALLOW" | "DENY",
  state: LockedState,
): BatchPlan {
  const { head, stored } = state;
  const outcomes: (ValidationOutcome | undefined)[] = new Array(jobs.length);
  const firstIndex = new Map<string, number>();
  const fresh: number[] = [];
  jobs.forEach((job, i) => {
    const answer = stored.get(job.request.requestId);
    if (answer) {
      outcomes[i] =
        answer.requestHash === job.requestHash
          ? { kind: "replay", body: answer.response }
          : { kind: "conflict" };
    } else if (!firstIndex.has(job.request.requestId)) {
      firstIndex.set(job.request.requestId, i);
      fresh.push(i);
    }
  });

  const freshJobs = fresh.map((i) => jobs[i]!);
  const finals = new Array<{ decision: "ALLOW" | "DENY" | "REVIEW"; reason: string }>(freshJobs.length);
  const sequential = decideSequentially(
    freshJobs.map((j) => ({ applicable: j.applicable, amount: j.request.amount })),
    state.usage,
    (index, exceeded) => {
      const job = freshJobs[index]!;
      finals[index] = decide(job.rules, exceeded, defaultDecision);
      return finals[index].decision === "ALLOW";
    },
  );

  const deltas = new Map<string, CounterDelta>();
  sequential.decisions.forEach((decision, index) => {
    if (!sequential.consumed[index]) return;
    for (const c of decision.consumptions) {
      const key = counterKey(c.limitId, c.scopeKey, c.periodKey);
      const prev = deltas.get(key);
      deltas.set(key, {
        limitId: c.limitId,
        scopeKey: c.scopeKey,
        periodKey: c.periodKey,
        delta: prev ? addAmounts(prev.delta, c.amount) : c.amount,
        maxAmount: c.maxAmount,
      });
    }
  });

  const responses: ValidationResponse[] = freshJobs.map((job, index) => {
    const final = finals[index]!;
    const limitDecision = sequential.decisions[index];
    return {
      validationId: uuidv7(),
      requestId: job.request.requestId,
      decision: final.decision,
      reason: final.reason,
      matchedRuleIds: job.rules.matchedRuleIds,
      evaluatedRuleIds: job.rules.evaluatedRuleIds,
      limitUsageDetails: limitDecision?.details ?? [],
      processingTimeMs: Math.round((performance.now() - job.startedAt) * 1000) / 1000,
      evaluatedAt: job.evaluatedAt.toISOString(),
      totalRulesLoaded: job.rules.totalRulesLoaded,
      truncated: job.rules.truncated,
      degraded: false,
      auditSequence: null,
      auditHash: null,
    };
  });

  const recorded = responses.map(({ auditSequence: _s, auditHash: _h, validationId, ...rest }) =>
    recordedResponse({ ...rest, validationId: validationId! }),
  );
  const drafts: AuditDraft[] = responses.map((response, index) => {
    const job = freshJobs[index]!;
    return {
      eventType: "TRANSACTION_VALIDATED",
      action: "VALIDATE",
      result: response.decision,
      resourceType: "transaction",
      resourceId: response.validationId!,
      actor: job.actor,
      // Both parts carry their canonical text: the event's serialization only copies it.
      context: { request: job.canonicalRequest, response: recorded[index]! } as unknown as JsonObject,
      metadata: {},
    };
  });
  const events = sealDrafts(head, tenantId, drafts);

  const now = new Date();
  const rows: ValidationInsert[] = responses.map((response, index) => {
    const job = freshJobs[index]!;
    const { event } = events[index]!;
    // The recorded response's text plus the event's sequence and hash: no second serialization.
    const body = `${recorded[index]!.text.slice(0, -1)},"auditSequence":${event.sequence},"auditHash":"${event.hash}"}`;
    outcomes[fresh[index]!] = { kind: "created", body, decision: response.decision };
    return {
      validationId: response.validationId!,
      tenantId,
      requestId: job.request.requestId,
      requestHash: job.requestHash,
      decision: response.decision,
      reason: response.reason,
      amount: job.request.amount,
      currency: job.request.currency,
      transactionType: job.request.transactionType,
      subType: job.request.subType,
      accountId: job.request.account.accountId,
      segmentId: job.request.segment?.segmentId ?? null,
      portfolioId: job.request.portfolio?.portfolioId ?? null,
      merchantId: job.request.merchant?.merchantId ?? null,
      matchedRuleIds: response.matchedRuleIds,
      exceededLimitIds: exceededIds(sequential.decisions[index]),
      request: job.request,
      response: body,
      processingTimeMs: response.processingTimeMs,
      auditSequence: event.sequence,
      createdAt: now,
    };
  });

  // A duplicate inside the batch is answered like a replay of the first occurrence.
  jobs.forEach((job, i) => {
    if (outcomes[i]) return;
    const first = outcomes[firstIndex.get(job.request.requestId)!];
    const body = first && first.kind !== "conflict" ? first.body : undefined;
    const same = jobs[firstIndex.get(job.request.requestId)!]!.requestHash === job.requestHash;
    outcomes[i] = body && same ? { kind: "replay", body } : { kind: "conflict" };
  });

  const last = events[events.length - 1]?.event;
  return {
    outcomes: outcomes as ValidationOutcome[],
    events,
    rows,
    deltas: [...deltas.values()],
    tail: {
      head: last ? { sequence: last.sequence, hash: last.hash } : head,
      usage: sequential.usage,
      requestIds: new Set(jobs.map((j) => j.request.requestId)),
    },
  };
}
