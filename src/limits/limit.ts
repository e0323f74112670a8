import type { Status } from "../catalog/lifecycle.js";
import type { Scope } from "../scope/scope.js";
import type { LimitType } from "./period.js";

/** A limit as the API returns it and as audit events record it (money as decimal strings). */
export interface Limit {
  limitId: string;
  name: string;
  description: string | null;
  limitType: LimitType;
  maxAmount: string;
  currency: string;
  scopes: Scope[];
  timezone: string;
  activeTimeStart: string | null;
  activeTimeEnd: string | null;
  customStartDate: string | null;
  customEndDate: string | null;
  status: Status;
  /** Start of the next period as of the read; null for PER_TRANSACTION. */
  resetAt: string | null;
  createdAt: string;
  updatedAt: string;
  activatedAt: string | null;
  deactivatedAt: string | null;
  deletedAt: string | null;
}

export const MAX_CUSTOM_SPAN_MS = 5 * 366 * 24 * 60 * 60 * 1000;
