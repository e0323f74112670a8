import {
  bigint,
  doublePrecision,
  index,
  jsonb,
  numeric,
  pgTable,
  text,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { msTimestamp } from "../db/columns.js";

export const transactionValidations = pgTable(
  "transaction_validations",
  {
    validationId: uuid("validation_id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    requestId: uuid("request_id").notNull(),
    /** SHA-256 of the canonical request body: a replay with another body is a 409, not a silent replay. */
    requestHash: text("request_hash").notNull(),
    decision: text("decision").notNull(),
    reason: text("reason").notNull(),
    amount: numeric("amount").notNull(),
    currency: text("currency").notNull(),
    transactionType: text("transaction_type").notNull(),
    subType: text("sub_type").notNull(),
    accountId: text("account_id").notNull(),
    segmentId: text("segment_id"),
    portfolioId: text("portfolio_id"),
    merchantId: text("merchant_id"),
    matchedRuleIds: jsonb("matched_rule_ids").notNull(),
    exceededLimitIds: jsonb("exceeded_limit_ids").notNull(),
    request: jsonb("request").notNull(),
    /** The exact response JSON first returned, byte for byte; replays return it unchanged. */
    response: text("response").notNull(),
    processingTimeMs: doublePrecision("processing_time_ms").notNull(),
    auditSequence: bigint("audit_sequence", { mode: "number" }).notNull(),
    createdAt: msTimestamp("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("validations_request_uq").on(t.tenantId, t.requestId),
    index("validations_created_idx").on(t.tenantId, t.createdAt, t.validationId),
    index("validations_account_idx").on(t.tenantId, t.accountId, t.createdAt),
  ],
);
