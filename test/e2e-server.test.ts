import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type ServerProcess, spawnServer } from "./server-process.js";

const dirs: string[] = [];
const servers: ServerProcess[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "verdict-e2e-"));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop("SIGKILL")));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the built server", () => {
  it("starts on a fresh PGlite directory with no variables, serves the API, and stops cleanly on SIGTERM", async () => {
    const dataDir = tempDir();
    const server = await spawnServer({ PGLITE_DATA_DIR: dataDir });
    servers.push(server);
    expect(await (await fetch(`${server.url}/health`)).text()).toBe("healthy");
    const doc = (await (await fetch(`${server.url}/v1/openapi.json`)).json()) as { openapi: string };
    expect(doc.openapi).toBe("3.1.0");
    const created = await fetch(`${server.url}/v1/rules`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "e2e", expression: { ">": [{ var: "amount" }, 1] }, action: "REVIEW" }),
    });
    expect(created.status).toBe(201);
    expect(server.output()).toContain("AUTHENTICATION IS DISABLED");

    // A second process must refuse the data directory the first one holds.
    const second = await spawnServer({ PGLITE_DATA_DIR: dataDir }, { waitReady: false });
    expect(await second.exited).not.toBe(0);
    expect(second.output()).toContain("is in use by process");

    expect(await server.stop("SIGTERM")).toBe(0);
    expect(server.output()).toContain("shutdown complete");

    // Data survives a restart, and the lock of the stopped process is released.
    const again = await spawnServer({ PGLITE_DATA_DIR: dataDir });
    servers.push(again);
    const list = (await (await fetch(`${again.url}/v1/rules`)).json()) as { rules: { name: string }[] };
    expect(list.rules.map((r) => r.name)).toEqual(["e2e"]);
    expect(await again.stop("SIGINT")).toBe(0);
  });

  it("exits non-zero naming an invalid variable", async () => {
    const server = await spawnServer(
      { PGLITE_DATA_DIR: "memory://", FAILURE_POSTURE: "sideways", PORT: "99999" },
      { waitReady: false },
    );
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain("FAILURE_POSTURE");
  });

  it("refuses to start in production with no credential", async () => {
    const server = await spawnServer(
      { PGLITE_DATA_DIR: "memory://", NODE_ENV: "production" },
      { waitReady: false },
    );
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/credential/);
  });
});

describe("npm run db:migrate", () => {
  it("migrates a fresh PGlite directory and exits 0; a bad variable exits 1", async () => {
    const { execFile } = await import("node:child_process");
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        execFile(
          process.execPath,
          ["--import", "tsx", "src/db/migrate.cli.ts"],
          { env: { PATH: process.env.PATH ?? "", ...env } },
          (err, stdout, stderr) =>
            resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
        );
      });
    const ok = await run({ PGLITE_DATA_DIR: tempDir() });
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("migrations applied (pglite)");
    const bad = await run({ DATABASE_URL: "mysql://nope" });
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("DATABASE_URL");
  });
});
