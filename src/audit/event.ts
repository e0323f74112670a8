/**
 * The audit event of CONTRACT §6. Pure types and constants: the hash formula lives in `chain.ts`.
 * Field names are part of the hash input, so renaming one here breaks every stored chain.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

/** `previousHash` of sequence 1: 64 zeros. */
export const GENESIS_HASH = "0000000000000000000000000000000000000000000000000000000000000000";

export const AUDIT_EVENT_TYPES = [
  "TRANSACTION_VALIDATED",
  "RULE_CREATED",
  "RULE_UPDATED",
  "RULE_ACTIVATED",
  "RULE_DEACTIVATED",
  "RULE_DRAFTED",
  "RULE_DELETED",
  "LIMIT_CREATED",
  "LIMIT_UPDATED",
  "LIMIT_ACTIVATED",
  "LIMIT_DEACTIVATED",
  "LIMIT_DRAFTED",
  "LIMIT_DELETED",
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export const AUDIT_ACTIONS = [
  "VALIDATE",
  "CREATE",
  "UPDATE",
  "ACTIVATE",
  "DEACTIVATE",
  "DRAFT",
  "DELETE",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AUDIT_RESULTS = ["ALLOW", "DENY", "REVIEW", "SUCCESS"] as const;
export type AuditResult = (typeof AUDIT_RESULTS)[number];

export const AUDIT_RESOURCE_TYPES = ["transaction", "rule", "limit"] as const;
export type AuditResourceType = (typeof AUDIT_RESOURCE_TYPES)[number];

export const ACTOR_TYPES = ["user", "api_key", "system"] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

export interface AuditActor {
  id: string;
  actorType: ActorType;
  name: string;
}

/** Everything that is hashed: the event minus `hash`. */
export interface AuditEventBody {
  eventId: string;
  tenantId: string;
  /** 1, 2, 3, ... gapless per tenant. */
  sequence: number;
  eventType: AuditEventType;
  action: AuditAction;
  result: AuditResult;
  resourceType: AuditResourceType;
  resourceId: string;
  actor: AuditActor;
  /** Validations: `{request, response}`; rule/limit changes: `{before?, after?}`. Money as strings. */
  context: JsonObject;
  metadata: JsonObject;
  /** RFC 3339 UTC with milliseconds; hashed as this exact string. */
  createdAt: string;
  /** `hash` of the previous event of the tenant, or {@link GENESIS_HASH} for sequence 1. */
  previousHash: string;
}

/** The event as stored, returned by the API and written on each export line: body plus `hash`. */
export type AuditEvent = AuditEventBody & { hash: string };

/** The body's field names in contract order (the order events are built and written in). */
export const AUDIT_BODY_FIELDS = [
  "eventId",
  "tenantId",
  "sequence",
  "eventType",
  "action",
  "result",
  "resourceType",
  "resourceId",
  "actor",
  "context",
  "metadata",
  "createdAt",
  "previousHash",
] as const satisfies readonly (keyof AuditEventBody)[];
