/**
 * Splits a byte stream into lines with constant memory: only the unfinished last line of a chunk
 * is kept. Lines are handed out as byte ranges of a buffer so the hot path never decodes them.
 */

/**
 * Called for each non-blank line with its bytes `buf[start, end)`, without terminator, CR or BOM.
 * `buf[end]` is always a control byte (the terminator), which scanners may use as a sentinel.
 * Return false to stop splitting.
 */
export type LineHandler = (buf: Buffer, start: number, end: number, lineNumber: number) => boolean;

/** Default upper bound of one line: far above any audit event, low enough to bound memory. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

export class LineTooLongError extends Error {
  constructor(
    readonly lineNumber: number,
    readonly limit: number,
  ) {
    super(`line ${lineNumber} is longer than ${limit} bytes`);
    this.name = "LineTooLongError";
  }
}

export class LineSplitter {
  private carry: Buffer = Buffer.alloc(0);
  private carryLength = 0;
  private lineNumber: number;
  private stopped = false;
  private readonly maxLineBytes: number;

  /** `firstLineNumber` numbers lines of a stream split into parts (default 1). */
  constructor(
    private readonly onLine: LineHandler,
    options: { maxLineBytes?: number; firstLineNumber?: number } = {},
  ) {
    this.maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
    this.lineNumber = (options.firstLineNumber ?? 1) - 1;
  }

  /** True once the handler returned false; further input is ignored. */
  get done(): boolean {
    return this.stopped;
  }

  /** Feeds the next chunk. Throws {@link LineTooLongError} when a line exceeds the limit. */
  push(chunk: Buffer): void {
    if (this.stopped) return;
    let pos = 0;
    if (this.carryLength > 0) {
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        this.append(chunk, 0, chunk.length);
        // One byte of slack for a CR that the next chunk's LF would make a terminator.
        if (this.carryLength > this.maxLineBytes + 1)
          throw new LineTooLongError(this.lineNumber + 1, this.maxLineBytes);
        return;
      }
      // A line spanning chunks is completed in the carry buffer, terminator included as sentinel.
      this.append(chunk, 0, nl + 1);
      const length = this.carryLength - 1;
      this.carryLength = 0;
      if (!this.emit(this.carry, 0, length)) return;
      pos = nl + 1;
    }
    for (;;) {
      const nl = chunk.indexOf(0x0a, pos);
      if (nl < 0) break;
      if (!this.emit(chunk, pos, nl)) return;
      pos = nl + 1;
    }
    if (pos < chunk.length) {
      this.append(chunk, pos, chunk.length);
      if (this.carryLength > this.maxLineBytes + 1)
        throw new LineTooLongError(this.lineNumber + 1, this.maxLineBytes);
    }
  }

  /** Flushes a last line that has no terminator. */
  end(): void {
    if (this.stopped || this.carryLength === 0) return;
    this.append(Buffer.of(0x0a), 0, 1);
    const length = this.carryLength - 1;
    this.carryLength = 0;
    this.emit(this.carry, 0, length);
  }

  private append(src: Buffer, start: number, end: number): void {
    const needed = this.carryLength + (end - start);
    if (needed > this.carry.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.carry.length * 2, 64 * 1024));
      this.carry.copy(grown, 0, 0, this.carryLength);
      this.carry = grown;
    }
    src.copy(this.carry, this.carryLength, start, end);
    this.carryLength = needed;
  }

  private emit(buf: Buffer, start: number, end: number): boolean {
    this.lineNumber += 1;
    let s = start;
    let e = end;
    if (e > s && buf[e - 1] === 0x0d) e--;
    if (e - s > this.maxLineBytes) throw new LineTooLongError(this.lineNumber, this.maxLineBytes);
    // A UTF-8 byte order mark is tolerated at the start of the stream only.
    if (this.lineNumber === 1 && buf[s] === 0xef && buf[s + 1] === 0xbb && buf[s + 2] === 0xbf) s += 3;
    if (isBlank(buf, s, e)) return true;
    if (!this.onLine(buf, s, e, this.lineNumber)) this.stopped = true;
    return !this.stopped;
  }
}

function isBlank(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/** Normalises a stream chunk (Buffer, Uint8Array or string) to a Buffer without copying bytes. */
export function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === "string") return Buffer.from(chunk, "utf8");
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError("NDJSON input must be a stream of bytes or strings");
}
