import { type AnyColumn, type SQL, sql } from "drizzle-orm";
import type { ScopeFilter } from "./scope.schemas.js";

/**
 * "Items applicable to this context": global items (no scopes) always match; otherwise one scope
 * must not contradict the filter (each field it sets equals the filter's value or is absent).
 */
export function scopeFilterSql(scopesColumn: AnyColumn, filter: ScopeFilter): SQL | undefined {
  const entries = Object.entries(filter).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return undefined;
  const conditions = entries.map(
    ([field, value]) => sql`(not (s ? ${field}) or s ->> ${field} = ${String(value)})`,
  );
  return sql`(jsonb_array_length(${scopesColumn}) = 0 or exists (select 1 from jsonb_array_elements(${scopesColumn}) s where ${sql.join(conditions, sql` and `)}))`;
}
