import { AppError } from "../errors.js";

/** Opaque keyset cursors: base64url JSON, validated on the way back in. */
export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

export function decodeCursor<T extends Record<string, string | number>>(
  cursor: string,
  isValid: (value: Record<string, unknown>) => value is T,
): T {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      parsed &&
      typeof parsed === "object" &&
      !Array.isArray(parsed) &&
      isValid(parsed as Record<string, unknown>)
    ) {
      return parsed as T;
    }
  } catch {
    // fall through to the 400 below
  }
  throw new AppError("VALIDATION_ERROR", "Invalid cursor", {
    errors: [{ path: "query.cursor", message: "invalid cursor" }],
  });
}
