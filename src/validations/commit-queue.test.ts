import { describe, expect, it } from "vitest";
import { createCommitQueue, type Handoff } from "./commit-queue.js";

/**
 * A batch runner driven by hand: a batch is "started" when the queue calls it (it may decide
 * then), "active" once its turn has come (it would hold a transaction), and the test releases
 * and finishes it.
 */
function manualRunner() {
  const batches: {
    jobs: number[];
    assumed: string | null;
    active: boolean;
    release: () => void;
    finish: () => void;
  }[] = [];
  let active = 0;
  let maxActive = 0;
  const runBatch = async (_key: string, jobs: number[], handoff: Handoff<string>) => {
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const batch = {
      jobs,
      assumed: handoff.assumed,
      active: false,
      release: () => handoff.release(`tail of ${jobs.join(",")}`),
      finish,
    };
    batches.push(batch);
    await handoff.turn;
    batch.active = true;
    active++;
    maxActive = Math.max(maxActive, active);
    await finished;
    active--;
    return jobs.map((j) => j * 10);
  };
  return { batches, runBatch, maxActive: () => maxActive };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

function queueOf(runner: ReturnType<typeof manualRunner>, maxBatch: number) {
  return createCommitQueue<number, number, string>({
    maxBatch,
    runBatch: runner.runBatch,
    isRetryable: () => false,
    isJobSpecific: () => false,
    maxRetries: 0,
  });
}

describe("commit queue", () => {
  it("starts the next batch when the running one releases; its turn comes when that one finishes", async () => {
    const runner = manualRunner();
    const queue = queueOf(runner, 2);
    // The first job starts a batch on its own at once; the rest queue behind it.
    const results = [1, 2, 3, 4, 5, 6].map((j) => queue.submit("t", j));
    await settle();
    expect(runner.batches.map((b) => b.jobs)).toEqual([[1]]);
    runner.batches[0]!.release();
    await settle();
    expect(runner.batches.map((b) => b.jobs)).toEqual([[1], [2, 3]]);
    expect(runner.batches[1]!.assumed).toBe("tail of 1");
    expect(runner.batches[1]!.active).toBe(false);
    // No third batch until the second has released, which it can only do in its turn.
    runner.batches[0]!.finish();
    await settle();
    expect(runner.batches[1]!.active).toBe(true);
    expect(runner.batches).toHaveLength(2);
    runner.batches[1]!.release();
    await settle();
    expect(runner.batches.map((b) => b.jobs)).toEqual([[1], [2, 3], [4, 5]]);
    expect(runner.batches[2]!.assumed).toBe("tail of 2,3");
    runner.batches[1]!.finish();
    await settle();
    runner.batches[2]!.finish(); // finishes without releasing: the next batch assumes nothing
    await settle();
    expect(runner.batches.map((b) => b.jobs)).toEqual([[1], [2, 3], [4, 5], [6]]);
    expect(runner.batches[3]!.assumed).toBeNull();
    runner.batches[3]!.finish();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(runner.maxActive()).toBe(1);
  });

  it("runs the next batch after the last one finished even if it never released", async () => {
    const runner = manualRunner();
    const queue = queueOf(runner, 10);
    const first = queue.submit("t", 1);
    await settle();
    const second = queue.submit("t", 2);
    await settle();
    expect(runner.batches).toHaveLength(1);
    runner.batches[0]!.finish();
    await settle();
    expect(runner.batches.map((b) => b.jobs)).toEqual([[1], [2]]);
    runner.batches[1]!.finish();
    expect(await Promise.all([first, second])).toEqual([10, 20]);
  });

  it("loses no job that arrives while the last batch commits", async () => {
    const runner = manualRunner();
    const queue = queueOf(runner, 10);
    const first = queue.submit("t", 1);
    await settle();
    runner.batches[0]!.release();
    await settle();
    // Released with nothing pending: the pump now waits for the batch to finish.
    const late = queue.submit("t", 2);
    await settle();
    runner.batches[0]!.finish();
    await settle();
    expect(runner.batches.map((b) => b.jobs)).toEqual([[1], [2]]);
    runner.batches[1]!.finish();
    expect(await Promise.all([first, late])).toEqual([10, 20]);
    await queue.drain();
  });

  it("keeps keys independent", async () => {
    const runner = manualRunner();
    const queue = queueOf(runner, 10);
    const a = queue.submit("a", 1);
    const b = queue.submit("b", 2);
    await settle();
    expect(runner.batches.map((x) => [x.jobs, x.active])).toEqual([
      [[1], true],
      [[2], true],
    ]);
    for (const batch of runner.batches) batch.finish();
    expect(await Promise.all([a, b])).toEqual([10, 20]);
  });

  it("hands a key's first batch after a pause the tail its last batch released", async () => {
    const runner = manualRunner();
    const queue = queueOf(runner, 10);
    const first = queue.submit("t", 1);
    await settle();
    runner.batches[0]!.release();
    runner.batches[0]!.finish();
    await first;
    await queue.drain();
    const later = queue.submit("t", 2);
    await settle();
    expect(runner.batches[1]!.assumed).toBe("tail of 1");
    runner.batches[1]!.finish(); // no release: the key forgets its tail
    await later;
    await queue.drain();
    const last = queue.submit("t", 3);
    await settle();
    expect(runner.batches[2]!.assumed).toBeNull();
    runner.batches[2]!.finish();
    await last;
  });
});
