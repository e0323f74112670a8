import { uuidv7 } from "uuidv7";
import { type AuditDraft, lockChainHead, sealDrafts, writeSealedEvents } from "../audit/audit.store.js";
import type { JsonObject } from "../audit/event.js";
import type { Database } from "../db/database.js";
import type { ApplicableLimit } from "../limits/applicability.js";
import { counterKey, decideSequentially, type LimitDecision } from "../limits/decide.js";
import { addAmounts } from "../money/money.js";
import type { RuleSetResult } from "../rules/rule-set.js";
import type { Actor } from "../tenancy/tenant-context.js";
import { decide, type NormalizedRequest, type ValidationResponse } from "./validation.js";
import {
  addToCounters,
  type CounterDelta,
  type CounterRef,
  findAnswers,
  insertValidations,
  lockCounters,
} from "./validations.store.js";

/** A request evaluated against the catalog, waiting for its turn in the tenant's commit. */
export interface Job {
  db: Database;
  actor: Actor;
  request: NormalizedRequest;
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

/**
 * The decision pipeline: validate → catalog → rules → applicable limits → (group commit:
 * idempotency, locked counters, decision, consumption on ALLOW, record, audit event).
 */
/**
 * Runs one group commit: every job of the batch in one transaction. Phase 1 (one pipelined
 * round trip) reads stored answers and locks the counters and the chain head; the batch is then
 * decided in order against the locked counters; phase 2 (one pipelined round trip) writes the
 * guarded counter updates, the audit events with the new head, and the validation records.
 */
export async function runValidationBatch(
  tenantId: string,
  jobs: Job[],
  defaultDecision: "ALLOW" | "DENY",
  release: () => void = () => {},
): Promise<ValidationOutcome[]> {
  const db = jobs[jobs.length - 1]!.db;
  return db.transaction(async (tx) => {
    const outcomes: (ValidationOutcome | undefined)[] = new Array(jobs.length);
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
    // Phase 1, one pipelined round trip: the chain head lock first, so the stored answers and the
    // counters are read after the tenant's previous commit (each statement takes a fresh snapshot;
    // the next batch may already be waiting here while the previous one commits).
    const [head, stored, usage] = await Promise.all([
      lockChainHead(tx, tenantId),
      findAnswers(tx, tenantId, [...new Set(jobs.map((j) => j.request.requestId))]),
      lockCounters(tx, tenantId, [...refs.values()]),
    ]);
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
      usage,
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

    const drafts: AuditDraft[] = responses.map((response, index) => {
      const job = freshJobs[index]!;
      const { auditSequence: _s, auditHash: _h, ...recorded } = response;
      return {
        eventType: "TRANSACTION_VALIDATED",
        action: "VALIDATE",
        result: response.decision,
        resourceType: "transaction",
        resourceId: response.validationId!,
        actor: job.actor,
        context: { request: job.request, response: recorded } as unknown as JsonObject,
        metadata: {},
      };
    });
    const events = sealDrafts(head, tenantId, drafts);

    const now = new Date();
    const rows = responses.map((response, index) => {
      const job = freshJobs[index]!;
      const event = events[index]!;
      response.auditSequence = event.sequence;
      response.auditHash = event.hash;
      const body = JSON.stringify(response);
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
    // Phase 2, one pipelined round trip: counters (guarded), audit events + head, records. The
    // next batch may start now: its phase 1 waits on the head lock until this one commits.
    release();
    await Promise.all([
      addToCounters(tx, tenantId, [...deltas.values()]),
      writeSealedEvents(tx, tenantId, events),
      insertValidations(tx, rows),
    ]);

    // A duplicate inside the batch is answered like a replay of the first occurrence.
    jobs.forEach((job, i) => {
      if (outcomes[i]) return;
      const first = outcomes[firstIndex.get(job.request.requestId)!];
      const body = first && first.kind !== "conflict" ? first.body : undefined;
      const same = jobs[firstIndex.get(job.request.requestId)!]!.requestHash === job.requestHash;
      outcomes[i] = body && same ? { kind: "replay", body } : { kind: "conflict" };
    });
    return outcomes as ValidationOutcome[];
  });
}
