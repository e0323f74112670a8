import { describe, expect, it } from "vitest";
import { createCommitQueue } from "./commit-queue.js";

/** A batch runner whose batches the test releases and finishes by hand. */
function manualRunner() {
  const batches: { jobs: number[]; release: () => void; finish: () => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const runBatch = (_key: string, jobs: number[], release: () => void) =>
    new Promise<number[]>((resolve) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      batches.push({
        jobs,
        release,
        finish: () => {
          inFlight--;
          resolve(jobs.map((j) => j * 10));
        },
      });
    });
  return { batches, runBatch, maxInFlight: () => maxInFlight };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("commit queue", () => {
  it("starts the next batch when the running one releases, never more than two at once", async () => {
    const runner = manualRunner();
    const queue = createCommitQueue<number, number>({
      maxBatch: 2,
      runBatch: runner.runBatch,
      isRetryable: () => false,
      isJobSpecific: () => false,
      maxRetries: 0,
    });
    // The first job starts a batch on its own at once; the rest queue behind it.
    const results = [1, 2, 3, 4, 5, 6].map((j) => queue.submit("t", j));
    await tick();
    expect(runner.batches.map((b) => b.jobs)).toEqual([[1]]);
    runner.batches[0]!.release();
    await tick();
    expect(runner.batches.map((b) => b.jobs)).toEqual([[1], [2, 3]]);
    // The second batch releases too, but the first has not finished: no third batch yet.
    runner.batches[1]!.release();
    await tick();
    expect(runner.batches).toHaveLength(2);
    runner.batches[0]!.finish();
    await tick();
    expect(runner.batches.map((b) => b.jobs)).toEqual([[1], [2, 3], [4, 5]]);
    runner.batches[1]!.finish();
    runner.batches[2]!.finish();
    await tick();
    expect(runner.batches.map((b) => b.jobs)).toEqual([[1], [2, 3], [4, 5], [6]]);
    runner.batches[3]!.finish();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(runner.maxInFlight()).toBe(2);
  });

  it("runs the next batch after the last one finished even if it never released", async () => {
    const runner = manualRunner();
    const queue = createCommitQueue<number, number>({
      maxBatch: 10,
      runBatch: runner.runBatch,
      isRetryable: () => false,
      isJobSpecific: () => false,
      maxRetries: 0,
    });
    const first = queue.submit("t", 1);
    await tick();
    const second = queue.submit("t", 2);
    await tick();
    expect(runner.batches).toHaveLength(1);
    runner.batches[0]!.finish();
    await tick();
    expect(runner.batches.map((b) => b.jobs)).toEqual([[1], [2]]);
    runner.batches[1]!.finish();
    expect(await Promise.all([first, second])).toEqual([10, 20]);
  });

  it("loses no job that arrives while the last batch commits", async () => {
    const runner = manualRunner();
    const queue = createCommitQueue<number, number>({
      maxBatch: 10,
      runBatch: runner.runBatch,
      isRetryable: () => false,
      isJobSpecific: () => false,
      maxRetries: 0,
    });
    const first = queue.submit("t", 1);
    await tick();
    runner.batches[0]!.release();
    await tick();
    // Released with nothing pending: the pump now waits for the batch to finish.
    const late = queue.submit("t", 2);
    await tick();
    runner.batches[0]!.finish();
    await tick();
    expect(runner.batches.map((b) => b.jobs)).toEqual([[1], [2]]);
    runner.batches[1]!.finish();
    expect(await Promise.all([first, late])).toEqual([10, 20]);
    await queue.drain();
  });

  it("keeps keys independent", async () => {
    const runner = manualRunner();
    const queue = createCommitQueue<number, number>({
      maxBatch: 10,
      runBatch: runner.runBatch,
      isRetryable: () => false,
      isJobSpecific: () => false,
      maxRetries: 0,
    });
    const a = queue.submit("a", 1);
    const b = queue.submit("b", 2);
    await tick();
    expect(runner.batches.map((x) => x.jobs)).toEqual([[1], [2]]);
    for (const batch of runner.batches) batch.finish();
    expect(await Promise.all([a, b])).toEqual([10, 20]);
  });
});
