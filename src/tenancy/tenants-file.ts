import { readFile, stat } from "node:fs/promises";
import type { Logger } from "pino";
import { AppError } from "../errors.js";
import { normaliseTenantConfig, type TenantConfig } from "./tenant-config.js";
import { canonicalTenantId } from "./tenant-id.js";
import { lookupOf, type TenantLookup, type TenantSource } from "./tenant-source.js";

/**
 * MULTI_TENANT_TENANTS_FILE, for operators without a tenant manager. Format (an object keyed by
 * tenant id, so a duplicate id is impossible to write by accident):
 *
 * ```json
 * { "tenants": { "<tenantId>": <the tenant manager's payload for that tenant> } }
 * ```
 *
 * Each payload is exactly what the manager would answer (`status`, `isolationMode`,
 * `databases.<MULTI_TENANT_SERVICE_NAME>.postgresql`, ...). A tenant absent from the file is
 * TENANT_NOT_FOUND; `"status": "suspended"` (anything but "active") is TENANT_SUSPENDED.
 * The file is re-read when its modification time changes, so editing it takes effect on the next
 * cache miss or revalidation; an edit that does not parse keeps the last good version (logged).
 */
export async function createTenantsFileSource(
  path: string,
  serviceName: string,
  logger?: Logger,
): Promise<TenantSource> {
  let tenants = await load(path, serviceName);
  let mtimeMs = (await stat(path)).mtimeMs;

  async function current(): Promise<Map<string, TenantConfig>> {
    try {
      const m = (await stat(path)).mtimeMs;
      if (m !== mtimeMs) {
        tenants = await load(path, serviceName);
        mtimeMs = m;
        logger?.info({ path, tenants: tenants.size }, "tenants file reloaded");
      }
    } catch (err) {
      logger?.error(
        { path, err: (err as Error).message },
        "tenants file unreadable; keeping last good version",
      );
    }
    return tenants;
  }

  return {
    kind: "file",
    async lookup(tenantId): Promise<TenantLookup> {
      const config = (await current()).get(tenantId);
      return config ? lookupOf(config) : { kind: "not_found" };
    },
  };
}

/** Parses and validates the whole file; throws one error naming every bad entry. */
async function load(path: string, serviceName: string): Promise<Map<string, TenantConfig>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new Error(`MULTI_TENANT_TENANTS_FILE ${path}: ${(err as Error).message}`);
  }
  const entries =
    typeof parsed === "object" && parsed !== null && "tenants" in parsed ? parsed.tenants : undefined;
  if (typeof entries !== "object" || entries === null || Array.isArray(entries)) {
    throw new Error(`MULTI_TENANT_TENANTS_FILE ${path}: expected { "tenants": { "<tenantId>": {...} } }`);
  }
  const result = new Map<string, TenantConfig>();
  const problems: string[] = [];
  for (const [key, payload] of Object.entries(entries)) {
    const id = canonicalTenantId(key);
    if (!id) {
      problems.push(`${JSON.stringify(key)}: not a valid tenant id`);
      continue;
    }
    if (result.has(id)) {
      problems.push(`${key}: same tenant as another entry (UUID spellings are canonicalised)`);
      continue;
    }
    try {
      result.set(id, normaliseTenantConfig(payload, id, serviceName));
    } catch (err) {
      problems.push(`${key}: ${err instanceof AppError ? err.detail : (err as Error).message}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`MULTI_TENANT_TENANTS_FILE ${path}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
  return result;
}
