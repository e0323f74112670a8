/**
 * Group commit per tenant. A tenant's validations are serialised by its audit chain anyway, so
 * instead of one transaction per request, every request that arrives while a commit is in flight
 * joins the next one: throughput grows with load and each caller still waits for its own durable
 * commit. An idle tenant commits a lone request at once (no batching window, no added latency).
 */
export interface CommitQueue<J, R> {
  submit(key: string, job: J): Promise<R>;
  /** Resolves once every queue is empty (used by graceful shutdown and tests). */
  drain(): Promise<void>;
}

interface Pending<J, R> {
  job: J;
  resolve: (value: R) => void;
  reject: (err: unknown) => void;
}

/** Passed from one batch of a key to the next (see `runBatch`). */
export interface Handoff<T> {
  /**
   * What the previous batch of the key released (null if it failed before releasing), possibly
   * long ago: the last tail of a key is kept while the key is idle.
   */
  assumed: T | null;
  /** Settles when the previous batch has finished: committed, rolled back or failed. */
  turn: Promise<void>;
  /** Lets the next batch start, handing it `tail`. */
  release: (tail: T) => void;
}

export interface CommitQueueOptions<J, R, T = unknown> {
  maxBatch: number;
  /**
   * Runs one batch in one transaction; returns one result per job, in order. It may call
   * `handoff.release` once it has sent its writes (it still has to commit): the next batch of the
   * key then starts, with what was released as its `assumed`, and may work on that while this one
   * commits. It must not touch the database before `handoff.turn`, and must check that what it
   * assumed is what it then finds: the previous batch may still fail.
   */
  runBatch: (key: string, jobs: J[], handoff: Handoff<T>) => Promise<R[]>;
  /** Errors worth retrying the same batch for (deadlock, serialization, unique race). */
  isRetryable: (err: unknown) => boolean;
  /**
   * Errors that can be one job's fault (a data error), worth isolating by re-running the batch's
   * jobs one by one. A lost connection fails every job alike, so it is not split.
   */
  isJobSpecific: (err: unknown) => boolean;
  maxRetries: number;
}

/** Keys whose last released tail is kept while they are idle; the oldest is forgotten first. */
const IDLE_TAILS_MAX = 1000;

export function createCommitQueue<J, R, T = unknown>(opts: CommitQueueOptions<J, R, T>): CommitQueue<J, R> {
  const queues = new Map<string, { pending: Pending<J, R>[]; running: boolean }>();
  // A key's first batch after a pause is handed the tail of its last one: `runBatch` must check
  // it anyway (the previous batch may have failed), so an old tail is as safe as a fresh one.
  const lastTails = new Map<string, T>();
  const remember = (key: string, tail: T | null) => {
    lastTails.delete(key);
    if (tail === null) return;
    lastTails.set(key, tail);
    if (lastTails.size > IDLE_TAILS_MAX) lastTails.delete(lastTails.keys().next().value as string);
  };
  const idleWaiters: (() => void)[] = [];

  async function runWithRetry(key: string, jobs: J[], handoff: Handoff<T>): Promise<R[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        // A retry cannot trust the previous batch's tail: its own first attempt may be what failed.
        return await opts.runBatch(key, jobs, attempt === 0 ? handoff : { ...handoff, assumed: null });
      } catch (err) {
        if (attempt >= opts.maxRetries || !opts.isRetryable(err)) throw err;
      }
    }
  }

  async function runBatch(key: string, batch: Pending<J, R>[], handoff: Handoff<T>): Promise<void> {
    try {
      const results = await runWithRetry(
        key,
        batch.map((p) => p.job),
        handoff,
      );
      for (const [i, p] of batch.entries()) p.resolve(results[i] as R);
    } catch (err) {
      if (batch.length === 1 || !opts.isJobSpecific(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      // One bad job must not fail its neighbours: retry each alone, so only the culprit fails.
      for (const p of batch) {
        try {
          const [result] = await runWithRetry(key, [p.job], { ...handoff, assumed: null });
          p.resolve(result as R);
        } catch (single) {
          p.reject(single);
        }
      }
    }
  }

  async function pump(key: string): Promise<void> {
    const q = queues.get(key);
    if (!q || q.running) return;
    q.running = true;
    try {
      // At most two batches of a key in flight: one writing and committing, the next one
      // deciding against what the first released, then waiting for its turn.
      let previous: Promise<void> = Promise.resolve();
      let tail: T | null = lastTails.get(key) ?? null;
      for (;;) {
        while (q.pending.length > 0) {
          const batch = q.pending.splice(0, opts.maxBatch);
          let release: (value: T | null) => void = () => {};
          const released = new Promise<T | null>((resolve) => {
            release = resolve;
          });
          const running = runBatch(key, batch, { assumed: tail, turn: previous, release }).finally(() =>
            release(null),
          );
          tail = await released;
          remember(key, tail);
          previous = running;
          // Let the released batch's writes reach its socket before the next one decides on this thread.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        await previous;
        // Jobs that arrived while the last batch committed.
        if (q.pending.length === 0) break;
      }
    } finally {
      q.running = false;
      queues.delete(key);
      if (queues.size === 0) for (const w of idleWaiters.splice(0)) w();
    }
  }

  return {
    submit(key, job) {
      return new Promise<R>((resolve, reject) => {
        let q = queues.get(key);
        if (!q) {
          q = { pending: [], running: false };
          queues.set(key, q);
        }
        q.pending.push({ job, resolve, reject });
        void pump(key);
      });
    },
    drain() {
      if (queues.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
