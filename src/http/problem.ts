import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "pino";
import { AppError, type ErrorCode, errorCodes, type FieldError } from "../errors.js";

export const PROBLEM_TYPE_BASE = "https://verdict.dev/problems/";

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  requestId: string;
  instance: string;
  errors?: FieldError[];
}

/** The one place that turns a failure into an RFC 9457 response. */
export function problemResponse(c: Context, err: unknown, logger?: Logger): Response {
  const appError = toAppError(err);
  if (
    appError.code === "INTERNAL_ERROR" ||
    (appError.code === "SERVICE_UNAVAILABLE" && !(err instanceof AppError))
  ) {
    // The request's log fields (tenant and actor once resolved) when the app set them.
    const fields = (c.get("logFields") as Record<string, unknown> | undefined) ?? {
      requestId: c.get("requestId"),
    };
    (logger ?? console).error({ ...fields, err }, "unhandled error");
  }
  const body: ProblemBody = {
    type: `${PROBLEM_TYPE_BASE}${appError.code.toLowerCase().replaceAll("_", "-")}`,
    title: errorCodes[appError.code].title,
    status: appError.status,
    detail: appError.detail,
    code: appError.code,
    requestId: (c.get("requestId") as string | undefined) ?? "",
    instance: c.req.path,
    ...(appError.extra.errors ? { errors: appError.extra.errors } : {}),
  };
  const headers: Record<string, string> = { "Content-Type": "application/problem+json" };
  if (appError.extra.retryAfterSec !== undefined)
    headers["Retry-After"] = String(appError.extra.retryAfterSec);
  return c.json(body, appError.status as ContentfulStatusCode, headers);
}

/** SQLSTATE classes of an unreachable or overloaded database: retryable, not the caller's fault. */
const UNAVAILABLE_SQLSTATE = /^(08|53|57)/;
const CONNECTION_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
]);

function isDatabaseUnavailable(err: unknown): boolean {
  let current: unknown = err;
  for (let i = 0; i < 4 && current && typeof current === "object"; i++) {
    // PGlite says so in words only (no code) once its instance is closed.
    if ((current as { message?: unknown }).message === "PGlite is closed") return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (UNAVAILABLE_SQLSTATE.test(code) || CONNECTION_ERRORS.has(code)))
      return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isDatabaseUnavailable(err)) {
    return new AppError("SERVICE_UNAVAILABLE", "The database is unavailable; retry later", {
      retryAfterSec: 1,
    });
  }
  if (err instanceof HTTPException) {
    if (err.status === 400)
      return new AppError("INVALID_JSON", err.message || "Malformed JSON in request body");
    if (err.status === 401) return new AppError("UNAUTHENTICATED", "Missing or invalid credentials");
    if (err.status === 413) return new AppError("PAYLOAD_TOO_LARGE", "Request body exceeds 100 KB");
    if (err.status === 415) return new AppError("UNSUPPORTED_MEDIA_TYPE", err.message);
    if (err.status === 503) return new AppError("SERVICE_UNAVAILABLE", err.message, { retryAfterSec: 1 });
  }
  return new AppError("INTERNAL_ERROR", "An internal error occurred");
}
