import type { DbOrTx } from "../db/database.js";
import { firstSequenceBeyondHead, getChainHead, hashAtSequence, scanAuditEvents } from "./audit.store.js";
import { createChainVerifier, type VerifyReason, type VerifyResult } from "./chain.js";
import { GENESIS_HASH } from "./event.js";

function compromised(
  totalChecked: number,
  firstInvalidSequence: number,
  reason: VerifyReason,
  detail: string,
): VerifyResult {
  return {
    isValid: false,
    totalChecked,
    firstInvalidSequence,
    reason,
    message: `Hash chain integrity compromised: ${detail}`,
  };
}

/**
 * Verifies the stored chain `from..to` with the same pure verifier the offline CLI uses. A range
 * that starts after 1 is anchored on the stored hash of `from - 1`. The tenant's chain head (the
 * last sequence and hash appends recorded) bounds the range and is checked against the events:
 * - a range reaching past the head is verified up to the head (later events were never appended);
 * - a missing tail (events deleted after the last stored one) is a `sequence_gap`;
 * - when the range reaches the head, the last event's hash must be the head's hash (so rewriting
 *   the last events and recomputing their hashes is a `hash_mismatch`), and an event stored past
 *   the head (appended around the service) is a `sequence_gap`.
 */
export async function verifyStoredChain(
  db: DbOrTx,
  tenantId: string,
  range: { from?: number; to?: number } = {},
): Promise<VerifyResult> {
  const from = range.from ?? 1;
  const head = await getChainHead(db, tenantId);
  const toHead = range.to === undefined || range.to >= head.sequence;
  const to = toHead ? head.sequence : (range.to as number);
  let anchor = GENESIS_HASH;
  if (from > 1 && from <= to) {
    const stored = await hashAtSequence(db, tenantId, from - 1);
    if (stored === undefined) {
      return compromised(
        0,
        from - 1,
        "sequence_gap",
        `event ${from - 1} is missing (the range cannot be anchored)`,
      );
    }
    anchor = stored;
  }
  const verifier = createChainVerifier({ expectFirstSequence: from, expectPreviousHash: anchor });
  let last = from - 1;
  for await (const event of scanAuditEvents(db, tenantId, { from, to })) {
    if (verifier.push(event)) return verifier.result();
    last = event.sequence;
  }
  const result = verifier.result();
  if (from <= to && last < to) {
    return compromised(
      result.totalChecked,
      last + 1,
      "sequence_gap",
      `event ${last + 1} is missing (the chain head is at ${head.sequence})`,
    );
  }
  if (!toHead) return result;
  const verifiedHead = verifier.head();
  if (verifiedHead && verifiedHead.sequence === head.sequence && verifiedHead.hash !== head.hash) {
    return compromised(
      result.totalChecked,
      head.sequence,
      "hash_mismatch",
      `event ${head.sequence} has hash ${verifiedHead.hash} but the chain head recorded ${head.hash}`,
    );
  }
  const extra = await firstSequenceBeyondHead(db, tenantId);
  if (extra !== undefined) {
    return compromised(
      result.totalChecked + 1,
      extra,
      "sequence_gap",
      `event ${extra} is stored after the chain head (${head.sequence}) and was not appended by the service`,
    );
  }
  return result;
}
