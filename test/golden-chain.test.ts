import { createReadStream, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { canonicalJson, hashEventBody, verifyEvents } from "../src/audit/chain.js";
import type { AuditEvent } from "../src/audit/event.js";
import { verifyNdjsonStream } from "../src/audit/ndjson.js";
import { expectedOf, goldenChain } from "./fixtures/audit/golden-chain.js";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/audit/${name}`, import.meta.url));
const ndjsonPath = fixture("golden-chain.ndjson");
const lines = readFileSync(ndjsonPath, "utf8").trimEnd().split("\n");
const expected = JSON.parse(readFileSync(fixture("golden-chain.expected.json"), "utf8")) as ReturnType<
  typeof expectedOf
>;

describe("golden audit chain (hash formula version 1)", () => {
  it("holds six events, sequence 1..6, of every kind the contract names", () => {
    const events = lines.map((l) => JSON.parse(l) as AuditEvent);
    expect(events.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.map((e) => `${e.eventType}/${e.result}`)).toEqual([
      "RULE_CREATED/SUCCESS",
      "RULE_ACTIVATED/SUCCESS",
      "LIMIT_CREATED/SUCCESS",
      "TRANSACTION_VALIDATED/ALLOW",
      "TRANSACTION_VALIDATED/DENY",
      "TRANSACTION_VALIDATED/REVIEW",
    ]);
  });

  it("reproduces every frozen canonical body and hash", () => {
    expect(lines).toHaveLength(expected.events.length);
    lines.forEach((line, i) => {
      const event = JSON.parse(line) as AuditEvent;
      const { hash, ...body } = event;
      const frozen = expected.events[i]!;
      expect(frozen.sequence).toBe(event.sequence);
      expect(canonicalJson(body)).toBe(frozen.canonicalBody);
      expect(hashEventBody(body)).toBe(frozen.hash);
      expect(hash).toBe(frozen.hash);
      // Export lines are the canonical JSON of the whole event.
      expect(canonicalJson(event)).toBe(line);
    });
  });

  it("is what the sealing code produces today from the same drafts", () => {
    const events = goldenChain();
    expect(events.map((e) => canonicalJson(e))).toEqual(lines);
    expect(expectedOf(events)).toEqual(expected);
  });

  it("verifies, from memory and from the export file", async () => {
    const events = lines.map((l) => JSON.parse(l) as unknown);
    expect(verifyEvents(events)).toEqual({ isValid: true, totalChecked: 6, message: expect.any(String) });
    expect(await verifyNdjsonStream(createReadStream(ndjsonPath))).toEqual(verifyEvents(events));
  });
});
