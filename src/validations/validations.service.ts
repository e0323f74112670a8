import type { Logger } from "pino";
import { sha256Hex, withCanonicalText } from "../audit/canonical.js";
import type { CatalogCache, CompiledCatalog } from "../catalog/catalog-cache.js";
import type { Config } from "../config.js";
import { isUniqueViolation } from "../db/errors.js";
import { AppError } from "../errors.js";
import { applicableLimits } from "../limits/applicability.js";
import type { Metrics } from "../observability/metrics.js";
import type { TenantContext } from "../tenancy/tenant-context.js";
import type { BatchTail } from "./batch-state.js";
import { type Job, runValidationBatch, type ValidationOutcome } from "./commit-batch.js";
import { type CommitQueue, createCommitQueue } from "./commit-queue.js";
import {
  COMMIT_TIMEOUT_MS,
  isInfrastructureFailure,
  isRetryable,
  isSqlError,
  withTimeout,
} from "./failures.js";
import {
  evaluationContext,
  limitTransaction,
  normalizeRequest,
  timestampProblem,
  type ValidationResponse,
} from "./validation.js";
import type { ValidationRequestInput } from "./validation.schemas.js";

export interface ValidationsServiceDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  catalogs: CatalogCache;
  /** Largest group commit; bigger bursts split into several consecutive commits. */
  maxBatch?: number;
  /** How long a validation waits for its commit before the failure posture answers. */
  commitTimeoutMs?: number;
}

export function createValidationsService(deps: ValidationsServiceDeps) {
  const { config, logger, metrics, catalogs } = deps;
  const defaultDecision = config.decision.defaultWhenNoMatch;
  const commitTimeoutMs = deps.commitTimeoutMs ?? COMMIT_TIMEOUT_MS;

  const queue: CommitQueue<Job, ValidationOutcome> = createCommitQueue<Job, ValidationOutcome, BatchTail>({
    maxBatch: deps.maxBatch ?? 256,
    runBatch: (tenantId, jobs, handoff) => runValidationBatch(tenantId, jobs, defaultDecision, handoff),
    isRetryable: (err) => isRetryable(err) || isUniqueViolation(err),
    isJobSpecific: isSqlError,
    maxRetries: 3,
  });

  function degraded(
    requestId: string,
    reason: string,
    tenantId: string,
    startedAt: number,
    err: unknown,
  ): ValidationOutcome {
    metrics.degradedDecisions.inc({ reason, tenant: tenantId });
    logger.warn({ err, tenantId, requestId, reason }, "validation answered ALLOW in degraded mode");
    const response: ValidationResponse = {
      validationId: null,
      requestId,
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

  // A tenant's validations on this instance from admission until their commit job settles (a
  // job that timed out still holds its place until it commits or fails). Beyond the bound a new
  // one is answered at once, as the failure posture says (overload is what a stalled dependency
  // looks like from here): `closed` refuses it with 503 and Retry-After, `open` answers a
  // degraded ALLOW. Either way it is answered before anything is decided, so nothing is recorded
  // and a retry with the same requestId is a first attempt.
  const inProgress = new Map<string, number>();
  const maxPending = config.decision.maxPendingValidations;

  function admitted(tenantId: string): boolean {
    const current = inProgress.get(tenantId) ?? 0;
    if (current >= maxPending) return false;
    inProgress.set(tenantId, current + 1);
    return true;
  }

  function release(tenantId: string): void {
    const left = (inProgress.get(tenantId) ?? 1) - 1;
    if (left > 0) inProgress.set(tenantId, left);
    else inProgress.delete(tenantId);
  }

  function shed(tenantId: string, requestId: string): ValidationOutcome {
    metrics.shedValidations.inc({ tenant: tenantId });
    if (config.decision.failurePosture === "open") {
      return degraded(requestId, "overloaded", tenantId, performance.now(), undefined);
    }
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      `Too many validations in progress for this tenant (${maxPending}); retry later`,
      { retryAfterSec: 1 },
    );
  }

  /** `holdUntil` hands the request's place over to its commit job, released when the job settles. */
  async function decideAndRecord(
    tenant: TenantContext,
    input: ValidationRequestInput,
    holdUntil: (job: Promise<unknown>) => void,
  ): Promise<ValidationOutcome> {
    const startedAt = performance.now();
    const now = Date.now();
    const skew = timestampProblem(input.transactionTimestamp, now);
    if (skew) {
      throw new AppError("VALIDATION_ERROR", `transactionTimestamp ${skew}`, {
        errors: [{ path: "transactionTimestamp", message: skew }],
      });
    }
    const request = normalizeRequest(input);
    const canonicalRequest = withCanonicalText(request);
    const requestHash = sha256Hex(canonicalRequest.text);

    let catalog: CompiledCatalog;
    try {
      catalog = await catalogs.get(tenant.tenantId, tenant.db);
    } catch (err) {
      if (!isInfrastructureFailure(err)) throw err;
      if (config.decision.failurePosture === "open") {
        return degraded(request.requestId, "catalog_unavailable", tenant.tenantId, startedAt, err);
      }
      return unavailable("catalog_unavailable", tenant.tenantId, err);
    }

    const evaluatedAt = new Date();
    const facts = limitTransaction(request);
    const rules = catalog.ruleSet.evaluate(evaluationContext(request), facts, {
      maxRules: config.decision.maxRulesPerRequest,
    });
    for (const e of rules.errors)
      logger.warn({ tenantId: tenant.tenantId, ...e }, "rule evaluation error; treated as no match");
    const applicable =
      rules.matchedActions.DENY.length > 0 ? [] : applicableLimits(facts, catalog.limits, evaluatedAt);

    let outcome: ValidationOutcome;
    try {
      // A timed-out job may still commit later; the caller's retry with the same requestId then
      // gets the stored answer, so nothing is lost or decided twice.
      const job = queue.submit(tenant.tenantId, {
        db: tenant.db,
        actor: tenant.actor,
        request,
        canonicalRequest,
        requestHash,
        rules,
        applicable,
        startedAt,
        evaluatedAt,
      });
      holdUntil(job);
      outcome = await withTimeout(job, commitTimeoutMs);
    } catch (err) {
      if (!isInfrastructureFailure(err)) throw err;
      if (config.decision.failurePosture === "open") {
        return degraded(request.requestId, "database_unavailable", tenant.tenantId, startedAt, err);
      }
      return unavailable("database_unavailable", tenant.tenantId, err);
    }
    if (outcome.kind === "created")
      metrics.decisions.inc({ decision: outcome.decision, tenant: tenant.tenantId });
    return outcome;
  }

  async function validate(tenant: TenantContext, input: ValidationRequestInput): Promise<ValidationOutcome> {
    const { tenantId } = tenant;
    if (!admitted(tenantId)) return shed(tenantId, input.requestId);
    const free = () => release(tenantId);
    let handedOver = false;
    try {
      return await decideAndRecord(tenant, input, (job) => {
        handedOver = true;
        job.then(free, free);
      });
    } finally {
      if (!handedOver) free();
    }
  }

  return {
    validate,
    drain: () => queue.drain(),
  };
}

export type ValidationsService = ReturnType<typeof createValidationsService>;
