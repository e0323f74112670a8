/**
 * Every error the API can answer, with a stable string code. The table is the single source of
 * truth for statuses and titles, and is published in the OpenAPI document.
 */
export const errorCodes = {
  INVALID_JSON: { status: 400, title: "Malformed JSON body" },
  VALIDATION_ERROR: { status: 400, title: "Request validation failed" },
  INVALID_EXPRESSION: { status: 400, title: "Invalid rule expression" },
  IMMUTABLE_FIELD: { status: 400, title: "Field cannot be changed" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Unsupported media type" },
  UNAUTHENTICATED: { status: 401, title: "Authentication required" },
  TENANT_SUSPENDED: { status: 403, title: "Tenant suspended" },
  ROUTE_NOT_FOUND: { status: 404, title: "Route not found" },
  RULE_NOT_FOUND: { status: 404, title: "Rule not found" },
  LIMIT_NOT_FOUND: { status: 404, title: "Limit not found" },
  VALIDATION_NOT_FOUND: { status: 404, title: "Validation not found" },
  AUDIT_EVENT_NOT_FOUND: { status: 404, title: "Audit event not found" },
  TENANT_NOT_FOUND: { status: 404, title: "Tenant not found" },
  METHOD_NOT_ALLOWED: { status: 405, title: "Method not allowed" },
  RULE_NAME_CONFLICT: { status: 409, title: "Rule name already in use" },
  LIMIT_NAME_CONFLICT: { status: 409, title: "Limit name already in use" },
  IDEMPOTENCY_CONFLICT: { status: 409, title: "requestId reused with a different body" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "Request body too large" },
  INVALID_TRANSITION: { status: 422, title: "Invalid status transition" },
  EXPRESSION_NOT_MODIFIABLE: { status: 422, title: "Expression can only change while DRAFT" },
  INTERNAL_ERROR: { status: 500, title: "Internal error" },
  SERVICE_UNAVAILABLE: { status: 503, title: "Service unavailable" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCodes;

export interface FieldError {
  path: string;
  message: string;
}

/** A failure with a known cause; anything else is answered as INTERNAL_ERROR and logged. */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extra: { errors?: FieldError[]; retryAfterSec?: number } = {},
  ) {
    super(detail);
    this.name = "AppError";
    this.status = errorCodes[code].status;
  }
}
