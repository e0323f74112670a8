import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalJson } from "../audit/chain.js";
import { auditVerifyCommand } from "./audit-verify.js";

const golden = fileURLToPath(new URL("../../test/fixtures/audit/golden-chain.ndjson", import.meta.url));

async function run(path: string) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await auditVerifyCommand(path, { stdout: (s) => out.push(s), stderr: (s) => err.push(s) });
  return { code, out, err };
}

describe("verdict audit verify", () => {
  let dir: string;
  let lines: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "verdict-cli-"));
    lines = (await readFile(golden, "utf8")).trimEnd().split("\n");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, content: string | Buffer): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  }

  it("exits 0 and prints the head of a valid export", async () => {
    const head = JSON.parse(lines[5]!) as { hash: string };
    expect(await run(golden)).toEqual({
      code: 0,
      out: [`OK: 6 events verified, chain head sequence 6 hash ${head.hash}`],
      err: [],
    });
  });

  it("accepts an empty export", async () => {
    const result = await run(await file("empty.ndjson", ""));
    expect(result.code).toBe(0);
    expect(result.out[0]).toBe(`OK: 0 events verified, chain head sequence 0 hash ${"0".repeat(64)}`);
  });

  it("exits 1 and names the sequence and reason of a tampered event", async () => {
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const altered = events.map((e, i) => (i === 4 ? { ...e, result: "ALLOW" } : e));
    const result = await run(await file("altered.ndjson", altered.map((e) => canonicalJson(e)).join("\n")));
    expect(result.code).toBe(1);
    expect(result.out).toHaveLength(1);
    expect(result.out[0]).toMatch(
      /^INVALID at sequence 5: hash_mismatch — Hash chain integrity compromised: event 5/,
    );

    const deleted = await run(await file("deleted.ndjson", lines.filter((_, i) => i !== 2).join("\n")));
    expect(deleted.code).toBe(1);
    expect(deleted.out[0]).toMatch(/^INVALID at sequence 3: sequence_gap — .*event 3 is missing/);

    const relinked = events.map((e, i) => (i === 3 ? { ...e, previousHash: events[1]!.hash } : e));
    const broken = await run(
      await file("relinked.ndjson", relinked.map((e) => JSON.stringify(e, null, 0)).join("\r\n")),
    );
    expect(broken.code).toBe(1);
    expect(broken.out[0]).toMatch(/^INVALID at sequence 4: broken_link — /);

    const garbled = await run(
      await file("garbled.ndjson", [...lines.slice(0, 2), "{not json", ...lines.slice(3)].join("\n")),
    );
    expect(garbled.code).toBe(1);
    expect(garbled.out[0]).toMatch(/^INVALID at sequence 3: hash_mismatch — .*line 3: not valid JSON/);
  });

  it("exits 2 on usage and I/O errors", async () => {
    const missing = await run(join(dir, "nope.ndjson"));
    expect(missing.code).toBe(2);
    expect(missing.out).toEqual([]);
    expect(missing.err[0]).toMatch(/cannot read .*nope\.ndjson/);
    const folder = join(dir, "folder.ndjson");
    await mkdir(folder);
    expect((await run(folder)).code).toBe(2);
    expect((await run("")).code).toBe(2);
  });
});
