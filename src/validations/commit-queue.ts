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

export interface CommitQueueOptions<J, R> {
  maxBatch: number;
  /**
   * Runs one batch in one transaction; returns one result per job, in order. It may call
   * `release` once the batch holds everything it needs from the database (it still has to write
   * and commit): the next batch of the key then starts, so that its round trips overlap this
   * commit. `runBatch` must make that safe; the validation batch waits for the chain head lock
   * before it reads anything.
   */
  runBatch: (key: string, jobs: J[], release: () => void) => Promise<R[]>;
  /** Errors worth retrying the same batch for (deadlock, serialization, unique race). */
  isRetryable: (err: unknown) => boolean;
  /**
   * Errors that can be one job's fault (a data error), worth isolating by re-running the batch's
   * jobs one by one. A lost connection fails every job alike, so it is not split.
   */
  isJobSpecific: (err: unknown) => boolean;
  maxRetries: number;
}

export function createCommitQueue<J, R>(opts: CommitQueueOptions<J, R>): CommitQueue<J, R> {
  const queues = new Map<string, { pending: Pending<J, R>[]; running: boolean }>();
  const idleWaiters: (() => void)[] = [];

  async function runWithRetry(key: string, jobs: J[], release: () => void): Promise<R[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await opts.runBatch(key, jobs, release);
      } catch (err) {
        if (attempt >= opts.maxRetries || !opts.isRetryable(err)) throw err;
      }
    }
  }

  async function runBatch(key: string, batch: Pending<J, R>[], release: () => void): Promise<void> {
    try {
      const results = await runWithRetry(
        key,
        batch.map((p) => p.job),
        release,
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
          const [result] = await runWithRetry(key, [p.job], release);
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
      // At most two batches of a key in flight: one committing, the next one starting.
      let previous: Promise<void> = Promise.resolve();
      for (;;) {
        while (q.pending.length > 0) {
          const batch = q.pending.splice(0, opts.maxBatch);
          let release: () => void = () => {};
          const released = new Promise<void>((resolve) => {
            release = resolve;
          });
          const done = runBatch(key, batch, release).finally(release);
          await released;
          await previous;
          previous = done;
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
