import { createRoute } from "@hono/zod-openapi";
import { scopeFilterFrom } from "../catalog/scope.schemas.js";
import { registerLifecycleRoutes } from "../catalog/transition.routes.js";
import { AppError } from "../errors.js";
import { commonErrors, createRouter, IdParam, jsonBody, problemResponse } from "../http/router.js";
import {
  CreateLimitBody,
  LimitListSchema,
  LimitSchema,
  LimitUsageSchema,
  ListLimitsQuery,
  UpdateLimitBody,
} from "./limits.schemas.js";
import type { LimitsService } from "./limits.service.js";
import { findLimit, listLimits } from "./limits.store.js";

const limitResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: LimitSchema } },
});
const conflict = { 409: problemResponse("A live limit already has that name") };
const Params = IdParam("limitId");

export function limitsRoutes(service: LimitsService) {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: "post",
      path: "/limits",
      tags: ["Limits"],
      summary: "Create a spending limit (always DRAFT)",
      request: { body: jsonBody(CreateLimitBody) },
      responses: { 201: limitResponse("Created"), ...commonErrors, ...conflict },
    }),
    async (c) => c.json(await service.create(c.get("tenant"), c.req.valid("json")), 201),
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/limits",
      tags: ["Limits"],
      summary: "List limits (deleted ones excluded)",
      request: { query: ListLimitsQuery },
      responses: {
        200: {
          description: "A page of limits",
          content: { "application/json": { schema: LimitListSchema } },
        },
        ...commonErrors,
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const { db, tenantId } = c.get("tenant");
      const page = await listLimits(
        db,
        tenantId,
        {
          ...(q.status ? { status: q.status } : {}),
          ...(q.limit_type ? { limitType: q.limit_type } : {}),
          ...(q.name ? { name: q.name } : {}),
          scope: scopeFilterFrom(q),
        },
        {
          limit: q.limit,
          sortBy: q.sort_by ?? "created_at",
          order: q.sort_order ?? "desc",
          cursor: q.cursor,
        },
      );
      return c.json(page, 200);
    },
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/limits/{limitId}",
      tags: ["Limits"],
      summary: "Get a limit",
      request: { params: Params },
      responses: { 200: limitResponse("The limit"), ...commonErrors },
    }),
    async (c) => {
      const { db, tenantId } = c.get("tenant");
      const limit = await findLimit(db, tenantId, c.req.valid("param").limitId as string);
      if (!limit) throw new AppError("LIMIT_NOT_FOUND", "No limit with that id");
      return c.json(limit, 200);
    },
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/limits/{limitId}/usage",
      tags: ["Limits"],
      summary: "Usage in the current period, in total and per scope key",
      request: { params: Params },
      responses: {
        200: { description: "Usage snapshot", content: { "application/json": { schema: LimitUsageSchema } } },
        ...commonErrors,
      },
    }),
    async (c) => c.json(await service.usage(c.get("tenant"), c.req.valid("param").limitId as string), 200),
  );

  router.openapi(
    createRoute({
      method: "patch",
      path: "/limits/{limitId}",
      tags: ["Limits"],
      summary: "Update a limit (limitType and currency are immutable)",
      request: { params: Params, body: jsonBody(UpdateLimitBody) },
      responses: { 200: limitResponse("Updated"), ...commonErrors, ...conflict },
    }),
    async (c) =>
      c.json(
        await service.update(c.get("tenant"), c.req.valid("param").limitId as string, c.req.valid("json")),
        200,
      ),
  );

  registerLifecycleRoutes(router, {
    resource: "limits",
    idName: "limitId",
    tag: "Limits",
    schema: LimitSchema,
    run: (tenant, id, transition) => service.transition(tenant, id, transition),
  });

  return router;
}
