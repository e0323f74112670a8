import { and, asc, desc, eq, gt, gte, lt, lte, type SQL, sql } from "drizzle-orm";
import { uuidv7 } from "uuidv7";
import type { DbOrTx, Tx } from "../db/database.js";
import { auditChainHeads, auditEvents } from "./audit.table.js";
import { linkWithJson, type SealedEvent } from "./chain.js";
import { type AuditEvent, type AuditEventBody, GENESIS_HASH } from "./event.js";

/** What a caller describes; sequence, links, ids and the timestamp are assigned on append. */
export type AuditDraft = Omit<
  AuditEventBody,
  "eventId" | "tenantId" | "sequence" | "previousHash" | "createdAt"
> & {
  eventId?: string;
  createdAt?: string;
};

type Row = typeof auditEvents.$inferSelect;

/** The event exactly as hashed: the contract's body plus `hash`, no other field. */
export function rowToEvent(row: Row): AuditEvent {
  return {
    eventId: row.eventId,
    tenantId: row.tenantId,
    sequence: row.sequence,
    eventType: row.eventType as AuditEvent["eventType"],
    action: row.action as AuditEvent["action"],
    result: row.result as AuditEvent["result"],
    resourceType: row.resourceType as AuditEvent["resourceType"],
    resourceId: row.resourceId,
    actor: row.actor as AuditEvent["actor"],
    context: row.context as AuditEvent["context"],
    metadata: row.metadata as AuditEvent["metadata"],
    createdAt: row.createdAt.toISOString(),
    previousHash: row.previousHash,
    hash: row.hash,
  };
}

export interface ChainHeadRow {
  sequence: number;
  hash: string;
}

/**
 * Locks the tenant's chain head for the rest of the transaction (creating it on first use).
 * Locking it serialises that tenant's appends, across instances too, without blocking others.
 */
export async function lockChainHead(tx: Tx, tenantId: string): Promise<ChainHeadRow> {
  const head = await lockHead(tx, tenantId);
  if (head) return head;
  await tx
    .insert(auditChainHeads)
    .values({ tenantId, sequence: 0, hash: GENESIS_HASH })
    .onConflictDoNothing();
  const created = await lockHead(tx, tenantId);
  if (!created) throw new Error(`audit chain head for ${tenantId} could not be created`);
  return created;
}

/** Assigns sequences, links and hashes after `head`; pure apart from ids and the clock. */
export function sealDrafts(
  head: ChainHeadRow,
  tenantId: string,
  drafts: readonly AuditDraft[],
): SealedEvent[] {
  const now = new Date().toISOString();
  return linkWithJson(
    head.sequence === 0 ? null : head,
    drafts.map((d) => ({
      eventId: d.eventId ?? uuidv7(),
      tenantId,
      eventType: d.eventType,
      action: d.action,
      result: d.result,
      resourceType: d.resourceType,
      resourceId: d.resourceId,
      actor: d.actor,
      context: d.context,
      metadata: d.metadata,
      createdAt: d.createdAt ?? now,
    })),
  );
}

/**
 * Sealed events as the one JSON parameter the server expands into rows (jsonb_to_recordset):
 * the JSON each event is written from (the text that was hashed plus `hash`), so nothing is
 * serialized twice.
 */
export function sealedEventsJson(sealed: readonly SealedEvent[]): string {
  return `[${sealed.map((s) => s.json).join(",")}]`;
}

/**
 * The insert of `sealedEventsJson`'s events; verdict_commit_validations_v2 (migration 0006)
 * expands the same JSON the same way.
 */
function insertSealedEvents(eventsJson: string): SQL {
  return sql`insert into audit_events (tenant_id, sequence, event_id, event_type, action, result,
      resource_type, resource_id, actor_id, actor, context, metadata, created_at, previous_hash, hash)
    select r."tenantId", r.sequence, r."eventId", r."eventType", r.action, r.result, r."resourceType",
      r."resourceId", r.actor->>'id', r.actor, r.context, r.metadata, r."createdAt", r."previousHash", r.hash
    from jsonb_to_recordset(${eventsJson}::jsonb) as r("tenantId" text, sequence bigint, "eventId" uuid,
      "eventType" text, action text, result text, "resourceType" text, "resourceId" text, actor jsonb,
      context jsonb, metadata jsonb, "createdAt" timestamptz, "previousHash" text, hash text)`;
}

/**
 * Writes sealed events and moves the head. Both statements are issued together so that the
 * driver can pipeline them on the transaction's connection.
 */
export async function writeSealedEvents(
  tx: Tx,
  tenantId: string,
  sealed: readonly SealedEvent[],
): Promise<void> {
  const last = sealed[sealed.length - 1]?.event;
  if (!last) return;
  await Promise.all([
    tx.execute(insertSealedEvents(sealedEventsJson(sealed))),
    tx
      .update(auditChainHeads)
      .set({ sequence: last.sequence, hash: last.hash })
      .where(eq(auditChainHeads.tenantId, tenantId)),
  ]);
}

/**
 * Appends events to the tenant's chain inside the caller's transaction, so a change and its
 * events commit or roll back together. Many drafts share one head lock and one insert.
 */
export async function appendAuditEvents(
  tx: Tx,
  tenantId: string,
  drafts: readonly AuditDraft[],
): Promise<AuditEvent[]> {
  if (drafts.length === 0) return [];
  const sealed = sealDrafts(await lockChainHead(tx, tenantId), tenantId, drafts);
  await writeSealedEvents(tx, tenantId, sealed);
  return sealed.map((s) => s.event);
}

async function lockHead(tx: Tx, tenantId: string): Promise<{ sequence: number; hash: string } | undefined> {
  const [row] = await tx
    .select({ sequence: auditChainHeads.sequence, hash: auditChainHeads.hash })
    .from(auditChainHeads)
    .where(eq(auditChainHeads.tenantId, tenantId))
    .for("update");
  return row;
}

export interface AuditListFilter {
  eventType?: string;
  action?: string;
  result?: string;
  resourceType?: string;
  resourceId?: string;
  actorId?: string;
  startDate?: Date;
  endDate?: Date;
}

/** One page in sequence order (newest first unless `ascending`), keyset on sequence. */
export async function listAuditEvents(
  db: DbOrTx,
  tenantId: string,
  filter: AuditListFilter,
  page: { limit: number; afterSequence?: number; ascending: boolean },
): Promise<{ events: AuditEvent[]; hasMore: boolean }> {
  const where: SQL[] = [eq(auditEvents.tenantId, tenantId)];
  if (filter.eventType) where.push(eq(auditEvents.eventType, filter.eventType));
  if (filter.action) where.push(eq(auditEvents.action, filter.action));
  if (filter.result) where.push(eq(auditEvents.result, filter.result));
  if (filter.resourceType) where.push(eq(auditEvents.resourceType, filter.resourceType));
  if (filter.resourceId) where.push(eq(auditEvents.resourceId, filter.resourceId));
  if (filter.actorId) where.push(eq(auditEvents.actorId, filter.actorId));
  if (filter.startDate) where.push(gte(auditEvents.createdAt, filter.startDate));
  if (filter.endDate) where.push(lt(auditEvents.createdAt, filter.endDate));
  if (page.afterSequence !== undefined) {
    where.push(
      page.ascending
        ? gt(auditEvents.sequence, page.afterSequence)
        : lt(auditEvents.sequence, page.afterSequence),
    );
  }
  const rows = await db
    .select()
    .from(auditEvents)
    .where(and(...where))
    .orderBy(page.ascending ? asc(auditEvents.sequence) : desc(auditEvents.sequence))
    .limit(page.limit + 1);
  return { events: rows.slice(0, page.limit).map(rowToEvent), hasMore: rows.length > page.limit };
}

export async function getAuditEvent(
  db: DbOrTx,
  tenantId: string,
  eventId: string,
): Promise<AuditEvent | undefined> {
  const [row] = await db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.tenantId, tenantId), eq(auditEvents.eventId, eventId)));
  return row ? rowToEvent(row) : undefined;
}

export async function getChainHead(
  db: DbOrTx,
  tenantId: string,
): Promise<{ sequence: number; hash: string }> {
  const [row] = await db
    .select({ sequence: auditChainHeads.sequence, hash: auditChainHeads.hash })
    .from(auditChainHeads)
    .where(eq(auditChainHeads.tenantId, tenantId));
  return row ?? { sequence: 0, hash: GENESIS_HASH };
}

/** The stored hash of one sequence, used to anchor verification of a range that starts after 1. */
export async function hashAtSequence(
  db: DbOrTx,
  tenantId: string,
  sequence: number,
): Promise<string | undefined> {
  const [row] = await db
    .select({ hash: auditEvents.hash })
    .from(auditEvents)
    .where(and(eq(auditEvents.tenantId, tenantId), eq(auditEvents.sequence, sequence)));
  return row?.hash;
}

/**
 * The lowest sequence stored past the tenant's chain head, if any. Head and events are read in one
 * statement (one snapshot), so an append committing meanwhile is never mistaken for a forgery.
 */
export async function firstSequenceBeyondHead(db: DbOrTx, tenantId: string): Promise<number | undefined> {
  const [row] = await db
    .select({ sequence: sql<string | null>`min(${auditEvents.sequence})` })
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.tenantId, tenantId),
        gt(
          auditEvents.sequence,
          sql`coalesce((select ${auditChainHeads.sequence} from ${auditChainHeads} where ${auditChainHeads.tenantId} = ${tenantId}), 0)`,
        ),
      ),
    );
  return row?.sequence == null ? undefined : Number(row.sequence);
}

const SCAN_CHUNK = 2000;

/**
 * Yields events `from..to` in sequence order, a chunk at a time, so verification and export keep
 * constant memory however long the chain is.
 */
export async function* scanAuditEvents(
  db: DbOrTx,
  tenantId: string,
  range: { from: number; to?: number },
): AsyncGenerator<AuditEvent> {
  let next = range.from;
  for (;;) {
    const where: SQL[] = [eq(auditEvents.tenantId, tenantId), gte(auditEvents.sequence, next)];
    if (range.to !== undefined) where.push(lte(auditEvents.sequence, range.to));
    const rows = await db
      .select()
      .from(auditEvents)
      .where(and(...where))
      .orderBy(asc(auditEvents.sequence))
      .limit(SCAN_CHUNK);
    for (const row of rows) yield rowToEvent(row);
    if (rows.length < SCAN_CHUNK) return;
    next = rows[rows.length - 1]!.sequence + 1;
  }
}

/** Counts events; used by tests and the verify summary. */
export async function countAuditEvents(db: DbOrTx, tenantId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(auditEvents)
    .where(eq(auditEvents.tenantId, tenantId));
  return row?.n ?? 0;
}
