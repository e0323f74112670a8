import type { Tx } from "../db/database.js";
import { AppError } from "../errors.js";
import type { TenantContext } from "../tenancy/tenant-context.js";
import { recordCatalogChange } from "./catalog-change.js";
import {
  planTransition,
  type Status,
  TRANSITION_EVENT,
  type Transition,
  transitionTimestamps,
} from "./lifecycle.js";

export interface TransitionSpec<T extends { status: Status }> {
  resourceType: "rule" | "limit";
  find(tx: Tx, tenantId: string, id: string, forUpdate: boolean): Promise<T | undefined>;
  update(tx: Tx, tenantId: string, id: string, set: Record<string, unknown>): Promise<T>;
  notFound(): AppError;
  /** Extra checks before going live (rules re-validate their expression). */
  beforeActivate?(item: T): void;
}

/**
 * Applies a lifecycle transition to a rule or limit in one transaction with its audit event.
 * Same-state requests are no-ops: nothing is written and no event is recorded.
 */
export async function runTransition<T extends { status: Status }>(
  tenant: TenantContext,
  id: string,
  transition: Transition,
  spec: TransitionSpec<T>,
): Promise<{ item: T; changed: boolean }> {
  return tenant.db.transaction(async (tx) => {
    const before = await spec.find(tx, tenant.tenantId, id, true);
    if (!before) throw spec.notFound();
    const plan = planTransition(before.status, transition);
    if (plan.kind === "noop") return { item: before, changed: false };
    const label = spec.resourceType === "rule" ? "Rule" : "Limit";
    if (plan.kind === "invalid") throw new AppError("INVALID_TRANSITION", `${label} ${plan.message}`);
    if (plan.to === "ACTIVE") spec.beforeActivate?.(before);
    const now = new Date();
    const after = await spec.update(tx, tenant.tenantId, id, {
      status: plan.to,
      updatedAt: now,
      ...transitionTimestamps(plan.to, now),
    });
    const event = TRANSITION_EVENT[transition];
    await recordCatalogChange(tx, tenant, {
      resourceType: spec.resourceType,
      resourceId: id,
      eventType: `${spec.resourceType.toUpperCase()}_${event.suffix}`,
      action: event.action,
      before,
      after,
    });
    return { item: after, changed: true };
  });
}
