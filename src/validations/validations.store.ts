import { and, desc, eq, gte, lt, or, type SQL, sql } from "drizzle-orm";
import type { Database, DbOrTx } from "../db/database.js";
import { queryPrepared, queryRows } from "../db/database.js";
import { decodeCursor, encodeCursor } from "../http/cursor.js";
import { counterKey } from "../limits/decide.js";
import { limitCounters } from "../limits/limits.table.js";
import { transactionValidations } from "./validations.table.js";

export type ValidationInsert = typeof transactionValidations.$inferInsert;

export interface StoredAnswer {
  requestHash: string;
  response: string;
}

/** Answers already stored for these request ids (the idempotency check of a batch). */
const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export async function findAnswers(
  db: DbOrTx,
  tenantId: string,
  requestIds: string[],
): Promise<Map<string, StoredAnswer>> {
  if (requestIds.length === 0) return new Map();
  // Sent as one uuid[] literal (an index scan with = any); only uuids may be spliced into it.
  if (!requestIds.every((id) => UUID_TEXT.test(id))) throw new TypeError("requestIds must be uuids");
  const rows = await queryRows<{ request_id: string; request_hash: string; response: string }>(
    db,
    sql`select request_id, request_hash, response from transaction_validations
        where tenant_id = ${tenantId}
          and request_id = any(${`{${requestIds.join(",")}}`}::uuid[])`,
  );
  return new Map(rows.map((r) => [r.request_id, { requestHash: r.request_hash, response: r.response }]));
}

/** Validation records as the one JSON parameter the server expands into rows. */
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
    request: r.request,
    response: r.response,
    processing_time_ms: r.processingTimeMs,
    audit_sequence: r.auditSequence,
    created_at: r.createdAt.toISOString(),
  }));
  return JSON.stringify(json);
}

export async function insertValidations(db: DbOrTx, rows: ValidationInsert[]): Promise<void> {
  if (rows.length === 0) return;
  await db.execute(sql`insert into transaction_validations (validation_id, tenant_id, request_id, request_hash,
      decision, reason, amount, currency, transaction_type, sub_type, account_id, segment_id, portfolio_id,
      merchant_id, matched_rule_ids, exceeded_limit_ids, request, response, processing_time_ms, audit_sequence,
      created_at)
    select * from jsonb_to_recordset(${validationRowsJson(rows)}::jsonb) as r(validation_id uuid, tenant_id text,
      request_id uuid, request_hash text, decision text, reason text, amount numeric, currency text,
      transaction_type text, sub_type text, account_id text, segment_id text, portfolio_id text, merchant_id text,
      matched_rule_ids jsonb, exceeded_limit_ids jsonb, request jsonb, response text, processing_time_ms float8,
      audit_sequence bigint, created_at timestamptz)`);
}

export interface CounterRef {
  limitId: string;
  scopeKey: string;
  periodKey: string;
  periodStart: Date;
  resetAt: Date;
}

/**
 * Locks the counters a batch may touch (creating missing ones at zero) and returns their usage,
 * keyed by counterKey(). Rows are locked in key order, which keeps concurrent batches on other
 * instances from deadlocking in the common case; a deadlock that still happens is retried.
 */
export async function lockCounters(
  db: DbOrTx,
  tenantId: string,
  refs: CounterRef[],
): Promise<Map<string, string>> {
  const usage = new Map<string, string>();
  if (refs.length === 0) return usage;
  const sorted = [...refs].sort((a, b) =>
    a.limitId !== b.limitId
      ? a.limitId < b.limitId
        ? -1
        : 1
      : counterKey(a.limitId, a.scopeKey, a.periodKey) < counterKey(b.limitId, b.scopeKey, b.periodKey)
        ? -1
        : 1,
  );
  const now = new Date();
  // Issued back to back without awaiting, so the driver pipelines them; the select sees the rows
  // the insert created (or waited for), because each statement takes a fresh snapshot.
  const inserting = db
    .insert(limitCounters)
    .values(
      sorted.map((r) => ({
        tenantId,
        limitId: r.limitId,
        scopeKey: r.scopeKey,
        periodKey: r.periodKey,
        usage: "0",
        periodStart: r.periodStart,
        resetAt: r.resetAt,
        updatedAt: now,
      })),
    )
    .onConflictDoNothing()
    .execute();
  const selecting = selectForUpdate(db, tenantId, sorted);
  const [, rows] = await Promise.all([inserting, selecting]);
  for (const row of rows) usage.set(counterKey(row.limit_id, row.scope_key, row.period_key), row.usage);
  const missing = sorted.filter((r) => !usage.has(counterKey(r.limitId, r.scopeKey, r.periodKey)));
  if (missing.length > 0) {
    // Only if the driver reordered the two statements: lock what the first select could not see.
    for (const row of await selectForUpdate(db, tenantId, missing)) {
      usage.set(counterKey(row.limit_id, row.scope_key, row.period_key), row.usage);
    }
  }
  return usage;
}

function selectForUpdate(db: DbOrTx, tenantId: string, refs: CounterRef[]) {
  const keys = sql.join(
    refs.map((r) => sql`(${r.limitId}::uuid, ${r.scopeKey}::text, ${r.periodKey}::text)`),
    sql`, `,
  );
  return queryRows<{ limit_id: string; scope_key: string; period_key: string; usage: string }>(
    db,
    sql`select limit_id, scope_key, period_key, usage::text as usage from limit_counters
        where tenant_id = ${tenantId} and (limit_id, scope_key, period_key) in (${keys})
        order by limit_id, scope_key, period_key
        for update`,
  );
}

export interface CounterDelta {
  limitId: string;
  scopeKey: string;
  periodKey: string;
  delta: string;
  maxAmount: string;
}

/**
 * Adds the batch's ALLOW amounts in one statement whose WHERE re-checks `usage + delta <= max`
 * in the database, so even a bug in the in-memory decision could never overshoot a limit: a
 * guard that trips aborts the whole transaction.
 */
export async function addToCounters(db: DbOrTx, tenantId: string, deltas: CounterDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  const values = sql.join(
    deltas.map(
      (d) =>
        sql`(${d.limitId}::uuid, ${d.scopeKey}::text, ${d.periodKey}::text, ${d.delta}::numeric, ${d.maxAmount}::numeric)`,
    ),
    sql`, `,
  );
  const rows = await queryRows<{ limit_id: string }>(
    db,
    sql`update limit_counters c set usage = c.usage + v.delta, updated_at = now()
        from (values ${values}) as v(limit_id, scope_key, period_key, delta, max_amount)
        where c.tenant_id = ${tenantId} and c.limit_id = v.limit_id and c.scope_key = v.scope_key
          and c.period_key = v.period_key and c.usage + v.delta <= v.max_amount
        returning c.limit_id`,
  );
  if (rows.length !== deltas.length) {
    throw new Error(
      `limit counter guard rejected ${deltas.length - rows.length} of ${deltas.length} updates`,
    );
  }
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

const COMMIT_PLANNED = `select verdict_commit_validations($1::text, $2::bigint, $3::text, $4::uuid[],
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
  if (!plan.requestIds.every((id) => UUID_TEXT.test(id))) throw new TypeError("requestIds must be uuids");
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
      `{${plan.requestIds.join(",")}}`,
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
 * Writes a planned batch in one round trip (migration 0003, `verdict_commit_validations`), as
 * its own transaction: true if it was written, false if the locked state was not the assumed
 * one, in which case nothing was written and the batch must be decided again.
 */
export async function commitPlanned(db: Database, commit: EncodedCommit): Promise<boolean> {
  const [row] = await queryPrepared<{ ok: boolean }>(db, COMMIT_PLANNED, [...commit.params]);
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
