import type { TenantConfig } from "./tenant-config.js";

/**
 * A definite answer about a tenant. Not-found and suspended are answers, not failures: they are
 * returned (never thrown) so the circuit breaker counts them as successes, like Lerian's client.
 */
export type TenantLookup =
  | { kind: "found"; config: TenantConfig }
  | { kind: "not_found" }
  | { kind: "suspended"; status: string };

/** Where tenant configurations come from: the tenant manager or the tenants file. */
export interface TenantSource {
  readonly kind: "manager" | "file";
  /**
   * Looks a canonical tenant id up. Throws TenantSourceUnavailable when the source could not
   * answer (network, timeout, 5xx, oversized or unparsable body): only those feed the breaker.
   * Throws AppError(SERVICE_UNAVAILABLE) for an answer that is unusable (misconfigured tenant).
   */
  lookup(tenantId: string): Promise<TenantLookup>;
}

/** The source did not answer; retrying later may work. The message never carries secrets. */
export class TenantSourceUnavailable extends Error {
  /** Seconds a client should wait before retrying (the Retry-After of the 503). */
  readonly retryAfterSec: number;
  /**
   * False when the source answered but refused this service (a wrong API key): not an outage,
   * so it must not open the breaker, but like one it must not close pools that work.
   */
  readonly countsForBreaker: boolean;
  constructor(
    message: string,
    options: { cause?: unknown; retryAfterSec?: number; countsForBreaker?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TenantSourceUnavailable";
    this.retryAfterSec = options.retryAfterSec ?? 1;
    this.countsForBreaker = options.countsForBreaker ?? true;
  }
}

/** Maps a validated payload to a lookup: only "active" is usable, anything else is suspended. */
export function lookupOf(config: TenantConfig): TenantLookup {
  return config.status === "active"
    ? { kind: "found", config }
    : { kind: "suspended", status: config.status };
}
