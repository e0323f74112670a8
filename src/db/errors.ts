/** True for a unique-constraint violation (23505), whichever driver raised it and however wrapped. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current && typeof current === "object"; depth++) {
    const e = current as { code?: unknown; constraint_name?: unknown; constraint?: unknown; cause?: unknown };
    if (e.code === "23505") {
      if (!constraint) return true;
      return e.constraint_name === constraint || e.constraint === constraint;
    }
    current = e.cause;
  }
  return false;
}
