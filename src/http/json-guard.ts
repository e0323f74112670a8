import type { MiddlewareHandler } from "hono";
import { AppError, type FieldError } from "../errors.js";
import type { AppEnv } from "./context.js";

const JSON_TYPE = /^application\/([\w.-]+\+)?json/i;

/**
 * Deepest JSON nesting accepted in a body. Rule expressions are limited to 32 operation levels
 * (about 66 JSON levels in the array form) by their own validator; nothing else nests deeply, and
 * an unbounded depth would let a 100 KB body overflow recursive consumers (hashing, storage).
 */
export const MAX_JSON_DEPTH = 128;

const MAX_ERRORS = 20;

/**
 * A UTF-16 surrogate that is not half of a pair (the `u` flag keeps pairs whole). JSON allows
 * "\ud800" escapes, but such text can be neither canonicalised (RFC 8785) nor stored as UTF-8.
 */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function textProblem(text: string): string | undefined {
  if (text.includes("\u0000")) return "must not contain the NUL character";
  if (LONE_SURROGATE.test(text)) return "must be well-formed Unicode (lone surrogate)";
  return undefined;
}

/**
 * Scans a parsed body without recursion: every string or key holding U+0000 (PostgreSQL cannot
 * store it in text or jsonb) or a lone surrogate, and whether the nesting exceeds MAX_JSON_DEPTH.
 */
export function inspectJson(root: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: root, path: "", depth: 0 }];
  while (stack.length > 0 && errors.length < MAX_ERRORS) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === "string") {
      const problem = textProblem(value);
      if (problem) errors.push({ path: path || "body", message: problem });
      continue;
    }
    if (!value || typeof value !== "object") continue;
    if (depth >= MAX_JSON_DEPTH) {
      errors.push({ path: path || "body", message: `JSON nesting deeper than ${MAX_JSON_DEPTH} levels` });
      continue;
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--)
        stack.push({ value: value[i], path: `${path}[${i}]`, depth: depth + 1 });
      continue;
    }
    const entries = Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, v] = entries[i]!;
      const child = path ? `${path}.${k}` : k;
      const problem = textProblem(k);
      if (problem) errors.push({ path: child, message: `field name ${problem}` });
      stack.push({ value: v, path: child, depth: depth + 1 });
    }
  }
  return errors;
}

export function malformedJson(): AppError {
  return new AppError("INVALID_JSON", "Malformed JSON in request body", {
    errors: [{ path: "body", message: "is not valid JSON" }],
  });
}

/**
 * Rejects U+0000 anywhere in the query or a JSON body, and bodies nested deeper than
 * MAX_JSON_DEPTH, with a 400 before they can reach the database or a recursive serialiser.
 * Hono caches the parsed body, so the route's validator does not parse it again.
 */
export function guardJsonInput(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const errors: FieldError[] = [];
    for (const [key, values] of Object.entries(c.req.queries())) {
      const problem = values.map(textProblem).find((p) => p !== undefined);
      if (problem) errors.push({ path: `query.${key}`, message: problem });
    }
    const contentType = c.req.header("content-type");
    // An empty body (e.g. POST /activate from a generic client) is left to the route.
    const empty = c.req.header("content-length") === "0";
    if (contentType && JSON_TYPE.test(contentType) && c.req.method !== "GET" && !empty) {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw malformedJson();
      }
      errors.push(...inspectJson(body));
    }
    if (errors.length > 0) {
      throw new AppError("VALIDATION_ERROR", "The request contains values that cannot be accepted", {
        errors,
      });
    }
    await next();
  };
}
