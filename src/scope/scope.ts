/**
 * Scopes decide which transactions a rule or limit applies to. Shared by rules and limits,
 * pure: no I/O, no framework imports.
 */

export const TRANSACTION_TYPES = ["CARD", "WIRE", "PIX", "CRYPTO"] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

/** A scope as stored and returned: every field optional, at least one set (enforced at the API edge). */
export interface Scope {
  accountId?: string;
  segmentId?: string;
  portfolioId?: string;
  merchantId?: string;
  transactionType?: TransactionType;
  /** Stored trimmed and lower-cased, so equality is case-insensitive. */
  subType?: string;
}

/** The scope facts of one transaction, derived from the validation request. */
export interface TransactionScope {
  accountId: string;
  transactionType: TransactionType;
  /** Lower-case; "" when the request had none. */
  subType: string;
  segmentId?: string;
  portfolioId?: string;
  merchantId?: string;
}

export const SCOPE_FIELDS = [
  "accountId",
  "segmentId",
  "portfolioId",
  "merchantId",
  "transactionType",
  "subType",
] as const satisfies readonly (keyof Scope)[];
export type ScopeField = (typeof SCOPE_FIELDS)[number];

/** Normalises a scope for storage: trims/lower-cases subType, drops empty fields. */
export function normalizeScope(scope: Scope): Scope {
  const out: Scope = {};
  for (const field of SCOPE_FIELDS) {
    const value = scope[field];
    if (value === undefined || value === null) continue;
    if (field === "subType") {
      const sub = String(value).trim().toLowerCase();
      if (sub !== "") out.subType = sub;
    } else if (field === "transactionType") {
      out.transactionType = value as TransactionType;
    } else {
      out[field] = String(value).toLowerCase();
    }
  }
  return out;
}

/** True when every field the scope sets equals the transaction's value (AND). */
export function scopeMatches(scope: Scope, tx: TransactionScope): boolean {
  for (const field of SCOPE_FIELDS) {
    const want = scope[field];
    if (want === undefined) continue;
    if (tx[field] !== want) return false;
  }
  return true;
}

/** Index of the first matching scope (OR across scopes); -1 when none. An empty list is global: 0. */
export function firstMatchingScope(scopes: readonly Scope[], tx: TransactionScope): number {
  if (scopes.length === 0) return 0;
  for (let i = 0; i < scopes.length; i++) {
    if (scopeMatches(scopes[i]!, tx)) return i;
  }
  return -1;
}

export function scopesMatch(scopes: readonly Scope[], tx: TransactionScope): boolean {
  return firstMatchingScope(scopes, tx) !== -1;
}

const KEY_PARTS: readonly [ScopeField, string][] = [
  ["accountId", "acct"],
  ["merchantId", "merch"],
  ["portfolioId", "port"],
  ["segmentId", "seg"],
];

/**
 * The counter key for a limit's matching scope: built from the scope (not the transaction), so a
 * segment-scoped limit is one shared pool for the segment. transactionType/subType are not part of it.
 */
export function scopeKey(scope: Scope | undefined): string {
  if (!scope) return "global";
  const parts: string[] = [];
  for (const [field, label] of KEY_PARTS) {
    const value = scope[field];
    if (value !== undefined) parts.push(`${label}:${value}`);
  }
  return parts.length === 0 ? "global" : parts.join("|");
}

const DESCRIBE_LABELS: readonly [ScopeField, string][] = [
  ["accountId", "account"],
  ["segmentId", "segment"],
  ["portfolioId", "portfolio"],
  ["merchantId", "merchant"],
  ["transactionType", "transactionType"],
  ["subType", "subType"],
];

/** Human-readable description, Tracer style: `global`, `(account:a,segment:b) OR (merchant:c)`. */
export function describeScopes(scopes: readonly Scope[]): string {
  if (scopes.length === 0) return "global";
  return scopes
    .map((scope) => {
      const parts: string[] = [];
      for (const [field, label] of DESCRIBE_LABELS) {
        const value = scope[field];
        if (value !== undefined) parts.push(`${label}:${value}`);
      }
      return `(${parts.join(",")})`;
    })
    .join(" OR ");
}
