import { createReadStream } from "node:fs";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  anyKey,
  chainArb,
  contextValue,
  draftArb,
  expectedReason,
  parsedCopy,
  type TamperKind,
  tamper,
} from "../../test/fixtures/audit/arbitraries.js";
import { canonicalJson, createChainVerifier, linkEvents, verifyEvents } from "./chain.js";
import { GENESIS_HASH } from "./event.js";
import { LineSplitter, LineTooLongError } from "./line-splitter.js";
import { NdjsonSyntaxError, readNdjsonEvents, verifyNdjsonFile, verifyNdjsonStream } from "./ndjson.js";
import { feedNdjsonParallel, resolveWorkerEntry } from "./parallel.js";
import { mergeSegmentReport, verifySegment } from "./segment.js";

/** Splits `bytes` into chunks at the given cut points, as a stream would deliver them. */
function chunked(bytes: Buffer, cuts: number[] = []): Readable {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    if (p > from) chunks.push(bytes.subarray(from, p));
    from = p;
  }
  return Readable.from(chunks, { objectMode: true });
}

async function collect(source: Readable): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const value of readNdjsonEvents(source)) out.push(value);
  return out;
}

const format = {
  canonical: (e: unknown) => canonicalJson(e),
  plain: (e: unknown) => JSON.stringify(e),
  pretty: (e: unknown) => JSON.stringify(e, null, 1).replace(/\n/g, ""),
};

/** Verifies lines cut into slices at `cuts`, each slice on its own, stitched like the worker pool does. */
function verifyBySlices(lines: string[], cuts: number[]) {
  const verifier = createChainVerifier();
  const points = [...new Set(cuts.map((c) => c % (lines.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  let lineNumber = 1;
  for (const p of [...points, lines.length]) {
    if (p <= from) continue;
    const slice = lines.slice(from, p);
    const report = verifySegment(Buffer.from(`${slice.join("\n")}\n`), lineNumber);
    lineNumber += slice.length;
    from = p;
    if (!mergeSegmentReport(verifier, report)) break;
  }
  return verifier.result();
}

describe("readNdjsonEvents", () => {
  it("yields each line's value whatever the chunk boundaries (multi-byte characters split too)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(contextValue, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.constantFrom("\n", "\r\n"),
        async (values, cuts, eol) => {
          const text = `\uFEFF${values.map((v) => JSON.stringify(v)).join(`${eol}${eol}`)}`;
          expect(await collect(chunked(Buffer.from(text), cuts))).toEqual(JSON.parse(JSON.stringify(values)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("names the line of a syntax error", async () => {
    const text = '{"a":1}\n\n{"b":\n{"c":3}\n';
    const error = await collect(chunked(Buffer.from(text), [3, 11])).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(NdjsonSyntaxError);
    expect((error as NdjsonSyntaxError).lineNumber).toBe(3);
    expect((error as Error).message).toMatch(/^line 3: not valid JSON/);
  });

  it("accepts string chunks and a last line without terminator", async () => {
    expect(await collect(Readable.from(['{"a"', ":1}\n[2", "]"]))).toEqual([{ a: 1 }, [2]]);
  });
});

describe("LineSplitter", () => {
  it("bounds the length of a line", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter(
      (buf, start, end) => {
        lines.push(buf.toString("utf8", start, end));
        return true;
      },
      { maxLineBytes: 8 },
    );
    splitter.push(Buffer.from("12345678\n1234"));
    splitter.push(Buffer.from("5678\r"));
    splitter.push(Buffer.from("\n123456789"));
    expect(lines).toEqual(["12345678", "12345678"]);
    expect(() => splitter.push(Buffer.from("\n"))).toThrow(LineTooLongError);
    const other = new LineSplitter(() => true, { maxLineBytes: 8 });
    expect(() => other.push(Buffer.from("1234567890"))).toThrow(/line 1 is longer than 8 bytes/);
  });
});

describe("verifyNdjsonStream", () => {
  it("verifies untouched exports in any formatting and chunking", async () => {
    await fc.assert(
      fc.asyncProperty(
        chainArb(20),
        fc.constantFrom(...(Object.keys(format) as (keyof typeof format)[])),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (chain, style, cuts) => {
          const text = `${chain.map(format[style]).join("\n")}\n`;
          const result = await verifyNdjsonStream(chunked(Buffer.from(text), cuts));
          expect(result).toEqual({ isValid: true, totalChecked: chain.length, message: expect.any(String) });
        },
      ),
      { numRuns: 150 },
    );
  });

  it("reports exactly what the in-memory verifier reports for any single change, in-thread and sliced", async () => {
    const tamperCase = chainArb(20).chain((chain) =>
      fc.record({
        chain: fc.constant(chain),
        index: fc.nat({ max: chain.length - 1 }),
        kind: fc.constantFrom<TamperKind>("replace", "delete", "add"),
        pick: fc.nat(),
        value: fc.oneof(contextValue, fc.integer()),
        key: anyKey,
        style: fc.constantFrom(...(Object.keys(format) as (keyof typeof format)[])),
        cuts: fc.array(fc.nat(), { maxLength: 6 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(tamperCase, async ({ chain, index, kind, pick, value, key, style, cuts }) => {
        const events = parsedCopy(chain);
        const field = tamper(events[index]!, kind, pick, value, key);
        fc.pre(field !== null);
        const expected = verifyEvents(events);
        expect(expected).toEqual(
          expect.objectContaining({ firstInvalidSequence: index + 1, reason: expectedReason(field!) }),
        );
        const lines = events.map(format[style]);
        const text = Buffer.from(`${lines.join("\n")}\n`);
        expect(await verifyNdjsonStream(chunked(text, cuts))).toEqual(expected);
        expect(verifyBySlices(lines, cuts)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it("stitches slices into the sequential result for deletions, insertions and swaps too", () => {
    fc.assert(
      fc.property(
        chainArb(30).filter((c) => c.length >= 2),
        fc.nat(),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 6 }),
        (chain, a, b, cuts) => {
          const i = a % chain.length;
          const j = b % chain.length;
          const variants = [
            chain.filter((_, n) => n !== i),
            [...chain.slice(0, i), chain[j]!, ...chain.slice(i)],
            chain.map((e, n) => (n === i ? chain[j]! : n === j ? chain[i]! : e)),
            chain,
          ];
          for (const variant of variants) {
            const lines = variant.map(format.canonical);
            expect(verifyBySlices(lines, cuts)).toEqual(verifyEvents(variant));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("fails a malformed line as hash_mismatch at the sequence it occupies", async () => {
    const chain = linkEvents(null, fc.sample(draftArb, { numRuns: 4, seed: 3 }));
    const lines = chain.map(format.canonical);
    for (const [bad, detail] of [
      ['{"truncated":', "line 3: not valid JSON"],
      ["[1,2]", "not a JSON object"],
      ["\u00ff", "not valid JSON"],
    ] as const) {
      const text = `${[lines[0], lines[1], bad, lines[3]].join("\n")}\n`;
      const result = await verifyNdjsonStream(Readable.from([text]));
      expect(result).toEqual(
        expect.objectContaining({ isValid: false, firstInvalidSequence: 3, totalChecked: 3 }),
      );
      expect(result.reason).toBe("hash_mismatch");
      expect(result.message).toContain(detail);
    }
    const invalidUtf8 = Buffer.concat([Buffer.from(`${lines[0]}\n`), Buffer.from([0x7b, 0xff, 0x7d, 0x0a])]);
    const result = await verifyNdjsonStream(Readable.from([invalidUtf8]));
    expect(result).toEqual(expect.objectContaining({ firstInvalidSequence: 2, reason: "hash_mismatch" }));
    expect(result.message).toContain("line 2: not valid UTF-8");
  });

  it("verifies an empty export and honours anchors", async () => {
    expect(await verifyNdjsonStream(Readable.from([]))).toEqual(
      expect.objectContaining({ isValid: true, totalChecked: 0 }),
    );
    const chain = linkEvents(null, fc.sample(draftArb, { numRuns: 3, seed: 9 }));
    const tail = `${chain.slice(1).map(format.canonical).join("\n")}\n`;
    const anchored = await verifyNdjsonStream(Readable.from([tail]), {
      expectFirstSequence: 2,
      expectPreviousHash: chain[0]!.hash,
    });
    expect(anchored.isValid).toBe(true);
    const unanchored = await verifyNdjsonStream(Readable.from([tail]), { expectFirstSequence: 2 });
    expect(unanchored).toEqual(expect.objectContaining({ firstInvalidSequence: 2, reason: "broken_link" }));
    expect(unanchored.message).toContain(GENESIS_HASH);
  });
});

describe("verifyNdjsonStream with worker threads", () => {
  let dir: string;
  let lines: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "verdict-ndjson-"));
    // About 1.5 KB per event: 3000 events make several 1 MiB slices.
    const drafts = fc
      .sample(draftArb, { numRuns: 3000, seed: 11 })
      .map((d) => ({ ...d, metadata: { pad: "x".repeat(1500) } }));
    lines = linkEvents(null, drafts).map(format.canonical);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("gives the in-thread result on a multi-slice export, valid or tampered", async () => {
    // From source the workers run the .ts entry through tsx; a null entry would mean in-thread.
    expect(resolveWorkerEntry()).not.toBeNull();
    const valid = join(dir, "valid.ndjson");
    await writeFile(valid, `${lines.join("\n")}\n`);
    const tampered = join(dir, "tampered.ndjson");
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    events[2500]!.resourceId = "forged";
    await writeFile(tampered, events.map(format.canonical).join("\n"));
    const entry = resolveWorkerEntry()!;
    for (const file of [valid, tampered]) {
      const inThread = await verifyNdjsonStream(createReadStream(file, { highWaterMark: 64 * 1024 }));
      const parallel = await verifyNdjsonStream(createReadStream(file, { highWaterMark: 64 * 1024 }), {
        workers: 2,
      });
      expect(parallel).toEqual(inThread);
      // Every slice through the workers (no in-thread help while they start).
      const verifier = createChainVerifier();
      await feedNdjsonParallel(createReadStream(file), verifier, entry, 2, { waitForWorkers: true });
      expect(verifier.result()).toEqual(inThread);
      // Straight from the file into the slices, as the CLI reads it.
      expect(await verifyNdjsonFile(file, { workers: 2 })).toEqual(inThread);
      expect(await verifyNdjsonFile(file)).toEqual(inThread);
      const fromFile = createChainVerifier();
      const handle = await open(file, "r");
      try {
        await feedNdjsonParallel(handle, fromFile, entry, 2, { waitForWorkers: true });
      } finally {
        await handle.close();
      }
      expect(fromFile.result()).toEqual(inThread);
    }
    expect(await verifyNdjsonStream(createReadStream(tampered), { workers: 2 })).toEqual(
      expect.objectContaining({
        isValid: false,
        firstInvalidSequence: 2501,
        reason: "hash_mismatch",
        totalChecked: 2501,
      }),
    );
  });
});
