/**
 * Parallel verification of an NDJSON export: the main thread only cuts the stream into slices of
 * whole lines; worker threads hash and check each slice as a chain of its own (`segment.ts`); the
 * slices are stitched back in order with `ChainVerifier.adoptRun`, which gives exactly the
 * sequential result. Memory stays bounded: at most `2 × workers` slices are in flight.
 */
import { existsSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { ChainVerifier } from "./chain.js";
import { MAX_LINE_BYTES, toBuffer } from "./line-splitter.js";
import type { SegmentTask, WorkerMessage } from "./ndjson-worker.js";
import { mergeSegmentReport, type SegmentReport, verifySegment } from "./segment.js";

/** Slices are cut at the last line end after this many bytes: big enough to amortise messaging. */
const SLICE_BYTES = 1024 * 1024;

/** How to start a verification worker. */
export type WorkerEntry = () => Worker;

// Node 20 does not hand loader hooks to workers, so from source the worker registers tsx itself.
const TSX_BOOTSTRAP = `
const { workerData } = require("node:worker_threads");
import(workerData.tsx).then(({ register }) => { register(); return import(workerData.entry); });
`;

function resolveTsxApi(): string | null {
  try {
    return import.meta.resolve("tsx/esm/api");
  } catch {
    try {
      const cjs = createRequire(import.meta.url).resolve("tsx/esm/api");
      const esm = cjs.replace(/\.cjs$/, ".mjs");
      return existsSync(esm) ? pathToFileURL(esm).href : null;
    } catch {
      return null;
    }
  }
}

/**
 * How to start the worker: the compiled `.js` next to this file, or the `.ts` source through tsx
 * (a dev dependency) when running from source, as tests and benchmarks do. Null when neither is
 * available, in which case callers verify in-thread.
 */
export function resolveWorkerEntry(): WorkerEntry | null {
  const fromSource = import.meta.url.endsWith(".ts");
  const url = new URL(fromSource ? "./ndjson-worker.ts" : "./ndjson-worker.js", import.meta.url);
  if (url.protocol !== "file:" || !existsSync(fileURLToPath(url))) return null;
  if (!fromSource) return () => new Worker(url);
  const tsx = resolveTsxApi();
  if (!tsx) return null;
  return () => new Worker(TSX_BOOTSTRAP, { eval: true, workerData: { tsx, entry: url.href } });
}

interface Pending {
  resolve: (report: SegmentReport) => void;
  reject: (err: Error) => void;
}

class Pool {
  private readonly workers: Worker[] = [];
  /** Workers that have loaded their code, in the order they did. */
  private readonly ready: Worker[] = [];
  private readonly waiting = new Map<number, Pending>();
  private nextId = 0;
  private failed: Error | null = null;
  private readonly firstReady: Promise<void>;
  private settleFirstReady: { resolve: () => void; reject: (err: Error) => void } | null = null;

  /** `onReturn` gets each slice's buffer back once its worker is done with it. */
  constructor(entry: WorkerEntry, size: number, onReturn: (bytes: ArrayBuffer) => void) {
    this.firstReady = new Promise<void>((resolve, reject) => {
      this.settleFirstReady = { resolve, reject };
    });
    this.firstReady.catch(() => {});
    for (let i = 0; i < size; i++) {
      const worker = entry();
      worker.on("message", (msg: WorkerMessage) => {
        if ("ready" in msg) {
          this.ready.push(worker);
          this.settleFirstReady?.resolve();
          return;
        }
        const pending = this.waiting.get(msg.id);
        this.waiting.delete(msg.id);
        onReturn(msg.bytes);
        pending?.resolve(msg.report);
      });
      worker.on("error", (err) => this.fail(err));
      worker.on("exit", (code) => {
        if (code !== 0) this.fail(new Error(`audit verification worker exited with code ${code}`));
      });
      this.workers.push(worker);
    }
  }

  /** True once a worker can take slices. */
  get started(): boolean {
    return this.ready.length > 0;
  }

  /** Sends a slice (its buffer is transferred, not copied) to the next ready worker in turn. */
  async verify(bytes: Buffer, firstLineNumber: number): Promise<SegmentReport> {
    if (this.ready.length === 0) await this.firstReady;
    if (this.failed) throw this.failed;
    const id = this.nextId++;
    const worker = this.ready[id % this.ready.length]!;
    const task: SegmentTask = {
      id,
      bytes: bytes.buffer as ArrayBuffer,
      length: bytes.length,
      firstLineNumber,
    };
    return new Promise<SegmentReport>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage(task, [task.bytes]);
    });
  }

  private fail(err: Error): void {
    this.failed ??= err;
    this.settleFirstReady?.reject(err);
    for (const pending of this.waiting.values()) pending.reject(err);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    this.failed ??= new Error("pool closed");
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Accumulates stream chunks into slices that own their memory (so they can be transferred). */
class Slicer {
  /** Slice buffers back from the workers, reused so that memory does not churn. */
  private readonly spare: ArrayBuffer[] = [];
  private buf = this.allocate(SLICE_BYTES * 2);
  private length = 0;
  /** Lines handed out so far, for line numbers in messages. */
  lines = 0;

  get pending(): number {
    return this.length;
  }

  recycle(bytes: ArrayBuffer): void {
    if (this.spare.length < 8) this.spare.push(bytes);
  }

  private allocate(size: number): Buffer {
    const spare = this.spare.pop();
    if (spare && spare.byteLength >= size) return Buffer.from(spare);
    return Buffer.allocUnsafeSlow(Math.max(size, SLICE_BYTES * 2));
  }

  /**
   * Reads up to a slice's worth of the file straight into the slice buffer (no intermediate
   * chunk, no copy). Returns the number of bytes read, 0 at the end of the file.
   */
  async readFrom(file: FileHandle): Promise<number> {
    const needed = this.length + SLICE_BYTES;
    if (needed > this.buf.length) {
      const grown = this.allocate(Math.max(needed, this.buf.length * 2));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    const { bytesRead } = await file.read(this.buf, this.length, SLICE_BYTES, null);
    this.length += bytesRead;
    return bytesRead;
  }

  append(chunk: Buffer): void {
    const needed = this.length + chunk.length;
    if (needed > this.buf.length) {
      const grown = this.allocate(Math.max(needed, this.buf.length * 2));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.length);
    this.length = needed;
  }

  /** Cuts everything up to the last line end (or everything, terminated, when `final`). */
  take(final: boolean): { bytes: Buffer; firstLineNumber: number } | null {
    if (this.length === 0) return null;
    let end = this.buf.lastIndexOf(0x0a, this.length - 1) + 1;
    if (final && end < this.length) {
      this.append(Buffer.of(0x0a));
      end = this.length;
    }
    if (end === 0) return null;
    const bytes = this.buf.subarray(0, end);
    const rest = this.length - end;
    const next = this.allocate(rest);
    this.buf.copy(next, 0, end, this.length);
    this.buf = next;
    this.length = rest;
    const firstLineNumber = this.lines + 1;
    for (let p = bytes.indexOf(0x0a); p >= 0; p = bytes.indexOf(0x0a, p + 1)) this.lines++;
    return { bytes, firstLineNumber };
  }
}

/** Fills the slicer from a stream (copying its chunks) or a file (read in place); one step per read. */
async function* fill(source: AsyncIterable<unknown> | FileHandle, slicer: Slicer): AsyncGenerator<void> {
  if (Symbol.asyncIterator in source) {
    for await (const chunk of source) {
      slicer.append(toBuffer(chunk));
      yield;
    }
    return;
  }
  while ((await slicer.readFrom(source)) > 0) yield;
}

/**
 * Same contract as `feedNdjson`, with `workers` threads doing the hashing. Stops reading at the
 * chain's first failure. Throws on stream, file or worker errors.
 */
export async function feedNdjsonParallel(
  source: AsyncIterable<unknown> | FileHandle,
  verifier: ChainVerifier,
  entry: WorkerEntry,
  workers: number,
  options: { waitForWorkers?: boolean } = {},
): Promise<void> {
  const slicer = new Slicer();
  const pool = new Pool(entry, workers, (bytes) => slicer.recycle(bytes));
  const inFlight: Promise<SegmentReport>[] = [];
  const maxInFlight = workers * 2;
  const settle = async (): Promise<boolean> => mergeSegmentReport(verifier, await inFlight.shift()!);
  // Reports are consumed in slice order; an unobserved rejection must not crash the process.
  const send = (slice: { bytes: Buffer; firstLineNumber: number }): void => {
    // Until a worker has loaded (tens to hundreds of ms), this thread verifies slices itself
    // (tests can opt out to be sure the workers do the work).
    if (!pool.started && !options.waitForWorkers) {
      inFlight.push(Promise.resolve(verifySegment(slice.bytes, slice.firstLineNumber)));
      slicer.recycle(slice.bytes.buffer as ArrayBuffer);
      return;
    }
    const report = pool.verify(slice.bytes, slice.firstLineNumber);
    report.catch(() => {});
    inFlight.push(report);
  };
  try {
    for await (const _ of fill(source, slicer)) {
      if (slicer.pending < SLICE_BYTES) continue;
      const slice = slicer.take(false);
      if (!slice) {
        if (slicer.pending > MAX_LINE_BYTES) {
          // Settle what precedes the overlong line so the failure lands at its sequence.
          while (inFlight.length > 0) if (!(await settle())) return;
          verifier.pushRecord({
            kind: "unreadable",
            message: `line ${slicer.lines + 1} is longer than ${MAX_LINE_BYTES} bytes`,
          });
          return;
        }
        continue;
      }
      while (inFlight.length >= maxInFlight) if (!(await settle())) return;
      send(slice);
    }
    const last = slicer.take(true);
    if (last) send(last);
    while (inFlight.length > 0) if (!(await settle())) return;
  } finally {
    await pool.close();
  }
}
