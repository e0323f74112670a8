/** The barrel drizzle-kit reads; application code imports tables from their domain folders. */
export { auditChainHeads, auditEvents } from "../audit/audit.table.js";
export { limitCounters, limits } from "../limits/limits.table.js";
export { rules } from "../rules/rules.table.js";
export { transactionValidations } from "../validations/validations.table.js";
export { catalogVersions } from "./catalog-version.table.js";
