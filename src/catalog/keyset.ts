import { type AnyColumn, and, asc, desc, eq, gt, lt, or, type SQL } from "drizzle-orm";
import { AppError } from "../errors.js";
import { decodeCursor, encodeCursor } from "../http/cursor.js";

/** A cursor pins the sort it was made for, so a page can never be read under another order. */
export interface KeysetCursor extends Record<string, string | number> {
  by: string;
  o: "asc" | "desc";
  v: string;
  id: string;
}

const isKeysetCursor = (v: Record<string, unknown>): v is KeysetCursor =>
  typeof v.by === "string" &&
  (v.o === "asc" || v.o === "desc") &&
  typeof v.v === "string" &&
  typeof v.id === "string";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface KeysetPlan {
  where: SQL | undefined;
  orderBy: SQL[];
  sortBy: string;
  order: "asc" | "desc";
}

/**
 * Keyset pagination over (sort column, id). Date columns are compared as Dates, text as text.
 */
export function planKeyset(opts: {
  columns: Record<string, { column: AnyColumn; kind: "date" | "text" }>;
  idColumn: AnyColumn;
  sortBy: string;
  order: "asc" | "desc";
  cursor: string | undefined;
}): KeysetPlan {
  let { sortBy, order } = opts;
  let where: SQL | undefined;
  if (opts.cursor) {
    const c = decodeCursor(opts.cursor, isKeysetCursor);
    sortBy = c.by;
    order = c.o;
    // A cursor is caller input: its sort key must be a column of this list (own property, not
    // `toString`), its id a UUID, its date a date and its text storable (no U+0000), or the query
    // fails in the driver (a 500). The server never issues such a cursor.
    const spec = Object.hasOwn(opts.columns, sortBy) ? opts.columns[sortBy] : undefined;
    const badValue = spec?.kind === "date" ? Number.isNaN(Date.parse(c.v)) : c.v.includes("\u0000");
    if (!spec || !UUID.test(c.id) || badValue) {
      throw new AppError("VALIDATION_ERROR", "Invalid cursor", {
        errors: [{ path: "query.cursor", message: "invalid cursor" }],
      });
    }
    const value = spec.kind === "date" ? new Date(c.v) : c.v;
    const cmp = order === "asc" ? gt : lt;
    where = or(cmp(spec.column, value), and(eq(spec.column, value), cmp(opts.idColumn, c.id)));
  }
  const spec = opts.columns[sortBy];
  if (!spec) throw new Error(`unknown sort column ${sortBy}`);
  const dir = order === "asc" ? asc : desc;
  return { where, orderBy: [dir(spec.column), dir(opts.idColumn)], sortBy, order };
}

export function nextKeysetCursor(
  plan: KeysetPlan,
  last: { value: string; id: string } | undefined,
): string | null {
  if (!last) return null;
  return encodeCursor({ by: plan.sortBy, o: plan.order, v: last.value, id: last.id });
}

/**
 * Turns `limit + 1` fetched items into a page: the extra row only says there is more, and the
 * cursor carries the last item's value for the plan's sort column (name, updatedAt or createdAt).
 */
export function keysetPage<T extends { name: string; createdAt: string; updatedAt: string }>(
  plan: KeysetPlan,
  fetched: T[],
  limit: number,
  idOf: (item: T) => string,
): { items: T[]; hasMore: boolean; nextCursor: string | null } {
  const items = fetched.slice(0, limit);
  const hasMore = fetched.length > limit;
  const last = items[items.length - 1];
  if (!hasMore || !last) return { items, hasMore, nextCursor: null };
  const value =
    plan.sortBy === "name" ? last.name : plan.sortBy === "updated_at" ? last.updatedAt : last.createdAt;
  return { items, hasMore, nextCursor: nextKeysetCursor(plan, { value, id: idOf(last) }) };
}
