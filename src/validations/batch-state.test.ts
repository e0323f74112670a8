import { describe, expect, it } from "vitest";
import { assumedState, type BatchTail } from "./batch-state.js";

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
