import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { uuidv7 } from "uuidv7";
import { type AuditDraft, lockChainHead, sealDrafts, writeSealedEvents } from "../audit/audit.store.js";
import { canonicalJson } from "../audit/chain.js";
import type { JsonObject } from "../audit/event.js";
import type { CatalogCache, CompiledCatalog } from "../catalog/catalog-cache.js";
import type { Config } from "../config.js";
import type { Database } from "../db/database.js";
import { isUniqueViolation } from "../db/errors.js";
import { AppError } from "../errors.js";
import { type ApplicableLimit, applicableLimits } from "../limits/applicability.js";
import { counterKey, decideSequentially, type LimitDecision } from "../limits/decide.js";
import { addAmounts } from "../money/money.js";
import type { Metrics } from "../observability/metrics.js";
import type { RuleSetResult } from "../rules/rule-set.js";
import type { Actor, TenantContext } from "../tenancy/tenant-context.js";
import { type CommitQueue, createCommitQueue } from "./commit-queue.js";
import {
  decide,
  evaluationContext,
  limitTransaction,
  type NormalizedRequest,
  normalizeRequest,
  timestampProblem,
  type ValidationResponse,
} from "./validation.js";
import type { ValidationRequestInput } from "./validation.schemas.js";
import {
  addToCounters,
  type CounterDelta,
  type CounterRef,
  findAnswers,
  insertValidations,
  lockCounters,
} from "./validations.store.js";

/** A request evaluated against the catalog, waiting for its turn in the tenant's commit. */
interface Job {
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

export interface ValidationsServiceDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  catalogs: CatalogCache;
  /** Largest group commit; bigger bursts split into several consecutive commits. */
  maxBatch?: number;
}

const RETRYABLE_CODES = new Set(["40P01", "40001", "23505"]);
function isRetryable(err: unknown): boolean {
  let current: unknown = err;
  for (let i = 0; i < 4 && current && typeof current === "object"; i++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && RETRYABLE_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** A SQLSTATE means the database answered: the batch's data, not the connection, failed. */
function isSqlError(err: unknown): boolean {
  let current: unknown = err;
  for (let i = 0; i < 4 && current && typeof current === "object"; i++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** SQLSTATE classes that mean the database is unreachable, overloaded or going away. */
const INFRASTRUCTURE_SQLSTATE_CLASSES = new Set(["08", "40", "53", "54", "55", "57", "58", "XX"]);

/**
 * Whether a failure is the infrastructure's (lost connection, timeout, shutdown, resources), for
 * which the failure posture answers, rather than a bug or bad data, which must never turn into
 * a degraded ALLOW: those are 500s.
 */
export function isInfrastructureFailure(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError) return false;
  let current: unknown = err;
  for (let i = 0; i < 4 && current && typeof current === "object"; i++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) {
      return INFRASTRUCTURE_SQLSTATE_CLASSES.has(code.slice(0, 2));
    }
    current = (current as { cause?: unknown }).cause;
  }
  return true;
}

/** How long a caller waits for its commit before the failure posture answers instead. */
export const COMMIT_TIMEOUT_MS = 5000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`commit did not complete within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function exceededIds(decision: LimitDecision | undefined): string[] {
  return decision ? decision.details.filter((d) => d.exceeded).map((d) => d.limitId) : [];
}

/**
 * The decision pipeline: validate → catalog → rules → applicable limits → (group commit:
 * idempotency, locked counters, decision, consumption on ALLOW, record, audit event).
 */
export function createValidationsService(deps: ValidationsServiceDeps) {
  const { config, logger, metrics, catalogs } = deps;
  const defaultDecision = config.decision.defaultWhenNoMatch;

  async function runBatch(tenantId: string, jobs: Job[]): Promise<ValidationOutcome[]> {
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
      // Phase 1, one pipelined round trip: stored answers, locked counters, locked chain head.
      const [stored, usage, head] = await Promise.all([
        findAnswers(tx, tenantId, [...new Set(jobs.map((j) => j.request.requestId))]),
        lockCounters(tx, tenantId, [...refs.values()]),
        lockChainHead(tx, tenantId),
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
      // Phase 2, one pipelined round trip: counters (guarded), audit events + head, records.
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

  const queue: CommitQueue<Job, ValidationOutcome> = createCommitQueue({
    maxBatch: deps.maxBatch ?? 256,
    runBatch,
    isRetryable: (err) => isRetryable(err) || isUniqueViolation(err),
    isJobSpecific: isSqlError,
    maxRetries: 3,
  });

  function degraded(
    request: NormalizedRequest,
    reason: string,
    tenantId: string,
    startedAt: number,
    err: unknown,
  ): ValidationOutcome {
    metrics.degradedDecisions.inc({ reason, tenant: tenantId });
    logger.warn(
      { err, tenantId, requestId: request.requestId, reason },
      "validation answered ALLOW in degraded mode",
    );
    const response: ValidationResponse = {
      validationId: null,
      requestId: request.requestId,
      decision: "ALLOW",
      reason: "degraded_fail_open",
      matchedRuleIds: [],
      evaluatedRuleIds: [],
      limitUsageDetails: [],
      processingTimeMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
      evaluatedAt: new Date().toISOString(),
      totalRulesLoaded: 0,
      truncated: false,
      degraded: true,
      degradedReason: reason,
      auditSequence: null,
      auditHash: null,
    };
    return { kind: "degraded", body: JSON.stringify(response) };
  }

  function unavailable(reason: string, tenantId: string, err: unknown): never {
    logger.error({ err, tenantId, reason }, "validation failed closed");
    throw new AppError("SERVICE_UNAVAILABLE", "Validation is temporarily unavailable; retry later", {
      retryAfterSec: 1,
    });
  }

  return {
    async validate(tenant: TenantContext, input: ValidationRequestInput): Promise<ValidationOutcome> {
      const startedAt = performance.now();
      const now = Date.now();
      const skew = timestampProblem(input.transactionTimestamp, now);
      if (skew) {
        throw new AppError("VALIDATION_ERROR", `transactionTimestamp ${skew}`, {
          errors: [{ path: "transactionTimestamp", message: skew }],
        });
      }
      const request = normalizeRequest(input);
      const requestHash = sha256(canonicalJson(request as unknown as JsonObject));

      let catalog: CompiledCatalog;
      try {
        catalog = await catalogs.get(tenant.tenantId, tenant.db);
      } catch (err) {
        if (!isInfrastructureFailure(err)) throw err;
        if (config.decision.failurePosture === "open") {
          return degraded(request, "catalog_unavailable", tenant.tenantId, startedAt, err);
        }
        return unavailable("catalog_unavailable", tenant.tenantId, err);
      }

      const evaluatedAt = new Date();
      const rules = catalog.ruleSet.evaluate(evaluationContext(request), limitTransaction(request), {
        maxRules: config.decision.maxRulesPerRequest,
      });
      for (const e of rules.errors)
        logger.warn({ tenantId: tenant.tenantId, ...e }, "rule evaluation error; treated as no match");
      const applicable =
        rules.matchedActions.DENY.length > 0
          ? []
          : applicableLimits(limitTransaction(request), catalog.limits, evaluatedAt);

      let outcome: ValidationOutcome;
      try {
        // A timed-out job may still commit later; the caller's retry with the same requestId then
        // gets the stored answer, so nothing is lost or decided twice.
        outcome = await withTimeout(
          queue.submit(tenant.tenantId, {
            db: tenant.db,
            actor: tenant.actor,
            request,
            requestHash,
            rules,
            applicable,
            startedAt,
            evaluatedAt,
          }),
          COMMIT_TIMEOUT_MS,
        );
      } catch (err) {
        if (!isInfrastructureFailure(err)) throw err;
        if (config.decision.failurePosture === "open") {
          return degraded(request, "database_unavailable", tenant.tenantId, startedAt, err);
        }
        return unavailable("database_unavailable", tenant.tenantId, err);
      }
      if (outcome.kind === "created")
        metrics.decisions.inc({ decision: outcome.decision, tenant: tenant.tenantId });
      return outcome;
    },
    drain: () => queue.drain(),
  };
}

export type ValidationsService = ReturnType<typeof createValidationsService>;
