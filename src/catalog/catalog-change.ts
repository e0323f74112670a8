import { appendAuditEvents } from "../audit/audit.store.js";
import type { AuditEvent } from "../audit/event.js";
import type { Tx } from "../db/database.js";
import type { TenantContext } from "../tenancy/tenant-context.js";
import { bumpCatalogVersion } from "./catalog-version.js";

/** Told after a catalog change commits, so caches on this and other instances drop stale entries. */
export type CatalogChangeListener = (tenantId: string) => void;

export interface CatalogChange<T> {
  resourceType: "rule" | "limit";
  resourceId: string;
  eventType: string;
  action: string;
  before?: T;
  after?: T;
}

/**
 * Records a rule or limit change: its audit event and the catalog version bump, in the caller's
 * transaction, so the change, its history and its cache invalidation commit together.
 */
export async function recordCatalogChange<T>(
  tx: Tx,
  tenant: TenantContext,
  change: CatalogChange<T>,
  metadata: Record<string, unknown> = {},
): Promise<AuditEvent> {
  await bumpCatalogVersion(tx, tenant.tenantId);
  const context: Record<string, unknown> = {};
  if (change.before !== undefined) context.before = change.before;
  if (change.after !== undefined) context.after = change.after;
  const [event] = await appendAuditEvents(tx, tenant.tenantId, [
    {
      eventType: change.eventType as AuditEvent["eventType"],
      action: change.action as AuditEvent["action"],
      result: "SUCCESS",
      resourceType: change.resourceType,
      resourceId: change.resourceId,
      actor: tenant.actor,
      context: context as AuditEvent["context"],
      metadata: metadata as AuditEvent["metadata"],
    },
  ]);
  return event!;
}
