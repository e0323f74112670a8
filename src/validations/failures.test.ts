import { describe, expect, it } from "vitest";
import { isInfrastructureFailure } from "./failures.js";

describe("isInfrastructureFailure", () => {
  it("treats lost connections, timeouts and resource SQLSTATEs as infrastructure", () => {
    for (const err of [
      Object.assign(new Error("x"), { code: "ECONNREFUSED" }),
      Object.assign(new Error("x"), { code: "CONNECTION_CLOSED" }),
      new Error("commit did not complete within 5000 ms"),
      Object.assign(new Error("x"), { code: "08006" }),
      Object.assign(new Error("x"), { code: "57P01" }),
      Object.assign(new Error("x"), { code: "53300" }),
      new Error("wrapped", { cause: Object.assign(new Error("x"), { code: "40P01" }) }),
    ]) {
      expect(isInfrastructureFailure(err), String(err)).toBe(true);
    }
  });

  it("never lets a bug or bad data become a degraded ALLOW", () => {
    for (const err of [
      new TypeError("undefined is not a function"),
      new RangeError("Maximum call stack size exceeded"),
      Object.assign(new Error("x"), { code: "22P05" }),
      Object.assign(new Error("x"), { code: "23505" }),
      new Error("wrapped", { cause: Object.assign(new Error("x"), { code: "22021" }) }),
    ]) {
      expect(isInfrastructureFailure(err), String(err)).toBe(false);
    }
  });
});
