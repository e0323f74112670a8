import { z } from "@hono/zod-openapi";

export const AuditEventSchema = z
  .object({
    eventId: z.string(),
    tenantId: z.string(),
    sequence: z.number().int(),
    eventType: z.string(),
    action: z.string(),
    result: z.string(),
    resourceType: z.string(),
    resourceId: z.string(),
    actor: z.object({ id: z.string(), actorType: z.enum(["user", "api_key", "system"]), name: z.string() }),
    context: z.record(z.string(), z.unknown()),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
    previousHash: z.string(),
    hash: z.string(),
  })
  .openapi("AuditEvent");

export const VerifyResultSchema = z
  .object({
    isValid: z.boolean(),
    totalChecked: z.number().int(),
    firstInvalidSequence: z.number().int().optional(),
    reason: z.enum(["hash_mismatch", "broken_link", "sequence_gap"]).optional(),
    message: z.string(),
  })
  .openapi("AuditVerifyResult");
