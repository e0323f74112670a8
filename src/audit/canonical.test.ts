import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyKey, contextValue } from "../../test/fixtures/audit/arbitraries.js";
import {
  CanonicalText,
  canonicalJson,
  canonicalJsonWithout,
  sha256Hex,
  withCanonicalText,
} from "./canonical.js";

type Outcome = { ok: true; text: string | undefined } | { ok: false };

function outcome(run: () => string | undefined): Outcome {
  try {
    return { ok: true, text: run() };
  } catch {
    return { ok: false };
  }
}

/** The fast serializer must agree with the reference byte for byte, or both must refuse. */
function sameAsReference(value: unknown): void {
  const reference = outcome(() => canonicalize(value));
  const ours = outcome(() => canonicalJson(value));
  if (reference.ok && reference.text === undefined) {
    expect(ours.ok).toBe(false); // no JSON form: we throw rather than return undefined
    return;
  }
  expect(ours).toEqual(reference);
}

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

describe("canonicalJson is byte-identical to the canonicalize package (RFC 8785)", () => {
  it("on fc.jsonValue()", () => {
    fc.assert(fc.property(fc.jsonValue(), sameAsReference), { numRuns: 1000 });
  });

  it("on JSON values with full-Unicode strings and keys", () => {
    for (const stringUnit of ["binary", "grapheme", "grapheme-composite"] as const) {
      fc.assert(fc.property(fc.jsonValue({ stringUnit }), sameAsReference), { numRuns: 500 });
    }
  });

  it("on context-shaped values (money strings, astral and U+E000+ keys, -0, 1e21, 5e-324)", () => {
    fc.assert(fc.property(contextValue, sameAsReference), { numRuns: 1000 });
  });

  it("on strings with lone surrogates and control characters (both refuse lone surrogates)", () => {
    const raw = fc.string({ unit: codeUnit, maxLength: 10 });
    fc.assert(
      fc.property(
        fc.dictionary(raw, fc.oneof(raw, fc.array(raw, { maxLength: 3 })), { maxKeys: 4 }),
        sameAsReference,
      ),
      { numRuns: 1000 },
    );
  });

  it("on every double, including NaN and infinities (both refuse those)", () => {
    fc.assert(
      fc.property(fc.double(), (d) => sameAsReference({ n: d, a: [d] })),
      { numRuns: 2000 },
    );
  });

  it("on values only the reference path handles: undefined, toJSON, boxed primitives, deep nesting", () => {
    const deep: unknown[] = [];
    let cursor = deep;
    for (let i = 0; i < 20_000; i++) {
      const next: unknown[] = [];
      cursor.push(next);
      cursor = next;
    }
    const cases: unknown[] = [
      { a: undefined, b: 1 },
      [undefined, () => 1, Symbol("s")],
      { when: new Date(Date.UTC(2026, 0, 30)) },
      { n: new Number(3), s: new String("x"), b: new Boolean(false) },
      { toJSON: () => ({ z: 1, a: 2 }) },
      Object.assign(Object.create(null) as object, { b: 2, a: 1 }),
      deep,
      undefined,
      10n,
    ];
    for (const value of cases) sameAsReference(value);
  });

  it("sorts keys by UTF-16 code units, not code points", () => {
    // U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FF21 although its code point is larger.
    expect(canonicalJson({ "\uFF21": 1, "\u{1F600}": 2, a: 3, "10": 4, "9": 5 })).toBe(
      '{"10":4,"9":5,"a":3,"\u{1F600}":2,"\uFF21":1}',
    );
  });
});

describe("canonicalJsonWithout", () => {
  it("equals the canonical form of the object without that member", () => {
    fc.assert(
      fc.property(fc.dictionary(anyKey, contextValue, { maxKeys: 6 }), anyKey, (object, key) => {
        const { [key]: _removed, ...rest } = object;
        expect(canonicalJsonWithout(object, key)).toBe(canonicalize(rest));
      }),
      { numRuns: 500 },
    );
  });

  it("also on the reference path", () => {
    expect(canonicalJsonWithout({ hash: "h", at: new Date(0), b: undefined }, "hash")).toBe(
      '{"at":"1970-01-01T00:00:00.000Z"}',
    );
  });
});

describe("sha256Hex", () => {
  it("is lower-case hex SHA-256 of the UTF-8 bytes", () => {
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    // Value from Python's hashlib.sha256("é".encode()).
    expect(sha256Hex("é")).toBe("4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c");
  });
});

describe("withCanonicalText", () => {
  it("serializes exactly as the wrapped value would, on every path, nested anywhere", () => {
    fc.assert(
      fc.property(contextValue, anyKey, (value, key) => {
        const wrapped = { [key]: withCanonicalText(value), list: [withCanonicalText(value)] };
        const plain = { [key]: value, list: [value] };
        expect(canonicalJson(wrapped)).toBe(canonicalJson(plain));
        expect(canonicalize(wrapped)).toBe(canonicalize(plain));
        expect(JSON.stringify(wrapped)).toBe(JSON.stringify(plain));
      }),
      { numRuns: 500 },
    );
  });

  it("is emitted as its text by the fast path (the text is trusted, not recomputed)", () => {
    expect(canonicalJson({ a: new CanonicalText({ b: 1 }, '{"b":1}') })).toBe('{"a":{"b":1}}');
    expect(canonicalJson([new CanonicalText(1, "1.0")])).toBe("[1.0]");
  });
});
