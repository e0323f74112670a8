import { validate as validateOpenApi } from "@readme/openapi-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "./harness.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

type Problem = {
  code: string;
  status: number;
  requestId: string;
  errors?: { path: string; message: string }[];
};

async function problem(res: Response, status: number, code: string): Promise<Problem> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  const body = (await res.json()) as Problem;
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  expect(body.requestId).toBe(res.headers.get("x-request-id"));
  return body;
}

const validRule = { name: "r", expression: { ">": [{ var: "amount" }, 10] }, action: "DENY" };

describe("public routes", () => {
  it("GET /health answers healthy with a request id", async () => {
    const res = await t.app.request("/health");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("healthy");
    expect(res.headers.get("x-request-id")).toMatch(/[0-9a-f-]{36}/);
  });

  it("echoes a caller's X-Request-Id", async () => {
    const res = await t.app.request("/health", { headers: { "X-Request-Id": "abc-123" } });
    expect(res.headers.get("x-request-id")).toBe("abc-123");
  });

  it("GET /readyz reports the database check", async () => {
    const res = await t.app.request("/readyz");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: "ready",
      checks: { database: true, cache: "in-process" },
    });
  });

  it("GET /version", async () => {
    expect(await (await t.app.request("/version")).json()).toMatchObject({ name: "verdict" });
  });

  it("GET /metrics exposes the request histogram labelled by route template", async () => {
    await t.request("GET", "/v1/rules/0190c0de-0000-7000-8000-000000000000");
    const text = await (await t.app.request("/metrics")).text();
    expect(text).toContain("http_request_duration_seconds_bucket");
    expect(text).toContain('route="/v1/rules/:ruleId"');
  });

  it("GET /v1/openapi.json is a valid OpenAPI 3.1 document", async () => {
    const res = await t.app.request("/v1/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toContain("/v1/rules");
    const result = await validateOpenApi(structuredClone(doc) as never);
    expect(result.valid, JSON.stringify(result)).toBe(true);
  });

  it("GET /v1/docs serves the interactive reference without auth", async () => {
    const res = await t.app.request("/v1/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
  });
});

describe("bad input is a 4xx problem and changes nothing", () => {
  it("malformed JSON → 400 INVALID_JSON naming the body", async () => {
    const body = await problem(await t.request("POST", "/v1/rules", "{not json"), 400, "INVALID_JSON");
    expect(body.errors).toEqual([{ path: "body", message: "is not valid JSON" }]);
  });

  it("a lone surrogate anywhere is a 400 naming the path, on every route", async () => {
    const bad = JSON.stringify({ ...validRule, name: "x" }).replace('"x"', '"\\ud800"');
    const body = await problem(await t.request("POST", "/v1/rules", bad), 400, "VALIDATION_ERROR");
    expect(body.errors).toContainEqual({
      path: "name",
      message: "must be well-formed Unicode (lone surrogate)",
    });
    const limit = JSON.stringify({
      name: "y",
      limitType: "DAILY",
      maxAmount: "1.00",
      currency: "BRL",
      scopes: [{ transactionType: "PIX" }],
    });
    const limitBody = await problem(
      await t.request("POST", "/v1/limits", limit.replace('"y"', '"\\udc00"')),
      400,
      "VALIDATION_ERROR",
    );
    expect(limitBody.errors?.[0]?.path).toBe("name");
    // A real pair (an emoji) is fine.
    const ok = await t.request("POST", "/v1/rules", { ...validRule, name: "emoji \u{1F600}" });
    expect(ok.status).toBe(201);
  });

  it("an empty JSON body on a transition route is accepted", async () => {
    const created = (await (
      await t.request("POST", "/v1/rules", { ...validRule, name: "empty-body" })
    ).json()) as {
      ruleId: string;
    };
    const res = await t.app.request(`/v1/rules/${created.ruleId}/activate`, {
      method: "POST",
      headers: {
        "X-API-Key": "test-api-key-0123456789abcdef",
        "Content-Type": "application/json",
        "Content-Length": "0",
      },
    });
    expect(res.status).toBe(200);
  });

  it("unknown field → 400 naming it", async () => {
    const body = await problem(
      await t.request("POST", "/v1/rules", { ...validRule, colour: "red" }),
      400,
      "VALIDATION_ERROR",
    );
    expect(body.errors).toContainEqual({ path: "colour", message: "unknown field" });
  });

  it("wrong type → 400 naming the path", async () => {
    const body = await problem(
      await t.request("POST", "/v1/rules", { ...validRule, name: 42 }),
      400,
      "VALIDATION_ERROR",
    );
    expect(body.errors?.map((e) => e.path)).toContain("name");
  });

  it("nested paths are named", async () => {
    const body = await problem(
      await t.request("POST", "/v1/rules", { ...validRule, scopes: [{ accountId: "nope" }] }),
      400,
      "VALIDATION_ERROR",
    );
    expect(body.errors?.map((e) => e.path)).toContain("scopes[0].accountId");
  });

  it("a 101 KB body → 413, counted as it streams or judged by its Content-Length", async () => {
    const big = { ...validRule, description: "x".repeat(101 * 1024) };
    await problem(await t.request("POST", "/v1/rules", big), 413, "PAYLOAD_TOO_LARGE");
    const text = JSON.stringify(big);
    await problem(
      await t.request("POST", "/v1/rules", text, { "Content-Length": String(Buffer.byteLength(text)) }),
      413,
      "PAYLOAD_TOO_LARGE",
    );
  });

  it("a non-JSON content type → 415", async () => {
    await problem(
      await t.request("POST", "/v1/rules", "name=x", { "Content-Type": "application/x-www-form-urlencoded" }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    );
  });

  it("bad query values → 400 naming query parameters", async () => {
    const body = await problem(await t.request("GET", "/v1/rules?limit=0&bogus=1"), 400, "VALIDATION_ERROR");
    const paths = body.errors?.map((e) => e.path) ?? [];
    expect(paths).toContain("query.limit");
    expect(paths).toContain("query.bogus");
  });

  it("nothing was created by any of the rejected requests", async () => {
    const list = (await (await t.request("GET", "/v1/rules")).json()) as { rules: { name: string }[] };
    expect(list.rules.map((r) => r.name).sort()).toEqual(["emoji \u{1F600}", "empty-body"]);
    const audit = (await (await t.request("GET", "/v1/audit-events")).json()) as { auditEvents: unknown[] };
    expect(audit.auditEvents).toHaveLength(3);
  });
});

describe("logs", () => {
  it("carry requestId, tenantId and actor, and never the API key", async () => {
    await t.request("GET", "/v1/rules", undefined, { "X-Request-Id": "log-check-1" });
    await t.request("GET", "/v1/nope", undefined, { "X-Request-Id": "log-check-2" });
    const lines = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = lines.find((l) => l.requestId === "log-check-1" && l.msg === "request completed");
    expect(line).toMatchObject({ tenantId: "default", actorId: "default", status: 200, path: "/v1/rules" });
    expect(lines.find((l) => l.requestId === "log-check-2")).toMatchObject({ status: 404 });
    expect(t.logs.join("")).not.toContain("test-api-key-0123456789abcdef");
  });
});
