import type { Logger } from "pino";
import type { Database } from "../db/database.js";
import type { LimitForEval } from "../limits/applicability.js";
import type { Limit } from "../limits/limit.js";
import { loadActiveLimits } from "../limits/limits.store.js";
import { compileExpression } from "../rules/expression/compile.js";
import { buildRuleSet, type RuleForEval, type RuleSet } from "../rules/rule-set.js";
import { loadActiveRules } from "../rules/rules.store.js";
import { readCatalogVersion } from "./catalog-version.js";

/** A tenant's ACTIVE rules (compiled, scope-indexed) and limits, as of one catalog version. */
export interface CompiledCatalog {
  version: number;
  ruleSet: RuleSet;
  /** ACTIVE limits in (createdAt, limitId) order, keyed for lookups too. */
  limits: LimitForEval[];
  limitsById: Map<string, Limit>;
}

interface Entry {
  catalog: CompiledCatalog | undefined;
  loading: Promise<CompiledCatalog> | undefined;
  checkedAt: number;
  usedAt: number;
  /** Bumped by invalidate() so a load that started before it is not trusted as fresh. */
  generation: number;
}

export interface CatalogCacheOptions {
  /**
   * How stale a cached catalog may be before the next validation re-reads the tenant's version
   * (one indexed read). Changes on this instance invalidate at once; on other instances they are
   * seen within this interval, or immediately when Redis pushes the invalidation.
   */
  pollIntervalMs: number;
  /** A tenant idle this long has its catalog dropped, bounding memory. */
  idleTtlMs: number;
  logger: Logger;
}

export interface CatalogCache {
  get(tenantId: string, db: Database): Promise<CompiledCatalog>;
  invalidate(tenantId: string): void;
  size(): number;
  close(): void;
}

export async function loadCompiledCatalog(
  db: Database,
  tenantId: string,
  logger: Logger,
): Promise<CompiledCatalog> {
  // Read the version first: data read after it is at least that new, so a concurrent change can
  // only make the next poll reload, never hide itself.
  const version = await readCatalogVersion(db, tenantId);
  const [rules, limits] = await Promise.all([loadActiveRules(db, tenantId), loadActiveLimits(db, tenantId)]);
  const forEval: RuleForEval[] = [];
  for (const rule of rules) {
    try {
      forEval.push({
        ruleId: rule.ruleId,
        action: rule.action,
        scopes: rule.scopes,
        createdAt: rule.createdAt,
        evaluate: compileExpression(rule.expression),
      });
    } catch (err) {
      // Validation at create/activate makes this unreachable; a stored rule that no longer compiles
      // is reported rather than silently taking the catalog down.
      logger.error({ err, ruleId: rule.ruleId, tenantId }, "active rule does not compile; skipped");
    }
  }
  return {
    version,
    ruleSet: buildRuleSet(forEval),
    limits: limits.map((l) => ({
      limitId: l.limitId,
      limitType: l.limitType,
      maxAmount: l.maxAmount,
      currency: l.currency,
      scopes: l.scopes,
      timezone: l.timezone,
      activeTimeStart: l.activeTimeStart,
      activeTimeEnd: l.activeTimeEnd,
      customStartDate: l.customStartDate,
      customEndDate: l.customEndDate,
    })),
    limitsById: new Map(limits.map((l) => [l.limitId, l])),
  };
}

/** Per-tenant cache of compiled catalogs with version polling, push invalidation and idle eviction. */
export function createCatalogCache(opts: CatalogCacheOptions): CatalogCache {
  const entries = new Map<string, Entry>();
  const sweep = setInterval(
    () => {
      const cutoff = Date.now() - opts.idleTtlMs;
      for (const [tenantId, entry] of entries)
        if (entry.usedAt < cutoff && !entry.loading) entries.delete(tenantId);
    },
    Math.min(opts.idleTtlMs, 60_000),
  );
  sweep.unref();

  /** One refresh per tenant at a time: concurrent requests share it (single flight). */
  function refresh(tenantId: string, db: Database, entry: Entry): Promise<CompiledCatalog> {
    const generation = entry.generation;
    const started = Date.now();
    const cached = entry.catalog;
    const work = (async () => {
      if (cached && (await readCatalogVersion(db, tenantId)) === cached.version) return cached;
      return loadCompiledCatalog(db, tenantId, opts.logger);
    })();
    const settled = work.then(
      (catalog) => {
        if (entry.generation === generation) {
          entry.catalog = catalog;
          entry.checkedAt = started;
          entry.loading = undefined;
        }
        return catalog;
      },
      (err: unknown) => {
        if (entry.generation === generation) entry.loading = undefined;
        throw err;
      },
    );
    entry.loading = settled;
    return settled;
  }

  return {
    async get(tenantId, db) {
      const now = Date.now();
      let entry = entries.get(tenantId);
      if (!entry) {
        entry = { catalog: undefined, loading: undefined, checkedAt: 0, usedAt: now, generation: 0 };
        entries.set(tenantId, entry);
      }
      entry.usedAt = now;
      if (entry.catalog && now - entry.checkedAt < opts.pollIntervalMs) return entry.catalog;
      return entry.loading ?? refresh(tenantId, db, entry);
    },
    invalidate(tenantId) {
      const entry = entries.get(tenantId);
      if (!entry) return;
      entry.generation++;
      entry.catalog = undefined;
      entry.loading = undefined;
    },
    size: () => entries.size,
    close: () => clearInterval(sweep),
  };
}
