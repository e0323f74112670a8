/**
 * How the validation path classifies database failures: which to retry, which to isolate job by
 * job, and which are the infrastructure's (the failure posture answers) rather than a bug.
 */

const RETRYABLE_CODES = new Set(["40P01", "40001", "23505"]);
export function isRetryable(err: unknown): boolean {
  let current: unknown = err;
  for (let i = 0; i < 4 && current && typeof current === "object"; i++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && RETRYABLE_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** A SQLSTATE means the database answered: the batch's data, not the connection, failed. */
export function isSqlError(err: unknown): boolean {
  let current: unknown = err;
  for (let i = 0; i < 4 && current && typeof current === "object"; i++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** SQLSTATE classes that mean the database is unreachable, overloaded or going away. */
const INFRASTRUCTURE_SQLSTATE_CLASSES = new Set(["08", "40", "53", "54", "55", "57", "58", "XX"]);

/**
 * Whether a failure is the infrastructure's (lost connection, timeout, shutdown, resources), for
 * which the failure posture answers, rather than a bug or bad data, which must never turn into
 * a degraded ALLOW: those are 500s.
 */
export function isInfrastructureFailure(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError) return false;
  let current: unknown = err;
  for (let i = 0; i < 4 && current && typeof current === "object"; i++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) {
      return INFRASTRUCTURE_SQLSTATE_CLASSES.has(code.slice(0, 2));
    }
    current = (current as { cause?: unknown }).cause;
  }
  return true;
}

/** How long a caller waits for its commit before the failure posture answers instead. */
export const COMMIT_TIMEOUT_MS = 5000;

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`commit did not complete within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
