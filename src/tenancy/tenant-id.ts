import { AppError } from "../errors.js";

/** Longest tenant id accepted. It ends up in cache keys, pool names and `tenant_id` columns. */
export const MAX_TENANT_ID_LENGTH = 64;

/**
 * Letters, digits, `_` and `-`, starting with a letter or digit: safe as a Redis key segment, a
 * URL path segment (still encoded), a log field and a PostgreSQL `application_name`, with no `:`,
 * `/`, `.`, whitespace or look-alike Unicode that could alias another tenant.
 */
const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const UUID_DASHED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UUID_DASHLESS = /^[0-9a-f]{32}$/i;

/**
 * The same failure as every other credential problem (UNAUTHENTICATED, same detail): a caller with
 * a bad tenant claim learns nothing more than a caller with a bad signature.
 */
const invalid = () => new AppError("UNAUTHENTICATED", "Missing or invalid credentials");

/**
 * Canonical tenant id, or undefined when the value is not a valid tenant id. UUIDs, dashed or
 * dashless and in any case, become lower-case dashed so both spellings are one tenant (one cache
 * entry, one pool, one audit chain). Other ids are kept as they are (case-sensitive).
 * @example canonicalTenantId("0190A1B2C3D47E5F8A9B0C1D2E3F4A5B") === "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
 */
export function canonicalTenantId(value: unknown): string | undefined {
  // Only strings: jose accepts `tenantId: 123`, and "123" must not be reachable from a number.
  if (typeof value !== "string") return undefined;
  if (UUID_DASHLESS.test(value)) {
    const h = value.toLowerCase();
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  if (UUID_DASHED.test(value)) return value.toLowerCase();
  if (value.length < 1 || value.length > MAX_TENANT_ID_LENGTH || !TENANT_ID.test(value)) return undefined;
  return value;
}

/**
 * The tenant id of a verified principal's claim, or a 401. A missing claim (an API-key caller, a
 * token without the claim) is a 401 too: in multi-tenant mode nothing else may pick a tenant.
 */
export function tenantIdFromClaim(claim: unknown): string {
  const id = canonicalTenantId(claim);
  if (id === undefined) throw invalid();
  return id;
}
