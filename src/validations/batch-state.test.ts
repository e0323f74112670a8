import { describe, expect, it } from "vitest";
import { assumedState, type BatchTail, type LockedState, sameState } from "./batch-state.js";

const A = "a".repeat(64);
const B = "b".repeat(64);

const tail: BatchTail = {
  head: { sequence: 10, hash: A },
  usage: new Map([
    ["k1", "100.50"],
    ["k2", "0"],
  ]),
  requestIds: new Set(["r1", "r2"]),
};

function locked(overrides: Partial<LockedState> = {}): LockedState {
  return {
    head: { sequence: 10, hash: A },
    stored: new Map(),
    usage: new Map([
      ["k1", "100.5"],
      ["k2", "0.00"],
    ]),
    ...overrides,
  };
}

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

describe("sameState", () => {
  const planned = assumedState(tail, { requestIds: ["r3"], counterKeys: ["k1", "k2"] })!;

  it("accepts the same head, no stored answers and numerically equal counters", () => {
    expect(sameState(planned, locked(), ["k1", "k2"])).toBe(true);
  });

  it("rejects another head: the previous batch rolled back, or another instance committed", () => {
    expect(sameState(planned, locked({ head: { sequence: 10, hash: B } }), ["k1", "k2"])).toBe(false);
    expect(sameState(planned, locked({ head: { sequence: 11, hash: A } }), ["k1", "k2"])).toBe(false);
  });

  it("rejects a stored answer for one of the batch's request ids", () => {
    const stored = new Map([["r3", { requestHash: "h", response: "{}" }]]);
    expect(sameState(planned, locked({ stored }), ["k1", "k2"])).toBe(false);
  });

  it("rejects a counter that moved, even by one cent", () => {
    const usage = new Map([
      ["k1", "100.51"],
      ["k2", "0"],
    ]);
    expect(sameState(planned, locked({ usage }), ["k1", "k2"])).toBe(false);
    // A counter outside the batch's keys does not matter.
    expect(sameState(planned, locked({ usage }), ["k2"])).toBe(true);
  });
});
