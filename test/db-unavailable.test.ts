import { describe, expect, it } from "vitest";
import { singleTenantResolver } from "../src/tenancy/single-tenant.js";
import { createTestApp, openTestDatabase } from "./harness.js";

describe("a database that went away", () => {
  it("answers 503 SERVICE_UNAVAILABLE with Retry-After on catalog routes, not a 500", async () => {
    const dead = await openTestDatabase();
    const t = await createTestApp({}, { tenants: singleTenantResolver(dead.handle) });
    try {
      expect((await t.request("GET", "/v1/rules")).status).toBe(200);
      await dead.close();
      for (const [method, path, body] of [
        ["GET", "/v1/rules", undefined],
        ["GET", "/v1/limits", undefined],
        ["POST", "/v1/rules", { name: "x", expression: { ">": [{ var: "amount" }, 1] }, action: "DENY" }],
      ] as const) {
        const res = await t.request(method, path, body);
        const problem = (await res.json()) as { code: string };
        expect(res.status, `${method} ${path}`).toBe(503);
        expect(problem.code).toBe("SERVICE_UNAVAILABLE");
        expect(res.headers.get("retry-after")).toBe("1");
      }
    } finally {
      await t.close();
    }
  });
});
