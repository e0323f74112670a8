/**
 * The audit hash chain (CONTRACT §6, formula version 1): sealing new events and verifying stored
 * or exported ones. Pure: no I/O, no database. The service, the verify endpoints and the offline
 * CLI all go through this module so they cannot disagree about a hash.
 */
import { canonicalJson, canonicalJsonWithout, sha256Hex } from "./canonical.js";
import { AUDIT_BODY_FIELDS, type AuditEvent, type AuditEventBody, GENESIS_HASH } from "./event.js";

export { canonicalJson } from "./canonical.js";

export type VerifyReason = "hash_mismatch" | "broken_link" | "sequence_gap";

/** The verify response of CONTRACT §6. */
export interface VerifyResult {
  isValid: boolean;
  /** Events examined, including the one that failed. */
  totalChecked: number;
  firstInvalidSequence?: number;
  reason?: VerifyReason;
  message: string;
}

export interface VerifyFailure {
  /** The sequence the chain expected at the failing position (see {@link createChainVerifier}). */
  firstInvalidSequence: number;
  reason: VerifyReason;
  message: string;
}

export interface ChainVerifierOptions {
  /** Sequence of the first event pushed; default 1. */
  expectFirstSequence?: number;
  /** `previousHash` of the first event pushed; default {@link GENESIS_HASH}. */
  expectPreviousHash?: string;
}

/** The last event of a chain: what the next event links to. */
export interface ChainHead {
  sequence: number;
  hash: string;
}

/**
 * One event reduced to what verification needs, with its body hash already computed. Plain data
 * (structured-cloneable), so the expensive part can run on another thread or straight from the
 * bytes of an export line.
 */
export type EventRecord =
  | { kind: "event"; sequence: unknown; previousHash: unknown; hash: unknown; bodyHash: string }
  /** An object whose body has no canonical form (NaN, lone surrogate, ...). */
  | { kind: "uncanonicalizable"; sequence: unknown; previousHash: unknown; message: string }
  /** Not an event at all: not a JSON object, or a line that is not JSON. */
  | { kind: "unreadable"; message: string };

/**
 * A run of consecutive events verified by another verifier that was started at the position its
 * first event claims. It stands for those events if the claim is exactly what this chain expects.
 */
export interface VerifiedRun {
  claim: { sequence: number; previousHash: string };
  checked: number;
  failure: VerifyFailure | null;
  head: ChainHead | null;
}

export interface ChainVerifier {
  /** Checks the next event; returns the chain's first failure, now or from an earlier push. */
  push(event: unknown): VerifyFailure | null;
  /** Like {@link push} for an event already reduced by {@link toEventRecord}. */
  pushRecord(record: EventRecord): VerifyFailure | null;
  /**
   * Takes over a run verified elsewhere when its claim matches this chain's expected sequence and
   * previousHash; returns false (and changes nothing) otherwise, in which case the caller pushes
   * the run's first record to get the failure.
   */
  adoptRun(run: VerifiedRun): boolean;
  /** The last event verified so far, or null when none has been. */
  head(): ChainHead | null;
  result(): VerifyResult;
}

/** An event as described by its producer: the chain assigns `sequence` and `previousHash`. */
export type AuditEventDraft = Omit<AuditEventBody, "sequence" | "previousHash">;

const VALID_MESSAGE = "Hash chain integrity verified successfully";
const HEX64 = /^[0-9a-f]{64}$/;
const CREATED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Hash of an event body: lower-case hex SHA-256 of the UTF-8 bytes of its RFC 8785 canonical
 * JSON. A `hash` member, if the object carries one, is never part of the input, so an event and
 * its body hash the same; every other member is, including ones the contract does not know.
 */
export function hashEventBody(body: AuditEventBody): string {
  return sha256Hex(canonicalJsonWithout(body, "hash"));
}

/** The body's field names sorted by UTF-16 code units (plain ASCII names: no escaping needed). */
const CANONICAL_FIELD_ORDER: readonly (keyof AuditEventBody)[] = [...AUDIT_BODY_FIELDS].sort();

/** A sealed event and the JSON it is stored from: exactly the text that was hashed, plus `hash`. */
export interface SealedEvent {
  event: AuditEvent;
  json: string;
}

/**
 * Returns `body` plus its `hash`, fields in contract order. Throws a TypeError if the body does
 * not have exactly the contract's fields or its sequence, previousHash or createdAt are malformed:
 * an event that breaks the contract must never get a valid-looking hash.
 */
export function sealEvent(body: AuditEventBody): AuditEvent {
  return sealWithJson(body).event;
}

/**
 * Like {@link sealEvent}, with the event's JSON for storage: its canonical body text with the
 * `hash` member added last. Storing that text, rather than serializing the event again, means
 * what the database receives is byte for byte what was hashed, and costs no second serialization.
 */
export function sealWithJson(body: AuditEventBody): SealedEvent {
  assertContractBody(body);
  const event = {} as Record<string, unknown>;
  for (const field of AUDIT_BODY_FIELDS) event[field] = body[field];
  // The members in RFC 8785 order, each canonical: the canonical text of the whole body, without
  // sorting its keys and checking its shape again for every event.
  let text = "{";
  for (let i = 0; i < CANONICAL_FIELD_ORDER.length; i++) {
    const field = CANONICAL_FIELD_ORDER[i]!;
    text += `${i === 0 ? "" : ","}"${field}":${canonicalJson(body[field])}`;
  }
  text += "}";
  const hash = sha256Hex(text);
  event.hash = hash;
  // A contract body has members, so the text ends in "}" after at least one of them.
  return { event: event as unknown as AuditEvent, json: `${text.slice(0, -1)},"hash":"${hash}"}` };
}

/**
 * Seals a batch of drafts as the next events after `prev` (null: a new chain starting at 1),
 * assigning consecutive sequences and linking each to the one before. Used by the store to append
 * several events in one transaction.
 */
export function linkEvents(prev: ChainHead | null, drafts: readonly AuditEventDraft[]): AuditEvent[] {
  return linkWithJson(prev, drafts).map((s) => s.event);
}

/** {@link linkEvents} with each event's JSON for storage (see {@link sealWithJson}). */
export function linkWithJson(prev: ChainHead | null, drafts: readonly AuditEventDraft[]): SealedEvent[] {
  let sequence = prev?.sequence ?? 0;
  let previousHash = prev?.hash ?? GENESIS_HASH;
  if (!Number.isSafeInteger(sequence) || sequence < 0) {
    throw new TypeError(`invalid chain head sequence ${sequence}`);
  }
  return drafts.map((draft) => {
    sequence += 1;
    const sealed = sealWithJson({ ...draft, sequence, previousHash });
    previousHash = sealed.event.hash;
    return sealed;
  });
}

const BODY_FIELDS: ReadonlySet<string> = new Set(AUDIT_BODY_FIELDS);

function assertContractBody(body: AuditEventBody): void {
  const unexpected = Object.keys(body).filter((k) => !BODY_FIELDS.has(k));
  // An undefined member has no JSON form: the generic hash would leave it out, sealing refuses it.
  const missing = AUDIT_BODY_FIELDS.filter((k) => !Object.hasOwn(body, k) || body[k] === undefined);
  if (unexpected.length > 0 || missing.length > 0) {
    throw new TypeError(
      `audit event body must have exactly the contract fields (missing: ${missing.join(", ") || "none"}; unexpected: ${unexpected.join(", ") || "none"})`,
    );
  }
  if (!Number.isSafeInteger(body.sequence) || body.sequence < 1) {
    throw new TypeError(`audit event sequence must be a positive integer, got ${String(body.sequence)}`);
  }
  if (typeof body.previousHash !== "string" || !HEX64.test(body.previousHash)) {
    throw new TypeError("audit event previousHash must be 64 lower-case hex digits");
  }
  if (typeof body.createdAt !== "string" || !CREATED_AT.test(body.createdAt)) {
    throw new TypeError(
      `audit event createdAt must be RFC 3339 UTC with milliseconds, got ${String(body.createdAt)}`,
    );
  }
}

/** A short rendering of a found value; canonical, so messages do not depend on formatting. */
function describe(value: unknown): string {
  let text: string;
  try {
    text = canonicalJson(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function compromised(detail: string): string {
  return `Hash chain integrity compromised: ${detail}`;
}

/**
 * A streaming verifier holding only the previous event's sequence and hash (constant memory).
 *
 * Events must arrive in sequence order. Each event is checked in this order, and the first
 * failure stops verification (later pushes are ignored and return that failure):
 *
 * 1. `sequence` must equal the expected sequence (`expectFirstSequence`, then previous + 1),
 *    else `sequence_gap`. Checked first so that a deleted, duplicated or swapped event is reported
 *    as a gap rather than as the broken link it also causes.
 * 2. `previousHash` must equal the previous event's stored `hash` (`expectPreviousHash` for the
 *    first one), else `broken_link`. Checked before the hash so that a rewritten previousHash is
 *    reported as the broken link it is.
 * 3. The SHA-256 of the canonical JSON of every member except `hash` must equal the stored `hash`,
 *    else `hash_mismatch`. Extra members are hashed too, so adding one is detected. A record that
 *    is not a JSON object, cannot be canonicalized or could not be read at all is a
 *    `hash_mismatch` too: its content cannot be what was hashed.
 *
 * `firstInvalidSequence` is always the sequence the chain expected at the failing position:
 * for `hash_mismatch` and `broken_link` the failing event's own sequence; for `sequence_gap` the
 * expected one, i.e. the first missing sequence when events were deleted (event 7 after event 4
 * → 5), or the position where a duplicate or out-of-order event appeared. `totalChecked` counts
 * the events examined, the failing one included.
 *
 * Not detectable from the events alone: events removed from the end, or events appended by
 * someone who can compute SHA-256. Callers that know the chain head must compare it themselves.
 */
export function createChainVerifier(options: ChainVerifierOptions = {}): ChainVerifier {
  const firstSequence = options.expectFirstSequence ?? 1;
  const anchorHash = options.expectPreviousHash ?? GENESIS_HASH;
  let expectedSequence = firstSequence;
  let expectedPrevious = anchorHash;
  let checked = 0;
  let failure: VerifyFailure | null = null;
  let head: ChainHead | null = null;

  const fail = (reason: VerifyReason, message: string): VerifyFailure => {
    failure = { firstInvalidSequence: expectedSequence, reason, message };
    return failure;
  };

  /** Steps 1 and 2; null when both pass. */
  const checkPosition = (sequence: unknown, previousHash: unknown): VerifyFailure | null => {
    if (sequence !== expectedSequence) {
      if (typeof sequence !== "number" || !Number.isSafeInteger(sequence)) {
        return fail(
          "sequence_gap",
          compromised(
            `expected event ${expectedSequence} but found a record with sequence ${describe(sequence)}`,
          ),
        );
      }
      if (sequence > expectedSequence) {
        const missing =
          sequence === expectedSequence + 1
            ? `event ${expectedSequence} is missing`
            : `events ${expectedSequence}..${sequence - 1} are missing`;
        return fail("sequence_gap", compromised(`${missing} (found event ${sequence} next)`));
      }
      return fail(
        "sequence_gap",
        compromised(
          `expected event ${expectedSequence} but found event ${sequence} (duplicated or out of order)`,
        ),
      );
    }
    if (previousHash !== expectedPrevious) {
      const what =
        expectedSequence === firstSequence
          ? `the expected anchor${expectedPrevious === GENESIS_HASH ? " (genesis)" : ""} ${expectedPrevious}`
          : `the hash of event ${expectedSequence - 1} (${expectedPrevious})`;
      return fail(
        "broken_link",
        compromised(
          `previousHash ${describe(previousHash)} of event ${expectedSequence} does not match ${what}`,
        ),
      );
    }
    return null;
  };

  /** Step 3 and advance; null when it passes. */
  const checkHash = (stored: unknown, bodyHash: string): VerifyFailure | null => {
    if (stored !== bodyHash) {
      const detail =
        typeof stored === "string"
          ? `event ${expectedSequence} was altered: stored hash ${describe(stored)} does not match its recomputed hash ${bodyHash}`
          : stored === undefined
            ? `event ${expectedSequence} has no hash`
            : `event ${expectedSequence} has a hash that is not a string: ${describe(stored)}`;
      return fail("hash_mismatch", compromised(detail));
    }
    head = { sequence: expectedSequence, hash: bodyHash };
    expectedPrevious = bodyHash;
    expectedSequence += 1;
    return null;
  };

  const pushRecord = (record: EventRecord): VerifyFailure | null => {
    if (failure) return failure;
    checked += 1;
    if (record.kind === "unreadable") {
      return fail("hash_mismatch", compromised(`event ${expectedSequence} is unreadable: ${record.message}`));
    }
    const positionFailure = checkPosition(record.sequence, record.previousHash);
    if (positionFailure) return positionFailure;
    if (record.kind === "uncanonicalizable") {
      return fail(
        "hash_mismatch",
        compromised(`event ${expectedSequence} cannot be canonicalized (${record.message})`),
      );
    }
    return checkHash(record.hash, record.bodyHash);
  };

  return {
    push: (event) => (failure ? failure : pushRecord(toEventRecord(event))),
    pushRecord,
    adoptRun(run) {
      if (failure || run.claim.sequence !== expectedSequence || run.claim.previousHash !== expectedPrevious)
        return false;
      checked += run.checked;
      if (run.failure) {
        failure = run.failure;
      } else if (run.head) {
        head = run.head;
        expectedSequence = run.head.sequence + 1;
        expectedPrevious = run.head.hash;
      }
      return true;
    },
    head: () => head,
    result(): VerifyResult {
      if (!failure) return { isValid: true, totalChecked: checked, message: VALID_MESSAGE };
      return {
        isValid: false,
        totalChecked: checked,
        firstInvalidSequence: failure.firstInvalidSequence,
        reason: failure.reason,
        message: failure.message,
      };
    },
  };
}

/** Reduces an event (any parsed JSON value) to its {@link EventRecord}: the expensive, stateless part. */
export function toEventRecord(event: unknown): EventRecord {
  if (event === null || typeof event !== "object" || Array.isArray(event)) {
    return { kind: "unreadable", message: "the record is not a JSON object" };
  }
  const record = event as Record<string, unknown>;
  const sequence = own(record, "sequence");
  const previousHash = own(record, "previousHash");
  try {
    const bodyHash = sha256Hex(canonicalJsonWithout(record, "hash"));
    return { kind: "event", sequence, previousHash, hash: own(record, "hash"), bodyHash };
  } catch (err) {
    return {
      kind: "uncanonicalizable",
      sequence,
      previousHash,
      message: err instanceof Error ? err.message : String(err),
    };
  }
}

function own(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Verifies a whole chain held in memory (or any synchronous iterable). */
export function verifyEvents(events: Iterable<unknown>, options?: ChainVerifierOptions): VerifyResult {
  const verifier = createChainVerifier(options);
  for (const event of events) {
    if (verifier.push(event)) break;
  }
  return verifier.result();
}
