import { normaliseTenantConfig } from "./tenant-config.js";
import { lookupOf, type TenantLookup, type TenantSource, TenantSourceUnavailable } from "./tenant-source.js";

/** A tenant configuration is a few hundred bytes; anything near this is a broken or hostile server. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface ManagerClientOptions {
  /** MULTI_TENANT_URL: absolute base URL, optionally with a path prefix. */
  url: string;
  /** MULTI_TENANT_SERVICE_API_KEY, sent as X-API-Key and never logged. */
  apiKey: string;
  /** MULTI_TENANT_SERVICE_NAME: the `{service}` path segment and the `databases` key. */
  serviceName: string;
  timeoutMs: number;
  allowInsecureHttp: boolean;
  /** Injected in tests; the global fetch otherwise. */
  fetch?: typeof fetch;
}

/**
 * Reads at most `limit` bytes of a body, so a manager streaming garbage cannot exhaust memory.
 * Content-Length is checked first, then the running total (a chunked body has no length).
 */
async function readCapped(res: Response, limit: number): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > limit) {
    await res.body?.cancel();
    throw new TenantSourceUnavailable("tenant manager response too large");
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw new TenantSourceUnavailable("tenant manager response too large");
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Client of the Lerian-compatible tenant manager (CONTRACT §7):
 * `GET {url}/v1/tenants/{tenantId}/associations/{service}/connections` with `X-API-Key`.
 * 200 → the configuration, 404 → not found, 403 → suspended; 5xx, network errors, timeouts and
 * oversized or unparsable bodies → TenantSourceUnavailable (the breaker counts those). Other
 * statuses (401 bad key, 400, ...) are a misconfiguration of this service: TenantSourceUnavailable
 * too (503, cached tenants keep working) but not counted by the breaker.
 * No caching here: that is config-cache.ts.
 */
export function createManagerClient(opts: ManagerClientOptions): TenantSource {
  const base = new URL(opts.url);
  if (base.protocol !== "https:" && !(base.protocol === "http:" && opts.allowInsecureHttp)) {
    // Checked by loadConfig too; repeated here because the API key travels in a header.
    throw new Error("MULTI_TENANT_URL must be https unless MULTI_TENANT_ALLOW_INSECURE_HTTP=true");
  }
  if (opts.apiKey.length === 0) throw new Error("MULTI_TENANT_SERVICE_API_KEY must not be empty");
  const prefix = base.href.replace(/\/+$/, "");
  const doFetch = opts.fetch ?? fetch;

  return {
    kind: "manager",
    async lookup(tenantId): Promise<TenantLookup> {
      const path =
        `/v1/tenants/${encodeURIComponent(tenantId)}` +
        `/associations/${encodeURIComponent(opts.serviceName)}/connections`;
      let res: Response;
      let body: string;
      try {
        // The timeout signal covers the body read too, so a slow-drip body cannot hang a request.
        res = await doFetch(`${prefix}${path}`, {
          method: "GET",
          headers: { "X-API-Key": opts.apiKey, Accept: "application/json" },
          redirect: "error",
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
        if (res.status === 404 || res.status === 403) {
          await res.body?.cancel();
          return res.status === 404 ? { kind: "not_found" } : { kind: "suspended", status: "suspended" };
        }
        if (res.status >= 500) {
          await res.body?.cancel();
          throw new TenantSourceUnavailable(`tenant manager answered ${res.status}`);
        }
        body = await readCapped(res, MAX_RESPONSE_BYTES);
      } catch (err) {
        if (err instanceof TenantSourceUnavailable) throw err;
        const reason = (err as Error).name === "TimeoutError" ? "timed out" : "unreachable";
        throw new TenantSourceUnavailable(`tenant manager ${reason}`, { cause: err });
      }
      if (res.status !== 200) {
        // Usually a wrong API key or URL: an operator problem, not an outage of the manager.
        throw new TenantSourceUnavailable(`tenant manager refused the lookup (HTTP ${res.status})`, {
          retryAfterSec: 30,
          countsForBreaker: false,
        });
      }
      let payload: unknown;
      try {
        payload = JSON.parse(body);
      } catch {
        throw new TenantSourceUnavailable("tenant manager sent a body that is not JSON");
      }
      return lookupOf(normaliseTenantConfig(payload, tenantId, opts.serviceName));
    },
  };
}
