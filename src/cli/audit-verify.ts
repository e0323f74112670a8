/**
 * `verdict audit verify <file.ndjson>`: offline verification of an audit export with the same
 * chain code the service uses. Exit codes: 0 valid, 1 invalid, 2 usage or I/O error.
 */
import { stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { createChainVerifier } from "../audit/chain.js";
import { GENESIS_HASH } from "../audit/event.js";
import { feedNdjsonFile } from "../audit/ndjson.js";

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/** Below this size worker start-up costs more than it saves. */
const PARALLEL_FROM_BYTES = 64 * 1024 * 1024;

/** Verifies the export at `filePath`, prints one summary line and returns the exit code. */
export async function auditVerifyCommand(filePath: string, io: CliIo): Promise<number> {
  if (!filePath) {
    io.stderr("usage: verdict audit verify <file.ndjson>");
    return 2;
  }
  let size: number;
  try {
    const info = await stat(filePath);
    if (!info.isFile()) {
      io.stderr(`verdict audit verify: ${filePath} is not a file`);
      return 2;
    }
    size = info.size;
  } catch (err) {
    io.stderr(`verdict audit verify: cannot read ${filePath}: ${describeError(err)}`);
    return 2;
  }
  const verifier = createChainVerifier();
  const workers = size >= PARALLEL_FROM_BYTES ? availableParallelism() : 0;
  try {
    await feedNdjsonFile(filePath, verifier, { workers });
  } catch (err) {
    io.stderr(`verdict audit verify: cannot read ${filePath}: ${describeError(err)}`);
    return 2;
  }
  const result = verifier.result();
  if (!result.isValid) {
    io.stdout(`INVALID at sequence ${result.firstInvalidSequence}: ${result.reason} — ${result.message}`);
    return 1;
  }
  const head = verifier.head() ?? { sequence: 0, hash: GENESIS_HASH };
  io.stdout(
    `OK: ${result.totalChecked} events verified, chain head sequence ${head.sequence} hash ${head.hash}`,
  );
  return 0;
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
