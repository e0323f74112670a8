import { describe, expect, it } from "vitest";
import { assumedState, type BatchTail, planAhead } from "./batch-state.js";

const A = "a".repeat(64);

const tail: BatchTail = {
  head: { sequence: 10, hash: A },
  usage: new Map([
    ["k1", "100.50"],
    ["k2", "0"],
  ]),
  requestIds: new Set(["r1", "r2"]),
};

describe("assumedState", () => {
  it("stands in for the locked state when the previous batch locked every counter and held none of the ids", () => {
    expect(assumedState(tail, { requestIds: ["r3"], counterKeys: ["k1", "k2"] })).toEqual({
      head: tail.head,
      stored: new Map(),
      usage: tail.usage,
    });
    expect(assumedState(tail, { requestIds: ["r3"], counterKeys: [] })).not.toBeNull();
  });

  it("is null without a tail, for a counter the previous batch did not lock, or a request id it held", () => {
    expect(assumedState(null, { requestIds: ["r3"], counterKeys: ["k1"] })).toBeNull();
    expect(assumedState(tail, { requestIds: ["r3"], counterKeys: ["k1", "k3"] })).toBeNull();
    expect(assumedState(tail, { requestIds: ["r3", "r2"], counterKeys: ["k1"] })).toBeNull();
  });
});

describe("planAhead", () => {
  it("plans against a tail until two batches in a row missed, then in one batch of 16", () => {
    expect(planAhead(null)).toBe(false);
    expect(planAhead(tail)).toBe(true);
    expect(planAhead({ ...tail, misses: 1 })).toBe(true);
    expect(planAhead({ ...tail, misses: 2 })).toBe(false);
    expect(planAhead({ ...tail, misses: 15 })).toBe(false);
    expect(planAhead({ ...tail, misses: 16 })).toBe(true);
    expect(planAhead({ ...tail, misses: 17 })).toBe(false);
  });
});
