/**
 * Fast path of offline verification. An export line that is already in RFC 8785 canonical form
 * contains the canonical body byte for byte: the body is the line minus its `"hash":"..."` member.
 * Proving a line canonical takes one pass over its bytes, several times cheaper than JSON.parse
 * plus re-serialization, so a chain can be verified at hundreds of thousands of events per second.
 *
 * The scanner is conservative: it returns null for anything it cannot prove canonical (whitespace,
 * unsorted keys, escaped keys, non-shortest numbers, `\/`, BOM, ...), and the caller then takes the
 * slow path (JSON.parse + canonicalJson), so a line is never judged by its formatting. It also
 * declines a line whose stored hash is not its body's: the slow path then reports the mismatch
 * with the values exactly as parsed.
 */
import { isUtf8 } from "node:buffer";
import { hash } from "node:crypto";

/** What the verifier needs from one canonical export line (an `EventRecord` of kind "event"). */
export interface DigestedLine {
  kind: "event";
  sequence: number;
  previousHash: string;
  hash: string;
  /** SHA-256 hex of the canonical body: the line without its `hash` member. */
  bodyHash: string;
}

/** Deeper nesting is left to the slow path (whose serializer has no depth limit). */
const MAX_DEPTH = 256;

const utf8 = new TextDecoder("utf-8");
// The cut-out hash member while the body is hashed (a member with a plain 64-hex hash is 74 bytes).
const saved = new Uint8Array(256);

// Scanning a plain Uint8Array is measurably faster than scanning the Buffer subclass.
let viewOf: Buffer | null = null;
let view: Uint8Array = new Uint8Array(0);
// The same bytes read as little-endian 32-bit words, at any offset.
let words = new DataView(view.buffer);

function bytesOf(buf: Buffer): Uint8Array {
  if (buf !== viewOf) {
    viewOf = buf;
    view = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    words = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }
  return view;
}

/** Is key [as, ae) strictly before key [bs, be) in UTF-16 code unit order? */
function keyBefore(b: Uint8Array, as: number, ae: number, bs: number, be: number): boolean {
  const la = ae - as;
  const lb = be - bs;
  const n = Math.min(la, lb);
  for (let i = 0; i < n; i++) {
    const x = b[as + i]!;
    const y = b[bs + i]!;
    if (x === y) continue;
    // UTF-8 byte order is code point order, which differs from UTF-16 order for U+E000..U+FFFF
    // against astral characters: compare the decoded strings when both sides are non-ASCII.
    if (x >= 0x80 && y >= 0x80) return utf8.decode(b.subarray(as, ae)) < utf8.decode(b.subarray(bs, be));
    return x < y;
  }
  return la < lb;
}

function asciiEquals(b: Uint8Array, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (b[start + i] !== text.charCodeAt(i)) return false;
  return true;
}

function isHexLower(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
}

/** Validates the escape at b[p] === '\\' and returns its length, or 0 if it is not canonical. */
function canonicalEscape(b: Uint8Array, p: number): number {
  const e = b[p + 1];
  // '"', '\', b, f, n, r, t: the short escapes JSON.stringify emits.
  if (e === 0x22 || e === 0x5c || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
    return 2;
  }
  if (e !== 0x75 || b[p + 2] !== 0x30 || b[p + 3] !== 0x30) return 0;
  const h = b[p + 4]!;
  const l = b[p + 5]!;
  if ((h !== 0x30 && h !== 0x31) || !isHexLower(l)) return 0;
  const code = (h - 0x30) * 16 + (l <= 0x39 ? l - 0x30 : l - 0x57);
  // \u0008 etc. have short forms, so their \u form is not canonical.
  if (code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) return 0;
  return 6;
}

function decimalChars(b: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/**
 * Is the number token [start, end) (chars of -+.eE0-9) the ECMAScript Number::toString form of
 * its value? Decimals of at most 15 significant digits round-trip exactly, so they are decided
 * without parsing; anything else is parsed and re-serialized.
 */
function canonicalNumber(b: Uint8Array, start: number, end: number): boolean {
  let q = start;
  if (b[q] === 0x2d) q++;
  const intStart = q;
  while (q < end && b[q]! >= 0x30 && b[q]! <= 0x39) q++;
  const intLen = q - intStart;
  const zeroInt = intLen === 1 && b[intStart] === 0x30;
  if (intLen > 0 && intLen <= 15 && (zeroInt || b[intStart] !== 0x30)) {
    if (q === end) return !(zeroInt && intStart > start); // "-0" serializes as "0"
    if (b[q] === 0x2e) {
      q++;
      const fracStart = q;
      while (q < end && b[q]! >= 0x30 && b[q]! <= 0x39) q++;
      const fracLen = q - fracStart;
      if (q === end && fracLen > 0 && b[end - 1] !== 0x30) {
        let zeros = 0;
        if (zeroInt) while (b[fracStart + zeros] === 0x30) zeros++;
        const digits = zeroInt ? fracLen - zeros : intLen + fracLen;
        // Below 1e-6 Number::toString switches to exponent notation.
        if (digits <= 15 && zeros <= 5) return true;
      }
    }
  }
  const text = decimalChars(b, start, end);
  return String(Number(text)) === text;
}

// The container stack of the scan: kind and, for objects, the previous key (to check the order).
const OBJECT = 1;
const ARRAY = 2;
const kinds = new Uint8Array(MAX_DEPTH + 1);
const lastKeyStart = new Int32Array(MAX_DEPTH + 1);
const lastKeyEnd = new Int32Array(MAX_DEPTH + 1);
// Positions are kept in Int32Arrays (faster indices than doubles); bigger buffers take the slow path.
const MAX_OFFSET = 0x7fffffff;

/**
 * If bytes [start, end) of `buf` are a canonical JSON object with a string `hash`, a string
 * `previousHash` and an integer `sequence` at top level, returns them with the SHA-256 of the
 * line minus its `hash` member; otherwise null (the caller must take the slow path).
 *
 * Precondition: `buf[end]` exists and is a control byte (the line terminator), which acts as a
 * sentinel so the scan needs no bounds checks. The `hash` member is cut out of the line in place
 * while the body is hashed and put back before returning: the caller's bytes end up unchanged,
 * but the buffer must not be shared with code running concurrently (another thread).
 *
 * One iterative pass (no call per value): this loop is most of the cost of offline verification.
 */
export function digestCanonicalEventLine(buf: Buffer, start: number, end: number): DigestedLine | null {
  const b = bytesOf(buf);
  if (end > MAX_OFFSET || !(b[end]! < 0x20) || b[start] !== 0x7b || b[start + 1] === 0x7d) return null;
  // One native pass proves the bytes UTF-8, so the string loop below needs no check of its own.
  if (!isUtf8(b.subarray(start, end))) return null;
  const spans: Spans = {
    hashMember: -1,
    hashValue: -1,
    hashEnd: -1,
    seqValue: -1,
    seqEnd: -1,
    prevValue: -1,
    prevEnd: -1,
  };
  let depth = 1;
  kinds[1] = OBJECT;
  lastKeyStart[1] = -1;
  let topKey = 0;
  let topMember = -1;
  let topValue = -1;
  let p = start + 1;
  for (;;) {
    // At the start of an object member or an array element.
    if (kinds[depth] === OBJECT) {
      if (b[p] !== 0x22) return null;
      const ks = p + 1;
      const q = stringStop(b, ks, end);
      // Escaped keys are declined: ordering them would need decoding.
      if (b[q] !== 0x22) return null;
      const pks = lastKeyStart[depth]!;
      if (pks >= 0) {
        const pke = lastKeyEnd[depth]!;
        // Most neighbours differ in their first byte; an ASCII first byte that is lower decides.
        const x = b[pks]!;
        const decided = x < b[ks]! && x < 0x80 && pke > pks && q > ks;
        if (!decided && !keyBefore(b, pks, pke, ks, q)) return null;
      }
      lastKeyStart[depth] = ks;
      lastKeyEnd[depth] = q;
      if (b[q + 1] !== 0x3a) return null;
      if (depth === 1) {
        topKey = topLevelKey(b, ks, q);
        topMember = p;
        topValue = q + 2;
      }
      p = q + 2;
    }
    let c = b[p]!;
    if (c === 0x22) {
      for (;;) {
        p = stringStop(b, p + 1, end);
        c = b[p]!;
        if (c === 0x22) break;
        if (c !== 0x5c) return null; // a control byte
        const n = canonicalEscape(b, p);
        if (n === 0) return null;
        p += n - 1;
      }
      p++;
    } else if (c === 0x7b || c === 0x5b) {
      if (depth >= MAX_DEPTH) return null;
      depth++;
      kinds[depth] = c === 0x7b ? OBJECT : ARRAY;
      lastKeyStart[depth] = -1;
      p++;
      if (b[p] !== c + 2) continue; // not "{}" or "[]"
      p++;
      depth--;
    } else {
      p = scanScalar(b, p);
      if (p < 0) return null;
    }
    // After a value: close the containers it ends, then expect the next member or element.
    for (;;) {
      if (depth === 1 && topKey !== 0) {
        if (topKey === 1) {
          spans.hashMember = topMember;
          spans.hashValue = topValue;
          spans.hashEnd = p;
        } else if (topKey === 2) {
          spans.seqValue = topValue;
          spans.seqEnd = p;
        } else {
          spans.prevValue = topValue;
          spans.prevEnd = p;
        }
        topKey = 0;
      }
      c = b[p]!;
      if (c === 0x2c) break;
      if (c === (kinds[depth] === OBJECT ? 0x7d : 0x5d)) {
        p++;
        if (--depth === 0) {
          if (p !== end || spans.hashMember < 0 || spans.seqValue < 0 || spans.prevValue < 0) return null;
          return finish(buf, b, start, end, spans);
        }
        continue;
      }
      return null;
    }
    p++;
  }
}

/**
 * Position of the first byte from p on that is '"', '\\' or a control byte (the terminator at
 * `end` is one). Four bytes at a time (SWAR) while it can: strings are most of a line. The lowest
 * flagged byte of a word is the first such byte, since borrows only run upwards.
 */
function stringStop(b: Uint8Array, p: number, end: number): number {
  while (p + 4 <= end) {
    const v = words.getInt32(p, true);
    const quote = v ^ 0x22222222;
    const slash = v ^ 0x5c5c5c5c;
    const mask =
      (((quote - 0x01010101) & ~quote) | ((slash - 0x01010101) & ~slash) | ((v - 0x20202020) & ~v)) &
      0x80808080;
    if (mask !== 0) return p + ((31 - Math.clz32(mask & -mask)) >> 3);
    p += 4;
  }
  let c = b[p]!;
  while (c >= 0x20 && c !== 0x22 && c !== 0x5c) c = b[++p]!;
  return p;
}

function topLevelKey(b: Uint8Array, ks: number, ke: number): number {
  const length = ke - ks;
  if (length === 4) return asciiEquals(b, ks, ke, "hash") ? 1 : 0;
  if (length === 8) return asciiEquals(b, ks, ke, "sequence") ? 2 : 0;
  if (length === 12) return asciiEquals(b, ks, ke, "previousHash") ? 3 : 0;
  return 0;
}

/** true/false/null or a number at p; returns the position after it or -1. */
function scanScalar(b: Uint8Array, p: number): number {
  const c = b[p]!;
  if (c === 0x74) return b[p + 1] === 0x72 && b[p + 2] === 0x75 && b[p + 3] === 0x65 ? p + 4 : -1;
  if (c === 0x66) {
    return b[p + 1] === 0x61 && b[p + 2] === 0x6c && b[p + 3] === 0x73 && b[p + 4] === 0x65 ? p + 5 : -1;
  }
  if (c === 0x6e) return b[p + 1] === 0x75 && b[p + 2] === 0x6c && b[p + 3] === 0x6c ? p + 4 : -1;
  const start = p;
  for (;;) {
    const x = b[p]!;
    if ((x >= 0x30 && x <= 0x39) || x === 0x2d || x === 0x2b || x === 0x2e || x === 0x65 || x === 0x45) p++;
    else break;
  }
  if (p === start || !canonicalNumber(b, start, p)) return -1;
  return p;
}

interface Spans {
  hashMember: number;
  hashValue: number;
  hashEnd: number;
  seqValue: number;
  seqEnd: number;
  prevValue: number;
  prevEnd: number;
}

function finish(buf: Buffer, b: Uint8Array, start: number, end: number, s: Spans): DigestedLine | null {
  const sequence = parseSequence(b, s.seqValue, s.seqEnd);
  if (sequence < 0 || !isPlainAsciiString(b, s.prevValue, s.prevEnd, 64)) return null;
  if (s.hashEnd - s.hashValue !== 66 || b[s.hashValue] !== 0x22) return null;
  // Cut `"hash":"...",` (or `,"hash":"..."` when it is the last member) out of the line in place,
  // hash, then put it back: cheaper than copying the body, and the caller's bytes stay intact.
  let cutStart = s.hashMember;
  let cutEnd = s.hashEnd;
  if (b[cutEnd] === 0x2c) cutEnd++;
  else if (b[cutStart - 1] === 0x2c) cutStart--;
  const cut = cutEnd - cutStart;
  if (cut > saved.length) return null;
  for (let i = 0; i < cut; i++) saved[i] = b[cutStart + i]!;
  b.copyWithin(cutStart, cutEnd, end);
  const bodyHash = hash("sha256", b.subarray(start, end - cut), "hex");
  b.copyWithin(cutEnd, cutStart, end - cut);
  for (let i = 0; i < cut; i++) b[cutStart + i] = saved[i]!;
  // Equal to the hex digest means the stored value was plain hex, read exactly as JSON.parse
  // would; a mismatch goes to the slow path, which reports it with the value as parsed.
  const stored = buf.toString("latin1", s.hashValue + 1, s.hashEnd - 1);
  if (stored !== bodyHash) return null;
  return {
    kind: "event",
    sequence,
    previousHash: buf.toString("latin1", s.prevValue + 1, s.prevEnd - 1),
    hash: stored,
    bodyHash,
  };
}

// 1 for the bytes that read differently as latin1 than as JSON string content: '\' and non-ASCII.
const NOT_PLAIN = new Uint8Array(256);
NOT_PLAIN[0x5c] = 1;
NOT_PLAIN.fill(1, 0x80);

/**
 * Is [start, end) a string token with `length` characters, none escaped and none non-ASCII? Then
 * its latin1 decoding is its value. (Any value compares as the slow path's would: a link check
 * only needs the exact string, not hex.)
 */
function isPlainAsciiString(b: Uint8Array, start: number, end: number, length: number): boolean {
  if (end - start !== length + 2 || b[start] !== 0x22) return false;
  let bad = 0;
  for (let i = start + 1; i < end - 1; i++) bad |= NOT_PLAIN[b[i]!]!;
  return bad === 0;
}

/** A plain positive integer of at most 15 digits, else -1 (the slow path reports the details). */
function parseSequence(b: Uint8Array, start: number, end: number): number {
  if (end - start > 15 || b[start] === 0x30) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = b[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n > 0 ? n : -1;
}
