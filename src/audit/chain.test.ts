import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  anyKey,
  chainArb,
  contextValue,
  draftArb,
  expectedReason,
  parsedCopy,
  type TamperKind,
  tamper,
} from "../../test/fixtures/audit/arbitraries.js";
import {
  canonicalJson,
  createChainVerifier,
  hashEventBody,
  linkEvents,
  sealEvent,
  toEventRecord,
  verifyEvents,
} from "./chain.js";
import { type AuditEvent, type AuditEventBody, GENESIS_HASH } from "./event.js";

const RUNS = { numRuns: 200 };

function invalidAt(sequence: number, reason: string, totalChecked = sequence) {
  return expect.objectContaining({ isValid: false, firstInvalidSequence: sequence, reason, totalChecked });
}

function bodyOf(event: AuditEvent): AuditEventBody {
  const { hash: _hash, ...body } = event;
  return body;
}

describe("sealing", () => {
  it("hashes the SHA-256 of the canonical body, excluding only `hash`", () => {
    fc.assert(
      fc.property(chainArb(3), (chain) => {
        for (const event of chain) {
          expect(event.hash).toMatch(/^[0-9a-f]{64}$/);
          expect(hashEventBody(bodyOf(event))).toBe(event.hash);
          // An event and its body hash the same: `hash` is never part of the input.
          expect(hashEventBody(event)).toBe(event.hash);
        }
      }),
      { numRuns: 50 },
    );
  });

  it("linkEvents numbers from the head and links each event to the one before", () => {
    fc.assert(
      fc.property(
        fc.array(draftArb, { minLength: 1, maxLength: 5 }),
        fc.nat({ max: 1000 }),
        (drafts, headSequence) => {
          const head = headSequence === 0 ? null : { sequence: headSequence, hash: "ab".repeat(32) };
          const events = linkEvents(head, drafts);
          events.forEach((event, i) => {
            expect(event.sequence).toBe(headSequence + i + 1);
            expect(event.previousHash).toBe(i === 0 ? (head?.hash ?? GENESIS_HASH) : events[i - 1]!.hash);
            expect(Object.keys(event)).toEqual([
              "eventId",
              "tenantId",
              "sequence",
              "eventType",
              "action",
              "result",
              "resourceType",
              "resourceId",
              "actor",
              "context",
              "metadata",
              "createdAt",
              "previousHash",
              "hash",
            ]);
          });
          const verified = verifyEvents(events, {
            expectFirstSequence: headSequence + 1,
            expectPreviousHash: head?.hash ?? GENESIS_HASH,
          });
          expect(verified.isValid).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("refuses bodies that break the contract instead of hashing them", () => {
    const [event] = linkEvents(null, fc.sample(draftArb, { numRuns: 1, seed: 7 }));
    const body = bodyOf(event!);
    expect(() => sealEvent({ ...body, extra: 1 } as AuditEventBody)).toThrow(/unexpected: extra/);
    const { metadata: _metadata, ...missing } = body;
    expect(() => sealEvent(missing as AuditEventBody)).toThrow(/missing: metadata/);
    expect(() => sealEvent({ ...body, metadata: undefined } as unknown as AuditEventBody)).toThrow(
      /missing: metadata/,
    );
    expect(() => sealEvent({ ...body, sequence: 0 })).toThrow(/sequence/);
    expect(() => sealEvent({ ...body, previousHash: "ABC" })).toThrow(/previousHash/);
    expect(() => sealEvent({ ...body, createdAt: "2026-01-30T10:30:00Z" })).toThrow(/createdAt/);
    expect(() => sealEvent({ ...body, context: { x: Number.NaN } })).toThrow(/NaN/);
    expect(() => linkEvents({ sequence: -1, hash: GENESIS_HASH }, [])).toThrow(/head sequence/);
  });
});

describe("verification of untouched chains", () => {
  it("accepts any chain and reports its head", () => {
    fc.assert(
      fc.property(chainArb(), (chain) => {
        const verifier = createChainVerifier();
        for (const event of parsedCopy(chain)) expect(verifier.push(event)).toBeNull();
        expect(verifier.result()).toEqual({
          isValid: true,
          totalChecked: chain.length,
          message: "Hash chain integrity verified successfully",
        });
        const last = chain[chain.length - 1]!;
        expect(verifier.head()).toEqual({ sequence: last.sequence, hash: last.hash });
      }),
      RUNS,
    );
  });

  it("accepts an empty chain", () => {
    expect(verifyEvents([])).toEqual({ isValid: true, totalChecked: 0, message: expect.any(String) });
    expect(createChainVerifier().head()).toBeNull();
  });

  it("verifies a suffix anchored on the hash before it, and rejects a wrong anchor", () => {
    fc.assert(
      fc.property(
        chainArb().filter((c) => c.length >= 2),
        fc.nat(),
        (chain, pick) => {
          const from = 2 + (pick % (chain.length - 1));
          const suffix = chain.slice(from - 1);
          const anchor = chain[from - 2]!.hash;
          expect(
            verifyEvents(suffix, { expectFirstSequence: from, expectPreviousHash: anchor }).isValid,
          ).toBe(true);
          expect(verifyEvents(suffix, { expectFirstSequence: from })).toEqual(
            invalidAt(from, "broken_link", 1),
          );
          expect(verifyEvents(suffix, { expectPreviousHash: anchor })).toEqual(
            invalidAt(1, "sequence_gap", 1),
          );
        },
      ),
      RUNS,
    );
  });
});

describe("tampering", () => {
  const tamperCase = chainArb().chain((chain) =>
    fc.record({
      chain: fc.constant(chain),
      index: fc.nat({ max: chain.length - 1 }),
      kind: fc.constantFrom<TamperKind>("replace", "delete", "add"),
      pick: fc.nat(),
      value: fc.oneof(contextValue, fc.integer(), fc.constant(GENESIS_HASH)),
      key: anyKey,
    }),
  );

  it("detects any single change at exactly that event: sequence → sequence_gap, previousHash → broken_link, anything else (hash, nested context, actor, createdAt, extra or missing member) → hash_mismatch", () => {
    fc.assert(
      fc.property(tamperCase, ({ chain, index, kind, pick, value, key }) => {
        const events = parsedCopy(chain);
        const field = tamper(events[index]!, kind, pick, value, key);
        fc.pre(field !== null);
        const result = verifyEvents(events);
        expect(result).toEqual(invalidAt(index + 1, expectedReason(field!)));
        expect(result.message).toMatch(/^Hash chain integrity compromised: /);
      }),
      { numRuns: 500 },
    );
  });

  it("maps every top-level field, replaced or removed, to its reason at that event", () => {
    const chain = linkEvents(null, fc.sample(draftArb, { numRuns: 3, seed: 1 }));
    for (const field of Object.keys(chain[1]!)) {
      for (const kind of ["replace", "delete"] as const) {
        const events = parsedCopy(chain);
        const target = events[1]!;
        if (kind === "delete") delete target[field];
        else target[field] = field === "sequence" ? 7 : { tampered: field };
        expect(verifyEvents(events), `${kind} ${field}`).toEqual(invalidAt(2, expectedReason(field)));
      }
    }
  });

  it("detects a one-millisecond change of createdAt and a change of one actor field", () => {
    fc.assert(
      fc.property(chainArb(), fc.nat(), (chain, pick) => {
        const index = pick % chain.length;
        const shifted = parsedCopy(chain);
        const target = shifted[index]!;
        target.createdAt = new Date(Date.parse(target.createdAt as string) + 1).toISOString();
        expect(verifyEvents(shifted)).toEqual(invalidAt(index + 1, "hash_mismatch"));
        const renamed = parsedCopy(chain);
        const actor = renamed[index]!.actor as { actorType: string };
        actor.actorType = actor.actorType === "user" ? "system" : "user";
        expect(verifyEvents(renamed)).toEqual(invalidAt(index + 1, "hash_mismatch"));
      }),
      RUNS,
    );
  });

  it("detects a deleted event as a gap at the first missing sequence", () => {
    fc.assert(
      fc.property(
        chainArb().filter((c) => c.length >= 2),
        fc.nat(),
        (chain, pick) => {
          const index = pick % (chain.length - 1); // not the last one: see the next test
          const events = parsedCopy(chain);
          events.splice(index, 1);
          const result = verifyEvents(events);
          expect(result).toEqual(invalidAt(index + 1, "sequence_gap"));
          expect(result.message).toContain(`event ${index + 1} is missing`);
        },
      ),
      RUNS,
    );
  });

  it("cannot see events cut from the end: the caller compares the head (documented limit)", () => {
    fc.assert(
      fc.property(
        chainArb().filter((c) => c.length >= 2),
        (chain) => {
          expect(verifyEvents(parsedCopy(chain).slice(0, -1)).isValid).toBe(true);
        },
      ),
      { numRuns: 20 },
    );
  });

  it("detects a forged event inserted before event k, however it is linked", () => {
    fc.assert(
      fc.property(chainArb(), draftArb, fc.nat(), (chain, draft, pick) => {
        const k = pick % chain.length; // insert before chain[k], i.e. at sequence k + 1
        const linkedTo = k === 0 ? GENESIS_HASH : chain[k - 1]!.hash;
        const forged = sealEvent({ ...draft, sequence: k + 1, previousHash: linkedTo });
        expect(hashEventBody(forged)).toBe(forged.hash);

        // Best forgery: correct sequence, link and hash; the original event k+1 then repeats k+1.
        const inserted = [...chain.slice(0, k), forged, ...chain.slice(k)];
        expect(verifyEvents(parsedCopy(inserted))).toEqual(invalidAt(k + 2, "sequence_gap"));

        // Renumbering the following events does not help: the next one still links to event k.
        const renumbered = parsedCopy(inserted).map((e, i) => (i > k ? { ...e, sequence: i + 1 } : e));
        expect(verifyEvents(renumbered)).toEqual(invalidAt(k + 2, "broken_link"));

        // Nor does linking the forged event anywhere else.
        const unlinked = sealEvent({ ...draft, sequence: k + 1, previousHash: "f".repeat(64) });
        expect(verifyEvents(parsedCopy([...chain.slice(0, k), unlinked, ...chain.slice(k)]))).toEqual(
          invalidAt(k + 1, "broken_link"),
        );
      }),
      RUNS,
    );
  });

  it("detects two swapped events at the first swapped position", () => {
    fc.assert(
      fc.property(
        chainArb().filter((c) => c.length >= 2),
        fc.nat(),
        fc.nat(),
        (chain, a, b) => {
          const i = a % (chain.length - 1);
          const j = i + 1 + (b % (chain.length - 1 - i));
          const swapped = parsedCopy(chain);
          [swapped[i], swapped[j]] = [swapped[j]!, swapped[i]!];
          expect(verifyEvents(swapped)).toEqual(invalidAt(i + 1, "sequence_gap"));
          // Swapping contents but keeping the sequence numbers in place breaks the link instead.
          const relabelled = swapped.map((e, n) => ({ ...e, sequence: n + 1 }));
          expect(verifyEvents(relabelled)).toEqual(invalidAt(i + 1, "broken_link"));
        },
      ),
      RUNS,
    );
  });
});

describe("verifier contract", () => {
  const [first, second, third] = linkEvents(null, fc.sample(draftArb, { numRuns: 3, seed: 42 }));

  it("stops at the first failure and keeps returning it", () => {
    const verifier = createChainVerifier();
    expect(verifier.push(first)).toBeNull();
    const failure = verifier.push(third);
    expect(failure).toEqual({ firstInvalidSequence: 2, reason: "sequence_gap", message: expect.any(String) });
    expect(verifier.push(second)).toBe(failure);
    expect(verifier.result()).toEqual({ isValid: false, totalChecked: 2, ...failure });
    expect(verifier.head()).toEqual({ sequence: 1, hash: first!.hash });
  });

  it("reports non-objects, missing hashes and bodies without a canonical form as hash_mismatch", () => {
    for (const junk of [null, 42, "x", [first]]) {
      expect(verifyEvents([junk])).toEqual(invalidAt(1, "hash_mismatch"));
    }
    const { hash: _hash, ...noHash } = first!;
    expect(verifyEvents([noHash]).message).toContain("has no hash");
    const nan = { ...first!, context: { x: Number.NaN } };
    expect(verifyEvents([nan])).toEqual(invalidAt(1, "hash_mismatch"));
    expect(verifyEvents([nan]).message).toContain("cannot be canonicalized");
  });

  it("describes gaps, duplicates and bad sequence values", () => {
    expect(verifyEvents([first, { ...third!, sequence: 5 }]).message).toContain("events 2..4 are missing");
    expect(verifyEvents([first, first]).message).toContain("expected event 2 but found event 1");
    expect(verifyEvents([{ ...first!, sequence: "1" }])).toEqual(invalidAt(1, "sequence_gap"));
  });

  it("adopts a run verified elsewhere only when it starts where the chain expects", () => {
    const verifier = createChainVerifier();
    verifier.push(first);
    const run = {
      claim: { sequence: 2, previousHash: first!.hash },
      checked: 2,
      failure: null,
      head: { sequence: 3, hash: third!.hash },
    };
    expect(verifier.adoptRun({ ...run, claim: { sequence: 3, previousHash: first!.hash } })).toBe(false);
    expect(verifier.adoptRun({ ...run, claim: { sequence: 2, previousHash: GENESIS_HASH } })).toBe(false);
    expect(verifier.adoptRun(run)).toBe(true);
    expect(verifier.result()).toEqual(expect.objectContaining({ isValid: true, totalChecked: 3 }));
    expect(verifier.head()).toEqual({ sequence: 3, hash: third!.hash });
  });

  it("reduces events to records without looking at the chain", () => {
    expect(toEventRecord(first)).toEqual({
      kind: "event",
      sequence: 1,
      previousHash: GENESIS_HASH,
      hash: first!.hash,
      bodyHash: first!.hash,
    });
    expect(toEventRecord([1])).toEqual({ kind: "unreadable", message: "the record is not a JSON object" });
    expect(canonicalJson({ b: 1, a: [true, null, "é"] })).toBe('{"a":[true,null,"é"],"b":1}');
  });
});
