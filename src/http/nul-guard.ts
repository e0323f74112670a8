import type { MiddlewareHandler } from "hono";
import { AppError, type FieldError } from "../errors.js";
import type { AppEnv } from "./context.js";

const JSON_TYPE = /^application\/([\w.-]+\+)?json/i;

/** Paths of every string (or key) holding U+0000, which PostgreSQL cannot store in text or jsonb. */
export function findNulPaths(value: unknown, path = "", out: FieldError[] = []): FieldError[] {
  if (out.length >= 20) return out;
  if (typeof value === "string") {
    if (value.includes("\u0000"))
      out.push({ path: path || "body", message: "must not contain the NUL character" });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => findNulPaths(v, `${path}[${i}]`, out));
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const child = path ? `${path}.${k}` : k;
      if (k.includes("\u0000"))
        out.push({ path: child, message: "field names must not contain the NUL character" });
      findNulPaths(v, child, out);
    }
  }
  return out;
}

/**
 * Rejects U+0000 anywhere in the query or a JSON body with a 400, before it can reach the
 * database as a 500. The parsed body is cached by Hono, so the route's validator does not re-parse.
 */
export function rejectNul(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const errors: FieldError[] = [];
    for (const [key, values] of Object.entries(c.req.queries())) {
      if (values.some((v) => v.includes("\u0000")))
        errors.push({ path: `query.${key}`, message: "must not contain the NUL character" });
    }
    const contentType = c.req.header("content-type");
    if (contentType && JSON_TYPE.test(contentType) && c.req.method !== "GET") {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw new AppError("INVALID_JSON", "Malformed JSON in request body");
      }
      findNulPaths(body, "", errors);
    }
    if (errors.length > 0) {
      throw new AppError("VALIDATION_ERROR", "Strings must not contain the NUL character", { errors });
    }
    await next();
  };
}
