import { and, desc, eq, gte, lt, or, type SQL, sql } from "drizzle-orm";
import type { Database, DbOrTx } from "../db/database.js";
import { queryPrepared, queryRows } from "../db/database.js";
import { decodeCursor, encodeCursor } from "../http/cursor.js";
import { counterKey } from "../limits/decide.js";
import { transactionValidations } from "./validations.table.js";

export type ValidationInsert = typeof transactionValidations.$inferInsert;

export interface StoredAnswer {
  requestHash: string;
  response: string;
}

const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** An array of request ids as one uuid[] literal: only uuids may be spliced into it. */
function uuidArray(ids: readonly string[]): string {
  if (!ids.every((id) => UUID_TEXT.test(id))) throw new TypeError("requestIds must be uuids");
  return `{${ids.join(",")}}`;
}

/**
 * Validation records as the one JSON parameter the server expands into rows. The request is left
 * out: verdict_commit_validations_v2 (migration 0006) records it from the record's audit event.
 */
export function validationRowsJson(rows: readonly ValidationInsert[]): string {
  const json = rows.map((r) => ({
    validation_id: r.validationId,
    tenant_id: r.tenantId,
    request_id: r.requestId,
    request_hash: r.requestHash,
    decision: r.decision,
    reason: r.reason,
    amount: r.amount,
    currency: r.currency,
    transaction_type: r.transactionType,
    sub_type: r.subType,
    account_id: r.accountId,
    segment_id: r.segmentId ?? null,
    portfolio_id: r.portfolioId ?? null,
    merchant_id: r.merchantId ?? null,
    matched_rule_ids: r.matchedRuleIds,
    exceeded_limit_ids: r.exceededLimitIds,
    response: r.response,
    processing_time_ms: r.processingTimeMs,
    audit_sequence: r.auditSequence,
    created_at: r.createdAt.toISOString(),
  }));
  return JSON.stringify(json);
}

export interface CounterRef {
  limitId: string;
  scopeKey: string;
  periodKey: string;
  periodStart: Date;
  resetAt: Date;
}

export interface CounterDelta {
  limitId: string;
  scopeKey: string;
  periodKey: string;
  delta: string;
  maxAmount: string;
}

/** What a batch decides against, read under the locks of its transaction. */
export interface LockedBatchState {
  head: { sequence: number; hash: string };
  stored: Map<string, StoredAnswer>;
  /** Counter usage keyed by counterKey(), as the database prints the numeric. */
  usage: Map<string, string>;
}

/**
 * One statement (migration 0005, `verdict_lock_validation_state`) in the caller's transaction:
 * locks the chain head (created at sequence 0 on first use), creates the batch's missing counters
 * at zero and locks them in key order, and reads the stored answers for its request ids.
 */
export async function lockValidationState(
  tx: DbOrTx,
  tenantId: string,
  requestIds: readonly string[],
  refs: readonly CounterRef[],
): Promise<LockedBatchState> {
  const counters = JSON.stringify(
    refs.map((r) => ({
      limit_id: r.limitId,
      scope_key: r.scopeKey,
      period_key: r.periodKey,
      period_start: r.periodStart.toISOString(),
      reset_at: r.resetAt.toISOString(),
    })),
  );
  const [row] = await queryRows<{ state: unknown }>(
    tx,
    sql`select verdict_lock_validation_state(${tenantId}, ${uuidArray(requestIds)}::uuid[], ${counters}::jsonb) as state`,
  );
  const raw = typeof row?.state === "string" ? JSON.parse(row.state) : row?.state;
  const state = raw as {
    sequence: number | string;
    hash: string;
    usage: { limit_id: string; scope_key: string; period_key: string; usage: string }[];
    answers: { request_id: string; request_hash: string; response: string }[];
  };
  return {
    head: { sequence: Number(state.sequence), hash: state.hash },
    stored: new Map(
      state.answers.map((a) => [a.request_id, { requestHash: a.request_hash, response: a.response }]),
    ),
    usage: new Map(state.usage.map((u) => [counterKey(u.limit_id, u.scope_key, u.period_key), u.usage])),
  };
}

/** A batch decided in advance against an assumed state, ready to be written in one statement. */
export interface PlannedCommit {
  tenantId: string;
  /** The chain head the plan was sealed after. */
  assumedHead: { sequence: number; hash: string };
  requestIds: readonly string[];
  /** Every counter the plan read, with the usage it assumed. */
  counters: readonly (CounterRef & { usage: string })[];
  deltas: readonly CounterDelta[];
  /** Sealed events as `sealedEventsJson` gives them, and the head after the last one. */
  eventsJson: string;
  head: { sequence: number; hash: string };
  rows: readonly ValidationInsert[];
}

const COMMIT_PLANNED = `select verdict_commit_validations_v2($1::text, $2::bigint, $3::text, $4::uuid[],
  $5::jsonb, $6::jsonb, $7::jsonb, $8::jsonb, $9::bigint, $10::text) as ok`;

/** A planned batch as the statement's parameters. */
export interface EncodedCommit {
  readonly params: readonly unknown[];
}

/**
 * Serialises a planned batch for `commitPlanned`. Separate so that a batch can be encoded while
 * it waits for its turn, keeping the serialisation out of the tenant's serial commit stream.
 */
export function encodePlannedCommit(plan: PlannedCommit): EncodedCommit {
  const counters = plan.counters.map((c) => ({
    limit_id: c.limitId,
    scope_key: c.scopeKey,
    period_key: c.periodKey,
    usage: c.usage,
  }));
  const deltas = plan.deltas.map((d) => ({
    limit_id: d.limitId,
    scope_key: d.scopeKey,
    period_key: d.periodKey,
    delta: d.delta,
    max_amount: d.maxAmount,
  }));
  return {
    params: [
      plan.tenantId,
      plan.assumedHead.sequence,
      plan.assumedHead.hash,
      uuidArray(plan.requestIds),
      JSON.stringify(counters),
      JSON.stringify(deltas),
      plan.eventsJson,
      validationRowsJson(plan.rows),
      plan.head.sequence,
      plan.head.hash,
    ],
  };
}

/**
 * Writes a planned batch in one round trip (`verdict_commit_validations_v2`, migration 0006), as
 * its own transaction: true if it was written, false if the locked state was not the assumed
 * one, in which case nothing was written and the batch must be decided again.
 */
export async function commitPlanned(db: Database, commit: EncodedCommit): Promise<boolean> {
  const [row] = await queryPrepared<{ ok: boolean }>(db, COMMIT_PLANNED, [...commit.params]);
  return row?.ok === true;
}

/** `commitPlanned` inside the caller's transaction (after `lockValidationState`). */
export async function commitPlannedIn(tx: DbOrTx, commit: EncodedCommit): Promise<boolean> {
  const p = commit.params;
  const [row] = await queryRows<{ ok: boolean }>(
    tx,
    sql`select verdict_commit_validations_v2(${p[0]}::text, ${p[1]}::bigint, ${p[2]}::text, ${p[3]}::uuid[],
      ${p[4]}::jsonb, ${p[5]}::jsonb, ${p[6]}::jsonb, ${p[7]}::jsonb, ${p[8]}::bigint, ${p[9]}::text) as ok`,
  );
  return row?.ok === true;
}

type Row = typeof transactionValidations.$inferSelect;

export async function getValidation(
  db: DbOrTx,
  tenantId: string,
  validationId: string,
): Promise<Row | undefined> {
  const [row] = await db
    .select()
    .from(transactionValidations)
    .where(
      and(
        eq(transactionValidations.tenantId, tenantId),
        eq(transactionValidations.validationId, validationId),
      ),
    );
  return row;
}

export interface ValidationListFilter {
  decision?: string;
  accountId?: string;
  segmentId?: string;
  portfolioId?: string;
  transactionType?: string;
  matchedRuleId?: string;
  exceededLimitId?: string;
  startDate?: Date;
  endDate?: Date;
}

type Cursor = { t: string; id: string; o: "asc" | "desc" };
const isCursor = (v: Record<string, unknown>): v is Cursor =>
  typeof v.t === "string" &&
  typeof v.id === "string" &&
  (v.o === "asc" || v.o === "desc") &&
  !Number.isNaN(Date.parse(v.t));

export async function listValidations(
  db: DbOrTx,
  tenantId: string,
  f: ValidationListFilter,
  page: { limit: number; order: "asc" | "desc"; cursor: string | undefined },
): Promise<{ rows: Row[]; hasMore: boolean; nextCursor: string | null }> {
  const t = transactionValidations;
  const where: (SQL | undefined)[] = [eq(t.tenantId, tenantId)];
  if (f.decision) where.push(eq(t.decision, f.decision));
  if (f.accountId) where.push(eq(t.accountId, f.accountId));
  if (f.segmentId) where.push(eq(t.segmentId, f.segmentId));
  if (f.portfolioId) where.push(eq(t.portfolioId, f.portfolioId));
  if (f.transactionType) where.push(eq(t.transactionType, f.transactionType));
  if (f.matchedRuleId) where.push(sql`${t.matchedRuleIds} @> ${JSON.stringify([f.matchedRuleId])}::jsonb`);
  if (f.exceededLimitId)
    where.push(sql`${t.exceededLimitIds} @> ${JSON.stringify([f.exceededLimitId])}::jsonb`);
  if (f.startDate) where.push(gte(t.createdAt, f.startDate));
  if (f.endDate) where.push(lt(t.createdAt, f.endDate));
  let order = page.order;
  if (page.cursor) {
    const c = decodeCursor(page.cursor, isCursor);
    order = c.o;
    const at = new Date(c.t);
    const cmp = order === "asc" ? sql`>` : sql`<`;
    where.push(
      or(
        sql`${t.createdAt} ${cmp} ${c.t}::timestamptz`,
        and(eq(t.createdAt, at), sql`${t.validationId} ${cmp} ${c.id}::uuid`),
      ),
    );
  }
  const dir = order === "asc" ? (c: typeof t.createdAt | typeof t.validationId) => c : desc;
  const rows = await db
    .select()
    .from(t)
    .where(and(...where))
    .orderBy(dir(t.createdAt), dir(t.validationId))
    .limit(page.limit + 1);
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  const hasMore = rows.length > page.limit;
  return {
    rows: items,
    hasMore,
    nextCursor:
      hasMore && last
        ? encodeCursor({ t: last.createdAt.toISOString(), id: last.validationId, o: order })
        : null,
  };
}
