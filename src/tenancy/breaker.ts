import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  IsolatedCircuitError,
} from "cockatiel";
import type { Logger } from "pino";
import { type TenantLookup, type TenantSource, TenantSourceUnavailable } from "./tenant-source.js";

export interface BreakerOptions {
  /** MULTI_TENANT_CIRCUIT_BREAKER_THRESHOLD: consecutive failures that open the circuit. */
  threshold: number;
  /** MULTI_TENANT_CIRCUIT_BREAKER_TIMEOUT_SEC in ms: how long it stays open before one probe. */
  timeoutMs: number;
  logger?: Logger;
}

/** A tenant source behind a breaker, with its state exposed for /readyz and tests. */
export interface GuardedSource extends TenantSource {
  state(): "closed" | "open" | "half-open";
}

const STATE_NAMES = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "open",
} as const;

/**
 * Wraps the tenant manager in a consecutive-failure breaker (cockatiel). Failures are
 * TenantSourceUnavailable errors from 5xx, network errors, timeouts and bad bodies; a refused API
 * key neither counts nor resets the streak. Not-found and suspended are returned values, so they
 * count as successes and reset the streak, as in Lerian's client. While open, lookups fail at once
 * with TenantSourceUnavailable carrying the seconds left until the half-open probe, without
 * touching the network. Cached tenants are served before this is reached (config-cache.ts).
 */
export function withCircuitBreaker(source: TenantSource, opts: BreakerOptions): GuardedSource {
  const policy = circuitBreaker(
    handleWhen((err) => err instanceof TenantSourceUnavailable && err.countsForBreaker),
    { halfOpenAfter: opts.timeoutMs, breaker: new ConsecutiveBreaker(opts.threshold) },
  );
  let openedAt = 0;
  policy.onBreak(() => {
    openedAt = Date.now();
    opts.logger?.warn({ timeoutMs: opts.timeoutMs }, "tenant manager circuit opened");
  });
  policy.onReset(() => opts.logger?.info("tenant manager circuit closed"));

  return {
    kind: source.kind,
    state: () => STATE_NAMES[policy.state],
    async lookup(tenantId): Promise<TenantLookup> {
      try {
        return await policy.execute(() => source.lookup(tenantId));
      } catch (err) {
        if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError) {
          const leftMs = Math.max(0, openedAt + opts.timeoutMs - Date.now());
          throw new TenantSourceUnavailable("tenant manager circuit open", {
            retryAfterSec: Math.max(1, Math.ceil(leftMs / 1000)),
          });
        }
        throw err;
      }
    },
  };
}
