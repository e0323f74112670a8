/**
 * Fast path of offline verification. An export line that is already in RFC 8785 canonical form
 * contains the canonical body byte for byte: the body is the line minus its `"hash":"..."` member.
 * Proving a line canonical takes one pass over its bytes, several times cheaper than JSON.parse
 * plus re-serialization, so a chain can be verified at hundreds of thousands of events per second.
 *
 * The scanner is conservative: it returns null for anything it cannot prove canonical (whitespace,
 * unsorted keys, escaped keys, non-shortest numbers, `\/`, BOM, ...), and the caller then takes the
 * slow path (JSON.parse + canonicalJson), so a line is never judged by its formatting.
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

function bytesOf(buf: Buffer): Uint8Array {
  if (buf !== viewOf) {
    viewOf = buf;
    view = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
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

// Set by the scanners when a string has a byte >= 0x80: only then is UTF-8 validity checked.
let nonAscii = false;

/** String at p (b[p] is '"'): position after its closing quote, or -1. */
function scanString(b: Uint8Array, p: number): number {
  let x = b[++p]!;
  for (;;) {
    while (x > 0x22 && x < 0x80 && x !== 0x5c) x = b[++p]!;
    if (x === 0x22) return p + 1;
    if (x === 0x5c) {
      const n = canonicalEscape(b, p);
      if (n === 0) return -1;
      p += n;
    } else {
      if (x < 0x20) return -1;
      nonAscii = true;
      p++;
    }
    x = b[p]!;
  }
}

/** Key at p (b[p] must be '"'): position of its closing quote, or -1. Escaped keys are declined:
 * ordering them would need decoding. */
function scanKey(b: Uint8Array, p: number): number {
  if (b[p] !== 0x22) return -1;
  let c = b[++p]!;
  for (;;) {
    while (c > 0x22 && c < 0x80 && c !== 0x5c) c = b[++p]!;
    if (c === 0x22) return p;
    if (c < 0x20 || c === 0x5c) return -1;
    if (c >= 0x80) nonAscii = true;
    c = b[++p]!;
  }
}

function scanValue(b: Uint8Array, p: number, depth: number): number {
  const c = b[p]!;
  if (c === 0x22) return scanString(b, p);
  if (c === 0x7b) return depth >= MAX_DEPTH ? -1 : scanObject(b, p, depth + 1);
  if (c === 0x5b) return depth >= MAX_DEPTH ? -1 : scanArray(b, p, depth + 1);
  return scanScalar(b, p);
}

function scanObject(b: Uint8Array, p: number, depth: number): number {
  p++;
  if (b[p] === 0x7d) return p + 1;
  let pks = -1;
  let pke = -1;
  for (;;) {
    const ks = p + 1;
    const ke = scanKey(b, p);
    if (ke < 0) return -1;
    if (pks >= 0 && !keyBefore(b, pks, pke, ks, ke)) return -1;
    pks = ks;
    pke = ke;
    if (b[ke + 1] !== 0x3a) return -1;
    p = scanValue(b, ke + 2, depth);
    if (p < 0) return -1;
    const c = b[p];
    if (c === 0x2c) p++;
    else if (c === 0x7d) return p + 1;
    else return -1;
  }
}

function scanArray(b: Uint8Array, p: number, depth: number): number {
  p++;
  if (b[p] === 0x5d) return p + 1;
  for (;;) {
    p = scanValue(b, p, depth);
    if (p < 0) return -1;
    const c = b[p];
    if (c === 0x2c) p++;
    else if (c === 0x5d) return p + 1;
    else return -1;
  }
}

/**
 * If bytes [start, end) of `buf` are a canonical JSON object with a string `hash`, a string
 * `previousHash` and an integer `sequence` at top level, returns them with the SHA-256 of the
 * line minus its `hash` member; otherwise null (the caller must take the slow path).
 *
 * Precondition: `buf[end]` exists and is a control byte (the line terminator), which acts as a
 * sentinel so the scan needs no bounds checks. The `hash` member is cut out of the line in place
 * while the body is hashed and put back before returning: the caller's bytes end up unchanged,
 * but the buffer must not be shared with code running concurrently (another thread).
 */
export function digestCanonicalEventLine(buf: Buffer, start: number, end: number): DigestedLine | null {
  const b = bytesOf(buf);
  if (!(b[end]! < 0x20) || b[start] !== 0x7b) return null;
  nonAscii = false;
  let hashMember = -1;
  let hashValue = -1;
  let hashEnd = -1;
  let seqValue = -1;
  let seqEnd = -1;
  let prevValue = -1;
  let prevEnd = -1;
  let p = start + 1;
  let pks = -1;
  let pke = -1;
  if (b[p] !== 0x7d) {
    // The top-level object, scanned here to note where `hash`, `sequence` and `previousHash` are.
    for (;;) {
      const ms = p;
      const ks = p + 1;
      const ke = scanKey(b, p);
      if (ke < 0) return null;
      if (pks >= 0 && !keyBefore(b, pks, pke, ks, ke)) return null;
      pks = ks;
      pke = ke;
      if (b[ke + 1] !== 0x3a) return null;
      const vs = ke + 2;
      p = scanValue(b, vs, 1);
      if (p < 0) return null;
      const key = topLevelKey(b, ks, ke);
      if (key === 1) {
        hashMember = ms;
        hashValue = vs;
        hashEnd = p;
      } else if (key === 2) {
        seqValue = vs;
        seqEnd = p;
      } else if (key === 3) {
        prevValue = vs;
        prevEnd = p;
      }
      const c = b[p];
      if (c === 0x2c) p++;
      else if (c === 0x7d) break;
      else return null;
    }
  }
  p++;
  if (p !== end || hashMember < 0 || seqValue < 0 || prevValue < 0) return null;
  if (nonAscii && !isUtf8(b.subarray(start, end))) return null;
  return finish(buf, b, start, end, { hashMember, hashValue, hashEnd, seqValue, seqEnd, prevValue, prevEnd });
}

function topLevelKey(b: Uint8Array, ks: number, ke: number): number {
  if (asciiEquals(b, ks, ke, "hash")) return 1;
  if (asciiEquals(b, ks, ke, "sequence")) return 2;
  if (asciiEquals(b, ks, ke, "previousHash")) return 3;
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
  const previousHash = hexString(buf, b, s.prevValue, s.prevEnd);
  const stored = hexString(buf, b, s.hashValue, s.hashEnd);
  if (sequence < 0 || previousHash === null || stored === null) return null;
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
  return { kind: "event", sequence, previousHash, hash: stored, bodyHash };
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

/** A string value of 64 lower-case hex digits, else null (the slow path reports the details). */
function hexString(buf: Buffer, b: Uint8Array, start: number, end: number): string | null {
  if (end - start !== 66 || b[start] !== 0x22) return null;
  // A byte loop: several times cheaper here than a /^[0-9a-f]{64}$/ test on the decoded string.
  for (let i = start + 1; i < end - 1; i++) if (!isHexLower(b[i]!)) return null;
  return buf.toString("latin1", start + 1, end - 1);
}
