import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyString, moneyString } from "../../test/fixtures/audit/arbitraries.js";
import { canonicalJson, withCanonicalText } from "../audit/canonical.js";
import { linkWithJson } from "../audit/chain.js";
import type { LimitUsageDetail } from "../limits/decide.js";
import { LIMIT_TYPES } from "../limits/period.js";
import { type RecordedResponse, recordedResponse } from "./recorded-response.js";

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const text = fc.oneof(anyString, fc.string({ unit: codeUnit, maxLength: 6 }));
const number = fc.oneof(fc.double(), fc.nat(), fc.constantFrom(-0, 1e21, 5e-324, Number.NaN));

const detailArb: fc.Arbitrary<LimitUsageDetail> = fc.record(
  {
    limitId: fc.oneof(fc.uuid(), text),
    limitAmount: moneyString,
    currentUsage: fc.oneof(moneyString, text),
    attemptedAmount: moneyString,
    exceeded: fc.boolean(),
    period: fc.constantFrom(...LIMIT_TYPES),
    scope: text,
    skipped: fc.boolean(),
    skipReason: fc.constantFrom("outside_time_window", "outside_custom_period"),
    remaining: moneyString,
    resetAt: fc.option(text, { nil: null }),
  },
  {
    requiredKeys: [
      "limitId",
      "limitAmount",
      "currentUsage",
      "attemptedAmount",
      "exceeded",
      "period",
      "scope",
      "skipped",
      "remaining",
      "resetAt",
    ],
  },
);

const responseArb: fc.Arbitrary<RecordedResponse> = fc.record(
  {
    validationId: fc.oneof(fc.uuid(), text),
    requestId: fc.uuid(),
    decision: fc.constantFrom("ALLOW", "DENY", "REVIEW"),
    reason: text,
    matchedRuleIds: fc.array(fc.oneof(fc.uuid(), text), { maxLength: 4 }),
    evaluatedRuleIds: fc.array(fc.oneof(fc.uuid(), text), { maxLength: 8 }),
    limitUsageDetails: fc.array(detailArb, { maxLength: 4 }),
    processingTimeMs: number,
    evaluatedAt: text,
    totalRulesLoaded: number,
    truncated: fc.boolean(),
    degraded: fc.boolean(),
    degradedReason: text,
  },
  {
    requiredKeys: [
      "validationId",
      "requestId",
      "decision",
      "reason",
      "matchedRuleIds",
      "evaluatedRuleIds",
      "limitUsageDetails",
      "processingTimeMs",
      "evaluatedAt",
      "totalRulesLoaded",
      "truncated",
      "degraded",
    ],
  },
);

type Outcome = { ok: true; text: string } | { ok: false };
function outcome(run: () => string): Outcome {
  try {
    return { ok: true, text: run() };
  } catch {
    return { ok: false };
  }
}

describe("recordedResponse writes the canonical JSON of the value it returns", () => {
  it("byte for byte what canonicalJson and the canonicalize package write, or all three refuse", () => {
    fc.assert(
      fc.property(responseArb, (r) => {
        const ours = outcome(() => recordedResponse(r).text);
        const generic = outcome(() => canonicalJson(r));
        const reference = outcome(() => {
          const out = canonicalize(r);
          if (out === undefined) throw new Error("no JSON form");
          return out;
        });
        expect(ours).toEqual(generic);
        expect(ours).toEqual(reference);
        if (ours.ok) {
          expect(JSON.parse(ours.text)).toEqual(JSON.parse(JSON.stringify(r)));
          expect(canonicalJson(recordedResponse(r).value)).toBe(ours.text);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("copies exactly the known fields, so a field added to the input is in neither value nor text", () => {
    const [r] = fc.sample(responseArb, { numRuns: 1, seed: 5 });
    const base = { ...r!, processingTimeMs: 1.5, totalRulesLoaded: 3, reason: "x", evaluatedAt: "y" };
    const withExtra = { ...base, extra: "not recorded" } as RecordedResponse;
    const a = recordedResponse(base);
    const b = recordedResponse(withExtra);
    expect(b.value).toEqual(a.value);
    expect(b.text).toBe(a.text);
    expect(canonicalJson(b.value)).toBe(b.text);
  });

  it("an event whose context carries precomputed texts hashes and stores as the plain event would", () => {
    fc.assert(
      fc.property(responseArb, fc.dictionary(fc.string(), anyString, { maxKeys: 4 }), (r, request) => {
        const response = outcome(() => recordedResponse(r).text);
        fc.pre(response.ok);
        const draft = {
          eventId: "00000000-0000-7000-8000-000000000000",
          tenantId: "t",
          eventType: "TRANSACTION_VALIDATED" as const,
          action: "VALIDATE" as const,
          result: "ALLOW" as const,
          resourceType: "transaction" as const,
          resourceId: "v",
          actor: { id: "a", actorType: "api_key" as const, name: "n" },
          metadata: {},
          createdAt: "2026-11-23T12:00:00.000Z",
        };
        const [fast] = linkWithJson(null, [
          {
            ...draft,
            context: { request: withCanonicalText(request), response: recordedResponse(r) } as never,
          },
        ]);
        const plain = recordedResponse(r).value;
        const [slow] = linkWithJson(null, [
          { ...draft, context: JSON.parse(JSON.stringify({ request, response: plain })) },
        ]);
        expect(fast!.event.hash).toBe(slow!.event.hash);
        expect(fast!.json).toBe(slow!.json);
        expect(JSON.parse(fast!.json)).toEqual(JSON.parse(JSON.stringify(slow!.event)));
      }),
      { numRuns: 300 },
    );
  });
});
