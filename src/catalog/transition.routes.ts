import { createRoute, type z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../http/context.js";
import { commonErrors, type createRouter, IdParam, problemResponse } from "../http/router.js";
import type { TenantContext } from "../tenancy/tenant-context.js";
import type { Transition } from "./lifecycle.js";

const TRANSITIONS: [Transition, string][] = [
  ["activate", "DRAFT or INACTIVE → ACTIVE"],
  ["deactivate", "ACTIVE → INACTIVE"],
  ["draft", "INACTIVE → DRAFT"],
];

/**
 * Registers `POST /{resource}/{id}/activate|deactivate|draft` (PATCH accepted as a hidden alias)
 * and `DELETE /{resource}/{id}`, the lifecycle routes rules and limits share.
 */
export function registerLifecycleRoutes(
  router: ReturnType<typeof createRouter>,
  opts: {
    resource: "rules" | "limits";
    idName: "ruleId" | "limitId";
    tag: string;
    schema: z.ZodType;
    run: (tenant: TenantContext, id: string, transition: Transition) => Promise<unknown>;
  },
): void {
  const params = IdParam(opts.idName);
  const idOf = (c: Context<AppEnv>) => c.req.param(opts.idName) as string;
  const unprocessable = { 422: problemResponse("Invalid status transition") };

  router.openapi(
    createRoute({
      method: "delete",
      path: `/${opts.resource}/{${opts.idName}}`,
      tags: [opts.tag],
      summary: "Soft-delete (DRAFT or INACTIVE only)",
      request: { params },
      responses: { 204: { description: "Deleted" }, ...commonErrors, ...unprocessable },
    }),
    async (c) => {
      await opts.run(c.get("tenant"), idOf(c), "delete");
      return c.body(null, 204);
    },
  );

  for (const [transition, summary] of TRANSITIONS) {
    for (const method of ["post", "patch"] as const) {
      router.openapi(
        createRoute({
          method,
          path: `/${opts.resource}/{${opts.idName}}/${transition}`,
          tags: [opts.tag],
          summary: method === "post" ? summary : `${summary} (alias)`,
          hide: method === "patch",
          request: { params },
          responses: {
            200: {
              description: "After the transition (same-state requests are no-ops)",
              content: { "application/json": { schema: opts.schema } },
            },
            ...commonErrors,
            ...unprocessable,
          },
        }),
        async (c) => c.json((await opts.run(c.get("tenant"), idOf(c), transition)) as never, 200),
      );
    }
  }
}
