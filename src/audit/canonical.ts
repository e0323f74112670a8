/**
 * RFC 8785 (JCS) canonical JSON. A hand-written serializer covers the shapes audit events are made
 * of (plain objects, arrays, strings, finite numbers, booleans, null) about 1.5x faster than the
 * `canonicalize` package; anything else is handed to `canonicalize`, which stays the reference:
 * the differential property test in `canonical.test.ts` holds the two byte-identical.
 */
import { hash } from "node:crypto";
import canonicalize from "canonicalize";

/** Thrown inside the fast path when a value needs the reference implementation's handling. */
class NeedsReference extends Error {}
// One preallocated instance: the fallback should not pay for a stack trace.
const NEEDS_REFERENCE = new NeedsReference("value needs the reference canonicalizer");

/**
 * A JSON value with its canonical text already known, so that a value serialized twice (a request
 * hashed for idempotency and again inside its audit event) costs once. `canonicalJson` emits the
 * text as is; everything else (JSON.stringify, the reference canonicalizer) sees the value through
 * `toJSON`, so a wrapped value always serializes as the value itself would. Made only by
 * {@link withCanonicalText}, or by a specialised serializer whose differential test holds its text
 * equal to `canonicalJson(value)`.
 */
export class CanonicalText<T = unknown> {
  /** @internal use {@link withCanonicalText} or a tested specialised serializer. */
  constructor(
    readonly value: T,
    readonly text: string,
  ) {}

  toJSON(): T {
    return this.value;
  }
}

/** `value` with its canonical text, computed now. */
export function withCanonicalText<T>(value: T): CanonicalText<T> {
  return new CanonicalText(value, canonicalJson(value));
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function quote(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Controls, '"' and '\' need escapes; surrogates need the well-formedness check.
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) {
      // canonicalize rejects lone surrogates; JSON.stringify would escape them instead.
      if (LONE_SURROGATE.test(s)) throw NEEDS_REFERENCE;
      // ECMAScript JSON string escaping is exactly what RFC 8785 §3.2.2.2 prescribes.
      return JSON.stringify(s);
    }
  }
  return `"${s}"`;
}

function serialize(value: unknown, skipKey: string | undefined): string {
  switch (typeof value) {
    case "string":
      return quote(value);
    case "number":
      // RFC 8785 numbers are ECMAScript Number::toString, which String() implements (-0 → "0").
      if (!Number.isFinite(value)) throw NEEDS_REFERENCE;
      return String(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ",";
          out += serialize(value[i], undefined);
        }
        return `${out}]`;
      }
      if (value instanceof CanonicalText) return value.text;
      const proto: unknown = Object.getPrototypeOf(value);
      // Class instances (Date, boxed primitives, ...) go through toJSON/valueOf in the reference.
      if (proto !== Object.prototype && proto !== null) throw NEEDS_REFERENCE;
      const record = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units: the order RFC 8785 §3.2.3 requires.
      const keys = Object.keys(record).sort();
      let out = "{";
      let first = true;
      for (const key of keys) {
        if (key === skipKey) continue;
        const member = serialize(record[key], undefined);
        out += first ? `${quote(key)}:${member}` : `,${quote(key)}:${member}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      // undefined, functions, symbols, bigints: the reference decides (omit, null or throw).
      throw NEEDS_REFERENCE;
  }
}

function reference(value: unknown, skipKey: string | undefined): string {
  let input = value;
  if (skipKey !== undefined && value !== null && typeof value === "object" && !Array.isArray(value)) {
    const { [skipKey]: _skipped, ...rest } = value as Record<string, unknown>;
    input = rest;
  }
  const out = canonicalize(input);
  if (out === undefined) throw new TypeError("value has no JSON representation");
  return out;
}

function canonical(value: unknown, skipKey: string | undefined): string {
  try {
    return serialize(value, skipKey);
  } catch (err) {
    // RangeError: nesting deeper than the call stack; the reference is iterative.
    if (err === NEEDS_REFERENCE || err instanceof RangeError) return reference(value, skipKey);
    throw err;
  }
}

/**
 * RFC 8785 canonical JSON of `value`, byte-identical to the `canonicalize` package.
 * Throws on NaN/Infinity, lone surrogates, cycles and values with no JSON form.
 */
export function canonicalJson(value: unknown): string {
  return canonical(value, undefined);
}

/**
 * Canonical JSON of an object without one of its top-level members, without copying the object
 * (the verifier's hot path: the event minus `hash`).
 */
export function canonicalJsonWithout(value: object, key: string): string {
  return canonical(value, key);
}

/**
 * Canonical JSON of one string, for serializers specialised to a known shape; throws on a lone
 * surrogate, which `canonicalJson` refuses too.
 */
export function canonicalString(s: string): string {
  try {
    return quote(s);
  } catch (err) {
    if (err === NEEDS_REFERENCE) throw new TypeError("Lone surrogate is not allowed");
    throw err;
  }
}

/** Canonical JSON of one number (ECMAScript Number::toString); throws on NaN and infinities. */
export function canonicalNumber(n: number): string {
  if (!Number.isFinite(n)) throw new TypeError(`${n} is not allowed`);
  return String(n);
}

/** Lower-case hex SHA-256 of the UTF-8 bytes of `text`. */
export function sha256Hex(text: string): string {
  return hash("sha256", text, "hex");
}
