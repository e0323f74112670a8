/**
 * NDJSON audit exports (one event per line, in sequence order): reading and offline verification
 * with constant memory, whatever the size of the export.
 */
import { open } from "node:fs/promises";
import {
  type ChainVerifier,
  type ChainVerifierOptions,
  createChainVerifier,
  type VerifyResult,
} from "./chain.js";
import { parseLine, recordOfLine } from "./line-record.js";
import { LineSplitter, LineTooLongError, toBuffer } from "./line-splitter.js";
import { feedNdjsonParallel, resolveWorkerEntry, type WorkerEntry } from "./parallel.js";

export { NdjsonSyntaxError } from "./line-record.js";

/** A stream of NDJSON bytes: a Node Readable, or any async iterable of chunks. */
export type NdjsonSource = AsyncIterable<unknown>;

/**
 * Yields the JSON value of each non-blank line. Throws {@link NdjsonSyntaxError} (with the line
 * number) on a malformed line. Memory is bounded by the chunk size plus the longest line.
 */
export async function* readNdjsonEvents(source: NdjsonSource): AsyncGenerator<unknown, void, undefined> {
  let batch: unknown[] = [];
  const splitter = new LineSplitter((buf, start, end, lineNumber) => {
    batch.push(parseLine(buf, start, end, lineNumber));
    return true;
  });
  for await (const chunk of source) {
    splitter.push(toBuffer(chunk));
    // Values are collected per chunk: one yield per line would cost more than the parse.
    const ready = batch;
    batch = [];
    yield* ready;
  }
  splitter.end();
  yield* batch;
}

/** How an export is read. */
export interface NdjsonReadOptions {
  /**
   * Worker threads hashing in parallel (0, the default: all in this thread). Worth it from a few
   * MB up; ignored when the worker entry cannot be loaded.
   */
  workers?: number;
}

/** The workers asked for, if there are any and their entry can be loaded. */
function workerPool(options: NdjsonReadOptions): { entry: WorkerEntry; workers: number } | null {
  const workers = options.workers ?? 0;
  const entry = workers > 0 ? resolveWorkerEntry() : null;
  return entry ? { entry, workers } : null;
}

/**
 * Pushes every line of an export into `verifier`, and stops reading at the chain's first failure.
 * Lines already in canonical form are hashed straight from their bytes; any other line is parsed
 * and re-canonicalized, so the outcome never depends on formatting. A line that cannot be read
 * (invalid UTF-8 or JSON, or over the line-length limit) fails as `hash_mismatch` at the
 * sequence it occupies, since its content cannot be what was hashed.
 * Stream errors (I/O) are thrown.
 */
export async function feedNdjson(
  source: NdjsonSource,
  verifier: ChainVerifier,
  options: NdjsonReadOptions = {},
): Promise<void> {
  const parallel = workerPool(options);
  if (parallel) return feedNdjsonParallel(source, verifier, parallel.entry, parallel.workers);
  const splitter = new LineSplitter((buf, start, end, lineNumber) => {
    return verifier.pushRecord(recordOfLine(buf, start, end, lineNumber)) === null;
  });
  try {
    for await (const chunk of source) {
      splitter.push(toBuffer(chunk));
      // Leaving the loop destroys a Readable: nothing after the first failure is read.
      if (splitter.done) return;
    }
    splitter.end();
  } catch (err) {
    if (!(err instanceof LineTooLongError)) throw err;
    verifier.pushRecord({ kind: "unreadable", message: err.message });
  }
}

/**
 * {@link feedNdjson} over a file. With workers, the file is read straight into the slices handed
 * to them, which spares the main thread a copy of every byte.
 */
export async function feedNdjsonFile(
  path: string,
  verifier: ChainVerifier,
  options: NdjsonReadOptions = {},
): Promise<void> {
  const parallel = workerPool(options);
  const file = await open(path, "r");
  try {
    if (parallel) return await feedNdjsonParallel(file, verifier, parallel.entry, parallel.workers);
    return await feedNdjson(
      file.createReadStream({ highWaterMark: 1024 * 1024, autoClose: false }),
      verifier,
    );
  } finally {
    await file.close();
  }
}

/** Verifies an NDJSON export (see {@link feedNdjson} and `createChainVerifier` for the rules). */
export async function verifyNdjsonStream(
  source: NdjsonSource,
  options: ChainVerifierOptions & NdjsonReadOptions = {},
): Promise<VerifyResult> {
  const verifier = createChainVerifier(options);
  await feedNdjson(source, verifier, options);
  return verifier.result();
}

/** Verifies an NDJSON export file (see {@link feedNdjsonFile}). */
export async function verifyNdjsonFile(
  path: string,
  options: ChainVerifierOptions & NdjsonReadOptions = {},
): Promise<VerifyResult> {
  const verifier = createChainVerifier(options);
  await feedNdjsonFile(path, verifier, options);
  return verifier.result();
}
