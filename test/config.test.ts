import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("loadConfig", () => {
  it("applies the contract defaults with no variables at all", () => {
    const c = loadConfig({});
    expect(c.port).toBe(4020);
    expect(c.host).toBe("0.0.0.0");
    expect(c.db).toEqual({ kind: "pglite", dataDir: "./data/pglite" });
    expect(c.auth.disabled).toBe(true);
    expect(c.decision).toEqual({
      defaultWhenNoMatch: "ALLOW",
      failurePosture: "closed",
      maxRulesPerRequest: 1000,
      maxPendingValidations: 2000,
    });
    expect(c.multiTenant.serviceName).toBe("verdict");
    expect(c.multiTenant.timeoutMs).toBe(5000);
    expect(c.multiTenant.cacheTtlMs).toBe(120_000);
    expect(c.multiTenant.maxTenantPools).toBe(100);
  });

  it("names every bad variable in one error", () => {
    try {
      loadConfig({ PORT: "abc", FAILURE_POSTURE: "sideways", DATABASE_URL: "mysql://x", LOG_LEVEL: "loud" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const message = (err as Error).message;
      for (const name of ["PORT", "FAILURE_POSTURE", "DATABASE_URL", "LOG_LEVEL"])
        expect(message).toContain(name);
    }
  });

  it("refuses production without a credential, and AUTH_DISABLED in production", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(/credential/);
    expect(() =>
      loadConfig({ NODE_ENV: "production", AUTH_DISABLED: "true", API_KEY: "k".repeat(20) }),
    ).toThrow(/AUTH_DISABLED/);
    expect(loadConfig({ NODE_ENV: "production", API_KEY: "k".repeat(20) }).auth.disabled).toBe(false);
  });

  it("requires JWT configuration for multi-tenancy", () => {
    expect(() =>
      loadConfig({
        MULTI_TENANT_ENABLED: "true",
        API_KEY: "k".repeat(20),
        MULTI_TENANT_TENANTS_FILE: "t.json",
      }),
    ).toThrow(/MULTI_TENANT_ENABLED/);
  });

  it("rejects two JWT key sources and a non-PEM public key", () => {
    expect(() => loadConfig({ JWT_SECRET: "s".repeat(40), JWT_JWKS_URL: "https://x/jwks" })).toThrow(
      /only one/,
    );
    expect(() => loadConfig({ JWT_PUBLIC_KEY: "not a pem" })).toThrow(/JWT_PUBLIC_KEY/);
  });
});
