import { createRoute, z } from "@hono/zod-openapi";
import { AppError } from "../errors.js";
import { commonErrors, createRouter, IdParam, jsonBody, problemResponse } from "../http/router.js";
import {
  ListValidationsQuery,
  ValidationRecordSchema,
  ValidationRequestBody,
  ValidationResponseSchema,
  ValidationSummarySchema,
} from "./validation.schemas.js";
import type { ValidationsService } from "./validations.service.js";
import { getValidation, listValidations } from "./validations.store.js";

const JSON_HEADERS = { "Content-Type": "application/json" };

export function validationsRoutes(service: ValidationsService) {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: "post",
      path: "/validations",
      tags: ["Validations"],
      summary: "Validate a transaction: ALLOW, DENY or REVIEW",
      description:
        "201 for a new decision, 200 for an identical replay of a requestId (the stored answer, byte for byte) " +
        "or a degraded fail-open answer, 409 when a requestId is reused with a different body.",
      request: { body: jsonBody(ValidationRequestBody) },
      responses: {
        201: {
          description: "Decided and recorded",
          content: { "application/json": { schema: ValidationResponseSchema } },
        },
        200: {
          description: "Replay, or degraded answer",
          content: { "application/json": { schema: ValidationResponseSchema } },
        },
        ...commonErrors,
        409: problemResponse("requestId reused with a different body"),
        503: problemResponse(
          "Retry after `Retry-After` seconds with the same requestId. Under FAILURE_POSTURE=closed: a " +
            "dependency failed or did not answer in time (the validation may still have been recorded: " +
            "the retry then gets the stored answer), or the tenant already has MAX_PENDING_VALIDATIONS " +
            "in progress (nothing recorded). Under either posture: the tenant's configuration or " +
            "database is unavailable.",
        ),
      },
    }),
    async (c) => {
      const outcome = await service.validate(c.get("tenant"), c.req.valid("json"));
      switch (outcome.kind) {
        case "created":
          return c.body(outcome.body, 201, JSON_HEADERS) as never;
        case "replay":
        case "degraded":
          return c.body(outcome.body, 200, JSON_HEADERS) as never;
        case "conflict":
          throw new AppError(
            "IDEMPOTENCY_CONFLICT",
            "This requestId was already used with a different request body",
          );
      }
    },
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/validations",
      tags: ["Validations"],
      summary: "List validations (newest first)",
      request: { query: ListValidationsQuery },
      responses: {
        200: {
          description: "A page of validation summaries",
          content: {
            "application/json": {
              schema: z.object({
                transactionValidations: z.array(ValidationSummarySchema),
                hasMore: z.boolean(),
                nextCursor: z.string().nullable(),
              }),
            },
          },
        },
        ...commonErrors,
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const { db, tenantId } = c.get("tenant");
      const page = await listValidations(
        db,
        tenantId,
        {
          ...(q.decision ? { decision: q.decision } : {}),
          ...(q.account_id ? { accountId: q.account_id } : {}),
          ...(q.segment_id ? { segmentId: q.segment_id } : {}),
          ...(q.portfolio_id ? { portfolioId: q.portfolio_id } : {}),
          ...(q.transaction_type ? { transactionType: q.transaction_type } : {}),
          ...(q.matched_rule_id ? { matchedRuleId: q.matched_rule_id } : {}),
          ...(q.exceeded_limit_id ? { exceededLimitId: q.exceeded_limit_id } : {}),
          ...(q.start_date ? { startDate: q.start_date } : {}),
          ...(q.end_date ? { endDate: q.end_date } : {}),
        },
        { limit: q.limit, order: q.sort_order ?? "desc", cursor: q.cursor },
      );
      return c.json(
        {
          transactionValidations: page.rows.map((r) => ({
            validationId: r.validationId,
            requestId: r.requestId,
            decision: r.decision as "ALLOW" | "DENY" | "REVIEW",
            reason: r.reason,
            amount: (r.request as { amount: string }).amount,
            currency: r.currency,
            transactionType: r.transactionType,
            accountId: r.accountId,
            segmentId: r.segmentId,
            portfolioId: r.portfolioId,
            merchantId: r.merchantId,
            matchedRuleIds: r.matchedRuleIds as string[],
            exceededLimitIds: r.exceededLimitIds as string[],
            processingTimeMs: r.processingTimeMs,
            createdAt: r.createdAt.toISOString(),
          })),
          hasMore: page.hasMore,
          nextCursor: page.nextCursor,
        },
        200,
      );
    },
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/validations/{validationId}",
      tags: ["Validations"],
      summary: "The stored validation: the response first returned, plus the normalised request",
      request: { params: IdParam("validationId") },
      responses: {
        200: {
          description: "The record",
          content: { "application/json": { schema: ValidationRecordSchema } },
        },
        ...commonErrors,
      },
    }),
    async (c) => {
      const { db, tenantId } = c.get("tenant");
      const row = await getValidation(db, tenantId, c.req.valid("param").validationId as string);
      if (!row) throw new AppError("VALIDATION_NOT_FOUND", "No validation with that id");
      const response = JSON.parse(row.response) as Record<string, unknown>;
      return c.json(
        { ...response, request: row.request, createdAt: row.createdAt.toISOString() } as never,
        200,
      );
    },
  );

  return router;
}
