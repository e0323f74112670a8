import { exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { createCredentialVerifier } from "../src/http/credentials.js";
import { createLogger } from "../src/observability/logger.js";
import { createMetrics } from "../src/observability/metrics.js";
import { createDomain } from "../src/routes.js";
import { singleTenantResolver } from "../src/tenancy/single-tenant.js";
import type { TenantResolver } from "../src/tenancy/tenant-resolver.js";
import {
  openTestDatabase,
  signTestJwt,
  TEST_API_KEY,
  TEST_JWT_SECRET,
  type TestDatabase,
} from "./harness.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db.close();
});

/** An app whose tenant layer counts how often it is reached, to prove rejected calls never touch it. */
async function countingApp(env: Record<string, string>) {
  const config = loadConfig(env);
  const inner = singleTenantResolver(db.handle);
  const counter = { resolves: 0 };
  const tenants: TenantResolver = {
    resolve: (p) => {
      counter.resolves++;
      return inner.resolve(p);
    },
    checks: () => inner.checks(),
    close: async () => {},
  };
  const logger = createLogger("silent");
  const metrics = createMetrics({ processMetrics: false });
  const domain = await createDomain({ config, logger, metrics });
  const app = createApp({
    config,
    logger,
    metrics,
    credentials: createCredentialVerifier(config.auth),
    tenants,
    version: "test",
    mountApi: (api) => domain.mount(api),
  });
  return { app, counter };
}

async function expect401(res: Response) {
  expect(res.status).toBe(401);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = (await res.json()) as Record<string, unknown>;
  expect(body.code).toBe("UNAUTHENTICATED");
  expect(body.detail).toBe("Missing or invalid credentials");
  expect(typeof body.requestId).toBe("string");
}

describe("HS256 secret", () => {
  const env = { API_KEY: TEST_API_KEY, JWT_SECRET: TEST_JWT_SECRET, JWT_AUDIENCE: "verdict-api" };
  const get = (app: Awaited<ReturnType<typeof countingApp>>["app"], headers: Record<string, string>) =>
    app.request("/v1/rules", { headers });

  it("rejects every bad credential with 401 before the tenant layer is reached", async () => {
    const { app, counter } = await countingApp(env);
    const otherSecret = "another-secret-0123456789abcdef0123456789";
    const bad: Record<string, Record<string, string>> = {
      none: {},
      malformed: { Authorization: "Bearer not.a.jwt" },
      notBearer: { Authorization: "Basic dXNlcjpwYXNz" },
      algNone: {
        Authorization: `Bearer ${new UnsecuredJWT({ sub: "u" }).setExpirationTime("5m").setAudience("verdict-api").encode()}`,
      },
      wrongKey: {
        Authorization: `Bearer ${await signTestJwt({ aud: "verdict-api" }, { secret: otherSecret })}`,
      },
      expired: { Authorization: `Bearer ${await signTestJwt({ aud: "verdict-api" }, { expiresIn: "-1m" })}` },
      noExp: { Authorization: `Bearer ${await signTestJwt({ aud: "verdict-api" }, { expiresIn: null })}` },
      wrongAudience: { Authorization: `Bearer ${await signTestJwt({ aud: "someone-else" })}` },
      noSub: {
        Authorization: `Bearer ${await new SignJWT({ aud: "verdict-api" })
          .setProtectedHeader({ alg: "HS256" })
          .setExpirationTime("5m")
          .sign(new TextEncoder().encode(TEST_JWT_SECRET))}`,
      },
      wrongApiKey: { "X-API-Key": "wrong-key-0123456789abcdef" },
      shortApiKey: { "X-API-Key": "x" },
    };
    for (const [name, headers] of Object.entries(bad)) {
      const res = await get(app, headers);
      await expect401(res).catch((err) => {
        throw new Error(`${name}: ${(err as Error).message}`);
      });
    }
    expect(counter.resolves).toBe(0);
  });

  it("accepts a valid API key and a valid JWT", async () => {
    const { app, counter } = await countingApp(env);
    expect((await get(app, { "X-API-Key": TEST_API_KEY })).status).toBe(200);
    const token = await signTestJwt({ aud: "verdict-api", sub: "analyst-7" });
    expect((await get(app, { Authorization: `Bearer ${token}` })).status).toBe(200);
    expect(counter.resolves).toBe(2);
  });

  it("tolerates 5 s of clock skew but not more", async () => {
    const { app } = await countingApp(env);
    const now = Math.floor(Date.now() / 1000);
    const sign = (exp: number) =>
      new SignJWT({ aud: "verdict-api" })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("u")
        .setExpirationTime(exp)
        .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    expect((await get(app, { Authorization: `Bearer ${await sign(now - 2)}` })).status).toBe(200);
    await expect401(await get(app, { Authorization: `Bearer ${await sign(now - 30)}` }));
  });

  it("unknown /v1 routes are 401 before auth and 404 problem+json after", async () => {
    const { app } = await countingApp(env);
    await expect401(await app.request("/v1/nope"));
    const res = await app.request("/v1/nope", { headers: { "X-API-Key": TEST_API_KEY } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe("ROUTE_NOT_FOUND");
  });
});

describe("public key (RS256)", () => {
  it("verifies RS256 and refuses an HS256 token signed with the public key as secret", async () => {
    const { publicKey, privateKey } = await generateKeyPair("RS256");
    const pem = await exportSPKI(publicKey);
    const { app, counter } = await countingApp({ JWT_PUBLIC_KEY: pem, JWT_ISSUER: "https://issuer.test" });
    const good = await new SignJWT({})
      .setProtectedHeader({ alg: "RS256" })
      .setSubject("u1")
      .setIssuer("https://issuer.test")
      .setExpirationTime("5m")
      .sign(privateKey);
    expect((await app.request("/v1/rules", { headers: { Authorization: `Bearer ${good}` } })).status).toBe(
      200,
    );

    const confused = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("u1")
      .setIssuer("https://issuer.test")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(pem));
    await expect401(await app.request("/v1/rules", { headers: { Authorization: `Bearer ${confused}` } }));

    const wrongIssuer = await new SignJWT({})
      .setProtectedHeader({ alg: "RS256" })
      .setSubject("u1")
      .setIssuer("https://evil.test")
      .setExpirationTime("5m")
      .sign(privateKey);
    await expect401(await app.request("/v1/rules", { headers: { Authorization: `Bearer ${wrongIssuer}` } }));
    expect(counter.resolves).toBe(1);
  });
});

describe("auth disabled", () => {
  it("serves /v1 without credentials when nothing is configured", async () => {
    const { app } = await countingApp({});
    expect((await app.request("/v1/rules")).status).toBe(200);
  });
});
