import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<"method" | "route" | "status">;
  decisions: Counter<"decision" | "tenant">;
  degradedDecisions: Counter<"reason" | "tenant">;
  shedValidations: Counter<"tenant">;
  auditAppends: Counter<"tenant">;
}

/** A registry per app instance, so tests can build many apps in one process without clashes. */
export function createMetrics(opts: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request duration by route template and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    decisions: new Counter({
      name: "verdict_decisions_total",
      help: "Validation decisions by outcome",
      labelNames: ["decision", "tenant"],
      registers: [registry],
    }),
    degradedDecisions: new Counter({
      name: "verdict_degraded_decisions_total",
      help: "Validations answered in degraded (fail-open) mode",
      labelNames: ["reason", "tenant"],
      registers: [registry],
    }),
    shedValidations: new Counter({
      name: "verdict_validations_shed_total",
      help: "Validations answered at once (503, or degraded ALLOW under FAILURE_POSTURE=open) because the tenant already had MAX_PENDING_VALIDATIONS in progress",
      labelNames: ["tenant"],
      registers: [registry],
    }),
    auditAppends: new Counter({
      name: "verdict_audit_events_appended_total",
      help: "Audit events appended",
      labelNames: ["tenant"],
      registers: [registry],
    }),
  };
}
