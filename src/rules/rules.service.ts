import { uuidv7 } from "uuidv7";
import { type CatalogChangeListener, recordCatalogChange } from "../catalog/catalog-change.js";
import type { Transition } from "../catalog/lifecycle.js";
import { runTransition } from "../catalog/transition.js";
import { isUniqueViolation } from "../db/errors.js";
import { AppError } from "../errors.js";
import type { Scope } from "../scope/scope.js";
import type { TenantContext } from "../tenancy/tenant-context.js";
import { validateExpression } from "./expression/validate.js";
import type { Rule, RuleAction } from "./rule.js";
import { findRule, insertRule, updateRule } from "./rules.store.js";

export interface CreateRuleInput {
  name: string;
  description?: string | undefined;
  expression: Record<string, unknown>;
  action: RuleAction;
  scopes?: Scope[] | undefined;
}

export interface UpdateRuleInput {
  name?: string | undefined;
  description?: string | null | undefined;
  expression?: Record<string, unknown> | undefined;
  action?: RuleAction | undefined;
  scopes?: Scope[] | undefined;
}

function assertValidExpression(expression: unknown): void {
  const result = validateExpression(expression);
  if (!result.ok) {
    throw new AppError("INVALID_EXPRESSION", result.errors[0]?.message ?? "invalid expression", {
      errors: result.errors,
    });
  }
}

function nameConflict(name: string): AppError {
  return new AppError("RULE_NAME_CONFLICT", `A rule named "${name}" already exists`);
}

const notFound = () => new AppError("RULE_NOT_FOUND", "No rule with that id");

/** Rule commands: each runs in one transaction with its audit event and catalog version bump. */
export function createRulesService(onChange: CatalogChangeListener) {
  return {
    async create(tenant: TenantContext, input: CreateRuleInput): Promise<Rule> {
      assertValidExpression(input.expression);
      const now = new Date();
      try {
        const rule = await tenant.db.transaction(async (tx) => {
          const created = await insertRule(tx, {
            ruleId: uuidv7(),
            tenantId: tenant.tenantId,
            name: input.name,
            description: input.description ?? null,
            expression: input.expression,
            action: input.action,
            scopes: input.scopes ?? [],
            status: "DRAFT",
            createdAt: now,
            updatedAt: now,
          });
          await recordCatalogChange(tx, tenant, {
            resourceType: "rule",
            resourceId: created.ruleId,
            eventType: "RULE_CREATED",
            action: "CREATE",
            after: created,
          });
          return created;
        });
        return rule;
      } catch (err) {
        if (isUniqueViolation(err)) throw nameConflict(input.name);
        throw err;
      }
    },

    async update(tenant: TenantContext, ruleId: string, input: UpdateRuleInput): Promise<Rule> {
      if (input.expression !== undefined) assertValidExpression(input.expression);
      try {
        const result = await tenant.db.transaction(async (tx) => {
          const before = await findRule(tx, tenant.tenantId, ruleId, true);
          if (!before) throw notFound();
          if (input.expression !== undefined && before.status !== "DRAFT") {
            throw new AppError(
              "EXPRESSION_NOT_MODIFIABLE",
              `The expression can only change while the rule is DRAFT (it is ${before.status})`,
            );
          }
          const after = await updateRule(tx, tenant.tenantId, ruleId, {
            ...(input.name !== undefined ? { name: input.name } : {}),
            ...(input.description !== undefined ? { description: input.description } : {}),
            ...(input.expression !== undefined ? { expression: input.expression } : {}),
            ...(input.action !== undefined ? { action: input.action } : {}),
            ...(input.scopes !== undefined ? { scopes: input.scopes } : {}),
            updatedAt: new Date(),
          });
          await recordCatalogChange(tx, tenant, {
            resourceType: "rule",
            resourceId: ruleId,
            eventType: "RULE_UPDATED",
            action: "UPDATE",
            before,
            after,
          });
          return after;
        });
        if (result.status === "ACTIVE") onChange(tenant.tenantId);
        return result;
      } catch (err) {
        if (isUniqueViolation(err)) throw nameConflict(input.name ?? "");
        throw err;
      }
    },

    async transition(tenant: TenantContext, ruleId: string, transition: Transition): Promise<Rule> {
      const { item, changed } = await runTransition(tenant, ruleId, transition, {
        resourceType: "rule",
        find: findRule,
        update: updateRule,
        notFound,
        beforeActivate: (rule) => assertValidExpression(rule.expression),
      });
      if (changed) onChange(tenant.tenantId);
      return item;
    },
  };
}

export type RulesService = ReturnType<typeof createRulesService>;
