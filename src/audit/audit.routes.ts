import { createRoute, z } from "@hono/zod-openapi";
import { stream } from "hono/streaming";
import { AppError } from "../errors.js";
import { decodeCursor, encodeCursor } from "../http/cursor.js";
import { dateTimeQuery, limitQuery, sortOrderQuery } from "../http/query.js";
import { commonErrors, createRouter, IdParam } from "../http/router.js";
import { AuditEventSchema, VerifyResultSchema } from "./audit.schemas.js";
import { getAuditEvent, listAuditEvents, scanAuditEvents } from "./audit.store.js";
import { verifyStoredChain } from "./audit.verify.js";
import { canonicalJson } from "./chain.js";

const ListQuery = z.strictObject({
  event_type: z.string().max(64).optional(),
  action: z.string().max(32).optional(),
  result: z.enum(["ALLOW", "DENY", "REVIEW", "SUCCESS"]).optional(),
  resource_type: z.enum(["transaction", "rule", "limit"]).optional(),
  resource_id: z.string().max(128).optional(),
  actor_id: z.string().max(256).optional(),
  start_date: dateTimeQuery.optional(),
  end_date: dateTimeQuery.optional(),
  sort_order: sortOrderQuery,
  limit: limitQuery(1000, 100),
  cursor: z.string().max(512).optional(),
});

const RangeQuery = z.strictObject({
  from_sequence: z.coerce.number().int().min(1).optional(),
  to_sequence: z.coerce.number().int().min(1).optional(),
});

type SeqCursor = { s: number; o: "asc" | "desc" };
const isSeqCursor = (v: Record<string, unknown>): v is SeqCursor =>
  Number.isInteger(v.s) && (v.o === "asc" || v.o === "desc");

export function auditRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: "get",
      path: "/audit-events",
      tags: ["Audit"],
      summary: "List audit events (newest first by default)",
      request: { query: ListQuery },
      responses: {
        200: {
          description: "A page of events",
          content: {
            "application/json": {
              schema: z.object({
                auditEvents: z.array(AuditEventSchema),
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
      const cursor = q.cursor ? decodeCursor(q.cursor, isSeqCursor) : undefined;
      const order = cursor?.o ?? q.sort_order ?? "desc";
      const page = await listAuditEvents(
        db,
        tenantId,
        {
          ...(q.event_type ? { eventType: q.event_type } : {}),
          ...(q.action ? { action: q.action } : {}),
          ...(q.result ? { result: q.result } : {}),
          ...(q.resource_type ? { resourceType: q.resource_type } : {}),
          ...(q.resource_id ? { resourceId: q.resource_id } : {}),
          ...(q.actor_id ? { actorId: q.actor_id } : {}),
          ...(q.start_date ? { startDate: q.start_date } : {}),
          ...(q.end_date ? { endDate: q.end_date } : {}),
        },
        { limit: q.limit, ascending: order === "asc", ...(cursor ? { afterSequence: cursor.s } : {}) },
      );
      const last = page.events[page.events.length - 1];
      return c.json(
        {
          auditEvents: page.events,
          hasMore: page.hasMore,
          nextCursor: page.hasMore && last ? encodeCursor({ s: last.sequence, o: order }) : null,
        },
        200,
      );
    },
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/audit-events/verify",
      tags: ["Audit"],
      summary: "Verify the whole chain, or a sequence range",
      request: { query: RangeQuery },
      responses: {
        200: {
          description: "Verification result",
          content: { "application/json": { schema: VerifyResultSchema } },
        },
        ...commonErrors,
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      if (q.from_sequence !== undefined && q.to_sequence !== undefined && q.from_sequence > q.to_sequence) {
        throw new AppError("VALIDATION_ERROR", "from_sequence must not exceed to_sequence", {
          errors: [{ path: "query.from_sequence", message: "must not exceed to_sequence" }],
        });
      }
      const { db, tenantId } = c.get("tenant");
      const result = await verifyStoredChain(db, tenantId, {
        ...(q.from_sequence !== undefined ? { from: q.from_sequence } : {}),
        ...(q.to_sequence !== undefined ? { to: q.to_sequence } : {}),
      });
      return c.json(result, 200);
    },
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/audit-events/export",
      tags: ["Audit"],
      summary: "Export the chain as NDJSON (one event per line, sequence order, streamed)",
      description:
        "Each line is the event in RFC 8785 canonical form, exactly the bytes that were hashed plus the hash, " +
        "so `verdict audit verify` can hash lines without re-serialising them.",
      request: { query: RangeQuery },
      responses: {
        200: { description: "`application/x-ndjson`: one AuditEvent per line, in sequence order" },
        ...commonErrors,
      },
    }),
    (c) => {
      const q = c.req.valid("query");
      const { db, tenantId } = c.get("tenant");
      c.header("Content-Type", "application/x-ndjson; charset=utf-8");
      c.header("Content-Disposition", `attachment; filename="audit-${tenantId}.ndjson"`);
      return stream(c, async (out) => {
        const range = {
          from: q.from_sequence ?? 1,
          ...(q.to_sequence !== undefined ? { to: q.to_sequence } : {}),
        };
        let buffer = "";
        for await (const event of scanAuditEvents(db, tenantId, range)) {
          buffer += `${canonicalJson(event)}\n`;
          if (buffer.length > 64 * 1024) {
            await out.write(buffer);
            buffer = "";
          }
        }
        if (buffer) await out.write(buffer);
      });
    },
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/audit-events/{eventId}",
      tags: ["Audit"],
      summary: "Get one audit event",
      request: { params: IdParam("eventId") },
      responses: {
        200: { description: "The event", content: { "application/json": { schema: AuditEventSchema } } },
        ...commonErrors,
      },
    }),
    async (c) => {
      const { db, tenantId } = c.get("tenant");
      const event = await getAuditEvent(db, tenantId, c.req.valid("param").eventId as string);
      if (!event) throw new AppError("AUDIT_EVENT_NOT_FOUND", "No audit event with that id");
      return c.json(event, 200);
    },
  );

  router.openapi(
    createRoute({
      method: "get",
      path: "/audit-events/{eventId}/verify",
      tags: ["Audit"],
      summary: "Verify the chain from sequence 1 up to this event",
      request: { params: IdParam("eventId") },
      responses: {
        200: {
          description: "Verification result",
          content: { "application/json": { schema: VerifyResultSchema } },
        },
        ...commonErrors,
      },
    }),
    async (c) => {
      const { db, tenantId } = c.get("tenant");
      const event = await getAuditEvent(db, tenantId, c.req.valid("param").eventId as string);
      if (!event) throw new AppError("AUDIT_EVENT_NOT_FOUND", "No audit event with that id");
      return c.json(await verifyStoredChain(db, tenantId, { from: 1, to: event.sequence }), 200);
    },
  );

  return router;
}
