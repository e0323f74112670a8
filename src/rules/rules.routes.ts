import { createRoute } from "@hono/zod-openapi";
import { scopeFilterFrom } from "../catalog/scope.schemas.js";
import { registerLifecycleRoutes } from "../catalog/transition.routes.js";
import { AppError } from "../errors.js";
import { commonErrors, createRouter, IdParam, jsonBody, problemResponse } from "../http/router.js";
import {
  CreateRuleBody,
  ListRulesQuery,
  RuleListSchema,
  RuleSchema,
  UpdateRuleBody,
} from "./rules.schemas.js";
import type { RulesService } from "./rules.service.js";
import { findRule, listRules } from "./rules.store.js";

const ruleResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: RuleSchema } },
});
const conflict = { 409: problemResponse("A live rule already has that name") };
const unprocessable = { 422: problemResponse("Invalid status transition or expression not modifiable") };
const Params = IdParam("ruleId");

export function rulesRoutes(service: RulesService) {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: "post",
      path: "/rules",
      tags: ["Rules"],
      summary: "Create a rule (always DRAFT)",
      request: { body: jsonBody(CreateRuleBody) },
      responses: { 201: ruleResponse("Created"), ...commonErrors, ...conflict },
    }),
    async (c) => c.json(await service.create(c.get("tenant"), c.req.valid("json")), 201),
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/rules",
      tags: ["Rules"],
      summary: "List rules (deleted ones excluded); scope filters include global rules",
      request: { query: ListRulesQuery },
      responses: {
        200: { description: "A page of rules", content: { "application/json": { schema: RuleListSchema } } },
        ...commonErrors,
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const { db, tenantId } = c.get("tenant");
      const page = await listRules(
        db,
        tenantId,
        {
          ...(q.status ? { status: q.status } : {}),
          ...(q.action ? { action: q.action } : {}),
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
      path: "/rules/{ruleId}",
      tags: ["Rules"],
      summary: "Get a rule",
      request: { params: Params },
      responses: { 200: ruleResponse("The rule"), ...commonErrors },
    }),
    async (c) => {
      const { db, tenantId } = c.get("tenant");
      const rule = await findRule(db, tenantId, c.req.valid("param").ruleId as string);
      if (!rule) throw new AppError("RULE_NOT_FOUND", "No rule with that id");
      return c.json(rule, 200);
    },
  );

  router.openapi(
    createRoute({
      method: "patch",
      path: "/rules/{ruleId}",
      tags: ["Rules"],
      summary: "Update a rule (expression only while DRAFT)",
      request: { params: Params, body: jsonBody(UpdateRuleBody) },
      responses: { 200: ruleResponse("Updated"), ...commonErrors, ...conflict, ...unprocessable },
    }),
    async (c) =>
      c.json(
        await service.update(c.get("tenant"), c.req.valid("param").ruleId as string, c.req.valid("json")),
        200,
      ),
  );

  registerLifecycleRoutes(router, {
    resource: "rules",
    idName: "ruleId",
    tag: "Rules",
    schema: RuleSchema,
    run: (tenant, id, transition) => service.transition(tenant, id, transition),
  });

  return router;
}

export type RulesRouter = ReturnType<typeof rulesRoutes>;
