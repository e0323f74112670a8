import type { Context } from "hono";
import type { ZodError } from "zod";
import { AppError, type FieldError } from "../errors.js";

/** Turns zod issues into `errors[]` entries whose path names the offending field, e.g. `scopes[0].subType`. */
export function zodIssuesToFieldErrors(error: ZodError, prefix?: string): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const base = formatPath(issue.path, prefix);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ path: joinPath(base, key), message: "unknown field" });
      continue;
    }
    out.push({ path: base || "body", message: issue.message });
  }
  return out;
}

function formatPath(path: readonly PropertyKey[], prefix?: string): string {
  let out = prefix ?? "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out = joinPath(out, String(part));
  }
  return out;
}

function joinPath(base: string, key: string): string {
  return base === "" ? key : `${base}.${key}`;
}

const TARGET_PREFIX: Record<string, string | undefined> = { query: "query", param: "path", header: "header" };

/** The defaultHook of every OpenAPI router: a failed schema is a 400 problem naming each path. */
export function validationHook(
  result: { success: true } | { success: false; error: ZodError; target: string },
  _c: Context,
): void {
  if (result.success) return;
  const prefix = TARGET_PREFIX[result.target];
  throw new AppError("VALIDATION_ERROR", "The request does not match the schema", {
    errors: zodIssuesToFieldErrors(result.error, prefix),
  });
}
