import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./context.js";
import { validationHook } from "./validation.js";

/** Every router is built here so that all of them answer schema failures the same way. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z
      .string()
      .openapi({ description: "Stable machine-readable cause; see the table in the API description." }),
    requestId: z.string(),
    instance: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ProblemSchema } },
});

/** Error responses shared by every /v1 route. */
export const commonErrors = {
  400: problem(
    "Malformed JSON, unknown field, wrong type or out-of-range value (`errors[]` names each path)",
  ),
  401: problem("Missing or invalid credentials"),
  403: problem("Tenant suspended"),
  404: problem("Unknown resource (or another tenant's)"),
  413: problem("Body over 100 KB"),
  500: problem("Internal error"),
  503: problem("A dependency is unavailable; retry after `Retry-After` seconds"),
} as const;

export const problemResponse = problem;

/** A JSON request body that must be present and be JSON (415 otherwise). */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return {
    required: true,
    ...(description ? { description } : {}),
    content: { "application/json": { schema } },
  } as const;
}

export const IdParam = (name: string) =>
  z.object({
    [name]: z.uuid({ message: "must be a UUID" }).openapi({ param: { name, in: "path" } }),
  });
