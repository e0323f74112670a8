import { z } from "@hono/zod-openapi";

/** RFC 3339 with an explicit zone, as every date filter requires. */
export const dateTimeQuery = z.iso
  .datetime({ offset: true, message: "must be an RFC 3339 date-time with a time zone" })
  .transform((v) => new Date(v));

export const limitQuery = (max: number, fallback: number) =>
  z.coerce
    .number({ message: `must be an integer between 1 and ${max}` })
    .int({ message: `must be an integer between 1 and ${max}` })
    .min(1, { message: `must be an integer between 1 and ${max}` })
    .max(max, { message: `must be an integer between 1 and ${max}` })
    .default(fallback);

export const sortOrderQuery = z
  .enum(["asc", "desc", "ASC", "DESC"])
  .transform((v) => v.toLowerCase() as "asc" | "desc")
  .optional();
