/** One NDJSON export line → the {@link EventRecord} the chain verifier consumes. */
import { isUtf8 } from "node:buffer";
import { digestCanonicalEventLine } from "./canonical-line.js";
import { type EventRecord, toEventRecord } from "./chain.js";

/** A line of an NDJSON stream that is not valid JSON. */
export class NdjsonSyntaxError extends Error {
  constructor(
    readonly lineNumber: number,
    detail: string,
  ) {
    super(`line ${lineNumber}: ${detail}`);
    this.name = "NdjsonSyntaxError";
  }
}

/** Parses one line; throws {@link NdjsonSyntaxError} naming the line. */
export function parseLine(buf: Buffer, start: number, end: number, lineNumber: number): unknown {
  const bytes = buf.subarray(start, end);
  if (!isUtf8(bytes)) throw new NdjsonSyntaxError(lineNumber, "not valid UTF-8");
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new NdjsonSyntaxError(
      lineNumber,
      `not valid JSON (${err instanceof Error ? err.message : String(err)})`,
    );
  }
}

/**
 * Reduces one export line to its {@link EventRecord}: straight from the bytes when the line is
 * canonical, else through JSON.parse and canonicalJson. Never throws.
 */
export function recordOfLine(buf: Buffer, start: number, end: number, lineNumber: number): EventRecord {
  const digested = digestCanonicalEventLine(buf, start, end);
  if (digested) return digested;
  let event: unknown;
  try {
    event = parseLine(buf, start, end, lineNumber);
  } catch (err) {
    return { kind: "unreadable", message: err instanceof Error ? err.message : String(err) };
  }
  return toEventRecord(event);
}
