import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyKey, chainArb, contextValue, defineMember } from "../../test/fixtures/audit/arbitraries.js";
import { canonicalJson, canonicalJsonWithout, sha256Hex } from "./canonical.js";
import { type DigestedLine, digestCanonicalEventLine } from "./canonical-line.js";

const H = "a".repeat(64);
const P = "b".repeat(64);

/**
 * Puts the real body hash in place of the placeholder `H`, so that a text the scanner accepts
 * is also a valid event (the fast path declines a hash mismatch to the slow path).
 */
function seal(text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return text;
  const record = parsed as Record<string, unknown>;
  if (record.hash !== H) return text;
  let bodyHash: string;
  try {
    bodyHash = sha256Hex(canonicalJsonWithout(record, "hash"));
  } catch {
    return text; // not canonicalizable (a number beyond the double range): declined anyway
  }
  return text.replace(`"hash":"${H}"`, `"hash":"${bodyHash}"`);
}

/** Digests `text` (sealed) as one export line and checks the caller's bytes are left as they were. */
function digest(text: string | Buffer): DigestedLine | null {
  const line = typeof text === "string" ? Buffer.from(seal(text)) : text;
  const buf = Buffer.concat([Buffer.from("junk{"), line, Buffer.from("\n{junk")]);
  const before = Buffer.from(buf);
  const result = digestCanonicalEventLine(buf, 5, 5 + line.length);
  expect(buf.equals(before)).toBe(true);
  return result;
}

/** Soundness: whatever the scanner accepts is canonical, and its fields and hash are right. */
function assertSound(unsealed: string): DigestedLine | null {
  const text = seal(unsealed);
  const result = digest(text);
  if (result === null) return null;
  const parsed = JSON.parse(text) as Record<string, unknown>;
  expect(canonicalJson(parsed)).toBe(text);
  expect(result).toEqual({
    kind: "event",
    sequence: parsed.sequence,
    previousHash: parsed.previousHash,
    hash: parsed.hash,
    bodyHash: sha256Hex(canonicalJsonWithout(parsed, "hash")),
  });
  return result;
}

/** Positions in a JSON text of string characters (not in an escape) and of ':' / ',' separators. */
function positions(text: string): { chars: number[]; separators: number[] } {
  const chars: number[] = [];
  const separators: number[] = [];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (!inString) {
      if (c === '"') inString = true;
      else if (c === ":" || c === ",") separators.push(i);
    } else if (c === "\\") {
      i += text[i + 1] === "u" ? 5 : 1;
    } else if (c === '"') {
      inString = false;
    } else {
      chars.push(i);
    }
  }
  return { chars, separators };
}

const needsEscape = (s: string): boolean => JSON.stringify(s) !== `"${s}"`;
const hasEscapedKey = (value: unknown): boolean =>
  value !== null &&
  typeof value === "object" &&
  (Array.isArray(value)
    ? value.some(hasEscapedKey)
    : Object.keys(value).some((k) => needsEscape(k) || hasEscapedKey((value as Record<string, unknown>)[k])));

const eventLike = fc
  .tuple(fc.dictionary(anyKey, contextValue, { maxKeys: 6 }), fc.nat({ max: 1_000_000 }))
  .map(([object, n]) => {
    defineMember(object, "sequence", n + 1);
    defineMember(object, "previousHash", P);
    defineMember(object, "hash", H);
    return object;
  });

describe("digestCanonicalEventLine", () => {
  it("accepts the canonical line of every event and hashes its body", () => {
    fc.assert(
      fc.property(chainArb(5), (chain) => {
        for (const event of chain) {
          const text = canonicalJson(event);
          const result = assertSound(text);
          if (!hasEscapedKey(event)) expect(result).toEqual({ ...pick(event), bodyHash: event.hash });
        }
      }),
      { numRuns: 200 },
    );
  });

  it("is sound on non-canonical texts of the same values: key order, escapes, whitespace", () => {
    fc.assert(
      fc.property(eventLike, fc.nat(), fc.nat(), fc.boolean(), (object, where, how, upper) => {
        const canonical = canonicalJson(object);
        assertSound(canonical);
        const plain = JSON.stringify(object);
        assertSound(plain);
        // Escape one string character as \uXXXX: same value, not canonical (unless a control).
        const { chars } = positions(plain);
        if (chars.length > 0) {
          const at = chars[where % chars.length]!;
          const hex = plain.charCodeAt(at).toString(16).padStart(4, "0");
          assertSound(`${plain.slice(0, at)}\\u${upper ? hex.toUpperCase() : hex}${plain.slice(at + 1)}`);
        }
        // Insignificant whitespace after a ':' or ','.
        const { separators } = positions(canonical);
        const sep = separators[how % separators.length]!;
        expect(assertSound(`${canonical.slice(0, sep + 1)} ${canonical.slice(sep + 1)}`)).toBeNull();
      }),
      { numRuns: 1000 },
    );
  });

  it("accepts a number exactly when it is written as Number::toString writes it", () => {
    const forms = (d: number): string[] => [
      String(d),
      d.toExponential(),
      d.toExponential().toUpperCase(),
      d.toExponential().replace("e+", "e"),
      d.toPrecision(17),
      d.toPrecision(3),
      Math.abs(d) < 1e21 ? d.toFixed(2) : String(d),
      `${String(d)}0`,
      `-${String(d)}`,
    ];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true }),
          fc.integer(),
          fc.constantFrom(0, 1e-6, 1e-7),
        ),
        (d) => {
          for (const form of forms(d)) {
            let valid = true;
            try {
              valid = typeof JSON.parse(form) === "number";
            } catch {
              valid = false;
            }
            if (!valid) continue;
            const text = `{"hash":"${H}","n":${form},"previousHash":"${P}","sequence":1}`;
            expect(assertSound(text) !== null, form).toBe(String(Number(form)) === form);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("orders keys by UTF-16 code units, like the canonical form", () => {
    const ok = `{"hash":"${H}","previousHash":"${P}","sequence":1,"x":{"\u{1F600}":1,"\uFF21":2}}`;
    const utf8Order = `{"hash":"${H}","previousHash":"${P}","sequence":1,"x":{"\uFF21":2,"\u{1F600}":1}}`;
    expect(assertSound(ok)).not.toBeNull();
    expect(assertSound(utf8Order)).toBeNull();
  });

  it("declines whatever it cannot prove canonical, leaving it to the slow path", () => {
    const base = (inner: string) => `{"hash":"${H}",${inner}"previousHash":"${P}","sequence":1}`;
    expect(digest(base(""))).not.toBeNull();
    expect(digest(base('"metadata":{"a":"\\u001f\\n\\t\\"\\\\"},'))).not.toBeNull();
    const declined = [
      base('"a":1,"a":1,'), // duplicate key
      base('"a":"\\/",'),
      base('"a":"\\u0041",'),
      base('"a":"\\u001F",'),
      base('"a":"\\u000a",'),
      base('"\\u0061":1,'), // escaped key
      base('"a":01,'),
      base('"a":1.50,'),
      base('"a":-0,'),
      base('"a":tru,'),
      base('"a":[1,],'),
      base('"a":{,'),
      `{"previousHash":"${P}","sequence":1}`, // no hash
      `{"hash":"${H}","sequence":1}`, // no previousHash
      `{"hash":"${H}","previousHash":"${P}"}`, // no sequence
      `{"hash":"${H}","previousHash":"${P}","sequence":0}`,
      `{"hash":"${H}","previousHash":"${P}","sequence":1.5}`,
      `{"hash":"${H}","previousHash":"${P}","sequence":"1"}`,
      `{"hash":"${H}","previousHash":null,"sequence":1}`,
      `{"hash":"a\\u0062","previousHash":"${P}","sequence":1}`,
      `{"hash":"${H}","previousHash":"${P}","sequence":1} `,
      `[{"hash":"${H}","previousHash":"${P}","sequence":1}]`,
      `\uFEFF{"hash":"${H}","previousHash":"${P}","sequence":1}`,
      `{"hash":"${H}","previousHash":"${P}","sequence":1,"x":${"[".repeat(300)}${"]".repeat(300)}}`,
      "",
    ];
    for (const text of declined) expect(assertSound(text), text).toBeNull();
  });

  it("declines a line whose stored hash is not its body's, so the slow path reports the mismatch", () => {
    const sealed = seal(base2("x"));
    expect(digest(sealed)).not.toBeNull();
    const stored = (JSON.parse(sealed) as { hash: string }).hash;
    const wrong = sealed.replace(
      stored,
      stored.replace(/^./, (c) => (c === "0" ? "1" : "0")),
    );
    expect(digestCanonicalEventLine(Buffer.from(`${wrong}\n`), 0, wrong.length)).toBeNull();
    expect(digestCanonicalEventLine(Buffer.from(`${sealed}\n`), 0, sealed.length)).not.toBeNull();
  });

  it("declines invalid UTF-8 and lines without a terminator sentinel", () => {
    const text = Buffer.from(seal(base2("é")));
    const bad = Buffer.from(text);
    bad[bad.indexOf(0xc3)] = 0xff;
    expect(digest(text)).not.toBeNull();
    expect(digest(bad)).toBeNull();
    const unterminated = Buffer.from(seal(base2("x")));
    expect(digestCanonicalEventLine(unterminated, 0, unterminated.length)).toBeNull();
  });
});

function base2(value: string): string {
  return `{"a":"${value}","hash":"${H}","previousHash":"${P}","sequence":1}`;
}

function pick(event: { sequence: number; previousHash: string; hash: string }) {
  return { kind: "event", sequence: event.sequence, previousHash: event.previousHash, hash: event.hash };
}
