import { z } from "zod";

/**
 * The only module that reads environment variables. `loadConfig(env)` is pure so tests pass a plain
 * object; `main.ts` passes `process.env` once at boot.
 */

const bool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"], { message: "must be true or false" })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === "true" || v === "1" || v === "yes"));

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be an integer between ${min} and ${max}` });
        return z.NEVER;
      }
      return n;
    });

const url = (protocols: readonly string[]) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return undefined;
      try {
        const parsed = new URL(v);
        if (!protocols.includes(parsed.protocol)) {
          ctx.addIssue({ code: "custom", message: `must be a ${protocols.join(" or ")} URL` });
          return z.NEVER;
        }
        return v;
      } catch {
        ctx.addIssue({ code: "custom", message: "must be a valid URL" });
        return z.NEVER;
      }
    });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === "" ? undefined : v));

const EnvSchema = z.object({
  NODE_ENV: z.string().optional().default("development"),
  PORT: int(4020, 0, 65535),
  HOST: z.string().min(1).optional().default("0.0.0.0"),
  DATABASE_URL: url(["postgres:", "postgresql:"]),
  PGLITE_DATA_DIR: z.string().min(1).optional().default("./data/pglite"),
  REDIS_URL: url(["redis:", "rediss:"]),
  API_KEY: optionalString.refine((v) => v === undefined || v.length >= 16, "must be at least 16 characters"),
  API_KEY_LABEL: z.string().min(1).max(128).optional().default("default"),
  JWT_SECRET: optionalString.refine(
    (v) => v === undefined || v.length >= 32,
    "must be at least 32 characters",
  ),
  JWT_PUBLIC_KEY: optionalString,
  JWT_JWKS_URL: url(["https:", "http:"]),
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  JWT_TENANT_CLAIM: z.string().min(1).optional().default("tenantId"),
  AUTH_DISABLED: bool(false),
  DEFAULT_DECISION_WHEN_NO_MATCH: z.enum(["ALLOW", "DENY"]).optional().default("ALLOW"),
  FAILURE_POSTURE: z.enum(["closed", "open"]).optional().default("closed"),
  MAX_RULES_PER_REQUEST: int(1000, 1, 100_000),
  MAX_PENDING_VALIDATIONS: int(2000, 1, 1_000_000),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .optional()
    .default("info"),
  MULTI_TENANT_ENABLED: bool(false),
  MULTI_TENANT_URL: url(["https:", "http:"]),
  MULTI_TENANT_ALLOW_INSECURE_HTTP: bool(false),
  MULTI_TENANT_SERVICE_API_KEY: optionalString,
  MULTI_TENANT_SERVICE_NAME: z.string().min(1).optional().default("verdict"),
  MULTI_TENANT_TIMEOUT_SEC: int(5, 1, 120),
  MULTI_TENANT_CACHE_TTL_SEC: int(120, 0, 86_400),
  MULTI_TENANT_CIRCUIT_BREAKER_THRESHOLD: int(5, 1, 1000),
  MULTI_TENANT_CIRCUIT_BREAKER_TIMEOUT_SEC: int(30, 1, 3600),
  MULTI_TENANT_MAX_TENANT_POOLS: int(100, 1, 10_000),
  MULTI_TENANT_IDLE_TIMEOUT_SEC: int(300, 1, 86_400),
  MULTI_TENANT_CONNECTIONS_CHECK_INTERVAL_SEC: int(30, 1, 3600),
  MULTI_TENANT_REDIS_HOST: optionalString,
  MULTI_TENANT_REDIS_PORT: int(6379, 1, 65535),
  MULTI_TENANT_REDIS_PASSWORD: optionalString,
  MULTI_TENANT_REDIS_TLS: bool(false),
  MULTI_TENANT_TENANTS_FILE: optionalString,
  SHUTDOWN_TIMEOUT_SEC: int(25, 1, 600),
});

type Env = z.output<typeof EnvSchema>;

export type JwtConfig =
  | { kind: "secret"; secret: string; issuer?: string; audience?: string; tenantClaim: string }
  | { kind: "publicKey"; pem: string; issuer?: string; audience?: string; tenantClaim: string }
  | { kind: "jwks"; url: string; issuer?: string; audience?: string; tenantClaim: string };

export type DatabaseConfig = { kind: "postgres"; url: string } | { kind: "pglite"; dataDir: string };

export interface Config {
  nodeEnv: string;
  port: number;
  host: string;
  db: DatabaseConfig;
  redisUrl: string | undefined;
  auth: {
    disabled: boolean;
    apiKey: { key: string; label: string } | undefined;
    jwt: JwtConfig | undefined;
  };
  decision: {
    defaultWhenNoMatch: "ALLOW" | "DENY";
    failurePosture: "closed" | "open";
    maxRulesPerRequest: number;
    /** A tenant's validations in progress on this instance beyond which new ones are answered at once (posture). */
    maxPendingValidations: number;
  };
  logLevel: Env["LOG_LEVEL"];
  shutdownTimeoutMs: number;
  multiTenant: {
    enabled: boolean;
    url: string | undefined;
    allowInsecureHttp: boolean;
    serviceApiKey: string | undefined;
    serviceName: string;
    timeoutMs: number;
    cacheTtlMs: number;
    breakerThreshold: number;
    breakerTimeoutMs: number;
    maxTenantPools: number;
    idleTimeoutMs: number;
    connectionsCheckIntervalMs: number;
    redis: { host: string; port: number; password: string | undefined; tls: boolean } | undefined;
    tenantsFile: string | undefined;
  };
}

/** Thrown with every bad variable named, so one boot attempt shows every mistake. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Parses and cross-checks the environment. Throws ConfigError naming every bad variable.
 * @example loadConfig({ PORT: "8080" }).port === 8080
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = EnvSchema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? "environment");
      problems.push(`${name}: ${issue.message}`);
    }
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === "production";

  const jwtSources = [e.JWT_SECRET, e.JWT_PUBLIC_KEY, e.JWT_JWKS_URL].filter((v) => v !== undefined);
  if (jwtSources.length > 1) {
    problems.push("JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL: set only one JWT key source");
  }
  if (e.JWT_PUBLIC_KEY !== undefined && !e.JWT_PUBLIC_KEY.includes("-----BEGIN PUBLIC KEY-----")) {
    problems.push("JWT_PUBLIC_KEY: must be a PEM SubjectPublicKeyInfo block (-----BEGIN PUBLIC KEY-----)");
  }
  const common = {
    ...(e.JWT_ISSUER !== undefined ? { issuer: e.JWT_ISSUER } : {}),
    ...(e.JWT_AUDIENCE !== undefined ? { audience: e.JWT_AUDIENCE } : {}),
    tenantClaim: e.JWT_TENANT_CLAIM,
  };
  let jwt: JwtConfig | undefined;
  if (e.JWT_SECRET !== undefined) jwt = { kind: "secret", secret: e.JWT_SECRET, ...common };
  else if (e.JWT_PUBLIC_KEY !== undefined) jwt = { kind: "publicKey", pem: e.JWT_PUBLIC_KEY, ...common };
  else if (e.JWT_JWKS_URL !== undefined) jwt = { kind: "jwks", url: e.JWT_JWKS_URL, ...common };

  const hasCredential = jwt !== undefined || e.API_KEY !== undefined;
  if (e.AUTH_DISABLED && production) {
    problems.push("AUTH_DISABLED: refused when NODE_ENV=production");
  }
  if (!hasCredential && !e.AUTH_DISABLED && production) {
    problems.push(
      "API_KEY, JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL: NODE_ENV=production requires at least one credential",
    );
  }
  if (e.MULTI_TENANT_ENABLED) {
    if (jwt === undefined) {
      problems.push("MULTI_TENANT_ENABLED: requires JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL");
    }
    if (e.AUTH_DISABLED) problems.push("AUTH_DISABLED: cannot be true when MULTI_TENANT_ENABLED=true");
    if (e.MULTI_TENANT_URL === undefined && e.MULTI_TENANT_TENANTS_FILE === undefined) {
      problems.push("MULTI_TENANT_URL: set it or MULTI_TENANT_TENANTS_FILE when MULTI_TENANT_ENABLED=true");
    }
    if (e.MULTI_TENANT_URL?.startsWith("http:") && !e.MULTI_TENANT_ALLOW_INSECURE_HTTP) {
      problems.push(
        "MULTI_TENANT_URL: must be https (set MULTI_TENANT_ALLOW_INSECURE_HTTP=true to allow http)",
      );
    }
    if (e.MULTI_TENANT_URL !== undefined && e.MULTI_TENANT_SERVICE_API_KEY === undefined) {
      problems.push("MULTI_TENANT_SERVICE_API_KEY: required with MULTI_TENANT_URL");
    }
    if (e.DATABASE_URL === undefined) {
      problems.push("DATABASE_URL: required when MULTI_TENANT_ENABLED=true (tenants live in PostgreSQL)");
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    db:
      e.DATABASE_URL !== undefined
        ? { kind: "postgres", url: e.DATABASE_URL }
        : { kind: "pglite", dataDir: e.PGLITE_DATA_DIR },
    redisUrl: e.REDIS_URL,
    auth: {
      disabled: !hasCredential || e.AUTH_DISABLED,
      apiKey: e.API_KEY !== undefined ? { key: e.API_KEY, label: e.API_KEY_LABEL } : undefined,
      jwt,
    },
    decision: {
      defaultWhenNoMatch: e.DEFAULT_DECISION_WHEN_NO_MATCH,
      failurePosture: e.FAILURE_POSTURE,
      maxRulesPerRequest: e.MAX_RULES_PER_REQUEST,
      maxPendingValidations: e.MAX_PENDING_VALIDATIONS,
    },
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_SEC * 1000,
    multiTenant: {
      enabled: e.MULTI_TENANT_ENABLED,
      url: e.MULTI_TENANT_URL,
      allowInsecureHttp: e.MULTI_TENANT_ALLOW_INSECURE_HTTP,
      serviceApiKey: e.MULTI_TENANT_SERVICE_API_KEY,
      serviceName: e.MULTI_TENANT_SERVICE_NAME,
      timeoutMs: e.MULTI_TENANT_TIMEOUT_SEC * 1000,
      cacheTtlMs: e.MULTI_TENANT_CACHE_TTL_SEC * 1000,
      breakerThreshold: e.MULTI_TENANT_CIRCUIT_BREAKER_THRESHOLD,
      breakerTimeoutMs: e.MULTI_TENANT_CIRCUIT_BREAKER_TIMEOUT_SEC * 1000,
      maxTenantPools: e.MULTI_TENANT_MAX_TENANT_POOLS,
      idleTimeoutMs: e.MULTI_TENANT_IDLE_TIMEOUT_SEC * 1000,
      connectionsCheckIntervalMs: e.MULTI_TENANT_CONNECTIONS_CHECK_INTERVAL_SEC * 1000,
      redis:
        e.MULTI_TENANT_REDIS_HOST !== undefined
          ? {
              host: e.MULTI_TENANT_REDIS_HOST,
              port: e.MULTI_TENANT_REDIS_PORT,
              password: e.MULTI_TENANT_REDIS_PASSWORD,
              tls: e.MULTI_TENANT_REDIS_TLS,
            }
          : undefined,
      tenantsFile: e.MULTI_TENANT_TENANTS_FILE,
    },
  };
}

/** The process's own environment: the one place that reads `process.env` (main.ts and the CLI). */
export function processEnvironment(): Record<string, string | undefined> {
  return process.env;
}
