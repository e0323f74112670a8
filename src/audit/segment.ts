/**
 * Verification of one slice of an export on its own, so slices can be checked in parallel and
 * stitched back together by `ChainVerifier.adoptRun` with exactly the sequential outcome.
 */
import { type ChainVerifier, createChainVerifier, type EventRecord, type VerifiedRun } from "./chain.js";
import { recordOfLine } from "./line-record.js";
import { LineSplitter, LineTooLongError } from "./line-splitter.js";

export type SegmentReport =
  /** No non-blank line. */
  | { kind: "empty" }
  /** The first line cannot start a run (unreadable or no usable position): the chain fails on it. */
  | { kind: "replay"; record: EventRecord }
  /** The slice verified from the position its first event claims; `first` settles a mismatch. */
  | { kind: "run"; first: EventRecord; run: VerifiedRun };

/**
 * Verifies the lines of `buf` (whole lines, each terminated by "\n") as a chain that starts where
 * its first event says it does. Stops at the first failure. Never throws on bad input.
 */
export function verifySegment(buf: Buffer, firstLineNumber: number): SegmentReport {
  const state: {
    first: EventRecord | null;
    claim: VerifiedRun["claim"] | null;
    verifier: ChainVerifier | null;
  } = {
    first: null,
    claim: null,
    verifier: null,
  };
  const take = (record: EventRecord): boolean => {
    if (!state.verifier) {
      state.first = record;
      if (
        record.kind === "unreadable" ||
        typeof record.sequence !== "number" ||
        !Number.isSafeInteger(record.sequence) ||
        typeof record.previousHash !== "string"
      ) {
        return false;
      }
      state.claim = { sequence: record.sequence, previousHash: record.previousHash };
      state.verifier = createChainVerifier({
        expectFirstSequence: record.sequence,
        expectPreviousHash: record.previousHash,
      });
    }
    return state.verifier.pushRecord(record) === null;
  };
  const splitter = new LineSplitter(
    (b, start, end, lineNumber) => take(recordOfLine(b, start, end, lineNumber)),
    {
      firstLineNumber,
    },
  );
  try {
    splitter.push(buf);
    splitter.end();
  } catch (err) {
    if (!(err instanceof LineTooLongError)) throw err;
    take({ kind: "unreadable", message: err.message });
  }
  const { first, claim, verifier } = state;
  if (first === null) return { kind: "empty" };
  if (verifier === null || claim === null) return { kind: "replay", record: first };
  const result = verifier.result();
  const failure =
    result.isValid || result.firstInvalidSequence === undefined || result.reason === undefined
      ? null
      : { firstInvalidSequence: result.firstInvalidSequence, reason: result.reason, message: result.message };
  return { kind: "run", first, run: { claim, checked: result.totalChecked, failure, head: verifier.head() } };
}

/**
 * Folds one slice's report into the chain, slices in order; false once the chain has failed.
 * A slice that does not start where the chain expects fails on its first event, exactly as a
 * sequential verifier would.
 */
export function mergeSegmentReport(verifier: ChainVerifier, report: SegmentReport): boolean {
  if (report.kind === "empty") return true;
  if (report.kind === "replay") return verifier.pushRecord(report.record) === null;
  if (!verifier.adoptRun(report.run)) return verifier.pushRecord(report.first) === null;
  return report.run.failure === null;
}
