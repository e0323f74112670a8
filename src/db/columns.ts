import { timestamp } from "drizzle-orm/pg-core";

/** Millisecond timestamps, returned as Date: API strings are always `toISOString()` of these. */
export const msTimestamp = (name: string) =>
  timestamp(name, { precision: 3, withTimezone: true, mode: "date" });
