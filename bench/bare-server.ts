import { serve } from "@hono/node-server";
import { Hono } from "hono";

/** The ceiling for the load benchmark: a Hono endpoint that only parses the JSON body. */
const app = new Hono();
app.post("/v1/validations", async (c) => {
  const body = (await c.req.json()) as { requestId?: string };
  return c.json({ requestId: body.requestId ?? null, decision: "ALLOW" }, 201);
});
const port = Number(process.argv[2] ?? 4099);
serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, () =>
  process.stdout.write(`bare listening ${port}\n`),
);
