import { ConfigError, loadConfig } from "../config.js";
import { AppError } from "../errors.js";
import { buildTenantSource } from "../tenancy/multi-tenant.js";
import { createProvisioner, type ProvisionResult } from "../tenancy/provision.js";
import { describeTarget } from "../tenancy/tenant-config.js";
import { canonicalTenantId } from "../tenancy/tenant-id.js";

const describe = (err: unknown) =>
  err instanceof AppError ? err.detail : err instanceof Error ? err.message : String(err);

interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/**
 * `verdict tenants provision <tenantId>`: resolves the tenant's configuration from the tenant
 * manager or the tenants file (same variables as the server) and creates and migrates its
 * database or schema ahead of its first request. Idempotent; safe to run while servers are up.
 * Exit 0 when provisioned (or already up to date), 1 when the tenant cannot be provisioned,
 * 2 on usage or configuration errors.
 */
export async function tenantsProvisionCommand(
  rawTenantId: string,
  env: Record<string, string | undefined>,
  io: Io,
): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(err.message);
      return 2;
    }
    throw err;
  }
  if (!config.multiTenant.enabled) {
    io.stderr("MULTI_TENANT_ENABLED is not true: single-tenant mode migrates its database at boot");
    return 2;
  }
  const tenantId = canonicalTenantId(rawTenantId);
  if (!tenantId) {
    io.stderr(`not a valid tenant id: ${JSON.stringify(rawTenantId)}`);
    return 2;
  }
  const source = await buildTenantSource(config.multiTenant);
  let lookup: Awaited<ReturnType<typeof source.lookup>>;
  try {
    lookup = await source.lookup(tenantId);
  } catch (err) {
    io.stderr(`tenant ${tenantId}: configuration unavailable: ${describe(err)}`);
    return 1;
  }
  if (lookup.kind === "not_found") {
    io.stderr(
      `tenant ${tenantId}: not found (${source.kind === "file" ? "tenants file" : "tenant manager"})`,
    );
    return 1;
  }
  if (lookup.kind === "suspended") {
    io.stderr(`tenant ${tenantId}: ${lookup.status}; not provisioned`);
    return 1;
  }
  let result: ProvisionResult;
  try {
    result = await createProvisioner().provision(lookup.config);
  } catch (err) {
    io.stderr(`tenant ${tenantId}: ${describeTarget(lookup.config)}: provisioning failed: ${describe(err)}`);
    return 1;
  }
  io.stdout(
    `tenant ${result.tenantId}: ${result.target}: ` +
      `${result.created ? (lookup.config.isolationMode === "schema" ? "schema created" : "database created") : "already existed"}, ` +
      `${result.migrationsApplied} migration(s) applied`,
  );
  return 0;
}
