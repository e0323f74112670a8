import { z } from "@hono/zod-openapi";
import { STATUSES } from "../catalog/lifecycle.js";
import { ScopeFilterQuery, ScopeOutSchema, ScopeSchema } from "../catalog/scope.schemas.js";
import { limitQuery, sortOrderQuery } from "../http/query.js";
import { RULE_ACTIONS } from "./rule.js";

const name = z.string().trim().min(1, { message: "must not be empty" }).max(255);
const description = z.string().max(1000);
// Any JSON value passes the schema: the expression validator (rules.service) answers every expression
// problem, a non-object included, as INVALID_EXPRESSION with its path, so clients see one code for them.
const expression = z
  .custom<Record<string, unknown>>((v) => v !== undefined, { message: "required" })
  .openapi({
    type: "object",
    description: "A JSON Logic expression (json-logic-js semantics) that evaluates to a boolean",
    example: { and: [{ ">": [{ var: "amount" }, 10000] }, { "==": [{ var: "merchant.category" }, "7995"] }] },
  });
const scopes = z.array(ScopeSchema).max(100, { message: "at most 100 scopes" });

export const CreateRuleBody = z
  .strictObject({
    name,
    description: description.optional(),
    expression,
    action: z.enum(RULE_ACTIONS),
    scopes: scopes.optional(),
  })
  .openapi("CreateRule");

export const UpdateRuleBody = z
  .strictObject({
    name: name.optional(),
    description: description.nullable().optional(),
    expression: expression.optional(),
    action: z.enum(RULE_ACTIONS).optional(),
    scopes: scopes.optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: "at least one field is required" })
  .openapi("UpdateRule");

export const RuleSchema = z
  .object({
    ruleId: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    expression: z.record(z.string(), z.unknown()),
    action: z.enum(RULE_ACTIONS),
    scopes: z.array(ScopeOutSchema),
    status: z.enum(STATUSES),
    createdAt: z.string(),
    updatedAt: z.string(),
    activatedAt: z.string().nullable(),
    deactivatedAt: z.string().nullable(),
    deletedAt: z.string().nullable(),
  })
  .openapi("Rule");

export const ListRulesQuery = z.strictObject({
  status: z.enum(["DRAFT", "ACTIVE", "INACTIVE"]).optional(),
  action: z.enum(RULE_ACTIONS).optional(),
  name: z.string().max(255).optional(),
  ...ScopeFilterQuery,
  sort_by: z.enum(["created_at", "updated_at", "name"]).optional(),
  sort_order: sortOrderQuery,
  limit: limitQuery(100, 10),
  cursor: z.string().max(1024).optional(),
});

export const RuleListSchema = z.object({
  rules: z.array(RuleSchema),
  hasMore: z.boolean(),
  nextCursor: z.string().nullable(),
});
