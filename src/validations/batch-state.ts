/**
 * The state a validation batch decides against, and how a batch may decide against its
 * predecessor's results before its own locks are granted (see `runValidationBatch`).
 */
import type { ChainHeadRow } from "../audit/audit.store.js";
import type { StoredAnswer } from "./validations.store.js";

/**
 * What a batch leaves behind for the next one of its tenant: the chain head after its events, the
 * counters it locked as it leaves them, and its request ids. The next batch decides against this
 * while the batch commits, and keeps that work only if the state it then locks is the same.
 */
export interface BatchTail {
  head: ChainHeadRow;
  usage: ReadonlyMap<string, string>;
  requestIds: ReadonlySet<string>;
  /**
   * Set by the batch that released this tail when it then found its own assumption stale and had
   * to decide again: whatever was decided against this tail is stale too.
   */
  superseded?: boolean;
  /**
   * Batches in a row, up to this one, that did not write a plan made in advance (it was stale,
   * or not tried; see {@link planAhead}).
   */
  misses?: number;
}

/** After two misses in a row, one batch in this many still tries. */
const RETRY_EVERY = 16;

/**
 * Whether a batch should decide in advance against this tail. Another instance appending to the
 * same chain makes every such plan stale, and each stale plan costs a round trip before the batch
 * is decided again under locks; so after two misses in a row only one batch in 16 tries, until
 * one succeeds.
 */
export function planAhead(tail: BatchTail | null): boolean {
  if (!tail) return false;
  const misses = tail.misses ?? 0;
  return misses < 2 || misses % RETRY_EVERY === 0;
}

/** How a batch meets its neighbours in the commit queue (see `Handoff` there). */
export interface BatchHandoff {
  /** The previous batch's tail (null if it failed before releasing one). */
  assumed: BatchTail | null;
  /** Settles when the previous batch has finished. */
  turn: Promise<void>;
  /** Called once this batch has sent its writes (before it commits), with its tail. */
  release: (tail: BatchTail) => void;
}

export interface LockedState {
  head: ChainHeadRow;
  stored: ReadonlyMap<string, StoredAnswer>;
  usage: ReadonlyMap<string, string>;
}

/** The jobs' facts this module needs: their request ids and counter keys. */
export interface BatchKeys {
  requestIds: readonly string[];
  counterKeys: readonly string[];
}

/**
 * The previous batch's tail, as the state to decide against before the locks are granted; null
 * when it cannot stand for the locked state (a counter it did not lock, a request id it held).
 */
export function assumedState(assumed: BatchTail | null, keys: BatchKeys): LockedState | null {
  if (!assumed) return null;
  for (const key of keys.counterKeys) if (!assumed.usage.has(key)) return null;
  for (const id of keys.requestIds) if (assumed.requestIds.has(id)) return null;
  return { head: assumed.head, stored: new Map(), usage: assumed.usage };
}
