import type { Status } from "../catalog/lifecycle.js";
import type { Scope } from "../scope/scope.js";

export const RULE_ACTIONS = ["ALLOW", "DENY", "REVIEW"] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];

/** A rule as the API returns it and as audit events record it. */
export interface Rule {
  ruleId: string;
  name: string;
  description: string | null;
  expression: Record<string, unknown>;
  action: RuleAction;
  scopes: Scope[];
  status: Status;
  createdAt: string;
  updatedAt: string;
  activatedAt: string | null;
  deactivatedAt: string | null;
  deletedAt: string | null;
}
